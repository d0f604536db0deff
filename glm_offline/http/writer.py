"""Writing one HTTP/1.1 response: the head (with nosniff, and Connection: close when the
connection ends after it), then a body of known length, or chunked, or for an HTTP/1.0 client
(which cannot read chunked, RFC 9112 7.1) delimited by closing the connection."""

import json
from email.utils import formatdate
from http import HTTPStatus

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"


def dumps(obj):
    """Compact JSON with Chinese kept as UTF-8, the way the service sends it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def response_head(status, fields, close=False):
    """The status line and header fields, as bytes, up to the blank line."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {status} {reason}", "Server: glm-offline",
             f"Date: {formatdate(usegmt=True)}",
             "X-Content-Type-Options: nosniff"]  # browsers never guess HTML from a body
    lines += [f"{name}: {value}" for name, value in fields]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class ResponseWriter:
    """One response's bytes, handed to `send(data)` (e.g. a socket's sendall)."""

    def __init__(self, send):
        self.send = send
        self.head_sent = False
        self.chunked = True

    def head(self, status, fields, close):
        self.head_sent = True
        return response_head(status, fields, close)

    def whole(self, status, content_type, data, headers, close, head_only=False):
        """The bytes of a response with a Content-Length (the head only, for HEAD); the head
        counts as sent, the bytes are returned for the caller to send."""
        fields = [("Content-Type", content_type)] if content_type else []
        head = self.head(status, [*fields, ("Content-Length", str(len(data))), *headers], close)
        return head if head_only else head + data

    def start(self, status, content_type, headers, http_1_0, close):
        """Send the head of a body of unknown length; True when the connection must close
        to end it (an HTTP/1.0 client)."""
        self.chunked = not http_1_0
        framing = [("Transfer-Encoding", "chunked")] if self.chunked else []
        self.send(self.head(status, [("Content-Type", content_type), *framing,
                                     ("Cache-Control", "no-cache"), *headers],
                            close or not self.chunked))
        return not self.chunked

    def chunk(self, data):
        if data:
            self.send(b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data)

    def end(self):
        if self.chunked:
            self.send(b"0\r\n\r\n")

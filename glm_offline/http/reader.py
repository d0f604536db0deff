"""Reading one HTTP/1.1 request from a stream of bytes, strictly by RFC 9112 (no socket here).

    reader = RequestReader(io.BufferedReader(io.BytesIO(data)), Limits())
    request = reader.read_head()    # None: the stream ended (or sent only blank lines)
    body = reader.read_body(request)

Anything that cannot be read as HTTP/1.1 raises FramingError with the status to answer; a
stream that ends inside a body raises ClientGone. The stream is any binary file with
readline, read1 and peek (io.BufferedReader); deadlines are the stream's business.
"""

import re
from dataclasses import dataclass, field

from .limits import parsed_cost

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(r"HTTP/(\d)\.(\d)")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
READ_SIZE = 65536


class FramingError(Exception):
    """The request cannot be read as HTTP/1.1: answered with `status`, then the connection
    is closed (what follows on it cannot be trusted to start a request)."""

    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, tuple(headers)


class ClientGone(ConnectionError):
    """The client closed its side before the request was complete."""


class Headers:
    """A request's header fields, looked up case-insensitively; missing names give None."""

    def __init__(self, pairs=()):
        self._pairs = list(pairs)
        self._by_name = {}
        for name, value in self._pairs:
            self._by_name.setdefault(name.lower(), []).append(value)

    def get(self, name, default=None):
        values = self._by_name.get(name.lower())
        return values[0] if values else default

    __getitem__ = get

    def get_all(self, name):
        return list(self._by_name.get(name.lower(), ()))

    def __contains__(self, name):
        return name.lower() in self._by_name

    def items(self):
        return list(self._pairs)


def list_values(headers, name):
    """A comma-separated header's elements, from every line of it, stripped, empties dropped."""
    return [part.strip() for value in headers.get_all(name) for part in value.split(",")
            if part.strip()]


@dataclass
class Request:
    """What was read of a request so far (method and path stay "" until read)."""

    method: str = ""
    target: str = ""  # as sent (an absolute-form target cut to its path and query)
    path: str = ""  # the target without query and fragment
    version: str = ""  # "HTTP/1.1" or "HTTP/1.0"
    headers: Headers = field(default_factory=Headers)
    close: bool = False  # the connection is to be closed after the answer

    @property
    def expects_continue(self):
        return (self.version == "HTTP/1.1"
                and (self.headers.get("Expect") or "").lower() == "100-continue")


class BodyAccount:
    """One connection's request bodies in a limits.ByteBudget shared by all: each piece taken
    as it arrives (as nginx and h11 count), so a size declared and never sent holds nothing."""

    def __init__(self, budget, client):
        self.budget, self.client, self.size = budget, client, 0

    def could_fit(self, size):
        if size > self.budget.share:  # would never fit: waiting cannot help
            raise FramingError(413, "request body too large or too complex for this server "
                               f"(parsed, it would take about {size // 2**20 + 1} MB)")

    def take(self, size):
        self.could_fit(self.size + size)
        if not self.budget.take(size, self.client):
            raise FramingError(503, "the server is reading too many large request bodies at "
                               "once; try again in a moment", [("Retry-After", "1")])
        self.size += size

    def give_back(self):
        self.budget.give(self.size, self.client)
        self.size = 0


class _Unbounded:
    def could_fit(self, size):
        pass

    def take(self, size):
        pass


class RequestReader:
    """Requests one after another from `stream`, within `limits` (a limits.Limits).
    `account` (a BodyAccount) bounds the bodies' memory; `before_body(request)` is called
    once the head is read and a body is to be read (to answer 100 Continue, to start the
    body's deadline). `request` is what was read of the current request, also after an error."""

    def __init__(self, stream, limits, account=None, before_body=None):
        self.stream, self.limits = stream, limits
        self.account = account or _Unbounded()
        self.before_body = before_body or (lambda request: None)
        self.request = Request()

    def starting(self):
        """Wait for a request's first byte: False when the stream ended instead."""
        return bool(self.stream.peek(1))

    # -- the head ------------------------------------------------------------------------
    def read_head(self):
        """Request line and header fields; None for a stream that ends (or sends only blank
        lines) before a request line."""
        self.request = request = Request()
        for _ in range(4):  # RFC 9112 2.2: ignore blank lines before a request line
            line = self.stream.readline(self.limits.request_line + 1)
            if not line:
                return None
            if line not in (b"\r\n", b"\n"):
                break
        else:
            return None
        if not line.endswith(b"\n"):
            if len(line) > self.limits.request_line:
                raise FramingError(414, f"request line over {self.limits.request_line} bytes")
            raise FramingError(400, "the request ended before its request line did")
        self._parse_request_line(line.rstrip(b"\r\n"))
        request.headers = self._read_fields(self.limits.header_bytes, "header")
        if request.version == "HTTP/1.1" and len(request.headers.get_all("Host")) != 1:
            raise FramingError(400, "an HTTP/1.1 request needs exactly one Host header")
        tokens = [t.lower() for t in list_values(request.headers, "Connection")]
        if request.version == "HTTP/1.1":
            request.close = "close" in tokens
        else:
            request.close = "keep-alive" not in tokens
        return request

    def _parse_request_line(self, line):
        request = self.request
        if not line.isascii() or b"\r" in line:
            raise FramingError(400, "the request line must be ASCII text")
        parts = line.decode("ascii").split(" ")
        if len(parts) != 3 or not all(parts):
            raise FramingError(400, "the request line must be: METHOD /path HTTP/1.1")
        method, target, version = parts
        match = _VERSION.fullmatch(version)
        if not _TOKEN.fullmatch(method.encode()) or not match:
            raise FramingError(400, "the request line must be: METHOD /path HTTP/1.1")
        if match.group(1) != "1":
            raise FramingError(505, f"{version} is not supported here; use HTTP/1.1")
        request.version = "HTTP/1.0" if match.group(2) == "0" else "HTTP/1.1"
        request.method = method
        if method not in METHODS:
            raise FramingError(501, f"method {method} is not implemented")
        if target.startswith(("http://", "https://")):  # absolute-form: keep path and query
            rest = target.split("://", 1)[1]
            target = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        elif not (target.startswith("/") or (target == "*" and method == "OPTIONS")):
            raise FramingError(400, "the request target must be a path starting with /")
        request.target = target
        request.path = target.split("?", 1)[0].split("#", 1)[0]

    def _read_line(self, limit, too_long):
        line = self.stream.readline(limit + 1)
        if not line.endswith(b"\n"):
            if len(line) > limit:
                raise FramingError(*too_long)
            raise FramingError(400, "the request ended before its headers did")
        return line[:-2] if line.endswith(b"\r\n") else line[:-1]

    def _read_fields(self, budget, what):
        """Header (or trailer) fields up to the blank line, strictly (RFC 9112 section 5)."""
        pairs = []
        too_long = (431, f"request {what}s over {budget} bytes")
        while True:
            line = self._read_line(budget, too_long)
            budget -= len(line) + 2
            if not line:
                return Headers(pairs)
            if budget < 0:
                raise FramingError(*too_long)
            if len(pairs) >= self.limits.header_count:
                raise FramingError(431, f"more than {self.limits.header_count} {what} fields")
            pairs.append(_field(line, what))

    # -- the body ------------------------------------------------------------------------
    def read_body(self, request):
        """The body the head announces (b"" for none), taken from the account as it arrives
        and then at its parsed cost."""
        codings = [c.lower() for c in list_values(request.headers, "Transfer-Encoding")]
        lengths = list_values(request.headers, "Content-Length")
        if codings and lengths:
            raise FramingError(400, "a request cannot have both Transfer-Encoding and "
                               "Content-Length")
        if codings:
            if codings[-1] != "chunked":
                raise FramingError(400, "Transfer-Encoding must end with chunked")
            if codings != ["chunked"]:
                raise FramingError(501, "only the chunked transfer coding is supported")
            if request.version == "HTTP/1.0":
                request.close = True  # RFC 9112 6.1: faulty framing in HTTP/1.0
            self.before_body(request)
            return self._costed(self._read_chunked())
        size = self._content_length(lengths)
        if not size:
            return b""
        self.account.could_fit(size)
        self.before_body(request)
        return self._costed(
            self._read_counted(size, "the client closed before sending the whole body"))

    def _content_length(self, lengths):
        if not lengths:
            return 0
        if not all(n.isascii() and n.isdigit() for n in lengths):
            raise FramingError(400, "Content-Length must be a whole number")
        if len({n.lstrip("0") for n in lengths}) > 1:
            raise FramingError(400, "conflicting Content-Length values")
        digits = lengths[0].lstrip("0") or "0"
        if len(digits) > 15 or int(digits) > self.limits.body:
            raise FramingError(413, f"request body over {self.limits.body} bytes")
        return int(digits)

    def _costed(self, body):
        self.account.take(parsed_cost(body))
        return body

    def _read_counted(self, size, gone):
        """`size` bytes of body, each piece taken from the account as it arrives."""
        pieces = []
        while size:
            data = self.stream.read1(min(size, READ_SIZE))
            if not data:
                raise ClientGone(gone)
            self.account.take(len(data))
            pieces.append(data)
            size -= len(data)
        return b"".join(pieces)

    def _read_chunked(self):
        pieces, total = [], 0
        while True:
            line = self._read_line(1024, (400, "a chunk-size line over 1024 bytes"))
            size_text = line.split(b";", 1)[0].strip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise FramingError(400, "malformed chunked request body")
            size = int(size_text, 16)
            if total + size > self.limits.body:
                raise FramingError(413, f"request body over {self.limits.body} bytes")
            if size == 0:
                self._read_fields(8192, "trailer")
                return b"".join(pieces)
            data = self._read_counted(size, "the client closed in the middle of a chunk")
            if self._read_line(2, (400, "a chunk is longer than its size says")) != b"":
                raise FramingError(400, "a chunk is longer than its size says")
            pieces.append(data)
            total += size


def _field(line, what):
    """(name, value) of one header (or trailer) line, strictly (RFC 9112 section 5)."""
    if line[:1] in (b" ", b"\t"):
        raise FramingError(400, f"a {what} line starts with whitespace (obsolete folding)")
    name, colon, value = line.partition(b":")
    if not colon or not name:
        raise FramingError(400, f"a {what} line has no 'name:' part")
    if not _TOKEN.fullmatch(name):
        if name.rstrip(b" \t") != name:
            raise FramingError(400, f"whitespace before the colon of a {what} name")
        raise FramingError(400, f"a {what} name has characters a name cannot have")
    value = value.strip(b" \t")
    if b"\r" in value or b"\0" in value:
        raise FramingError(400, f"a {what} value contains CR or NUL")
    return name.decode("ascii"), value.decode("latin-1")

"""The response writer on bytes, and one connection on a loopback socket with a stand-in app: the
HTTP layer (glm_offline/http/) runs without the server, given only what it needs."""

import io
import re
import socket
import threading

from glm_offline.http import ByteBudget, Connection, Limits, ResponseWriter, Site, response_head


def test_a_head_says_nosniff_and_connection_close_only_when_asked():
    head = response_head(404, [("X-A", "1")])
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 404 Not Found"
    assert lines[1:3] == ["Server: glm-offline", lines[2]] and lines[2].startswith("Date: ")
    assert lines[3:] == ["X-Content-Type-Options: nosniff", "X-A: 1", "", ""]
    assert b"Connection: close\r\n\r\n" in response_head(200, [], close=True)
    assert response_head(599, []).startswith(b"HTTP/1.1 599 \r\n")  # no phrase to give


def fields(data):
    """The head's fields after the status line and Date (which changes), and the body."""
    head, _, body = data.partition(b"\r\n\r\n")
    return [f for f in head.split(b"\r\n")[1:] if not f.startswith(b"Date: ")], body


def test_a_whole_body_has_its_content_length_and_head_requests_get_the_head_only():
    writer = ResponseWriter(send=None)
    data = writer.whole(200, "text/plain", b"hello", [("X-B", "2")], close=False)
    assert fields(data) == ([b"Server: glm-offline", b"X-Content-Type-Options: nosniff",
                             b"Content-Type: text/plain", b"Content-Length: 5", b"X-B: 2"],
                            b"hello")
    assert writer.head_sent
    head_only = ResponseWriter(send=None).whole(200, "", b"hello", [], False, head_only=True)
    assert fields(head_only) == ([b"Server: glm-offline", b"X-Content-Type-Options: nosniff",
                                  b"Content-Length: 5"], b"")


def test_a_body_of_unknown_length_is_chunked_and_ends_with_a_zero_chunk():
    sent = []
    writer = ResponseWriter(sent.append)
    assert writer.start(200, "text/event-stream", [], http_1_0=False, close=False) is False
    writer.chunk(b"data: 1\n\n")
    writer.chunk(b"")  # nothing: no chunk (an empty one would end the body)
    writer.end()
    head, body = fields(sent[0])
    assert b"Transfer-Encoding: chunked" in head and b"Cache-Control: no-cache" in head
    assert b"Connection: close" not in head and body == b""
    assert sent[1:] == [b"9\r\ndata: 1\n\n\r\n", b"0\r\n\r\n"]


def test_to_an_http_1_0_client_the_body_ends_with_the_connection():
    sent = []
    writer = ResponseWriter(sent.append)
    assert writer.start(200, "text/event-stream", [], http_1_0=True, close=False) is True
    writer.chunk(b"data: 1\n\n")
    writer.end()
    head, _ = fields(sent[0])
    assert b"Connection: close" in head
    assert not [f for f in head if f.startswith((b"Transfer-Encoding", b"Content-Length"))]
    assert sent[1:] == [b"data: 1\n\n"]


class Error:
    def __init__(self, status, message):
        self.status, self.message = status, message

    def body(self, english=False):
        return {"error": {"code": str(self.status), "message": self.message}}


class Record:
    def __init__(self, connection, method, path):
        self.method, self.path, self.status, self.source, self.outcome = (
            method, path, 0, "", "complete")


def serve_pair(app, data):
    """Run one Connection on a loopback socket with `app`; send `data`, close our side, and
    return (what came back, the records published)."""
    published = []
    site = Site(app=app, error=Error, exchange=Record,
                publish=lambda handler: published.append(handler.exchange))
    with socket.create_server(("127.0.0.1", 0)) as listening:  # loopback TCP (TCP_NODELAY)
        ours = socket.create_connection(listening.getsockname(), timeout=5)
        theirs, _ = listening.accept()
    with ours:
        connection = Connection(theirs, ("192.0.2.7", 5000), 1, Limits(idle_seconds=5), site,
                                budget=ByteBudget(10**6))
        thread = threading.Thread(target=connection.run)
        thread.start()
        ours.sendall(data)
        ours.shutdown(socket.SHUT_WR)
        received = io.BytesIO()
        ours.settimeout(5)
        while chunk := ours.recv(65536):
            received.write(chunk)
        thread.join(timeout=5)
    assert not thread.is_alive()
    return received.getvalue(), published


def test_a_connection_answers_requests_one_after_another_with_the_app():
    def app(handler, body):
        handler.send_json(200, {"path": handler.path, "body": body.decode(),
                                "attendee": handler.attendee}, "app")
    data = (b"POST /a?x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"
            b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
    received, published = serve_pair(app, data)
    bodies = re.findall(rb"\r\n\r\n(\{[^}]*\})", received)
    assert bodies == [b'{"path":"/a?x","body":"hi","attendee":"192.0.2.7"}',
                      b'{"path":"/b","body":"","attendee":"192.0.2.7"}']
    assert [(r.method, r.path, r.status, r.source) for r in published] == [
        ("POST", "/a", 200, "app"), ("GET", "/b", 200, "app")]


def test_an_app_that_does_not_answer_gets_a_500_and_a_framing_error_its_status():
    received, published = serve_pair(lambda handler, body: None,
                                     b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 500 ") and b"(NoAnswer)" in received
    assert b"Connection: close" in received
    assert [r.outcome for r in published] == ["server_error"]
    received, published = serve_pair(None, b"BREW /pot HTTP/1.1\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 501 ") and b"method BREW" in received
    assert [(r.method, r.outcome, r.status) for r in published] == [("BREW", "rejected", 501)]

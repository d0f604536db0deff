"""HTTP/1.1 framing, deadlines and limits: every request gets an answer, resources stay bounded."""

import errno
import json
import re
import select
import socket
import time

import pytest
import requests

import glm_offline
import glm_offline.http
from glm_offline.history import MAX_PATH_CHARS, Exchange, History
from glm_offline.http import Limits
from helpers import auth, read_response

CHAT = "/api/paas/v4/chat/completions"
KEY = glm_offline.OFFLINE_API_KEY
HELLO = json.dumps({"model": "glm-4-flash-250414", "messages": [
    {"role": "user", "content": "Say hello in one short sentence."}]}).encode()
STATUS = re.compile(rb"HTTP/1\.1 (\d{3}) ")
REQUEST_LINE = b"POST " + CHAT.encode() + b" HTTP/1.1"


def head(*fields, line=REQUEST_LINE):
    lines = [line, b"Host: 127.0.0.1", b"Authorization: Bearer " + KEY.encode(), *fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def send(port, data, timeout=5):
    """Send the bytes, then read one answer (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_response(sock.makefile("rb"))


def eventually(condition, timeout=5):
    """Whether condition() holds within timeout seconds (looked at every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture(scope="module")
def served():
    with glm_offline.start(pacing="instant", strict=True) as server:
        yield server


# Every framing case is in tests/server/test_http_reader.py, on bytes; here, that each kind of error
# (body, transfer coding, header, request line) reaches the client as a GLM-shaped answer.
@pytest.mark.parametrize("data, status, message", [
    (head(b"Content-Length: " + b"9" * 5000) + HELLO, 413, "request body over"),
    (head(b"Content-Length: " + b"0" * 5000 + b"5") + b"hello", 400, None),  # 5 bytes: not JSON
    (head(b"Transfer-Encoding: gzip, chunked") + b"0\r\n\r\n", 501, "only the chunked"),
    (head(b"Transfer-Encoding: chunked") + b"2\r\nhello\r\n0\r\n\r\n", 400,
     "longer than its size"),
    (head(b"Host: other"), 400, "exactly one Host"),
    (head(line=b"POST api/paas HTTP/1.1"), 400, "starting with /"),
], ids=["cl-5000-digits", "cl-leading-zeros", "te-gzip", "chunk-too-long", "two-hosts",
        "relative-target"])
def test_framing_errors_get_a_glm_shaped_answer(served, data, status, message):
    response = send(served.port, data)
    assert response.status == status
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    error = json.loads(response.body)["error"]
    if message:
        assert message in error["message"]


def test_same_duplicate_content_length_and_absolute_form_are_accepted(served):
    length = b"Content-Length: %d" % len(HELLO)
    assert send(served.port, head(length, length) + HELLO).status == 200
    absolute = b"POST http://127.0.0.1" + CHAT.encode() + b" HTTP/1.1"
    assert send(served.port, head(length, line=absolute) + HELLO).status == 200


def test_expect_100_continue_gets_an_interim_answer(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(head(b"Content-Length: %d" % len(HELLO), b"Expect: 100-continue"))
        stream = sock.makefile("rb")
        assert stream.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert stream.readline() == b"\r\n"
        sock.sendall(HELLO)
        assert read_response(stream).status == 200


def test_an_internal_error_is_a_500_and_one_line(capfd):
    with glm_offline.start(pacing="instant") as server:
        def broken(method, path):
            raise KeyError("a bug")
        server.app.route = broken
        r = requests.get(server.base_url + "/models", timeout=5)
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "500"
        assert "internal error in the recorded server (KeyError)" in r.json()["error"]["message"]
        assert server.wait_for_exchanges(1)[0].outcome == "server_error"
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "internal error answering GET /api/paas/v4/models" in err
    assert "Traceback" not in err


def test_an_action_that_does_not_answer_gets_a_500(capfd):
    """The client was left waiting for an answer that never came (uvicorn answers 500)."""
    with glm_offline.start(pacing="instant") as server:
        server.app.route = lambda method, path: lambda handler, path, body: None
        r = requests.get(server.base_url + "/models", timeout=5)
        assert r.status_code == 500
        assert "recorded server (NoAnswer)" in r.json()["error"]["message"]
        assert server.wait_for_exchanges(1)[0].outcome == "server_error"
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "GET /api/paas/v4/models gave no answer" in err


def test_a_stream_to_an_http_1_0_client_ends_with_the_connection():
    """RFC 9112 7.1: chunked is not for HTTP/1.0; the body ends when the connection closes."""
    stream = json.dumps({**json.loads(HELLO), "stream": True}).encode()
    with glm_offline.start(pacing="instant") as server:
        request = head(b"Content-Length: %d" % len(stream), line=REQUEST_LINE[:-3] + b"1.0")
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(request + stream)
            received = b""
            while data := sock.recv(65536):  # until the server closes
                received += data
    answer_head, _, body = received.partition(b"\r\n\r\n")
    fields = answer_head.lower().split(b"\r\n")
    assert fields[0].startswith(b"http/1.1 200 ")
    assert b"connection: close" in fields
    assert not [f for f in fields if f.startswith((b"transfer-encoding", b"content-length"))]
    assert body.startswith(b"data: {") and body.endswith(b"data: [DONE]\n\n")


def test_every_answer_says_nosniff_and_a_405_says_what_is_allowed(served):
    r = requests.get(served.base_url + "/chat/completions", timeout=5)
    assert (r.status_code, r.headers["Allow"]) == (405, "POST")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    for response in [send(served.port, head(b"Content-Length: %d" % len(HELLO)) + HELLO),
                     send(served.port, b"BREW /pot HTTP/1.1\r\n\r\n")]:
        assert response.headers["x-content-type-options"] == "nosniff"


def test_a_bug_while_reading_a_request_is_a_500_and_one_line(capfd, monkeypatch):
    def broken(reader, request):
        raise KeyError("a bug")
    monkeypatch.setattr(glm_offline.http.RequestReader, "read_body", broken)
    with glm_offline.start(pacing="instant") as server:
        response = send(server.port, head(b"Content-Length: %d" % len(HELLO)) + HELLO)
        assert (response.status, response.headers["connection"]) == (500, "close")
        assert "internal error in the recorded server (KeyError)" in \
            json.loads(response.body)["error"]["message"]
        assert server.wait_for_exchanges(1)[0].outcome == "server_error"
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "internal error reading a request" in err
    assert "Traceback" not in err


# -- deadlines -------------------------------------------------------------------------------

@pytest.fixture
def hasty():
    limits = Limits(head_seconds=0.5, body_seconds=0.5, idle_seconds=0.5)
    with glm_offline.start(pacing="instant", limits=limits) as server:
        yield server


def answer_after_trickle(sock, data, step_timeout=0.15, bound=5):
    """Send `data` one byte each time the server has not answered within step_timeout;
    return (bytes received, how many bytes were sent)."""
    sock.settimeout(step_timeout)
    deadline = time.monotonic() + bound
    sent = 0
    while time.monotonic() < deadline:
        try:
            received = sock.recv(65536)
            return received, sent
        except TimeoutError:
            if sent < len(data):
                sock.sendall(data[sent:sent + 1])
                sent += 1
    raise AssertionError("no answer within the bound")


def test_a_head_sent_a_byte_at_a_time_gets_a_408(hasty):
    data = head(b"Content-Length: %d" % len(HELLO))
    with socket.create_connection(("127.0.0.1", hasty.port)) as sock:
        received, sent = answer_after_trickle(sock, data)
    assert STATUS.match(received).group(1) == b"408"
    assert sent < len(data)  # the deadline is for the whole head, not for each read


def test_half_a_body_gets_a_408(hasty):
    with socket.create_connection(("127.0.0.1", hasty.port), timeout=5) as sock:
        sock.sendall(head(b"Content-Length: %d" % len(HELLO)) + HELLO[:10])
        response = read_response(sock.makefile("rb"))
    assert response.status == 408
    assert response.headers["connection"] == "close"
    assert hasty.wait_for_exchanges(1)[0].outcome == "rejected"


def test_an_idle_connection_is_closed_without_an_answer(hasty):
    with socket.create_connection(("127.0.0.1", hasty.port), timeout=5) as sock:
        assert sock.recv(100) == b""  # closed after idle_seconds, nothing sent


# -- the connection cap ------------------------------------------------------------------------

def test_past_the_cap_idle_connections_make_room_then_new_ones_get_a_fast_503():
    with glm_offline.start(pacing="instant", limits=Limits(connections=3)) as server:
        httpd = server._httpd
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5)
                for _ in range(3)]
        for sock in idle:  # each answered once, then kept alive and idle
            sock.sendall(head(b"Content-Length: %d" % len(HELLO)) + HELLO)
            assert read_response(sock.makefile("rb")).status == 200
        assert httpd.wait_until(lambda open_, idle_: idle_ == 3, timeout=5)
        # A fourth client is served: one idle connection (idle the longest) makes room.
        assert send(server.port, head(b"Content-Length: %d" % len(HELLO)) + HELLO).status == 200
        closed, _, _ = select.select(idle, [], [], 5)
        assert len(closed) == 1 and closed[0].recv(10) == b""
        # The fourth client has closed its connection: wait until the server has seen it go.
        assert httpd.wait_until(lambda open_, idle_: (open_, idle_) == (2, 2), timeout=5)
        # Busy connections (being answered) are not closed: now a new client gets a 503.
        server.inject("slow_first_byte", times=3, seconds=30)  # cut short by stop()
        busy = []
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(head(b"Content-Length: %d" % len(HELLO)) + HELLO)
            busy.append(sock)
        assert eventually(lambda: server.faults.pending() == [])
        assert [sock.recv(10) for sock in idle] == [b"", b"", b""]
        # Answered at once, not left to time out (send() gives up after 5 s).
        response = send(server.port, head(b"Content-Length: %d" % len(HELLO)) + HELLO)
        assert (response.status, response.headers["retry-after"]) == (503, "1")
        assert "limit of 3 connections" in json.loads(response.body)["error"]["message"]
        assert httpd.peak_connections == 3
        for sock in idle + busy:
            sock.close()


def test_at_the_cap_a_connection_accepted_a_moment_ago_is_not_closed_to_make_room():
    # Its client's request is usually on its way: closing it reset honest attendees in the
    # room soak. Past the cap, the newcomer gets a 503 instead, and the fresh ones stay open.
    with glm_offline.start(pacing="instant", limits=Limits(connections=3)) as server:
        httpd = server._httpd
        fresh = [socket.create_connection(("127.0.0.1", server.port), timeout=5)
                 for _ in range(3)]
        assert httpd.wait_until(lambda open_, idle_: idle_ == 3, timeout=5)
        response = send(server.port, head(b"Content-Length: %d" % len(HELLO)) + HELLO)
        assert response.status == 503
        for sock in fresh:  # each still open: its request is answered
            sock.sendall(head(b"Content-Length: %d" % len(HELLO)) + HELLO)
            assert read_response(sock.makefile("rb")).status == 200
            sock.close()


def send_from(source, port, data, timeout=5):
    """send(), from a loopback address of the client's choice (127.0.0.0/8 on Linux)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0)) as sock:
        sock.sendall(data)
        return read_response(sock.makefile("rb"))


STALLS = {"head": b"P", "body": head(b"Content-Length: 10")}
HOLDERS = {"one-address": ["127.0.0.1"] * 100,
           "eight-addresses": [f"127.0.0.{1 + n % 8}" for n in range(100)]}


@pytest.mark.parametrize("holders", HOLDERS.values(), ids=HOLDERS.keys())
@pytest.mark.parametrize("stall", STALLS.values(), ids=STALLS.keys())
def test_requests_that_never_finish_arriving_do_not_hold_the_cap(stall, holders):
    """1,040 connections that each sent one byte of a request line were not idle, so never
    closed to make room: while they were renewed, 22 of 32 good requests failed."""
    limits = Limits(connections=40, incomplete_per_address=10)
    with glm_offline.start(pacing="instant", limits=limits) as server:
        httpd, stalled = server._httpd, []
        try:
            for count, source in enumerate(holders, 1):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=5,
                                                source_address=(source, 0))
                sock.sendall(stall)
                stalled.append(sock)
                # The server has accepted it, read its first byte (and closed any it made
                # room with).
                assert eventually(lambda count=count: httpd.accepted == count and
                                  httpd.connections == httpd.incomplete_requests)
            for source in ["127.0.0.20", "127.0.0.21", "127.0.0.1"]:  # the last: a neighbour
                started = time.monotonic()
                response = send_from(source, server.port,
                                     head(b"Content-Length: %d" % len(HELLO)) + HELLO)
                assert response.status == 200
                assert time.monotonic() - started < 2
            # Half the cap at most, 10 from one address, once the good clients' are closed.
            bound = 10 if len(set(holders)) == 1 else 20
            assert eventually(lambda: httpd.connections <= bound)
        finally:
            for sock in stalled:
                sock.close()


@pytest.mark.parametrize("address, counted_as", [
    ("192.0.2.7", "192.0.2.7"),
    ("::ffff:192.0.2.7", "192.0.2.7"),  # `serve --host ::`, an IPv4 client
    ("2001:db8::7", "2001:db8::7"),  # not its /64: a room's machines share the room's
    ("fe80::7%eth0", "fe80::7"),
])
def test_per_client_limits_count_by_address(address, counted_as):
    from glm_offline.http import address_group
    assert address_group(address) == counted_as


def test_bodies_in_flight_are_bounded_together():
    limits = Limits(bodies_in_flight=20_000)
    with glm_offline.start(pacing="instant", limits=limits) as server:
        holders = [socket.create_connection(("127.0.0.1", server.port), timeout=5,
                                            source_address=(f"127.0.0.{n}", 0)) for n in (2, 3)]
        with holders[0], holders[1]:
            # The bytes of a body count as they arrive: all but the last of 9,900 here.
            for holder in holders:
                holder.sendall(head(b"Content-Length: 9900") + b" " * 9899)
            assert eventually(lambda: server._httpd.budget.used == 2 * 9899)
            response = send(server.port, head(b"Content-Length: %d" % len(HELLO)) + HELLO)
        assert response.status == 503
        assert "too many large request bodies" in json.loads(response.body)["error"]["message"]
        # The holder's budget is given back when the server sees it gone.
        assert server._httpd.wait_until(lambda open_, idle_: open_ == 0, timeout=5)
        assert send(server.port, head(b"Content-Length: %d" % len(HELLO)) + HELLO).status == 200


def test_bodies_declared_but_not_sent_hold_no_budget():
    """24 connections that each declare a megabyte and send nothing took the whole budget (24
    MB) for the body deadline: every other POST, the instructor's `fault` included, got 503."""
    with glm_offline.start(pacing="instant") as server:
        holders = [socket.create_connection(("127.0.0.1", server.port), timeout=5)
                   for _ in range(30)]
        try:
            for sock in holders:
                sock.sendall(head(b"Content-Length: 1048576") + b"{")
            # Every head read, and the one byte of each body that came.
            assert eventually(lambda: server._httpd.budget.used == 30)
            for _ in range(5):
                started = time.monotonic()
                response = send(server.port, head(b"Content-Length: %d" % len(HELLO)) + HELLO)
                assert response.status == 200
                assert time.monotonic() - started < 2
        finally:
            for sock in holders:
                sock.close()


def test_one_address_may_hold_half_the_bodies_in_flight():
    """Bodies sent all but their last byte hold their bytes: one attendee's may not hold all."""
    with glm_offline.start(pacing="instant", limits=Limits(bodies_in_flight=40_000)) as server:
        holders = [socket.create_connection(("127.0.0.1", server.port), timeout=5,
                                            source_address=("127.0.0.2", 0)) for _ in range(2)]
        with holders[0], holders[1]:
            holders[0].sendall(head(b"Content-Length: 19500") + b" " * 19499)
            assert eventually(lambda: server._httpd.budget.used == 19499)
            holders[1].sendall(head(b"Content-Length: 19500") + b" " * 19499)
            refused = read_response(holders[1].makefile("rb"))
            assert (refused.status, refused.headers["retry-after"]) == (503, "1")
            response = send_from("127.0.0.3", server.port,
                                 head(b"Content-Length: %d" % len(HELLO)) + HELLO)
            assert response.status == 200


def test_a_body_declared_but_not_sent_is_cut_at_the_body_deadline():
    limits = Limits(body_seconds=0.5)
    with glm_offline.start(pacing="instant", limits=limits) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(head(b"Content-Length: 1048576"))
            started = time.monotonic()
            response = read_response(sock.makefile("rb"))
            assert (response.status, response.headers["connection"]) == (408, "close")
            assert time.monotonic() - started < 4
        assert eventually(lambda: server._httpd.budget.used == 0)


def test_a_chunk_declared_but_not_sent_holds_no_budget():
    limits = Limits(bodies_in_flight=200_000)
    with glm_offline.start(pacing="instant", limits=limits) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as holder:
            holder.sendall(head(b"Transfer-Encoding: chunked") + b"30d00\r\n{")  # 199,936 B
            assert eventually(lambda: server._httpd.budget.used > 0)
            assert send(server.port, head(b"Content-Length: %d" % len(HELLO)) + HELLO) \
                .status == 200


def test_a_body_that_could_never_fit_is_a_413_not_a_503():
    dense = b'{"model": "glm-4-flash-250414", "x": [' + b"1," * 20000 + b"1]}"
    with glm_offline.start(pacing="instant", limits=Limits(bodies_in_flight=100_000)) as server:
        response = send(server.port, head(b"Content-Length: %d" % len(dense)) + dense)
        assert response.status == 413
        assert "too large or too complex" in json.loads(response.body)["error"]["message"]
        assert send(server.port, head(b"Content-Length: %d" % len(HELLO)) + HELLO).status == 200


H = b'{"model": "glm-4-flash-250414", "messages": [{"role": "user", "content": "x"}], "x": ['
HOSTILE_BODIES = {
    "lists": H + b",".join([b"[]"] * 19000) + b"]}",
    "objects": H + b",".join([b"{}"] * 19000) + b"]}",
    "numbers": H + b",".join([b"1.5"] * 60000) + b"]}",
    "short-strings": H + b",".join([b'"a"'] * 60000) + b"]}",
    "prose": b'{"model": "glm-4-flash-250414", "messages": [{"role": "user", "content": "'
             + b"word " * 200000 + b'"}], "stream": true}',
    "chinese": b'{"model": "glm-4-flash-250414", "messages": [{"role": "user", "content": "'
               + "你好".encode() * 170000 + b'"}]}',
}


@pytest.mark.parametrize("name", HOSTILE_BODIES)
def test_what_a_body_costs_parsed_is_within_the_estimate_the_budget_takes(name):
    """The bound on memory holds only if parsed_cost() is not an underestimate."""
    import tracemalloc

    from glm_offline import chat
    from glm_offline.cassettes import PACKAGE_CASSETTES, Library
    from glm_offline.http import parsed_cost
    from glm_offline.validation import parse_body, validate_chat

    raw = HOSTILE_BODIES[name]
    assert len(raw) <= Limits().body
    library = Library.from_dirs([PACKAGE_CASSETTES])
    tracemalloc.start()
    try:
        body = parse_body(raw)  # what a chat request goes through before its reply is written
        validate_chat(body)
        library.find("POST", CHAT, body)
        library.explain_miss("POST", CHAT, body)
        chat.generated(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= parsed_cost(raw), f"{peak / 1e6:.1f} MB"


def test_the_port_is_kept_to_one_server_on_every_system():
    """SO_REUSEADDR on Windows lets a second server bind the same port."""
    from glm_offline.http import address_reuse_option
    assert address_reuse_option("posix") == "SO_REUSEADDR"
    assert address_reuse_option("nt") == "SO_EXCLUSIVEADDRUSE"
    with glm_offline.start(pacing="instant") as server:
        listener = server._httpd.listener
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
        with pytest.raises(OSError, match="cannot listen on 127.0.0.1"):
            glm_offline.start(port=server.port)


def test_the_default_cap_follows_the_file_descriptors_left():
    from glm_offline.http import default_connection_cap
    assert default_connection_cap(limit=256, in_use=10) == 150  # 32 for 503s, 64 for files
    assert default_connection_cap(limit=4096, in_use=10) == 1000
    assert default_connection_cap(limit=64, in_use=10) == 8


def test_out_of_file_descriptors_waits_instead_of_spinning():
    server = glm_offline.Server(pacing="instant").start()
    httpd = server._httpd
    server.stop()

    class NoFiles:
        calls = 0

        def accept(self):
            NoFiles.calls += 1
            raise OSError(errno.EMFILE, "Too many open files")

    class Stop:
        waits = []

        def is_set(self):
            return len(self.waits) >= 3

        def wait(self, seconds):
            self.waits.append(seconds)

    httpd.listener = NoFiles()
    httpd.serve_forever(Stop())
    assert NoFiles.calls == 3 and Stop.waits == [0.1, 0.1, 0.1]


# -- history -----------------------------------------------------------------------------------

def test_an_exchange_is_in_history_once_its_answer_is_read(served):
    """No waiting: the server records an exchange before it writes the last byte."""
    stream = json.dumps({**json.loads(HELLO), "stream": True}).encode()
    with requests.Session() as session:
        for number in range(60):
            before = len(served.history)
            body = stream if number % 2 else HELLO
            r = session.post(served.base_url + "/chat/completions", data=body,
                             headers={**auth(), "Content-Type": "application/json"}, timeout=10)
            assert r.status_code == 200
            assert len(served.history) == before + 1
            assert served.history[-1].status == 200


def test_wait_for_exchanges_times_out_with_a_clear_error(served):
    with pytest.raises(TimeoutError, match=r"holds \d+ exchanges after 0.05 s, not 100000"):
        served.wait_for_exchanges(100000, timeout=0.05)


def test_history_keeps_short_paths_and_is_bounded_in_bytes(served):
    long_path = "/api/paas/v4/" + "x" * 6000
    requests.get(f"http://127.0.0.1:{served.port}{long_path}", timeout=5)
    assert len(served.history[-1].path) == MAX_PATH_CHARS
    history = History(max_entries=1000, max_bytes=100_000)
    for number in range(1000):
        history.add(Exchange(number, "GET", "/" + "y" * 5000))
    assert 100 < len(history) < 200  # ~800 bytes each under a 100 kB bound
    assert history[-1].connection == 999

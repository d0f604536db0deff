"""Reading requests from bytes (glm_offline/http/reader.py): no socket, no server, no thread.

Each case is the bytes a client sends and what the reader makes of them: the request line,
the headers, the body, or the status a framing error is answered with (RFC 9112). The
server-level tests (tests/server/test_server_http.py) check that such an error reaches the client
as a GLM-shaped answer."""

import io
import time

import pytest

from glm_offline.http import (
    BodyAccount,
    ByteBudget,
    ClientGone,
    FramingError,
    Limits,
    RequestReader,
)

CHAT = b"/api/paas/v4/chat/completions"
REQUEST_LINE = b"POST " + CHAT + b" HTTP/1.1"
DEFAULTS = Limits()
HELLO = b'{"model": "glm-4-flash-250414", "messages": [{"role": "user", "content": "hi"}]}'


def head(*fields, line=REQUEST_LINE):
    return b"\r\n".join([line, b"Host: 127.0.0.1", *fields]) + b"\r\n\r\n"


def reader_of(data, limits=DEFAULTS, account=None, before_body=None):
    return RequestReader(io.BufferedReader(io.BytesIO(data)), limits, account, before_body)


def read(data, limits=DEFAULTS, account=None):
    """(request, body) of the first request in `data`; (None, None) when there is none."""
    reader = reader_of(data, limits, account)
    request = reader.read_head()
    return (request, reader.read_body(request)) if request else (None, None)


def framing_error(data, limits=DEFAULTS, account=None):
    with pytest.raises(FramingError) as caught:
        read(data, limits, account)
    return caught.value


# -- what is read ------------------------------------------------------------------------------

def test_a_request_line_headers_and_a_counted_body():
    request, body = read(head(b"Content-Length: %d" % len(HELLO), b"X-Two: a",
                              b"x-two:  b \t") + HELLO)
    assert (request.method, request.target, request.path, request.version) == (
        "POST", CHAT.decode(), CHAT.decode(), "HTTP/1.1")
    assert request.headers["content-length"] == str(len(HELLO))
    assert request.headers.get_all("X-TWO") == ["a", "b"]
    assert "host" in request.headers and request.headers["Missing"] is None
    assert body == HELLO
    assert request.close is False


def test_query_and_fragment_stay_in_the_target_not_the_path():
    request, _ = read(head(line=b"GET /api/paas/v4/async-result/7?x=1#top HTTP/1.1"))
    assert request.target == "/api/paas/v4/async-result/7?x=1#top"
    assert request.path == "/api/paas/v4/async-result/7"


def test_an_absolute_form_target_is_cut_to_its_path():
    request, _ = read(head(line=b"GET http://127.0.0.1:8000/api/paas/v4/models?a=b HTTP/1.1"))
    assert (request.target, request.path) == ("/api/paas/v4/models?a=b", "/api/paas/v4/models")
    request, _ = read(head(line=b"GET https://example.test HTTP/1.1"))
    assert request.path == "/"


def test_a_chunked_body_with_extensions_and_trailers():
    data = head(b"Transfer-Encoding: chunked") + (
        b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n")
    assert read(data)[1] == b"hello world"


def test_same_duplicate_content_lengths_and_leading_zeros_are_one_length():
    assert read(head(b"Content-Length: 5", b"Content-Length: 005") + b"hello")[1] == b"hello"
    assert read(head(b"Content-Length: 0000"))[1] == b""


def test_blank_lines_before_a_request_are_ignored_and_only_blank_lines_are_no_request():
    request, _ = read(b"\r\n\n" + head(line=b"GET / HTTP/1.1"))
    assert (request.method, request.path) == ("GET", "/")
    assert read(b"\r\n\r\n\r\n") == (None, None)
    assert read(b"") == (None, None)


@pytest.mark.parametrize("version, connection, close", [
    (b"HTTP/1.1", None, False),
    (b"HTTP/1.1", b"keep-alive, Close", True),
    (b"HTTP/1.0", None, True),
    (b"HTTP/1.0", b"Keep-Alive", False),
])
def test_keep_alive_by_version_and_connection_header(version, connection, close):
    fields = [b"Connection: " + connection] if connection else []
    request, _ = read(head(*fields, line=b"GET / " + version))
    assert request.close is close


def test_chunked_from_an_http_1_0_client_closes_the_connection():
    request, body = read(head(b"Transfer-Encoding: chunked", line=REQUEST_LINE[:-1] + b"0")
                         + b"2\r\nhi\r\n0\r\n\r\n")
    assert (body, request.close) == (b"hi", True)


def test_requests_are_read_one_after_another_from_one_stream():
    data = head(b"Content-Length: 3") + b"one" + head(line=b"GET /two HTTP/1.1")
    reader = reader_of(data)
    first = reader.read_head()
    assert reader.read_body(first) == b"one"
    assert reader.starting()
    second = reader.read_head()
    assert (second.path, reader.read_body(second)) == ("/two", b"")
    assert not reader.starting() and reader.read_head() is None


def test_before_body_is_told_once_a_body_is_to_be_read_and_expects_continue():
    seen = []
    data = head(b"Content-Length: 2", b"Expect: 100-Continue") + b"hi"
    reader = reader_of(data, before_body=lambda request: seen.append(request.expects_continue))
    reader.read_body(reader.read_head())
    assert seen == [True]
    seen.clear()
    reader = reader_of(head(line=b"GET / HTTP/1.1"), before_body=seen.append)
    reader.read_body(reader.read_head())
    assert seen == []  # no body: nothing to continue


def test_a_million_one_byte_chunks_are_read_in_linear_time():
    """Rebuilding the body by concatenation took 22 s of CPU for a million 1-byte chunks."""
    body = b"x" * 1_000_000
    framed = b"".join(b"1\r\n%c\r\n" % byte for byte in body) + b"0\r\n\r\n"
    started = time.process_time()
    assert read(head(b"Transfer-Encoding: chunked") + framed)[1] == body
    assert time.process_time() - started < 10


# -- framing errors and their status -----------------------------------------------------------

@pytest.mark.parametrize("data, status, message", [
    (head(b"Content-Length: " + b"9" * 5000) + HELLO, 413, "request body over"),
    (head(b"Content-Length: 1048577"), 413, "request body over 1048576 bytes"),
    (head(b"Content-Length: %d" % len(HELLO), b"Content-Length: 3") + HELLO, 400,
     "conflicting Content-Length"),
    (head(b"Content-Length: 3, 4") + HELLO, 400, "conflicting Content-Length"),
    (head(b"Content-Length: -3"), 400, "whole number"),
    (head("Content-Length: ²".encode("latin-1")), 400, "whole number"),
    (head(b"Transfer-Encoding: xchunked") + b"0\r\n\r\n", 400, "must end with chunked"),
    (head(b"Transfer-Encoding: chunkedy") + b"0\r\n\r\n", 400, "must end with chunked"),
    (head(b"Transfer-Encoding: chunked, gzip") + b"0\r\n\r\n", 400, "must end with chunked"),
    (head(b"Transfer-Encoding: gzip, chunked") + b"0\r\n\r\n", 501, "only the chunked"),
    (head(b"Transfer-Encoding: chunked", b"Content-Length: 5") + b"0\r\n\r\n", 400,
     "both Transfer-Encoding and Content-Length"),
    (head(b"Content-Length : 5") + b"hello", 400, "whitespace before the colon"),
    (head(b"X-Folded: a", b" b"), 400, "obsolete folding"),
    (head(b"No colon here"), 400, "no 'name:' part"),
    (head(b": empty name"), 400, "no 'name:' part"),
    (head(b"X(y): 1"), 400, "characters a name cannot have"),
    (head(b"X-Nul: a\x00b"), 400, "CR or NUL"),
    (head(b"X-Cr: a\rb"), 400, "CR or NUL"),
    (b"POST " + CHAT + b" HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400, "exactly one Host"),
    (head(b"Host: other"), 400, "exactly one Host"),
    (head(b"Transfer-Encoding: chunked") + b"0x5\r\nhello\r\n0\r\n\r\n", 400,
     "malformed chunked"),
    (head(b"Transfer-Encoding: chunked") + b"zz\r\n", 400, "malformed chunked"),
    (head(b"Transfer-Encoding: chunked") + b"2\r\nhello\r\n0\r\n\r\n", 400,
     "longer than its size"),
    (head(b"Transfer-Encoding: chunked") + b"1" * 2000 + b"\r\n", 400, "chunk-size line over"),
    (head(b"Transfer-Encoding: chunked") + b"100001\r\n", 413, "request body over"),
    (head(line=REQUEST_LINE.replace(b" HTTP", b"  HTTP")), 400, "METHOD /path HTTP/1.1"),
    (head(line=b"POST / HTTP/1.1 extra"), 400, "METHOD /path HTTP/1.1"),
    (head(line=b"POST / HTTP/x.y"), 400, "METHOD /path HTTP/1.1"),
    (head(line=b"P(ST / HTTP/1.1"), 400, "METHOD /path HTTP/1.1"),
    (head(line="POST /你 HTTP/1.1".encode()), 400, "must be ASCII"),
    (head(line=b"POST api/paas HTTP/1.1"), 400, "starting with /"),
    (head(line=b"GET * HTTP/1.1"), 400, "starting with /"),
    (head(line=b"BREW /pot HTTP/1.1"), 501, "method BREW is not implemented"),
    (head(line=b"POST / HTTP/2.0"), 505, "HTTP/2.0 is not supported"),
    (b"GET " + b"/" * 9000 + b" HTTP/1.1\r\n\r\n", 414, "request line over 8192 bytes"),
    (b"GET / HTTP/1.1", 400, "ended before its request line"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n", 400, "ended before its headers"),
    (head(b"X: " + b"a" * 40000), 431, "request headers over 32768 bytes"),
    (head(*[b"X: 1"] * 100), 431, "more than 100 header fields"),
    (head(b"Transfer-Encoding: chunked") + b"0\r\n" + b"T: x\r\n" * 101 + b"\r\n", 431,
     "more than 100 trailer fields"),
    (head(b"Transfer-Encoding: chunked") + b"0\r\nT: " + b"x" * 9000 + b"\r\n\r\n", 431,
     "request trailers over 8192 bytes"),
], ids=["cl-5000-digits", "cl-over-limit", "cl-duplicate-conflict", "cl-list-conflict",
        "cl-negative", "cl-superscript", "te-prefix", "te-suffix", "te-not-last", "te-gzip",
        "te-and-cl", "space-before-colon", "obs-fold", "no-colon", "empty-name", "bad-name",
        "nul-in-value", "cr-in-value", "no-host", "two-hosts", "chunk-size-0x", "chunk-size-zz",
        "chunk-too-long", "chunk-size-line-long", "chunks-over-limit", "double-space",
        "four-words", "bad-version", "bad-method-token", "non-ascii-line", "relative-target",
        "star-not-options", "unknown-method", "http2", "long-request-line", "cut-request-line",
        "cut-headers", "header-bytes", "header-count", "trailer-count", "trailer-bytes"])
def test_framing_errors_have_a_status_and_say_what_is_wrong(data, status, message):
    error = framing_error(data)
    assert error.status == status
    assert message in error.message


def test_options_star_is_a_target():
    request, _ = read(head(line=b"OPTIONS * HTTP/1.1"))
    assert (request.method, request.path) == ("OPTIONS", "*")


def test_the_limits_are_the_ones_given():
    limits = Limits(request_line=20, header_bytes=40, header_count=2, body=4)
    assert framing_error(b"GET /" + b"x" * 20 + b" HTTP/1.1\r\n\r\n", limits).status == 414
    assert framing_error(head(b"X: " + b"a" * 40, line=b"GET / HTTP/1.1"), limits).status == 431
    assert framing_error(head(b"A: 1", b"B: 2", line=b"GET / HTTP/1.1"), limits).status == 431
    post = b"POST / HTTP/1.1"
    assert framing_error(head(b"Content-Length: 5", line=post) + b"hello", limits).status == 413
    assert read(head(b"Content-Length: 4", line=post) + b"hell", limits)[1] == b"hell"


def test_what_was_read_of_a_rejected_request_is_kept_for_its_record():
    reader = reader_of(head(b"Bad header", line=b"PATCH /api/x?y HTTP/1.0"))
    with pytest.raises(FramingError):
        reader.read_head()
    assert (reader.request.method, reader.request.path, reader.request.version) == (
        "PATCH", "/api/x", "HTTP/1.0")


@pytest.mark.parametrize("data", [
    head(b"Content-Length: 10") + b"short",
    head(b"Transfer-Encoding: chunked") + b"a\r\nshort",
])
def test_a_body_cut_short_is_a_client_gone_not_a_framing_error(data):
    with pytest.raises(ClientGone):
        read(data)


# -- the bytes all bodies may hold -------------------------------------------------------------

def test_a_body_is_taken_from_the_budget_as_bytes_then_at_its_parsed_cost():
    budget = ByteBudget(10_000)
    account = BodyAccount(budget, "192.0.2.7")
    read(head(b"Content-Length: 10") + b"[1,2],[3]]", account=account)
    # 10 bytes as they came, then 6 * 10 + 150 * 2 brackets + 110 * 2 commas parsed
    assert budget.used == account.size == 10 + 60 + 300 + 220
    account.give_back()
    assert budget.used == 0


def test_a_body_that_could_never_fit_is_413_and_one_that_does_not_fit_now_is_503():
    budget = ByteBudget(2_000)  # a client's share: 1,000
    assert framing_error(head(b"Content-Length: 1001") + b"x" * 1001,
                         account=BodyAccount(budget, "a")).status == 413
    assert budget.take(900, "b") and budget.take(900, "c")
    error = framing_error(head(b"Content-Length: 600") + b"x" * 600,
                          account=BodyAccount(budget, "a"))
    assert (error.status, error.headers) == (503, (("Retry-After", "1"),))
    assert "too many large request bodies" in error.message

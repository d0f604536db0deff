"""Hostile input over raw sockets: the server answers 4xx (or closes), never fails or hangs."""

import json
import random
import re
import socket
import struct
import time

import pytest
import requests

import glm_offline
from helpers import auth

CHAT = "/api/paas/v4/chat/completions"
KEY = glm_offline.OFFLINE_API_KEY
CHAT_LINE = b"POST " + CHAT.encode() + b" HTTP/1.1"
GOOD_BODY = {"model": "glm-4-flash-250414",
             "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}
REQUEST_LINE = re.compile(rb"(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) \S+ HTTP/1\.[01]\r?\n")
STATUS_LINE = re.compile(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ")
FIELDS = ["model", "messages", "role", "content", "stream", "temperature", "top_p", "max_tokens",
          "stop", "tools", "tool_choice", "type", "function", "name", "parameters", "required",
          "properties", "enum", "tool_calls", "tool_call_id", "request_id", "do_sample", "text"]


def random_value(rng, depth=0):
    kinds = ["null", "bool", "int", "float", "str", "cjk"] + ["list", "dict"] * (depth < 4)
    kind = rng.choice(kinds)
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == "dict":
        return {rng.choice(FIELDS): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return {"null": None, "bool": rng.random() < 0.5,
            "int": rng.choice([0, 1, -1, 3, 2 ** 70, 131072]),
            "float": rng.choice([0.5, -0.0, 1e308, 0.01]),
            "str": rng.choice(["user", "system", "tool", "assistant", "auto", "function", "glm-4",
                               "glm-4-flash-250414", "", "get_weather", "x" * 70]),
            "cjk": rng.choice(["你好", "【离线生成】", "\U0001F600", "a\u0000b"])}[kind]


def weird_body(rng):
    """A JSON object shaped roughly like a chat request, with wrong types in random places."""
    body = {"model": rng.choice(["glm-4", "glm-4-flash-250414", 4, None, ""]),
            "messages": [{"role": rng.choice(["user", "tool", "assistant", "system", 7]),
                          "content": random_value(rng)} for _ in range(rng.randint(0, 3))]}
    for _ in range(rng.randint(0, 4)):
        body[rng.choice(FIELDS)] = random_value(rng)
    if rng.random() < 0.3:
        body["tools"] = [{"type": "function", "function": random_value(rng)}]
    return json.dumps(body).encode()


def request(body, extra_headers=b"", length=None, line=CHAT_LINE):
    length = len(body) if length is None else length
    return (line + b"\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode()
            + b"\r\nContent-Length: " + str(length).encode() + b"\r\n" + extra_headers
            + b"\r\n" + body)


def garbage_line(rng):
    words = [rng.choice([b"POST", b"GET", b"BREW", b"post", b"", b"\x00\xff", b"P OST"]),
             rng.choice([CHAT.encode(), b"*", b"/", b"//" * 50, b"/%zz", b"/\xe4\xbd\xa0",
                         b"http://127.0.0.1/x"]),
             rng.choice([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.1.1",
                         b"HTTPS/1.1", b"HTTP/a.b", b"", b"HTTP/1.1 extra"])]
    return b" ".join(word for word in words if rng.random() < 0.9)


def bad_header(rng):
    return rng.choice([
        b"No colon here\r\n", b": empty name\r\n", b" folded continuation\r\n",
        b"X-Long: " + b"a" * rng.randint(100, 70000) + b"\r\n",
        b"Content-Length: 5\r\n", b"Content-Length: -3\r\n", b"Content-Length: 99999999999\r\n",
        b"Transfer-Encoding: chunked\r\n", b"Transfer-Encoding: gzip, chunked\r\n",
        b"Expect: 100-continue\r\n", b"Connection: keep-alive, close\r\n",
        b"Authorization: Bearer \xff\xfe.\x00\r\n", b"Authorization: Bearer a.b.c\r\n",
        b"X-Many: 1\r\n" * rng.randint(1, 150),
        bytes(rng.randrange(256) for _ in range(20)) + b"\r\n",
    ])


def make_case(rng):
    """One random request: garbage, truncated, oddly typed, badly headed or bit-flipped."""
    good = json.dumps(GOOD_BODY).encode()
    kind = rng.randrange(7)
    if kind == 0:
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
    elif kind == 1:
        data = request(good[:rng.randint(0, len(good) - 1)])
    elif kind == 2:
        cut = rng.randint(0, len(good) - 1)
        data = request(good[:cut], length=len(good))  # promises more than it sends
    elif kind == 3:
        data = request(weird_body(rng))
    elif kind == 4:
        data = request(good, b"".join(bad_header(rng) for _ in range(rng.randint(1, 3))))
    elif kind == 5:
        data = request(good, line=garbage_line(rng))
    else:
        data = bytearray(request(weird_body(rng)))
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data)
    return data


def exchange(port, data):
    """Send everything, close our side, read until the server closes: never waits forever."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (413, 431) and closed
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


@pytest.fixture
def lenient(capsys):
    with glm_offline.start(pacing="instant", strict=False) as running:
        yield running
    # An exception in a handler thread is printed by socketserver: none may happen.
    assert "Traceback" not in capsys.readouterr().err


def test_random_and_truncated_requests(lenient):
    rng = random.Random(20261125)
    statuses = {}
    for _ in range(1500):  # every exchange has a socket timeout: a hang fails, not blocks
        data = make_case(rng)
        found = [int(code) for code in STATUS_LINE.findall(exchange(lenient.port, data))]
        implemented = REQUEST_LINE.match(data) is not None
        for status in found:
            statuses[status] = statuses.get(status, 0) + 1
            # 501 (unknown method, or a transfer coding other than chunked) and 505 (HTTP/2.0
            # on an HTTP/1.1 socket) are the protocol's answers, not failures of the server.
            allowed = status < 500 or (not implemented and status in (501, 505)) or (
                status == 501 and b"Transfer-Encoding: gzip" in data)
            assert allowed, (status, data[:200])
    assert statuses.get(400, 0) > 400  # most cases are rejected...
    assert statuses.get(200, 0) > 20  # ...and some weird-but-valid ones answered
    r = requests.post(lenient.base_url + "/chat/completions", json=GOOD_BODY, headers=auth(),
                      timeout=5)
    assert r.json()["choices"][0]["message"]["content"] == "Hello! It's nice to meet you."


NASTY = {
    "deep-nesting": (request(b'{"model":' + b"[" * 50000 + b"]" * 50000 + b"}"), 400),
    "lone-surrogate": (request(b'{"model":"glm-4","messages":[{"role":"user",'
                               b'"content":"\\ud800"}]}'), 400),
    "number-text-part": (request(b'{"model":"glm-4","messages":[{"role":"user",'
                                 b'"content":[{"text":5}]}]}'), 400),
    "required-not-list": (request(json.dumps({**GOOD_BODY, "tools": [{"type": "function",
        "function": {"name": "f", "parameters": {"required": 5}}}]}).encode()), 200),
    "superscript-length": (request(b"", b"Content-Length: \xb2\r\n", length=""), 400),
    "bad-chunk-size": (request(b"zz\r\n", b"Transfer-Encoding: chunked\r\n"), 400),
    "huge-header": (request(b"", b"X: " + b"a" * 70000 + b"\r\n"), 431),
    "too-many-headers": (request(b"", b"X: 1\r\n" * 120), 431),
    "unknown-method": (b"BREW /pot HTTP/1.1\r\n\r\n", 501),
    "http2-line": (b"POST " + CHAT.encode() + b" HTTP/2.0\r\n\r\n", 505),
    "bad-version": (b"POST " + CHAT.encode() + b" HTTP/x.y\r\n\r\n", 400),
    "four-words": (b"POST / HTTP/1.1 extra\r\n\r\n", 400),
    "huge-request-line": (b"GET " + b"/" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
}


@pytest.mark.parametrize("data, expected", NASTY.values(), ids=NASTY.keys())
def test_known_nasty_requests_get_an_answer(lenient, data, expected):
    received = exchange(lenient.port, data)
    assert STATUS_LINE.match(received).group(1) == str(expected).encode()
    assert b"Content-Type: application/json; charset=UTF-8\r\n" in received


def test_blank_lines_are_ignored_and_closed(lenient):
    assert exchange(lenient.port, b"\r\n\r\n\r\n") == b""


def test_client_reset_mid_request_is_quiet(lenient):
    for partial in [b"POST " + CHAT.encode() + b" HTTP/1.1\r\nContent-Le",
                    request(b'{"model": "glm-4", "mess', length=200)]:
        with socket.create_connection(("127.0.0.1", lenient.port), timeout=5) as sock:
            sock.sendall(partial)
            # Linger on, timeout 0: close() sends a TCP reset instead of a clean end.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    r = requests.post(lenient.base_url + "/chat/completions", json=GOOD_BODY, headers=auth(),
                      timeout=5)
    assert r.status_code == 200
    time.sleep(0.2)  # let the reset connections' threads finish before the traceback check


def test_stalled_client_does_not_block_others(lenient):
    server = lenient
    stalled = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(3)]
    stalled[0].sendall(b"PO")  # half a request line
    stalled[1].sendall(b"POST " + CHAT.encode() + b" HTTP/1.1\r\nContent-Le")  # half a header
    stalled[2].sendall(request(b'{"model": "glm-4", "mess', length=200))  # half a body
    try:
        started = time.monotonic()
        r = requests.post(server.base_url + "/chat/completions", json=GOOD_BODY, headers=auth(),
                          timeout=5)
        assert time.monotonic() - started < 3  # not held up until the stalled ones time out
        assert r.status_code == 200
    finally:
        for sock in stalled:
            sock.close()

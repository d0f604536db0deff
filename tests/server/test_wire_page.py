"""The "See the wire" page (glm_offline/wire_page.py): behind the control surface's checks and
token, it shows each request, its decoded credential (never a secret), its capped body and
its SSE events in order with their times; its log and its viewers stay bounded."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import jwt
import pytest
import requests

import glm_offline
from glm_offline import wire_page
from glm_offline.auth import OFFLINE_API_KEY
from glm_offline.http import Headers
from glm_offline.wire_page import EVENTS_PATH, WIRE_PATH

KEY_ID, SECRET = OFFLINE_API_KEY.split(".")
# recorded in glm_offline/cassettes/server-basics.json ("hello-en-stream"): a short stream
STREAMED = {"model": "glm-4-flash-250414", "stream": True,
            "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}


@pytest.fixture(scope="module")
def served():
    # realistic pacing: the recorded events leave as far apart as they were recorded
    with glm_offline.start(pacing="realistic") as server:
        yield server


def root(server):
    return f"http://127.0.0.1:{server.port}"


def page_get(server, path, token=None, headers=None, **kwargs):
    token = server.control.value if token is None else token
    return requests.get(root(server) + path, params={"token": token} if token else None,
                        headers=headers, timeout=5, **kwargs)


class PageStream:
    """The page's event stream, read as the browser's EventSource would: (event, data) pairs."""

    def __init__(self, server):
        self.response = page_get(server, EVENTS_PATH, stream=True)
        assert self.response.status_code == 200, self.response.text
        self.raw = b""
        self._chunks = self.response.iter_content(None)

    def until(self, predicate, timeout=5):
        """Every frame so far once predicate(frames) holds; fails after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            frames = self.frames()
            if predicate(frames):
                return frames
            assert time.monotonic() < deadline, f"no such frames after {timeout} s: {frames}"
            self.raw += next(self._chunks)

    def frames(self):
        found = []
        for block in self.raw.decode("utf-8").split("\n\n")[:-1]:
            fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line
                          and not line.startswith(":"))
            if "event" in fields:
                found.append((fields["event"], json.loads(fields["data"])))
        return found

    def close(self):
        self.response.close()


def done_for(match):
    """A predicate: the page has shown a request for which match(request) holds, and its end."""
    def predicate(frames):
        ids = [d["id"] for kind, d in frames if kind == "request" and match(d)]
        return any(kind == "done" and d["id"] in ids for kind, d in frames)
    return predicate


def of_exchange(frames, match):
    """The frames of the exchange whose request match(request) holds."""
    ident = [d["id"] for kind, d in frames if kind == "request" and match(d)][-1]
    return [(kind, d) for kind, d in frames if d.get("id") == ident]


def glm_jwt(exp_ms):
    return jwt.encode({"api_key": KEY_ID, "exp": exp_ms, "timestamp": exp_ms - 3_600_000},
                      SECRET, algorithm="HS256", headers={"alg": "HS256", "sign_type": "SIGN"})


# -- protection ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [WIRE_PATH, EVENTS_PATH])
@pytest.mark.parametrize("token", ["", "a-guessed-token"], ids=["no-token", "wrong-token"])
def test_the_page_and_its_stream_need_the_control_token(served, path, token):
    r = page_get(served, path, token=token)
    assert r.status_code == 403
    assert r.text.count("\n") == 0
    assert "needs ?token=" in r.json()["error"]["message"]


@pytest.mark.parametrize("headers, words", [
    ({"Origin": "http://attacker.example"}, "does not accept requests from web pages"),
    ({"Sec-Fetch-Site": "cross-site"}, "does not accept requests from web pages"),
    ({"Sec-Fetch-Site": "same-site"}, "does not accept requests from web pages"),
    ({"Host": "rebound.attacker.example"}, "needs an IP address in Host"),
], ids=["origin", "cross-site", "same-site", "foreign-host"])
@pytest.mark.parametrize("path", [WIRE_PATH, EVENTS_PATH])
def test_other_web_pages_and_foreign_hosts_are_refused_even_with_the_token(served, path,
                                                                           headers, words):
    r = page_get(served, path, headers=headers)
    assert r.status_code == 403
    assert words in r.json()["error"]["message"]


def test_the_page_itself_may_open_its_stream(served):
    """What a browser sends for the page's own EventSource: same-origin, its own Origin."""
    own = {"Sec-Fetch-Site": "same-origin", "Origin": root(served)}
    r = page_get(served, EVENTS_PATH, headers=own, stream=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    r.close()


@pytest.mark.parametrize("peer, allowed", [
    ("127.0.0.1", True), ("::ffff:127.0.0.1", True), ("::1", True), ("192.0.2.99", False)])
def test_only_the_servers_own_machine_sees_the_page(peer, allowed):
    handler = SimpleNamespace(
        path="/_offline/wire?token=right", headers=Headers([("Host", "127.0.0.1:8000")]),
        client_address=(peer, 50000),
        connection=SimpleNamespace(getsockname=lambda: ("127.0.0.1", 8000)))
    owner = SimpleNamespace(control=SimpleNamespace(matches=lambda token: token == "right"))
    if allowed:
        wire_page.check(owner, handler)
    else:
        with pytest.raises(glm_offline.wire.APIError, match="from the server's own machine"):
            wire_page.check(owner, handler)


# -- what the page shows ------------------------------------------------------------------------

def test_the_page_has_labels_in_both_languages(served):
    english = page_get(served, WIRE_PATH)
    assert english.status_code == 200 and '<html lang="en">' in english.text
    assert "See the wire" in english.text
    by_query = page_get(served, WIRE_PATH + "?lang=zh")
    by_header = page_get(served, WIRE_PATH, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    for page in (by_query, by_header):
        assert '<html lang="zh">' in page.text and "看见线路上的请求" in page.text
    assert "script-src 'nonce-" in english.headers["Content-Security-Policy"]
    assert english.headers["Referrer-Policy"] == "no-referrer"
    assert ".innerHTML" not in english.text  # learners' text goes in as text, never as markup


def test_a_streamed_request_shows_its_jwt_claims_body_and_events_in_order(served):
    stream = PageStream(served)
    try:
        exp_ms = int(time.time() * 1000) + 60_000
        token = glm_jwt(exp_ms)
        answer = requests.post(served.base_url + "/chat/completions", json=STREAMED, timeout=5,
                               headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        path = "/api/paas/v4/chat/completions"

        def match(request):
            return request["credential"].get("claims", {}).get("exp") == exp_ms
        frames = of_exchange(stream.until(done_for(match)), match)
    finally:
        stream.close()
    kinds = [kind for kind, _ in frames]
    assert kinds[:2] == ["request", "reply"] and kinds[-1] == "done"
    assert frames[1][1] == {"id": frames[0][1]["id"], "status": 200,
                            "source": "recorded:hello-en-stream"}
    request = frames[0][1]
    assert (request["method"], request["path"]) == ("POST", path)
    assert request["credential"] == {
        "kind": "jwt", "header": {"alg": "HS256", "sign_type": "SIGN", "typ": "JWT"},
        "claims": {"api_key": KEY_ID, "exp": exp_ms, "timestamp": exp_ms - 3_600_000}}
    assert json.loads(request["body"]) == STREAMED and request["more"] == 0
    # the events the page shows are the events the client received, in the same order
    received = [block for block in answer.content.decode("utf-8").split("\n\n") if block]
    shown = [d for kind, d in frames if kind == "sse"]
    assert [e["text"] for e in shown] == received
    times = [e["ms"] for e in shown]
    assert times == sorted(times) and times[-1] > times[0] >= 0
    assert shown[-1]["kind"] == "done" and {e["kind"] for e in shown[:-1]} == {"content"}
    done = frames[-1][1]
    assert (done["status"], done["events"], done["outcome"]) == (200, len(received), "complete")
    # never the secret, the signature or the whole token
    assert SECRET not in stream.raw.decode("utf-8")
    assert token.split(".")[2] not in stream.raw.decode("utf-8")


def test_a_raw_key_shows_only_its_id_and_a_pasted_secret_is_hidden(served):
    stream = PageStream(served)
    try:
        body = {"model": "glm-4-flash",
                "messages": [{"role": "user", "content": f"my key is {OFFLINE_API_KEY}"}]}
        r = requests.post(served.base_url + "/chat/completions", json=body, timeout=5,
                          headers={"Authorization": f"Bearer {OFFLINE_API_KEY}"})
        assert r.status_code == 200

        def match(request):
            return "my key is" in request["body"]
        frames = of_exchange(stream.until(done_for(match)), match)
    finally:
        stream.close()
    request = frames[0][1]
    assert request["credential"] == {"kind": "raw", "id": KEY_ID}
    assert f"my key is {KEY_ID}.•••" in request["body"]
    page = page_get(served, WIRE_PATH).text
    for sent in (stream.raw.decode("utf-8"), page):
        assert SECRET not in sent


def test_a_big_body_is_capped_without_cutting_a_character(served):
    stream = PageStream(served)
    try:
        raw = "中".encode("utf-8") * 2000  # 6000 bytes, not JSON: answered 400, still shown
        r = requests.post(served.base_url + "/async/chat/completions", data=raw, timeout=5,
                          headers={"Authorization": f"Bearer {OFFLINE_API_KEY}"})
        assert r.status_code == 400

        def match(request):
            return request["path"] == "/api/paas/v4/async/chat/completions"
        frames = of_exchange(stream.until(done_for(match)), match)
    finally:
        stream.close()
    request, done = frames[0][1], frames[-1][1]
    assert request["body"] == "中" * 1365  # 4095 bytes: a 1366th would pass 4096
    assert request["more"] == 6000 - 4096
    assert done["status"] == 400


def test_the_pages_own_requests_are_not_on_the_page(served):
    stream = PageStream(served)
    try:
        page_get(served, WIRE_PATH)
        requests.get(root(served) + "/no/such/path", timeout=5)
        frames = stream.until(done_for(lambda request: request["path"] == "/no/such/path"))
    finally:
        stream.close()
    assert not [d for kind, d in frames if kind == "request" and d["path"].startswith(WIRE_PATH)]


@pytest.mark.parametrize("lines, kind", [
    (['data: {"choices":[{"delta":{"role":"assistant","reasoning_content":"Hmm"}}]}'],
     "reasoning"),
    (['data: {"choices":[{"delta":{"content":"Hi","reasoning_content":""}}]}'], "content"),
    (["data: [DONE]"], "done"),
    (['data: {"error":{"code":"1305","message":"busy"}}'], "error"),
    (["data: not json"], "other"),
    (['data: "error"'], "other"),
])
def test_events_are_told_apart_so_reasoning_can_be_dimmed(lines, kind):
    assert wire_page.describe_event(lines)[0] == kind


def test_the_short_view_keeps_what_changes_from_chunk_to_chunk():
    lines = ['data: {"id":"1","created":2,"model":"glm-4.7-flash","choices":[{"index":0,'
             '"finish_reason":"stop","delta":{"content":"!"}}],"usage":{"total_tokens":9}}']
    assert wire_page.describe_event(lines) == ("content", (
        '{"finish_reason": "stop", "delta": {"content": "!"}}  usage {"total_tokens": 9}'))
    assert wire_page.describe_event(["data: [DONE]"]) == ("done", "[DONE]")


# -- bounded ------------------------------------------------------------------------------------

def test_a_stalled_page_never_holds_up_the_server_and_is_told_what_it_missed(monkeypatch):
    """The page's writer is stuck (its socket full); publishing stays instant, its queue
    keeps the newest QUEUE_MESSAGES, and the page then hears how many it missed."""
    monkeypatch.setattr(wire_page, "QUEUE_MESSAGES", 5)
    log = wire_page.WireLog()
    stuck, written, first_write = threading.Event(), [], threading.Event()

    def write_chunk(data):
        written.append(data.decode("utf-8"))
        first_write.set()
        assert stuck.wait(5)

    browser, server_end = socket.socketpair()  # a connection the browser keeps open
    handler = SimpleNamespace(
        path="/_offline/wire/events?token=right", headers=Headers([("Host", "127.0.0.1:1")]),
        client_address=("127.0.0.1", 50000), exchange=SimpleNamespace(source=""),
        connection=SimpleNamespace(getsockname=lambda: ("127.0.0.1", 1),
                                   fileno=server_end.fileno, recv=server_end.recv),
        start_chunked=lambda *args: None, write_chunk=write_chunk, end_chunked=lambda: None)
    owner = SimpleNamespace(control=SimpleNamespace(matches=lambda token: token == "right"))
    page = threading.Thread(target=wire_page.events, args=(owner, handler, log))
    page.start()
    assert first_write.wait(5)  # the hello; now the writer is stuck
    started = time.monotonic()
    for number in range(50):
        log.publish(number, "request", {"id": number})
    assert time.monotonic() - started < 0.5
    stuck.set()
    deadline = time.monotonic() + 5
    while not any("id\": 49" in chunk for chunk in written):
        assert time.monotonic() < deadline, written
        time.sleep(0.01)
    log.close()
    page.join(5)
    browser.close()
    server_end.close()
    after = "".join(written[1:])
    assert 'event: dropped\ndata: {"count": 45}' in after
    assert [int(n) for n in re.findall(r'"id": (\d+)', after)] == [45, 46, 47, 48, 49]


def test_nothing_is_kept_until_a_page_is_first_opened():
    log = wire_page.WireLog()
    exchange = SimpleNamespace(number=1, method="POST", path="/x", watcher=None)
    log.watch(exchange, Headers(), b"{}")
    assert exchange.watcher is None
    log.unsubscribe(log.subscribe()[0])
    log.watch(exchange, Headers(), b"{}")
    assert exchange.watcher is not None
    assert len(log.subscribe()[1]) == 1  # that request, for the next page


def test_the_log_keeps_the_last_exchanges_only(monkeypatch):
    monkeypatch.setattr(wire_page, "MAX_EXCHANGES", 3)
    log = wire_page.WireLog()
    for number in range(10):
        log.publish(number, "request", {"id": number, "body": "x" * 100})
    viewer, backlog = log.subscribe()
    assert [json.loads(f.decode().split("data: ")[1])["id"] for f in backlog] == [7, 8, 9]


def test_a_page_opened_when_eight_are_takes_the_oldest_ones_place(served):
    """At most MAX_VIEWERS pages; a new one always gets in (the instructor reopening the page),
    and the page it replaces is told why, so it does not come back by itself."""
    deadline = time.monotonic() + 3  # the other tests' pages have closed: wait till it is seen
    while served.app.wire.viewers:
        assert time.monotonic() < deadline, "closed pages still hold their slots after 3 s"
        time.sleep(0.05)
    viewers = [served.app.wire.subscribe()[0] for _ in range(wire_page.MAX_VIEWERS)]
    stream = PageStream(served)
    try:
        assert stream.until(lambda frames: frames)[0][0] == "hello"
        assert served.app.wire.viewers == wire_page.MAX_VIEWERS
        oldest, *others = viewers
        assert oldest.closed and not any(viewer.closed for viewer in others)
        assert oldest.take(0) == ([b"event: evicted\ndata: {}\n\n"], 0)
    finally:
        stream.close()
        for viewer in viewers:
            served.app.wire.unsubscribe(viewer)


def test_stopping_the_server_ends_the_pages_stream():
    server = glm_offline.start()
    stream = PageStream(server)
    stream.until(lambda frames: frames)  # the hello
    stopped = time.monotonic()
    server.stop()
    with pytest.raises((requests.ConnectionError, StopIteration, requests.RequestException)):
        while True:
            stream.raw += next(stream._chunks)
    assert time.monotonic() - stopped < 3
    stream.close()


# -- serve prints the page's URL ---------------------------------------------------------------

def test_serve_prints_the_wire_pages_url_with_its_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHIPUAI_", "GLM_OFFLINE_"))}
    env["GLM_OFFLINE_CONTROL_DIR"] = str(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "glm_offline", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, text=True, env=env)
    try:
        for line in process.stdout:
            match = re.search(r"see the wire .*: (http://\S+)", line)
            if match:
                break
        assert match, "serve printed no wire page URL"
        url = match.group(1)
        assert "token=" in url
        r = requests.get(url, timeout=5)
        assert r.status_code == 200 and "EventSource" in r.text
        assert requests.get(url.split("?")[0], timeout=5).status_code == 403
    finally:
        process.terminate()
        process.wait(timeout=10)


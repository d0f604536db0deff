"""Record mode: the proxy in front of an upstream, and the cassette it writes.

The upstream is a real local server: glm_offline itself (it speaks the GLM wire format) or,
for gzip, a tiny http.server. Only 127.0.0.1 is ever contacted.
"""

import gzip
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace

import jwt
import pytest
import requests

import glm_offline
from glm_offline.cassette_file import read_checked
from glm_offline.cassettes import CassetteError, load_file
from glm_offline.record import run_recorder, start_recorder
from glm_offline.sse_capture import SSERecorder
from helpers import serving_upstream

KEY = glm_offline.OFFLINE_API_KEY
KEY_ID, KEY_SECRET = glm_offline.split_key(KEY)
MODEL = "glm-4-flash-250414"
CHAT = "/chat/completions"


def auth(credential=KEY):
    return {"Authorization": f"Bearer {credential}"}


def ask(text, stream=False):
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    return body


def post(base_url, body, headers=None, **kwargs):
    return requests.post(base_url + CHAT, json=body, headers=auth() if headers is None else headers,
                         timeout=10, **kwargs)


def read_cassette(path):
    """The cassette as a loader sees it, while recording too (its journal merged)."""
    return read_checked(path)


def stored_text(path):
    """Every byte the recorder wrote: the cassette and its journal, if any."""
    journal = path.with_name(path.name + "-journal")
    return path.read_text(encoding="utf-8") + (journal.read_text(encoding="utf-8")
                                               if journal.exists() else "")


SLOW_STREAM = ask("Count to two, slowly.", stream=True)
SLOW_CASSETTE = {
    "version": 1,
    "metadata": {"how": "test fixture"},
    "interactions": [{
        "name": "test-record-slow-stream",
        "request": {"method": "POST", "path": "/api/paas/v4/chat/completions", "body": SLOW_STREAM},
        "response": {"status": 200,
                     "sse": ['data: {"n":1}', "", 'data: {"n":2}', "", "data: [DONE]", ""],
                     "event_delays_ms": [300, 400, 5]},
    }],
}


@pytest.fixture
def upstream(tmp_path):
    """glm_offline as the 'real' API: instant streams, plus one slow recorded stream."""
    folder = tmp_path / "upstream"
    folder.mkdir()
    (folder / "slow.json").write_text(json.dumps(SLOW_CASSETTE), encoding="utf-8")
    with glm_offline.start(pacing="instant", cassette_dirs=[folder]) as running:
        yield running


@pytest.fixture
def output(tmp_path):
    folder = tmp_path / "recorded"
    folder.mkdir()
    return folder / "rec.json"


@pytest.fixture
def proxy(upstream, output):
    server = start_recorder(upstream.base_url, output)
    yield server
    server.stop()


def test_json_reply_reaches_the_client_byte_for_byte_and_is_recorded(upstream, proxy, output):
    body = ask("What is a token?")
    direct, via = post(upstream.base_url, body), post(proxy.base_url, body)
    assert (via.status_code, via.content) == (direct.status_code, direct.content)
    assert via.headers["Content-Type"] == direct.headers["Content-Type"]
    [interaction] = read_cassette(output)["interactions"]
    assert interaction["name"] == "rec-001-what-is-a-token"
    assert interaction["request"] == {"method": "POST", "path": "/api/paas/v4/chat/completions",
                                      "body": body}
    assert interaction["response"] == {"status": 200, "json": direct.json()}


def test_metadata_says_when_how_and_from_where(upstream, proxy, output):
    post(proxy.base_url, ask("Hi"))
    metadata = read_cassette(output)["metadata"]
    assert metadata["recorded_at"] == datetime.now(timezone.utc).date().isoformat()
    assert metadata["model"] == MODEL
    assert metadata["how"] == (f"recorded: captured from {upstream.base_url} "
                               "with `python -m glm_offline record`")
    assert metadata["api_base"] == upstream.base_url


def test_stream_reaches_the_client_byte_for_byte_and_is_stored_as_raw_lines(upstream, proxy,
                                                                              output):
    body = ask("Stream a greeting.", stream=True)
    direct, via = post(upstream.base_url, body), post(proxy.base_url, body)
    assert via.headers["Content-Type"] == direct.headers["Content-Type"]
    assert via.headers["Transfer-Encoding"] == "chunked"
    assert via.content == direct.content
    response = read_cassette(output)["interactions"][0]["response"]
    assert "\n".join(response["sse"]) + "\n" == direct.content.decode("utf-8")
    assert len(response["event_delays_ms"]) == direct.content.count(b"\n\n")


def test_stream_reaches_the_client_as_it_arrives_not_buffered(upstream, proxy, output):
    upstream.configure(pacing="realistic")  # events after 300 ms, 400 ms more, 5 ms more
    started = time.monotonic()
    arrivals = []
    with post(proxy.base_url, SLOW_STREAM, stream=True) as response:
        for chunk in response.iter_content(chunk_size=None):
            arrivals.append((time.monotonic() - started, chunk))
    first_at, ended_at = arrivals[0][0], arrivals[-1][0]
    assert arrivals[0][1] == b'data: {"n":1}\n\n'
    assert ended_at - first_at > 0.3, arrivals
    delays = read_cassette(output)["interactions"][0]["response"]["event_delays_ms"]
    assert len(delays) == 3
    assert delays[0] >= 250 and delays[1] >= 350, delays


def test_recordings_replay_identically_in_strict_mode(upstream, proxy, output):
    asked = [ask("Name a colour."), ask("Name a colour.", stream=True), ask("你好", stream=True)]
    direct = [post(upstream.base_url, body).content for body in asked]
    for body in asked:
        post(proxy.base_url, body)
    proxy.stop()
    names = [item["name"] for item in read_cassette(output)["interactions"]]
    with glm_offline.start(cassette_dirs=[output.parent], strict=True, pacing="instant") as replay:
        assert [post(replay.base_url, body).content for body in asked] == direct
        history = replay.wait_for_exchanges(len(asked), timeout=10)
        assert [exchange.source for exchange in history] == [f"recorded:{n}" for n in names]
    assert names == ["rec-001-name-a-colour", "rec-002-name-a-colour-stream",
                     "rec-003-你好-stream"]


def test_cassette_never_holds_the_key_a_token_or_the_authorization_header(proxy, output):
    now_ms = int(time.time() * 1000)
    token = jwt.encode({"api_key": KEY_ID, "exp": now_ms + 60_000, "timestamp": now_ms},
                       KEY_SECRET, algorithm="HS256", headers={"sign_type": "SIGN"})
    for number, headers in enumerate((auth(KEY), auth(token), {"Authorization": KEY})):
        body = ask(f"Keep secret number {number}?")  # a different request each time
        assert post(proxy.base_url, body, headers=headers).status_code == 200
    text = stored_text(output)
    assert len(read_cassette(output)["interactions"]) == 3
    for secret in (KEY, KEY_SECRET, token, token.split(".")[2], "Bearer"):
        assert secret not in text
    assert "authorization" not in text.lower()


def recorded_statuses(output):
    if not output.exists():
        return []
    return [item["response"]["status"] for item in read_cassette(output)["interactions"]]


def test_401_and_429_pass_through_but_are_not_recorded(upstream, proxy, output, capsys):
    wrong = post(proxy.base_url, ask("Hi"), headers=auth("someone.elses-wrong-secret"))
    upstream.inject("rate_limit", retry_after=3)
    limited = post(proxy.base_url, ask("Hi"))
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "1000")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    assert limited.json()["error"]["code"] == "1302"
    assert recorded_statuses(output) == []
    printed = capsys.readouterr().out
    assert "answered 401; 401: the replay server checks the key before" in printed
    assert "answered 429; 429 is transient" in printed
    # The same request, once it succeeds, is recorded: nothing shadows it.
    assert post(proxy.base_url, ask("Hi")).status_code == 200
    assert recorded_statuses(output) == [200]


@pytest.mark.parametrize("kind, status", [("server_error", 500), ("unavailable", 503)])
def test_5xx_pass_through_but_are_not_recorded(upstream, proxy, output, kind, status):
    upstream.inject(kind)
    assert post(proxy.base_url, ask("Hi")).status_code == status
    upstream.inject(kind)
    streamed = post(proxy.base_url, ask("Hi", stream=True))
    assert streamed.status_code == status
    assert recorded_statuses(output) == []


def test_a_content_refusal_is_recorded_and_replays(upstream, proxy, output):
    upstream.inject("error", code="1301")
    refused = post(proxy.base_url, ask("Something the moderation refuses."))
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "1301")
    [interaction] = read_cassette(output)["interactions"]
    assert interaction["response"] == {"status": 400, "json": refused.json()}
    proxy.stop()
    with glm_offline.start(cassette_dirs=[output.parent], packaged_cassettes=False, strict=True,
                           pacing="instant") as replay:
        again = post(replay.base_url, ask("Something the moderation refuses."))
    assert (again.status_code, again.content) == (400, refused.content)


def test_requests_replay_rejects_by_itself_are_not_recorded(proxy, output, capsys):
    typo = {**ask("Hi"), "model": "glm-4-flahs"}
    response = post(proxy.base_url, typo)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "1211")
    assert post(proxy.base_url, {**ask("Hi"), "temperature": 7}).status_code == 400
    assert recorded_statuses(output) == []
    printed = capsys.readouterr().out
    assert "the replay server answers this request itself (400, code 1211)" in printed
    assert "the replay server answers this request itself (400, code 1210)" in printed


def test_a_request_already_recorded_is_not_recorded_again(upstream, proxy, output, capsys):
    first = post(proxy.base_url, ask("Say it once."))
    upstream.inject("sensitive")  # a different answer to the same request
    second = post(proxy.base_url, {**ask("Say it once."), "top_p": None})  # null: same request
    assert first.content != second.content
    post(proxy.base_url, ask("Say it once.", stream=True))  # another request: recorded
    names = [item["name"] for item in read_cassette(output)["interactions"]]
    assert names == ["rec-001-say-it-once", "rec-002-say-it-once-stream"]
    assert read_cassette(output)["interactions"][0]["response"]["json"] == first.json()
    assert ("the same request as rec-001-say-it-once, already in rec.json "
            "(the first recording wins)") in capsys.readouterr().out


def test_a_later_session_does_not_record_a_request_already_in_the_file(upstream, output):
    for _ in range(2):
        with start_recorder(upstream.base_url, output) as proxy:
            post(proxy.base_url, ask("Asked in both sessions."))
    assert len(read_cassette(output)["interactions"]) == 1


class GzipUpstream(BaseHTTPRequestHandler):
    """Answers every POST with a gzip-compressed JSON body; remembers the headers it got."""

    protocol_version = "HTTP/1.1"
    reply = {"choices": [{"message": {"role": "assistant", "content": "压缩过的回答"}}]}
    seen = []

    def do_POST(self):  # noqa: N802 (stdlib name)
        self.rfile.read(int(self.headers["Content-Length"]))
        GzipUpstream.seen.append(dict(self.headers))
        data = gzip.compress(json.dumps(self.reply, ensure_ascii=False).encode("utf-8"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass


@pytest.fixture
def gzip_upstream():
    GzipUpstream.seen = []
    with serving_upstream(GzipUpstream) as url:
        yield url


def test_compressed_upstream_body_is_stored_decoded_and_the_key_is_passed_on(gzip_upstream,
                                                                               output):
    with start_recorder(gzip_upstream, output) as proxy:
        response = post(proxy.base_url, ask("Compress this."))
    assert response.json() == GzipUpstream.reply
    assert "Content-Encoding" not in response.headers
    assert GzipUpstream.seen[0]["Authorization"] == f"Bearer {KEY}"
    assert read_cassette(output)["interactions"][0]["response"]["json"] == GzipUpstream.reply
    assert "压缩过的回答" in output.read_text(encoding="utf-8")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_upstream_gives_a_502_in_glm_shape_and_records_nothing(output):
    with start_recorder(f"http://127.0.0.1:{free_port()}/api/paas/v4", output) as proxy:
        response = post(proxy.base_url, ask("Anyone there?"))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "502"
    assert "cannot be reached" in response.json()["error"]["message"]
    assert not output.exists()


def test_paths_outside_the_api_are_not_forwarded(proxy, output):
    response = requests.get(proxy.base_url.replace("/api/paas/v4", "/other"), timeout=10)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "404")
    assert not output.exists()


def test_a_second_session_appends_to_the_same_cassette(upstream, output):
    for text in ("First question.", "Second question."):
        with start_recorder(upstream.base_url, output) as proxy:
            post(proxy.base_url, ask(text))
    names = [item.name for item in load_file(output)[1]]
    assert names == ["rec-001-first-question", "rec-002-second-question"]


def test_appending_to_a_transcribed_cassette_keeps_it_and_says_so(upstream, output):
    output.write_text(json.dumps(SLOW_CASSETTE), encoding="utf-8")
    with start_recorder(upstream.base_url, output) as proxy:
        post(proxy.base_url, ask("Anything new?"))
    data = read_cassette(output)
    assert data["interactions"][0] == SLOW_CASSETTE["interactions"][0]
    assert len(data["interactions"]) == 2
    assert data["metadata"]["how"].startswith("test fixture Later interactions recorded: ")


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"version": 2}',
                                     b'{"version": 1, "metadata": {}, "interactions": [{}]}'])
def test_an_existing_file_that_is_not_a_cassette_is_refused_and_left_alone(output, content,
                                                                            capsys):
    output.write_bytes(content)
    with pytest.raises(CassetteError):
        start_recorder("http://127.0.0.1:9/api/paas/v4", output)
    args = SimpleNamespace(upstream="http://127.0.0.1:9/api/paas/v4", output=str(output),
                           host="127.0.0.1", port=0, timeout=5)
    assert run_recorder(args) == 2
    assert "refusing to record into this file" in capsys.readouterr().err
    assert output.read_bytes() == content
    assert [p.name for p in output.parent.iterdir()] == ["rec.json"]


def test_a_port_in_use_is_reported_with_exit_code_2(output, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        args = SimpleNamespace(upstream="http://127.0.0.1:9/api/paas/v4", output=str(output),
                               host="127.0.0.1", port=taken.getsockname()[1], timeout=5)
        assert run_recorder(args) == 2
    assert "cannot listen on" in capsys.readouterr().err
    assert not output.exists()


WIRE = 'data: {"a":"你好"}\r\n\r\n: comment\n\ndata: one\rdata: two\r\r'.encode("utf-8")


@pytest.mark.parametrize("split", range(len(WIRE) + 1))
def test_sse_lines_are_the_same_at_every_split_point(split):
    recorder = SSERecorder(started=0.0)
    recorder.feed(WIRE[:split], now=0.1)
    recorder.feed(WIRE[split:], now=0.2)
    recorder.close(now=0.3)
    assert recorder.lines == ['data: {"a":"你好"}', "", ": comment", "", "data: one", "data: two",
                              ""]
    assert len(recorder.delays_ms) == 3


def test_an_unterminated_last_event_still_gets_a_delay():
    recorder = SSERecorder(started=0.0)
    recorder.feed(b"data: 1\n\ndata: 2", now=0.25)
    recorder.close(now=0.5)
    assert (recorder.lines, recorder.delays_ms) == (["data: 1", "", "data: 2"], [250, 250])


def test_the_command_line_records_one_exchange_and_stops_cleanly_on_ctrl_c(upstream, output):
    command = [sys.executable, "-m", "glm_offline", "record", "--output", str(output),
               "--upstream", upstream.base_url, "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               encoding="utf-8")
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    printed = []
    while not printed or not printed[-1].startswith("Press Ctrl-C"):
        printed.append(lines.get(timeout=10).strip())
    base_url = next(line for line in printed if "ZHIPUAI_BASE_URL=" in line).split("=", 1)[1]
    assert any("use your own ZHIPUAI_API_KEY" in line for line in printed)
    assert post(base_url, ask("From the command line.")).status_code == 200
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    stderr = process.stderr.read()
    assert "Traceback" not in stderr, stderr
    assert [item.name for item in load_file(output)[1]] == ["rec-001-from-the-command-line"]


# -- one writer, nothing leaked, arguments checked ---------------------------------------------

def test_a_second_recorder_on_the_same_file_is_refused_until_the_first_stops(upstream, output):
    first = start_recorder(upstream.base_url, output)
    try:
        with pytest.raises(CassetteError, match=r"another recorder \(process \d+\) is writing"):
            start_recorder(upstream.base_url, output)
        assert post(first.base_url, ask("Only one writer.")).status_code == 200
    finally:
        first.stop()
    with start_recorder(upstream.base_url, output) as second:
        assert post(second.base_url, ask("The next writer.")).status_code == 200
    assert len(read_cassette(output)["interactions"]) == 2
    assert [p.name for p in output.parent.iterdir()] == ["rec.json"]  # no lock file left


def test_the_command_line_refuses_a_file_another_recorder_is_writing(upstream, output):
    with start_recorder(upstream.base_url, output):  # another process: the lock is the system's
        result = subprocess.run([sys.executable, "-m", "glm_offline", "record", "--output",
                                 str(output), "--upstream", upstream.base_url, "--port", "0"],
                                capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert f"another recorder (process {os.getpid()}) is writing" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_concurrent_clients_lose_no_exchange(upstream, proxy, output):
    texts = [f"Parallel question {number}." for number in range(24)]
    threads = [threading.Thread(target=post, args=(proxy.base_url, ask(text))) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    recorded = {item["request"]["body"]["messages"][0]["content"]
                for item in read_cassette(output)["interactions"]}
    assert recorded == set(texts)


def test_keys_in_bodies_and_streams_are_redacted_before_anything_is_stored(upstream, proxy,
                                                                          output, capsys):
    key_shaped = "0123456789abcdef" * 2 + "." + "AbCdEfGh" * 2  # built here: no key in the source
    for stream in (False, True):
        body = ask(f"My key is {KEY}, secret {KEY_SECRET}, another {key_shaped}.", stream=stream)
        body["user_id"] = KEY
        direct = post(upstream.base_url, body)
        assert post(proxy.base_url, body).content == direct.content  # the client sees it all
    text = stored_text(output)
    for secret in (KEY, KEY_SECRET, key_shaped):
        assert secret not in text
    assert text.count("<redacted>") >= 8  # 4 in each request body
    # 4 in each request body, and the key the generated reply repeats: whole in the JSON reply,
    # spread over several deltas in the stream (joined, they would rebuild it).
    assert capsys.readouterr().out.count(
        "redacted 5 key(s) or token(s) in POST /api/paas/v4/chat/completions") == 2
    streamed = read_cassette(output)["interactions"][1]["response"]["sse"]
    joined = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "")
                     for line in streamed if line.startswith("data: {"))
    assert 'You said: "My key is <redacted>, secret' in joined


class CookieUpstream(BaseHTTPRequestHandler):
    """Sets a cookie on every answer and remembers the Cookie header of each request."""

    protocol_version = "HTTP/1.1"
    cookies_seen = []

    def do_POST(self):  # noqa: N802 (stdlib name)
        self.rfile.read(int(self.headers["Content-Length"]))
        CookieUpstream.cookies_seen.append(self.headers.get("Cookie"))
        data = json.dumps({"choices": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", f"session=attendee-{len(self.cookies_seen)}; Path=/")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass


def test_an_upstream_cookie_is_never_sent_for_a_later_client(output):
    CookieUpstream.cookies_seen = []
    with serving_upstream(CookieUpstream) as upstream_url, \
            start_recorder(upstream_url, output) as proxy:
        answers = [post(proxy.base_url, ask(f"Attendee {n}.")) for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "Set-Cookie" not in answers[0].headers
    assert CookieUpstream.cookies_seen == [None, None, None]


@pytest.mark.parametrize("timeout", ["0", "-1", "inf", "nan", "1e9"])
def test_a_bad_timeout_is_refused_before_anything_starts(output, timeout):
    result = subprocess.run([sys.executable, "-m", "glm_offline", "record", "--output",
                             str(output), "--upstream", "http://127.0.0.1:9/api/paas/v4",
                             "--port", "0", "--timeout", timeout],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert result.stderr.startswith("error: --timeout must be a number of seconds above 0")
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert not output.exists()


# -- bounded: one recorded body, one SSE line --------------------------------------------------

class ChunkedUpstream(BaseHTTPRequestHandler):
    """Answers every POST with `pieces` (chunked, or with a Content-Length when `sized`);
    counts how many pieces it could write before the proxy hung up."""

    protocol_version = "HTTP/1.1"
    content_type = "application/json"
    pieces = []
    sized = False
    written = []

    def do_POST(self):  # noqa: N802 (stdlib name)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        if self.sized:
            self.send_header("Content-Length", str(sum(len(p) for p in self.pieces)))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        count = 0
        try:
            for piece in self.pieces:
                self.wfile.write(piece if self.sized else b"%x\r\n%s\r\n" % (len(piece), piece))
                count += 1
            if not self.sized:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        ChunkedUpstream.written.append(count)

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass


@pytest.fixture
def chunked_upstream():
    ChunkedUpstream.written = []
    with serving_upstream(ChunkedUpstream) as url:
        yield url


def big_json_pieces(megabytes):
    return [b'{"choices": [{"message": {"content": "'] + [b"y" * 65536] * (16 * megabytes) + \
        [b'"}}]}']


@pytest.mark.parametrize("sized", [False, True])
def test_a_json_reply_over_the_cap_gets_a_clear_502_and_is_not_recorded(chunked_upstream, output,
                                                                        monkeypatch, capsys,
                                                                        sized):
    monkeypatch.setattr(glm_offline.sse_capture, "MAX_RECORDED_BYTES", 256 * 1024)
    ChunkedUpstream.content_type, ChunkedUpstream.sized = "application/json", sized
    ChunkedUpstream.pieces = big_json_pieces(64)  # 64 MB: more than the socket buffers hold
    with start_recorder(chunked_upstream, output) as proxy:
        response = post(proxy.base_url, ask("Answer at length."))
        assert response.status_code == 502
        assert response.json()["error"]["message"] == (
            "recording proxy: the upstream's reply is over 0.25 MB, the most one recording "
            "holds; it was neither passed on nor recorded")
        ChunkedUpstream.content_type, ChunkedUpstream.pieces = "application/json", [b"{}"]
        assert post(proxy.base_url, ask("Answer briefly.")).json() == {}  # still recording
    assert ChunkedUpstream.written[0] < len(big_json_pieces(64)) - 1  # not read to the end
    assert [i["request"]["body"] for i in read_cassette(output)["interactions"]] == \
        [ask("Answer briefly.")]
    assert "not recorded: POST /api/paas/v4/chat/completions: the upstream's reply is over " \
        "0.25 MB" in capsys.readouterr().out


def test_a_stream_over_the_cap_reaches_the_client_but_is_not_recorded(chunked_upstream, output,
                                                                      monkeypatch, capsys):
    monkeypatch.setattr(glm_offline.sse_capture, "MAX_RECORDED_BYTES", 256 * 1024)
    event = b'data: {"choices":[{"index":0,"delta":{"content":"' + b"z" * 1000 + b'"}}]}\n\n'
    ChunkedUpstream.content_type = "text/event-stream"
    ChunkedUpstream.sized, ChunkedUpstream.pieces = False, [event] * 300 + [b"data: [DONE]\n\n"]
    with start_recorder(chunked_upstream, output) as proxy:
        response = post(proxy.base_url, ask("Stream at length.", stream=True))
    assert response.status_code == 200
    assert response.content == b"".join(ChunkedUpstream.pieces)
    assert not output.exists()
    assert "not recorded: POST /api/paas/v4/chat/completions: the stream is over 0.25 MB, the " \
        "most one recording holds" in capsys.readouterr().out


def test_an_sse_line_over_the_cap_reaches_the_client_but_is_not_recorded(chunked_upstream,
                                                                         output, monkeypatch,
                                                                         capsys):
    monkeypatch.setattr(glm_offline.sse_capture, "MAX_SSE_LINE_BYTES", 64 * 1024)
    ChunkedUpstream.content_type, ChunkedUpstream.sized = "text/event-stream", False
    ChunkedUpstream.pieces = [b"data: "] + [b"x" * 1000] * 100  # 100 kB, never a newline
    with start_recorder(chunked_upstream, output) as proxy:
        response = post(proxy.base_url, ask("One endless line.", stream=True))
    assert response.content == b"".join(ChunkedUpstream.pieces)
    assert not output.exists()
    assert "not recorded: POST /api/paas/v4/chat/completions: the stream has a line over " \
        "0.0625 MB" in capsys.readouterr().out


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_the_sse_recorder_holds_at_most_one_line_however_the_line_arrives(monkeypatch, piece):
    monkeypatch.setattr(glm_offline.sse_capture, "MAX_SSE_LINE_BYTES", 32 * 1024)
    recorder = SSERecorder(started=0.0)
    line = b"data: " + b"x" * 40_000
    held = []
    for start in range(0, len(line), piece):
        recorder.feed(line[start:start + piece], now=0.1)
        held.append(recorder.held_bytes)
    recorder.close(now=0.2)
    assert max(held) <= 32 * 1024 + piece
    assert recorder.lines == [] and recorder.refused == "the stream has a line over 0.03125 MB"

"""Record mode: a key that a streamed reply spreads over several deltas is redacted too.

Redaction per raw SSE line misses a key whose pieces arrive in different events; a reader
who joins the deltas (as every client does) would rebuild it. The upstream here is a tiny
http.server that streams what each test gives it; only 127.0.0.1 is contacted.
"""

import json
from http.server import BaseHTTPRequestHandler

import pytest
import requests

import glm_offline
from glm_offline.record import start_recorder
from helpers import serving_upstream

KEY = glm_offline.OFFLINE_API_KEY
KEY_SECRET = glm_offline.split_key(KEY)[1]
KEY_SHAPED = "0123456789abcdef" * 2 + "." + "AbCdEfGh" * 2  # built here: no key in the source
MODEL = "glm-4-flash-250414"


class StreamingUpstream(BaseHTTPRequestHandler):
    """Streams `wire` (bytes) as the answer to every POST."""

    protocol_version = "HTTP/1.1"
    wire = b""

    def do_POST(self):  # noqa: N802 (stdlib name)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Content-Length", str(len(self.wire)))
        self.end_headers()
        self.wfile.write(self.wire)

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass


@pytest.fixture
def upstream():
    with serving_upstream(StreamingUpstream) as url:
        yield url


def chunk(delta, index=0):
    return {"id": "1", "model": MODEL, "choices": [{"index": index, "delta": delta}]}


def sse(chunks):
    lines = [f"data: {json.dumps(c, ensure_ascii=False, separators=(',', ':'))}\n\n"
             for c in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode("utf-8")


def split3(text):
    third = len(text) // 3
    return [text[:third], text[third:2 * third], text[2 * third:]]


def assembled(lines):
    """What a client rebuilds from the recorded stream: choice -> field -> joined text."""
    texts = {}
    for line in lines:
        if not line.startswith("data: {"):
            continue
        for choice in json.loads(line[6:])["choices"]:
            delta = choice.get("delta", {})
            for field in ("content", "reasoning_content"):
                if field in delta:
                    key = (choice["index"], field)
                    texts[key] = texts.get(key, "") + delta[field]
            for call in delta.get("tool_calls", []):
                key = (choice["index"], "tool", call["index"])
                texts[key] = texts.get(key, "") + call["function"].get("arguments", "")
    return texts


def record_stream(upstream, output, wire, capsys):
    StreamingUpstream.wire = wire
    with start_recorder(upstream, output) as proxy:
        response = requests.post(proxy.base_url + "/chat/completions",
                                 json={"model": MODEL, "stream": True,
                                       "messages": [{"role": "user", "content": "Tell me."}]},
                                 headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert response.content == wire  # the client always gets the reply unchanged
    return json.loads(output.read_text(encoding="utf-8")), capsys.readouterr().out


def content_pieces(secret):
    return [chunk({"role": "assistant", "content": "Your key is "})] + \
        [chunk({"content": piece}) for piece in split3(secret)] + \
        [chunk({"content": " - keep it safe."})]


CASES = {
    "the key in content": content_pieces(KEY),
    "the secret in reasoning_content": [chunk({"reasoning_content": piece})
                                        for piece in ["The secret: ", *split3(KEY_SECRET), "."]],
    "a key-shaped string in tool-call arguments": [
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "save", "arguments": '{"key": "'}}]})] + [
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        for piece in [*split3(KEY_SHAPED), '"}']],
}


@pytest.mark.parametrize("case", CASES)
def test_a_secret_spread_over_deltas_is_not_in_the_cassette(upstream, tmp_path, capsys, case):
    output = tmp_path / "rec.json"
    data, printed = record_stream(upstream, output, sse(CASES[case]), capsys)
    [interaction] = data["interactions"]
    texts = assembled(interaction["response"]["sse"])
    joined = "\n".join(texts.values())
    for secret in (KEY, KEY_SECRET, KEY_SHAPED):
        assert secret not in joined
        assert secret not in output.read_text(encoding="utf-8")
    assert "<redacted>" in joined
    assert "redacted 1 key(s) or token(s)" in printed


def test_the_text_around_a_redacted_secret_is_kept_and_replays(upstream, tmp_path, capsys):
    output = tmp_path / "rec.json"
    data, _ = record_stream(upstream, output, sse(content_pieces(KEY)), capsys)
    lines = data["interactions"][0]["response"]["sse"]
    assert assembled(lines) == {(0, "content"): "Your key is <redacted> - keep it safe."}
    assert glm_offline.cassettes.load_file(output)[1][0].name == data["interactions"][0]["name"]


def test_a_key_written_with_json_escapes_in_one_delta_is_redacted(upstream, tmp_path, capsys):
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY_SHAPED)  # raw bytes never show the key
    wire = ('data: {"choices":[{"index":0,"delta":{"content":"k=' + escaped + '"}}]}\n\n'
            "data: [DONE]\n\n").encode("ascii")
    output = tmp_path / "rec.json"
    data, _ = record_stream(upstream, output, wire, capsys)
    texts = assembled(data["interactions"][0]["response"]["sse"])
    assert texts == {(0, "content"): "k=<redacted>"}


def test_two_choices_are_assembled_apart(upstream, tmp_path, capsys):
    first, second = KEY_SHAPED[:20], KEY_SHAPED[20:]
    wire = sse([chunk({"content": first}, 0), chunk({"content": "x"}, 1),
                chunk({"content": second}, 1), chunk({"content": second}, 0)])
    output = tmp_path / "rec.json"
    data, _ = record_stream(upstream, output, wire, capsys)
    assert assembled(data["interactions"][0]["response"]["sse"]) == {
        (0, "content"): "<redacted>", (1, "content"): "x" + second}

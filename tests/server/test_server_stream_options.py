"""How streams are written: hostile chunking, CRLF, no charset, pacing, and their settings."""

import json
import time

import pytest
import requests

import glm_offline
from helpers import auth, raw_post

CHAT = "/api/paas/v4/chat/completions"


def stream_request(recordings, name="hello-zh-stream"):
    return json.dumps(recordings[name]["request"]["body"]).encode()


def recorded_body(recordings, name="hello-zh-stream", newline="\n"):
    """The whole SSE body as the cassette stores it: its lines, each ended by `newline`."""
    return "".join(line + newline for line in recordings[name]["response"]["sse"]).encode()


def test_hostile_chunking_splits_inside_characters(server, recordings):
    with server.configured(chunking="hostile"):
        response = raw_post(server.port, CHAT, stream_request(recordings))
    expected = recorded_body(recordings)
    assert response.body == expected
    assert response.ended
    assert len(response.chunks) > 3 * expected.count(b"\n\n")
    assert all(1 <= len(chunk) <= 5 for chunk in response.chunks)
    offsets, position = [], 0
    for chunk in response.chunks[:-1]:
        position += len(chunk)
        offsets.append(position)
    # A UTF-8 continuation byte (10xxxxxx) right after a boundary: a character was cut in two.
    assert any(0x80 <= expected[offset] <= 0xBF for offset in offsets)


def test_hostile_chunking_is_repeatable(server, recordings):
    with server.configured(chunking="hostile"):
        first = raw_post(server.port, CHAT, stream_request(recordings))
        second = raw_post(server.port, CHAT, stream_request(recordings))
    assert first.chunks == second.chunks


def test_crlf_line_endings(server, recordings):
    with server.configured(line_ending="crlf"):
        response = raw_post(server.port, CHAT, stream_request(recordings, "hello-en-stream"))
    assert response.body == recorded_body(recordings, "hello-en-stream", newline="\r\n")
    assert response.chunks[-1] == b"data: [DONE]\r\n\r\n"
    assert response.body.count(b"\n") == response.body.count(b"\r\n")


def test_without_charset_requests_guesses_iso_8859_1(server, recordings):
    body = recordings["hello-zh-stream"]["request"]["body"]
    with server.configured(charset=False):
        r = requests.post(server.base_url + "/chat/completions", json=body, headers=auth(),
                          timeout=10)
    assert r.headers["Content-Type"] == "text/event-stream"
    assert r.encoding == "ISO-8859-1"
    assert "你好" not in r.text
    assert "你好" in r.content.decode("utf-8")


def test_with_charset_requests_decodes_utf8(server, recordings):
    body = recordings["hello-zh-stream"]["request"]["body"]
    r = requests.post(server.base_url + "/chat/completions", json=body, headers=auth(), timeout=10)
    assert r.headers["Content-Type"] == "text/event-stream;charset=UTF-8"
    assert r.encoding == "UTF-8"
    assert "你好" in r.text


def timed_stream(server, body):
    started = time.monotonic()
    r = requests.post(server.base_url + "/chat/completions", json=body, headers=auth(), timeout=10)
    assert r.status_code == 200
    assert r.content.endswith(b"data: [DONE]\n\n")
    return time.monotonic() - started


def test_realistic_pacing_replays_the_recorded_gaps(server, recordings):
    recording = recordings["hello-en-stream"]
    recorded_ms = sum(recording["response"]["event_delays_ms"])  # 845 ms in the cassette
    instant = timed_stream(server, recording["request"]["body"])
    with server.configured(pacing="realistic"):
        realistic = timed_stream(server, recording["request"]["body"])
    assert instant < 0.3
    assert recorded_ms / 1000 - 0.1 <= realistic < 3.5  # slack for a loaded machine


def test_realistic_pacing_is_capped_near_two_seconds():
    # A Chinese prompt: one generated event per character, 40 ms each, well over 2.5 s unpaced.
    body = {"model": "glm-4-flash-250414", "stream": True,
            "messages": [{"role": "user", "content": "请一步一步地详细描述一次很长的散步。" * 6}]}
    with glm_offline.start(pacing="realistic", strict=False) as server:
        elapsed = timed_stream(server, body)
    assert 1.5 < elapsed < 3.5  # unpaced it is over 4 s; slack for a loaded machine


@pytest.mark.parametrize("options", [{"colour": "red"}, {"chunking": "tiny"},
                                     {"line_ending": "cr"}, {"charset": "utf-8"},
                                     {"pacing": "fast"}])
def test_unknown_options_are_rejected(module_server, options):
    with pytest.raises(ValueError):
        module_server.configure(**options)
    with pytest.raises(ValueError):
        with module_server.configured(**options):
            pass
    with pytest.raises(ValueError):
        glm_offline.start(**options)
    assert module_server.stream_options == {"chunking": "event", "line_ending": "lf",
                                            "charset": True, "pacing": "instant"}


def test_configure_returns_previous_and_configured_restores(server):
    assert server.configure(chunking="hostile") == {"chunking": "event"}
    with server.configured(chunking="event", line_ending="crlf"):
        assert server.stream_options["line_ending"] == "crlf"
        assert server.stream_options["chunking"] == "event"
    assert server.stream_options["chunking"] == "hostile"
    assert server.stream_options["line_ending"] == "lf"


def test_environment_sets_the_defaults(monkeypatch, recordings):
    monkeypatch.setenv("GLM_OFFLINE_CHUNKING", "hostile")
    monkeypatch.setenv("GLM_OFFLINE_CHARSET", "0")
    with glm_offline.start(pacing="instant", strict=True) as server:
        response = raw_post(server.port, CHAT, stream_request(recordings))
    assert response.headers["content-type"] == "text/event-stream"
    assert len(response.chunks) > 3 * len(recorded_body(recordings).split(b"\n\n"))
    assert response.body == recorded_body(recordings)


def test_start_options_override_the_environment(monkeypatch):
    monkeypatch.setenv("GLM_OFFLINE_CHUNKING", "hostile")
    with glm_offline.start(pacing="instant", chunking="event") as server:
        assert server.stream_options["chunking"] == "event"


def test_bad_environment_value_is_an_error(monkeypatch):
    monkeypatch.setenv("GLM_OFFLINE_CHUNKING", "sometimes")
    with pytest.raises(ValueError, match="chunking"):
        glm_offline.start(pacing="instant")

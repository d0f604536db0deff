"""The exact bytes on the wire, compared with the cassette file (docs/sources.md#responses and
#streaming)."""

import json

import pytest
import requests

from helpers import auth, raw_post, settled_history

CHAT = "/api/paas/v4/chat/completions"


def request_bytes(recording):
    return json.dumps(recording["request"]["body"]).encode()


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def recorded_events(recording):
    """The cassette's SSE lines grouped into events, each written as lines + a blank line."""
    events, current = [], []
    for line in recording["response"]["sse"]:
        if line:
            current.append(line)
        elif current:
            events.append(("\n".join(current) + "\n\n").encode())
            current = []
    assert not current, "the cassette ends every event with a blank line"
    return events


@pytest.mark.parametrize("name", ["hello-en", "hello-zh", "weather-tool-call",
                                  "weather-tool-answer", "content-refused"])
def test_json_reply_bytes(module_server, recordings, name):
    recording = recordings[name]
    response = raw_post(module_server.port, CHAT, request_bytes(recording))
    expected = compact(recording["response"]["json"])
    assert response.status_line.startswith(b"HTTP/1.1 %d " % recording["response"]["status"])
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.headers["content-length"] == str(len(expected))
    assert "transfer-encoding" not in response.headers
    assert response.body == expected


def test_chinese_is_sent_as_utf8_not_escaped(module_server, recordings):
    response = raw_post(module_server.port, CHAT, request_bytes(recordings["hello-zh"]))
    assert "你好！很高兴认识你。".encode() in response.body
    assert b"\\u" not in response.body


@pytest.mark.parametrize("name", ["hello-en-stream", "hello-zh-stream", "weather-tool-call-stream"])
def test_stream_is_one_http_chunk_per_event(module_server, recordings, name):
    recording = recordings[name]
    response = raw_post(module_server.port, CHAT, request_bytes(recording))
    assert response.status_line == b"HTTP/1.1 200 OK"
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["content-type"] == "text/event-stream;charset=UTF-8"
    assert "content-length" not in response.headers
    assert response.chunks == recorded_events(recording)
    assert response.chunks[-1] == b"data: [DONE]\n\n"
    assert response.ended, "the body ends with the 0\\r\\n\\r\\n chunk"


@pytest.mark.parametrize("name, finish_reason", [("hello-en-stream", "stop"),
                                                 ("weather-tool-call-stream", "tool_calls")])
def test_only_the_last_json_chunk_has_finish_reason_and_usage(module_server, recordings, name,
                                                              finish_reason):
    response = raw_post(module_server.port, CHAT, request_bytes(recordings[name]))
    payloads = [json.loads(chunk[len(b"data: "):]) for chunk in response.chunks[:-1]]
    *intermediate, last = payloads
    assert intermediate
    for chunk in intermediate:
        assert "finish_reason" not in chunk["choices"][0]
        assert "usage" not in chunk
    assert list(last["choices"][0]) == ["index", "finish_reason", "delta"]
    assert last["choices"][0]["finish_reason"] == finish_reason
    assert last["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    usage = last["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert len({(chunk["id"], chunk["created"]) for chunk in payloads}) == 1


def test_keep_alive_reuses_one_connection(server, recordings):
    names = ["hello-en", "hello-en-stream", "hello-zh", "hello-zh-stream", "weather-tool-call"]
    with requests.Session() as session:
        for name in names:
            body = recordings[name]["request"]["body"]
            r = session.post(server.base_url + "/chat/completions", json=body, headers=auth(),
                             stream=bool(body.get("stream")), timeout=10)
            assert r.status_code == 200
            if body.get("stream"):
                assert b"".join(r.iter_content(None)).endswith(b"data: [DONE]\n\n")
            else:
                assert r.json() == recordings[name]["response"]["json"]
    history = settled_history(server, len(names))
    assert [exchange.source for exchange in history] == [f"recorded:{name}" for name in names]
    assert len({exchange.connection for exchange in history}) == 1

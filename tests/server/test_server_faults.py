"""Fault injection: every kind in glm_offline.faults.KINDS, the queue, and the admin endpoint; the
2026 live texts of the injected codes, and any documented business code."""

import json
import time

import pytest
import requests

import glm_offline
from glm_offline.control import CONTROL_HEADER
from glm_offline.faults import KINDS, make_fault
from helpers import (
    answer,
    auth,
    chat_body,
    glm_error,
    post_json,
    raw_post,
    settled_history,
)

CHAT = "/api/paas/v4/chat/completions"
STATUS_FAULTS = {
    "rate_limit": (429, {"error": {"code": "1302",
                                   "message": "您的账户已达到速率限制，请您控制请求频率"}}),
    "overloaded": (429, {"error": {"code": "1305",
                                   "message": "该模型当前访问量过大，请您稍后再试"}}),
    "no_balance": (429, {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}}),
    "server_error": (500, {"error": {"code": "1200", "message": "API 调用失败"}}),
    "unavailable": (503, {"error": {"code": "503", "message": "服务暂时不可用，请稍后重试。"}}),
}
FINISH_FAULTS = ["sensitive", "network_error", "model_context_window_exceeded"]
STREAM_SHAPE_FAULTS = {"error_frame", "drop_mid_stream", "no_done", *FINISH_FAULTS}
OTHER_FAULTS = {"error", "slow_first_byte", "stall_mid_stream"}
TASK_FAULTS = {"task_fail"}


@pytest.fixture
def shared(module_server):
    """The module's server with an empty fault queue (tests that read history use `server`)."""
    module_server.faults.clear()
    yield module_server
    module_server.faults.clear()


def test_every_fault_kind_is_tested_here():
    assert set(KINDS) == set(STATUS_FAULTS) | STREAM_SHAPE_FAULTS | OTHER_FAULTS | TASK_FAULTS


def body_of(recordings, name):
    return recordings[name]["request"]["body"]


def post(server, body, **kwargs):
    return requests.post(server.base_url + "/chat/completions", json=body, headers=auth(),
                         timeout=10, **kwargs)


def raw_stream(server, recordings, name="hello-en-stream"):
    return raw_post(server.port, CHAT, json.dumps(body_of(recordings, name)).encode())


def recorded_events(recordings, name="hello-en-stream"):
    text = "".join(line + "\n" for line in recordings[name]["response"]["sse"])
    return [event.encode() + b"\n\n" for event in text.split("\n\n") if event]


@pytest.mark.parametrize("kind", STATUS_FAULTS)
def test_status_fault_is_used_up_after_times(server, recordings, kind):
    status, expected = STATUS_FAULTS[kind]
    server.inject(kind, times=2)
    for _ in range(2):
        r = post(server, body_of(recordings, "hello-en"))
        assert (r.status_code, r.json()) == (status, expected)
        assert "Retry-After" not in r.headers
    r = post(server, body_of(recordings, "hello-en"))
    assert r.status_code == 200
    assert r.json() == recordings["hello-en"]["response"]["json"]
    assert server.faults.pending() == []
    assert [exchange.fault for exchange in settled_history(server, 3)] == [kind, kind, ""]


@pytest.mark.parametrize("kind", STATUS_FAULTS)
def test_status_fault_on_a_stream_is_a_json_error(shared, recordings, kind):
    status, expected = STATUS_FAULTS[kind]
    shared.inject(kind)
    r = post(shared, body_of(recordings, "hello-en-stream"))
    assert r.status_code == status
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert r.json() == expected


def test_error_fault_with_any_documented_code(shared, recordings):
    shared.inject("error", code=1261)
    r = post(shared, body_of(recordings, "hello-en"))
    assert (r.status_code, r.json()) == (400, {"error": {"code": "1261",
                                                         "message": "Prompt exceeds max length"}})


def test_retry_after_header(shared, recordings):
    shared.inject("overloaded", retry_after=3)
    r = post(shared, body_of(recordings, "hello-en"))
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "3"


def test_faults_are_used_in_order(shared, recordings):
    shared.inject("rate_limit")
    shared.inject("server_error")
    codes = [post(shared, body_of(recordings, "hello-en")).status_code for _ in range(3)]
    assert codes == [429, 500, 200]


def test_error_frame_comes_first_by_default_as_captured(shared, recordings):
    # As seen live in 2026: `event: error` + data {"error": ..., "request_id": ...} as the first
    # event of an HTTP 200 stream, then data: [DONE].
    shared.inject("error_frame")
    response = raw_stream(shared, recordings)
    assert response.status == 200
    assert response.chunks == [
        'event: error\ndata: {"error":{"code":"1302",'
        '"message":"您的账户已达到速率限制，请您控制请求频率"},'
        '"request_id":"2026112508000060b8099730df5f8a"}\n\n'.encode(),
        b"data: [DONE]\n\n"]
    assert response.ended


def test_error_frame_mid_stream_after_some_events(shared, recordings):
    shared.inject("error_frame", after_events=4)
    response = raw_stream(shared, recordings)
    assert response.status == 200
    assert response.chunks[:4] == recorded_events(recordings)[:4]
    assert response.chunks[4:] == [
        'event: error\ndata: {"error":{"code":"1302",'
        '"message":"您的账户已达到速率限制，请您控制请求频率"},'
        '"request_id":"2026112508000060b8099730df5f8a"}\n\n'.encode(),
        b"data: [DONE]\n\n"]
    assert response.ended


def test_error_frame_with_code_and_position(shared, recordings):
    shared.inject("error_frame", code="1305", after_events=1)
    response = raw_stream(shared, recordings, "hello-zh-stream")
    assert response.chunks[:1] == recorded_events(recordings, "hello-zh-stream")[:1]
    assert response.chunks[1].startswith(b'event: error\ndata: {"error":{"code":"1305",')
    assert response.chunks[2:] == [b"data: [DONE]\n\n"]


def test_drop_mid_stream_breaks_the_read(server, recordings):
    server.inject("drop_mid_stream", after_events=3)
    r = post(server, body_of(recordings, "hello-en-stream"), stream=True)
    assert r.status_code == 200
    with pytest.raises((requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ConnectionError)):
        for _ in r.iter_content(None):
            pass
    (exchange,) = settled_history(server, 1)
    assert (exchange.fault, exchange.outcome, exchange.events_sent) == (
        "drop_mid_stream", "dropped", 3)


def test_drop_mid_stream_on_the_wire(shared, recordings):
    shared.inject("drop_mid_stream", after_events=2)
    response = raw_stream(shared, recordings)
    assert response.chunks == recorded_events(recordings)[:2]
    assert not response.ended


def test_no_done_ends_cleanly_but_early(shared, recordings):
    shared.inject("no_done")
    response = raw_stream(shared, recordings)
    assert response.ended
    assert response.chunks == recorded_events(recordings)[:4]
    assert b"[DONE]" not in response.body and b"finish_reason" not in response.body


@pytest.mark.parametrize("kind", FINISH_FAULTS)
def test_finish_reason_fault_on_a_stream(shared, recordings, kind):
    shared.inject(kind)
    response = raw_stream(shared, recordings)
    assert response.chunks[:4] == recorded_events(recordings)[:4]
    assert response.chunks[-1] == b"data: [DONE]\n\n"
    last = json.loads(response.chunks[-2][len(b"data: "):])
    assert last["choices"] == [{"index": 0, "finish_reason": kind,
                                "delta": {"role": "assistant", "content": ""}}]
    assert last["usage"] == {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
    assert last["id"] == "2026112508000060b8099730df5f8a"
    assert len(response.chunks) == 6


@pytest.mark.parametrize("kind", FINISH_FAULTS)
def test_finish_reason_fault_on_json(shared, recordings, kind):
    shared.inject(kind)
    body = post(shared, body_of(recordings, "hello-en")).json()
    assert body["choices"][0]["finish_reason"] == kind
    assert body["choices"][0]["message"]["content"] == "Hello! It's ni"
    assert post(shared, body_of(recordings, "hello-en")).json() == \
        recordings["hello-en"]["response"]["json"]


def test_slow_first_byte(shared, recordings):
    shared.inject("slow_first_byte", seconds=0.3)
    started = time.monotonic()
    r = post(shared, body_of(recordings, "hello-en"))
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5
    assert r.json() == recordings["hello-en"]["response"]["json"]


def test_stall_mid_stream_trips_a_read_timeout(shared, recordings):
    shared.inject("stall_mid_stream", after_events=2, seconds=1.0)
    events = []
    with pytest.raises(requests.exceptions.ConnectionError):  # urllib3's ReadTimeoutError
        with requests.post(shared.base_url + "/chat/completions", headers=auth(), stream=True,
                           json=body_of(recordings, "hello-en-stream"), timeout=(5, 0.3)) as r:
            for line in r.iter_lines():
                events.append(line) if line else None
    assert events == [c.rstrip(b"\n") for c in recorded_events(recordings)[:2]]


def test_stalled_stream_resumes_after_the_stall(shared, recordings):
    shared.inject("stall_mid_stream", after_events=3, seconds=0.3)
    started = time.monotonic()
    r = post(shared, body_of(recordings, "hello-en-stream"))
    assert time.monotonic() - started >= 0.3
    assert r.content == b"".join(recorded_events(recordings))


def test_stream_only_fault_waits_for_a_stream(shared, recordings):
    shared.inject("no_done")
    r = post(shared, body_of(recordings, "hello-en"))
    assert r.json() == recordings["hello-en"]["response"]["json"]
    assert shared.faults.pending() == [{"kind": "no_done", "times": 1}]
    r = post(shared, body_of(recordings, "hello-en-stream"))
    assert not r.content.endswith(b"data: [DONE]\n\n")
    assert shared.faults.pending() == []


def test_task_fail_ends_the_next_async_task_in_fail(shared, recordings):
    question = {"model": "glm-4.7-flash", "messages": [
        {"role": "user", "content": "What is 12 times 12? Reply with the number only."}]}
    shared.inject("task_fail")
    assert post(shared, body_of(recordings, "hello-en")).status_code == 200  # not a task
    results = []
    for _ in range(2):
        task = requests.post(shared.base_url + "/async/chat/completions", json=question,
                             headers=auth(), timeout=10).json()
        results.append(requests.get(f"{shared.base_url}/async-result/{task['id']}",
                                    headers=auth(), timeout=10).json())
    assert [result["task_status"] for result in results] == ["FAIL", "SUCCESS"]
    assert "choices" not in results[0]
    assert results[1]["choices"][0]["message"]["content"] == "144"


@pytest.mark.parametrize("kind, options", [
    ("teapot", {}),
    ("rate_limit", {"colour": "red"}),
    ("error", {}),
    ("error", {"code": "9999"}),
    ("error_frame", {"code": 42}),
    ("rate_limit", {"times": 0}),
    ("rate_limit", {"times": True}),
    ("rate_limit", {"times": 1.5}),
    ("slow_first_byte", {"seconds": -1}),
    ("drop_mid_stream", {"after_events": "3"}),
    ("rate_limit", {"retry_after": True}),
], ids=["unknown-kind", "unknown-option", "error-without-code", "unknown-code",
        "unknown-int-code", "times-zero", "times-bool", "times-float", "negative-seconds",
        "after-events-string", "retry-after-bool"])
def test_make_fault_rejects(shared, kind, options):
    with pytest.raises(ValueError):
        make_fault(kind, **options)
    with pytest.raises(ValueError):
        shared.inject(kind, **options)
    assert shared.faults.pending() == []


def admin(server, method, spec=None, headers=None):
    """The control endpoint as the `fault` command calls it: with the server's token."""
    headers = {CONTROL_HEADER: server.control.value, **(headers or {})}
    return requests.request(method, f"http://127.0.0.1:{server.port}/_offline/faults",
                            json=spec, headers=headers, timeout=10)


def test_admin_endpoint(shared, recordings):
    r = admin(shared, "POST", {"kind": "rate_limit", "times": 2, "retry_after": 1})
    assert (r.status_code, r.json()) == (
        200, {"pending": [{"kind": "rate_limit", "times": 2, "retry_after": 1}]})
    admin(shared, "POST", {"kind": "no_done"})
    assert admin(shared, "GET").json() == {"pending": [
        {"kind": "rate_limit", "times": 2, "retry_after": 1}, {"kind": "no_done", "times": 1}]}
    r = post(shared, body_of(recordings, "hello-en"))
    assert (r.status_code, r.headers["Retry-After"]) == (429, "1")
    assert admin(shared, "DELETE").json() == {"pending": []}
    assert post(shared, body_of(recordings, "hello-en")).status_code == 200


@pytest.mark.parametrize("spec, message", [
    ({"kind": "teapot"}, "bad fault: unknown fault 'teapot'; choose one of: "),
    ({"times": 2}, "bad fault: 'kind'"),
    ({"kind": "rate_limit", "colour": "red"}, "bad fault: unknown fault option(s) ['colour']"),
    (["rate_limit"], "bad fault: "),
], ids=["unknown-kind", "no-kind", "unknown-option", "not-an-object"])
def test_admin_endpoint_rejects_bad_faults(shared, spec, message):
    r = admin(shared, "POST", spec)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "400"
    assert r.json()["error"]["message"].startswith(message)
    assert shared.faults.pending() == []


def test_admin_endpoint_rejects_non_json(shared):
    r = requests.post(f"http://127.0.0.1:{shared.port}/_offline/faults", data=b"\xff{",
                      headers={CONTROL_HEADER: shared.control.value}, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("bad fault: ")


def test_faults_do_not_leak_between_servers(recordings):
    with glm_offline.start(pacing="instant") as first, \
            glm_offline.start(pacing="instant") as second:
        first.inject("rate_limit")
        assert post(second, body_of(recordings, "hello-en")).status_code == 200
        assert post(first, body_of(recordings, "hello-en")).status_code == 429


def test_sensitive_cut_of_a_recording_without_a_space_after_data_keeps_its_identity(recordings):
    """`data:{...}` (no space after the colon) is legal SSE and how some services send it: the
    final chunk a finish-reason fault adds still carries the recording's id, model, created
    time and prompt tokens."""
    from glm_offline.cassettes import Reply
    from glm_offline.faults import reshape
    from glm_offline.wire import sse_lines_to_events

    response = recordings["hello-en-stream"]["response"]
    events = sse_lines_to_events([line.replace("data: ", "data:", 1) for line in response["sse"]])
    assert events[0][0].startswith("data:{")
    reply = Reply(200, "recorded:tight", events=events, delays_ms=[0] * len(events))
    reply = reshape(reply, make_fault("sensitive", after_events=2))
    final = json.loads(reply.events[-2][0][len("data: "):])
    assert final["choices"][0]["finish_reason"] == "sensitive"
    assert (final["id"], final["model"], final["created"]) == (
        "2026112508000060b8099730df5f8a", "glm-4-flash-250414", 1795593600)
    assert final["usage"]["prompt_tokens"] == 11


@pytest.mark.parametrize("lines, expected", [
    (['data: {"id":"a"}'], {"id": "a"}),
    (['data:{"id":"a"}'], {"id": "a"}),
    (['event: error', 'data:  {"id":"a"}'], {"id": "a"}),  # only one space is the separator
    (['data: {"id":', 'data: "a"}'], {"id": "a"}),  # data lines join with a newline
    (["data: [DONE]"], "[DONE]"),
    (["data:[DONE]"], "[DONE]"),
    (["data: not json"], "not json"),
    (["data"], ""),  # a field without a colon has an empty value
    ([": a comment", "id: 3"], None),
])
def test_one_reader_reads_every_legal_spelling_of_an_event_payload(lines, expected):
    from glm_offline.wire import event_payload

    assert event_payload(lines) == expected


# -- 2026 texts of injected codes, and any documented code ---------------------------------

@pytest.mark.parametrize("kind, code, status, chinese, english", [
    ("no_balance", "1113", 429, "余额不足或无可用资源包,请充值。",
     "Insufficient balance or no resource package. Please recharge."),
    ("rate_limit", "1302", 429, "您的账户已达到速率限制，请您控制请求频率",
     "Rate limit reached for requests"),
    ("overloaded", "1305", 429, "该模型当前访问量过大，请您稍后再试",
     "The service may be temporarily overloaded, please try again later"),
])
def test_2026_texts_of_status_faults(shared, kind, code, status, chinese, english):
    shared.inject(kind, times=2)
    assert answer(post_json(shared, chat_body())) == glm_error(code, chinese, status)
    english_answer = answer(post_json(shared, chat_body(), {"Accept-Language": "en"}))
    assert english_answer == glm_error(code, english, status)


@pytest.mark.parametrize("code, status", [
    (1308, 429), (1309, 429), (1310, 429), (1313, 429), (1321, 429), (1261, 400), (1220, 403),
    (1000, 401), ("401", 401), (1234, 500),
])
def test_any_documented_code_can_be_injected(shared, code, status):
    shared.inject("error", code=code)
    r = post_json(shared, chat_body())
    assert r.status_code == status
    assert r.json()["error"]["code"] == str(code)
    assert r.json()["error"]["message"]


def test_1261_is_english_on_both_hosts(shared):
    shared.inject("error", code=1261)
    assert answer(post_json(shared, chat_body())) == glm_error("1261",
                                                               "Prompt exceeds max length")


def test_both_wrong_key_bodies_exist(shared):
    shared.inject("error", code="1000")
    assert answer(post_json(shared, chat_body())) == glm_error("1000", "身份验证失败。", 401)
    shared.inject("error", code="401")
    assert answer(post_json(shared, chat_body())) == glm_error("401", "令牌已过期或验证不正确",
                                                               401)


@pytest.mark.parametrize("code", ["1312", "9999", "abc"])
def test_undocumented_codes_are_refused(code):
    with pytest.raises(ValueError, match="unknown business code"):
        make_fault("error", code=code)

"""Request validation (400 + GLM body, docs/sources.md#request-body and #errors) and HTTP-level
errors (404, 405, 413); and the codes and messages the live API answered in 2026: range errors,
per-model limits, tool_choice, content parts, roles, the model list, English messages."""

import json
import socket
import time

import pytest
import requests

import glm_offline
from glm_offline.models import MODELS
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
USER = [{"role": "user", "content": "Say hello in one short sentence."}]
HELLO = {"model": "glm-4-flash-250414", "messages": USER}


def bad_json(code, field=None):
    messages = {"1210": "API 调用参数有误，请检查文档。", "1211": "模型不存在，请检查模型代码。",
                "1213": f"未正常接收到{field}参数。", "1214": f"{field} 参数非法。请检查文档。"}
    return {"error": {"code": code, "message": messages[code]}}


def out_of_range(field, low, high):
    """The 2026 live range error (docs/sources.md#request-body)."""
    return {"error": {"code": "1210", "message": f"{field}参数非法：限制数值范围[{low},{high}]"}}


def with_(**fields):
    return {**HELLO, **fields}


def tool(name="get_weather", kind="function"):
    return {"type": kind, "function": {"name": name, "parameters": {"type": "object"}}}


BAD_BODIES = {
    "malformed-json": (b'{"model": "glm-4", "messages": [', bad_json("1210")),
    "not-utf8": (b'{"model": "\xff"}', bad_json("1210")),
    "empty-body": (b"", bad_json("1210")),
    "array-body": (b"[]", bad_json("1210")),
    "string-body": (b'"hello"', bad_json("1210")),
    "null-body": (b"null", bad_json("1210")),
    "deeply-nested": (b'{"model":' + b"[" * 5000 + b"]" * 5000 + b"}", bad_json("1210")),
}

INVALID = {
    "missing-model": ({"messages": USER}, bad_json("1213", "model")),
    "null-model": ({"model": None, "messages": USER}, bad_json("1213", "model")),
    "model-not-string": (with_(model=4), bad_json("1214", "model")),
    "unknown-model": (with_(model="gpt-4o"), bad_json("1211")),
    "missing-messages": ({"model": "glm-4"}, bad_json("1213", "messages")),
    "empty-messages": (with_(messages=[]), bad_json("1214", "messages")),
    "messages-string": (with_(messages="hi"), bad_json("1214", "messages")),
    "message-not-object": (with_(messages=["hi"]), bad_json("1214", "messages[0]")),
    "bad-role": (with_(messages=[{"role": "robot", "content": "hi"}]),
                 {"error": {"code": "1214", "message": "角色信息不正确"}}),
    "content-number": (with_(messages=[{"role": "user", "content": 5}]),
                       bad_json("1214", "messages[0].content")),
    "only-system": (with_(messages=[{"role": "system", "content": "be brief"}]),
                    bad_json("1214", "messages")),
    "only-system-and-assistant": (with_(messages=[{"role": "system", "content": "be brief"},
                                                  {"role": "assistant", "content": "ok"}]),
                                  bad_json("1214", "messages")),
    "tool-without-tool-call-id": (with_(messages=USER + [{"role": "tool", "content": "23"}]),
                                  bad_json("1214", "messages[1].tool_call_id")),
    "tool-calls-not-list": (with_(messages=USER + [{"role": "assistant", "tool_calls": "x"}]),
                            bad_json("1214", "messages[1].tool_calls")),
    "temperature-high": (with_(temperature=1.01), out_of_range("temperature", 0, 1)),
    "temperature-two": (with_(temperature=2), out_of_range("temperature", 0, 1)),
    "temperature-negative": (with_(temperature=-0.1), out_of_range("temperature", 0, 1)),
    "temperature-string": (with_(temperature="0.5"), bad_json("1214", "temperature")),
    "temperature-bool": (with_(temperature=True), bad_json("1214", "temperature")),
    "top-p-negative": (with_(top_p=-0.01), out_of_range("top_p", 0, 1)),
    "top-p-high": (with_(top_p=1.5), out_of_range("top_p", 0, 1)),
    "top-p-bool": (with_(top_p=False), bad_json("1214", "top_p")),
    "max-tokens-zero": (with_(max_tokens=0), out_of_range("max_tokens", 1, 131072)),
    "max-tokens-too-big": (with_(max_tokens=131073), out_of_range("max_tokens", 1, 131072)),
    "max-tokens-float": (with_(max_tokens=10.0), bad_json("1214", "max_tokens")),
    "max-tokens-bool": (with_(max_tokens=True), bad_json("1214", "max_tokens")),
    "max-tokens-string": (with_(max_tokens="10"), bad_json("1214", "max_tokens")),
    "stream-string": (with_(stream="true"), bad_json("1214", "stream")),
    "stream-int": (with_(stream=1), bad_json("1214", "stream")),
    "do-sample-string": (with_(do_sample="no"), bad_json("1214", "do_sample")),
    "request-id-list": (with_(request_id=[7]), bad_json("1214", "request_id")),
    "request-id-bool": (with_(request_id=True), bad_json("1214", "request_id")),
    "request-id-object": (with_(request_id={"id": "a"}), bad_json("1214", "request_id")),
    # The limit, 128 characters, and its text are this server's (UNVERIFIED).
    "request-id-129-chars": (with_(request_id="r" * 129), {"error": {
        "code": "1214", "message": "request_id 参数过长：最多 128 个字符"}}),
    "request-id-long-number": (with_(request_id=10 ** 130), {"error": {
        "code": "1214", "message": "request_id 参数过长：最多 128 个字符"}}),
    "stop-two-words": (with_(stop=["a", "b"]), bad_json("1214", "stop")),
    "stop-number": (with_(stop=5), bad_json("1214", "stop")),
    "tools-not-list": (with_(tools={"type": "function"}), bad_json("1214", "tools")),
    "tool-bad-type": (with_(tools=[tool(kind="code")]), bad_json("1214", "tools[0].type")),
    "tool-name-space": (with_(tools=[tool("get weather")]),
                        bad_json("1214", "tools[0].function.name")),
    "tool-name-too-long": (with_(tools=[tool("f" * 65)]),
                           bad_json("1214", "tools[0].function.name")),
    "tool-name-chinese": (with_(tools=[tool("天气")]), bad_json("1214", "tools[0].function.name")),
    "tool-choice-unknown": (with_(tool_choice="any"), bad_json("1214", "tool_choice")),
    "tool-choice-object": (with_(tool_choice={"type": "function"}),
                           bad_json("1214", "tool_choice")),
}


@pytest.mark.parametrize("raw, expected", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_unreadable_body_is_1210(module_server, raw, expected):
    response = raw_post(module_server.port, CHAT, raw)
    assert response.status == 400
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert json.loads(response.body) == expected


@pytest.mark.parametrize("body, expected", INVALID.values(), ids=INVALID.keys())
def test_invalid_request(module_server, body, expected):
    r = requests.post(module_server.base_url + "/chat/completions", json=body, headers=auth(),
                      timeout=10)
    assert r.status_code == 400
    assert r.json() == expected


def test_non_finite_temperature_is_rejected(module_server):
    raw = b'{"model":"glm-4","messages":[{"role":"user","content":"hi"}],"temperature":NaN}'
    response = raw_post(module_server.port, CHAT, raw)
    assert (response.status, json.loads(response.body)) == (400, bad_json("1214", "temperature"))


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_request_id_is_rejected(module_server, value):
    raw = b'{"model":"glm-4","messages":[{"role":"user","content":"hi"}],"request_id":' + \
        value + b"}"
    response = raw_post(module_server.port, CHAT, raw)
    assert (response.status, json.loads(response.body)) == (400, bad_json("1214", "request_id"))


def test_a_megabyte_request_id_is_rejected_in_english_too(module_server):
    # Under the 1 MiB body limit, so validation, not the HTTP layer, answers it.
    r = requests.post(module_server.base_url + "/async/chat/completions",
                      json=with_(request_id="r" * 1_000_000),
                      headers={**auth(), "Accept-Language": "en"}, timeout=10)
    assert r.status_code == 400
    assert r.json() == {"error": {"code": "1214",
                                  "message": "request_id is too long: at most 128 characters"}}


def test_explicit_nulls_match_the_recording(module_server, recordings):
    body = {**HELLO, "response_format": None, "thinking": None, "temperature": None}
    r = requests.post(module_server.base_url + "/chat/completions", json=body, headers=auth(),
                      timeout=10)
    assert r.status_code == 200
    assert r.json() == recordings["hello-en"]["response"]["json"]


@pytest.mark.parametrize("fields", [
    {"temperature": 0, "top_p": 0, "max_tokens": 1},
    {"temperature": 1.0, "top_p": 1, "max_tokens": 131072},
    {"stop": ["."], "do_sample": False, "request_id": "req-1"},
    {"stop": "."},
    {"tools": [tool("get_weather-2")], "tool_choice": "auto"},
    {"stream_options": {"include_usage": True}, "user_id": "student-1"},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
], ids=["low-edges", "high-edges", "stop-list", "stop-string", "tools", "unknown-fields",
        "content-parts"])
def test_valid_edge_values_are_accepted(lenient, fields):
    r = requests.post(lenient.base_url + "/chat/completions", json=with_(**fields), headers=auth(),
                      timeout=10)
    assert r.status_code == 200
    assert r.json()["object"] == "chat.completion"


@pytest.mark.parametrize("sent, echoed", [
    (1765432100.123456, "1765432100.123456"),  # time.time(), as the SDKs' integration tests send
    (7, "7"),
    (0, "0"),
    ("lesson-7", "lesson-7"),
    ("r" * 128, "r" * 128),  # the longest this server takes (its own limit, UNVERIFIED)
])
def test_request_id_is_echoed_as_a_string(lenient, sent, echoed):
    # UNVERIFIED: that the live API takes a number and echoes it as a string (the response
    # schema types request_id as a string).
    r = requests.post(lenient.base_url + "/chat/completions", json=with_(request_id=sent),
                      headers=auth(), timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["request_id"] == echoed and body["id"] != echoed


def test_numeric_request_id_on_an_async_task_is_echoed(lenient):
    r = requests.post(lenient.base_url + "/async/chat/completions",
                      json=with_(request_id=1765432100.5), headers=auth(), timeout=10)
    assert r.status_code == 200
    assert r.json()["request_id"] == "1765432100.5"


def test_unknown_path_is_404(module_server):
    r = requests.post(module_server.base_url + "/no-such-endpoint",
                      json={"model": "embedding-3", "input": "x"}, headers=auth(), timeout=10)
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    body = r.json()  # the gateway's Spring-style 404 (docs/sources.md#unknown-path), not a GLM body
    assert {**body, "timestamp": None} == {"timestamp": None, "status": 404, "error": "Not Found",
                                           "path": "/api/paas/v4/no-such-endpoint"}


def test_wrong_method_is_405(module_server):
    r = requests.get(module_server.base_url + "/chat/completions", headers=auth(), timeout=10)
    assert r.status_code == 405
    assert r.json() == {"error": {"code": "405", "message": "GET is not allowed here; use POST"}}
    r = requests.put(f"http://127.0.0.1:{module_server.port}/_offline/faults", timeout=10)
    assert r.status_code == 405
    assert r.json() == {"error": {"code": "405",
                                  "message": "PUT is not allowed here; use GET, POST or DELETE"}}


def test_connection_stays_usable_after_404_with_a_body(server, recordings):
    with requests.Session() as session:
        missing = session.post(server.base_url + "/chat/completion", json=HELLO, headers=auth(),
                               timeout=10)
        ok = session.post(server.base_url + "/chat/completions", json=HELLO, headers=auth(),
                          timeout=10)
    assert missing.status_code == 404
    assert ok.status_code == 200
    assert ok.json() == recordings["hello-en"]["response"]["json"]
    history = settled_history(server, 2)
    assert [exchange.status for exchange in history] == [404, 200]
    assert len({exchange.connection for exchange in history}) == 1


def test_body_over_one_mib_is_413_without_reading_it(module_server):
    head = (f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {module_server.api_key}\r\n"
            f"Content-Length: {4 * 1024 * 1024}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", module_server.port), timeout=5) as sock:
        sock.sendall(head + b'{"model": "glm-4", "messages": [')  # and then nothing more
        started = time.monotonic()
        reply = sock.makefile("rb")
        status_line = reply.readline()
        headers = [line for line in iter(reply.readline, b"\r\n")]
        body = reply.read()  # the server closes the connection after answering
    assert time.monotonic() - started < 2
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large\r\n"
    assert b"Connection: close\r\n" in headers
    assert json.loads(body) == {"error": {"code": "413",
                                          "message": "request body over 1048576 bytes"}}


def test_chunked_body_over_one_mib_is_413(module_server):
    head = (f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", module_server.port), timeout=5) as sock:
        sock.sendall(head + b"200000\r\n" + b" " * 1000)
        reply = sock.makefile("rb")
        assert reply.readline() == b"HTTP/1.1 413 Request Entity Too Large\r\n"


def test_small_chunked_body_is_read(module_server, recordings):
    data = json.dumps(HELLO).encode()
    head = (f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {module_server.api_key}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", module_server.port), timeout=5) as sock:
        sock.sendall(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
        reply = sock.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == recordings["hello-en"]["response"]["json"]


@pytest.mark.parametrize("length", ["abc", "-1", "1.5", "\u00b2", "0x10"])
def test_invalid_content_length_is_400(module_server, length):
    head = f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
    head = head.encode("latin-1")
    with socket.create_connection(("127.0.0.1", module_server.port), timeout=5) as sock:
        sock.sendall(head)
        reply = sock.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {
        "error": {"code": "400", "message": "Content-Length must be a whole number"}}

# The codes and messages the live API answered in 2026 (docs/sources.md#request-body and
# #texts-seen-live): range errors, per-model limits, tool_choice, content parts, roles, the
# model list, English messages (api.z.ai).

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]}}}


# -- ranges: 1210 with the range in the message -------------------------------------------

@pytest.mark.parametrize("model, max_tokens, high", [
    ("glm-4.5-air", 98305, 98304),  # the live message (7.3)
    ("glm-4.7", 131073, 131072),
    ("glm-4-flash-250414", 131073, 131072),
    ("glm-4.6v", 32769, 32768),
])
def test_max_tokens_range_is_per_model(lenient, model, max_tokens, high):
    r = post_json(lenient, chat_body(model, max_tokens=max_tokens))
    assert answer(r) == glm_error("1210", f"max_tokens参数非法：限制数值范围[1,{high}]")
    assert post_json(lenient, chat_body(model, max_tokens=high)).status_code == 200


def test_temperature_two_is_1210(lenient):
    assert answer(post_json(lenient, chat_body(temperature=2))) == glm_error(
        "1210", "temperature参数非法：限制数值范围[0,1]")


def test_range_message_in_english(lenient):
    r = post_json(lenient, chat_body(top_p=1.5), {"Accept-Language": "en"})
    assert answer(r) == glm_error("1210", "top_p parameter is invalid: allowed range [0,1]")


# -- tool_choice ---------------------------------------------------------------------------

NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.parametrize("model", ["glm-5.3", "glm-5.3-flash", "glm-4.5-air"])
@pytest.mark.parametrize("choice", ["auto", "none", "required", NAMED],
                         ids=["auto", "none", "required", "named"])
def test_tool_choice_values_accepted_live(lenient, model, choice):
    body = chat_body(model, tools=[WEATHER], tool_choice=choice)
    assert post_json(lenient, body).status_code == 200


@pytest.mark.parametrize("model", ["glm-4.5", "glm-4.6", "glm-4.7"])
def test_named_tool_choice_with_thinking_on_is_1210(lenient, model):
    r = post_json(lenient, chat_body(model, tools=[WEATHER], tool_choice=NAMED))
    assert answer(r) == glm_error("1210", "API 调用参数有误，请检查文档。")
    off = chat_body(model, tools=[WEATHER], tool_choice=NAMED, thinking={"type": "disabled"})
    assert post_json(lenient, off).status_code == 200


@pytest.mark.parametrize("model, question, content", [
    ("glm-4.7-flash", "Weather in Paris?", "I'll call get_weather."),
    ("glm-5.3", "巴黎天气怎么样？", "我来调用 get_weather。"),
    ("glm-4.5", "Weather in Paris?", "\n\n"),  # glm-4.5, fantasy fixtures, 2025-09
    ("glm-4-flash-250414", "Weather in Paris?", ""),  # UNVERIFIED for the GLM-4 family
])
def test_generated_tool_call_has_string_content(lenient, model, question, content):
    body = chat_body(model, tools=[WEATHER], messages=[{"role": "user", "content": question}])
    message = post_json(lenient, body).json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["name"] == "get_weather"
    assert message["content"] == content


def test_generated_reply_follows_tool_choice(lenient):
    def called(choice, messages=USER):
        body = chat_body("glm-5.3", tools=[WEATHER], tool_choice=choice, messages=messages)
        return post_json(lenient, body).json()["choices"][0]["message"].get("tool_calls")

    assert called("none") is None
    assert called(NAMED)[0]["function"]["name"] == "get_weather"
    after_tool = [*USER, {"role": "assistant", "content": "ok"}]
    assert called("auto", after_tool) is None
    assert called("required", after_tool)[0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize("choice", [
    {"type": "function", "function": {"name": "not_a_tool"}},
    {"type": "function"},
    {"type": "tool", "function": {"name": "get_weather"}},
    "any",
    ["auto"],
])
def test_bad_tool_choice_is_1214(lenient, choice):
    r = post_json(lenient, chat_body(tools=[WEATHER], tool_choice=choice))
    assert answer(r) == glm_error("1214", "tool_choice 参数非法。请检查文档。")


# -- content parts, roles, tools: a 400, never a traceback (issue 10) ----------------------

IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


def test_image_part_to_a_text_model_is_rejected(lenient):
    parts = [{"type": "text", "text": "What?"}, IMAGE]
    body = chat_body(messages=[{"role": "user", "content": parts}])
    assert answer(post_json(lenient, body)) == glm_error(
        "1214", "messages.content.type 参数非法，取值范围 ['text']")


@pytest.mark.parametrize("model", [m for m, info in MODELS.items() if info.vision])
def test_image_part_to_a_vision_model_is_accepted(lenient, model):
    body = chat_body(model, messages=[{"role": "user", "content": [IMAGE, {"type": "text",
                                                                       "text": "What is it?"}]}])
    assert post_json(lenient, body).status_code == 200


def test_empty_text_part_is_rejected(lenient):
    body = chat_body(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}])
    assert answer(post_json(lenient, body)) == glm_error(
        "1214", "messages[0].content[0].text 参数非法。请检查文档。")


@pytest.mark.parametrize("role", ["robot", ["user"], {"name": "user"}, 7, None],
                         ids=["unknown", "list", "object", "number", "missing"])
def test_bad_role_is_400_with_the_live_text(lenient, role):
    r = post_json(lenient, chat_body(messages=[{"role": role, "content": "hi"}]))
    assert answer(r) == glm_error("1214", "角色信息不正确")
    english = post_json(lenient, chat_body(messages=[{"role": role, "content": "hi"}]),
                   {"Accept-Language": "en-US,en"})
    assert answer(english) == glm_error("1214", "Incorrect role information")


@pytest.mark.parametrize("kind", [["string", "null"], ["null"], {"type": "string"}, 5])
def test_tool_parameter_with_an_unusual_type_gets_an_answer(lenient, kind):
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": kind}}, "required": ["a"]}}}
    r = post_json(lenient, chat_body(tools=[tool]))
    assert r.status_code == 200
    call = r.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "f"


def test_nullable_string_parameter_gets_a_string_example(lenient):
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": ["string", "null"]}}, "required": ["a"]}}}
    message = post_json(lenient, chat_body(tools=[tool])).json()["choices"][0]["message"]
    call = message["tool_calls"][0]
    assert call["function"]["arguments"] == '{"a":"example"}'


def test_two_stop_words_are_rejected(lenient):
    assert answer(post_json(lenient, chat_body(stop=["a", "b"]))) == glm_error(
        "1214", "stop 参数非法。请检查文档。")


# -- the model list ------------------------------------------------------------------------

BRIEF_MODELS = {
    "none": ["glm-4-flash-250414", "glm-4-flash", "glm-4-plus", "glm-4-air-250414", "glm-4-airx",
             "glm-4-long", "glm-4v-flash"],
    "switchable": ["glm-4.5", "glm-4.5-air", "glm-4.5-x", "glm-4.5-airx", "glm-4.5-flash",
                   "glm-4.6", "glm-4.6v", "glm-4.6v-flash", "glm-4.7", "glm-4.7-flash",
                   "glm-4.7-flashx"],
    "forced": ["glm-5", "glm-5-turbo", "glm-5v-turbo", "glm-5.1", "glm-4.5v"],
    "forced_rejects_disabled": ["glm-5.3", "glm-5.3-flash", "glm-5.3-flashx", "glm-5.2"],
}
VISION = {"glm-4v-flash", "glm-4.6v", "glm-4.6v-flash", "glm-5v-turbo", "glm-4.5v"}


@pytest.mark.parametrize("mode", BRIEF_MODELS)
def test_model_table(mode):
    for name in BRIEF_MODELS[mode]:
        assert MODELS[name].thinking == mode, name
        assert MODELS[name].vision is (name in VISION), name


def test_every_model_answers(lenient):
    for name in MODELS:
        assert post_json(lenient, chat_body(name)).status_code == 200, name


def test_unknown_model_in_both_languages(lenient):
    chinese = post_json(lenient, chat_body("glm-9"))
    assert answer(chinese) == glm_error("1211", "模型不存在，请检查模型代码。")
    english = post_json(lenient, chat_body("glm-9"), {"Accept-Language": "en-GB"})
    assert answer(english) == glm_error("1211", "Unknown Model, please check the model code.")


# -- English: the server option, the environment, the request header ----------------------

def test_english_server_option():
    with glm_offline.start(pacing="instant", english=True) as server:
        r = post_json(server, chat_body("glm-9"), {"Accept-Language": "zh-CN"})
    assert answer(r)[1]["error"]["message"] == "Unknown Model, please check the model code."


def test_english_from_the_environment(monkeypatch):
    monkeypatch.setenv("GLM_OFFLINE_ENGLISH", "1")
    with glm_offline.start(pacing="instant") as server:
        r = post_json(server, chat_body("glm-9"))
    assert answer(r)[1]["error"]["message"] == "Unknown Model, please check the model code."


def test_english_off_in_the_environment_means_chinese(monkeypatch):
    monkeypatch.setenv("GLM_OFFLINE_ENGLISH", "false")
    with glm_offline.start(pacing="instant") as server:
        r = post_json(server, chat_body("glm-9"))
    assert answer(r)[1]["error"]["message"] == "模型不存在，请检查模型代码。"


@pytest.mark.parametrize("language, english", [
    ("en-US,en", True), ("en", True), ("EN-gb", True), ("zh-CN,zh;q=0.9", False), ("", False),
])
def test_english_per_request(lenient, language, english):
    r = post_json(lenient, chat_body("glm-9"), {"Accept-Language": language})
    expected = {True: "Unknown Model, please check the model code.",
                False: "模型不存在，请检查模型代码。"}[english]
    assert answer(r)[1]["error"]["message"] == expected

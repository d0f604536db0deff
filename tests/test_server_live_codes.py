"""The codes and messages the live API answered in 2026 (docs/sources.md#request-body and
#texts-seen-live): range errors, per-model limits, tool_choice, content parts, roles, the model
list, English messages (api.z.ai), the Spring 404, and faults with any documented business code."""

import pytest
import requests

import glm_offline
from conftest import auth
from glm_offline.faults import make_fault
from glm_offline.models import MODELS

USER = [{"role": "user", "content": "Say hello in one short sentence."}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]}}}


@pytest.fixture(scope="module")
def lenient():
    with glm_offline.start(pacing="instant", strict=False) as running:
        yield running


@pytest.fixture
def shared(lenient):
    lenient.faults.clear()
    yield lenient
    lenient.faults.clear()


def post(server, body, headers=None, path="/chat/completions"):
    return requests.post(server.base_url + path, json=body,
                         headers={**auth(), **(headers or {})}, timeout=10)


def chat(model="glm-4-flash-250414", **fields):
    return {"model": model, "messages": USER, **fields}


def answer(response):
    return response.status_code, response.json()


def error(code, message, status=400):
    return status, {"error": {"code": code, "message": message}}


# -- ranges: 1210 with the range in the message -------------------------------------------

@pytest.mark.parametrize("model, max_tokens, high", [
    ("glm-4.5-air", 98305, 98304),  # the live message (7.3)
    ("glm-4.7", 131073, 131072),
    ("glm-4-flash-250414", 131073, 131072),
    ("glm-4.6v", 32769, 32768),
])
def test_max_tokens_range_is_per_model(lenient, model, max_tokens, high):
    r = post(lenient, chat(model, max_tokens=max_tokens))
    assert answer(r) == error("1210", f"max_tokens参数非法：限制数值范围[1,{high}]")
    assert post(lenient, chat(model, max_tokens=high)).status_code == 200


def test_temperature_two_is_1210(lenient):
    assert answer(post(lenient, chat(temperature=2))) == error(
        "1210", "temperature参数非法：限制数值范围[0,1]")


def test_range_message_in_english(lenient):
    r = post(lenient, chat(top_p=1.5), {"Accept-Language": "en"})
    assert answer(r) == error("1210", "top_p parameter is invalid: allowed range [0,1]")


# -- tool_choice ---------------------------------------------------------------------------

NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.parametrize("model", ["glm-5.3", "glm-5.3-flash", "glm-4.5-air"])
@pytest.mark.parametrize("choice", ["auto", "none", "required", NAMED],
                         ids=["auto", "none", "required", "named"])
def test_tool_choice_values_accepted_live(lenient, model, choice):
    assert post(lenient, chat(model, tools=[WEATHER], tool_choice=choice)).status_code == 200


@pytest.mark.parametrize("model", ["glm-4.5", "glm-4.6", "glm-4.7"])
def test_named_tool_choice_with_thinking_on_is_1210(lenient, model):
    r = post(lenient, chat(model, tools=[WEATHER], tool_choice=NAMED))
    assert answer(r) == error("1210", "API 调用参数有误，请检查文档。")
    off = chat(model, tools=[WEATHER], tool_choice=NAMED, thinking={"type": "disabled"})
    assert post(lenient, off).status_code == 200


@pytest.mark.parametrize("model, question, content", [
    ("glm-4.7-flash", "Weather in Paris?", "I'll call get_weather."),
    ("glm-5.3", "巴黎天气怎么样？", "我来调用 get_weather。"),
    ("glm-4.5", "Weather in Paris?", "\n\n"),  # glm-4.5, fantasy fixtures, 2025-09
    ("glm-4-flash-250414", "Weather in Paris?", ""),  # UNVERIFIED for the GLM-4 family
])
def test_generated_tool_call_has_string_content(lenient, model, question, content):
    body = chat(model, tools=[WEATHER], messages=[{"role": "user", "content": question}])
    message = post(lenient, body).json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["name"] == "get_weather"
    assert message["content"] == content


def test_generated_reply_follows_tool_choice(lenient):
    def called(choice, messages=USER):
        body = chat("glm-5.3", tools=[WEATHER], tool_choice=choice, messages=messages)
        return post(lenient, body).json()["choices"][0]["message"].get("tool_calls")

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
    r = post(lenient, chat(tools=[WEATHER], tool_choice=choice))
    assert answer(r) == error("1214", "tool_choice 参数非法。请检查文档。")


# -- content parts, roles, tools: a 400, never a traceback (issue 10) ----------------------

IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


def test_image_part_to_a_text_model_is_rejected(lenient):
    body = chat(messages=[{"role": "user", "content": [{"type": "text", "text": "What?"}, IMAGE]}])
    assert answer(post(lenient, body)) == error(
        "1214", "messages.content.type 参数非法，取值范围 ['text']")


@pytest.mark.parametrize("model", [m for m, info in MODELS.items() if info.vision])
def test_image_part_to_a_vision_model_is_accepted(lenient, model):
    body = chat(model, messages=[{"role": "user", "content": [IMAGE, {"type": "text",
                                                                       "text": "What is it?"}]}])
    assert post(lenient, body).status_code == 200


def test_empty_text_part_is_rejected(lenient):
    body = chat(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}])
    assert answer(post(lenient, body)) == error(
        "1214", "messages[0].content[0].text 参数非法。请检查文档。")


@pytest.mark.parametrize("role", ["robot", ["user"], {"name": "user"}, 7, None],
                         ids=["unknown", "list", "object", "number", "missing"])
def test_bad_role_is_400_with_the_live_text(lenient, role):
    r = post(lenient, chat(messages=[{"role": role, "content": "hi"}]))
    assert answer(r) == error("1214", "角色信息不正确")
    english = post(lenient, chat(messages=[{"role": role, "content": "hi"}]),
                   {"Accept-Language": "en-US,en"})
    assert answer(english) == error("1214", "Incorrect role information")


@pytest.mark.parametrize("kind", [["string", "null"], ["null"], {"type": "string"}, 5])
def test_tool_parameter_with_an_unusual_type_gets_an_answer(lenient, kind):
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": kind}}, "required": ["a"]}}}
    r = post(lenient, chat(tools=[tool]))
    assert r.status_code == 200
    call = r.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "f"


def test_nullable_string_parameter_gets_a_string_example(lenient):
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": ["string", "null"]}}, "required": ["a"]}}}
    call = post(lenient, chat(tools=[tool])).json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["arguments"] == '{"a":"example"}'


def test_two_stop_words_are_rejected(lenient):
    assert answer(post(lenient, chat(stop=["a", "b"]))) == error(
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
        assert post(lenient, chat(name)).status_code == 200, name


def test_unknown_model_in_both_languages(lenient):
    assert answer(post(lenient, chat("glm-9"))) == error("1211", "模型不存在，请检查模型代码。")
    english = post(lenient, chat("glm-9"), {"Accept-Language": "en-GB"})
    assert answer(english) == error("1211", "Unknown Model, please check the model code.")


# -- English: the server option, the environment, the request header ----------------------

def test_english_server_option():
    with glm_offline.start(pacing="instant", english=True) as server:
        r = post(server, chat("glm-9"), {"Accept-Language": "zh-CN"})
    assert answer(r)[1]["error"]["message"] == "Unknown Model, please check the model code."


def test_english_from_the_environment(monkeypatch):
    monkeypatch.setenv("GLM_OFFLINE_ENGLISH", "1")
    with glm_offline.start(pacing="instant") as server:
        r = post(server, chat("glm-9"))
    assert answer(r)[1]["error"]["message"] == "Unknown Model, please check the model code."


def test_english_off_in_the_environment_means_chinese(monkeypatch):
    monkeypatch.setenv("GLM_OFFLINE_ENGLISH", "false")
    with glm_offline.start(pacing="instant") as server:
        r = post(server, chat("glm-9"))
    assert answer(r)[1]["error"]["message"] == "模型不存在，请检查模型代码。"


@pytest.mark.parametrize("language, english", [
    ("en-US,en", True), ("en", True), ("EN-gb", True), ("zh-CN,zh;q=0.9", False), ("", False),
])
def test_english_per_request(lenient, language, english):
    r = post(lenient, chat("glm-9"), {"Accept-Language": language})
    expected = {True: "Unknown Model, please check the model code.",
                False: "模型不存在，请检查模型代码。"}[english]
    assert answer(r)[1]["error"]["message"] == expected


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
    assert answer(post(shared, chat())) == error(code, chinese, status)
    assert answer(post(shared, chat(), {"Accept-Language": "en"})) == error(code, english, status)


@pytest.mark.parametrize("code, status", [
    (1308, 429), (1309, 429), (1310, 429), (1313, 429), (1321, 429), (1261, 400), (1220, 403),
    (1000, 401), ("401", 401), (1234, 500),
])
def test_any_documented_code_can_be_injected(shared, code, status):
    shared.inject("error", code=code)
    r = post(shared, chat())
    assert r.status_code == status
    assert r.json()["error"]["code"] == str(code)
    assert r.json()["error"]["message"]


def test_1261_is_english_on_both_hosts(shared):
    shared.inject("error", code=1261)
    assert answer(post(shared, chat())) == error("1261", "Prompt exceeds max length")


def test_both_wrong_key_bodies_exist(shared):
    shared.inject("error", code="1000")
    assert answer(post(shared, chat())) == error("1000", "身份验证失败。", 401)
    shared.inject("error", code="401")
    assert answer(post(shared, chat())) == error("401", "令牌已过期或验证不正确", 401)


@pytest.mark.parametrize("code", ["1312", "9999", "abc"])
def test_undocumented_codes_are_refused(code):
    with pytest.raises(ValueError, match="unknown business code"):
        make_fault("error", code=code)


# -- the Spring-style 404 ------------------------------------------------------------------

def test_unknown_path_is_spring_404_stamped_by_the_server_clock():
    with glm_offline.start(pacing="instant", clock=lambda: 1795593600.25) as server:
        r = post(server, chat(), path="/chat/complete")
    assert r.status_code == 404
    assert r.json() == {"timestamp": "2026-11-25T08:00:00.250+00:00", "status": 404,
                        "error": "Not Found", "path": "/api/paas/v4/chat/complete"}


def test_a_v1_after_v4_gets_the_offline_hint(lenient):
    r = post(lenient, chat(), path="/v1/chat/completions")
    assert r.status_code == 404
    body = r.json()
    assert body["path"] == "/api/paas/v4/v1/chat/completions"
    assert body["error"] == "Not Found"
    assert "glm_offline's own hint, not part of the live answer" in body["offline_hint"]

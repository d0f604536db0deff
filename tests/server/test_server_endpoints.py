"""The base URLs and paths the recorded server knows: documented endpoints it does not serve
answer that the live API has them (glm_offline/endpoints.py); a /v1 after /v4 gets the
gateway's 404 with a hint, /v1/agents does not; and the coding plan's base URL,
/api/coding/paas/v4, is served like /api/paas/v4 with the plan's quirks
(glm_offline/coding_plan.py). An unknown path gets the Spring-style 404, stamped by the
server's clock."""

import json

import pytest
import requests

import glm_offline
from helpers import auth, chat_body, post_json

ROOT = "/api/paas/v4"
CODING = "/api/coding/paas/v4"
HELLO = {"model": "glm-4-flash-250414",
         "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}


def at(server, path, method="POST", body=HELLO, headers=None):
    origin = server.base_url[: -len(ROOT)]
    return requests.request(method, origin + path, json=body,
                            headers={**auth(), **(headers or {})}, timeout=10)


def recorded(name):
    path = glm_offline.cassettes.PACKAGE_CASSETTES / "server-basics.json"
    items = json.loads(path.read_text(encoding="utf-8"))["interactions"]
    return next(item for item in items if item["name"] == name)


# -- documented endpoints the server does not serve ---------------------------------------

@pytest.mark.parametrize("path, name", [
    ("/embeddings", "向量嵌入"),
    ("/files", "文件管理"),
    ("/files/file-123/content", "文件管理"),
    ("/images/generations", "图像生成"),
    ("/videos/generations", "视频生成"),
    ("/web_search", "网络搜索"),
    ("/tools", "网络搜索工具"),
    ("/batches", "批处理"),
    ("/audio/speech", "语音合成"),
    ("/audio/transcriptions", "语音识别"),
    ("/v1/agents", "智能体"),  # where the official SDKs call the agents API
    ("/v1/agents/async-result", "智能体"),
])
def test_a_live_only_endpoint_says_the_live_api_has_it(lenient, path, name):
    r = at(lenient, ROOT + path)
    assert r.status_code == 404
    assert r.json() == {"error": {
        "code": "offline_live_only",
        "message": f"录制版 GLM 服务器没有这个端点（{name}：{ROOT}{path}），真实的 API 有。"
                   "设置 ZHIPUAI_API_KEY，同样的代码就会调用真实的 GLM。"}}


def test_the_live_only_answer_in_english_whatever_the_method(lenient):
    r = at(lenient, ROOT + "/files", method="GET", body=None,
           headers={"Accept-Language": "en-US"})
    assert r.status_code == 404
    assert r.json()["error"] == {
        "code": "offline_live_only",
        "message": f"this endpoint (files: {ROOT}/files) is not part of the recorded server; "
                   "the live API has it. Set ZHIPUAI_API_KEY and the same code calls the real "
                   "GLM."}


def test_a_live_only_endpoint_under_the_coding_plan(lenient):
    r = at(lenient, CODING + "/embeddings")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "offline_live_only")
    assert f"{CODING}/embeddings" in r.json()["error"]["message"]


def test_a_very_long_live_only_path_is_shown_cut(lenient):
    r = at(lenient, ROOT + "/files/" + "x" * 5000)
    assert r.status_code == 404
    assert len(r.json()["error"]["message"]) < 400


@pytest.mark.parametrize("path", ["/embeddingsx", "/chat/complete", "/filesystem", "/v1"])
def test_a_path_that_is_not_documented_gets_the_gateway_404(lenient, path):
    r = at(lenient, ROOT + path)
    assert r.status_code == 404
    assert (r.json()["error"], r.json()["path"]) == ("Not Found", ROOT + path)


# -- the /v1 hint --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/async/chat/completions",
                                  "/v1/async-result/123", "/v1/embeddings", "/v1"])
def test_the_v1_hint_fires_where_v1_is_the_mistake(lenient, path):
    body = at(lenient, ROOT + path).json()
    assert body["error"] == "Not Found"
    assert body["offline_hint"].startswith("glm_offline's own hint, not part of the live answer")


def test_the_v1_hint_fires_under_the_coding_plan_too(lenient):
    body = at(lenient, CODING + "/v1/chat/completions").json()
    assert body["error"] == "Not Found" and "offline_hint" in body


@pytest.mark.parametrize("path", ["/v1/agents", "/v1/agents/conversation", "/v1/nothing",
                                  "/v2/chat/completions"])
def test_no_v1_hint_where_v1_is_not_the_mistake(lenient, path):
    assert "offline_hint" not in at(lenient, ROOT + path).json()


# -- the coding plan's base URL ------------------------------------------------------------

def test_the_coding_plan_replays_the_same_recording_with_the_served_model(module_server):
    r = at(module_server, CODING + "/chat/completions")
    assert r.status_code == 200
    expected = recorded("hello-en")["response"]["json"]
    # glm-4-flash-250414 is flash-class: the plan answers as glm-5.3-flash (models.py).
    assert r.json() == {**expected, "model": "glm-5.3-flash"}


def test_the_coding_plan_stream_names_the_served_model_in_every_chunk(module_server):
    r = at(module_server, CODING + "/chat/completions", body={**HELLO, "stream": True})
    assert r.status_code == 200
    lines = recorded("hello-en-stream")["response"]["sse"]
    expected = [line.replace('"model":"glm-4-flash-250414"', '"model":"glm-5.3-flash"')
                for line in lines]
    assert expected != lines
    assert r.text.split("\n") == expected + [""]


@pytest.mark.parametrize("asked, served", [
    ("glm-4.7-flash", "glm-5.3-flash"),
    ("glm-4.5-flash", "glm-5.3-flash"),
    ("glm-4.7", "glm-5.3"),
    ("glm-4-plus", "glm-5.3"),
    ("glm-5.1", "glm-5.3"),
    ("glm-5.3", "glm-5.3"),
    ("glm-5.3-flash", "glm-5.3-flash"),
])
def test_the_coding_plan_substitutes_older_models(lenient, asked, served):
    general = at(lenient, ROOT + "/chat/completions", body={**HELLO, "model": asked})
    coding = at(lenient, CODING + "/chat/completions", body={**HELLO, "model": asked})
    assert general.json()["model"] == asked
    assert coding.json() == {**general.json(), "model": served}


def test_the_coding_plan_ignores_thinking_disabled(lenient):
    body = {**HELLO, "model": "glm-5.3", "thinking": {"type": "disabled"}}
    assert at(lenient, ROOT + "/chat/completions", body=body).json()["error"]["code"] == "1210"
    r = at(lenient, CODING + "/chat/completions", body=body)
    assert r.status_code == 200
    without = at(lenient, CODING + "/chat/completions", body={**HELLO, "model": "glm-5.3"})
    assert r.json() == without.json()
    assert r.json()["choices"][0]["message"]["reasoning_content"]


def test_the_coding_plan_validates_like_the_general_path(lenient):
    r = at(lenient, CODING + "/chat/completions", body={**HELLO, "temperature": 2})
    assert r.status_code == 400
    assert r.json()["error"] == {"code": "1210",
                                 "message": "temperature参数非法：限制数值范围[0,1]"}
    unknown = at(lenient, CODING + "/chat/completions", body={**HELLO, "model": "gpt-4"})
    assert unknown.json()["error"]["code"] == "1211"


@pytest.mark.parametrize("thinking, field", [
    ({"type": "disabled", "clear_thinking": "no"}, "thinking.clear_thinking"),
    ({"type": "off"}, "thinking.type"),
    ("disabled", "thinking.type"),
])
def test_a_malformed_thinking_is_still_rejected_on_the_coding_plan(lenient, thinking, field):
    r = at(lenient, CODING + "/chat/completions", body={**HELLO, "thinking": thinking})
    assert (r.status_code, r.json()) == (400, {"error": {
        "code": "1214", "message": f"{field} 参数非法。请检查文档。"}})


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"model": "glm-4"'])
def test_an_unreadable_body_on_the_coding_plan_is_1210(lenient, raw):
    r = requests.post(lenient.base_url[: -len(ROOT)] + CODING + "/chat/completions", data=raw,
                      headers={**auth(), "Content-Type": "application/json"}, timeout=10)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "1210")


def test_the_coding_plan_needs_the_key_too(lenient):
    r = requests.post(lenient.base_url[: -len(ROOT)] + CODING + "/chat/completions", json=HELLO,
                      timeout=10)
    assert r.status_code == 401


def test_an_async_task_on_the_coding_plan(lenient):
    task = at(lenient, CODING + "/async/chat/completions").json()
    assert (task["task_status"], task["model"]) == ("PROCESSING", "glm-5.3-flash")
    for _ in range(10):
        polled = at(lenient, CODING + "/async-result/" + task["id"], method="GET", body=None)
        if polled.json()["task_status"] == "SUCCESS":
            break
    assert polled.json()["model"] == "glm-5.3-flash"
    assert polled.json()["choices"][0]["message"]["content"]


def test_a_wrong_method_on_the_coding_plan_is_405(lenient):
    r = at(lenient, CODING + "/chat/completions", method="GET", body=None)
    assert r.status_code == 405


# -- the Spring-style 404 ------------------------------------------------------------------

def test_unknown_path_is_spring_404_stamped_by_the_server_clock():
    with glm_offline.start(pacing="instant", clock=lambda: 1795593600.25) as server:
        r = post_json(server, chat_body(), path="/chat/complete")
    assert r.status_code == 404
    assert r.json() == {"timestamp": "2026-11-25T08:00:00.250+00:00", "status": 404,
                        "error": "Not Found", "path": "/api/paas/v4/chat/complete"}


def test_a_v1_after_v4_gets_the_offline_hint(lenient):
    r = post_json(lenient, chat_body(), path="/v1/chat/completions")
    assert r.status_code == 404
    body = r.json()
    assert body["path"] == "/api/paas/v4/v1/chat/completions"
    assert body["error"] == "Not Found"
    assert "glm_offline's own hint, not part of the live answer" in body["offline_hint"]

"""Keys of each kind, answered per base URL as the 2026 sources have it (glm_offline/key_kinds.py;
docs/sources.md#which-key-which-endpoint): the general and the coding plan's."""

import re
import subprocess
import sys

import pytest
import requests

import glm_offline
from glm_offline import key_kinds
from glm_offline.auth import OFFLINE_API_KEY, is_offline_key, own_key

QUESTION = {"model": "glm-4-flash-250414",
            "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}
NO_BALANCE = {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}}
PLAN_EXPIRED = {"error": {"code": "1309",
                          "message": "您的 GLM Coding Plan 套餐已到期，请续订后再使用。"}}
UNKNOWN = {"error": {"code": "1000", "message": "身份验证失败。"}}
ANSWERED = None

# kind -> (general URL, coding URL): the body of the refusal, or ANSWERED (HTTP 200)
EXPECTED = {
    "general": (ANSWERED, ANSWERED),
    "coding_plan": (NO_BALANCE, ANSWERED),
    "coding_plan_expired": (NO_BALANCE, PLAN_EXPIRED),
    "no_balance": (NO_BALANCE, NO_BALANCE),
    "zai": (UNKNOWN, UNKNOWN),
}
STATUS = {"1113": 429, "1309": 429, "1000": 401}
CASES = [(kind, coding) for kind in EXPECTED for coding in (False, True)]


def base(server, coding):
    return server.base_url.replace("/api/paas/v4", "/api/coding/paas/v4") if coding \
        else server.base_url


def ask(server, key, coding, **headers):
    return requests.post(base(server, coding) + "/chat/completions", json=QUESTION, timeout=10,
                         headers={"Authorization": f"Bearer {key}", **headers})


def test_there_is_one_offline_key_of_each_kind_and_the_general_one_is_the_servers(module_server):
    assert set(glm_offline.OFFLINE_KEYS) == set(EXPECTED)
    assert glm_offline.OFFLINE_KEYS["general"] == glm_offline.OFFLINE_API_KEY
    assert module_server.api_key == glm_offline.OFFLINE_API_KEY


def test_no_offline_key_looks_like_a_real_one(module_server):
    for key in glm_offline.OFFLINE_KEYS.values():
        assert not re.fullmatch(r"[0-9a-f]{32}\.[A-Za-z0-9]{16}", key)
        assert key.startswith("glm-offline")


@pytest.mark.parametrize(("kind", "coding"), CASES,
                         ids=[f"{k}-{'coding' if c else 'general'}" for k, c in CASES])
def test_each_kind_on_each_base_url(module_server, kind, coding):
    response = ask(module_server, glm_offline.OFFLINE_KEYS[kind], coding)
    expected = EXPECTED[kind][coding]
    if expected is ANSWERED:
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"]
    else:
        assert response.status_code == STATUS[expected["error"]["code"]]
        assert response.json() == expected


def test_refusals_come_in_english_when_asked_as_api_z_ai_answers(module_server):
    response = ask(module_server, glm_offline.OFFLINE_KEYS["coding_plan"], False,
                   **{"Accept-Language": "en-US,en"})
    assert response.json()["error"] == {
        "code": "1113", "message": "Insufficient balance or no resource package. Please recharge."}


def test_a_refused_kind_starts_no_async_task_either(module_server):
    key = glm_offline.OFFLINE_KEYS["no_balance"]
    response = requests.post(module_server.base_url + "/async/chat/completions", json=QUESTION,
                             timeout=10, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 429 and response.json() == NO_BALANCE


def test_a_doubled_v1_is_the_gateways_404_for_every_kind(module_server):
    for key in glm_offline.OFFLINE_KEYS.values():
        response = requests.post(module_server.base_url + "/v1/chat/completions", json=QUESTION,
                                 headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert response.status_code == 404
        assert response.json()["path"] == "/api/paas/v4/v1/chat/completions"
        assert response.json()["error"] == "Not Found"  # Spring's body, not a GLM one


def test_a_server_given_other_keys_simulates_no_kind():
    other = "test-only.another-secret-of-32-bytes-or-more"
    with glm_offline.start(pacing="instant", api_keys=(other,)) as server:
        assert ask(server, other, False).status_code == 200
        refused = ask(server, glm_offline.OFFLINE_API_KEY, False)
        assert refused.status_code == 401 and refused.json() == UNKNOWN


def test_a_kinds_id_with_another_secret_is_an_ordinary_key():
    # One rule for "offline key": the whole key. The zai kind's id with a secret of the
    # caller's own is a key the server was given, answered like any other.
    look_alike = "glm-offline-zai.another-secret-of-32-bytes-or-more"
    with glm_offline.start(pacing="instant", api_keys=(look_alike,)) as server:
        for coding in (False, True):
            response = ask(server, look_alike, coding)
            assert response.status_code == 200, response.text


def test_one_rule_says_which_keys_are_offline_ones():
    for kind, key in glm_offline.OFFLINE_KEYS.items():
        assert is_offline_key(key)
        assert key_kinds.kind_of(key) == kind
    secret = OFFLINE_API_KEY.split(".")[1]
    for key in ("glm-offline-zai.another-secret-of-32-bytes-or-more",
                "0f1e2d3c" * 4 + ".NotARealSecret16", f"glm-offline.{secret}x",
                f"glm-offline.x{secret}", "no dot at all", "", None):
        assert not is_offline_key(key) and key_kinds.kind_of(key) is None
    # the tools that call the real API refuse exactly these keys
    for key in glm_offline.OFFLINE_KEYS.values():
        with pytest.raises(ValueError, match="offline server's keys"):
            own_key("https://open.bigmodel.cn/api/paas/v4", {"ZHIPUAI_API_KEY": key}, "A tool")
    own = "glm-offline-zai.another-secret-of-32-bytes-or-more"
    assert own_key("https://open.bigmodel.cn/api/paas/v4", {"ZHIPUAI_API_KEY": own},
                   "A tool") == own


def test_serve_help_names_the_general_key_and_where_the_other_kinds_are():
    ran = subprocess.run([sys.executable, "-m", "glm_offline", "serve", "--help"],
                         capture_output=True, text=True, timeout=60)
    text = " ".join(ran.stdout.split())
    assert ran.returncode == 0
    assert f"The general API key is {glm_offline.OFFLINE_API_KEY}\n" in ran.stdout
    assert "Four more offline keys simulate other kinds" in text
    assert "lesson 01" in text and "python -m glm_offline doctor" in text
    assert "always" not in text

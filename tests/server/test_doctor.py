"""`python -m glm_offline doctor`: one cheap call with the key in ZHIPUAI_API_KEY, its answer
explained in one to three lines (English or Chinese); exit 0 works, 1 refused, 2 no call made;
the key is never shown, and nothing ends in a traceback."""

import socket
import subprocess
import sys

import pytest
import requests

import glm_offline
from glm_offline import doctor
from helpers import fake_response, script_env

LEARNER_KEY = "0f1e2d3c" * 4 + ".NotARealSecret16"  # a real key's shape, built here: no real key


@pytest.fixture(scope="module")
def offline():
    """A lenient server: doctor's own question has no recording, and needs none."""
    with glm_offline.start(pacing="instant", strict=False) as running:
        yield running


def coding(server):
    return server.base_url.replace("/api/paas/v4", "/api/coding/paas/v4")


def verdict(key, base_url, lang="en", post=requests.post):
    lines = []
    code = doctor.run(lang=lang, environ={"ZHIPUAI_API_KEY": key, "ZHIPUAI_BASE_URL": base_url},
                      post=post, out=lines.append)
    assert 1 <= len(lines) <= 3
    return code, lines


def cli(*args, key=None, base_url=None):
    return subprocess.run([sys.executable, "-m", "glm_offline", "doctor", *args],
                          env=script_env(key, base_url),
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the verdicts, in both languages --------------------------------------------------------

def test_a_general_key_works_on_the_general_url(offline):
    code, lines = verdict(glm_offline.OFFLINE_KEYS["general"], offline.base_url)
    assert code == 0
    assert lines[0].startswith("Works: HTTP 200") and "general API key" in lines[0]
    assert "free model glm-4.7-flash" in lines[1] and "/api/coding/paas/v4" in lines[1]
    code, lines = verdict(glm_offline.OFFLINE_KEYS["general"], offline.base_url, "zh")
    assert code == 0 and lines[0].startswith("可用：") and "通用 API 的密钥" in lines[0]


def test_a_coding_plan_key_works_on_the_coding_url(offline):
    code, lines = verdict(glm_offline.OFFLINE_KEYS["coding_plan"], coding(offline))
    assert code == 0 and len(lines) == 1 and "GLM Coding Plan key" in lines[0]
    code, lines = verdict(glm_offline.OFFLINE_KEYS["coding_plan"], coding(offline), "zh")
    assert code == 0 and "GLM Coding Plan 的密钥" in lines[0]


def test_a_coding_plan_key_on_the_general_url_is_told_the_coding_url(offline):
    code, lines = verdict(glm_offline.OFFLINE_KEYS["coding_plan"], offline.base_url)
    assert code == 1
    assert lines[0].startswith("Refused: HTTP 429, code 1113 (the server says: 余额不足")
    assert f"works only at {coding(offline)}" in lines[1]
    code, lines = verdict(glm_offline.OFFLINE_KEYS["coding_plan"], offline.base_url, "zh")
    assert code == 1 and lines[0].startswith("被拒绝：HTTP 429，业务错误码 1113（服务器的说明：")
    assert f"只能用于 {coding(offline)}" in lines[1]


def test_no_balance_on_the_coding_url_says_unverified(offline):
    code, lines = verdict(glm_offline.OFFLINE_KEYS["no_balance"], coding(offline))
    assert code == 1 and "code 1113" in lines[0]
    assert "Neither a balance nor an active GLM Coding Plan" in lines[1]
    assert "UNVERIFIED" in lines[1] and offline.base_url in lines[1]
    _, lines = verdict(glm_offline.OFFLINE_KEYS["no_balance"], coding(offline), "zh")
    assert "既没有余额" in lines[1] and "UNVERIFIED" in lines[1]


def test_an_expired_plan_is_told_to_renew(offline):
    code, lines = verdict(glm_offline.OFFLINE_KEYS["coding_plan_expired"], coding(offline))
    assert code == 1 and "code 1309" in lines[0] and "has expired: renew it" in lines[1]
    _, lines = verdict(glm_offline.OFFLINE_KEYS["coding_plan_expired"], coding(offline), "zh")
    assert "错误码 1309" in lines[0] and "已到期：请续订" in lines[1]


def test_a_key_from_the_other_platform_is_told_the_other_base_url(offline):
    code, lines = verdict(glm_offline.OFFLINE_KEYS["zai"], offline.base_url)
    assert code == 1 and lines[0].startswith("Refused: HTTP 401, code 1000")
    assert "ZHIPUAI_BASE_URL=https://api.z.ai/api/paas/v4" in lines[1]
    assert "UNVERIFIED" in lines[1]
    _, lines = verdict(glm_offline.OFFLINE_KEYS["zai"], offline.base_url, "zh")
    assert "错误码 1000" in lines[0] and "api.z.ai 上创建的" in lines[1]
    assert "UNVERIFIED" in lines[1]


def test_on_api_z_ai_a_401_points_back_to_open_bigmodel_cn():
    answer = fake_response(401, {"error": {"code": "1000", "message": "Authentication Failed"}})
    code, lines = verdict("some.key-of-a-learner", "https://api.z.ai/api/coding/paas/v4",
                          post=lambda *a, **k: answer)
    assert code == 1
    assert "ZHIPUAI_BASE_URL=https://open.bigmodel.cn/api/coding/paas/v4" in lines[1]


@pytest.mark.parametrize(("code", "english", "chinese"), [
    ("1308", "usage limit for this period", "本周期的用量已达上限"),
    ("1310", "weekly or monthly limit", "每周或每月用量已达上限"),
    ("1311", "does not include the model asked for", "不包含所请求的模型"),
    ("1302", "The key is accepted, but the API is busy", "密钥有效，但 API 正忙"),
    ("1305", "The key is accepted, but the API is busy", "密钥有效，但 API 正忙"),
    ("1261", "error-code table", "错误码表"),
])
def test_the_plans_codes_and_the_busy_ones(offline, code, english, chinese):
    for lang, words in (("en", english), ("zh", chinese)):
        offline.inject("error", code=code)
        status, lines = verdict(offline.api_key, coding(offline), lang)
        assert status == 1 and code in lines[0] and words in lines[1]


def test_1311_says_its_reading_is_unverified(offline):
    offline.inject("error", code="1311")
    _, lines = verdict(offline.api_key, coding(offline))
    assert "UNVERIFIED" in lines[1]


def test_a_doubled_v1_is_told_the_base_url_without_it(offline):
    code, lines = verdict(offline.api_key, offline.base_url + "/v1")
    assert code == 1
    assert lines[0] == ("Not found: HTTP 404 for /api/paas/v4/v1/chat/completions, so the base "
                        "URL is wrong.")
    assert lines[1].startswith(f"It has /v1 after /v4: set ZHIPUAI_BASE_URL={offline.base_url} ")
    _, lines = verdict(offline.api_key, offline.base_url + "/v1", "zh")
    assert lines[1].startswith("/v4 后面多了 /v1")


def test_another_wrong_path_is_told_what_a_base_url_ends_in(offline):
    code, lines = verdict(offline.api_key, offline.base_url.replace("/api/paas/v4", "/api/v4"))
    assert code == 1 and "HTTP 404 for /api/v4/chat/completions" in lines[0]
    assert "ends in /api/paas/v4" in lines[1]


def test_an_answer_that_is_not_glms_is_said_so():
    page = fake_response(502, b"<html>Bad Gateway</html>")
    code, lines = verdict("some.key-of-a-learner", "https://proxy.example/api/paas/v4",
                          post=lambda *a, **k: page)
    assert code == 1 and lines == [
        "HTTP 502 from proxy.example, and not a GLM answer: is "
        "https://proxy.example/api/paas/v4 the API's base URL? The general one is "
        "https://open.bigmodel.cn/api/paas/v4."]


def must_not_be_called(*args, **kwargs):
    raise AssertionError("doctor made a request")


@pytest.mark.parametrize("body", [b"<html><title>Log in to the Wi-Fi</title></html>",
                                  {"status": "ok"}, ["choices"], {"choices": "x", "error": None},
                                  b"null"])
def test_a_200_that_is_not_a_chat_completion_is_not_glm(body):
    page = fake_response(200, body)
    code, lines = verdict("some.key-of-a-learner", "https://portal.example/api/paas/v4",
                          post=lambda *a, **k: page)
    assert code == 1 and lines == [
        "HTTP 200 from portal.example, and not a GLM answer: is "
        "https://portal.example/api/paas/v4 the API's base URL? The general one is "
        "https://open.bigmodel.cn/api/paas/v4."]
    _, lines = verdict("some.key-of-a-learner", "https://portal.example/api/paas/v4", "zh",
                       post=lambda *a, **k: page)
    assert lines[0].startswith("portal.example 返回了 HTTP 200，但不是 GLM 的响应")


# -- no call made: one line, exit 2 ---------------------------------------------------------

def test_no_network_is_one_line_and_exit_2():
    ran = cli(key="some.key-of-a-learner", base_url=f"http://127.0.0.1:{closed_port()}/api/paas/v4")
    assert ran.returncode == 2 and ran.stderr == ""
    assert ran.stdout.count("\n") == 1 and ran.stdout.startswith("No answer from 127.0.0.1")
    ran = cli("--lang", "zh", key="some.key-of-a-learner",
              base_url=f"http://127.0.0.1:{closed_port()}/api/paas/v4")
    assert ran.returncode == 2 and ran.stdout.startswith("127.0.0.1 没有回应")


def test_a_timeout_is_one_line_and_exit_2():
    def hangs(*args, **kwargs):
        assert kwargs["timeout"] == 15
        raise requests.ReadTimeout("read timed out")
    lines = []
    code = doctor.run(environ={"ZHIPUAI_API_KEY": "some.key-of-a-learner"}, post=hangs,
                      out=lines.append)
    assert code == 2 and lines == [
        "No answer from open.bigmodel.cn: timed out after 15 s. Check the network, a proxy, "
        "or the host in the base URL."]


@pytest.mark.parametrize("base_url", ["open.bigmodel.cn/api/paas/v4", "ftp://example/api",
                                      "https:///api/paas/v4", "http://[::1/api"])
def test_a_base_url_that_is_no_url_is_one_line_and_exit_2(base_url):
    ran = cli("--base-url", base_url, key="some.key-of-a-learner")
    assert ran.returncode == 2 and ran.stderr == ""
    assert ran.stdout.startswith("The base URL must look like https://open.bigmodel.cn/api/paas/v4")
    assert ran.stdout.count("\n") == 1


def test_a_base_url_with_chat_completions_is_told_where_to_stop():
    ran = cli("--base-url", "https://open.bigmodel.cn/api/paas/v4/chat/completions",
              key="some.key-of-a-learner")
    assert ran.returncode == 2 and ran.stdout == (
        "The base URL stops before /chat/completions: use https://open.bigmodel.cn/api/paas/v4.\n")


BAD_KEYS = ["abcd1234\u3002qwzxpart", "abcd1234.qwzx\npart", "abcd1234.qwzx\tpart",
            "abcd1234.qwzé", "abcd1234qwzxpart", "abcd.1234.qwzx", ".qwzxpart",
            "abcd1234.", "abcd 1234.qwzxpart"]


@pytest.mark.parametrize("key", BAD_KEYS, ids=range(len(BAD_KEYS)))
def test_a_key_that_is_no_key_is_one_line_exit_2_and_not_echoed(key):
    for lang, start in (("en", "ZHIPUAI_API_KEY is not a key of the form <id>.<secret>"),
                        ("zh", "ZHIPUAI_API_KEY 不是 <id>.<secret> 形式的密钥")):
        lines = []
        code = doctor.run(lang=lang, environ={"ZHIPUAI_API_KEY": key}, post=must_not_be_called,
                          out=lines.append)
        assert code == 2 and len(lines) == 1 and lines[0].startswith(start)
        assert not any(piece in lines[0] for piece in ("abcd", "1234", "qwz"))


@pytest.mark.parametrize("key", BAD_KEYS[:3], ids=["chinese-full-stop", "newline", "tab"])
def test_a_pasted_key_with_a_stray_character_is_no_traceback(offline, key):
    ran = cli(key=key, base_url=offline.base_url)
    assert ran.returncode == 2 and ran.stderr == "" and ran.stdout.count("\n") == 1
    assert ran.stdout.startswith("ZHIPUAI_API_KEY is not a key of the form <id>.<secret>")


@pytest.mark.parametrize("base_url", ["http://open.bigmodel.cn/api/paas/v4",
                                      "http://10.0.0.7:8000/api/paas/v4",
                                      "HTTP://api.z.ai/api/paas/v4"])
def test_a_key_is_never_sent_in_clear_to_another_machine(base_url):
    for lang, start in (("en", "Refused to send the key over plain http:// to "),
                        ("zh", "不会通过明文 http:// 把密钥发给 ")):
        lines = []
        code = doctor.run(base_url, lang, environ={"ZHIPUAI_API_KEY": LEARNER_KEY},
                          post=must_not_be_called, out=lines.append)
        assert code == 2 and len(lines) == 1 and lines[0].startswith(start)
        assert "https://" in lines[0]


def test_plain_http_to_this_machine_is_allowed():
    answer = fake_response(200, {"choices": [{"message": {"content": "p"}}]})
    for base_url in ("http://localhost:8000/api/paas/v4", "http://127.0.0.1:8000/api/paas/v4",
                     "http://[::1]:8000/api/paas/v4"):
        code, _ = verdict(LEARNER_KEY, base_url, post=lambda *a, **k: answer)
        assert code == 0


def test_no_key_is_one_line_and_exit_2():
    ran = cli()
    assert ran.returncode == 2 and ran.stderr == ""
    assert ran.stdout.startswith("ZHIPUAI_API_KEY is not set") and ran.stdout.count("\n") == 1


@pytest.mark.parametrize("args", [["--api-key", LEARNER_KEY], [f"--key={LEARNER_KEY}"],
                                  [LEARNER_KEY], ["--lang", "zh", LEARNER_KEY]])
def test_a_key_on_the_command_line_is_refused_and_not_echoed(args):
    ran = cli(*args)
    assert ran.returncode == 2 and ran.stderr == "" and ran.stdout.count("\n") == 1
    assert ran.stdout.startswith(("doctor takes no key on the command line", "doctor 不接受"))
    assert not any(piece in ran.stdout for piece in LEARNER_KEY.split("."))


# -- the key is never shown ----------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_key_is_never_printed_whatever_the_verdict(offline, lang):
    runs = [cli("--lang", lang, key=offline.api_key, base_url=offline.base_url),
            cli("--lang", lang, key=glm_offline.OFFLINE_KEYS["zai"], base_url=offline.base_url),
            cli("--lang", lang, key=LEARNER_KEY, base_url=offline.base_url + "/v1"),
            cli("--lang", lang, key=LEARNER_KEY,
                base_url=f"http://127.0.0.1:{closed_port()}/api/paas/v4"),
            # a base URL that holds the key (pasted in the wrong place) is shown without it
            cli("--lang", lang, key=LEARNER_KEY, base_url=f"{LEARNER_KEY}/api/paas/v4")]
    assert [ran.returncode for ran in runs] == [0, 1, 1, 2, 2]
    for ran in runs:
        for piece in (LEARNER_KEY, *LEARNER_KEY.split("."), *offline.api_key.split("."),
                      glm_offline.OFFLINE_KEYS["zai"].split(".")[0]):
            assert piece not in ran.stdout + ran.stderr
        assert "Traceback" not in ran.stderr


def test_help_works():
    ran = cli("--help")
    assert ran.returncode == 0 and "ZHIPUAI_API_KEY" in ran.stdout and "--lang" in ran.stdout

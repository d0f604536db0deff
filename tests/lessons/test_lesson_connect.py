"""The one-line setup of lessons 02 onwards: glm_lessons.connect()."""

import pytest
import requests.sessions

import glm_offline
from glm_lessons import environment, live_errors, model_watch, shared_server
from glm_lessons.lesson import LiveStandIn, connect
from glm_offline.wire import LIVE_BASE_URL


@pytest.fixture(autouse=True)
def unwatched(monkeypatch):
    """Live connect() installs model_watch's hook for this process: undo it after each test."""
    monkeypatch.setattr(requests.sessions, "default_hooks", requests.sessions.default_hooks)
    monkeypatch.setitem(model_watch._watching, "base_url", None)
    monkeypatch.setitem(live_errors._watching, "base_url", None)


def test_offline_gives_the_kernels_recorded_server(capsys):
    base_url, api_key, server = connect("en", environ={})
    assert server is shared_server()
    assert (base_url, api_key) == (server.base_url, glm_offline.OFFLINE_API_KEY)
    assert capsys.readouterr().out == (
        "Mode: offline (no ZHIPUAI_API_KEY set), recorded GLM responses from a local server\n")


def test_live_gives_the_key_the_default_base_url_and_a_stand_in(capsys):
    base_url, api_key, server = connect("zh", environ={"ZHIPUAI_API_KEY": " abc.def \n"})
    assert (base_url, api_key) == ("https://open.bigmodel.cn/api/paas/v4", "abc.def")
    assert isinstance(server, LiveStandIn)
    assert capsys.readouterr().out == (
        "模式：在线（已设置 ZHIPUAI_API_KEY；设置 GLM_OFFLINE=1 可回到离线），"
        "请求发往 open.bigmodel.cn\n")


def test_live_base_url_comes_from_the_environment(capsys):
    base_url, _, _ = connect("en", environ={"ZHIPUAI_API_KEY": "abc.def",
                                            "ZHIPUAI_BASE_URL": "https://api.z.ai/api/paas/v4"})
    assert base_url == "https://api.z.ai/api/paas/v4"
    assert capsys.readouterr().out == (
        "Mode: live (ZHIPUAI_API_KEY set; GLM_OFFLINE=1 goes back offline), "
        "requests go to api.z.ai\n")


@pytest.mark.parametrize("flag", ["1", " true ", "ON"])
def test_glm_offline_forces_offline_with_a_key_set_and_says_so(flag, capsys):
    base_url, api_key, server = connect("en", environ={"ZHIPUAI_API_KEY": "abc.def",
                                                       "GLM_OFFLINE": flag})
    assert server is shared_server()
    assert (base_url, api_key) == (server.base_url, glm_offline.OFFLINE_API_KEY)
    assert capsys.readouterr().out == (f"Mode: offline (GLM_OFFLINE={flag.strip()}, "
                                       "ZHIPUAI_API_KEY ignored), recorded GLM responses "
                                       "from a local server\n")


def test_glm_offline_says_so_in_chinese(capsys):
    connect("zh", environ={"ZHIPUAI_API_KEY": "abc.def", "GLM_OFFLINE": "1"})
    assert capsys.readouterr().out == (
        "模式：离线（GLM_OFFLINE=1，已忽略 ZHIPUAI_API_KEY），由本地服务器回放录制好的 GLM 响应\n")


def test_glm_offline_without_a_key_gives_the_plain_offline_reason(capsys):
    connect("en", environ={"GLM_OFFLINE": "1"})
    assert capsys.readouterr().out.startswith("Mode: offline (no ZHIPUAI_API_KEY set), ")


@pytest.mark.parametrize("flag", ["0", "", "  ", "false", "off"])
def test_glm_offline_off_or_empty_leaves_the_key_live(flag, capsys):
    base_url, api_key, server = connect("en", environ={"ZHIPUAI_API_KEY": "abc.def",
                                                       "GLM_OFFLINE": flag})
    assert (base_url, api_key) == ("https://open.bigmodel.cn/api/paas/v4", "abc.def")
    assert isinstance(server, LiveStandIn)
    assert capsys.readouterr().out.startswith("Mode: live (")


def test_the_stand_ins_offline_only_demos_say_so_in_one_line_and_do_nothing(capsys):
    stand_in = LiveStandIn("https://api.z.ai/api/paas/v4", "en")
    assert stand_in.inject("server_error", times=2) is None
    with stand_in.configured(chunking="hostile") as same:
        assert same is stand_in
    assert stand_in.wait_for_exchanges(3) == []
    assert stand_in.offline_keys() == {}  # lesson 01 sends the made-up keys to none live
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(line.startswith("(live mode: ") for line in lines)
    assert "injecting a fault" in lines[0] and "made-up keys" in lines[3]


def test_the_recorded_server_offers_its_made_up_keys_of_each_kind():
    keys = shared_server().offline_keys()
    assert keys == glm_offline.OFFLINE_KEYS and keys is not glm_offline.OFFLINE_KEYS
    assert {"coding_plan", "zai"} <= set(keys)


@pytest.mark.parametrize("language, environ, message", [
    ("fr", {}, "language must be one of"),
    ("en", {"ZHIPUAI_API_KEY": "a.b", "ZHIPUAI_BASE_URL": "open.bigmodel.cn"}, "must start with"),
    # never guessed: a value that is not clearly on or off is refused, with the key or without
    ("en", {"ZHIPUAI_API_KEY": "a.b", "GLM_OFFLINE": "offline"},
     r"GLM_OFFLINE must be one of 1/true/yes/on or 0/false/no/off, not 'offline'"),
    ("zh", {"GLM_OFFLINE": "2"}, "GLM_OFFLINE must be one of"),
])
def test_bad_settings_get_a_one_line_error(language, environ, message):
    with pytest.raises(ValueError, match=message):
        connect(language, environ=environ)


def test_offline_points_the_two_variables_at_the_server(capsys):
    environ = {}
    base_url, api_key, _ = connect("en", environ=environ)
    assert environ["ZHIPUAI_API_KEY"] == api_key and environ["ZHIPUAI_BASE_URL"] == base_url
    connect("en", environ=environ)  # run again: the exported key is not taken for a live one
    assert capsys.readouterr().out.splitlines()[-1].startswith("Mode: offline (no ZHIPUAI_API_KEY")


def test_going_live_again_gets_the_learners_own_variables_back(capsys):
    environ = {"ZHIPUAI_API_KEY": "abc.def", "ZHIPUAI_BASE_URL": "https://api.z.ai/api/paas/v4",
               "GLM_OFFLINE": "1"}
    _, offline_key, _ = connect("en", environ=environ)
    assert environ["ZHIPUAI_API_KEY"] == offline_key != "abc.def"
    environ["GLM_OFFLINE"] = "0"
    base_url, api_key, _ = connect("en", environ=environ)
    assert (base_url, api_key) == ("https://api.z.ai/api/paas/v4", "abc.def")
    assert {k: v for k, v in environ.items() if k.startswith("ZHIPUAI")} == {
        "ZHIPUAI_API_KEY": "abc.def", "ZHIPUAI_BASE_URL": "https://api.z.ai/api/paas/v4"}
    assert not [k for k in environ if k.startswith("GLM_LESSONS")]


def test_a_key_the_learner_sets_after_going_offline_is_their_own(capsys):
    environ = {}
    connect("en", environ=environ)
    environ["ZHIPUAI_API_KEY"] = "abc.def"  # %env ZHIPUAI_API_KEY=... in the notebook
    base_url, api_key, _ = connect("en", environ=environ)
    assert (base_url, api_key) == (LIVE_BASE_URL, "abc.def")  # not to the local server
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Mode: live (ZHIPUAI_API_KEY set; GLM_OFFLINE=1 goes back offline), "
        "requests go to open.bigmodel.cn")
    assert "ZHIPUAI_BASE_URL" not in environ


def test_a_key_set_after_going_offline_gets_the_learners_base_url_back(capsys):
    environ = {"ZHIPUAI_BASE_URL": "https://api.z.ai/api/paas/v4"}
    connect("en", environ=environ)
    environ["ZHIPUAI_API_KEY"] = "abc.def"
    base_url, api_key, _ = connect("en", environ=environ)
    assert (base_url, api_key) == ("https://api.z.ai/api/paas/v4", "abc.def")


def test_a_base_url_the_learner_sets_after_going_offline_is_their_own(capsys):
    environ = {}
    _, offline_key, _ = connect("en", environ=environ)
    environ["ZHIPUAI_BASE_URL"] = "https://api.z.ai/api/paas/v4"
    connect("en", environ=environ)  # still offline: the exported key is put away, not kept
    assert environ["ZHIPUAI_BASE_URL"] != "https://api.z.ai/api/paas/v4"
    environment.restore(environ)
    assert environ == {"ZHIPUAI_BASE_URL": "https://api.z.ai/api/paas/v4"}


def test_pointed_at_sets_both_for_a_block_and_puts_back_what_was_there():
    server = LiveStandIn("http://127.0.0.1:9/api/paas/v4")
    server.api_key = "offline.key"
    environ = {"ZHIPUAI_API_KEY": "abc.def", "OTHER": "x"}
    with environment.pointed_at(server, environ):
        assert (environ["ZHIPUAI_API_KEY"], environ["ZHIPUAI_BASE_URL"]) == (
            "offline.key", "http://127.0.0.1:9/api/paas/v4")
    assert environ == {"ZHIPUAI_API_KEY": "abc.def", "OTHER": "x"}

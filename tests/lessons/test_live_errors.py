"""Live mode, no network or a refused key: the failed call ends in one line, not a traceback."""

import os
import socket

import nbformat
import pytest
import requests

import execute_notebooks
import glm_offline
from glm_lessons import live_errors

BASE_URL = "https://open.bigmodel.cn/api/paas/v4"
UNREACHABLE = {
    "en": "Live mode: could not connect to {host}. Check the network, or go back offline: "
          "run %env GLM_OFFLINE=1, then the first cell again.",
    "zh": "在线模式：无法连接 {host}。请检查网络，或回到离线模式："
          "运行 %env GLM_OFFLINE=1，再重新运行第一个代码单元。",
}
REFUSED = {
    "en": "Live mode: {host} refused ZHIPUAI_API_KEY (401). Check the key, or go back offline: "
          "run %env GLM_OFFLINE=1, then the first cell again.",
    "zh": "在线模式：{host} 拒绝了 ZHIPUAI_API_KEY（401）。请检查密钥，或回到离线模式："
          "运行 %env GLM_OFFLINE=1，再重新运行第一个代码单元。",
}
CELL_TIMEOUT_S = 120  # a bound for a loaded machine, not a wait: the cells end in seconds


@pytest.fixture
def watching(monkeypatch):
    monkeypatch.setitem(live_errors._watching, "base_url", None)
    live_errors.watch(BASE_URL, "en")  # outside IPython: only remembers the base URL


def failed(url, status=None):
    """The exception requests raises for a call to url: a ConnectionError, or an HTTPError."""
    request = requests.Request("POST", url).prepare()
    if status is None:
        return requests.exceptions.ConnectionError("refused", request=request)
    response = requests.Response()
    response.status_code, response.url, response.request = status, url, request
    return requests.exceptions.HTTPError(f"{status} Client Error", response=response,
                                         request=request)


def test_a_connection_error_to_the_live_api_is_one_line(watching):
    assert live_errors.line_for(failed(BASE_URL + "/chat/completions")) == \
        UNREACHABLE["en"].format(host="open.bigmodel.cn")


def test_a_401_from_the_live_api_says_the_key_was_refused(watching):
    assert live_errors.line_for(failed(BASE_URL + "/chat/completions", 401)) == \
        REFUSED["en"].format(host="open.bigmodel.cn")


@pytest.mark.parametrize("error", [
    failed(BASE_URL + "/chat/completions", 400),  # the lesson's own mistake: its traceback
    failed(BASE_URL + "/chat/completions", 500),
    failed("https://example.com/v4/chat/completions"),  # not the GLM API
    failed("https://example.com/v4/chat/completions", 401),
])
def test_other_failures_keep_their_traceback(watching, error):
    assert live_errors.line_for(error) is None


def test_offline_nothing_is_shortened(watching):
    live_errors.unwatch()
    assert live_errors.line_for(failed(BASE_URL + "/chat/completions")) is None


@pytest.fixture
def closed_port():
    """A port nothing listens on: bound, never listening, so a connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def cell(source):
    return nbformat.v4.new_code_cell(source)


def test_in_a_kernel_each_failure_is_one_line_in_the_lessons_language(closed_port, tmp_path):
    dead = f"http://127.0.0.1:{closed_port}/api/paas/v4"
    body = '{"model": "glm-4.7-flash", "messages": [{"role": "user", "content": "hi"}]}'
    post = ('r = requests.post(f"{BASE_URL}/chat/completions", timeout=10, json=%s, '
            'headers={"Authorization": f"Bearer {API_KEY}"})\nr.raise_for_status()')
    with glm_offline.start(pacing="instant") as refusing:
        cells = [
            cell('import requests\nfrom glm_lessons import connect\n\n'
                 'BASE_URL, API_KEY, server = connect("en")'),  # the kernel's own environment
            cell(post % body),
            cell('BASE_URL, API_KEY, server = connect("zh", environ={"ZHIPUAI_API_KEY": '
                 f'"wrong.key", "ZHIPUAI_BASE_URL": "{refusing.base_url}"}})'),
            cell(post % body),  # 401 from the (recorded) API: the key was refused
            cell(f'API_KEY = "{refusing.api_key}"\n' + post % body.replace("glm-4.7", "nope")),
            cell("1 / 0"),
            cell('%env GLM_OFFLINE=1\nBASE_URL, API_KEY, server = connect("en")'),
            cell(f'BASE_URL, API_KEY = "{refusing.base_url}", "wrong.key"\n' + post % body),
        ]
        path = tmp_path / "live.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ZHIPUAI_", "GLM_OFFLINE"))}
        env.update(ZHIPUAI_API_KEY="wrong.key", ZHIPUAI_BASE_URL=dead)
        ran = execute_notebooks.run(path, env, timeout=CELL_TIMEOUT_S, allow_errors=True)
    outputs = [c.outputs for c in ran.cells]
    assert [o.output_type for o in outputs[1]] == ["error"]
    assert outputs[1][0].traceback == [UNREACHABLE["en"].format(host=f"127.0.0.1:{closed_port}")]
    assert outputs[1][0].ename == "ConnectionError"  # the cell still fails: Run All stops
    host = refusing.base_url.split("/")[2]
    assert [o.output_type for o in outputs[3]] == ["error"]
    assert outputs[3][0].traceback == [REFUSED["zh"].format(host=host)]
    # offline again (cell 6): the same 401 as in cell 3 keeps its usual traceback
    for index, ename in ((4, "HTTPError"), (5, "ZeroDivisionError"), (7, "HTTPError")):
        error = outputs[index][-1]  # the usual traceback: many lines
        assert error.output_type == "error" and error.ename == ename
        assert len("\n".join(error.traceback).splitlines()) > 5, (index, error.traceback)
    assert outputs[6][-1].text.splitlines()[-1].startswith(
        "Mode: offline (GLM_OFFLINE=1, ZHIPUAI_API_KEY ignored)")

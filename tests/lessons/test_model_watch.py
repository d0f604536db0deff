"""Live mode says, in one line, when an answer's model differs from the request's
(glm_lessons.model_watch, switched on by connect()): against a local recorded server whose
recording answers glm-4.7 with glm-5.3, as the coding plan does."""

import json

import pytest
import requests
import requests.sessions

import glm_offline
from glm_lessons import connect, model_watch

ASKED, ANSWERED = "glm-4.7", "glm-5.3"
QUESTION = [{"role": "user", "content": "Which model are you?"}]
CHUNK = {"id": "1", "created": 1, "object": "chat.completion.chunk", "model": ANSWERED,
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]}
LAST = {**CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "!"},
                              "finish_reason": "stop"}]}
EN_LINE = f"(live mode: asked for {ASKED}, the answer came from {ANSWERED})\n"


def interaction(name, body, response):
    return {"name": name, "request": {"method": "POST", "path": "/api/paas/v4/chat/completions",
                                      "body": body}, "response": response}


@pytest.fixture(scope="module")
def substituting_server(tmp_path_factory):
    """A recorded server that answers glm-4.7 with glm-5.3 (whole and streamed), and answers
    glm-5.3 with glm-5.3."""
    folder = tmp_path_factory.mktemp("substituting")
    whole = {"id": "1", "created": 1, "object": "chat.completion", "model": ANSWERED,
             "choices": [{"index": 0, "finish_reason": "stop",
                          "message": {"role": "assistant", "content": "Hi!"}}],
             "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}
    sse = [f"data: {json.dumps(CHUNK)}", "", f"data: {json.dumps(LAST)}", "", "data: [DONE]", ""]
    cassette = {"version": 1,
                "metadata": {"recorded_at": "2026-12-07", "model": ASKED,
                             "how": "written for tests: a substituted model"},
                "interactions": [
                    interaction("substituted", {"model": ASKED, "messages": QUESTION},
                                {"status": 200, "json": whole}),
                    interaction("substituted-stream",
                                {"model": ASKED, "messages": QUESTION, "stream": True},
                                {"status": 200, "sse": sse}),
                    interaction("same", {"model": ANSWERED, "messages": QUESTION},
                                {"status": 200, "json": whole})]}
    (folder / "substituted.json").write_text(json.dumps(cassette), encoding="utf-8")
    with glm_offline.start(cassette_dirs=[str(folder)], packaged_cassettes=False, strict=True,
                           pacing="instant", chunking="hostile") as server:
        yield server


@pytest.fixture(autouse=True)
def restored(monkeypatch):
    """Each test starts unwatched, and leaves requests' default hooks as they were."""
    monkeypatch.setattr(requests.sessions, "default_hooks", requests.sessions.default_hooks)
    monkeypatch.setitem(model_watch._watching, "base_url", None)
    monkeypatch.setitem(model_watch._watching, "language", "en")


def live(server, language, capsys):
    base_url, api_key, _ = connect(language, environ={"ZHIPUAI_API_KEY": server.api_key,
                                                      "ZHIPUAI_BASE_URL": server.base_url})
    capsys.readouterr()  # the mode line
    return base_url, {"Authorization": f"Bearer {api_key}"}


def test_a_substituted_answer_gets_one_line(substituting_server, capsys):
    base_url, headers = live(substituting_server, "en", capsys)
    response = requests.post(f"{base_url}/chat/completions", headers=headers, timeout=10,
                             json={"model": ASKED, "messages": QUESTION})
    assert response.json()["choices"][0]["message"]["content"] == "Hi!"
    assert capsys.readouterr().out == EN_LINE


def test_the_line_is_in_the_lessons_language(substituting_server, capsys):
    base_url, headers = live(substituting_server, "zh", capsys)
    requests.post(f"{base_url}/chat/completions", headers=headers, timeout=10,
                  json={"model": ASKED, "messages": QUESTION})
    assert capsys.readouterr().out == f"（在线模式：请求的是 {ASKED}，回答来自 {ANSWERED}）\n"


def test_a_stream_is_checked_at_its_first_event_and_reaches_the_learner_whole(
        substituting_server, capsys):
    base_url, headers = live(substituting_server, "en", capsys)
    response = requests.post(f"{base_url}/chat/completions", headers=headers, timeout=10,
                             json={"model": ASKED, "messages": QUESTION, "stream": True},
                             stream=True)
    assert capsys.readouterr().out == ""  # nothing is read before the learner reads
    lines = list(response.iter_lines())  # 1-5 byte pieces: the server chunks hostilely
    assert capsys.readouterr().out == EN_LINE
    assert lines == [f"data: {json.dumps(CHUNK)}".encode(), b"",
                     f"data: {json.dumps(LAST)}".encode(), b"", b"data: [DONE]", b""]


def test_the_same_model_and_offline_mode_print_nothing(substituting_server, capsys):
    base_url, headers = live(substituting_server, "en", capsys)
    requests.post(f"{base_url}/chat/completions", headers=headers, timeout=10,
                  json={"model": ANSWERED, "messages": QUESTION})
    assert capsys.readouterr().out == ""
    connect("en", environ={})  # offline: the kernel's own server; checking stops
    capsys.readouterr()
    requests.post(f"{base_url}/chat/completions", headers=headers, timeout=10,
                  json={"model": ASKED, "messages": QUESTION})
    assert capsys.readouterr().out == ""


def test_requests_elsewhere_are_not_checked(substituting_server, capsys):
    live(substituting_server, "en", capsys)
    model_watch.watch("http://127.0.0.1:1/api/paas/v4", "en")  # live mode pointed elsewhere
    requests.post(f"{substituting_server.base_url}/chat/completions", timeout=10,
                  headers={"Authorization": f"Bearer {substituting_server.api_key}"},
                  json={"model": ASKED, "messages": QUESTION})
    assert capsys.readouterr().out == ""

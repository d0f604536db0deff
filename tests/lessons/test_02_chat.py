"""Lesson 02's chat() and raise_for_glm_error(), taken from the notebook itself (the cells
tagged "lesson-chat"), in both languages: the helper a learner copies checks the HTTP status,
raises with GLM's error code and message, and passes a timeout. Expected values are written
out by hand, never computed by the lesson's code."""

import types

import pytest
import requests

from helpers import auth, fake_response, run_lesson_cells

LESSON = "02-chat-completions.ipynb"
LANGUAGES = ("en", "zh")
# the system prompt turn of section 3, as recorded
QUESTION = {"en": "What is an API?", "zh": "什么是 API？"}
SYSTEM = {"en": "You are a patient teacher. Explain things to a 12-year-old in at most two "
                "sentences.",
          "zh": "你是一位耐心的老师。用不超过两句话，向 12 岁的孩子解释问题。"}


class RecordingRequests(types.ModuleType):
    """`requests` as the lesson's cells see it, but remembering each post's keyword arguments."""

    def __init__(self):
        super().__init__("requests")
        self.__dict__.update(vars(requests))
        self.posts, self.post = [], self.remembered_post

    def remembered_post(self, *args, **kwargs):
        self.posts.append(kwargs)
        return requests.post(*args, **kwargs)


def chat_names(server, language, requests_module=requests):
    return run_lesson_cells(language, LESSON, ["lesson-chat"], {
        "requests": requests_module, "MODEL": "glm-4.7-flash", "HEADERS": auth(server.api_key),
        "CHAT_URL": f"{server.base_url}/chat/completions"})


def messages(language):
    return [{"role": "system", "content": SYSTEM[language]},
            {"role": "user", "content": QUESTION[language]}]


@pytest.mark.parametrize("language", LANGUAGES)
def test_chat_answers_a_recorded_request_with_its_body(module_server, language):
    body = chat_names(module_server, language).chat(messages(language))
    assert body["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("language", LANGUAGES)
def test_chat_raises_with_glms_code_and_message_on_a_refused_call(module_server, language):
    chat = chat_names(module_server, language).chat
    module_server.inject("rate_limit")
    with pytest.raises(requests.HTTPError) as caught:
        chat(messages(language))
    assert str(caught.value).startswith("HTTP 429, code 1302: ")
    assert caught.value.response.status_code == 429


@pytest.mark.parametrize("language", LANGUAGES)
def test_chat_names_the_code_of_a_misspelt_model(module_server, language):
    chat = chat_names(module_server, language).chat
    with pytest.raises(requests.HTTPError,
                       match=r"^HTTP 400, code 1211: 模型不存在，请检查模型代码。$"):
        chat(messages(language), model="glm-4.7-flahs")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_body_that_is_not_glms_still_gives_one_line(module_server, language):
    raise_for_glm_error = chat_names(module_server, language).raise_for_glm_error
    page = fake_response(502, b"<html>Bad gateway</html>", {"Content-Type": "text/html"})
    with pytest.raises(requests.HTTPError, match=r"^HTTP 502, code 502: <html>Bad gateway"):
        raise_for_glm_error(page)
    raise_for_glm_error(fake_response(200, {"choices": []}))  # a success passes


@pytest.mark.parametrize("language", LANGUAGES)
def test_chat_passes_a_timeout(module_server, language):
    spy = RecordingRequests()
    chat_names(module_server, language, spy).chat(messages(language))
    assert [post["timeout"] for post in spy.posts] == [30]

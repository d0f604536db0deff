"""Lesson 05's retry pieces and calls, tested from the notebook itself.

The cells tagged "glm-client" (is_retryable, backoff_delays: glm_client.py's own code, which
tests/lessons/test_lessons_teach_the_client.py keeps identical) and "retry-lesson" (the
lesson's chat call, its streamed call and its retry loop) are run here as they stand in each
language's notebook, so what a reader copies is what these tests cover. The streamed call is
fed thinking streams built by hand, without sockets; only the last test opens one, for a real
call through the recorded server.
"""

import json
import random
import time

import nbformat
import pytest
import requests

import glm_client
import glm_offline
from helpers import NOTEBOOKS, fake_response, run_lesson_cells

LESSON = "05-errors-and-retries.ipynb"
TAGS = ["glm-client", "retry-lesson"]
MODEL = "glm-4.7-flash"


class FakeStreamResponse:
    """What session.post(..., stream=True) returns, for a body given as byte chunks."""

    def __init__(self, chunks, status=200, body=None):
        self.chunks, self.status_code = list(chunks), status
        self.ok = status < 400
        self._body = body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def iter_content(self, chunk_size=None):
        yield from self.chunks

    def json(self):
        return self._body

    @property
    def text(self):
        return json.dumps(self._body)

    headers = {}
    reason = ""


class FakeSession:
    """Answers every post with the next of `responses`; remembers the bodies sent."""

    def __init__(self, *responses):
        self.responses, self.sent = list(responses), []

    def post(self, url, json=None, **options):
        self.sent.append(json)
        return self.responses.pop(0)


def load(language, session=None, chat_url="http://glm.invalid/chat/completions"):
    namespace = {"session": session, "CHAT_URL": chat_url,
                 "MODEL": MODEL, "days": [{"role": "user", "content": "days?"}],
                 # imported by an earlier, untagged cell of the lesson
                 "APIError": glm_client.APIError, "GLMError": glm_client.GLMError,
                 "api_error_from": glm_client.api_error_from}
    return run_lesson_cells(language, LESSON, TAGS, namespace)


@pytest.fixture(scope="module", params=["en", "zh"])
def lesson(request):
    return load(request.param)


def glm(status, code):
    return glm_client.APIError(status, code, "message")


def sse(*deltas, finish="stop", done=True):
    """The bytes of a stream: one chunk per delta, the last with finish_reason and usage."""
    events = []
    for position, delta in enumerate(deltas):
        choice = {"index": 0, "delta": delta}
        if position == len(deltas) - 1 and finish:
            choice["finish_reason"] = finish
        events.append({"id": "x", "model": MODEL, "choices": [choice]})
    raw = "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events)
    return (raw + ("data: [DONE]\n\n" if done else "")).encode()


# A glm-4.5-flash style first delta, reasoning-only deltas without a "content" key, the
# answer, and an empty last delta (docs/sources.md#thinking).
THINKING = sse({"role": "assistant", "content": "", "reasoning_content": "\n"},
               {"role": "assistant", "reasoning_content": "Seven days,"},
               {"role": "assistant", "reasoning_content": " Monday first."},
               {"role": "assistant", "content": "Monday"},
               {"role": "assistant", "content": ", Tuesday", "reasoning_content": ""},
               {"role": "assistant", "content": ""})


def test_the_notebook_tags_every_piece(lesson):
    for name in ("RETRY_CODES", "is_retryable", "backoff_delays", "chat", "stream_days",
                 "with_retries"):
        assert hasattr(lesson, name), f"no tagged cell defines {name}"


# -- is_retryable: the table of section 2 ------------------------------------------------------

@pytest.mark.parametrize("status, code", [(429, "1302"), (429, "1305"), (500, "1200"),
                                          (500, "1230"), (500, "1234"), (500, "500"),
                                          (502, "502"), (503, "503"), (429, "429")])
def test_passing_failures_are_retried(lesson, status, code):
    assert lesson.is_retryable(glm(status, code))


@pytest.mark.parametrize("status, code", [
    (401, "1000"), (401, "401"), (401, "1001"), (401, "1003"), (429, "1113"), (400, "1210"),
    (400, "1211"), (400, "1214"), (400, "1261"), (400, "1301"), (429, "1308"), (429, "1321"),
    (404, "404")])
def test_final_failures_are_never_retried(lesson, status, code):
    assert not lesson.is_retryable(glm(status, code))


def test_no_balance_is_not_a_rate_limit_although_both_are_429(lesson):
    assert lesson.is_retryable(glm(429, "1302"))
    assert not lesson.is_retryable(glm(429, "1113"))


@pytest.mark.parametrize("error", [requests.ConnectionError(), requests.ConnectTimeout(),
                                   requests.ReadTimeout(),
                                   requests.exceptions.ChunkedEncodingError(),
                                   glm_client.NetworkError("refused")])
def test_network_errors_before_an_answer_are_retried(lesson, error):
    assert lesson.is_retryable(error)


def test_a_half_delivered_answer_is_never_retried_even_when_cut_by_a_1302(lesson):
    partial = glm_client.IncompleteAnswer("cut", glm_client.Answer(content="Monday,"))
    partial.__cause__ = glm(200, "1302")
    assert not lesson.is_retryable(partial)


def test_anything_else_is_not_retried(lesson):
    assert not lesson.is_retryable(KeyError("choices"))


# -- backoff_delays: full jitter ------------------------------------------------------------

def test_the_ceilings_double_from_half_a_second_up_to_eight(lesson):
    assert list(lesson.backoff_delays(attempts=7, rng=lambda: 1.0)) == [
        0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_full_jitter_can_wait_nothing(lesson):
    assert list(lesson.backoff_delays(attempts=3, rng=lambda: 0.0)) == [0.0, 0.0, 0.0]


def test_each_wait_is_the_random_share_of_its_ceiling(lesson):
    shares = [0.25, 0.5, 0.75]
    rng = iter(shares).__next__
    assert list(lesson.backoff_delays(attempts=3, rng=rng)) == [0.125, 0.5, 1.5]


def test_attempts_gives_the_number_of_waits(lesson):
    assert len(list(lesson.backoff_delays(attempts=4, rng=lambda: 1.0))) == 4
    assert list(lesson.backoff_delays(attempts=0)) == []


# -- with_retries: the loop -----------------------------------------------------------------

def calls_from(outcomes):
    """A send() that raises or returns the given outcomes in order, counting its calls."""
    outcomes = list(outcomes)

    def send():
        send.count += 1
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome
    send.count = 0
    return send


def quiet(lesson, send, **options):
    """with_retries with a sleep that only records (the loop's own lines go to capsys)."""
    slept = []
    return lesson.with_retries(send, sleep=slept.append, rng=lambda: 1.0, **options), slept


def test_success_after_two_rate_limits(lesson):
    send = calls_from([glm(429, "1302"), glm(429, "1302"), "answer"])
    assert quiet(lesson, send) == ("answer", [0.5, 1.0])
    assert send.count == 3


def test_no_balance_is_raised_after_one_call_without_waiting(lesson):
    no_balance = glm(429, "1113")
    send = calls_from([no_balance, "never reached"])
    with pytest.raises(glm_client.APIError) as caught:
        quiet(lesson, send)
    assert caught.value is no_balance and send.count == 1


def test_attempts_cap_the_retries(lesson):
    send = calls_from([glm(503, "503")] * 10)
    with pytest.raises(glm_client.APIError):
        quiet(lesson, send, attempts=2)
    assert send.count == 3  # the first try and two retries


def test_network_errors_are_retried_by_the_loop(lesson):
    send = calls_from([requests.ConnectionError(), glm_client.NetworkError("cut"), "answer"])
    assert quiet(lesson, send)[0] == "answer"


def test_an_incomplete_answer_stops_the_loop(lesson):
    send = calls_from([glm_client.IncompleteAnswer("cut", glm_client.Answer()), "answer"])
    with pytest.raises(glm_client.IncompleteAnswer):
        quiet(lesson, send)
    assert send.count == 1


def test_unrelated_exceptions_pass_straight_through(lesson):
    send = calls_from([KeyError("choices"), "answer"])
    with pytest.raises(KeyError):
        quiet(lesson, send)
    assert send.count == 1


# -- chat and stream_days, fed thinking answers ---------------------------------------------

@pytest.mark.parametrize("language", ["en", "zh"])
def test_chat_returns_the_answer_apart_from_the_reasoning(language):
    body = {"choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Wait.",
                                     "reasoning_content": "The user asks..."}}]}
    session = FakeSession(fake_response(200, body))
    answer = load(language, session).chat([{"role": "user", "content": "?"}])
    assert (answer.content, answer.reasoning) == ("Wait.", "The user asks...")
    assert session.sent == [{"model": MODEL, "messages": [{"role": "user", "content": "?"}]}]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_chat_raises_the_business_code(language):
    body = {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}}
    lesson = load(language, FakeSession(fake_response(429, body)))
    with pytest.raises(glm_client.APIError) as caught:
        lesson.chat([])
    assert (caught.value.status, caught.value.code) == (429, "1113")


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("size", [None, 1, 7])
def test_stream_days_prints_only_the_answer_of_a_thinking_stream(language, size, capsys):
    chunks = [THINKING] if size is None else [THINKING[i:i + size]
                                              for i in range(0, len(THINKING), size)]
    load(language, FakeSession(FakeStreamResponse(chunks))).stream_days()
    assert capsys.readouterr().out == "Monday, Tuesday"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_stream_days_sends_a_streaming_request(language):
    session = FakeSession(FakeStreamResponse([THINKING]))
    load(language, session).stream_days()
    assert session.sent[0]["stream"] is True and session.sent[0]["model"] == MODEL


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_stream_cut_after_the_reasoning_keeps_it(language, capsys):
    cut = sse({"role": "assistant", "reasoning_content": "Seven days."},
              {"role": "assistant", "content": "Monday"}, finish=None, done=False)
    with pytest.raises(glm_client.IncompleteAnswer) as caught:
        load(language, FakeSession(FakeStreamResponse([cut]))).stream_days()
    assert caught.value.answer.reasoning == "Seven days."
    assert caught.value.answer.content == "Monday" == capsys.readouterr().out


@pytest.mark.parametrize("language", ["en", "zh"])
def test_stream_days_raises_the_error_of_a_refused_stream(language):
    body = {"error": {"code": "1302", "message": "您的账户已达到速率限制，请您控制请求频率"}}
    refused = FakeStreamResponse([], status=429, body=body)
    with pytest.raises(glm_client.APIError) as caught:
        load(language, FakeSession(refused)).stream_days()
    assert caught.value.code == "1302"


# -- a real call ------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["en", "zh"])
def test_with_retries_and_chat_against_the_recorded_server(language):
    prompt = {"en": "In one sentence, what should a program do when a server answers "
                    "'too many requests'?",
              "zh": "用一句话说说：服务器回答“请求过多”时，程序应该怎么做？"}[language]
    with glm_offline.start(strict=True, pacing="instant") as server:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {server.api_key}"
        lesson = load(language, session, server.base_url + "/chat/completions")
        server.inject("rate_limit", times=2)
        answer, slept = quiet(lesson, lambda: lesson.chat([{"role": "user", "content": prompt}]))
        assert answer.content and answer.finish_reason == "stop"
        assert answer.reasoning, "glm-4.7-flash thinks: the recording carries reasoning_content"
        assert slept == [0.5, 1.0]
        faults = [exchange.fault for exchange in server.wait_for_exchanges(3, timeout=5)]
        assert faults == ["rate_limit", "rate_limit", ""]


# -- the recipe: one standalone call with retries ---------------------------------------------

class RecipeRun:
    """The recipe cell run as a script would, requests.post answering with `answers` in order
    (a response, or an exception to raise): the waits it slept, the timeouts it posted with."""

    def __init__(self, language, answers, monkeypatch):
        (self.cell,) = [c for c in nbformat.read(NOTEBOOKS / language / LESSON,
                                                 as_version=4).cells
                        if "recipe" in c.metadata.get("tags", [])]
        self.answers, self.slept, self.timeouts = list(answers), [], []
        monkeypatch.setattr(requests, "post", self.post)
        monkeypatch.setattr(time, "sleep", self.slept.append)
        monkeypatch.setattr(random, "random", lambda: 1.0)  # each wait its whole ceiling
        monkeypatch.setenv("ZHIPUAI_API_KEY", "id.secret")

    def post(self, url, **options):
        self.timeouts.append(options.get("timeout"))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def __call__(self):
        exec(compile(self.cell.source, "recipe", "exec"), {"__name__": "__main__"})


def glm_body(status, code):
    return fake_response(status, {"error": {"code": code, "message": "message"}})


def answer_with(message):
    return fake_response(200, {"choices": [{"index": 0, "finish_reason": "stop",
                                            "message": message}]})


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_recipe_retries_a_passing_failure_after_growing_waits(language, monkeypatch, capsys):
    run = RecipeRun(language, [glm_body(429, "1302"), requests.ConnectionError(),
                               glm_body(500, "1234"),
                               fake_response(502, b"<html>Bad Gateway</html>"),
                               answer_with({"role": "assistant", "content": "Wait."})],
                    monkeypatch)
    run()
    assert run.slept == [0.5, 1.0, 2.0, 4.0]
    assert run.timeouts == [(5, 60)] * 5
    assert capsys.readouterr().out == "Wait.\n"


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("final", [(429, "1113"), (400, "1210"), (401, "1000"), (404, None)])
def test_the_recipe_gives_up_at_once_on_a_final_failure(language, final, monkeypatch):
    status, code = final
    refused = glm_body(status, code) if code else fake_response(404, {"error": "Not Found"})
    run = RecipeRun(language, [refused, answer_with({"content": "never asked"})], monkeypatch)
    with pytest.raises(SystemExit, match=f"HTTP {status}, code {code or '-'}"):
        run()
    assert run.slept == [] and len(run.timeouts) == 1


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_recipe_caps_its_retries_and_its_waits(language, monkeypatch):
    run = RecipeRun(language, [glm_body(503, "503")] * 10, monkeypatch)
    with pytest.raises(SystemExit, match="HTTP 503"):
        run()
    assert run.slept == [0.5, 1.0, 2.0, 4.0]  # four retries, then it gives up
    assert len(run.timeouts) == 5


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_recipe_prints_an_empty_answer_when_content_is_missing(language, monkeypatch, capsys):
    run = RecipeRun(language, [answer_with({"role": "assistant"})], monkeypatch)
    run()
    assert capsys.readouterr().out == "\n" and run.slept == []

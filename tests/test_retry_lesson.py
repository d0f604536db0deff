"""Lesson 05's retry policy, tested from the notebook itself.

The code cells tagged "retry-policy" (the exception, the error mapping, the retry decision,
the backoff schedule and the loop) are run here as they stand in each language's notebook,
so what a reader copies is what these tests cover. Only the last test opens a socket: its
point is a real call through the recorded server.
"""

import random
from pathlib import Path

import pytest
import requests

import glm_offline
from conftest import fake_response, run_lesson_cells, settled_history

ROOT = Path(__file__).resolve().parent.parent
LESSON = "05-errors-and-retries.ipynb"
TAG = "retry-policy"


def load_policy(language):
    # requests is imported by the lesson's first code cell
    return run_lesson_cells(language, LESSON, [TAG], {"requests": requests})


@pytest.fixture(scope="module", params=["en", "zh"])
def lesson(request):
    return load_policy(request.param)


def glm(lesson, status, code, retry_after_seconds=None):
    return lesson.GLMError(status, code, "message", retry_after_seconds)


class Clock:
    """Moves only when sleep() is called; remembers every sleep."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def calls_from(outcomes):
    """A call() that raises or returns the given outcomes in order, counting its calls."""
    outcomes = list(outcomes)

    def call():
        call.count += 1
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome
    call.count = 0
    return call


def quiet_retries(lesson, call, policy=None, clock=None, rng=lambda: 1.0):
    clock = clock or Clock()
    policy = policy or lesson.RetryPolicy()
    return lesson.with_retries(call, policy, sleep=clock.sleep, clock=clock.clock, rng=rng,
                               log=lambda message: None)


def test_the_notebook_tags_every_policy_cell(lesson):
    for name in ("GLMError", "raise_for_glm", "PartialAnswer", "NETWORK_ERRORS", "is_retryable",
                 "backoff_seconds", "RetryPolicy", "retry_delay", "with_retries"):
        assert hasattr(lesson, name), f"no tagged cell defines {name}"


# -- raise_for_glm: the error mapping ---------------------------------------------------------

def test_a_success_raises_nothing(lesson):
    assert lesson.raise_for_glm(fake_response(200, {"choices": []})) is None


def test_a_glm_error_body_gives_status_code_and_message(lesson):
    body = {"error": {"code": "1113", "message": "您的账户已欠费，请充值后重试。"}}
    with pytest.raises(lesson.GLMError) as caught:
        lesson.raise_for_glm(fake_response(429, body))
    error = caught.value
    assert (error.status, error.code) == (429, "1113")
    assert error.message == "您的账户已欠费，请充值后重试。"
    assert error.retry_after_seconds is None


def test_a_numeric_code_becomes_a_string(lesson):
    with pytest.raises(lesson.GLMError) as caught:
        lesson.raise_for_glm(fake_response(429, {"error": {"code": 1302, "message": "slow down"}}))
    assert caught.value.code == "1302"


def test_a_body_that_is_not_glms_uses_the_status_as_code(lesson):
    with pytest.raises(lesson.GLMError) as caught:
        lesson.raise_for_glm(fake_response(502, b"<html>Bad Gateway</html>"))
    assert (caught.value.status, caught.value.code) == (502, "502")
    assert "Bad Gateway" in caught.value.message


def test_retry_after_in_seconds_is_kept(lesson):
    with pytest.raises(lesson.GLMError) as caught:
        lesson.raise_for_glm(fake_response(429, {"error": {"code": "1305", "message": "busy"}},
                                           {"Retry-After": "3"}))
    assert caught.value.retry_after_seconds == 3


def test_retry_after_as_a_date_is_ignored(lesson):
    with pytest.raises(lesson.GLMError) as caught:
        lesson.raise_for_glm(fake_response(503, {"error": {"code": "503", "message": "down"}},
                                           {"Retry-After": "Wed, 25 Nov 2026 08:00:05 GMT"}))
    assert caught.value.retry_after_seconds is None


# -- is_retryable: decide from the code -------------------------------------------------------

@pytest.mark.parametrize("status, code", [(429, "1302"), (429, "1305"), (500, "1200"),
                                          (500, "1230"), (500, "1234")])
def test_passing_failures_are_retried(lesson, status, code):
    assert lesson.is_retryable(glm(lesson, status, code))


@pytest.mark.parametrize("status, code", [
    (401, "1000"), (401, "1001"), (401, "1002"), (401, "1003"), (401, "1004"), (401, "1005"),
    (400, "1210"), (400, "1211"), (400, "1213"), (400, "1214"), (400, "1261"), (400, "1301"),
    (429, "1113"), (429, "1308")])
def test_final_failures_are_never_retried(lesson, status, code):
    assert not lesson.is_retryable(glm(lesson, status, code))


def test_no_balance_is_not_a_rate_limit_although_both_are_429(lesson):
    assert lesson.is_retryable(glm(lesson, 429, "1302"))
    assert not lesson.is_retryable(glm(lesson, 429, "1113"))


@pytest.mark.parametrize("status, expected", [(429, True), (500, True), (502, True), (503, True),
                                              (504, True), (400, False), (401, False),
                                              (404, False), (413, False)])
def test_without_a_glm_code_the_status_decides(lesson, status, expected):
    assert lesson.is_retryable(glm(lesson, status, str(status))) is expected


@pytest.mark.parametrize("error", [requests.ConnectionError(), requests.ConnectTimeout(),
                                   requests.ReadTimeout(),
                                   requests.exceptions.ChunkedEncodingError()])
def test_network_errors_before_an_answer_are_retried(lesson, error):
    assert lesson.is_retryable(error)


def test_a_half_delivered_answer_is_never_retried(lesson):
    partial = lesson.PartialAnswer("Monday, Tuesday,")
    assert isinstance(partial, lesson.GLMError)
    assert partial.text == "Monday, Tuesday,"
    assert not lesson.is_retryable(partial)


# -- backoff_seconds: the schedule ------------------------------------------------------------

def test_backoff_doubles_up_to_the_cap(lesson):
    waits = [lesson.backoff_seconds(attempt, lambda: 1.0) for attempt in range(1, 8)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_never_waits_less_than_half(lesson):
    waits = [lesson.backoff_seconds(attempt, lambda: 0.0) for attempt in range(1, 6)]
    assert waits == [0.25, 0.5, 1.0, 2.0, 4.0]


def test_jitter_stays_between_half_and_all_of_the_ceiling(lesson):
    rng = random.Random(0).random
    for attempt in range(1, 10):
        ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
        for _ in range(50):
            assert ceiling / 2 <= lesson.backoff_seconds(attempt, rng) <= ceiling


def test_backoff_takes_base_and_cap(lesson):
    assert lesson.backoff_seconds(3, lambda: 1.0, base_seconds=1.0, cap_seconds=3.0) == 3.0


def test_the_lesson_schedule_is_the_printed_one(lesson):
    rng = random.Random(4).random
    waits = [round(lesson.backoff_seconds(attempt, rng), 2) for attempt in range(1, 5)]
    assert waits == [0.31, 0.55, 1.40, 2.31]


# -- retry_delay: when to stop ----------------------------------------------------------------

def test_a_retryable_error_gets_the_backoff(lesson):
    assert lesson.retry_delay(glm(lesson, 429, "1302"), 2, 0.0, lambda: 1.0) == 1.0


def test_a_final_error_gets_no_delay(lesson):
    assert lesson.retry_delay(glm(lesson, 429, "1113"), 1, 0.0, lambda: 1.0) is None


def test_no_delay_after_the_last_attempt(lesson):
    policy = lesson.RetryPolicy(max_attempts=3)
    error = glm(lesson, 503, "503")
    assert lesson.retry_delay(error, 2, 0.0, lambda: 1.0, policy) is not None
    assert lesson.retry_delay(error, 3, 0.0, lambda: 1.0, policy) is None


def test_no_delay_that_would_pass_the_total_time(lesson):
    policy = lesson.RetryPolicy(max_total_seconds=10)
    error = glm(lesson, 500, "1200")
    assert lesson.retry_delay(error, 1, 9.5, lambda: 1.0, policy) == 0.5  # ends exactly at 10
    assert lesson.retry_delay(error, 1, 9.6, lambda: 1.0, policy) is None


def test_retry_after_wins_over_the_formula(lesson):
    error = glm(lesson, 429, "1305", retry_after_seconds=30)
    assert lesson.retry_delay(error, 1, 0.0, lambda: 1.0) == 30


def test_retry_after_past_the_budget_gives_up(lesson):
    error = glm(lesson, 429, "1305", retry_after_seconds=3600)
    assert lesson.retry_delay(error, 1, 0.0, lambda: 1.0) is None


def test_retry_after_does_not_make_a_final_error_retryable(lesson):
    assert lesson.retry_delay(glm(lesson, 429, "1113", retry_after_seconds=1), 1, 0.0,
                              lambda: 1.0) is None


def test_network_errors_get_the_backoff(lesson):
    assert lesson.retry_delay(requests.ReadTimeout(), 1, 0.0, lambda: 1.0) == 0.5


# -- with_retries: the loop -------------------------------------------------------------------

def test_success_after_two_rate_limits(lesson):
    clock = Clock()
    call = calls_from([glm(lesson, 429, "1302"), glm(lesson, 429, "1302"), "answer"])
    assert quiet_retries(lesson, call, clock=clock) == "answer"
    assert call.count == 3
    assert clock.sleeps == [0.5, 1.0]


def test_a_final_error_is_raised_after_one_call(lesson):
    clock = Clock()
    no_balance = glm(lesson, 429, "1113")
    call = calls_from([no_balance, "never reached"])
    with pytest.raises(lesson.GLMError) as caught:
        quiet_retries(lesson, call, clock=clock)
    assert caught.value is no_balance
    assert call.count == 1 and clock.sleeps == []


def test_attempts_are_capped(lesson):
    clock = Clock()
    call = calls_from([glm(lesson, 503, "503")] * 10)
    with pytest.raises(lesson.GLMError):
        quiet_retries(lesson, call, lesson.RetryPolicy(max_attempts=4), clock)
    assert call.count == 4 and len(clock.sleeps) == 3


def test_total_time_is_capped(lesson):
    clock = Clock()
    call = calls_from([glm(lesson, 500, "1200")] * 10)
    with pytest.raises(lesson.GLMError):
        quiet_retries(lesson, call, lesson.RetryPolicy(max_attempts=10, max_total_seconds=3), clock)
    assert clock.sleeps == [0.5, 1.0]  # the next wait, 2.0, would end at 3.5
    assert clock.now <= 3


def test_the_loop_sleeps_what_retry_after_says(lesson):
    clock = Clock()
    call = calls_from([glm(lesson, 429, "1305", retry_after_seconds=3), "answer"])
    assert quiet_retries(lesson, call, clock=clock) == "answer"
    assert clock.sleeps == [3]


def test_network_errors_are_retried_by_the_loop(lesson):
    clock = Clock()
    call = calls_from([requests.ConnectionError(), requests.ReadTimeout(), "answer"])
    assert quiet_retries(lesson, call, clock=clock) == "answer"
    assert call.count == 3


def test_a_partial_answer_stops_the_loop(lesson):
    call = calls_from([lesson.PartialAnswer("Monday,"), "answer"])
    with pytest.raises(lesson.PartialAnswer):
        quiet_retries(lesson, call)
    assert call.count == 1


def test_unrelated_exceptions_pass_straight_through(lesson):
    call = calls_from([KeyError("choices"), "answer"])
    with pytest.raises(KeyError):
        quiet_retries(lesson, call)
    assert call.count == 1


def test_the_loop_logs_each_decision(lesson):
    messages = []
    call = calls_from([glm(lesson, 429, "1302"), glm(lesson, 429, "1113")])
    clock = Clock()
    with pytest.raises(lesson.GLMError):
        lesson.with_retries(call, sleep=clock.sleep, clock=clock.clock, rng=lambda: 1.0,
                            log=messages.append)
    assert len(messages) == 2
    assert "1302" in messages[0] and "0.50" in messages[0]
    assert "1113" in messages[1]


# -- a real call --------------------------------------------------------------------------------

def test_with_retries_against_the_recorded_server(lesson):
    prompt = "In one sentence, what should a program do when a server answers 'too many requests'?"
    body = {"model": "glm-4-flash-250414", "messages": [{"role": "user", "content": prompt}]}
    with glm_offline.start(strict=True, pacing="instant") as server:
        server.inject("rate_limit", times=2)

        def call():
            response = requests.post(server.base_url + "/chat/completions", json=body, timeout=10,
                                     headers={"Authorization": f"Bearer {server.api_key}"})
            lesson.raise_for_glm(response)
            return response.json()["choices"][0]["message"]["content"]

        clock = Clock()
        answer = quiet_retries(lesson, call, clock=clock)
        assert answer.startswith("Wait a little")
        assert clock.sleeps == [0.5, 1.0]
        faults = [exchange.fault for exchange in settled_history(server, 3)]
        assert faults == ["rate_limit", "rate_limit", ""]

"""Lesson 08's async-task code, taken from the notebook (cells tagged "lesson-async") and run
against a strict recorded server: refusals are APIErrors, every wait ends, a failed task and
a thinking model's task are read without KeyError, and the several-tasks section keeps its cap.
"""

import threading
import time

import pytest

import glm_client
import glm_offline
from helpers import run_lesson_cells

LESSON = "08-async-chat.ipynb"
STORY = {"en": "Write a three-sentence story about a lighthouse keeper.",
         "zh": "写一个关于灯塔看守人的三句话小故事。"}
QUESTIONS = {"en": ["What is the capital of France? Answer in one word.",
                    "What is 12 times 12? Reply with the number only.",
                    "Name one primary colour. One word only."],
             "zh": ["法国的首都是哪里？只用一个词回答。", "12 乘以 12 等于多少？只回答数字。",
                    "说出一种三原色，只用一个词。"]}
ANSWERS = {"en": ["Paris.", "144", "Red."], "zh": ["巴黎。", "144", "红色。"]}


@pytest.fixture(scope="module")
def server():
    with glm_offline.start(pacing="instant", strict=True) as running:
        yield running


def lesson(server, language="en", api_key=None):
    return run_lesson_cells(language, LESSON, ["lesson-async"], {
        "BASE_URL": server.base_url, "API_KEY": api_key or server.api_key})


def story_body(language="en"):
    return {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": STORY[language]}]}


class NoWait:
    """A clock that moves only when slept on, and never really sleeps."""

    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def time(self):
        return self.now


# -- refusals are errors, not records -----------------------------------------------------
def test_a_refused_submission_is_an_api_error_not_a_key_error(server):
    ns = lesson(server)
    server.inject("rate_limit")
    with pytest.raises(glm_client.APIError) as caught:
        ns.submit(story_body())
    assert (caught.value.status, caught.value.code) == (429, "1302")
    assert glm_client.is_retryable(caught.value)


def test_polling_an_unknown_task_is_an_api_error(server):
    with pytest.raises(glm_client.APIError) as caught:
        lesson(server).poll("no-such-task")
    assert caught.value.status == 404 and not glm_client.is_retryable(caught.value)


def test_polling_with_a_wrong_key_is_an_api_error(server):
    task = lesson(server).submit(story_body())
    wrong = lesson(server, api_key="wrong-id.0123456789abcdef0123456789abcdef")
    with pytest.raises(glm_client.APIError) as caught:
        wrong.poll(task["id"])
    assert caught.value.status == 401


# -- every wait ends --------------------------------------------------------------------
def test_wait_for_polls_until_done_with_the_backoff_delays(server):
    ns, clock = lesson(server), NoWait()
    task = ns.submit(story_body())  # its recording answers PROCESSING twice
    record = ns.wait_for(task["id"], sleep=clock.sleep, now=clock.time, rng=lambda: 0.5)
    assert record["task_status"] == "SUCCESS"
    assert clock.sleeps == [0.25, 0.5]  # half of the ceilings 0.5 s and 1 s


def test_wait_for_gives_up_before_a_sleep_that_would_pass_the_deadline(server):
    ns, clock = lesson(server), NoWait()
    task = ns.submit(story_body())
    with pytest.raises(TimeoutError):
        ns.wait_for(task["id"], deadline_s=0.7, sleep=clock.sleep, now=clock.time,
                    rng=lambda: 0.5)
    assert clock.sleeps == [0.25]  # 0.25 + 0.5 would end at 0.75 s
    assert ns.poll(task["id"])["task_status"] == "SUCCESS"  # the task went on


def test_wait_for_stops_at_max_polls_even_when_every_delay_is_zero(server):
    ns, clock = lesson(server), NoWait()
    polls = []

    def never_done(task_id):
        polls.append(task_id)
        if len(polls) > 100:  # a wait_for without a bound would loop forever
            raise AssertionError("wait_for did not stop")
        return {"task_status": "PROCESSING"}

    ns.wait_for.__globals__["poll"] = never_done
    with pytest.raises(TimeoutError):
        ns.wait_for("t", max_polls=5, sleep=clock.sleep, now=clock.time, rng=lambda: 0.0)
    assert len(polls) == 5 and clock.now == 0.0


# -- reading what a task ended with -------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_thinking_models_task_gives_its_reasoning_and_answer(server, language):
    ns, clock = lesson(server, language), NoWait()
    task = ns.submit(story_body(language))
    answer = ns.answer_of(ns.wait_for(task["id"], sleep=clock.sleep, now=clock.time))
    assert answer.reasoning and answer.content and answer.finish_reason == "stop"
    assert answer.usage["completion_tokens_details"]["reasoning_tokens"] > 0


def test_a_failed_task_is_a_clear_runtime_error(server):
    ns, clock = lesson(server), NoWait()
    server.inject("task_fail")
    task = ns.submit(story_body())
    record = ns.wait_for(task["id"], sleep=clock.sleep, now=clock.time)
    assert record["task_status"] == "FAIL" and "choices" not in record
    with pytest.raises(RuntimeError, match="FAIL"):
        ns.answer_of(record)


def test_an_unknown_status_is_not_read_as_an_answer(server):
    with pytest.raises(RuntimeError, match="CANCELLED"):
        lesson(server).answer_of({"task_status": "CANCELLED", "choices": []})


def test_a_success_without_reasoning_content_reads_as_empty_reasoning(server):
    record = {"task_status": "SUCCESS", "choices": [{"index": 0, "finish_reason": "stop",
                                                     "message": {"role": "assistant",
                                                                 "content": "Hi"}}]}
    answer = lesson(server).answer_of(record)
    assert (answer.content, answer.reasoning) == ("Hi", "")


# -- several tasks, a few at a time ------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "zh"])
def test_ask_all_returns_the_recorded_answers_in_question_order(server, language):
    ns = lesson(server, language)

    class Instant(NoWait):
        def __init__(self, seed):
            super().__init__()
            self.random = lambda: 0.5

    ns.ask_async.__globals__["PollClock"] = Instant
    answers = ns.ask_all(QUESTIONS[language])
    assert [answer.content for answer in answers] == ANSWERS[language]


def test_ask_all_keeps_at_most_max_open_tasks_open(server):
    ns = lesson(server)
    lock, open_now, most = threading.Lock(), [0], [0]

    def slow_ask(question):
        with lock:
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])
        time.sleep(0.1)
        with lock:
            open_now[0] -= 1
        return question.upper()

    ns.ask_all.__globals__["ask_async"] = slow_ask
    questions = [f"q{n}" for n in range(6)]
    assert ns.ask_all(questions) == [q.upper() for q in questions]
    assert most[0] == ns.MAX_OPEN == 2


def test_ask_all_runs_in_order_where_no_thread_can_start(server, monkeypatch, capsys):
    """The browser edition has no threads: connect() makes the pool run one call at a time
    (glm_lessons/browser/threads.py), and ask_all still gives every answer, in order."""
    import concurrent.futures

    from glm_lessons.browser import threads

    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", threads.InOrderExecutor)
    monkeypatch.setattr(threads.InOrderExecutor, "language", "zh")

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    ns = lesson(server, "zh")
    order = []

    def ask_in_order(question):
        order.append(question)
        return question[::-1]

    ns.ask_all.__globals__["ask_async"] = ask_in_order
    assert ns.ask_all(QUESTIONS["zh"]) == [q[::-1] for q in QUESTIONS["zh"]]
    assert order == QUESTIONS["zh"]
    assert capsys.readouterr().out == threads.LINES["zh"] + "\n"

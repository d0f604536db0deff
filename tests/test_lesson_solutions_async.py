"""Lesson 08's exercise checks take the solutions and refuse wrong answers (the wrong answers
take ask_async and poll as parameters, as the exercises ask, so the checks pass stand-ins).

A module of its own, so that the suite's workers run its waits beside the others' (the lesson's
teaching cells wait for real: its polling clock sleeps). Helpers: test_lesson_solutions.
"""


import re

import pytest

from test_lesson_solutions import CORRECT, checked, exercise, hints, refuses, run, taught

pytestmark = pytest.mark.usefixtures("urllib3_logger_restored")

UNCAPPED = """
import threading

def ask_all_threads(questions, ask_async=ask_async):
    answers = [None] * len(questions)

    def ask(index, question):
        answers[index] = ask_async(question)

    threads = [threading.Thread(target=ask, args=pair) for pair in enumerate(questions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers
"""

IN_FINISHING_ORDER = """
import threading

def ask_all_threads(questions, ask_async=ask_async):
    gate, answers = threading.Semaphore(MAX_OPEN), []

    def ask(question):
        with gate:
            answers.append(ask_async(question))

    threads = [threading.Thread(target=ask, args=(question,)) for question in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers
"""

SLEEPS_PER_TASK = """
def collect(task_ids, deadline_s=120, sleep=time.sleep, now=time.monotonic, rng=random.random,
            poll=poll):
    done, pending, give_up_at = {}, set(task_ids), now() + deadline_s
    delays = backoff_delays(attempts=60, rng=rng)
    while pending:
        for task_id in sorted(pending):
            record = poll(task_id)
            if record["task_status"] != "PROCESSING":
                done[task_id] = record
                pending.discard(task_id)
                continue
            delay = next(delays)
            if now() + delay > give_up_at:
                return done, pending
            sleep(delay)
    return done, pending
"""


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_08_checks_take_the_solutions_and_refuse_wrong_answers(language, lenient_server):
    name = "08-async-chat.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    code, answer, check = exercise(exercises, 1)
    assert hints(language, name, answer, check, namespace)
    run(code, namespace)  # a real task on the recorded server, after two refusals
    assert checked(language, name, check, namespace).startswith(CORRECT)
    run("def with_retries(send, *args, sleep=time.sleep, rng=random.random):\n"
        "    return send(*args)  # never retries", namespace)
    assert refuses(language, name, check, namespace)
    assert "1302" in checked(language, name, check, namespace)

    code, answer, check = exercise(exercises, 2)
    assert hints(language, name, answer, check, namespace)
    run(code, namespace)  # real tasks on the recorded server
    assert checked(language, name, check, namespace).startswith(CORRECT)
    for wrong, refusal in [(IN_FINISHING_ORDER, "order|顺序"), (UNCAPPED, "ask_async")]:
        run(wrong, namespace)
        assert refuses(language, name, check, namespace)
        assert re.search(refusal, checked(language, name, check, namespace))
    assert namespace["ask_async"].__name__ == "ask_async", "the learner's ask_async is kept"

    code, answer, check = exercise(exercises, 3)
    assert hints(language, name, answer, check, namespace)
    run(code, namespace)
    assert namespace["pending_question"] == namespace["questions"][0]  # the capital of France
    assert checked(language, name, check, namespace).startswith(CORRECT)
    assert namespace["poll"].__name__ == "poll", "the learner's poll is kept"
    namespace["pending_question"] = namespace["questions"][1]
    assert refuses(language, name, check, namespace)
    namespace["pending_question"] = namespace["questions"][0]
    run(SLEEPS_PER_TASK, namespace)
    assert refuses(language, name, check, namespace)

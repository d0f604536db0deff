"""Lesson 08's exercise checks take the solutions and refuse wrong answers.

A module of its own, so that the suite's workers run its waits beside the others' (the lesson's
teaching cells wait for real: its polling clock sleeps). Helpers: test_lesson_solutions.
"""


import pytest

from test_lesson_solutions import CORRECT, hints, run, solution_and_check, taught

pytestmark = pytest.mark.usefixtures("urllib3_logger_restored")

UNCAPPED = """
import threading

def ask_all_threads(questions):
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

def ask_all_threads(questions):
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
def collect(task_ids, deadline_s=120, sleep=time.sleep, now=time.monotonic, rng=random.random):
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
    namespace, exercises = taught(language, "08-async-chat.ipynb", lenient_server)
    code, check = solution_and_check(exercises, 2)
    assert hints(check, namespace)
    run(code, namespace)  # real tasks on the recorded server
    assert run(check, namespace).startswith(CORRECT)
    assert namespace["ask_async"].__name__ == "ask_async", "the check put ask_async back"
    for wrong, refusal in [(IN_FINISHING_ORDER, "order|顺序"), (UNCAPPED, "ask_async")]:
        run(wrong, namespace)
        with pytest.raises(AssertionError, match=refusal):
            run(check, namespace)

    code, check = solution_and_check(exercises, 3)
    assert hints(check, namespace)
    run(code, namespace)
    assert namespace["pending_question"] == namespace["questions"][0]  # the capital of France
    assert run(check, namespace).startswith(CORRECT)
    assert namespace["poll"].__name__ == "poll", "the check put poll back"
    namespace["pending_question"] = namespace["questions"][1]
    with pytest.raises(AssertionError):
        run(check, namespace)
    namespace["pending_question"] = namespace["questions"][0]
    run(SLEEPS_PER_TASK, namespace)
    with pytest.raises(AssertionError):
        run(check, namespace)

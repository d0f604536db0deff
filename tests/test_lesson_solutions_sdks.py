"""Lesson 09's deadline check is passed by a recorded silence, not by pacing.

A module of its own, so that the suite's workers run its waits beside the others' (the lesson's
teaching cells wait for real: the SDKs' retries sleep). Helpers: test_lesson_solutions.
"""


import pytest

from test_lesson_solutions import CORRECT, checked, exercise, hints, refuses, run, taught

pytestmark = pytest.mark.usefixtures("urllib3_logger_restored")

NEVER_LOOKS_AT_THE_CLOCK = """
def stream_within(client, messages, seconds):
    chunks = client.chat.completions.create(model=MODEL, messages=messages, stream=True)
    return "".join(choice.delta.content or "" for chunk in chunks for choice in chunk.choices)
"""


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_09_deadline_check_times_a_recorded_silence(language, lenient_server):
    """The check's deadline is passed by a 1-second stall the server injects, not by pacing."""
    name = "09-sdks.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    code, answer, check = exercise(exercises, 3)
    assert hints(language, name, answer, check, namespace)
    run(code, namespace)
    assert checked(language, name, check, namespace).startswith(CORRECT)
    run(NEVER_LOOKS_AT_THE_CLOCK, namespace)
    assert refuses(language, name, check, namespace)

"""The solutions printed in lessons 01 and 02 pass the lessons' own check cells, and a later
solution does not break an earlier one in the same kernel (issue 11: exercise 4 of lesson 02
once redefined chat() so that exercise 2's solution failed).

Each test runs the lesson's teaching cells (everything before "## Exercises", the setup cell
replaced by a recorded server of the test's own), then the solution's code block from the
Markdown, then the check cell that follows it.
"""

import contextlib
import io
import re
from pathlib import Path
from unittest import mock

import nbformat
import pytest

import glm_offline

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOLUTION = re.compile(r"```python\n(.*?)```", re.S)


pytestmark = pytest.mark.usefixtures("urllib3_logger_restored")


def lesson(language, name):
    cells = nbformat.read(NOTEBOOKS / language / name, as_version=4).cells
    start = next(i for i, c in enumerate(cells)
                 if c.cell_type == "markdown" and c.source.startswith(("## Exercises", "## 练习")))
    return cells[:start], cells[start:]


def run(source, namespace):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, "<lesson>", "exec"), namespace)
    return printed.getvalue()


_TAUGHT = {}  # (language, lesson, server) -> the namespace after the teaching cells


def taught(language, name, server):
    """A copy of the namespace after the lesson's teaching cells, against `server`, and the
    exercise cells. The teaching cells run once per lesson and server: each test gets its own
    copy of the names, so one test's solution is not in the next test's namespace."""
    key = (language, name, id(server))
    if key not in _TAUGHT:
        teaching, exercises = lesson(language, name)
        namespace = {"BASE_URL": server.base_url, "API_KEY": server.api_key, "server": server}
        # The lessons' demos wait for real: sleeps between retries and polls (lessons 08 and
        # 09), a server of their own at realistic pacing (lesson 05). Neither is needed to
        # build the names the checks use, so here they do not wait (the server never sleeps).
        started = glm_offline.start

        def instant_start(*args, **options):
            return started(*args, **{**options, "pacing": "instant"})

        with mock.patch("time.sleep", lambda seconds: None), \
                mock.patch.object(glm_offline, "start", instant_start):
            for index, cell in enumerate(teaching):
                if cell.cell_type == "code" and index != 2:  # cell 2: the setup, replaced
                    if "raises-exception" not in cell.metadata.get("tags", []):  # error demo
                        run(cell.source, namespace)
        _TAUGHT[key] = namespace, exercises
    namespace, exercises = _TAUGHT[key]
    return dict(namespace), exercises


def solution_and_check(exercises, number):
    """(the solution's code, the check cell after it) of exercise `number`."""
    at = next(i for i, c in enumerate(exercises)
              if c.cell_type == "markdown" and f"**{number}.**" in c.source)
    code = SOLUTION.findall(exercises[at].source.partition("</summary>")[2])[0]  # the solution
    check = next(c for c in exercises[at + 1:] if c.cell_type == "code"
                 and ("globals()" in c.source or "inspect.signature" in c.source))
    return code, check.source


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_01_solutions_pass_their_checks(language, lenient_server):
    namespace, exercises = taught(language, "01-keys-and-tokens.ipynb", lenient_server)
    for number in (2, 4):
        code, check = solution_and_check(exercises, number)
        run(code, namespace)
        assert run(check, namespace).strip().startswith(("Correct", "正确")), number


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_02_solutions_pass_their_checks_and_keep_earlier_ones_working(language,
                                                                             lenient_server):
    namespace, exercises = taught(language, "02-chat-completions.ipynb", lenient_server)
    code, check = solution_and_check(exercises, 3)
    with pytest.raises(ValueError, match="cut short"):
        run(code, namespace)  # the solution ends by showing the ValueError for `short`
    assert run(check, namespace).strip() in ("Correct", "正确")
    code, check = solution_and_check(exercises, 4)
    assert run(code, namespace).strip().endswith("1")  # one connection for the conversation
    assert run(check, namespace).strip() in ("Correct", "正确")
    # exercise 2's solution, run after exercise 4 redefined chat(), still works
    exercise_2 = SOLUTION.findall(next(c.source for c in exercises
                                       if c.cell_type == "markdown" and "**2.**" in c.source))[0]
    printed = run(exercise_2, namespace)
    assert namespace["third"]["choices"][0]["message"]["content"] in printed
    assert namespace["third"]["usage"]["prompt_tokens"] > \
        namespace["second"]["usage"]["prompt_tokens"]


# -- issue 13: the checks added to lessons 01-05 accept the solution and refuse a wrong answer --
# Each case: lesson, exercise, and a wrong answer run after the solution (written by hand here),
# which the same check must refuse.

WRONG_ANSWERS = {
    ("01-keys-and-tokens.ipynb", 3): "new_token_times = [0, 180]  # the 30-second answer",
    ("02-chat-completions.ipynb", 1): 'error_codes = [(400, "1210")] * 3',
    ("02-chat-completions.ipynb", 2): "third = first  # a turn sent without the conversation",
    ("03-streaming.ipynb", 1):
        'predicted = ([Event(data="a"), Event(data="b")], [Event(data="x")])',
    ("03-streaming.ipynb", 2): "stream_folded = stream_chat  # prints the reasoning",
    ("04-thinking-models.ipynb", 3): "def show_folded(chunks):\n    return show_stream(chunks)[1]",
    ("04-thinking-models.ipynb", 4):
        'follow_up = question + [reply["choices"][0]["message"], '
        '{"role": "user", "content": follow_up[-1]["content"]}]  # reasoning kept',
    ("05-errors-and-retries.ipynb", 1): "attempts_made = {1261: 3, 1234: 3}  # 1261 retried",
}


def refused(check, namespace):
    """True if the check cell fails or prints something other than its verdict of success."""
    try:
        printed = run(check, namespace)
    except AssertionError:
        return True
    return not printed.strip().startswith(("Correct", "正确"))


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("name", "number"), list(WRONG_ANSWERS))
def test_added_checks_accept_the_solution_and_refuse_a_wrong_answer(name, number, language,
                                                                    lenient_server):
    namespace, exercises = taught(language, name, lenient_server)
    code, check = solution_and_check(exercises, number)
    assert "globals().get(" in check
    unanswered = run(check, namespace)  # the hint, not a traceback
    assert "run this cell again" in unanswered or "再运行这个单元" in unanswered, unanswered
    run(code, namespace)
    assert run(check, namespace).strip() in ("Correct", "正确")
    run(WRONG_ANSWERS[name, number], namespace)
    assert refused(check, namespace)


# -- issue 13: the checks added to lessons 06-08 (several wrong answers each) --
CORRECT = ("Correct", "正确")


def hints(check, namespace):
    """The check, run before the answer exists, prints its one-line hint."""
    printed = run(check, namespace)
    return printed.count("\n") == 1 and ("run this cell again" in printed
                                           or "再运行这个单元" in printed)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_06_checks_take_the_solutions_and_refuse_wrong_answers(language, lenient_server):
    namespace, exercises = taught(language, "06-tool-calls.ipynb", lenient_server)
    code, check = solution_and_check(exercises, 1)
    assert hints(check, namespace)
    run(code, namespace)  # lenient: no recording answers the question about Paris
    assert run(check, namespace).startswith(CORRECT)
    namespace["paris"] = {"city": "Paris", "sky": "unknown"}  # a made-up weather, not an error
    with pytest.raises(AssertionError):
        run(check, namespace)

    code, check = solution_and_check(exercises, 3)
    assert hints(check, namespace)
    run(code, namespace)
    assert run(check, namespace).startswith(CORRECT)
    every_one_named = [{**piece, "id": "call_1"} for piece in namespace["pieces"]]
    namespace["pieces"] = every_one_named
    with pytest.raises(AssertionError, match="only the first|只有第一个"):
        run(check, namespace)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_07_connection_count_check(language, lenient_server):
    namespace, exercises = taught(language, "07-client.ipynb", lenient_server)
    code, check = solution_and_check(exercises, 3)
    assert hints(check, namespace)
    assert run(code, namespace).startswith("3")  # the solution counts itself, on the server
    assert run(check, namespace).startswith(CORRECT)
    namespace["unread_connections"] = 1  # what the client does with _read_to_end left alone
    with pytest.raises(AssertionError):
        run(check, namespace)

"""The solutions printed in the lessons pass the lessons' own checks (glm_lessons.checks), the
checks refuse wrong answers, and a later solution does not break an earlier one in the same
kernel (issue 11: exercise 4 of lesson 02 once redefined chat() so that exercise 2's solution
failed).

Each test runs the lesson's teaching cells (everything before "## Exercises", the setup cell
replaced by a recorded server of the test's own), then the solution's code block from the
Markdown, then calls the check directly: the method and the argument names are the ones of the
lesson's one-line check cell (`check.third(third, conversation, second)`), the arguments' values
the test's namespace.
"""

import ast
import contextlib
import io
import re
from pathlib import Path
from unittest import mock

import nbformat
import pytest

import glm_offline
from glm_lessons import exercise_checks

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOLUTION = re.compile(r"```python\n(.*?)```", re.S)
CORRECT = ("Correct", "正确")


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


def exercise(exercises, number):
    """(the solution's code, the answer cell, the check cell) of exercise `number`."""
    at = next(i for i, c in enumerate(exercises)
              if c.cell_type == "markdown" and f"**{number}.**" in c.source)
    code = SOLUTION.findall(exercises[at].source.partition("</summary>")[2])[0]  # the solution
    check = next(i for i in range(at + 1, len(exercises)) if exercises[i].cell_type == "code"
                 and exercises[i].source.startswith("check."))
    return code, exercises[check - 1].source, exercises[check].source


def checked(language, name, cell, namespace):
    """What the lesson's check prints, called directly as its one-line cell names it, with the
    cell's arguments looked up in `namespace`."""
    call = ast.parse(cell, mode="eval").body
    assert isinstance(call, ast.Call) and call.func.value.id == "check", cell
    arguments = [eval(compile(ast.Expression(argument), "<argument>", "eval"), namespace)
                 for argument in call.args]
    method = getattr(exercise_checks(language, lesson=name[:2]), call.func.attr)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert method(*arguments) is None  # a notebook shows only the printed line
    return printed.getvalue()


def hints(language, name, answer_cell, check_cell, namespace):
    """Run with the answer cell as the lesson gives it (`name = None`), the check prints its
    one-line hint."""
    run(answer_cell, namespace)
    printed = checked(language, name, check_cell, namespace)
    return printed.count("\n") == 1 and ("run this cell again" in printed
                                           or "再运行这个单元" in printed)


def refuses(language, name, check_cell, namespace):
    """The check prints one line, and not the verdict of success."""
    printed = checked(language, name, check_cell, namespace).strip("\n")
    return "\n" not in printed and not printed.startswith(CORRECT)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_01_solutions_pass_their_checks(language, lenient_server):
    name = "01-keys-and-tokens.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    for number in (2, 4):
        code, _, check = exercise(exercises, number)
        run(code, namespace)
        assert checked(language, name, check, namespace).startswith(CORRECT), number


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_01_forged_check_refuses_a_token_signed_with_the_real_secret(language,
                                                                           lenient_server):
    name = "01-keys-and-tokens.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    code, answer, check = exercise(exercises, 4)
    assert hints(language, name, answer, check, namespace)
    run(code.replace('"x" * 32', "secret"), namespace)  # the right secret: a valid token
    assert refuses(language, name, check, namespace)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_02_solutions_pass_their_checks_and_keep_earlier_ones_working(language,
                                                                             lenient_server):
    name = "02-chat-completions.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    code, _, check = exercise(exercises, 3)
    with pytest.raises(ValueError, match="cut short"):
        run(code, namespace)  # the solution ends by showing the ValueError for `short`
    assert checked(language, name, check, namespace).strip() in CORRECT
    code, _, check = exercise(exercises, 4)
    assert refuses(language, name, check, namespace)  # chat() has no session parameter yet
    assert run(code, namespace).strip().endswith("1")  # one connection for the conversation
    assert checked(language, name, check, namespace).strip() in CORRECT
    # exercise 2's solution, run after exercise 4 redefined chat(), still works
    exercise_2 = SOLUTION.findall(next(c.source for c in exercises
                                       if c.cell_type == "markdown" and "**2.**" in c.source))[0]
    printed = run(exercise_2, namespace)
    assert namespace["third"]["choices"][0]["message"]["content"] in printed
    assert namespace["third"]["usage"]["prompt_tokens"] > \
        namespace["second"]["usage"]["prompt_tokens"]


# -- issue 13: the checks of lessons 01-05 accept the solution and refuse a wrong answer --
# Each case: lesson, exercise, and a wrong answer run after the solution (written by hand here),
# which the same check must refuse.

WRONG_ANSWERS = {
    ("01-keys-and-tokens.ipynb", 2): "def token_seconds_left(token, now_ms):\n"
                                     "    return round((jwt.decode(token, options={"
                                     "'verify_signature': False})['exp'] - now_ms) / 1000)",
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
    ("05-errors-and-retries.ipynb", 3): """
def with_budget(send, max_total_seconds, sleep=time.sleep, clock=time.monotonic,
                rng=random.random):  # a cap on retries, not on time
    for delay in backoff_delays(attempts=4, rng=rng):
        try:
            return send()
        except APIError:
            sleep(delay)
    return send()
""",
    ("05-errors-and-retries.ipynb", 4): """
def stream_with_deadline(total_seconds, clock=time.monotonic):  # never looks at the clock
    body = {"model": MODEL, "messages": days, "stream": True}
    with session.post(CHAT_URL, json=body, stream=True, timeout=(5, 60)) as response:
        return Answer.from_chunks(iter_chunks(response))
""",
    ("10-capstone.ipynb", 1): "def run_tool_call_2(call):\n"
                              "    return {'role': 'tool', 'tool_call_id': call['id'], "
                              "'content': '{}'}  # runs no tool",
    ("10-capstone.ipynb", 2): "def over_budget(answer, budget):\n"
                              "    return bool(answer.usage)  # the budget never looked at",
}


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("name", "number"), list(WRONG_ANSWERS))
def test_checks_accept_the_solution_and_refuse_a_wrong_answer(name, number, language,
                                                              lenient_server, monkeypatch):
    monkeypatch.chdir(NOTEBOOKS / language)  # a kernel's folder: lesson 10 finds capstone/ there
    namespace, exercises = taught(language, name, lenient_server)
    code, answer, check = exercise(exercises, number)
    assert hints(language, name, answer, check, namespace)  # the hint, not a traceback
    run(code, namespace)
    assert checked(language, name, check, namespace).strip() in CORRECT
    run(WRONG_ANSWERS[name, number], namespace)
    assert refuses(language, name, check, namespace)


# -- issue 13: the checks of lessons 06-08 (several wrong answers each) --

@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_06_checks_take_the_solutions_and_refuse_wrong_answers(language, lenient_server):
    name = "06-tool-calls.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    code, answer, check = exercise(exercises, 1)
    assert hints(language, name, answer, check, namespace)
    run(code, namespace)  # lenient: no recording answers the question about Paris
    assert checked(language, name, check, namespace).startswith(CORRECT)
    namespace["paris"] = {"city": "Paris", "sky": "unknown"}  # a made-up weather, not an error
    assert refuses(language, name, check, namespace)

    _, _, check = exercise(exercises, 2)  # the lesson's parse_tool_call has no type check
    assert checked(language, name, check, namespace) in (
        'parse_tool_call() let celsius="26" through: add the type check above\n',
        'parse_tool_call() 放过了 celsius="26"：先在上面加上类型检查\n')

    code, answer, check = exercise(exercises, 3)
    assert hints(language, name, answer, check, namespace)
    run(code, namespace)
    assert checked(language, name, check, namespace).startswith(CORRECT)
    every_one_named = [{**piece, "id": "call_1"} for piece in namespace["pieces"]]
    namespace["pieces"] = every_one_named
    assert refuses(language, name, check, namespace)
    assert re.search("only the first|只有第一个", checked(language, name, check, namespace))

    code, answer, check = exercise(exercises, 4)
    assert hints(language, name, answer, check, namespace)
    run(code, namespace)  # run_conversation prints each tool result, then the verdict
    assert checked(language, name, check, namespace).splitlines()[-1].startswith(CORRECT)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_07_connection_count_check(language, lenient_server):
    name = "07-client.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    code, answer, check = exercise(exercises, 3)
    assert hints(language, name, answer, check, namespace)
    assert run(code, namespace).startswith("3")  # the solution counts itself, on the server
    assert checked(language, name, check, namespace).startswith(CORRECT)
    namespace["unread_connections"] = 1  # what the client does with _read_to_end left alone
    assert refuses(language, name, check, namespace)

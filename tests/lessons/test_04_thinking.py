"""Lesson 04's code, taken from the notebook itself, fed the streams thinking models send.

The cells tagged "thinking-stream" (show_stream, first_arrivals), "thinking-usage"
(reasoning_tokens) and "lesson-ask" (the session, ask() and stream()) are executed here, and the
checks that the "exercise-check" cells name are called with the cells' arguments, in both
languages, so the taught code is the tested code. Expected values are written
out by hand or read from the lesson's transcript spec, never computed by the lesson's code.
"""

import contextlib
import io
import json
import re
from pathlib import Path
from unittest import mock

import nbformat
import pytest
import requests

from glm_client import APIError, IncompleteAnswer, iter_chunks
from helpers import NOTEBOOKS, checked, lesson_cells, run_lesson_cells

LESSON = "04-thinking-models.ipynb"
LANGUAGES = ("en", "zh")
SPEC = Path(__file__).resolve().parents[2] / "contributors" / "cassette_specs" / "lesson-04.json"
GREY, RESET = "\x1b[38;5;245m", "\x1b[0m"  # glm_client.Printer's colours, written out


def lesson(language, *tags, **namespace):
    return run_lesson_cells(language, LESSON, list(tags), namespace)


def chunk(finish_reason=None, usage=None, **delta):
    """A stream chunk as GLM sends it: one choice, its delta, finish_reason and usage last."""
    choice = {"index": 0, "delta": delta}
    if finish_reason is not None:
        choice["finish_reason"] = finish_reason
    body = {"id": "t", "created": 0, "object": "chat.completion.chunk", "model": "glm-4.7-flash",
            "choices": [choice]}
    if usage is not None:
        body["usage"] = usage
    return body


def shown(show_stream, chunks):
    """(return value, what was printed) of the lesson's show_stream."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = show_stream(chunks)
    return result, printed.getvalue()


def recorded(name):
    """The spec of one of the lesson's recordings: its body, reasoning and answer pieces."""
    items = json.loads(SPEC.read_text(encoding="utf-8"))["interactions"]
    return next(item for item in items if item["name"] == name)


def sse_response(chunks, done=True):
    """A streaming requests.Response whose body is these chunks as SSE, without a socket."""
    lines = [f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks]
    body = "".join(lines + (["data: [DONE]\n\n"] if done else [])).encode("utf-8")
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = "text/event-stream;charset=UTF-8"
    response.raw = io.BytesIO(body)
    return response


# -- show_stream: the reasoning in grey (glm_client.Printer), then the answer ---------------

@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reasoning_delta_without_a_content_key_is_shown_in_grey(language):
    show_stream = lesson(language, "thinking-stream").show_stream
    chunks = [chunk(role="assistant", reasoning_content="Odd, so"),
              chunk(role="assistant", reasoning_content=" try 7."),
              chunk(role="assistant", content="No."),
              chunk("stop", {"completion_tokens": 3}, role="assistant", content="")]
    result, printed = shown(show_stream, chunks)
    assert result == ("Odd, so try 7.", "No.")
    assert printed == GREY + "Odd, so" + RESET + GREY + " try 7." + RESET + "\nNo.\n"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_first_delta_of_empty_content_and_a_newline_of_reasoning(language):
    """glm-4.5-flash's first delta: {"content": "", "reasoning_content": "\\n"}
    (docs/sources.md#thinking)."""
    show_stream = lesson(language, "thinking-stream").show_stream
    chunks = [chunk(role="assistant", content="", reasoning_content="\n"),
              chunk(role="assistant", reasoning_content="Odd."),
              chunk(role="assistant", content="No."),
              chunk("stop", role="assistant", content="")]
    result, printed = shown(show_stream, chunks)
    assert result == ("\nOdd.", "No.")
    assert printed == GREY + "\n" + RESET + GREY + "Odd." + RESET + "\nNo.\n"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_hand_over_delta_with_both_fields_starts_the_answer(language):
    """glm-4.5's hand-over chunk: "content": "." beside an empty reasoning_content."""
    show_stream = lesson(language, "thinking-stream").show_stream
    chunks = [chunk(role="assistant", reasoning_content="Hm."),
              chunk(role="assistant", content=".", reasoning_content=""),
              chunk(role="assistant", content="5", reasoning_content=""),
              chunk("stop", role="assistant", content="")]
    result, printed = shown(show_stream, chunks)
    assert result == ("Hm.", ".5")
    assert printed == GREY + "Hm." + RESET + "\n.5\n"


@pytest.mark.parametrize("language", LANGUAGES)
def test_null_fields_add_nothing(language):
    show_stream = lesson(language, "thinking-stream").show_stream
    chunks = [chunk(role="assistant", content=None, reasoning_content="R"),
              chunk(role="assistant", content="A", reasoning_content=None),
              chunk("stop")]  # a delta with nothing in it at all
    assert shown(show_stream, chunks) == (("R", "A"), GREY + "R" + RESET + "\nA\n")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_model_that_does_not_think_prints_only_the_answer(language):
    show_stream = lesson(language, "thinking-stream").show_stream
    chunks = [chunk(role="assistant", content="Hello"), chunk(role="assistant", content="!"),
              chunk("stop", role="assistant", content="")]
    # no reasoning: no grey, and no empty line before the answer
    assert shown(show_stream, chunks) == (("", "Hello!"), "Hello!\n")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_stream_cut_before_the_answer_raises_after_showing_only_reasoning(language):
    show_stream = lesson(language, "thinking-stream").show_stream
    response = sse_response([chunk(role="assistant", reasoning_content="Let me"),
                             chunk(role="assistant", reasoning_content=" think")], done=False)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(IncompleteAnswer) as caught:
        show_stream(iter_chunks(response))
    assert printed.getvalue() == GREY + "Let me" + RESET + GREY + " think" + RESET
    assert (caught.value.answer.reasoning, caught.value.answer.content) == ("Let me think", "")


# -- against the recorded server ---------------------------------------------------------------

def stream_body(language):
    return recorded(f"lesson04-stream-{language}")["body"]


def post_stream(server, body):
    return requests.post(f"{server.base_url}/chat/completions", json=body, stream=True,
                         timeout=(5, 10), headers={"Authorization": f"Bearer {server.api_key}"})


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_recorded_stream_splits_into_its_reasoning_and_its_answer(module_server, language):
    show_stream = lesson(language, "thinking-stream").show_stream
    spec = recorded(f"lesson04-stream-{language}")
    with module_server.configured(chunking="hostile", line_ending="crlf"):
        with post_stream(module_server, spec["body"]) as response:
            (reasoning, answer), printed = shown(show_stream, iter_chunks(response))
    assert (reasoning, answer) == ("".join(spec["reasoning"]), "".join(spec["answer"]))
    assert printed.endswith(RESET + "\n" + answer + "\n")
    assert re.sub(r"\x1b\[(38;5;245|0)m", "", printed) == reasoning + "\n" + answer + "\n"


@pytest.mark.parametrize("kind", ["no_done", "drop_mid_stream"])
def test_a_recorded_stream_cut_during_the_reasoning_is_incomplete(module_server, kind):
    show_stream = lesson("en", "thinking-stream").show_stream
    spec = recorded("lesson04-stream-en")
    module_server.inject(kind, after_events=20)
    with post_stream(module_server, spec["body"]) as response, \
            contextlib.redirect_stdout(io.StringIO()), pytest.raises(IncompleteAnswer) as caught:
        show_stream(iter_chunks(response))
    assert caught.value.answer.reasoning == "".join(spec["reasoning"][:20])
    assert caught.value.answer.content == ""


# -- ask() and stream(): helpers a learner copies check the status and have a timeout ---------

def helpers_of(server, language):
    """The lesson's session, ask() and stream(), pointed at `server`."""
    return lesson(language, "lesson-ask", BASE_URL=server.base_url, API_KEY=server.api_key)


def plain_question(language):
    return recorded(f"lesson04-plain-{language}")["body"]["messages"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_ask_raises_glms_code_and_message_when_the_call_is_refused(module_server, language):
    ask = helpers_of(module_server, language).ask
    module_server.inject("rate_limit")
    with pytest.raises(APIError) as caught:
        ask("glm-4.7-flash", plain_question(language))
    assert (caught.value.status, caught.value.code) == (429, "1302")
    assert caught.value.message


@pytest.mark.parametrize("language", LANGUAGES)
def test_ask_raises_the_1210_of_a_model_that_always_thinks(module_server, language):
    ask = helpers_of(module_server, language).ask
    with pytest.raises(APIError) as caught:
        ask("glm-5.3", plain_question(language), thinking={"type": "disabled"})
    assert (caught.value.status, caught.value.code) == (400, "1210")
    assert caught.value.message.startswith("该模型始终思考")


@pytest.mark.parametrize("language", LANGUAGES)
def test_stream_raises_before_any_chunk_when_the_call_is_refused(module_server, language):
    stream = helpers_of(module_server, language).stream
    module_server.inject("overloaded")
    with pytest.raises(APIError) as caught:
        next(stream(stream_body(language)))
    assert (caught.value.status, caught.value.code) == (429, "1305")


@pytest.mark.parametrize("language", LANGUAGES)
def test_ask_and_stream_pass_a_timeout(module_server, language):
    names = helpers_of(module_server, language)
    with mock.patch.object(names.session, "post", wraps=names.session.post) as post:
        names.ask("glm-4.7-flash", plain_question(language))
        assert len(list(names.stream(stream_body(language)))) > 1
    assert [call.kwargs["timeout"] for call in post.call_args_list] == [60, (5, 60)]


def test_ask_gives_up_after_its_read_timeout(module_server):
    ask = helpers_of(module_server, "en").ask
    module_server.inject("slow_first_byte", seconds=2)
    with pytest.raises(requests.ReadTimeout):
        ask("glm-4.7-flash", plain_question("en"), timeout=(5, 0.5))


# -- first_arrivals: two times to first token, on an injected clock ---------------------------

def clock_of(*readings):
    return iter(readings).__next__


@pytest.mark.parametrize("language", LANGUAGES)
def test_first_arrivals_reads_the_clock_once_per_chunk(language):
    first_arrivals = lesson(language, "thinking-stream").first_arrivals
    chunks = [chunk(role="assistant", content="", reasoning_content="\n"),  # reasoning at 0.5
              chunk(role="assistant", reasoning_content="Odd."),
              chunk(role="assistant", content="No."),  # the answer at 2.25
              chunk("stop", role="assistant", content="")]
    assert first_arrivals(chunks, clock=clock_of(10.0, 10.5, 11.0, 12.25, 13.0)) == (0.5, 2.25)


@pytest.mark.parametrize("language", LANGUAGES)
def test_first_arrivals_without_reasoning_or_without_an_answer(language):
    first_arrivals = lesson(language, "thinking-stream").first_arrivals
    answer_only = [chunk(role="assistant", content="Hi"), chunk("stop", content="")]
    assert first_arrivals(answer_only, clock=clock_of(0, 1, 2)) == (None, 1)
    cut_by_the_budget = [chunk(role="assistant", reasoning_content="Hm"),
                         chunk("length", role="assistant", content="")]
    assert first_arrivals(cut_by_the_budget, clock=clock_of(0, 3, 4)) == (3, None)


def test_first_arrivals_counts_the_recorded_reasoning_chunks(module_server):
    """The lesson's counter clock: the answer starts after the recording's reasoning pieces."""
    first_arrivals = lesson("en", "thinking-stream").first_arrivals
    spec = recorded("lesson04-stream-en")
    counter = iter(range(1000)).__next__
    with post_stream(module_server, spec["body"]) as response:
        assert first_arrivals(iter_chunks(response), clock=counter) == (
            1, len(spec["reasoning"]) + 1)


# -- reasoning_tokens ----------------------------------------------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
def test_reasoning_tokens_defaults_to_zero(language):
    reasoning_tokens = lesson(language, "thinking-usage").reasoning_tokens
    assert reasoning_tokens({"completion_tokens": 87,
                             "completion_tokens_details": {"reasoning_tokens": 63}}) == 63
    assert reasoning_tokens({"completion_tokens": 9}) == 0  # a model that does not think
    assert reasoning_tokens({"completion_tokens": 9, "completion_tokens_details": None}) == 0
    assert reasoning_tokens({"completion_tokens_details": {}}) == 0


# -- the exercises' checks accept the solutions and reject a wrong answer ---------------------

def solution(language, number):
    """The first code block of exercise `number`'s <details> solution."""
    cells = nbformat.read(NOTEBOOKS / language / LESSON, as_version=4).cells
    start = re.compile(rf"^\*\*{number}\.\*\*", re.M)
    text = next(c.source for c in cells if c.cell_type == "markdown" and start.search(c.source))
    details = text[start.search(text).start():]
    return re.search(r"```python\n(.*?)```", details, re.S).group(1)


def run_check(language, index, namespace):
    """What the check of the `index`-th "exercise-check" cell prints (glm_lessons.checks)."""
    check = lesson_cells(language, LESSON, ["exercise-check"])[index]
    return checked(language, LESSON, check.source, namespace)


def ask_namespace(server, language):
    names = vars(lesson(language, "lesson-ask", "thinking-usage",
                        BASE_URL=server.base_url, API_KEY=server.api_key))
    names["question"] = recorded(f"lesson04-plain-{language}")["body"]["messages"]
    return names


CORRECT = {"en": "Correct", "zh": "正确"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_exercise_1_check_accepts_the_solution(module_server, language):
    namespace = ask_namespace(module_server, language)
    with contextlib.redirect_stdout(io.StringIO()):  # the solution prints its own answer
        exec(solution(language, 1), namespace)
    printed = run_check(language, 0, namespace)
    assert printed.startswith(CORRECT[language]), printed
    assert "32" in printed  # the solution's message names the reasoning tokens


@pytest.mark.parametrize("language", LANGUAGES)
def test_exercise_1_check_rejects_an_answer_that_ignores_the_budget(module_server, language):
    namespace = ask_namespace(module_server, language)
    exec("def answer_of(reply):\n    return reply['choices'][0]['message']['content']\n",
         namespace)
    assert not run_check(language, 0, namespace).startswith(CORRECT[language])


@pytest.mark.parametrize("language", LANGUAGES)
def test_exercise_2_check_accepts_the_solution(language):
    namespace = {}
    exec(solution(language, 2), namespace)
    assert run_check(language, 1, namespace) == CORRECT[language] + "\n"


@pytest.mark.parametrize("language", LANGUAGES)
def test_exercise_2_check_rejects_a_split_that_indexes_content(language):
    namespace = {}
    exec("def split_stream(chunks):\n"
         "    deltas = [c['choices'][0]['delta'] for c in chunks]\n"
         "    return ('', ''.join(d['content'] for d in deltas), 'stop')\n", namespace)
    with pytest.raises(KeyError):  # the learner's own error keeps its traceback
        run_check(language, 1, namespace)


def test_every_check_cell_says_what_to_do_before_an_answer_exists():
    for language in LANGUAGES:
        for index in range(2):
            names = ("answer_of", "ask", "MODEL", "question", "split_stream")
            printed = run_check(language, index, dict.fromkeys(names))  # answer cells: None
            assert "()" in printed and not printed.startswith(CORRECT[language]), printed

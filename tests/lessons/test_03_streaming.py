"""Lesson 03's code, taken from the notebook itself: its stream loop (cells tagged
"stream-chat", printing through the Printer its "glm-client" cell teaches) fed the streams
thinking models send. The parser it teaches is tested in test_03_sse_parser.py, its recipe in
test_03_recipe.py, the colours as drawn in test_03_colours.py.

The cells' source is executed here, so the taught code is the tested code; hand-built bytes,
no sockets.
"""

import contextlib
import io
import json
from pathlib import Path

import nbformat
import pytest
import requests

import glm_client
from glm_client import GREY, PLAIN  # what the lesson's Printer prints around reasoning
from helpers import lesson_cells, run_lesson_cells

ROOT = Path(__file__).resolve().parents[2]
LESSONS = [ROOT / "notebooks" / language / "03-streaming.ipynb" for language in ("en", "zh")]


# -- the lesson's stream loop, fed what thinking models send --------------------------------

def chunk_line(delta, finish_reason=None, usage=None):
    choice = {"index": 0, "delta": delta}
    if finish_reason:
        choice["finish_reason"] = finish_reason
    body = {"id": "1", "object": "chat.completion.chunk", "model": "glm-4.7-flash",
            "choices": [choice]}
    if usage:
        body["usage"] = usage
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode("utf-8")


def thinking_stream(first_deltas, answer="Hi.", finish_reason="stop", answer_deltas=None):
    """Reasoning deltas as given, the answer one character a delta (or answer_deltas), the
    final chunk with usage, then [DONE]."""
    if answer_deltas is None:
        answer_deltas = [{"role": "assistant", "content": c} for c in answer]
    parts = [chunk_line(delta) for delta in first_deltas + answer_deltas]
    usage = {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14,
             "completion_tokens_details": {"reasoning_tokens": 6}}
    parts.append(chunk_line({"role": "assistant", "content": ""}, finish_reason, usage))
    return b"".join(parts) + b"data: [DONE]\n\n"


class Raw(io.BytesIO):
    """A response body that urllib3 would hand over in these pieces."""

    def __init__(self, pieces):
        super().__init__(b"".join(pieces))
        self.pieces = pieces

    def stream(self, chunk_size=None, decode_content=True):
        yield from self.pieces


class FakeRequests:
    """Stands for the `requests` module in the lesson's cells: post() answers with `body`."""

    exceptions = requests.exceptions

    def __init__(self, body, pieces=None, status=200):
        self.body, self.status, self.pieces = body, status, pieces

    def post(self, url, headers, json, stream, timeout):
        self.sent = json
        response = requests.Response()
        response.status_code = self.status
        response.headers["Content-Type"] = "text/event-stream;charset=UTF-8"
        response.raw = Raw(self.pieces or [self.body])
        return response


def lesson_loop(body, language="en", pieces=None, status=200):
    namespace = {"requests": FakeRequests(body, pieces, status), "CHAT_URL": "http://x/chat",
                 "HEADERS": {}, "raw": b"", "json": json}
    for name in ("Answer", "APIError", "IncompleteAnswer", "api_error_from", "iter_chunks"):
        namespace[name] = getattr(glm_client, name)
    return run_lesson_cells(language, "03-streaming.ipynb", ["glm-client", "stream-chat"],
                            namespace)


REASONING_ONLY = [{"role": "assistant", "reasoning_content": piece}
                  for piece in ("The user ", "says hi", ".\n")]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_stream_chat_prints_reasoning_grey_then_the_answer(language):
    lesson = lesson_loop(thinking_stream(REASONING_ONLY), language)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        answer = lesson.stream_chat({"model": "glm-4.7-flash", "stream": True})
    assert (answer.reasoning, answer.content, answer.finish_reason) == \
        ("The user says hi.\n", "Hi.", "stop")
    assert printed.getvalue() == (f"{GREY}The user {PLAIN}{GREY}says hi{PLAIN}{GREY}.\n{PLAIN}"
                                  "\nHi.")  # the answer on a line of its own
    assert answer.usage["completion_tokens_details"] == {"reasoning_tokens": 6}


def test_stream_chat_survives_the_newline_first_handover_of_glm_4_5_flash():
    first = [{"role": "assistant", "content": "", "reasoning_content": "\n"}] + REASONING_ONLY
    lesson = lesson_loop(thinking_stream(first))
    with contextlib.redirect_stdout(io.StringIO()):
        answer = lesson.stream_chat({})
    assert (answer.reasoning, answer.content) == ("\nThe user says hi.\n", "Hi.")


def test_stream_chat_survives_the_dot_handover_of_glm_4_5():
    dot = [{"content": ".", "reasoning_content": ""}]  # content beside an empty reasoning
    lesson = lesson_loop(thinking_stream(REASONING_ONLY, answer_deltas=dot))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        answer = lesson.stream_chat({})
    assert answer.content == "." and printed.getvalue().endswith(f"{PLAIN}\n.")


def test_stream_chat_under_one_byte_chunks_gives_the_same_answer():
    body = thinking_stream(REASONING_ONLY, answer="你好。")
    with contextlib.redirect_stdout(io.StringIO()):
        whole = lesson_loop(body).stream_chat({})
        cut = lesson_loop(body, pieces=[body[i:i + 1] for i in range(len(body))]).stream_chat({})
    assert (cut.reasoning, cut.content) == (whole.reasoning, whole.content) == \
        ("The user says hi.\n", "你好。")


def test_a_stream_with_no_chunks_is_an_incomplete_answer_not_a_crash():
    lesson = lesson_loop(b"data: [DONE]\n\n")
    with contextlib.redirect_stdout(io.StringIO()):
        assert lesson.stream_chat({}).content == ""
        with pytest.raises(glm_client.IncompleteAnswer, match="finish_reason is None"):
            lesson.complete({})


def test_complete_refuses_a_thinking_answer_cut_by_max_tokens():
    lesson = lesson_loop(thinking_stream(REASONING_ONLY, answer="", finish_reason="length"))
    with contextlib.redirect_stdout(io.StringIO()), \
            pytest.raises(glm_client.IncompleteAnswer) as caught:
        lesson.complete({})
    assert caught.value.answer.reasoning == "The user says hi.\n"
    assert caught.value.answer.content == ""


def test_an_error_status_before_the_stream_is_an_api_error():
    body = json.dumps({"error": {"code": "1211", "message": "模型不存在，请检查模型代码。"}})
    lesson = lesson_loop(body.encode(), status=400)
    with pytest.raises(glm_client.APIError) as caught:
        lesson.stream_chat({})
    assert (caught.value.status, caught.value.code) == (400, "1211")


def test_an_answer_without_reasoning_starts_at_once_with_no_blank_line():
    lesson = lesson_loop(thinking_stream([]))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        lesson.stream_chat({})
    assert printed.getvalue() == "Hi."


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_lesson_prints_reasoning_with_the_clients_printer_not_a_grey_of_its_own(language):
    """The 16-colour greys draw almost black in JupyterLab; the recipe (a script on its own)
    is the one cell that spells the 256-colour grey out, and test_03_recipe.py holds it to
    glm_client's."""
    cells = nbformat.read(ROOT / "notebooks" / language / "03-streaming.ipynb", 4).cells
    code = [cell.source for cell in cells if cell.cell_type == "code"]
    assert not any(dim in source for source in code for dim in ("\\x1b[90m", "\\x1b[2m"))
    stream_chat = lesson_cells(language, "03-streaming.ipynb", ["stream-chat"])[0].source
    assert "printer.reasoning(reasoning)" in stream_chat and "GREY" not in stream_chat

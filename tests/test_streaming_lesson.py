"""Lesson 03's code, taken from the notebook itself: the SSE parser it teaches (cells tagged
"glm-client", the text of glm_client.py) over a wider corpus than the lesson shows; its stream
loop (cells tagged "stream-chat") fed the streams thinking models send; and the whole lesson
under hostile chunking, with the same stored outputs.

The cells' source is executed here, so the taught code is the tested code. Only the last test
uses sockets; the others feed hand-built bytes.
"""

import contextlib
import io
import json
import time
from pathlib import Path

import pytest
import requests

import glm_client
import glm_offline
from conftest import run_lesson_cells
from glm_offline.streams import hostile_pieces
from glm_offline.wire import sse_lines_to_events

ROOT = Path(__file__).resolve().parent.parent
LESSONS = [ROOT / "notebooks" / language / "03-streaming.ipynb" for language in ("en", "zh")]
CASSETTE = Path(glm_offline.__file__).parent / "cassettes" / "lesson-03.json"
GREY, PLAIN = "\x1b[90m", "\x1b[0m"  # what the lesson prints around reasoning


def load_parser(path=LESSONS[0]):
    return vars(run_lesson_cells(path.parent.name, path.name, ["glm-client"]))


PARSER = load_parser()
Event = PARSER["Event"]


def events(chunks):
    return list(PARSER["iter_events"](PARSER["split_lines"](chunks)))


def lines(chunks):
    return list(PARSER["split_lines"](chunks))


def recorded_streams():
    """name -> the SSE lines of each recording of lesson 03, read straight from the file."""
    data = json.loads(CASSETTE.read_text(encoding="utf-8"))
    return {item["name"]: item["response"]["sse"] for item in data["interactions"]}


def wire_bytes(sse_lines, newline):
    """The bytes the server writes for these lines (each event ends with a blank line)."""
    return "".join(line + newline for line in sse_lines).encode("utf-8")


def expected_from_cassette(sse_lines):
    """An independent reading: each group's data lines joined, comment-only groups skipped."""
    found = []
    for group in sse_lines_to_events(sse_lines):
        data = [line[len("data:"):].removeprefix(" ") for line in group if line.startswith("data:")]
        name = next((line.split(":", 1)[1].strip() for line in group if line.startswith("event:")),
                    "message")
        if data:
            found.append(Event(event=name, data="\n".join(data)))
    return found


def test_the_lesson_defines_the_parser_it_teaches_not_another():
    assert {"split_lines", "iter_events", "Event", "LINE_END"} <= set(PARSER)
    assert not {"parse_events", "read_events", "chat_chunks", "StreamError"} & set(PARSER)


def test_the_chinese_lesson_teaches_the_same_parser():
    chinese = load_parser(LESSONS[1])
    stream = b"\xef\xbb\xbf: c\r\nid: 1\r\nevent: e\r\ndata: \xe4\xbd\xa0\r\ndata:\r\n\r\n"
    got = list(chinese["iter_events"](chinese["split_lines"]([stream])))
    assert [vars(e) for e in got] == [vars(Event(event="e", data="你\n", id="1"))]


# -- the WHATWG specification's own examples ------------------------------------------------
# https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

def test_whatwg_example_stock_ticker_three_data_lines():
    stream = b"data: YHOO\ndata: +2\ndata: 10\n\n"
    assert events([stream]) == [Event(data="YHOO\n+2\n10")]


def test_whatwg_example_comment_id_and_bare_id_field():
    stream = (b": test stream\n\ndata: first event\nid: 1\n\n"
              b"data:second event\nid\n\ndata:  third event\n\n")
    assert events([stream]) == [Event(data="first event", id="1"), Event(data="second event"),
                                Event(data=" third event")]


def test_whatwg_example_empty_data_and_unterminated_last_event():
    stream = b"data\n\ndata\ndata\n\ndata:"
    assert events([stream]) == [Event(data=""), Event(data="\n")]


def test_whatwg_example_space_after_colon_is_optional():
    assert events([b"data:test\n\ndata: test\n\n"]) == [Event(data="test"), Event(data="test")]


def test_whatwg_example_event_types():
    stream = (b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n"
              b"event: add\ndata: 113411\n\n")
    assert [(e.event, e.data) for e in events([stream])] == \
        [("add", "73857293"), ("remove", "2153"), ("add", "113411")]


# -- fields and edge cases -----------------------------------------------------------------

def test_event_type_resets_after_dispatch():
    assert [e.event for e in events([b"event: error\ndata: x\n\ndata: y\n\n"])] == \
        ["error", "message"]


def test_id_is_kept_for_later_events():
    stream = b"id: 7\ndata: a\n\ndata: b\n\nid:\ndata: c\n\n"
    assert [e.id for e in events([stream])] == ["7", "7", ""]


def test_id_with_nul_is_ignored():
    assert events([b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"])[1].id == "1"


def test_retry_with_digits_sets_the_reconnection_time():
    assert events([b"retry: 3000\ndata: a\n\n"]) == [Event(data="a", retry=3000)]


def test_retry_that_is_not_all_ascii_digits_is_ignored():
    for value in (b"3s", b"-1", b"", b"  30", "\u0663".encode()):
        assert events([b"retry:" + value + b"\ndata: a\n\n"])[0].retry is None, value


def test_retry_without_data_is_remembered_but_not_dispatched():
    assert events([b"retry: 10000\n\ndata: x\n\n"]) == [Event(data="x", retry=10000)]


def test_unknown_fields_and_comments_are_ignored():
    assert events([b": ping\nfoo: bar\nbaz\ndata: a\n\n"]) == [Event(data="a")]


def test_only_one_space_after_the_colon_is_removed():
    assert events([b"data:   a\n\n"]) == [Event(data="  a")]


def test_empty_data_field_dispatches_an_empty_event():
    assert events([b"data:\n\n"]) == [Event(data="")]


def test_block_without_data_is_not_dispatched():
    assert events([b"event: x\n\nid: 3\n\n"]) == []


def test_no_trailing_newline_at_end_of_stream_drops_the_unfinished_event():
    assert events([b"data: a\n\ndata: b"]) == [Event(data="a")]
    assert events([b"data: a\n\ndata: b\n"]) == [Event(data="a")]


def test_leading_bom_is_ignored():
    assert events([b"\xef\xbb\xbfdata: a\n\n"]) == [Event(data="a")]


def test_leading_bom_split_across_chunks():
    assert events([b"\xef", b"\xbb", b"\xbfdata: a\n\n"]) == [Event(data="a")]


def test_only_one_leading_bom_is_ignored():
    # a second BOM makes the field name "\ufeffdata", an unknown field
    assert events([b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n"]) == []


def test_unicode_line_separator_inside_json_does_not_split_the_line():
    payload = '{"content":"a\u2028b\u2029c\x85d"}'
    [event] = events([f"data: {payload}\n\n".encode("utf-8")])
    assert json.loads(event.data)["content"] == "a\u2028b\u2029c\x85d"


def test_cr_only_line_endings():
    assert events([b"data: a\rdata: b\r\rdata: c\r\r"]) == [Event(data="a\nb"), Event(data="c")]


def test_mixed_line_endings():
    assert events([b"data: a\r\ndata: b\ndata: c\r\r\n"]) == [Event(data="a\nb\nc")]


def test_crlf_split_across_chunks_is_one_line_ending():
    assert lines([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == ["data: a", "data: b", ""]
    assert events([b"data: a\r", b"\n\r", b"\n"]) == [Event(data="a")]


def test_cr_then_lf_only_chunk_then_lf_is_a_blank_line():
    assert lines([b"a\r", b"\n", b"\n"]) == ["a", ""]


def test_cr_cr_across_chunks_is_two_line_endings():
    assert lines([b"a\r", b"\r", b"b\r\n"]) == ["a", "", "b"]


def test_empty_chunks_change_nothing():
    assert lines([b"a\r", b"", b"\nb\n", b""]) == ["a", "b"]


def test_cr_only_event_is_dispatched_without_waiting_for_more_bytes():
    def chunks():
        yield b"data: a\r\r"
        raise AssertionError("the parser asked for more bytes before dispatching")

    assert next(PARSER["iter_events"](PARSER["split_lines"](chunks()))) == Event(data="a")


def test_event_is_dispatched_as_soon_as_its_blank_line_arrives():
    def chunks():
        yield b'data: {"n": 1}\n'
        yield b"\n"
        raise AssertionError("the parser asked for more bytes before dispatching")

    assert next(PARSER["iter_events"](PARSER["split_lines"](chunks()))) == Event(data='{"n": 1}')


def test_multibyte_characters_split_across_chunks():
    data = 'data: {"content":"известни 你好"}\n\n'.encode("utf-8")
    assert events([data[i:i + 1] for i in range(len(data))]) == events([data])
    assert json.loads(events([data])[0].data)["content"] == "известни 你好"


def test_invalid_utf8_becomes_the_replacement_character_as_in_browsers():
    assert events([b"data: \xff\n\n"]) == [Event(data="\ufffd")]


def test_a_long_line_in_one_byte_chunks_is_read_in_linear_time():
    """The lesson's old parser re-scanned its whole buffer on every chunk: 64 KiB in 1-byte
    pieces took ~15 s. Read once per byte, it takes a small fraction of a second; the bound
    is generous for a loaded machine and still far below the quadratic time."""
    line = b"data: " + b"x" * 65536 + b"\n\n"
    started = time.perf_counter()
    assert events(line[i:i + 1] for i in range(len(line))) == [Event(data="x" * 65536)]
    assert time.perf_counter() - started < 3


# -- recorded streams, cut every possible way --------------------------------------------

STREAMS = [(name, newline) for name in recorded_streams() for newline in ("\n", "\r\n", "\r")]


@pytest.mark.parametrize("name,newline", STREAMS, ids=[f"{n}-{repr(e)[1:-1]}" for n, e in STREAMS])
def test_recorded_stream_gives_the_same_events_however_it_is_cut(name, newline):
    sse_lines = recorded_streams()[name]
    data = wire_bytes(sse_lines, newline)
    expected = expected_from_cassette(sse_lines)
    assert events([data]) == expected
    assert expected[-1].data == "[DONE]"
    for cut in range(0, len(data) + 1, 7):  # sampled cut points; the lesson tries them all
        assert events([data[:cut], data[cut:]]) == expected, cut
    assert events([data[i:i + 1] for i in range(len(data))]) == expected
    assert events(hostile_pieces(data, seed=len(data))) == expected


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
    with contextlib.redirect_stdout(io.StringIO()):  # the naive_deltas cell prints a line
        return run_lesson_cells(language, "03-streaming.ipynb", ["stream-chat"], namespace)


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
                                  "Hi.")
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
    assert answer.content == "." and printed.getvalue().endswith(f"{PLAIN}.")


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


def test_naive_deltas_reads_reasoning_deltas_without_a_key_error():
    lesson = lesson_loop(b"")
    assert "".join(lesson.naive_deltas([thinking_stream(REASONING_ONLY)])) == "Hi."


# -- the whole lesson, with the recorded server cutting every stream into 1-5 byte pieces -----

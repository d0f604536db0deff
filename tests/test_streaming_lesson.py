"""Lesson 03's SSE parser, taken from the notebook itself, over a wider corpus than the
lesson shows; and the whole lesson under hostile chunking, with the same stored outputs.

The parser's cells are tagged "sse-parser" in the notebook; their source is executed here,
so the taught code is the tested code. These unit tests use no sockets.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import glm_offline
from conftest import lesson_cells, run_lesson_cells
from glm_offline.server import hostile_pieces
from glm_offline.wire import sse_lines_to_events

ROOT = Path(__file__).resolve().parent.parent
LESSONS = [ROOT / "notebooks" / language / "03-streaming.ipynb" for language in ("en", "zh")]
CASSETTE = Path(glm_offline.__file__).parent / "cassettes" / "lesson-03.json"


def tagged_source(path, tag):
    return "\n\n".join(c.source for c in lesson_cells(path.parent.name, path.name, [tag]))


def load_parser(path=LESSONS[0]):
    # re is imported by an earlier cell of the lesson
    return vars(run_lesson_cells(path.parent.name, path.name, ["sse-parser"], {"re": re}))


PARSER = load_parser()
Event = PARSER["Event"]


def events(chunks):
    return list(PARSER["read_events"](chunks))


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
            found.append(Event("\n".join(data), name))
    return found


def test_the_chinese_lesson_teaches_the_same_parser():
    chinese = load_parser(LESSONS[1])
    stream = b"\xef\xbb\xbf: c\r\nid: 1\r\nevent: e\r\ndata: \xe4\xbd\xa0\r\ndata:\r\n\r\n"
    assert [vars(e) for e in chinese["read_events"]([stream])] == [vars(Event("你\n", "e", "1"))]


# -- the WHATWG specification's own examples ------------------------------------------------
# https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

def test_whatwg_example_stock_ticker_three_data_lines():
    stream = b"data: YHOO\ndata: +2\ndata: 10\n\n"
    assert events([stream]) == [Event("YHOO\n+2\n10")]


def test_whatwg_example_comment_id_and_bare_id_field():
    stream = (b": test stream\n\ndata: first event\nid: 1\n\n"
              b"data:second event\nid\n\ndata:  third event\n\n")
    assert events([stream]) == [Event("first event", id="1"), Event("second event", id=""),
                                Event(" third event", id="")]


def test_whatwg_example_empty_data_and_unterminated_last_event():
    stream = b"data\n\ndata\ndata\n\ndata:"
    assert events([stream]) == [Event(""), Event("\n")]


def test_whatwg_example_space_after_colon_is_optional():
    assert events([b"data:test\n\ndata: test\n\n"]) == [Event("test"), Event("test")]


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
    assert events([b"retry: 3000\ndata: a\n\n"]) == [Event("a", retry=3000)]


def test_retry_that_is_not_all_ascii_digits_is_ignored():
    for value in (b"3s", b"-1", b"", b"  30", "\u0663".encode()):
        assert events([b"retry:" + value + b"\ndata: a\n\n"])[0].retry is None, value


def test_retry_without_data_is_remembered_but_not_dispatched():
    assert events([b"retry: 10000\n\ndata: x\n\n"]) == [Event("x", retry=10000)]


def test_unknown_fields_and_comments_are_ignored():
    assert events([b": ping\nfoo: bar\nbaz\ndata: a\n\n"]) == [Event("a")]


def test_only_one_space_after_the_colon_is_removed():
    assert events([b"data:   a\n\n"]) == [Event("  a")]


def test_empty_data_field_dispatches_an_empty_event():
    assert events([b"data:\n\n"]) == [Event("")]


def test_block_without_data_is_not_dispatched():
    assert events([b"event: x\n\nid: 3\n\n"]) == []


def test_no_trailing_newline_at_end_of_stream_drops_the_unfinished_event():
    assert events([b"data: a\n\ndata: b"]) == [Event("a")]
    assert events([b"data: a\n\ndata: b\n"]) == [Event("a")]


def test_leading_bom_is_ignored():
    assert events([b"\xef\xbb\xbfdata: a\n\n"]) == [Event("a")]


def test_leading_bom_split_across_chunks():
    assert events([b"\xef", b"\xbb", b"\xbfdata: a\n\n"]) == [Event("a")]


def test_only_one_leading_bom_is_ignored():
    # a second BOM makes the field name "\ufeffdata", an unknown field
    assert events([b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n"]) == []


def test_unicode_line_separator_inside_json_does_not_split_the_line():
    payload = '{"content":"a\u2028b\u2029c\x85d"}'
    [event] = events([f"data: {payload}\n\n".encode("utf-8")])
    assert json.loads(event.data)["content"] == "a\u2028b\u2029c\x85d"


def test_cr_only_line_endings():
    assert events([b"data: a\rdata: b\r\rdata: c\r\r"]) == [Event("a\nb"), Event("c")]


def test_mixed_line_endings():
    assert events([b"data: a\r\ndata: b\ndata: c\r\r\n"]) == [Event("a\nb\nc")]


def test_crlf_split_across_chunks_is_one_line_ending():
    assert lines([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [b"data: a", b"data: b", b""]
    assert events([b"data: a\r", b"\n\r", b"\n"]) == [Event("a")]


def test_cr_then_lf_only_chunk_then_lf_is_a_blank_line():
    assert lines([b"a\r", b"\n", b"\n"]) == [b"a", b""]


def test_cr_cr_across_chunks_is_two_line_endings():
    assert lines([b"a\r", b"\r", b"b\r\n"]) == [b"a", b"", b"b"]


def test_empty_chunks_change_nothing():
    assert lines([b"a\r", b"", b"\nb\n", b""]) == [b"a", b"b"]


def test_cr_only_event_is_dispatched_without_waiting_for_more_bytes():
    def chunks():
        yield b"data: a\r\r"
        raise AssertionError("the parser asked for more bytes before dispatching")

    assert next(PARSER["read_events"](chunks())) == Event("a")


def test_event_is_dispatched_as_soon_as_its_blank_line_arrives():
    def chunks():
        yield b'data: {"n": 1}\n'
        yield b"\n"
        raise AssertionError("the parser asked for more bytes before dispatching")

    assert next(PARSER["read_events"](chunks())) == Event('{"n": 1}')


def test_multibyte_characters_split_across_chunks():
    data = 'data: {"content":"известни 你好"}\n\n'.encode("utf-8")
    assert events([data[i:i + 1] for i in range(len(data))]) == events([data])
    assert json.loads(events([data])[0].data)["content"] == "известни 你好"


def test_invalid_utf8_raises_instead_of_being_replaced():
    with pytest.raises(UnicodeDecodeError):
        events([b"data: \xff\n\n"])


# -- recorded streams, cut every possible way --------------------------------------------

STREAMS = [(name, newline) for name in recorded_streams() for newline in ("\n", "\r\n", "\r")]


@pytest.mark.parametrize("name,newline", STREAMS, ids=[f"{n}-{repr(e)[1:-1]}" for n, e in STREAMS])
def test_recorded_stream_gives_the_same_events_however_it_is_cut(name, newline):
    sse_lines = recorded_streams()[name]
    data = wire_bytes(sse_lines, newline)
    expected = expected_from_cassette(sse_lines)
    assert events([data]) == expected
    assert expected[-1].data == "[DONE]"
    for cut in range(len(data) + 1):
        assert events([data[:cut], data[cut:]]) == expected, cut
    assert events([data[i:i + 1] for i in range(len(data))]) == expected
    assert events(hostile_pieces(data, seed=len(data))) == expected


# -- the whole lesson, with the recorded server cutting every stream into 1-5 byte pieces -----

def test_lesson_passes_nbval_with_hostile_chunking():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIPUAI_")}
    env.update(GLM_OFFLINE_CHUNKING="hostile", GLM_OFFLINE_STRICT="1")
    runs = [subprocess.Popen([sys.executable, "-m", "pytest", "-q", str(path)],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True) for path in LESSONS]
    for path, run in zip(LESSONS, runs):
        output = run.communicate(timeout=300)[0]
        assert run.returncode == 0, f"{path.relative_to(ROOT)} under hostile chunking:\n{output}"

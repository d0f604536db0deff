"""The SSE parser lesson 03 teaches (its cells tagged "glm-client", the text of glm_client.py),
taken from the notebook itself and run over a wider corpus than the lesson shows: the WHATWG
specification's own examples, every field and edge case, and the lesson's recorded streams cut
every possible way. Hand-built bytes only, no sockets.
"""

import json
import time
from pathlib import Path

import pytest

import glm_offline
from glm_offline.streams import hostile_pieces
from glm_offline.wire import sse_lines_to_events
from helpers import run_lesson_cells

ROOT = Path(__file__).resolve().parents[2]
LESSONS = [ROOT / "notebooks" / language / "03-streaming.ipynb" for language in ("en", "zh")]
CASSETTE = Path(glm_offline.__file__).parent / "cassettes" / "lesson-03.json"


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

"""Lesson 06 (tool calls): the lesson's own code, and the transcriber's tool-call options.

The assembler, the argument checks and the SSE parser are taken from the notebook itself:
the code cells tagged "tool-calls" or "sse" are executed in order, in both languages, so the
code a reader copies is the code tested here. No sockets.
"""

import json
from pathlib import Path

import pytest

import glm_offline
from conftest import lesson_cells, run_lesson_cells
from glm_offline import chat
from glm_offline.server import encode_event
from glm_offline.wire import sse_lines_to_events

ROOT = Path(__file__).resolve().parent.parent
LESSON = "06-tool-calls.ipynb"
CASSETTE = Path(glm_offline.__file__).parent / "cassettes" / "lesson-06.json"
TAGS = ["tool-calls", "sse"]


def lesson_code(language):
    assert len(lesson_cells(language, LESSON, TAGS)) >= 8, "the tagged cells are missing"
    return run_lesson_cells(language, LESSON, TAGS)


@pytest.fixture(scope="module", params=["en", "zh"])
def lesson(request):
    return lesson_code(request.param)


def chunks(*deltas, finish=None):
    """Stream chunks, one per delta; `finish` maps a delta's position to its finish_reason."""
    result = []
    for position, delta in enumerate(deltas):
        choice = {"index": 0, "delta": delta}
        if finish and position in finish:
            choice["finish_reason"] = finish[position]
        result.append({"id": "x", "created": 0, "model": "glm-4", "choices": [choice]})
    return result


def whole(call_id, index, name, arguments):
    return {"id": call_id, "index": index, "type": "function",
            "function": {"name": name, "arguments": arguments}}


def fragments(call_id, index, name, arguments, size=2, repeat_id=False):
    pieces = [arguments[i:i + size] for i in range(0, len(arguments), size)]
    first = {"tool_calls": [whole(call_id, index, name, pieces[0])]}
    later = [{"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
             for piece in pieces[1:]]
    if repeat_id:  # the id, type and name sent again with every piece
        later = [{"tool_calls": [whole(call_id, index, name, piece)]} for piece in pieces[1:]]
    return [first, *later]


END = {"role": "assistant", "content": ""}


# -- the assembler ---------------------------------------------------------------------

def test_whole_calls_each_in_a_chunk_with_finish_reason_repeated(lesson):
    # glm-4.5, 2025-09 capture: finish_reason on each tool-call chunk and on the last chunk.
    stream = chunks({"tool_calls": [whole("call_a", 0, "add", '{"a": 2, "b": 3}')]},
                    {"tool_calls": [whole("call_m", 1, "multiply", '{"a": 2, "b": 3}')]},
                    END, finish={0: "tool_calls", 1: "tool_calls", 2: "tool_calls"})
    message, finish_reason = lesson.assemble(stream)
    assert finish_reason == "tool_calls"
    assert message["content"] is None
    assert [(c["id"], c["index"], c["function"]["name"]) for c in message["tool_calls"]] == [
        ("call_a", 0, "add"), ("call_m", 1, "multiply")]
    assert all(c["function"]["arguments"] == '{"a": 2, "b": 3}' for c in message["tool_calls"])


def test_finish_reason_only_on_the_last_chunk(lesson):
    # glm-4.7-flash, 2026-03 capture.
    stream = chunks({"tool_calls": [whole("call_w", 0, "weather", '{"location":"Florence"}')]},
                    END, finish={1: "tool_calls"})
    message, finish_reason = lesson.assemble(stream)
    assert finish_reason == "tool_calls"
    assert message["tool_calls"][0]["function"]["arguments"] == '{"location":"Florence"}'


def test_a_later_chunk_without_finish_reason_keeps_the_last_one_seen(lesson):
    stream = chunks({"tool_calls": [whole("call_w", 0, "f", "{}")]}, {"content": ""},
                    finish={0: "tool_calls"})
    assert lesson.assemble(stream)[1] == "tool_calls"


def test_fragments_are_joined_by_index(lesson):
    arguments = json.dumps({"city": "北京", "unit": "celsius"}, ensure_ascii=False)
    stream = chunks(*fragments("call_f", 0, "get_weather", arguments), END)
    message, _ = lesson.assemble(stream)
    (call,) = message["tool_calls"]
    assert call["id"] == "call_f" and call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": arguments}


def test_fragments_that_repeat_the_id_and_name_are_joined_once(lesson):
    arguments = '{"city": "Beijing"}'
    stream = chunks(*fragments("call_f", 0, "get_weather", arguments, repeat_id=True))
    (call,) = lesson.assemble(stream)[0]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": arguments}


def test_index_minus_one_on_a_whole_call(lesson):
    # glm-4.5-flash, 2025-09 capture.
    stream = chunks({"tool_calls": [whole("call_4B", -1, "add", '{"a": 365, "b": 96}')]}, END,
                    finish={0: "tool_calls", 1: "tool_calls"})
    (call,) = lesson.assemble(stream)[0]["tool_calls"]
    assert (call["id"], call["function"]["arguments"]) == ("call_4B", '{"a": 365, "b": 96}')


def test_index_minus_one_fragments_continue_the_latest_call(lesson):
    arguments = '{"a": 365, "b": 96}'
    stream = chunks(*fragments("call_1", -1, "add", '{"x": 1}'),
                    *fragments("call_2", -1, "add", arguments, size=1))
    calls = lesson.assemble(stream)[0]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == ['{"x": 1}', arguments]


def test_two_whole_calls_with_index_minus_one_stay_two_calls(lesson):
    stream = chunks({"tool_calls": [whole("call_1", -1, "add", "{}")]},
                    {"tool_calls": [whole("call_2", -1, "multiply", "{}")]})
    calls = lesson.assemble(stream)[0]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["add", "multiply"]


def test_interleaved_fragments_of_two_calls_go_by_index(lesson):
    first, second = '{"city": "Beijing"}', '{"celsius": 26}'
    a, b = fragments("call_a", 0, "get_weather", first), fragments("call_b", 1, "f", second)
    mixed = [piece for pair in zip(a, b) for piece in pair] + a[len(b):] + b[len(a):]
    calls = lesson.assemble(chunks(*mixed))[0]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [first, second]


def test_content_null_in_a_delta_is_no_text(lesson):
    stream = chunks({"role": "assistant", "content": None,
                     "tool_calls": [whole("call_1", 0, "f", "{}")]}, END)
    message, _ = lesson.assemble(stream)
    assert message["content"] is None and len(message["tool_calls"]) == 1


def test_text_only_stream_has_no_tool_calls_key(lesson):
    stream = chunks({"role": "assistant", "content": "It"}, {"content": "'s sunny."},
                    END, finish={2: "stop"})
    message, finish_reason = lesson.assemble(stream)
    assert message == {"role": "assistant", "content": "It's sunny."}
    assert finish_reason == "stop"


def test_a_chunk_without_choices_is_skipped(lesson):
    stream = chunks({"content": "Hi"}) + [{"id": "x", "choices": [], "usage": {}}]
    assert lesson.assemble(stream)[0]["content"] == "Hi"


# -- checking the model's arguments ----------------------------------------------------

def call(name, arguments):
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def error_of(result):
    parsed = json.loads(result)
    assert set(parsed) == {"error"}, parsed
    return parsed["error"]


def test_a_good_call_returns_the_function_result(lesson):
    city = next(iter(lesson.WEATHER))
    result = lesson.run_tool_call(call("get_weather", json.dumps({"city": city})))
    assert json.loads(result) == lesson.get_weather(city)
    assert json.loads(lesson.run_tool_call(call("celsius_to_fahrenheit", '{"celsius": 26}'))) == {
        "celsius": 26, "fahrenheit": 78.8}


def test_unknown_function_names_it_and_lists_the_tools(lesson):
    message = error_of(lesson.run_tool_call(call("weather", '{"city": "x"}')))
    assert "'weather'" in message
    assert "get_weather" in message and "celsius_to_fahrenheit" in message


@pytest.mark.parametrize("arguments", ["{'city': 'Shanghai'}", '{"city": "x"', "city=x"])
def test_invalid_json_is_reported_not_raised(lesson, arguments):
    assert "JSON" in error_of(lesson.run_tool_call(call("get_weather", arguments)))


@pytest.mark.parametrize("arguments", ["[1]", '"Beijing"', "3"])
def test_json_that_is_not_an_object_is_reported(lesson, arguments):
    assert "get_weather" in error_of(lesson.run_tool_call(call("get_weather", arguments)))


@pytest.mark.parametrize("arguments, named", [("{}", "city"), ("", "city"),
                                              ('{"city": "x", "units": "c"}', "units"),
                                              ('{"town": "x"}', "city")])
def test_wrong_argument_names_are_reported(lesson, arguments, named):
    assert named in error_of(lesson.run_tool_call(call("get_weather", arguments)))


def test_parse_tool_call_raises_bad_tool_call_a_value_error(lesson):
    assert issubclass(lesson.BadToolCall, ValueError)
    with pytest.raises(lesson.BadToolCall):
        lesson.parse_tool_call(call("nope", "{}"))
    function, arguments = lesson.parse_tool_call(call("celsius_to_fahrenheit", '{"celsius": 1}'))
    assert function is lesson.celsius_to_fahrenheit and arguments == {"celsius": 1}


# -- the compact SSE parser, on a recorded stream ----------------------------------------

def recorded_stream(name="lesson06-tool-stream-call-zh"):
    data = json.loads(CASSETTE.read_text(encoding="utf-8"))
    (item,) = [i for i in data["interactions"] if i["name"] == name]
    return sse_lines_to_events(item["response"]["sse"])


def expected_data(events):
    return [line[len("data: "):] for event in events for line in event]


@pytest.mark.parametrize("line_ending", ["lf", "crlf"])
def test_sse_parser_gives_the_same_events_at_every_split_point(lesson, line_ending):
    events = recorded_stream()
    raw = b"".join(encode_event(event, line_ending) for event in events)
    want = expected_data(events)
    assert any(b >= 0x80 for b in raw), "the recording should hold multi-byte characters"
    for cut in range(len(raw) + 1):
        got = list(lesson.sse_data(lesson.sse_lines([raw[:cut], raw[cut:]])))
        assert got == want, f"split at byte {cut}"
    assert list(lesson.sse_data(lesson.sse_lines(raw[i:i + 1] for i in range(len(raw))))) == want


def test_sse_parser_accepts_cr_line_endings_and_joins_data_lines(lesson):
    raw = b"data: {\"a\":\r\rdata: 1\rdata: 2\r\r: comment\revent: x\rdata:[DONE]\r\r"
    for cut in range(len(raw) + 1):
        got = list(lesson.sse_data(lesson.sse_lines([raw[:cut], raw[cut:]])))
        assert got == ['{"a":', "1\n2", "[DONE]"], f"split at byte {cut}"


def test_sse_parser_does_not_split_a_crlf_across_chunks_into_two_line_ends(lesson):
    raw = b"data: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n"
    for cut in range(len(raw) + 1):
        got = list(lesson.sse_data(lesson.sse_lines([raw[:cut], raw[cut:]])))
        assert got == ["1\n2", "3"], f"split at byte {cut}"


def test_recorded_fragments_assemble_to_the_whole_call(lesson):
    payloads = [json.loads(d) for d in expected_data(recorded_stream()) if d != "[DONE]"]
    message, finish_reason = lesson.assemble(payloads)
    assert finish_reason == "tool_calls"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"city": "北京"}


# -- transcribe.py: tool-call options ----------------------------------------------------

def transcribed(item):
    import transcribe
    return transcribe.interaction(item, item["body"]["model"], 1795593600)["response"]


def stream_payloads(response):
    return [json.loads(d) for d in expected_data(sse_lines_to_events(response["sse"]))
            if d != "[DONE]"]


TOOL_BODY = {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": "北京天气？"}],
             "tools": [{"type": "function", "function": {"name": "get_weather"}}], "stream": True}
ARGUMENTS = {"city": "北京", "unit": "celsius"}


def tool_pieces(payloads):
    return [p for chunk in payloads for p in chunk["choices"][0]["delta"].get("tool_calls", [])]


def test_tool_stream_writes_fragments_that_concatenate_to_the_whole_arguments():
    item = {"name": "t", "body": {**TOOL_BODY, "tool_stream": True},
            "tool_calls": [{"name": "get_weather", "arguments": ARGUMENTS, "id": "call_t"}]}
    pieces = tool_pieces(stream_payloads(transcribed(item)))
    assert len(pieces) > 3
    assert pieces[0]["id"] == "call_t" and pieces[0]["function"]["name"] == "get_weather"
    assert all(set(p) == {"index", "function"} and set(p["function"]) == {"arguments"}
               for p in pieces[1:])
    assert "".join(p["function"]["arguments"] for p in pieces) == json.dumps(ARGUMENTS,
                                                                             ensure_ascii=False)


def test_without_tool_stream_each_call_is_whole_in_its_own_chunk():
    item = {"name": "t", "body": TOOL_BODY,
            "tool_calls": [{"name": "get_weather", "arguments": ARGUMENTS},
                           {"name": "get_weather", "arguments": {"city": "上海"}}]}
    payloads = stream_payloads(transcribed(item))
    per_chunk = [len(c["choices"][0]["delta"].get("tool_calls", [])) for c in payloads]
    assert per_chunk == [1, 1, 0]
    assert [p["index"] for p in tool_pieces(payloads)] == [0, 1]
    assert json.loads(tool_pieces(payloads)[0]["function"]["arguments"]) == ARGUMENTS


@pytest.mark.parametrize("on_tool_chunks", [True, False])
def test_finish_on_tool_chunks(on_tool_chunks):
    item = {"name": "t", "body": TOOL_BODY, "finish_on_tool_chunks": on_tool_chunks,
            "tool_calls": [{"name": "get_weather", "arguments": ARGUMENTS}]}
    finishes = [c["choices"][0].get("finish_reason") for c in stream_payloads(transcribed(item))]
    assert finishes == [("tool_calls" if on_tool_chunks else None), "tool_calls"]


def test_arguments_raw_is_written_verbatim():
    raw = "{'city': '上海'}"
    item = {"name": "t", "body": {**TOOL_BODY, "stream": False},
            "tool_calls": [{"name": "get_weather", "arguments_raw": raw}]}
    (written,) = transcribed(item)["json"]["choices"][0]["message"]["tool_calls"]
    assert written["function"]["arguments"] == raw


def test_a_generated_reply_honours_tool_stream():
    tools = [{"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    body = {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": "Time?"}],
            "tools": tools, "stream": True, "tool_stream": True}
    reply = chat.generated(body)
    payloads = [json.loads(line[6:]) for event in reply.events for line in event
                if line != "data: [DONE]"]
    pieces = tool_pieces(payloads)
    assert len(pieces) > 1
    assert json.loads("".join(p["function"]["arguments"] for p in pieces)) == {"city": "example"}

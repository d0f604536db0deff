"""Lesson 06 (tool calls): the lesson's own code, and the transcriber's tool-call options.

The cells tagged "tool-calls" (the tools, the argument checks), "glm-client" (call_for and
merge_tool_call_fragments: glm_client.py's own code, which
tests/lessons/test_lessons_teach_the_client.py keeps identical) and "tool-loop" (the chat call, the
loop and the streamed send) are executed in order, in both languages, so the code a reader
copies is the code tested here. Requests go to a fake `requests.post` that answers with
thinking streams and bodies built by hand: no sockets.
"""

import copy
import json
from pathlib import Path

import pytest
import requests

import glm_client
import glm_offline
from glm_offline import chat
from glm_offline.wire import sse_lines_to_events
from helpers import fake_response, lesson_cells, run_lesson_cells

LESSON = "06-tool-calls.ipynb"
CASSETTE = Path(glm_offline.__file__).parent / "cassettes" / "lesson-06.json"
TAGS = ["tool-calls", "glm-client", "tool-loop"]
MODEL = "glm-4.7-flash"


def lesson_code(language):
    assert len(lesson_cells(language, LESSON, TAGS)) >= 10, "the tagged cells are missing"
    namespace = {"BASE_URL": "http://glm.invalid/api/paas/v4", "API_KEY": "id.secret"}
    return run_lesson_cells(language, LESSON, TAGS, namespace)


@pytest.fixture(scope="module", params=["en", "zh"])
def lesson(request):
    return lesson_code(request.param)


class FakeStreamResponse:
    """A streaming requests.Response: the body as byte chunks."""

    headers, reason = {}, ""

    def __init__(self, raw, status=200, body=None):
        self.raw, self.status_code, self.ok, self._body = raw, status, status < 400, body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def iter_content(self, chunk_size=None):
        yield from (self.raw[i:i + 3] for i in range(0, len(self.raw), 3))  # small pieces

    def json(self):
        return self._body

    @property
    def text(self):
        return json.dumps(self._body)


@pytest.fixture
def post(monkeypatch):
    """requests.post answering with the queued responses; .bodies holds what was sent."""
    queue, bodies = [], []

    def fake_post(url, headers=None, json=None, **options):
        bodies.append(copy.deepcopy(json))  # the loop goes on appending to its list
        return queue.pop(0)
    fake_post.queue, fake_post.bodies = queue, bodies
    monkeypatch.setattr(requests, "post", fake_post)
    return fake_post


def chunks(*deltas, finish=None):
    """Stream chunks, one per delta; `finish` maps a delta's position to its finish_reason."""
    result = []
    for position, delta in enumerate(deltas):
        choice = {"index": 0, "delta": delta}
        if finish and position in finish:
            choice["finish_reason"] = finish[position]
        result.append({"id": "x", "created": 0, "model": MODEL, "choices": [choice]})
    return result


def sse(stream, done=True):
    raw = "".join(f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in stream)
    return (raw + ("data: [DONE]\n\n" if done else "")).encode()


def whole(call_id, index, name, arguments):
    return {"id": call_id, "index": index, "type": "function",
            "function": {"name": name, "arguments": arguments}}


def fragments(call_id, index, name, arguments, size=2, repeat_id=False):
    """A call's tool_calls pieces: the first with id and name, the rest more arguments."""
    pieces = [arguments[i:i + size] for i in range(0, len(arguments), size)]
    first = whole(call_id, index, name, pieces[0])
    later = [{"index": index, "function": {"arguments": piece}} for piece in pieces[1:]]
    if repeat_id:  # the id, type and name sent again with every piece
        later = [whole(call_id, index, name, piece) for piece in pieces[1:]]
    return [first, *later]


END = {"role": "assistant", "content": ""}
# A thinking model's opening (docs/sources.md#thinking): a glm-4.5-flash style first delta, then
# reasoning-only deltas with no "content" key.
THINKING = ({"role": "assistant", "content": "", "reasoning_content": "\n"},
            {"role": "assistant", "reasoning_content": "The user asks about Beijing."},
            {"role": "assistant", "reasoning_content": " I call get_weather."})
REASONING = "\nThe user asks about Beijing. I call get_weather."


# -- merge_tool_call_fragments, as the lesson has it -----------------------------------------

def test_whole_calls_each_in_a_chunk(lesson):
    calls = lesson.merge_tool_call_fragments([], [whole("call_a", 0, "add", '{"a": 2}')])
    lesson.merge_tool_call_fragments(calls, [whole("call_m", 1, "multiply", '{"b": 3}')])
    assert [(c["id"], c["index"], c["function"]) for c in calls] == [
        ("call_a", 0, {"name": "add", "arguments": '{"a": 2}'}),
        ("call_m", 1, {"name": "multiply", "arguments": '{"b": 3}'})]


def test_fragments_are_joined_by_index(lesson):
    arguments = json.dumps({"city": "北京", "unit": "celsius"}, ensure_ascii=False)
    (call,) = lesson.merge_tool_call_fragments([], fragments("call_f", 0, "get_weather",
                                                             arguments))
    assert call["id"] == "call_f" and call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": arguments}


def test_fragments_that_repeat_the_id_and_name_are_joined_once(lesson):
    arguments = '{"city": "Beijing"}'
    pieces = fragments("call_f", 0, "get_weather", arguments, repeat_id=True)
    (call,) = lesson.merge_tool_call_fragments([], pieces)
    assert call["function"] == {"name": "get_weather", "arguments": arguments}


def test_index_minus_one_on_a_whole_call(lesson):
    # glm-4.5-flash, 2025-09 capture.
    (call,) = lesson.merge_tool_call_fragments([], [whole("call_4B", -1, "add",
                                                          '{"a": 365, "b": 96}')])
    assert (call["id"], call["function"]["arguments"]) == ("call_4B", '{"a": 365, "b": 96}')


def test_nameless_index_minus_one_fragments_continue_the_latest_call(lesson):
    arguments = '{"a": 365, "b": 96}'
    pieces = fragments("call_1", -1, "add", '{"x": 1}') + fragments("call_2", -1, "add",
                                                                    arguments, size=1)
    calls = lesson.merge_tool_call_fragments([], pieces)
    assert [c["function"]["arguments"] for c in calls] == ['{"x": 1}', arguments]


def test_two_whole_calls_with_index_minus_one_and_no_id_stay_two_calls(lesson):
    first = {"index": -1, "type": "function", "function": {"name": "add", "arguments": "{}"}}
    second = {"index": -1, "type": "function",
              "function": {"name": "multiply", "arguments": '{"b": 1}'}}
    calls = lesson.merge_tool_call_fragments([], [first, second])
    assert [c["function"] for c in calls] == [{"name": "add", "arguments": "{}"},
                                              {"name": "multiply", "arguments": '{"b": 1}'}]


def test_interleaved_fragments_of_two_calls_go_by_index(lesson):
    first, second = '{"city": "Beijing"}', '{"celsius": 26}'
    a, b = fragments("call_a", 0, "get_weather", first), fragments("call_b", 1, "f", second)
    mixed = [piece for pair in zip(a, b) for piece in pair] + a[len(b):] + b[len(a):]
    calls = lesson.merge_tool_call_fragments([], mixed)
    assert [c["function"]["arguments"] for c in calls] == [first, second]


def test_merge_changes_the_list_in_place_and_returns_it(lesson):
    calls = []
    assert lesson.merge_tool_call_fragments(calls, [whole("c", 0, "f", "{}")]) is calls
    assert len(calls) == 1


# -- stream_answer: a thinking model's stream, assembled -------------------------------------

def test_a_thinking_stream_with_a_whole_call_gives_the_message_to_send_back(lesson, post):
    # glm-4.7-flash, 2026-03 capture: finish_reason only on the last chunk.
    stream = chunks(*THINKING, {"tool_calls": [whole("call_w", 0, "get_weather",
                                                     '{"city": "Beijing"}')]},
                    END, finish={4: "tool_calls"})
    post.queue.append(FakeStreamResponse(sse(stream)))
    message, finish_reason = lesson.stream_answer([{"role": "user", "content": "?"}],
                                                  tools=[lesson.WEATHER_TOOL])
    assert finish_reason == "tool_calls"
    assert message == {"role": "assistant", "content": None, "reasoning_content": REASONING,
                       "tool_calls": [{"id": "call_w", "type": "function", "function": {
                           "name": "get_weather", "arguments": '{"city": "Beijing"}'}}]}
    assert post.bodies[0]["stream"] is True and post.bodies[0]["model"] == MODEL


def test_finish_reason_repeated_on_the_tool_chunk(lesson, post):
    # glm-4.5, 2025-09 capture: finish_reason on each tool-call chunk and on the last chunk.
    stream = chunks({"tool_calls": [whole("call_a", 0, "add", "{}")]},
                    {"tool_calls": [whole("call_m", 1, "multiply", "{}")]},
                    END, finish={0: "tool_calls", 1: "tool_calls", 2: "tool_calls"})
    post.queue.append(FakeStreamResponse(sse(stream)))
    message, finish_reason = lesson.stream_answer([])
    assert finish_reason == "tool_calls"
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["add", "multiply"]


def test_a_thinking_stream_with_text_only(lesson, post):
    stream = chunks(*THINKING, {"content": "It"}, {"content": "'s sunny."}, END,
                    finish={5: "stop"})
    post.queue.append(FakeStreamResponse(sse(stream)))
    message, finish_reason = lesson.stream_answer([])
    assert message == {"role": "assistant", "content": "It's sunny.",
                       "reasoning_content": REASONING}
    assert finish_reason == "stop"


def test_a_stream_without_done_is_an_incomplete_answer(lesson, post):
    post.queue.append(FakeStreamResponse(sse(chunks(*THINKING), done=False)))
    with pytest.raises(glm_client.IncompleteAnswer) as caught:
        lesson.stream_answer([])
    assert caught.value.answer.reasoning == REASONING


def test_a_refused_stream_raises_its_business_code(lesson, post):
    body = {"error": {"code": "1302", "message": "您的账户已达到速率限制，请您控制请求频率"}}
    post.queue.append(FakeStreamResponse(b"", status=429, body=body))
    with pytest.raises(glm_client.APIError) as caught:
        lesson.stream_answer([])
    assert caught.value.code == "1302"


def test_the_recorded_tool_stream_assembles_to_the_whole_call(lesson, post):
    data = json.loads(CASSETTE.read_text(encoding="utf-8"))
    (item,) = [i for i in data["interactions"] if i["name"] == "lesson06-tool-stream-call-zh"]
    raw = "".join(f"{line}\n" for line in item["response"]["sse"]).encode()
    post.queue.append(FakeStreamResponse(raw))
    message, finish_reason = lesson.stream_answer([])
    assert finish_reason == "tool_calls"
    assert message["reasoning_content"], "glm-4.7-flash thinks before it calls"
    (call,) = message["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"city": "北京"}


# -- run_conversation: the reasoning goes back with the results ------------------------------

def body_answer(message, finish_reason):
    return fake_response(200, {"choices": [{"index": 0, "finish_reason": finish_reason,
                                            "message": message}]})


def test_the_loop_sends_the_reasoning_back_with_the_tool_result(lesson, post, capsys):
    city = next(iter(lesson.WEATHER))
    asked = {"role": "assistant", "content": None, "reasoning_content": "I need the weather.",
             "tool_calls": [whole("call_1", 0, "get_weather", json.dumps({"city": city}))]}
    post.queue += [body_answer(asked, "tool_calls"),
                   body_answer({"role": "assistant", "content": "Sunny.",
                                "reasoning_content": "Done."}, "stop")]
    assert lesson.run_conversation("Weather?", lesson.TOOLS) == "Sunny."
    second = post.bodies[1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "tool"]
    assert second[1]["reasoning_content"] == "I need the weather."
    assert second[2]["tool_call_id"] == "call_1"
    assert json.loads(second[2]["content"]) == lesson.get_weather(city)
    assert post.bodies[1]["tools"] == lesson.TOOLS


def test_the_streamed_loop_sends_the_reasoning_back_too(lesson, post, capsys):
    city = next(iter(lesson.WEATHER))
    ask = chunks(*THINKING, {"tool_calls": [whole("call_s", 0, "get_weather",
                                                  json.dumps({"city": city}))]},
                 END, finish={4: "tool_calls"})
    answer = chunks({"role": "assistant", "reasoning_content": "Now answer."},
                    {"content": "Sunny."}, END, finish={2: "stop"})
    post.queue += [FakeStreamResponse(sse(ask)), FakeStreamResponse(sse(answer))]
    assert lesson.run_conversation("Weather?", [lesson.WEATHER_TOOL],
                                   send=lesson.stream_answer) == "Sunny."
    assistant = post.bodies[1]["messages"][1]
    assert assistant["reasoning_content"] == REASONING
    assert "index" not in assistant["tool_calls"][0]


def test_the_loop_gives_up_after_max_rounds(lesson, post, capsys):
    asked = {"role": "assistant", "content": None,
             "tool_calls": [whole("call_1", 0, "celsius_to_fahrenheit", '{"celsius": 1}')]}
    post.queue += [body_answer(asked, "tool_calls") for _ in range(3)]
    with pytest.raises(RuntimeError):
        lesson.run_conversation("?", lesson.TOOLS, max_rounds=3)
    assert len(post.bodies) == 3


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


def expected_data(events):
    return [line[len("data: "):] for event in events for line in event]


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


# -- the helpers offered for copying check the status ---------------------------------------

def test_chat_raises_glms_error_instead_of_returning_its_body(lesson, post):
    body = {"error": {"code": "1302", "message": "您的账户已达到速率限制，请您控制请求频率"}}
    post.queue.append(fake_response(429, body))
    with pytest.raises(glm_client.APIError) as caught:
        lesson.chat([{"role": "user", "content": "?"}])
    assert (caught.value.status, caught.value.code) == (429, "1302")


@pytest.mark.parametrize("final", [{"role": "assistant"}, {"role": "assistant", "content": None},
                                   {"role": "assistant", "content": ""}])
def test_a_final_answer_without_content_is_an_empty_answer(lesson, post, final):
    post.queue.append(body_answer(final, "stop"))
    assert lesson.run_conversation("?", lesson.TOOLS) == ""


# -- the recipe: one standalone tool loop ---------------------------------------------------

def recipe_source(language):
    (cell,) = lesson_cells(language, LESSON, ["recipe"])
    return cell.source


def run_recipe(language, post, monkeypatch, capsys):
    """Run the recipe cell as a script would, against the queued fake answers; what it
    printed, and the bodies it sent."""
    monkeypatch.setenv("ZHIPUAI_API_KEY", "id.secret")
    monkeypatch.setenv("ZHIPUAI_BASE_URL", "http://glm.invalid/api/paas/v4")
    exec(compile(recipe_source(language), f"{language} recipe", "exec"), {"__name__": "__main__"})
    return capsys.readouterr().out, post.bodies


def asking(*calls):
    return body_answer({"role": "assistant", "content": None, "tool_calls": list(calls)},
                       "tool_calls")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_recipe_answers_bad_calls_so_the_model_can_correct_them(language, post,
                                                                     monkeypatch, capsys):
    city = "Beijing" if language == "en" else "北京"
    post.queue += [asking(whole("call_1", 0, "get_weather", "{'city': 'x'}")),  # Python, not JSON
                   asking(whole("call_2", 0, "weather", json.dumps({"city": city}))),
                   asking(whole("call_3", 0, "get_weather", '{"town": "x"}'),
                          whole("call_4", 1, "get_weather", json.dumps({"city": "Atlantis"}))),
                   asking(whole("call_5", 0, "get_weather", json.dumps({"city": city},
                                                                       ensure_ascii=False))),
                   body_answer({"role": "assistant", "content": "Sunny."}, "stop")]
    printed, bodies = run_recipe(language, post, monkeypatch, capsys)
    assert printed.splitlines()[-1] == "Sunny."
    assert len(bodies) == 5
    tool_results = [json.loads(m["content"]) for m in bodies[-1]["messages"]
                    if m["role"] == "tool"]
    assert [set(result) for result in tool_results[:4]] == [{"error"}] * 4
    assert "JSONDecodeError" in tool_results[0]["error"]
    assert "'weather'" in tool_results[1]["error"] and "get_weather" in tool_results[1]["error"]
    assert "'city'" in tool_results[2]["error"] and "'Atlantis'" in tool_results[3]["error"]
    assert tool_results[4]["city"] == city and tool_results[4]["celsius"] == 23
    tool_ids = [m["tool_call_id"] for m in bodies[-1]["messages"] if m["role"] == "tool"]
    assert tool_ids == ["call_1", "call_2", "call_3", "call_4", "call_5"]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_recipe_stops_after_five_rounds(language, post, monkeypatch, capsys):
    post.queue += [asking(whole(f"call_{n}", 0, "get_weather", '{"city": "x"}'))
                   for n in range(6)]
    with pytest.raises(SystemExit, match="5"):
        run_recipe(language, post, monkeypatch, capsys)
    assert len(post.bodies) == 5


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_recipe_stops_on_glms_error(language, post, monkeypatch, capsys):
    body = {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}}
    post.queue.append(fake_response(429, body))
    with pytest.raises(SystemExit, match="HTTP 429.*1113"):
        run_recipe(language, post, monkeypatch, capsys)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_recipe_prints_an_empty_answer_when_content_is_missing(language, post,
                                                                   monkeypatch, capsys):
    post.queue.append(body_answer({"role": "assistant"}, "stop"))
    assert run_recipe(language, post, monkeypatch, capsys)[0] == "\n"

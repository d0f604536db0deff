"""Lesson 09 sends the same calls through zai-sdk and the openai SDK. Here: the lesson's own
functions (tagged `lesson-sdk`) run from the notebook against the recorded server, against
thinking streams and against a model that keeps calling or calls wrongly; and the lesson's
claims about the SDKs hold for the installed versions: what they send, how often they retry
and how long they wait, which exception each failure raises, and how their timeouts behave. A
new SDK version that changes any of these fails here.

The SDKs' retry waits are real time.sleep calls; the tests that count default retries replace
time.sleep in the SDK's module for the test and check the waits it asked for instead.
"""

import ast
import json
import re
import time

import httpx
import httpx2
import nbformat
import openai
import pytest
import zai.core._http_client as zai_http
from openai import OpenAIError
from zai.core import ZaiError

import glm_client
import glm_offline
from helpers import NOTEBOOKS, checked, exercise, run_lesson_cells

LESSON = "09-sdks.ipynb"
LANGUAGES = ("en", "zh")
MODEL = "glm-4.7-flash"
SDKS = ("zai-sdk", "openai")
GREY, PLAIN = "\x1b[38;5;245m", "\x1b[0m"  # what glm_client.Printer draws the reasoning with
QUESTION = {"en": "In one sentence, what does an SDK do for you that raw HTTP does not?",
            "zh": "用一句话说说：SDK 替你做了哪些原始 HTTP 要自己动手的事？"}
ANSWER = {"en": "An SDK builds the request, parses the reply into typed objects, and retries "
                "and raises for you, so you write less code but see less of the wire.",
          "zh": "SDK 替你拼好请求、把响应解析成带类型的对象，还替你重试、抛出异常：代码是少写了，"
                "可实际收发了什么也看不到了。"}
UMBRELLA = {"en": ("Do I need an umbrella in Beijing right now?",
                   "It's sunny in Beijing right now, at 23 °C, so you can leave the umbrella "
                   "at home."),
            "zh": ("北京现在需要带伞吗？", "北京现在天气晴，气温 23 °C，可以不带伞出门。")}
COUNTING = {"en": "Count from one to twenty in words, separated by commas.",
            "zh": "用中文从一数到二十，用逗号隔开。"}
COUNTED = {"en": "one, two, three, four, five, six, seven, eight, nine, ten, eleven, twelve, "
                 "thirteen, fourteen, fifteen, sixteen, seventeen, eighteen, nineteen, twenty",
           "zh": "一，二，三，四，五，六，七，八，九，十，十一，十二，"
                 "十三，十四，十五，十六，十七，十八，十九，二十"}
TOOL_CALL_LINE = {
    "en": 'tool call: get_weather {"city": "Beijing"} -> '
          '{"city": "Beijing", "sky": "sunny", "celsius": 23}\n',
    "zh": '工具调用：get_weather {"city": "北京"} -> '
          '{"city": "北京", "sky": "晴", "celsius": 23}\n'}
CITY = {"en": "Beijing", "zh": "北京"}


@pytest.fixture(scope="module")
def strict():
    with glm_offline.start(pacing="instant", strict=True) as running:
        yield running


@pytest.fixture(autouse=True)
def no_leftover_faults(strict):
    yield
    strict.faults.clear()


def lesson(language, server, capsys=None):
    """The lesson's tagged cells, run against `server`, with what its untagged cells import."""
    namespace = {"BASE_URL": server.base_url, "API_KEY": server.api_key, "server": server,
                 "MODEL": MODEL, "httpx": httpx,
                 "question": [{"role": "user", "content": QUESTION[language]}]}
    taught = run_lesson_cells(language, LESSON, ["lesson-sdk"], namespace)
    if capsys is not None:
        capsys.readouterr()  # what the cells printed (section 1 prints its clients)
    return taught


def code_cells(language):
    cells = nbformat.read(NOTEBOOKS / language / LESSON, as_version=4).cells
    return [c for c in cells if c.cell_type == "code"]


def test_the_lesson_names_its_model_once_besides_its_recipe():
    for language in LANGUAGES:
        code = [c.source for c in code_cells(language)
                if "recipe" not in c.metadata.get("tags", [])]
        assert code.count(f'MODEL = "{MODEL}"') == 1
        assert sum(f'"{MODEL}"' in source for source in code) == 1, language


def defined_and_used(source):
    """(names a piece of code binds, names it reads)."""
    tree = ast.parse(source)
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return bound, read


@pytest.mark.parametrize("language", LANGUAGES)
def test_nothing_after_the_deep_dives_uses_a_name_only_they_define(language):
    """The core path skips sections 6 and 7: no later cell or solution reads what only they
    bind (exercise 2's solution imports api_error_from and is_retryable itself)."""
    cells = nbformat.read(NOTEBOOKS / language / LESSON, as_version=4).cells
    dives = [i for i, c in enumerate(cells) if "deep-dive" in c.metadata.get("tags", [])]
    assert len(dives) == 2
    end = next(i for i in range(dives[-1] + 1, len(cells))
               if cells[i].cell_type == "markdown" and cells[i].source.startswith("## "))

    def code(part):
        for cell in part:
            if cell.cell_type == "code":
                yield cell.source
            else:
                yield from re.findall(r"```python\n(.*?)```", cell.source, re.S)

    core = set().union(*(defined_and_used(c)[0] for c in code(cells[:dives[0]])))
    only_deep = set().union(*(defined_and_used(c)[0] for c in code(cells[dives[0]:end]))) - core
    assert {"watched", "sent", "api_error_from", "is_retryable"} <= only_deep
    for later in code(cells[end:]):
        bound, read = defined_and_used(later)
        assert not (read - bound) & only_deep, later


# -- the recipe ----------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_recipe_catches_the_sdks_error_in_one_line(language, tmp_path):
    """A refused key ends the recipe with one line on stderr, not a traceback."""
    recipe = next(c.source for c in code_cells(language)
                  if "recipe" in c.metadata.get("tags", []))
    with glm_offline.start(pacing="instant", strict=True) as running:
        namespace = {"__name__": "__main__"}
        environ = {"ZHIPUAI_API_KEY": "someone-else.not-our-secret",
                   "ZHIPUAI_BASE_URL": running.base_url}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environ.items():
                patch.setenv(name, value)
            with pytest.raises(SystemExit) as ended:
                exec(compile(recipe, "recipe.py", "exec"), namespace)
    message = str(ended.value.code)
    assert "\n" not in message and "APIAuthenticationError" in message
    assert "not-our-secret" not in message


# -- streaming: the fix survives every thinking delta shape; the naive version does not ----
THINKING_SSE = [
    {"role": "assistant", "reasoning_content": "Let me"},  # reasoning only: no content key
    {"role": "assistant", "content": "", "reasoning_content": "\n"},  # glm-4.5-flash's shape
    {"role": "assistant", "content": "Hi"},  # the answer: no reasoning_content key
    {"role": "assistant", "content": "!"},
]
THINKING_PROMPT = "Say hi, after thinking."


@pytest.fixture(scope="module")
def thinking_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cassettes")
    lines = []
    for delta in THINKING_SSE:
        chunk = {"id": "t", "created": 1, "model": MODEL, "choices": [{"index": 0, "delta": delta}]}
        lines += ["data: " + json.dumps(chunk), ""]
    last = {"id": "t", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "delta": {"role": "assistant", "content": ""}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}}
    lines += ["data: " + json.dumps(last), "", "data: [DONE]", ""]
    body = {"model": MODEL, "stream": True,
            "messages": [{"role": "user", "content": THINKING_PROMPT}]}
    cassette = {"version": 1, "metadata": {"how": "written by this test"}, "interactions": [
        {"name": "thinking-shapes", "request": {"method": "POST",
                                                "path": "/api/paas/v4/chat/completions",
                                                "body": body},
         "response": {"status": 200, "sse": lines}}]}
    (folder / "thinking.json").write_text(json.dumps(cassette), encoding="utf-8")
    with glm_offline.start(cassette_dirs=[folder], packaged_cassettes=False, pacing="instant",
                           strict=True) as running:
        yield running


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("sdk", SDKS)
def test_stream_answer_keeps_reasoning_and_answer_apart_in_every_delta_shape(
        language, sdk, thinking_server, capsys):
    taught = lesson(language, thinking_server, capsys)
    prompt = [{"role": "user", "content": THINKING_PROMPT}]
    assert taught.stream_answer(taught.make(sdk), prompt) == ("Let me\n", "Hi!")
    # the reasoning in grey as it arrived, then the answer on a line of its own
    assert capsys.readouterr().out == f"{GREY}Let me{PLAIN}{GREY}\n{PLAIN}\nHi!"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_naive_stream_breaks_on_openai_only(language, thinking_server, capsys):
    taught = lesson(language, thinking_server, capsys)
    taught.streamed[:] = [{"role": "user", "content": THINKING_PROMPT}]
    taught.naive_stream(taught.make("zai-sdk"))
    assert capsys.readouterr().out.startswith("Hi!\n")
    with pytest.raises(AttributeError, match="reasoning_content"):
        taught.naive_stream(taught.make("openai"))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("sdk", SDKS)
def test_stream_answer_on_the_lessons_recording(language, sdk, strict, capsys):
    taught = lesson(language, strict, capsys)
    before = len(strict.history)
    reasoning, answer = taught.stream_answer(taught.make(sdk), taught.streamed)
    printed = capsys.readouterr().out
    assert reasoning and answer
    assert printed.startswith(GREY) and printed.endswith("\n" + answer)
    assert printed.replace(GREY, "").replace(PLAIN, "") == reasoning + "\n" + answer
    # an SDK stops reading at [DONE], before the chunked body's end: wait for the exchange
    (exchange,) = strict.wait_for_exchanges(before + 1)[before:]
    assert exchange.source == f"recorded:lesson09-stream-{language}"


# -- the tool loop ------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("sdk", SDKS)
def test_the_weather_loop_sends_the_assistant_turn_back_with_its_reasoning(language, sdk,
                                                                          strict, capsys):
    taught = lesson(language, strict, capsys)
    ask, final = UMBRELLA[language]
    since = len(strict.history)
    assert taught.ask_with_weather(taught.watched(sdk), ask) == final
    seen = strict.wait_for_exchanges(since + 2)[since:]
    assert [e.source for e in seen] == [f"recorded:lesson09-umbrella-call-{language}",
                                        f"recorded:lesson09-umbrella-answer-{language}"]
    turn = json.loads(taught.sent[-1].content)["messages"][1]
    assert turn["role"] == "assistant" and turn["reasoning_content"]
    assert capsys.readouterr().out == TOOL_CALL_LINE[language]


def scripted(taught, sdk, replies, bodies):
    """A client of `sdk` (made by the lesson's make()) whose model answers the n-th request
    with replies[n], or the last reply again once they run out; each request's body is
    appended to `bodies`. The SDK's own transport, so the SDK parses what it would parse."""
    module = httpx if sdk == "zai-sdk" else httpx2  # openai 3 is built on httpx2

    def answer(request):
        if len(bodies) >= 20:  # a loop without a cap: fail, do not hang
            raise AssertionError("the tool loop never stopped")
        bodies.append(json.loads(request.content))
        message = replies[min(len(bodies), len(replies)) - 1]
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        return module.Response(200, json={
            "id": f"chat-{len(bodies)}", "object": "chat.completion", "created": 1,
            "model": MODEL, "choices": [{"index": 0, "finish_reason": finish,
                                         "message": {"role": "assistant", **message}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    transport = module.MockTransport(answer)
    http = (httpx.Client if sdk == "zai-sdk" else openai.DefaultHttpxClient)(transport=transport)
    return taught.make(sdk, http_client=http, max_retries=0)


def tool_call(name, arguments, call_id="call_1"):
    return {"content": "", "tool_calls": [{"id": call_id, "type": "function", "index": 0,
                                           "function": {"name": name, "arguments": arguments}}]}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("max_rounds", [1, 3, None])
def test_the_loop_stops_a_model_that_keeps_calling(language, sdk, max_rounds, strict, capsys):
    taught = lesson(language, strict, capsys)
    bodies = []
    again = tool_call("get_weather", json.dumps({"city": CITY[language]}))
    client = scripted(taught, sdk, [again], bodies)
    rounds = {} if max_rounds is None else {"max_rounds": max_rounds}
    with pytest.raises(RuntimeError, match=str(max_rounds or 5)):
        taught.ask_with_weather(client, UMBRELLA[language][0], **rounds)
    assert len(bodies) == (max_rounds or 5)  # the default cap: 5 requests, then it stops
    # every round answered the call before asking again
    assert [m["role"] for m in bodies[-1]["messages"]] == (
        ["user"] + ["assistant", "tool"] * ((max_rounds or 5) - 1))


BAD_CALLS = {  # (name, arguments) -> what the error result must say, per language
    "unknown tool": (("weather", '{"city": "Beijing"}'),
                     {"en": ["no tool named 'weather'", "get_weather"],
                      "zh": ["没有名为 'weather' 的工具", "get_weather"]}),
    "not JSON": (("get_weather", "{'city': 'Beijing'}"),
                 {"en": ["not valid JSON", "double quotes"],
                  "zh": ["不是合法的 JSON", "double quotes"]}),
    "a field missing": (("get_weather", '{"town": "Beijing"}'),
                        {"en": ["get_weather", "missing a required argument: 'city'"],
                         "zh": ["get_weather", "missing a required argument: 'city'"]}),
    "not an object": (("get_weather", '["Beijing"]'),
                      {"en": ["get_weather", "must be a mapping"],
                       "zh": ["get_weather", "must be a mapping"]}),
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("kind", list(BAD_CALLS))
def test_a_bad_call_gets_an_error_tool_message_and_the_loop_goes_on(language, sdk, kind,
                                                                    strict, capsys):
    taught = lesson(language, strict, capsys)
    (name, arguments), says = BAD_CALLS[kind]
    bodies = []
    client = scripted(taught, sdk, [tool_call(name, arguments), {"content": "Sorry."}], bodies)
    assert taught.ask_with_weather(client, UMBRELLA[language][0]) == "Sorry."
    assert len(bodies) == 2
    user, assistant, tool = bodies[1]["messages"]
    assert assistant["tool_calls"][0]["function"] == {"name": name, "arguments": arguments}
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_1"
    error = json.loads(tool["content"])["error"]
    for words in says[language]:
        assert words in error, error
    assert "\n" not in error


WEATHER_RESULT = {"en": {"city": "Beijing", "sky": "sunny", "celsius": 23},
                  "zh": {"city": "北京", "sky": "晴", "celsius": 23}}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_good_call_runs_the_function(language, strict, capsys):
    taught = lesson(language, strict, capsys)
    bodies = []
    call = tool_call("get_weather", json.dumps({"city": CITY[language]}, ensure_ascii=False))
    client = scripted(taught, "openai", [call, {"content": "ok"}], bodies)
    assert taught.ask_with_weather(client, UMBRELLA[language][0]) == "ok"
    assert json.loads(bodies[1]["messages"][-1]["content"]) == WEATHER_RESULT[language]


# -- what goes on the wire (section 6) ------------------------------------------------------
def test_what_each_sdk_sends(strict):
    taught = lesson("en", strict)
    for sdk in SDKS:
        taught.watched(sdk).chat.completions.create(model=MODEL, messages=taught.question)
    zai_body, openai_body = (json.loads(r.content) for r in taught.sent)
    assert {k: v for k, v in zai_body.items() if k != "messages"} == {
        "model": MODEL, "response_format": None, "thinking": None}
    assert {k: v for k, v in openai_body.items() if k != "messages"} == {"model": MODEL}
    zai_headers, openai_headers = (r.headers for r in taught.sent)
    assert "zai-sdk-ver" in zai_headers and "x-stainless-os" not in zai_headers
    assert openai_headers["user-agent"].startswith("OpenAI/")
    assert {"x-stainless-os", "x-stainless-runtime-version", "x-stainless-package-version"} <= set(
        openai_headers)
    assert openai_headers["x-stainless-retry-count"] == "0"


def test_zai_sdk_clamps_temperature_and_openai_sends_it_as_written(strict):
    taught = lesson("en", strict)
    answer = taught.watched("zai-sdk", max_retries=0).chat.completions.create(
        model=MODEL, messages=taught.question, temperature=1.5)
    assert answer.choices[0].message.content == ANSWER["en"]
    with pytest.raises(openai.BadRequestError) as refused:
        taught.watched("openai", max_retries=0).chat.completions.create(
            model=MODEL, messages=taught.question, temperature=1.5)
    assert refused.value.code == "1210"
    with pytest.raises(ZaiError, match="no recording"):  # strict: 0.01 is not recorded
        taught.watched("zai-sdk", max_retries=0).chat.completions.create(
            model=MODEL, messages=taught.question, temperature=-1)
    assert [json.loads(r.content)["temperature"] for r in taught.sent] == [0.99, 1.5, 0.01]


# -- retries: counts and waits (section 7) -----------------------------------------------
@pytest.mark.parametrize("kind", ["rate_limit", "no_balance"])
def test_one_retry_means_two_requests_whatever_the_429s_code(kind, strict, monkeypatch):
    monkeypatch.setattr(zai_http.time, "sleep", lambda seconds: None)
    taught = lesson("en", strict)
    for sdk, error in zip(SDKS, (ZaiError, openai.RateLimitError)):
        taught.sent.clear()
        strict.inject(kind, times=3)
        with pytest.raises(error):
            taught.watched(sdk, max_retries=1).chat.completions.create(
                model=MODEL, messages=taught.question)
        assert len(taught.sent) == 2, sdk
        strict.faults.clear()


@pytest.mark.parametrize("kind", ["rate_limit", "no_balance"])
@pytest.mark.parametrize("sdk, requests, ceilings", [("zai-sdk", 4, [1, 2, 4]),
                                                     ("openai", 3, [0.5, 1])])
def test_default_retries_and_their_waits(sdk, requests, ceilings, kind, strict, monkeypatch):
    """What section 7 says: four requests through zai-sdk, three through openai, for a 1113
    too, after waits of about 1, 2, 4 and 0.5, 1 seconds, each shortened by at most 25 %."""
    waits = []
    module = zai_http if sdk == "zai-sdk" else openai._base_client
    monkeypatch.setattr(module.time, "sleep", waits.append)
    taught = lesson("en", strict)
    since = len(strict.history)
    strict.inject(kind, times=requests + 2)
    with pytest.raises((ZaiError, OpenAIError)):
        taught.watched(sdk).chat.completions.create(model=MODEL, messages=taught.question)
    assert len(strict.wait_for_exchanges(since + requests)) - since == requests
    assert len(taught.sent) == requests
    assert len(waits) == len(ceilings)
    for wait, ceiling in zip(waits, ceilings):
        assert 0.75 * ceiling <= wait <= ceiling, waits
    if sdk == "openai":
        assert [r.headers["x-stainless-retry-count"] for r in taught.sent] == ["0", "1", "2"]


# -- exceptions (section 7, and section 8's table) -----------------------------------------
FAILURES = {  # failure: (fault to inject, client options, request options)
    "429, code 1302": ({"kind": "rate_limit"}, {}, {}),
    "429, code 1113": ({"kind": "no_balance"}, {}, {}),
    "400, code 1210": (None, {}, {"max_tokens": 10**6}),
    "401, wrong key": (None, {"api_key": "someone-else.not-our-secret"}, {}),
    "refused port": (None, {"base_url": "http://127.0.0.1:9"}, {}),
    "timeout": ({"kind": "slow_first_byte", "seconds": 1}, {"timeout": 0.3}, {}),
}
EXCEPTIONS = {"429, code 1302": ("APIReachLimitError", "RateLimitError"),
              "429, code 1113": ("APIReachLimitError", "RateLimitError"),
              "400, code 1210": ("APIRequestFailedError", "BadRequestError"),
              "401, wrong key": ("APIAuthenticationError", "AuthenticationError"),
              "refused port": ("APIConnectionError", "APIConnectionError"),
              "timeout": ("APITimeoutError", "APITimeoutError")}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_each_failure_raises_a_class_of_the_sdks_own_family_chosen_by_status(failure, strict):
    taught = lesson("en", strict)
    fault, options, request = FAILURES[failure]
    raised = []
    for sdk, family in zip(SDKS, (ZaiError, OpenAIError)):
        if fault:
            strict.inject(**fault)
        client = taught.SDKS[sdk](**{"base_url": strict.base_url, "api_key": strict.api_key,
                                     "max_retries": 0, **options})
        with pytest.raises(family) as error:
            client.chat.completions.create(model=MODEL, messages=taught.question, **request)
        raised.append(type(error.value).__name__)
    assert tuple(raised) == EXCEPTIONS[failure]


@pytest.mark.parametrize("sdk", SDKS)
def test_the_business_code_is_read_from_either_sdks_error(sdk, strict):
    taught = lesson("en", strict)
    for kind, code, retry in [("no_balance", "1113", False), ("rate_limit", "1302", True)]:
        strict.inject(kind)
        with pytest.raises((ZaiError, OpenAIError)) as error:
            taught.make(sdk, max_retries=0).chat.completions.create(
                model=MODEL, messages=taught.question)
        glm = glm_client.api_error_from(error.value.response)
        assert (glm.status, glm.code, glm_client.is_retryable(glm)) == (429, code, retry)
        if sdk == "openai":
            assert error.value.code == code


# -- timeouts (section 5) ------------------------------------------------------------------
def test_the_default_timeouts(strict):
    taught = lesson("en", strict)
    zai_client, openai_client = (taught.SDKS[sdk](base_url="http://127.0.0.1:9", api_key="a.b")
                                 for sdk in SDKS)
    assert (zai_client.timeout.connect, zai_client.timeout.read) == (8.0, 300.0)
    assert (openai_client.timeout.connect, openai_client.timeout.read) == (5.0, 600)
    assert (zai_client.max_retries, openai_client.max_retries) == (3, 2)


def test_the_count_stream_is_longer_than_the_timeout_but_never_pauses_that_long():
    cassette = json.loads((glm_offline.cassettes.PACKAGE_CASSETTES / "lesson-09.json")
                          .read_text(encoding="utf-8"))
    for language in LANGUAGES:
        item = next(i for i in cassette["interactions"]
                    if i["name"] == f"lesson09-count-{language}")
        delays = item["response"]["event_delays_ms"]
        assert sum(delays) >= 2 * 300 and max(delays) <= 300 / 2, language


@pytest.fixture(scope="module")
def paced():
    with glm_offline.start(pacing="realistic", strict=True) as running:
        yield running


@pytest.mark.parametrize("sdk", SDKS)
def test_a_read_timeout_is_per_read_not_per_call(sdk, paced, capsys):
    taught = lesson("en", paced, capsys)
    counting = [{"role": "user", "content": COUNTING["en"]}]
    started = time.monotonic()
    reasoning, answer = taught.stream_answer(taught.make(sdk, timeout=0.3), counting)
    assert time.monotonic() - started > 0.3 and answer == COUNTED["en"]


@pytest.mark.parametrize("sdk, error", [("zai-sdk", httpx.ReadTimeout),
                                        ("openai", openai.APITimeoutError)])
def test_a_silent_stream_raises_httpx_from_zai_sdk_and_openais_own_from_openai(sdk, error,
                                                                              strict, capsys):
    taught = lesson("en", strict, capsys)
    counting = [{"role": "user", "content": COUNTING["en"]}]
    strict.inject("stall_mid_stream", after_events=10, seconds=1)
    with pytest.raises(error) as raised:
        taught.stream_answer(taught.make(sdk, max_retries=0, timeout=0.3), counting)
    assert not isinstance(raised.value, ZaiError)  # so `except ZaiError` misses it


# -- the exercises' solutions pass their checks ------------------------------------------
def exercises(language):
    cells = nbformat.read(NOTEBOOKS / language / LESSON, as_version=4).cells
    start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown"
                 and c.source.startswith(("## Exercises", "## 练习")))
    return cells[start:]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_solutions_pass_their_checks(language, paced, monkeypatch, capsys):
    """On a server that paces its streams as the lesson's does: exercise 3 times one. The
    names the exercises use all come from the core path (sections 1-5), none from the deep
    dives."""
    monkeypatch.setattr(zai_http.time, "sleep", lambda seconds: None)  # exercise 1 waits ~7 s
    taught = lesson(language, paced, capsys)
    namespace = vars(taught)
    for name in ("watched", "sent"):  # defined in the deep dive: the exercises may not need them
        del namespace[name]
    namespace["counting"] = [{"role": "user", "content": COUNTING[language]}]
    namespace["answer"] = COUNTED[language]  # what section 5's stream left in `answer`
    cells = exercises(language)
    for number in (1, 2, 3):
        code, _, check = exercise(cells, number)
        exec(code, namespace)
        capsys.readouterr()  # what the solution printed
        assert checked(language, LESSON, check, namespace).startswith(("Correct", "正确")), number

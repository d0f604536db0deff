"""Lesson 09 sends the same calls through zai-sdk and the openai SDK. Here: the lesson's own
functions (tagged `lesson-sdk`) run from the notebook against the recorded server and against
thinking streams, and the lesson's claims about the SDKs hold for the installed versions:
what they send, how often they retry and how long they wait, which exception each failure
raises, and how their timeouts behave. A new SDK version that changes any of these fails here.

The SDKs' retry waits are real time.sleep calls; the tests that count default retries replace
time.sleep in the SDK's module for the test and check the waits it asked for instead.
"""

import json
import time

import httpx
import nbformat
import openai
import pytest
import zai.core._http_client as zai_http
from openai import OpenAI, OpenAIError
from zai import ZaiClient, ZhipuAiClient
from zai.core import ZaiError

import glm_client
import glm_offline
from helpers import NOTEBOOKS, checked, exercise, run_lesson_cells

LESSON = "09-sdks.ipynb"
LANGUAGES = ("en", "zh")
MODEL = "glm-4.7-flash"
SDKS = ("zai-sdk", "openai")
QUESTION = {"en": "In one sentence, what does an SDK do for you that raw HTTP does not?",
            "zh": "用一句话说说：SDK 替你做了哪些原始 HTTP 要自己动手的事？"}
ANSWER = {"en": "An SDK builds the request, parses the reply into typed objects, and retries "
                "and raises for you, so you write less code but see less of the wire.",
          "zh": "SDK 替你拼好请求、把响应解析成带类型的对象，还替你重试、抛出异常：代码少写了，"
                "线路上发生的事也看不到了。"}
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
TOOL_CALL_LINE = {"en": 'tool call: get_weather {"city": "Beijing"}\n',
                  "zh": '工具调用：get_weather {"city": "北京"}\n'}
# the table of section 7, as the lesson prints it: (zai-sdk, openai) per failure, in order
EXCEPTIONS = [("APIReachLimitError", "RateLimitError"),        # 429, code 1302
              ("APIReachLimitError", "RateLimitError"),        # 429, code 1113
              ("APIRequestFailedError", "BadRequestError"),    # 400, code 1210
              ("APIAuthenticationError", "AuthenticationError"),  # 401
              ("APIConnectionError", "APIConnectionError"),    # refused port
              ("APITimeoutError", "APITimeoutError")]          # timeout


@pytest.fixture(scope="module")
def strict():
    with glm_offline.start(pacing="instant", strict=True) as running:
        yield running


@pytest.fixture(autouse=True)
def no_leftover_faults(strict):
    yield
    strict.faults.clear()


def lesson(language, server):
    """The lesson's tagged cells, run against `server`, with what its untagged cells import."""
    namespace = {"BASE_URL": server.base_url, "API_KEY": server.api_key, "server": server,
                 "MODEL": MODEL, "OpenAI": OpenAI, "ZhipuAiClient": ZhipuAiClient,
                 "OpenAIError": OpenAIError, "ZaiError": ZaiError,
                 "question": [{"role": "user", "content": QUESTION[language]}]}
    return run_lesson_cells(language, LESSON, ["lesson-sdk"], namespace)


def test_the_lesson_names_its_model_once():
    for language in LANGUAGES:
        cells = nbformat.read(NOTEBOOKS / language / LESSON, as_version=4).cells
        code = [c.source for c in cells if c.cell_type == "code"]
        assert code.count(f'MODEL = "{MODEL}"') == 1
        assert sum(f'"{MODEL}"' in source for source in code) == 1, language


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
    taught = lesson(language, thinking_server)
    prompt = [{"role": "user", "content": THINKING_PROMPT}]
    assert taught.stream_answer(taught.watched(sdk), prompt) == ("Let me\n", "Hi!")
    assert capsys.readouterr().out == "Hi!"  # the answer as it arrived, without the reasoning


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_naive_stream_breaks_on_openai_only(language, thinking_server, capsys):
    taught = lesson(language, thinking_server)
    taught.streamed[:] = [{"role": "user", "content": THINKING_PROMPT}]
    taught.naive_stream(taught.watched("zai-sdk"))
    assert capsys.readouterr().out.startswith("Hi!\n")
    with pytest.raises(AttributeError, match="reasoning_content"):
        taught.naive_stream(taught.watched("openai"))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("sdk", SDKS)
def test_stream_answer_on_the_lessons_recording(language, sdk, strict, capsys):
    taught = lesson(language, strict)
    before = len(strict.history)
    reasoning, answer = taught.stream_answer(taught.watched(sdk), taught.streamed)
    assert reasoning and answer and capsys.readouterr().out == answer
    # an SDK stops reading at [DONE], before the chunked body's end: wait for the exchange
    (exchange,) = strict.wait_for_exchanges(before + 1)[before:]
    assert exchange.source == f"recorded:lesson09-stream-{language}"


# -- the tool loop ------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("sdk", SDKS)
def test_the_weather_loop_sends_the_assistant_turn_back_with_its_reasoning(language, sdk,
                                                                          strict, capsys):
    taught = lesson(language, strict)
    ask, final = UMBRELLA[language]
    since = len(strict.history)
    assert taught.ask_with_weather(taught.watched(sdk), ask) == final
    seen = strict.wait_for_exchanges(since + 2)[since:]
    assert [e.source for e in seen] == [f"recorded:lesson09-umbrella-call-{language}",
                                        f"recorded:lesson09-umbrella-answer-{language}"]
    turn = json.loads(taught.sent[-1].content)["messages"][1]
    assert turn["role"] == "assistant" and turn["reasoning_content"]
    assert capsys.readouterr().out == TOOL_CALL_LINE[language]


# -- what goes on the wire ----------------------------------------------------------------
def test_what_each_sdk_sends(strict):
    taught = lesson("en", strict)
    for sdk in SDKS:
        taught.watched(sdk).chat.completions.create(model=MODEL, messages=taught.question)
    zai_body, openai_body = (json.loads(r.content) for r in taught.sent)
    assert {k: v for k, v in zai_body.items() if k != "messages"} == {
        "model": MODEL, "response_format": None, "thinking": None}
    assert {k: v for k, v in openai_body.items() if k != "messages"} == {"model": MODEL}
    zai_headers, openai_headers = (r.headers for r in taught.sent)
    assert "accept-language" not in zai_headers and "zai-sdk-ver" in zai_headers
    assert openai_headers["user-agent"].startswith("OpenAI/")
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
    assert [json.loads(r.content)["temperature"] for r in taught.sent] == [0.99, 1.5]


def test_zai_client_asks_for_english(strict):
    sent = []
    hooked = httpx.Client(event_hooks={"request": [sent.append]})
    client = ZaiClient(base_url=strict.base_url, api_key="someone-else.not-our-secret",
                       max_retries=0, http_client=hooked)
    with pytest.raises(ZaiError, match="Authentication Failed"):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert sent[0].headers["accept-language"] == "en-US,en"


# -- retries: counts and waits ------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["rate_limit", "no_balance"])
def test_one_retry_means_two_requests_whatever_the_429s_code(language, kind, strict,
                                                              monkeypatch):
    monkeypatch.setattr(zai_http.time, "sleep", lambda seconds: None)
    taught = lesson(language, strict)
    for sdk, error in zip(SDKS, ("APIReachLimitError", "RateLimitError")):
        outcome, seen = taught.requests_for(sdk, kind)
        assert outcome == error
        assert [(e.status, e.fault) for e in seen] == [(429, kind), (429, kind)]


@pytest.mark.parametrize("kind", ["rate_limit", "no_balance"])
@pytest.mark.parametrize("sdk, requests, ceilings", [("zai-sdk", 4, [1, 2, 4]),
                                                     ("openai", 3, [0.5, 1])])
def test_default_retries_and_their_waits(sdk, requests, ceilings, kind, strict, monkeypatch):
    """What section 6 says: four requests through zai-sdk, three through openai, for a 1113
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


# -- exceptions ---------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["en"])  # the Chinese cells differ only in labels
def test_each_failure_raises_the_class_the_lesson_shows(language, strict):
    cells = nbformat.read(NOTEBOOKS / language / LESSON, as_version=4).cells
    failures = next(c.source for c in cells if c.source.startswith("FAILURES = {"))
    raised = next(c.source for c in cells if c.source.startswith("def raised("))
    taught = lesson(language, strict)
    namespace = vars(taught)
    exec(failures + "\n" + raised, namespace)
    found = [tuple(namespace["raised"](sdk, *how) for sdk in SDKS)
             for how in namespace["FAILURES"].values()]
    assert found == EXCEPTIONS


def test_the_business_code_is_read_from_either_sdks_error(strict):
    taught = lesson("en", strict)
    strict.inject("no_balance")
    with pytest.raises(ZaiError) as zai_error:
        taught.watched("zai-sdk", max_retries=0).chat.completions.create(
            model=MODEL, messages=taught.question)
    glm = glm_client.api_error_from(zai_error.value.response)
    assert (glm.status, glm.code, glm_client.is_retryable(glm)) == (429, "1113", False)
    strict.inject("rate_limit")
    with pytest.raises(openai.RateLimitError) as openai_error:
        taught.watched("openai", max_retries=0).chat.completions.create(
            model=MODEL, messages=taught.question)
    assert openai_error.value.code == "1302"


# -- timeouts ------------------------------------------------------------------------------
def test_the_default_timeouts():
    zai_timeout = ZhipuAiClient(base_url="http://127.0.0.1:9", api_key="a.b").timeout
    openai_timeout = OpenAI(base_url="http://127.0.0.1:9", api_key="a.b").timeout
    assert (zai_timeout.connect, zai_timeout.read) == (8.0, 300.0)
    assert (openai_timeout.connect, openai_timeout.read) == (5.0, 600)
    assert (ZhipuAiClient(base_url="http://127.0.0.1:9", api_key="a.b").max_retries,
            OpenAI(base_url="http://127.0.0.1:9", api_key="a.b").max_retries) == (3, 2)


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
    taught = lesson("en", paced)
    counting = [{"role": "user", "content": COUNTING["en"]}]
    started = time.monotonic()
    reasoning, answer = taught.stream_answer(taught.watched(sdk, timeout=0.3), counting)
    assert time.monotonic() - started > 0.3 and answer == COUNTED["en"]


@pytest.mark.parametrize("sdk, error", [("zai-sdk", httpx.ReadTimeout),
                                        ("openai", openai.APITimeoutError)])
def test_a_silent_stream_raises_httpx_from_zai_sdk_and_openais_own_from_openai(sdk, error,
                                                                              strict):
    taught = lesson("en", strict)
    counting = [{"role": "user", "content": COUNTING["en"]}]
    strict.inject("stall_mid_stream", after_events=10, seconds=1)
    with pytest.raises(error) as raised:
        taught.stream_answer(taught.watched(sdk, max_retries=0, timeout=0.3), counting)
    assert not isinstance(raised.value, ZaiError)  # so `except ZaiError` misses it


# -- the exercises' solutions pass their checks ------------------------------------------
def exercises(language):
    cells = nbformat.read(NOTEBOOKS / language / LESSON, as_version=4).cells
    start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown"
                 and c.source.startswith(("## Exercises", "## 练习")))
    return cells[start:]




@pytest.mark.parametrize("language", LANGUAGES)
def test_the_solutions_pass_their_checks(language, paced, monkeypatch, capsys):
    """On a server that paces its streams as the lesson's does: exercise 3 times one."""
    monkeypatch.setattr(zai_http.time, "sleep", lambda seconds: None)  # exercise 1 waits ~7 s
    taught = lesson(language, paced)
    namespace = vars(taught)
    namespace["clients"] = {"zai-sdk": taught.watched("zai-sdk"),
                            "openai": taught.watched("openai")}
    namespace["counting"] = [{"role": "user", "content": COUNTING[language]}]
    namespace["answer"] = COUNTED[language]  # what section 8's stream left in `answer`
    namespace.update(api_error_from=glm_client.api_error_from,
                     is_retryable=glm_client.is_retryable)
    cells = exercises(language)
    for number in (1, 2, 3):
        code, _, check = exercise(cells, number)
        exec(code, namespace)
        capsys.readouterr()  # what the solution printed
        assert checked(language, LESSON, check, namespace).startswith(("Correct", "正确")), number

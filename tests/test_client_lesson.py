"""Lesson 07's copy-ready client, tested from the notebook itself.

The code cell tagged "client" is executed here exactly as a reader copies it; the English
and Chinese lessons must hold the same code. Retry decisions, backoff, token renewal and
error mapping are tested without sockets; the stream tests replay real recordings through a
strict recorded server, also cut into hostile pieces.
"""

import types
from pathlib import Path

import jwt
import pytest
import requests

import glm_offline
from conftest import fake_response, lesson_cells, settled_history
from glm_offline.server import hostile_pieces

ROOT = Path(__file__).resolve().parent.parent
LESSON = "07-client.ipynb"
START_MS = 1_795_680_000_000
QUESTION_EN = "In one sentence, why should a program reuse one HTTP connection for many calls?"
TIPS_EN = "In one sentence, give three tips for calling an API reliably."
TIPS_ANSWER_EN = ("Set a timeout on every call, retry only the failures that can pass, with "
                  "backoff and jitter, and reuse one connection instead of opening a new one "
                  "each time.")


def client_source(language):
    cells = lesson_cells(language, LESSON, ["client"])
    assert len(cells) == 1, f"{language}: expected one cell tagged 'client'"
    return cells[0].source


@pytest.fixture(scope="module")
def glm():
    namespace = {"__name__": "glm_client"}
    exec(compile(client_source("en"), f"en/{LESSON}[client]", "exec"), namespace)
    return types.SimpleNamespace(**namespace)


@pytest.fixture(scope="module")
def server():
    with glm_offline.start(pacing="instant", strict=True) as running:
        yield running


def mapped(glm, response):
    with pytest.raises(glm.GLMError) as caught:
        glm.raise_for_glm(response)
    return caught.value


def steady(value):
    return lambda: value


# -- the cell itself -------------------------------------------------------------------
def test_both_languages_hold_the_same_client_code():
    assert client_source("en") == client_source("zh")


def test_the_client_is_one_cell_of_stdlib_requests_and_pyjwt():
    imported = {line.split()[1].split(".")[0] for line in client_source("en").splitlines()
                if line.startswith(("import ", "from "))}
    assert imported <= {"itertools", "json", "random", "re", "time", "dataclasses", "jwt",
                        "requests"}


# -- retry decisions ---------------------------------------------------------------------
@pytest.mark.parametrize("code", ["1302", "1305", "1200", "1230", "1234"])
def test_rate_limits_overloads_and_server_failures_are_retried(glm, code):
    assert glm.is_retryable(glm.GLMError(429, code, "m"))


@pytest.mark.parametrize("status, code", [(429, "1113"), (401, "1000"), (401, "1003"),
                                          (400, "1214"), (400, "1261"), (400, "1301")])
def test_the_business_code_decides_not_the_status(glm, status, code):
    assert not glm.is_retryable(glm.GLMError(status, code, "m"))


@pytest.mark.parametrize("status, retried", [(429, True), (503, True), (502, True),
                                             (404, False), (400, False)])
def test_without_a_glm_code_the_status_decides(glm, status, retried):
    assert glm.is_retryable(glm.GLMError(status, str(status), "from a gateway")) is retried


def test_network_errors_are_retried_other_exceptions_are_not(glm):
    assert glm.is_retryable(requests.ConnectTimeout("connect"))
    assert glm.is_retryable(requests.ConnectionError("reset"))
    assert not glm.is_retryable(ValueError("a bug"))


@pytest.mark.parametrize("attempt, low, high", [(1, 0.25, 0.5), (2, 0.5, 1.0), (3, 1.0, 2.0),
                                                (4, 2.0, 4.0), (6, 4.0, 8.0), (9, 4.0, 8.0)])
def test_backoff_doubles_with_jitter_between_half_and_all_up_to_the_cap(glm, attempt, low, high):
    policy = glm.RetryPolicy(max_attempts=20, max_total_seconds=1000)
    error = glm.GLMError(429, "1302", "m")
    assert glm.retry_delay(error, attempt, 0, steady(0.0), policy) == pytest.approx(low)
    assert glm.retry_delay(error, attempt, 0, steady(0.999999), policy) == pytest.approx(high)


def test_no_delay_after_the_last_attempt(glm):
    policy = glm.RetryPolicy(max_attempts=3)
    error = glm.GLMError(503, "503", "m")
    assert glm.retry_delay(error, 2, 0, steady(0.5), policy) is not None
    assert glm.retry_delay(error, 3, 0, steady(0.5), policy) is None


def test_no_delay_that_would_pass_the_total_time_budget(glm):
    policy = glm.RetryPolicy(max_total_seconds=10)
    error = glm.GLMError(429, "1302", "m", retry_after_seconds=4)
    assert glm.retry_delay(error, 1, 6.0, steady(0.5), policy) == 4
    assert glm.retry_delay(error, 1, 6.5, steady(0.5), policy) is None


def test_retry_after_replaces_the_backoff(glm):
    error = glm.GLMError(429, "1305", "m", retry_after_seconds=3)
    assert glm.retry_delay(error, 1, 0, steady(0.0), glm.RetryPolicy()) == 3


def test_a_permanent_failure_gets_no_delay_even_with_retry_after(glm):
    error = glm.GLMError(429, "1113", "m", retry_after_seconds=3)
    assert glm.retry_delay(error, 1, 0, steady(0.0), glm.RetryPolicy()) is None


# -- error mapping -----------------------------------------------------------------------
def test_a_glm_error_body_becomes_status_code_and_message(glm):
    body = {"error": {"code": "1302", "message": "您的账户已达到速率限制，请您控制请求频率"}}
    error = mapped(glm, fake_response(429, body, {"Retry-After": "7"}))
    assert (error.status, error.code, error.message) == (429, "1302", body["error"]["message"])
    assert error.retry_after_seconds == 7
    assert "1302" in str(error)


def test_a_numeric_code_is_read_as_a_string(glm):
    error = mapped(glm, fake_response(400, {"error": {"code": 1214, "message": "bad"}}))
    assert error.code == "1214"


def test_a_non_json_error_body_uses_the_status_as_code(glm):
    error = mapped(glm, fake_response(502, b"<html>Bad Gateway</html>"))
    assert (error.status, error.code, error.message) == (502, "502", "<html>Bad Gateway</html>")
    assert error.retry_after_seconds is None


def test_a_retry_after_that_is_a_date_is_ignored(glm):
    date = "Wed, 25 Nov 2026 08:00:05 GMT"
    error = mapped(glm, fake_response(503, b"busy", {"Retry-After": date}))
    assert error.retry_after_seconds is None


def test_a_success_is_not_an_error(glm):
    assert glm.raise_for_glm(fake_response(200, {"choices": []})) is None


def test_an_incomplete_answer_is_a_glm_error_with_its_text(glm):
    error = glm.IncompleteAnswer("sensitive", "cut", "half an ans")
    assert isinstance(error, glm.GLMError)
    assert (error.status, error.code, error.text) == (200, "sensitive", "half an ans")


# -- auth --------------------------------------------------------------------------------
def test_a_token_is_reused_until_the_margin_and_renewed_after(glm):
    now = [START_MS]
    auth = glm.GLMAuth("abc.0123456789abcdef0123456789abcdef", clock_ms=lambda: now[0])
    first = auth.token_now()
    now[0] = START_MS + (210 - 30) * 1000 - 1
    assert auth.token_now() == first
    now[0] += 1
    second = auth.token_now()
    assert second != first
    assert auth.exp_ms == now[0] + 210_000


def test_the_token_is_signed_with_the_secret_and_its_exp_is_in_milliseconds(glm):
    secret = "0123456789abcdef0123456789abcdef"
    token = glm.GLMAuth(f"abc.{secret}", clock_ms=steady(START_MS)).token_now()
    claims = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"api_key": "abc", "exp": START_MS + 210_000, "timestamp": START_MS}
    assert jwt.get_unverified_header(token)["sign_type"] == "SIGN"


def test_auth_sets_the_bearer_header_raw_or_signed(glm):
    request = requests.Request("POST", "http://x/chat/completions").prepare()
    key = "abc.0123456789abcdef0123456789abcdef"
    glm.GLMAuth(f" {key} ", use_jwt=False)(request)
    assert request.headers["Authorization"] == f"Bearer {key}"
    glm.GLMAuth(key, clock_ms=steady(START_MS))(request)
    assert request.headers["Authorization"].count(".") == 2  # a JWT: header.payload.signature


@pytest.mark.parametrize("key", ["no-dot-but-s3cr3t-value", "id.s3cr3t.extra", ".s3cr3t", "id.",
                                 ""])
def test_a_malformed_key_raises_value_error_without_the_secret(glm, key):
    with pytest.raises(ValueError, match="<id>.<secret>") as caught:
        glm.GLMClient(key, "http://127.0.0.1:9")
    assert "s3cr3t" not in str(caught.value)


# -- the client against the recorded server ---------------------------------------------
class FakeTime:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(glm, server, **options):
    return glm.GLMClient(server.api_key, server.base_url, timeout=(2, 5), **options)


def tips():
    return [{"role": "user", "content": TIPS_EN}]


def question():
    return [{"role": "user", "content": QUESTION_EN}]


def test_stream_prints_pieces_and_returns_the_whole_message(glm, server):
    pieces = []
    reply = make_client(glm, server).stream(tips(), on_text=pieces.append)
    assert reply == {"role": "assistant", "content": TIPS_ANSWER_EN}
    assert len(pieces) > 10 and "".join(pieces) == TIPS_ANSWER_EN


@pytest.mark.parametrize("line_ending", ["lf", "crlf"])
def test_stream_survives_hostile_chunking(glm, server, line_ending):
    with server.configured(chunking="hostile", line_ending=line_ending):
        reply = make_client(glm, server, use_jwt=False).stream(tips())
    assert reply["content"] == TIPS_ANSWER_EN


def test_parser_gives_the_same_events_however_a_recorded_stream_is_cut(glm, server):
    response = requests.post(f"{server.base_url}/chat/completions", json={
        "model": "glm-4-flash-250414", "messages": tips(), "stream": True},
        headers={"Authorization": f"Bearer {server.api_key}"}, timeout=5)
    data = response.content.replace(b"\n", b"\r\n")
    expected = list(glm.read_events([data]))
    assert expected[-1] == ("message", "[DONE]") and len(expected) > 30
    assert list(glm.read_events(bytes([b]) for b in data)) == expected
    assert list(glm.read_events(hostile_pieces(data, seed=6))) == expected


def test_an_error_frame_raises_incomplete_answer_with_its_code_and_text(glm, server):
    server.inject("error_frame", code="1305", after_events=4)
    with pytest.raises(glm.IncompleteAnswer) as caught:
        make_client(glm, server).stream(tips())
    assert caught.value.code == "1305"
    assert TIPS_ANSWER_EN.startswith(caught.value.text) and caught.value.text


@pytest.mark.parametrize("kind, code", [("no_done", "no_done"), ("drop_mid_stream", "broken"),
                                        ("sensitive", "sensitive"),
                                        ("network_error", "network_error")])
def test_a_stream_that_stops_early_is_never_retried(glm, server, kind, code):
    fake = FakeTime()
    server.inject(kind, after_events=5)
    with pytest.raises(glm.IncompleteAnswer) as caught:
        make_client(glm, server, sleep=fake.sleep, clock=fake.clock).stream(tips())
    assert caught.value.code == code and caught.value.text
    assert fake.sleeps == []


def test_rate_limits_are_retried_with_backoff_then_answered(glm, server):
    fake = FakeTime()
    server.inject("rate_limit", times=2)
    client = make_client(glm, server, sleep=fake.sleep, clock=fake.clock, rng=steady(0.0))
    assert client.chat(question())["content"]
    assert fake.sleeps == [0.25, 0.5]


def test_no_balance_is_raised_at_once(glm, server):
    fake = FakeTime()
    server.inject("no_balance")
    with pytest.raises(glm.GLMError) as caught:
        make_client(glm, server, sleep=fake.sleep, clock=fake.clock).chat(question())
    assert (caught.value.status, caught.value.code) == (429, "1113")
    assert fake.sleeps == []


def test_retry_after_from_the_server_is_honoured(glm, server):
    fake = FakeTime()
    server.inject("overloaded", retry_after=3)
    make_client(glm, server, sleep=fake.sleep, clock=fake.clock).chat(question())
    assert fake.sleeps == [3]


def test_attempts_are_capped(glm, server):
    fake = FakeTime()
    server.inject("unavailable", times=3)
    policy = glm.RetryPolicy(max_attempts=2)
    with pytest.raises(glm.GLMError) as caught:
        make_client(glm, server, sleep=fake.sleep, clock=fake.clock, policy=policy).chat(question())
    assert caught.value.status == 503 and len(fake.sleeps) == 1
    server.faults.clear()


def test_streamed_tool_call_fragments_are_assembled(glm, server):
    tool = {"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather in a city: the sky and the temperature in °C.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, for example Beijing"}},
            "required": ["city"]}}}
    client = make_client(glm, server, model="glm-4.7-flash")
    ask = [{"role": "user", "content": "What's the weather like in Beijing right now?"}]
    reply = client.stream(ask, tools=[tool], tool_stream=True, thinking={"type": "disabled"})
    (call,) = reply["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Beijing"}'}
    assert call["id"].startswith("call_") and call["index"] == 0 and reply["content"] is None


def test_merge_tool_call_by_id_then_index(glm):
    calls = []
    for piece in [{"id": "a", "index": 0, "function": {"name": "f", "arguments": '{"x"'}},
                  {"id": "b", "index": 1, "function": {"name": "g", "arguments": "{}"}},
                  {"index": 0, "function": {"arguments": ": 1}"}}]:
        glm.merge_tool_call(calls, piece)
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("a", "f", '{"x": 1}'), ("b", "g", "{}")]


def test_sequential_calls_share_one_connection(glm):
    # A server of its own: nothing left over from other tests can land in its history.
    with glm_offline.start(pacing="instant", strict=True) as own:
        client = make_client(glm, own, use_jwt=False)
        for _ in range(3):
            client.chat(question())
            client.stream(tips())
        seen = settled_history(own, 6)
    assert len(seen) == 6 and len({exchange.connection for exchange in seen}) == 1

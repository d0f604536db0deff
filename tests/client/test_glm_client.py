"""glm_client.py, the copy-ready client: its parts without sockets, then the client against the
recorded server (faults included) and against a tiny local server that sends chosen bytes
(thinking streams, bodies that are not JSON, slow streams)."""

import json
import random
import socket
import subprocess
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import jwt
import pytest
import requests

import glm_client as g
import glm_offline

KEY = glm_offline.OFFLINE_API_KEY
KEY_ID, SECRET = glm_offline.split_key(KEY)
SHORT_SECRET_KEY = "test-id.sixteen-chars-ok"  # as long as a real secret, clearly not one
QUESTION = [{"role": "user", "content": "Say hi"}]


# -- keys and tokens ---------------------------------------------------------------------
def test_split_key_returns_id_and_secret():
    assert g.split_key("  abc.def\n") == ("abc", "def")


@pytest.mark.parametrize("key", ["no-dot-at-all", "a.b.c", ".hidden-secret", "id.",
                                 "id .hidden-secret", None])
def test_a_malformed_key_is_a_value_error_that_does_not_show_the_secret(key):
    with pytest.raises(ValueError, match="<id>.<secret>") as caught:
        g.split_key(key)
    assert "hidden-secret" not in str(caught.value)


def test_sign_token_puts_milliseconds_in_exp_and_timestamp():
    token = g.sign_token(KEY, ttl_seconds=210, now=1_795_593_600.0)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"api_key": KEY_ID, "exp": 1_795_593_810_000, "timestamp": 1_795_593_600_000}
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "sign_type": "SIGN",
                                                "typ": "JWT"}


@pytest.mark.parametrize("ttl_seconds", [0, -5])
def test_a_token_needs_a_positive_lifetime(ttl_seconds):
    with pytest.raises(ValueError, match="ttl_seconds"):
        g.sign_token(KEY, ttl_seconds=ttl_seconds)


def test_a_token_is_reused_until_renew_before_its_expiry():
    now = [1_000.0]
    cache = g.TokenCache(KEY, ttl_seconds=100, renew_before=30, clock=lambda: now[0])
    first = cache.token()
    now[0] = 1_069.0
    assert cache.token() == first
    now[0] = 1_070.0
    renewed = cache.token()
    assert renewed != first
    claims = jwt.decode(renewed, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["timestamp"] == 1_070_000


def bearer(auth):
    prepared = requests.Request("POST", "http://127.0.0.1/", auth=auth).prepare()
    return prepared.headers["Authorization"].removeprefix("Bearer ")


def test_auth_sends_the_raw_key_by_default_and_a_token_on_request():
    assert bearer(g.GLMAuth(KEY + "\n")) == KEY
    token = bearer(g.GLMAuth(KEY, use_jwt=True))
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["api_key"] == KEY_ID
    assert claims["exp"] - claims["timestamp"] == 3_600_000


# -- server-sent events ------------------------------------------------------------------
# One stream with a BOM, a comment, CR, LF and CRLF endings, JSON over two data lines, a field
# without a colon, an id that persists, retry, Chinese text, and an unfinished last event.
STREAM = ("\ufeff: comment\r\nevent: thinking\r\ndata: {\"a\":\r\ndata:  1}\nid: 7\r\r"
          "data\n\nretry: 1500\ndata: 你好\n\ndata: [DONE]\n\ndata: unterminated").encode()
EVENTS = [g.Event("thinking", '{"a":\n 1}', "7", None), g.Event("message", "", "7", None),
          g.Event("message", "你好", "7", 1500), g.Event("message", "[DONE]", "7", 1500)]


def events_of(chunks):
    return list(g.iter_events(g.split_lines(chunks)))


def test_the_whatwg_rules_on_one_stream_in_one_chunk():
    assert events_of([STREAM]) == EVENTS


def test_every_cut_in_two_and_one_byte_chunks_give_the_same_events():
    for cut in range(len(STREAM) + 1):
        assert events_of([STREAM[:cut], STREAM[cut:]]) == EVENTS, cut
    assert events_of(STREAM[i:i + 1] for i in range(len(STREAM))) == EVENTS


def test_crlf_cut_between_chunks_is_one_line_ending_and_invents_no_blank_line():
    assert list(g.split_lines([b"a\r", b"\nb\r\n"])) == ["a", "b"]
    assert list(g.split_lines([b"a\r", b"", b"\n", b"\n"])) == ["a", ""]
    assert list(g.split_lines([b"a\r", b"\r\n"])) == ["a", ""]


def test_a_character_cut_between_chunks_is_decoded_whole():
    data = "data: 思考\n".encode()
    assert list(g.split_lines([data[:7], data[7:9], data[9:]])) == ["data: 思考"]


def test_a_leading_space_is_removed_once_and_unknown_fields_are_ignored():
    lines = ["data:  two spaces", "data:none", "colour: red", "", "event", "data: x", ""]
    assert list(g.iter_events(lines)) == [g.Event("message", " two spaces\nnone"),
                                          g.Event("message", "x")]


def test_a_long_line_in_one_byte_chunks_takes_linear_time():
    line = b"data: " + b"x" * 65536 + b"\n\n"
    started = time.perf_counter()
    events = events_of(line[i:i + 1] for i in range(len(line)))
    elapsed = time.perf_counter() - started
    assert [len(event.data) for event in events] == [65536]
    assert elapsed < 1.0, f"{elapsed:.2f} s for 64 KiB in 1-byte chunks: not linear"


# -- GLM's stream and the answer, from hand-built chunks -----------------------------------
def fake_stream(text):
    data = text.encode()
    return SimpleNamespace(iter_content=lambda chunk_size=None: iter([data]))


def test_iter_chunks_stops_at_done_and_raises_for_a_stream_without_it():
    assert list(g.iter_chunks(fake_stream('data: {"n": 1}\n\ndata: [DONE]\n\n'))) == [{"n": 1}]
    chunks = []
    with pytest.raises(g.IncompleteAnswer) as caught:
        for chunk in g.iter_chunks(fake_stream('data: {"choices": []}\n\n')):
            chunks.append(chunk)
    assert chunks == [{"choices": []}]
    assert isinstance(caught.value.answer, g.Answer)


def test_a_stream_with_no_chunks_is_an_incomplete_answer():
    with pytest.raises(g.IncompleteAnswer) as caught:
        list(g.iter_chunks(fake_stream("")))
    assert caught.value.answer == g.Answer()


@pytest.mark.parametrize("frame", [
    'event: error\ndata: {"error": {"code": "1302", "message": "slow down"}, "request_id": "r1"}',
    'data: {"error": {"code": "1302", "message": "slow down"}, "request_id": "r1"}'])
def test_an_error_frame_raises_api_error(frame):
    with pytest.raises(g.APIError) as caught:
        list(g.iter_chunks(fake_stream(frame + "\n\ndata: [DONE]\n\n")))
    error = caught.value
    assert (error.status, error.code, error.message, error.request_id) == (
        200, "1302", "slow down", "r1")


def test_a_data_line_that_is_not_json_is_a_glm_error():
    with pytest.raises(g.GLMError, match="not JSON"):
        list(g.iter_chunks(fake_stream("data: {oops\n\n")))


def delta(**fields):
    return {"choices": [{"index": 0, "delta": fields}]}


THINKING_CHUNKS = [
    delta(role="assistant", content="", reasoning_content="\n"),  # glm-4.5-flash's first
    delta(role="assistant", reasoning_content="Think"),  # no content key
    delta(reasoning_content=" more"),  # no role
    delta(role="assistant", content=".", reasoning_content=""),  # glm-4.5's hand-over
    delta(content=" Done"),
    {"choices": [{"index": 0, "finish_reason": "stop", "delta": {"role": "assistant",
                                                                 "content": ""}}],
     "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14,
               "completion_tokens_details": {"reasoning_tokens": 6}}},
]


def test_reasoning_and_content_are_kept_apart_piece_by_piece():
    answer = g.Answer()
    pieces = [answer.add_chunk(chunk) for chunk in THINKING_CHUNKS]
    assert pieces == [("\n", ""), ("Think", ""), (" more", ""), ("", "."), ("", " Done"),
                      ("", "")]
    assert (answer.reasoning, answer.content, answer.finish_reason) == (
        "\nThink more", ". Done", "stop")
    assert answer.usage["completion_tokens_details"] == {"reasoning_tokens": 6}


def test_an_answer_from_a_body_with_and_without_reasoning():
    body = {"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Olá", "reasoning_content": "Portuguese"}}],
        "usage": {"total_tokens": 3}}
    assert g.Answer.from_body(body) == g.Answer("Olá", "Portuguese", [], "stop",
                                                {"total_tokens": 3})
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = {"choices": [{"finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": [call]}}]}
    answer = g.Answer.from_body(body)
    assert (answer.content, answer.reasoning, answer.tool_calls, answer.usage) == (
        "", "", [call], None)
    assert answer.as_message() == {"role": "assistant", "content": None, "tool_calls": [call]}


@pytest.mark.parametrize("body", [{}, {"choices": []}, {"choices": [{"index": 0}]}, [1]])
def test_a_body_that_is_not_a_chat_answer_is_a_glm_error(body):
    with pytest.raises(g.GLMError, match="choices"):
        g.Answer.from_body(body)


def tool_fragment(index, name=None, arguments="", call_id=None):
    fragment = {"index": index, "function": {"arguments": arguments}}
    if name:
        fragment.update(type="function", function={"name": name, "arguments": arguments})
    if call_id:
        fragment["id"] = call_id
    return fragment


def calls_summary(calls):
    return [(call["id"], call["function"]["name"], call["function"]["arguments"])
            for call in calls]


def test_whole_calls_numbered_minus_one_without_ids_are_separate_calls():
    calls = g.merge_tool_call_fragments([], [tool_fragment(-1, "add", '{"a": 1}')])
    g.merge_tool_call_fragments(calls, [tool_fragment(-1, "multiply", '{"b": 2}')])
    assert calls_summary(calls) == [(None, "add", '{"a": 1}'), (None, "multiply", '{"b": 2}')]


def test_calls_numbered_minus_one_with_ids_are_separate_calls():
    calls = g.merge_tool_call_fragments([], [tool_fragment(-1, "add", "{}", "call_a"),
                                             tool_fragment(-1, "add", "{}", "call_b")])
    assert calls_summary(calls) == [("call_a", "add", "{}"), ("call_b", "add", "{}")]


def test_tool_stream_fragments_are_joined_by_index():
    calls = []
    for fragment in [tool_fragment(0, "get_weather", "", "call_w"), tool_fragment(0, None, '{"ci'),
                     tool_fragment(1, "add", '{"a"', "call_x"), tool_fragment(0, None, 'ty": 1}'),
                     tool_fragment(1, None, ": 2}")]:
        g.merge_tool_call_fragments(calls, [fragment])
    assert calls_summary(calls) == [("call_w", "get_weather", '{"city": 1}'),
                                    ("call_x", "add", '{"a": 2}')]


def test_a_nameless_minus_one_fragment_continues_the_latest_call():
    calls = g.merge_tool_call_fragments([], [tool_fragment(-1, "f", '{"a"'),
                                             tool_fragment(-1, None, ": 1}")])
    assert calls_summary(calls) == [(None, "f", '{"a": 1}')]


# -- retry decisions and backoff -----------------------------------------------------------
@pytest.mark.parametrize("error, retried", [
    (g.APIError(429, "1302", "limit"), True),
    (g.APIError(429, "1305", "overloaded"), True),
    (g.APIError(200, "1302", "error frame before any chunk"), True),
    (g.APIError(500, "1200", "failed"), True),
    (g.APIError(503, "503", "gateway"), True),
    (g.APIError(429, "429", "a gateway's 429"), True),
    (g.NetworkError("refused"), True),
    (requests.ConnectionError(), True),
    (requests.exceptions.ChunkedEncodingError(), True),
    (g.APIError(429, "1113", "no balance"), False),
    (g.APIError(429, "1308", "quota window"), False),
    (g.APIError(400, "1210", "range"), False),
    (g.APIError(401, "1000", "auth"), False),
    (g.APIError(404, "404", "unknown path"), False),
    (g.IncompleteAnswer("cut after text", g.Answer(content="Hel")), False),
    (g.IncompleteAnswer("nothing yet", g.Answer()), False),
    (g.GLMError("not JSON"), False),
    (ValueError("bad argument"), False),
])
def test_is_retryable(error, retried):
    assert g.is_retryable(error) is retried


def test_an_incomplete_answer_caused_by_a_rate_limit_is_not_retried():
    try:
        raise g.IncompleteAnswer("cut", g.Answer(content="Hi")) from g.APIError(200, "1302", "m")
    except g.IncompleteAnswer as error:
        assert not g.is_retryable(error)


def test_backoff_doubles_up_to_the_cap_with_full_jitter():
    assert list(g.backoff_delays(attempts=6, rng=lambda: 0.5)) == [0.25, 0.5, 1, 2, 4, 4]
    assert list(g.backoff_delays(attempts=3, rng=lambda: 0.0)) == [0, 0, 0]
    shares = iter([0.1, 0.9])
    assert list(g.backoff_delays(base=1, cap=10, attempts=2, rng=lambda: next(shares))) == [
        0.1, 1.8]
    seeded = [list(g.backoff_delays(attempts=4, rng=random.Random(3).random)) for _ in "ab"]
    assert seeded[0] == seeded[1]


@pytest.mark.parametrize("arguments", [{"attempts": -1}, {"attempts": 1.5}, {"base": 0},
                                       {"cap": -1}])
def test_backoff_rejects_bad_arguments(arguments):
    with pytest.raises(ValueError):
        list(g.backoff_delays(**arguments))


@pytest.mark.parametrize("arguments, message", [
    ({"base_url": "open.bigmodel.cn/api/paas/v4"}, "http"),
    ({"base_url": "https://x/api/paas/v4/chat/completions"}, "without /chat/completions"),
    ({"max_retries": -1}, "max_retries"), ({"api_key": "no-dot"}, "<id>.<secret>"),
    ({"timeout": "60"}, "timeout"), ({"timeout": (5, 0)}, "timeout"),
    ({"timeout": (1, 2, 3)}, "pair")])
def test_the_client_rejects_bad_arguments_in_one_line(arguments, message):
    options = {"base_url": "http://127.0.0.1:1/api/paas/v4", "api_key": KEY, **arguments}
    with pytest.raises(ValueError, match=message):
        g.GLMClient(options.pop("base_url"), options.pop("api_key"), **options)


# -- the client against the recorded server ------------------------------------------------
@pytest.fixture(scope="module")
def glm_server():
    with glm_offline.start(pacing="instant") as running:
        yield running


@pytest.fixture
def server(glm_server):
    yield glm_server
    glm_server.faults.clear()  # a failed test leaves no fault for the next one


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(server, sleeps):
    made = g.GLMClient(server.base_url, server.api_key, sleep=sleeps, rng=lambda: 0.5)
    yield made
    made.close()


def test_chat_and_stream_give_the_same_answer(client):
    whole = client.chat(QUESTION)
    reasoning, content = [], []
    streamed = client.stream(QUESTION, on_reasoning=reasoning.append, on_content=content.append)
    assert whole.finish_reason == streamed.finish_reason == "stop"
    assert whole.content and streamed.content == "".join(content) == whole.content
    assert streamed.reasoning == "".join(reasoning) == whole.reasoning
    assert len(content) > 1
    assert streamed.usage["total_tokens"] == whole.usage["total_tokens"]


def test_a_hostile_crlf_stream_gives_the_same_answer(client, server):
    plain = client.stream(QUESTION)
    with server.configured(chunking="hostile", line_ending="crlf"):
        assert client.stream(QUESTION) == plain


def test_a_recorded_stream_gives_the_same_events_at_sampled_cuts(server):
    with server.configured(chunking="hostile", line_ending="crlf"):
        raw = requests.post(server.base_url + "/chat/completions", json={
            "model": "glm-4.7-flash", "messages": QUESTION, "stream": True},
            headers={"Authorization": f"Bearer {server.api_key}"}, timeout=5).content
    whole = events_of([raw])
    assert whole[-1].data == "[DONE]" and b"\r\n" in raw
    assert all(json.loads(event.data)["choices"] for event in whole[:-1])
    assert events_of(raw[i:i + 1] for i in range(len(raw))) == whole
    cuts = random.Random(11)
    for _ in range(40):
        a, b = sorted(cuts.sample(range(len(raw) + 1), 2))
        assert events_of([raw[:a], raw[a:b], raw[b:]]) == whole, (a, b)


def test_calls_share_one_connection(client, server):
    before = len(server.history)
    for _ in range(2):
        client.chat(QUESTION)
        client.stream(QUESTION)
    seen = server.wait_for_exchanges(before + 4)[before:]
    assert len({exchange.connection for exchange in seen}) == 1


def test_a_rate_limit_is_retried_with_the_backoff_delays(client, server, sleeps):
    server.inject("rate_limit", times=2)
    before = len(server.history)
    assert client.chat(QUESTION).finish_reason == "stop"
    assert sleeps == [0.25, 0.5]  # rng() = 0.5 of 0.5 s, then of 1 s
    assert [e.status for e in server.wait_for_exchanges(before + 3)[before:]] == [429, 429, 200]


def test_retries_stop_after_max_retries(client, server, sleeps):
    server.inject("rate_limit", times=4)
    with pytest.raises(g.APIError) as caught:
        client.chat(QUESTION)
    assert (caught.value.status, caught.value.code) == (429, "1302")
    assert sleeps == [0.25, 0.5, 1.0]


def test_retry_after_is_honoured(client, server, sleeps):
    server.inject("overloaded", retry_after=3)
    client.stream(QUESTION)
    assert sleeps == [3]


def test_no_balance_is_never_retried(client, server, sleeps):
    server.inject("no_balance", times=3)
    before = len(server.history)
    with pytest.raises(g.APIError) as caught:
        client.stream(QUESTION)
    assert (caught.value.status, caught.value.code) == (429, "1113")
    assert sleeps == []
    assert len(server.wait_for_exchanges(before + 1)) == before + 1


def test_a_500_is_an_api_error_after_the_retries(client, server, sleeps):
    server.inject("server_error", times=4)
    with pytest.raises(g.APIError) as caught:
        client.chat(QUESTION)
    assert (caught.value.status, caught.value.code) == (500, "1200")
    assert len(sleeps) == 3


def test_a_400_is_an_api_error_at_once(client, sleeps):
    with pytest.raises(g.APIError) as caught:
        client.chat(QUESTION, temperature=1.5)
    assert caught.value.status == 400 and caught.value.code.startswith("12")
    assert sleeps == []


def test_an_unknown_path_is_an_api_error_with_the_status_as_code(server, sleeps):
    wrong = g.GLMClient(server.base_url + "/v1", server.api_key, sleep=sleeps)
    with pytest.raises(g.APIError) as caught:
        wrong.chat(QUESTION)
    wrong.close()
    assert (caught.value.status, caught.value.code) == (404, "404")
    assert "Not Found" in caught.value.message and sleeps == []


def test_a_refused_connection_is_a_network_error_after_the_retries(sleeps):
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
        url = f"http://127.0.0.1:{reserved.getsockname()[1]}/api/paas/v4"
        nowhere = g.GLMClient(url, KEY, max_retries=2, sleep=sleeps, rng=lambda: 0.5)
        with pytest.raises(g.NetworkError) as caught:
            nowhere.chat(QUESTION)
    assert isinstance(caught.value, g.GLMError)
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert sleeps == [0.25, 0.5]


@pytest.mark.parametrize("kind", ["error_frame", "drop_mid_stream"])
def test_a_failure_before_any_chunk_is_retried(client, server, sleeps, kind):
    server.inject(kind, after_events=0)
    assert client.stream(QUESTION).finish_reason == "stop"
    assert sleeps == [0.25]


@pytest.mark.parametrize("kind, cause", [("error_frame", g.APIError),
                                         ("drop_mid_stream", requests.RequestException),
                                         ("no_done", type(None))])
def test_a_stream_that_fails_after_a_chunk_keeps_what_arrived_and_is_not_retried(
        client, server, sleeps, kind, cause):
    pieces = []
    server.inject(kind, after_events=4)
    with pytest.raises(g.IncompleteAnswer) as caught:
        client.stream(QUESTION, on_reasoning=pieces.append, on_content=pieces.append)
    partial = caught.value.answer
    assert partial.reasoning + partial.content == "".join(pieces) != ""
    assert isinstance(caught.value.__cause__, cause)
    assert sleeps == []


def test_a_stream_with_no_chunks_raises_incomplete_answer(client, server, sleeps):
    server.inject("no_done", after_events=0)
    with pytest.raises(g.IncompleteAnswer) as caught:
        client.stream(QUESTION)
    assert caught.value.answer == g.Answer() and sleeps == []


def test_an_answer_cut_by_moderation_is_an_incomplete_answer(client, server):
    server.inject("sensitive")
    with pytest.raises(g.IncompleteAnswer, match="sensitive") as caught:
        client.chat(QUESTION)
    assert caught.value.answer.finish_reason == "sensitive"


def test_a_stalled_stream_hits_the_read_timeout(server, sleeps):
    impatient = g.GLMClient(server.base_url, server.api_key, timeout=(5, 0.2), sleep=sleeps)
    server.inject("stall_mid_stream", after_events=3, seconds=2)
    started = time.monotonic()
    with pytest.raises(g.IncompleteAnswer):
        impatient.stream(QUESTION)
    impatient.close()
    assert time.monotonic() - started < 1.5 and sleeps == []


def test_a_signed_token_is_accepted(server):
    signed = g.GLMClient(server.base_url, server.api_key, use_jwt=True)
    assert signed.chat(QUESTION).finish_reason == "stop"
    signed.close()


# -- the client against a server that sends chosen bytes ------------------------------------
class BytesHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the name http.server calls)
        reply = self.server.reply
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        for piece in reply.pieces:
            self.wfile.write(piece)
            self.wfile.flush()
            time.sleep(reply.pause)  # pacing the test chooses, not a wait for anything

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def bytes_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BytesHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def serve(body, *, status=200, content_type="text/event-stream;charset=UTF-8", piece=7,
              pause=0.0):
        pieces = [body[i:i + piece] for i in range(0, len(body), piece)]
        httpd.reply = SimpleNamespace(status=status, content_type=content_type, pieces=pieces,
                                      pause=pause)
        return f"http://127.0.0.1:{httpd.server_port}/api/paas/v4"

    yield serve
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def sse(chunks, line_end="\r\n"):
    text = "".join(f"data: {json.dumps(chunk, ensure_ascii=False)}{line_end}{line_end}"
                   for chunk in chunks)
    return (text + f"data: [DONE]{line_end}{line_end}").encode()


def test_a_thinking_stream_calls_each_callback_with_its_pieces(bytes_server):
    url = bytes_server(sse(THINKING_CHUNKS))
    reasoning, content = [], []
    thinking = g.GLMClient(url, KEY)
    answer = thinking.stream(QUESTION, on_reasoning=reasoning.append,
                             on_content=content.append)
    thinking.close()
    assert reasoning == ["\n", "Think", " more"] and content == [".", " Done"]
    assert (answer.reasoning, answer.content, answer.usage["total_tokens"]) == (
        "\nThink more", ". Done", 14)


def test_a_slow_stream_is_not_cut_while_each_read_is_in_time(bytes_server):
    body = sse(THINKING_CHUNKS)
    url = bytes_server(body, piece=len(body) // 10 + 1, pause=0.04)  # ~0.4 s in all
    patient = g.GLMClient(url, KEY, timeout=(5, 0.3))
    started = time.monotonic()
    assert patient.stream(QUESTION).content == ". Done"
    patient.close()
    assert time.monotonic() - started > 0.3  # longer than the read timeout, in all


def test_a_body_that_is_not_json_is_a_glm_error(bytes_server, sleeps):
    url = bytes_server(b"<html>maintenance</html>", content_type="application/json")
    broken = g.GLMClient(url, KEY, sleep=sleeps)
    with pytest.raises(g.GLMError, match="not JSON"):
        broken.chat(QUESTION)
    broken.close()
    assert sleeps == []


def test_a_gateway_page_is_an_api_error_with_the_status(bytes_server, sleeps):
    url = bytes_server(b"<html>\n<h1>502 Bad Gateway</h1>\n</html>", status=502,
                       content_type="text/html")
    gateway = g.GLMClient(url, KEY, max_retries=1, sleep=sleeps, rng=lambda: 0.5)
    with pytest.raises(g.APIError) as caught:
        gateway.chat(QUESTION)
    gateway.close()
    assert (caught.value.status, caught.value.code) == (502, "502")
    assert "\n" not in caught.value.message and sleeps == [0.25]


def test_no_insecure_key_length_warning_by_default(bytes_server):
    url = bytes_server(sse(THINKING_CHUNKS))
    for options, warned in [({}, False), ({"use_jwt": True}, True)]:  # the check can fail
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            short = g.GLMClient(url, SHORT_SECRET_KEY, **options)
            short.stream(QUESTION)
            short.close()
        kinds = {warning.category for warning in caught}
        assert (jwt.warnings.InsecureKeyLengthWarning in kinds) is warned


# -- packaging ------------------------------------------------------------------------------
def test_the_installed_package_ships_glm_client(tmp_path):
    found = subprocess.run([sys.executable, "-c", "import glm_client; print(glm_client.__name__)"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert found.stdout.strip() == "glm_client", found.stderr


def test_the_printer_shows_reasoning_in_grey_then_the_answer_on_its_own_line(capsys):
    printer = g.Printer()
    printer.reasoning("Think")
    printer.reasoning(" more")
    printer.content("Hi")
    printer.content("!")
    assert capsys.readouterr().out == ("\x1b[38;5;245mThink\x1b[0m\x1b[38;5;245m more\x1b[0m"
                                       "\nHi!")


def test_the_printer_without_reasoning_starts_the_answer_where_the_cursor_is(tmp_path):
    with open(tmp_path / "out.txt", "w") as out:
        printer = g.Printer(file=out)
        printer.content("Hi")
        printer.content(" there")
    assert (tmp_path / "out.txt").read_text() == "Hi there"

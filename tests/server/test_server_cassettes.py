"""Replaying cassettes: matching, repeatability, generated replies, strict misses, bad files."""

import json
import re
import subprocess
import sys

import pytest
import requests

import glm_offline
from glm_offline.cassettes import PACKAGE_CASSETTES
from helpers import auth, raw_post

CHAT = "/api/paas/v4/chat/completions"
MODEL = "glm-4-flash-250414"


def post(server, body, **kwargs):
    return requests.post(server.base_url + "/chat/completions", json=body, headers=auth(),
                         timeout=10, **kwargs)


def sse_payloads(content):
    """The JSON payloads of a stream's data lines, and whether it ended with [DONE]."""
    lines = [line for line in content.decode("utf-8").split("\n") if line.startswith("data: ")]
    done = lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines if line != "data: [DONE]"], done


def ask(text, **fields):
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **fields}


# -- recorded replies --------------------------------------------------------------------------

def test_recorded_match_returns_the_recorded_body(module_server, recordings):
    r = post(module_server, recordings["hello-zh"]["request"]["body"])
    assert r.status_code == 200
    assert r.json() == recordings["hello-zh"]["response"]["json"]


def test_key_order_in_the_request_does_not_matter(module_server, recordings):
    body = {"messages": [{"content": "Say hello in one short sentence.", "role": "user"}],
            "model": MODEL}
    assert post(module_server, body).json() == recordings["hello-en"]["response"]["json"]


def test_recorded_error_is_replayed_with_its_status(module_server, recordings):
    r = post(module_server, recordings["content-refused"]["request"]["body"])
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "1301"


@pytest.mark.parametrize("name", ["hello-en", "hello-zh-stream", "weather-tool-call-stream"])
def test_same_request_gives_identical_bytes(module_server, recordings, name):
    raw = json.dumps(recordings[name]["request"]["body"]).encode()
    first = raw_post(module_server.port, CHAT, raw)
    second = raw_post(module_server.port, CHAT, raw)
    assert first.status == second.status == 200
    assert first.chunks == second.chunks


def test_recorded_tool_call_and_follow_up(module_server, recordings):
    call = post(module_server, recordings["weather-tool-call"]["request"]["body"]).json()
    choice = call["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    # A string beside the call, never null (null breaks LangChain's ChatZhipuAI); the GLM-4
    # family's text there is UNVERIFIED, the recorded server sends "" (models.py).
    assert choice["message"]["content"] == ""
    (tool_call,) = choice["message"]["tool_calls"]
    assert tool_call["function"]["name"] == "get_weather"
    assert json.loads(tool_call["function"]["arguments"]) == {"city": "Beijing"}
    assert tool_call["id"] == "call_-8303649628005950554"

    follow_up = recordings["weather-tool-answer"]["request"]["body"]
    assert follow_up["messages"][-1]["role"] == "tool"
    assert follow_up["messages"][-1]["tool_call_id"] == tool_call["id"]
    answer = post(module_server, follow_up).json()
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["choices"][0]["message"]["content"] == "It is sunny in Beijing today, 23 °C."


def test_no_shipped_tool_call_body_has_null_content():
    # LangChain's ChatZhipuAI raises a validation error on null; glm-4.5 sent "\n\n" and
    # glm-4.7-flash a short sentence beside its calls (charmbracelet/fantasy fixtures).
    seen = 0
    for path in sorted(PACKAGE_CASSETTES.glob("*.json")):
        for item in json.loads(path.read_text(encoding="utf-8"))["interactions"]:
            body = item["response"].get("json") or {}
            for choice in body.get("choices") or []:
                if choice["message"].get("tool_calls"):
                    seen += 1
                    assert isinstance(choice["message"]["content"], str), item["name"]
    assert seen >= 10


def test_a_recorded_glm_4_7_flash_tool_call_carries_a_sentence(module_server):
    lesson = json.loads((PACKAGE_CASSETTES / "lesson-06.json").read_text(encoding="utf-8"))
    items = {item["name"]: item for item in lesson["interactions"]}
    for name, sentence in [("lesson06-weather-call-en", "I'll call get_weather."),
                           ("lesson06-weather-call-zh", "我来调用 get_weather。")]:
        r = post(module_server, items[name]["request"]["body"])
        message = r.json()["choices"][0]["message"]
        assert (message["content"], r.json()["choices"][0]["finish_reason"]) == \
            (sentence, "tool_calls")


def test_a_recorded_tool_call_stream_sends_no_content_before_the_call(module_server):
    lesson = json.loads((PACKAGE_CASSETTES / "lesson-06.json").read_text(encoding="utf-8"))
    (item,) = [i for i in lesson["interactions"] if i["name"] == "lesson06-stream-call-en"]
    deltas = [json.loads(line[6:])["choices"][0]["delta"] for line in item["response"]["sse"]
              if line.startswith("data: {")]
    # As captured for glm-4.7-flash (2026-03): reasoning, the call, then the final chunk's "".
    assert [d["content"] for d in deltas if "content" in d] == [""]


def test_follow_up_without_the_null_content_still_matches(module_server, recordings):
    body = json.loads(json.dumps(recordings["weather-tool-answer"]["request"]["body"]))
    del body["messages"][1]["content"]  # recorded as "content": null
    r = post(module_server, body)
    assert r.json() == recordings["weather-tool-answer"]["response"]["json"]


def test_recorded_streaming_tool_call(module_server, recordings):
    r = post(module_server, recordings["weather-tool-call-stream"]["request"]["body"])
    payloads, done = sse_payloads(r.content)
    assert done
    calls = [c for p in payloads for c in p["choices"][0]["delta"].get("tool_calls", [])]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Beijing"}
    assert payloads[-1]["choices"][0]["finish_reason"] == "tool_calls"


# -- generated replies (strict=False) ---------------------------------------------------------

@pytest.mark.parametrize("text, label", [
    ("Tell me a fact about pandas.", "[offline, generated]"),
    ("给我讲一个关于熊猫的事实。", "【离线生成】"),
])
def test_unmatched_request_gets_a_labelled_generated_reply(lenient, text, label):
    r = post(lenient, ask(text))
    assert r.status_code == 200
    body = r.json()
    content = body["choices"][0]["message"]["content"]
    assert content.startswith(label)
    assert text in content
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["model"] == MODEL
    assert body["request_id"] == body["id"]
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 10
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.parametrize("text, label", [
    ("Tell me a fact about pandas.", "[offline, generated]"),
    ("给我讲一个关于熊猫的事实。", "【离线生成】"),
])
def test_generated_stream(lenient, text, label):
    r = post(lenient, ask(text, stream=True))
    assert r.headers["Content-Type"] == "text/event-stream;charset=UTF-8"
    payloads, done = sse_payloads(r.content)
    assert done
    content = "".join(p["choices"][0]["delta"]["content"] for p in payloads)
    assert content.startswith(label)
    assert all("finish_reason" not in p["choices"][0] for p in payloads[:-1])
    assert payloads[-1]["choices"][0]["finish_reason"] == "stop"
    usage = payloads[-1]["usage"]
    assert usage["completion_tokens"] == len(payloads) - 1
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.parametrize("stream", [False, True])
def test_generated_reply_is_deterministic(lenient, stream):
    raw = json.dumps(ask("Is this reply the same every time?", stream=stream)).encode()
    first = raw_post(lenient.port, CHAT, raw)
    second = raw_post(lenient.port, CHAT, raw)
    assert first.body == second.body
    assert b"offline" in first.body and b"generated" in first.body


def test_generated_reply_honours_a_small_max_tokens(lenient):
    body = post(lenient, ask("Tell me a long story.", max_tokens=3)).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 3
    assert body["choices"][0]["message"]["content"] == "[offline,"


def test_generated_stream_honours_a_small_max_tokens(lenient):
    payloads, done = sse_payloads(post(lenient, ask("Tell me a long story.", max_tokens=3,
                                                    stream=True)).content)
    assert done
    assert [p["choices"][0]["delta"]["content"] for p in payloads[:-1]] == ["[", "offline", ","]
    assert payloads[-1]["choices"][0]["finish_reason"] == "length"
    assert payloads[-1]["usage"]["completion_tokens"] == 3


def test_generated_tool_call_for_unrecorded_tools(lenient):
    tools = [{"type": "function", "function": {
        "name": "get_time", "parameters": {"type": "object", "required": ["zone"],
                                           "properties": {"zone": {"type": "string"}}}}}]
    body = post(lenient, ask("What time is it in Paris?", tools=tools)).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "get_time"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {
        "zone": "example"}


# -- strict misses ------------------------------------------------------------------------------

def test_strict_miss_names_the_nearest_recording_and_field(module_server):
    # One leaf away from hello-en-stream only (other recordings differ in two or more).
    r = post(module_server, ask("Say hello in two short sentences.", stream=True))
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert r.json() == {"error": {"code": "offline_no_recording", "message":
        "strict mode: no recording matches this request; nearest recording 'hello-en-stream' "
        "differs: "
        "body.messages[0].content: recorded \"Say hello in one short sentence.\", request has "
        "\"Say hello in two short sentences.\""}}


def test_strict_miss_for_an_extra_field(module_server):
    r = post(module_server, ask("用一句话打个招呼。", temperature=0.5))
    message = r.json()["error"]["message"]
    assert "nearest recording 'hello-zh' differs" in message
    assert "body.temperature is not in the recording" in message


def test_strict_from_the_environment(monkeypatch):
    monkeypatch.setenv("GLM_OFFLINE_STRICT", "1")
    with glm_offline.start(pacing="instant") as server:
        r = post(server, ask("Not recorded anywhere."))
    assert r.json()["error"]["code"] == "offline_no_recording"


# -- cassette files -----------------------------------------------------------------------------

def cassette(*interactions):
    return {"version": 1, "metadata": {"how": "written by a test"},
            "interactions": list(interactions)}


def interaction(name, text="A question only the extra cassette knows.", response=None):
    return {"name": name,
            "request": {"method": "POST", "path": CHAT, "body": ask(text)},
            "response": response or {"status": 200, "json": {"answer": name}}}


def write(path, data):
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_extra_cassette_dir_is_replayed(tmp_path):
    write(tmp_path / "extra.json", cassette(interaction("extra-one")))
    with glm_offline.start(pacing="instant", strict=True, cassette_dirs=[tmp_path]) as server:
        r = post(server, ask("A question only the extra cassette knows."))
    assert r.json() == {"answer": "extra-one"}


@pytest.mark.parametrize("content", [
    "{not json",
    cassette(),  # replaced below for the version check
    {"version": 1, "metadata": {}},
    {"version": 1, "metadata": [], "interactions": []},
    cassette({"name": "no-request", "response": {"status": 200, "json": {}}}),
    cassette(interaction("both", response={"status": 200, "json": {}, "sse": []})),
    cassette(interaction("neither", response={"status": 200})),
    cassette(interaction("status-text", response={"status": "200", "json": {}})),
    cassette(["not an object"]),
    cassette(interaction("short-delays", response={
        "status": 200, "sse": ["data: 1", "", "data: 2", "", "data: [DONE]", ""],
        "event_delays_ms": [10, 10]})),
], ids=["not-json", "version-2", "no-interactions", "metadata-list", "no-request",
        "json-and-sse", "no-body", "status-string", "interaction-list", "delays-per-event"])
def test_bad_cassette_raises_naming_the_file(tmp_path, content):
    if content == cassette():
        content = {**cassette(), "version": 2}
    path = write(tmp_path / "broken.json", content)
    with pytest.raises(glm_offline.CassetteError, match=re.escape(str(path))):
        glm_offline.start(pacing="instant", cassette_dirs=[tmp_path])


def test_duplicate_names_across_files_raise(tmp_path):
    first = write(tmp_path / "a.json", cassette(interaction("twice")))
    second = write(tmp_path / "b.json", cassette(interaction("twice", text="Another question.")))
    with pytest.raises(glm_offline.CassetteError) as error:
        glm_offline.start(pacing="instant", cassette_dirs=[tmp_path])
    assert "'twice'" in str(error.value)
    assert str(first) in str(error.value) and str(second) in str(error.value)


def test_duplicate_of_a_packaged_name_raises(tmp_path):
    write(tmp_path / "mine.json", cassette(interaction("hello-en")))
    with pytest.raises(glm_offline.CassetteError, match="'hello-en'"):
        glm_offline.start(pacing="instant", cassette_dirs=[tmp_path])


# -- every field checked at load time ----------------------------------------------------------

STREAM = {"status": 200, "sse": ["data: 1", "", "data: [DONE]", ""], "event_delays_ms": [5, 1]}


def changed(part, **fields):
    """One good interaction named 'edited' with fields of its request or response replaced
    (a value of ... removes the field)."""
    item = interaction("edited", response=dict(STREAM))
    item[part] = {k: v for k, v in {**item[part], **fields}.items() if v is not ...}
    return item


@pytest.mark.parametrize("item, field, words", [
    (changed("response", sse=None), "response.sse", "must be a list, not null"),
    (changed("response", status=0), "response.status", "from 200 to 599, not 0"),
    (changed("response", status=True), "response.status", "whole number"),
    (changed("response", status=204), "response.status", "cannot carry a body"),
    (changed("response", event_delays_ms=["5", "1"]), "response.event_delays_ms[0]",
     'milliseconds from 0 to 3600000, not "5"'),
    (changed("response", event_delays_ms=[-1, 1]), "response.event_delays_ms[0]", "not -1"),
    (changed("response", event_delays_ms=[5]), "response.event_delays_ms",
     "one delay per SSE event: 2 events, 1 delays"),
    (changed("response", sse=["data: 1\ndata: 2", ""]), "response.sse[0]", "one line of text"),
    (changed("response", sse=["", ""]), "response.sse", "at least one event"),
    (changed("response", sse=..., json=None), "response.json", "must be an object, not null"),
    (changed("response", sse=..., event_delays_ms=..., json={}, polls_before_done=-1),
     "response.polls_before_done", "from 0 to 1000, not -1"),
    (changed("response", polls_before_done=1), "response.polls_before_done",
     "belongs to \"json\""),
    (changed("response", sse=..., json={}), "response.event_delays_ms",
     "belongs to \"sse\""),
    (changed("response", event_delay_ms=[5, 1]), "response.event_delay_ms",
     "is not a field of the format"),
    (changed("request", method="FETCH"), "request.method", "must be one of GET, POST"),
    (changed("request", path="api/paas/v4/chat/completions"), "request.path", "must be a path"),
    (changed("request", path=CHAT + "?x=1"), "request.path", "no spaces, query or fragment"),
    (changed("request", body=["not", "an", "object"]), "request.body", "JSON object"),
    (changed("request", path=...), "request.path", "is missing"),
    ({**changed("response"), "name": ""}, "name", "1 to 200 characters"),
    ({**changed("response"), "name": "two\nlines"}, "name", "control characters"),
], ids=["sse-null", "status-0", "status-bool", "status-204", "delays-strings", "delay-negative",
        "delays-too-few", "sse-newline", "sse-no-event", "json-null", "polls-negative",
        "polls-on-a-stream", "delays-on-json", "misspelt-field", "method", "path-relative",
        "path-query", "body-list", "path-missing", "name-empty", "name-control"])
def test_every_field_is_checked_when_the_cassette_loads(tmp_path, item, field, words):
    path = write(tmp_path / "edited.json", cassette(interaction("fine"), item))
    with pytest.raises(glm_offline.CassetteError) as error:
        glm_offline.start(pacing="instant", cassette_dirs=[tmp_path])
    message = str(error.value)
    assert "\n" not in message
    where = "interaction 1 (edited)" if item.get("name") == "edited" else "interaction 1"
    assert message.startswith(f"{path}: {where}: {field} "), message
    assert words in message


@pytest.mark.parametrize("text, words", [
    ('{"version": 1, "metadata": {}, "interactions": [], "extra": 1}', "extra is not a field"),
    ('{"version": true, "metadata": {}, "interactions": []}', "version must be 1, not true"),
    ('{"version": 1, "metadata": {"model": 4}, "interactions": []}', "metadata.model must be text"),
    ('{"version": 1, "metadata": {}, "interactions": {}}', "interactions must be a list"),
    ('{"version": 1, "metadata": {}, "interactions": [{"name": "n", "request": {"method": "POST",'
     ' "path": "/p"}, "response": {"status": 200, "sse": ["data: 1"], "event_delays_ms": [NaN]}}]}',
     "NaN is not JSON"),
    ("[" * 100000 + "]" * 100000, "nests too deeply"),
], ids=["top-level-extra", "version-bool", "metadata-number", "interactions-object", "nan",
        "deep"])
def test_file_level_mistakes_are_one_line_naming_the_file(tmp_path, text, words):
    path = write(tmp_path / "edited.json", text)
    with pytest.raises(glm_offline.CassetteError) as error:
        glm_offline.start(pacing="instant", cassette_dirs=[tmp_path])
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)
    assert words in str(error.value)


def test_a_cassette_saved_with_a_byte_order_mark_loads(tmp_path):
    text = json.dumps(cassette(interaction("with-bom")), ensure_ascii=False)
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    with glm_offline.start(pacing="instant", strict=True, cassette_dirs=[tmp_path]) as server:
        r = post(server, ask("A question only the extra cassette knows."))
    assert r.json() == {"answer": "with-bom"}


def test_serve_reports_a_bad_field_in_one_line(tmp_path):
    write(tmp_path / "edited.json", cassette(changed("response", status=0)))
    result = subprocess.run([sys.executable, "-m", "glm_offline", "serve", "--port", "0",
                             "--cassettes", str(tmp_path)], capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "interaction 0 (edited): response.status must be a whole number" in result.stderr

"""Thinking models (docs/sources.md#thinking): reasoning_content in bodies and streams, the
hand-over shapes, usage details, max_tokens spent on reasoning, thinking and
reasoning_effort validation, and generated replies that think in the prompt's language."""

import json

import pytest
import requests

import glm_offline
import transcribe
from helpers import auth

QUESTION = [{"role": "user", "content": "Is 91 prime?"}]
CREATED = 1795593600
REASONING = ["Try", " 7", "."]
ANSWER = ["No", "."]


def spec(**interaction):
    return {"description": "thinking tests", "recorded_at": "2026-11-25", "model": "glm-4.7-flash",
            "created": CREATED, "interactions": [interaction]}


def serve_spec(tmp_path, **interaction):
    """A strict server that answers only from one transcribed interaction."""
    (tmp_path / "thinking.json").write_text(transcribe.render(spec(**interaction)),
                                            encoding="utf-8")
    return glm_offline.start(cassette_dirs=[tmp_path], packaged_cassettes=False, strict=True,
                             pacing="instant")


def post(server, body, headers=None):
    return requests.post(server.base_url + "/chat/completions", json=body,
                         headers={**auth(), **(headers or {})}, timeout=10)


def deltas(response):
    """The JSON chunks' deltas of a stream, and its last chunk."""
    chunks = [json.loads(line[6:]) for line in response.text.split("\n")
              if line.startswith("data: {")]
    return [c["choices"][0]["delta"] for c in chunks], chunks[-1]


# -- recorded (transcribed) answers -------------------------------------------------------

def test_recorded_body_has_reasoning_content_and_usage_details(tmp_path):
    body = {"model": "glm-4.7-flash", "messages": QUESTION}
    with serve_spec(tmp_path, name="t", body=body, reasoning=REASONING, answer=ANSWER,
                    cached_tokens=3) as server:
        r = post(server, body)
    assert r.status_code == 200
    # Keys in alphabetical order, as the glm-4.7-flash capture (docs/sources.md#responses).
    assert r.text.index('"content"') < r.text.index('"reasoning_content"') < r.text.index(
        '"role"')
    data = r.json()
    assert data["choices"][0]["message"] == {"content": "No.", "reasoning_content": "Try 7.",
                                             "role": "assistant"}
    assert data["choices"][0]["finish_reason"] == "stop"
    prompt = data["usage"]["prompt_tokens"]
    assert data["usage"] == {"completion_tokens": 5,
                             "completion_tokens_details": {"reasoning_tokens": 3},
                             "prompt_tokens": prompt, "prompt_tokens_details": {"cached_tokens": 3},
                             "total_tokens": prompt + 5}


HANDOVER_DELTAS = {
    "plain": [{"role": "assistant", "reasoning_content": "Try"},
              {"role": "assistant", "reasoning_content": " 7"},
              {"role": "assistant", "reasoning_content": "."},
              {"role": "assistant", "content": "No"},
              {"role": "assistant", "content": "."}],
    "dot": [{"role": "assistant", "reasoning_content": "Try"},
            {"role": "assistant", "reasoning_content": " 7"},
            {"role": "assistant", "reasoning_content": "."},
            {"role": "assistant", "content": "No", "reasoning_content": ""},
            {"role": "assistant", "content": ".", "reasoning_content": ""}],
    "newline-first": [{"role": "assistant", "content": "", "reasoning_content": "\n"},
                      {"role": "assistant", "reasoning_content": "Try"},
                      {"role": "assistant", "reasoning_content": " 7"},
                      {"role": "assistant", "reasoning_content": "."},
                      {"role": "assistant", "content": "No"},
                      {"role": "assistant", "content": "."}],
}


@pytest.mark.parametrize("handover", HANDOVER_DELTAS)
def test_recorded_stream_sends_reasoning_only_deltas_first(tmp_path, handover):
    body = {"model": "glm-4.7-flash", "messages": QUESTION, "stream": True}
    with serve_spec(tmp_path, name="t", body=body, reasoning=REASONING, answer=ANSWER,
                    handover=handover) as server:
        r = post(server, body)
    found, last = deltas(r)
    assert found[:-1] == HANDOVER_DELTAS[handover]
    assert found[-1] == {"role": "assistant", "content": ""}
    assert last["choices"][0]["finish_reason"] == "stop"
    # Captured order in a stream's usage: three counts, then details (docs/sources.md#streaming).
    assert list(last["usage"]) == ["prompt_tokens", "completion_tokens", "total_tokens",
                                   "prompt_tokens_details", "completion_tokens_details"]
    assert last["usage"]["completion_tokens_details"] == {"reasoning_tokens": 3}


def test_a_stream_of_the_lesson_shape_raises_keyerror_in_naive_code(tmp_path):
    """What issue 9 says learners hit: delta["content"] on a reasoning chunk."""
    body = {"model": "glm-4.7-flash", "messages": QUESTION, "stream": True}
    with serve_spec(tmp_path, name="t", body=body, reasoning=REASONING, answer=ANSWER) as server:
        found, _ = deltas(post(server, body))
    with pytest.raises(KeyError):
        "".join(delta["content"] for delta in found)


def test_recorded_small_max_tokens_ends_in_length_with_empty_content(tmp_path):
    body = {"model": "glm-4.7-flash", "messages": QUESTION, "max_tokens": 3}
    with serve_spec(tmp_path, name="t", body=body, reasoning=REASONING, answer=[],
                    finish_reason="length") as server:
        data = post(server, body).json()
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["choices"][0]["message"]["content"] == ""
    assert data["choices"][0]["message"]["reasoning_content"] == "Try 7."
    assert data["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize("interaction, message", [
    ({"body": {"model": "glm-4.7-flash", "messages": QUESTION, "max_tokens": 4},
      "reasoning": REASONING, "answer": [], "finish_reason": "length"}, "exactly max_tokens"),
    ({"body": {"model": "glm-4-flash-250414", "messages": QUESTION},
      "reasoning": REASONING, "answer": ANSWER}, "does not think"),
    ({"body": {"model": "glm-4.7-flash", "messages": QUESTION,
               "thinking": {"type": "disabled"}}, "reasoning": REASONING, "answer": ANSWER},
     "does not think"),
    ({"body": {"model": "glm-4.7-flash", "messages": QUESTION}, "reasoning": REASONING,
      "answer": ANSWER, "handover": "sideways"}, "handover must be"),
])
def test_transcribe_refuses_an_inconsistent_spec(interaction, message):
    with pytest.raises(SystemExit, match=message):
        transcribe.cassette(spec(name="t", **interaction))


def test_switched_off_thinking_has_no_reasoning_but_keeps_the_usage_shape(tmp_path):
    body = {"model": "glm-4.5-flash", "messages": QUESTION, "thinking": {"type": "disabled"}}
    with serve_spec(tmp_path, name="t", body=body, answer=ANSWER) as server:
        data = post(server, body).json()
    assert data["choices"][0]["message"] == {"content": "No.", "role": "assistant"}
    assert data["usage"]["completion_tokens_details"] == {"reasoning_tokens": 0}
    assert data["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}


# -- generated answers --------------------------------------------------------------------

@pytest.mark.parametrize("text, reasoning_start", [
    ("What is a token?", 'The user asks: "What is a token?"'),
    ("什么是词元？", "用户问：“什么是词元？”"),
])
def test_generated_reply_thinks_in_the_prompts_language(lenient, text, reasoning_start):
    body = {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": text}]}
    message = post(lenient, body).json()["choices"][0]["message"]
    assert message["reasoning_content"].startswith(reasoning_start)
    assert "ZHIPUAI_API_KEY" in message["reasoning_content"]
    assert "ZHIPUAI_API_KEY" in message["content"]


def test_generated_stream_thinks_before_it_answers(lenient):
    body = {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": "Hi?"}],
            "stream": True}
    found, last = deltas(post(lenient, body))
    kinds = ["reasoning" if "reasoning_content" in d else "content" for d in found[:-1]]
    assert kinds[0] == "reasoning" and kinds[-1] == "content"
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning")  # one switch, no going back
    assert all("content" not in d for d in found if "reasoning_content" in d)
    reasoning = sum(kind == "reasoning" for kind in kinds)
    assert last["usage"]["completion_tokens_details"] == {"reasoning_tokens": reasoning}


def test_generated_thinking_reply_is_deterministic(lenient):
    body = {"model": "glm-5.1", "messages": [{"role": "user", "content": "Hi?"}]}
    assert post(lenient, body).content == post(lenient, body).content


def test_generated_glm_4_5_flash_stream_starts_with_a_newline_delta(lenient):
    body = {"model": "glm-4.5-flash", "messages": [{"role": "user", "content": "Hi?"}],
            "stream": True}
    found, _ = deltas(post(lenient, body))
    assert found[0] == {"role": "assistant", "content": "", "reasoning_content": "\n"}


@pytest.mark.parametrize("model, thinks", [
    ("glm-4.7-flash", False),  # switchable: off means off
    ("glm-4.5-air", False),
    ("glm-5", True),  # forced: "disabled" is ignored (UNVERIFIED)
    ("glm-5.1", True),
])
def test_thinking_disabled(lenient, model, thinks):
    body = {"model": model, "messages": [{"role": "user", "content": "Hi?"}],
            "thinking": {"type": "disabled"}}
    r = post(lenient, body)
    assert r.status_code == 200
    assert ("reasoning_content" in r.json()["choices"][0]["message"]) is thinks


def test_a_model_that_does_not_think_answers_as_before(lenient):
    body = {"model": "glm-4-flash-250414", "messages": [{"role": "user", "content": "Hi?"}]}
    data = post(lenient, body).json()
    assert set(data["choices"][0]["message"]) == {"content", "role"}
    assert set(data["usage"]) == {"completion_tokens", "prompt_tokens", "total_tokens"}


@pytest.mark.parametrize("max_tokens", [1, 5, 20])
def test_generated_small_max_tokens_spends_the_budget_on_reasoning(lenient, max_tokens):
    body = {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": "Hi?"}],
            "max_tokens": max_tokens}
    data = post(lenient, body).json()
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["choices"][0]["message"]["content"] == ""
    assert data["usage"]["completion_tokens"] == max_tokens
    assert data["usage"]["completion_tokens_details"] == {"reasoning_tokens": max_tokens}


def test_generated_budget_past_the_reasoning_cuts_the_answer(lenient):
    body = {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": "Hi?"}]}
    whole = post(lenient, body).json()
    reasoning = whole["usage"]["completion_tokens_details"]["reasoning_tokens"]
    cut = post(lenient, {**body, "max_tokens": reasoning + 2}).json()
    assert cut["choices"][0]["finish_reason"] == "length"
    assert cut["choices"][0]["message"]["content"] == "[offline"  # two tokens: "[", "offline"


@pytest.mark.parametrize("text", ["List three colours.", "列出三种颜色。"])
def test_json_object_gives_json_content(lenient, text):
    body = {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": text}],
            "response_format": {"type": "json_object"}}
    message = post(lenient, body).json()["choices"][0]["message"]
    assert json.loads(message["content"])["offline_generated"] is True
    assert message["reasoning_content"]  # a thinking model: the JSON in content, reasoning apart


def test_a_recorded_json_schema_request_replays_its_prose_answer(lenient):
    """Lesson 02's trap: the schema is accepted (200) and the answer is a sentence, not JSON."""
    schema = {"type": "object", "required": ["planet", "moons"],
              "properties": {"planet": {"type": "string"}, "moons": {"type": "integer"}}}
    body = {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": (
                "Which is the largest planet, and how many known moons does it have?")}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "planet_facts", "schema": schema}}}
    r = post(lenient, body)
    assert r.status_code == 200
    content = r.json()["choices"][0]["message"]["content"]
    assert content == "Jupiter is the largest planet in our solar system, with 95 known moons."


def test_json_schema_is_accepted_and_ignored(lenient):
    body = {"model": "glm-4-flash-250414", "messages": [{"role": "user", "content": "Hi?"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}
    r = post(lenient, body)
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"].startswith("[offline, generated]")


# -- thinking and reasoning_effort validation ---------------------------------------------

def error_of(response):
    return response.status_code, response.json()["error"]


ALWAYS_THINKS_ZH = "该模型始终思考，不支持关闭思考，请使用 low、high 或 max"
ALWAYS_THINKS_EN = ("This model always engages in thinking and cannot be disabled; please use "
                    "low, high, or max")


@pytest.mark.parametrize("model", ["glm-5.3", "glm-5.3-flash", "glm-5.3-flashx", "glm-5.2"])
def test_switching_off_an_always_thinking_model_is_1210(lenient, model):
    body = {"model": model, "messages": QUESTION, "thinking": {"type": "disabled"}}
    assert error_of(post(lenient, body)) == (400, {"code": "1210", "message": ALWAYS_THINKS_ZH})
    english = post(lenient, body, {"Accept-Language": "en-US,en"})
    assert error_of(english) == (400, {"code": "1210", "message": ALWAYS_THINKS_EN})


@pytest.mark.parametrize("thinking, field", [
    ("enabled", "thinking.type"),
    ({"type": "maybe"}, "thinking.type"),
    ({"type": ["enabled"]}, "thinking.type"),
    ({"type": "enabled", "clear_thinking": "no"}, "thinking.clear_thinking"),
])
def test_bad_thinking_is_rejected(lenient, thinking, field):
    body = {"model": "glm-4.7-flash", "messages": QUESTION, "thinking": thinking}
    assert error_of(post(lenient, body)) == (400, {"code": "1214",
                                                   "message": f"{field} 参数非法。请检查文档。"})


def test_thinking_with_clear_thinking_false_and_reasoning_sent_back_is_accepted(lenient):
    messages = [*QUESTION, {"role": "assistant", "content": "No.", "reasoning_content": "Try 7."},
                {"role": "user", "content": "And 97?"}]
    body = {"model": "glm-4.7-flash", "messages": messages,
            "thinking": {"type": "enabled", "clear_thinking": False}}
    assert post(lenient, body).status_code == 200


@pytest.mark.parametrize("effort", ["low", "high", "max"])
def test_reasoning_effort_values_on_glm_5_3(lenient, effort):
    body = {"model": "glm-5.3", "messages": QUESTION, "reasoning_effort": effort}
    assert post(lenient, body).status_code == 200


def test_low_effort_reasons_less_than_max(lenient):
    body = {"model": "glm-5.3", "messages": [{"role": "user", "content": "Hi?"}]}
    low = post(lenient, {**body, "reasoning_effort": "low"}).json()["usage"]
    most = post(lenient, {**body, "reasoning_effort": "max"}).json()["usage"]
    assert low["completion_tokens_details"]["reasoning_tokens"] < \
        most["completion_tokens_details"]["reasoning_tokens"]


@pytest.mark.parametrize("model, effort, message", [
    ("glm-5.3", "medium", "reasoning_effort 参数非法，取值范围 ['low', 'high', 'max']"),
    ("glm-5.3", 3, "reasoning_effort 参数非法，取值范围 ['low', 'high', 'max']"),
])
def test_bad_reasoning_effort_is_1210(lenient, model, effort, message):
    body = {"model": model, "messages": QUESTION, "reasoning_effort": effort}
    assert error_of(post(lenient, body)) == (400, {"code": "1210", "message": message})


@pytest.mark.parametrize("model", ["glm-4.7-flash", "glm-4.5", "glm-5.1", "glm-4.6v"])
@pytest.mark.parametrize("effort", ["high", "low", "medium"])
def test_reasoning_effort_is_accepted_and_changes_nothing_without_documented_values(
        lenient, model, effort):
    # glm-4.7-flash answered 200 to "high" (charmbracelet/fantasy fixtures, api.z.ai,
    # 2026-03); that the answer does not change, and that other values pass, is UNVERIFIED.
    body = {"model": model, "messages": QUESTION}
    plain = post(lenient, body)
    with_effort = post(lenient, {**body, "reasoning_effort": effort})
    assert (plain.status_code, with_effort.status_code) == (200, 200)
    assert with_effort.json()["choices"] == plain.json()["choices"]
    assert with_effort.json()["usage"] == plain.json()["usage"]


def test_reasoning_effort_on_a_model_that_does_not_think_is_ignored(lenient):
    body = {"model": "glm-4-flash-250414", "messages": QUESTION}
    plain = post(lenient, body).json()
    ignored = post(lenient, {**body, "reasoning_effort": "max"})
    assert ignored.status_code == 200
    assert ignored.json()["choices"] == plain["choices"]
    assert "reasoning_content" not in ignored.json()["choices"][0]["message"]


@pytest.mark.parametrize("model", ["glm-4.7-flash", "glm-4-flash-250414"])
@pytest.mark.parametrize("effort", [3, True, ["high"], {"level": "high"}])
def test_reasoning_effort_of_the_wrong_type_is_1214(lenient, model, effort):
    body = {"model": model, "messages": QUESTION, "reasoning_effort": effort}
    assert error_of(post(lenient, body)) == (400, {"code": "1214", "message":
                                                   "reasoning_effort 参数非法。请检查文档。"})


def test_a_recording_without_reasoning_effort_answers_glm_4_7_flash_with_it(tmp_path):
    # Strict mode: "high" does not change a glm-4.7-flash answer, so the recording made
    # without it answers (glm-5.3's non-default values are recordings of their own).
    body = {"model": "glm-4.7-flash", "messages": QUESTION}
    with serve_spec(tmp_path, name="t", body=body, reasoning=REASONING, answer=ANSWER) as server:
        r = post(server, {**body, "reasoning_effort": "high"})
        recorded = post(server, body)
        assert r.status_code == 200
        assert r.json() == recorded.json()
        five = post(server, {**body, "model": "glm-5.3", "reasoning_effort": "high"})
        assert five.json()["error"]["code"] == "offline_no_recording"


# -- faults on a thinking answer ----------------------------------------------------------

def test_context_window_fault_on_a_thinking_stream_keeps_the_usage_shape(tmp_path):
    body = {"model": "glm-4.7-flash", "messages": QUESTION, "stream": True}
    with serve_spec(tmp_path, name="t", body=body, reasoning=REASONING, answer=ANSWER) as server:
        server.inject("model_context_window_exceeded", after_events=2)
        found, last = deltas(post(server, body))
    assert found == [{"role": "assistant", "reasoning_content": "Try"},
                     {"role": "assistant", "reasoning_content": " 7"},
                     {"role": "assistant", "content": ""}]
    assert last["choices"][0]["finish_reason"] == "model_context_window_exceeded"
    assert last["usage"]["completion_tokens"] == 2
    assert last["usage"]["completion_tokens_details"] == {"reasoning_tokens": 2}

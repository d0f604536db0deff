"""glm_offline.drift: the verdict for one (recording, live answer) pair, on data alone."""

import json

import pytest

from glm_offline import drift
from glm_offline.drift import classify
from glm_offline.drift_run import Checked, line_ending, table
from glm_offline.record import unrecorded_reason

ASK = {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": "Hi"}]}


def body(**changes):
    answer = {"choices": [{"finish_reason": "stop", "index": 0,
                           "message": {"content": "Hello!", "reasoning_content": "Greet.",
                                       "role": "assistant"}}],
              "created": 1795593600, "id": "2026120712000001", "model": "glm-4.7-flash",
              "object": "chat.completion", "request_id": "2026120712000001",
              "usage": {"completion_tokens": 5, "prompt_tokens": 3, "total_tokens": 8}}
    answer.update(changes)
    return answer


def message(**changes):
    choice = body()["choices"][0]
    choice["message"].update(changes)
    return [choice]


def as_json(answer, status=200, **wire):
    return {"status": status, "json": answer, **wire}


def chunk(delta, **extra):
    choice = {"index": 0, "delta": {"role": "assistant", **delta}}
    if "finish_reason" in extra:
        choice = {"index": 0, "finish_reason": extra.pop("finish_reason"),
                  "delta": choice["delta"]}
    return "data: " + json.dumps({"id": "1", "created": 1, "model": "glm-4.7-flash",
                                  "choices": [choice], **extra})


USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
STREAM = [chunk({"reasoning_content": "Greet."}), "",
          chunk({"content": "Hello"}), "",
          chunk({"content": ""}, finish_reason="stop", usage=USAGE), "",
          "data: [DONE]", ""]


def as_sse(lines, **wire):
    return {"status": 200, "sse": lines, **wire}


def paths(verdict, name=None):
    return {c.path for c in verdict.changes if name is None or c.verdict == name}


def test_the_same_answer_is_identical():
    verdict = classify(ASK, as_json(body()), as_json(body()))
    assert (verdict.name, verdict.changes) == ("identical", [])


def test_other_ids_text_and_token_counts_are_benign():
    live = body(id="x2", request_id="x2", choices=message(content="Hi there!"),
                usage={"completion_tokens": 9, "prompt_tokens": 3, "total_tokens": 12})
    verdict = classify(ASK, as_json(body()), as_json(live))
    assert verdict.name == "benign"
    assert paths(verdict) == {"id", "request_id", "choices[].message.content",
                              "usage.completion_tokens", "usage.total_tokens"}


def test_a_removed_field_is_critical():
    live = body(choices=message())
    del live["choices"][0]["message"]["reasoning_content"]
    verdict = classify(ASK, as_json(body()), as_json(live))
    assert verdict.name == "critical"
    assert paths(verdict, "critical") == {"choices[].message.reasoning_content"}


def test_a_renamed_field_is_critical_and_named_as_a_rename():
    live = body()
    live["tokens"] = live.pop("usage")
    verdict = classify(ASK, as_json(body()), as_json(live))
    assert verdict.name == "critical"
    assert [(c.path, c.what) for c in verdict.changes] == [("usage", "renamed to 'tokens'")]


def test_a_retyped_field_is_critical():
    verdict = classify(ASK, as_json(body()), as_json(body(created="1795593600")))
    assert verdict.name == "critical"
    assert [c.what for c in verdict.changes] == ["retyped: number -> string"]


def test_a_new_field_is_notable():
    verdict = classify(ASK, as_json(body()), as_json(body(service_tier="default")))
    assert (verdict.name, verdict.paths) == ("notable", ["service_tier"])


def test_a_new_header_is_notable_and_a_changed_content_type_critical():
    live = as_json(body(), headers=["Content-Type", "Date", "X-Trace-Id"],
                   content_type="application/json; charset=UTF-8")
    assert classify(ASK, as_json(body()), live).paths == ["header:x-trace-id"]
    assert classify(ASK, as_json(body()), live).name == "notable"
    live["content_type"] = "application/json"
    assert classify(ASK, as_json(body()), live).name == "critical"


def test_a_new_finish_reason_is_critical_a_documented_one_benign():
    new = body(choices=message())
    new["choices"][0]["finish_reason"] = "end_turn"
    known = body(choices=message())
    known["choices"][0]["finish_reason"] = "length"
    assert classify(ASK, as_json(body()), as_json(new)).name == "critical"
    assert classify(ASK, as_json(body()), as_json(known)).name == "benign"


def test_another_model_answering_is_redirected():
    verdict = classify(ASK, as_json(body()), as_json(body(model="glm-5.3")))
    assert verdict.name == "redirected"
    assert verdict.changes[0].what == "'glm-4.7-flash' was asked, 'glm-5.3' answered"


REFUSED = {"error": {"code": "1210", "message": "API 调用参数有误，请检查文档。"}}


def test_an_accepted_request_now_refused_and_the_reverse_are_critical():
    refused = classify(ASK, as_json(body()), as_json(REFUSED, 400))
    accepted = classify(ASK, as_json(REFUSED, 400), as_json(body()))
    assert (refused.name, refused.paths) == ("critical", ["status"])
    assert "accepted is now refused" in refused.changes[0].what
    assert "refused is now accepted" in accepted.changes[0].what


def test_a_changed_business_code_is_critical_a_changed_message_benign():
    code = classify(ASK, as_json(REFUSED, 400),
                    as_json({"error": {**REFUSED["error"], "code": "1214"}}, 400))
    text = classify(ASK, as_json(REFUSED, 400),
                    as_json({"error": {**REFUSED["error"], "message": "Bad"}}, 400))
    assert (code.name, code.paths) == ("critical", ["error.code"])
    assert code.changes[0].what == 'business code "1210" -> "1214"'
    assert (text.name, text.paths) == ("benign", ["error.message"])


@pytest.mark.parametrize("status", [401, 429, 500, 503])
def test_401_429_and_5xx_are_skipped(status):
    verdict = classify(ASK, as_json(body()), as_json(REFUSED, status))
    assert verdict.name == "skipped" and verdict.reason.startswith(str(status))


def test_a_stream_cut_by_overload_is_skipped():
    overloaded = STREAM[:2] + ['data: {"error":{"code":"1305","message":"busy"}}', ""]
    verdict = classify(ASK, as_sse(STREAM), as_sse(overloaded))
    assert verdict.name == "skipped" and verdict.reason.startswith("1305")


def test_skips_follow_the_recorders_rule():
    for status in range(200, 600):
        skipped = drift.skip_reason(status) is not None
        assert skipped == (unrecorded_reason("GET", "/x", b"", status) is not None), status


def test_a_stream_like_its_recording_is_identical():
    assert classify(ASK, as_sse(STREAM), as_sse(list(STREAM), line_ending="lf")).name == \
        "identical"


def test_crlf_line_endings_are_critical():
    verdict = classify(ASK, as_sse(STREAM), as_sse(STREAM, line_ending="crlf"))
    assert (verdict.name, verdict.paths) == ("critical", ["sse:line-ending"])


def test_usage_in_a_chunk_of_its_own_changes_the_event_order():
    own = {"id": "1", "created": 1, "model": "glm-4.7-flash", "choices": [], "usage": USAGE}
    live = STREAM[:4] + [chunk({"content": ""}, finish_reason="stop"), "",
                         "data: " + json.dumps(own), ""] + STREAM[6:]
    verdict = classify(ASK, as_sse(STREAM), as_sse(live))
    assert verdict.name == "critical" and "sse:event-order" in verdict.paths
    order = next(c.what for c in verdict.changes if c.path == "sse:event-order")
    assert order.endswith("is now reasoning_content > content > finish > usage > [DONE]")


def test_more_deltas_of_the_same_kind_are_not_a_new_order():
    live = STREAM[:4] + [chunk({"content": " there"}), ""] + STREAM[4:]
    assert classify(ASK, as_sse(STREAM), as_sse(live)).name == "benign"


def test_new_kinds_of_sse_lines_are_critical_lost_ones_benign():
    named = ["event: message", *STREAM]
    commented = [": keep-alive", *STREAM]
    assert classify(ASK, as_sse(STREAM), as_sse(named)).paths == ["sse:event"]
    assert classify(ASK, as_sse(STREAM), as_sse(named)).name == "critical"
    assert classify(ASK, as_sse(commented), as_sse(STREAM)).name == "benign"


def test_a_json_answer_that_is_now_a_stream_is_critical():
    verdict = classify(ASK, as_json(body()), as_sse(STREAM))
    assert (verdict.name, verdict.paths) == ("critical", ["body"])


@pytest.mark.parametrize("data, ending", [
    (b"data: 1\n\ndata: 2\n\n", "lf"), (b"data: 1\r\n\r\n", "crlf"), (b"data: 1\r\r", "cr"),
    (b"data: 1\r\n\n", "mixed"), (b"", "lf")])
def test_line_endings_are_read_from_the_raw_bytes(data, ending):
    assert line_ending(data) == ending


def test_the_table_has_bilingual_headings_and_the_worst_verdict_first():
    results = [Checked("lesson-02.json", "b", drift.Verdict("benign")),
               Checked("lesson-02.json", "a", classify(ASK, as_json(body()),
                                                       as_json(REFUSED, 400)))]
    results.sort(key=lambda e: drift.VERDICTS.index(e.verdict.name))
    lines = table(results).splitlines()
    assert lines[0].split() == ["Verdict", "·", "结论", "Recording", "·", "录制", "Changed",
                                "fields", "·", "变化的字段"]
    assert lines[1].startswith("critical") and "status (200 -> 400" in lines[1]
    assert lines[2].startswith("benign")
    assert lines[-1].startswith("2 exchanges · 共 2 次交互: 1 critical")

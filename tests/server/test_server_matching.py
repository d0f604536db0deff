"""Request matching (glm_offline.matching): requests that spell out a default match the same
recording as requests that leave it out (docs/sources.md#what-real-clients-send); the
server, the recorder and contributors/rerecord.py use the one matcher; and a strict miss on a big
body is explained in bounded work (issue 10)."""

import json

import pytest
import requests

import glm_offline
import rerecord
import transcribe
from glm_offline import matching
from glm_offline.cassette_file import CassetteFile
from glm_offline.cassettes import PACKAGE_CASSETTES, Library
from helpers import auth

HELLO = {"model": "glm-4-flash-250414",
         "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}


def post(server, body):
    return requests.post(server.base_url + "/chat/completions", json=body, headers=auth(),
                         timeout=10)


# -- spelled-out defaults -----------------------------------------------------------------

SPELLED_OUT = {
    "stream-false": {"stream": False},
    "n-1": {"n": 1},
    "stream-options": {"stream_options": {"include_usage": True}},
    "nulls": {"response_format": None, "thinking": None, "tools": None, "stop": None},
    "do-sample-true": {"do_sample": True},
    "tool-choice-auto": {"tool_choice": "auto"},
    "response-format-text": {"response_format": {"type": "text"}},
    "tool-stream-false": {"tool_stream": False},
    # glm-4-flash-250414's defaults as the table has them (0.75 / 0.9, UNVERIFIED).
    "default-temperature": {"temperature": 0.75},
    "default-top-p": {"top_p": 0.9},
    "langchain": {"stream": False, "n": 1, "temperature": 0.75},
}


@pytest.mark.parametrize("extra", SPELLED_OUT.values(), ids=SPELLED_OUT.keys())
def test_a_spelled_out_default_matches_the_recording(module_server, recordings, extra):
    r = post(module_server, {**HELLO, **extra})
    assert r.status_code == 200
    assert r.json() == recordings["hello-en"]["response"]["json"]


def test_stream_options_on_a_stream_match_the_recorded_stream(module_server, recordings):
    body = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
    r = post(module_server, body)
    assert r.status_code == 200
    assert r.text.split("\n") == recordings["hello-en-stream"]["response"]["sse"] + [""]


NOT_DEFAULTS = {
    "temperature": {"temperature": 0.5},
    "top-p": {"top_p": 0.5},
    "n-2": {"n": 2},
    "do-sample-false": {"do_sample": False},
    "json-object": {"response_format": {"type": "json_object"}},
    "tool-choice-none": {"tool_choice": "none"},
    "top-p-one": {"top_p": 1},
}


@pytest.mark.parametrize("extra", NOT_DEFAULTS.values(), ids=NOT_DEFAULTS.keys())
def test_a_value_that_is_not_the_default_does_not_match(module_server, extra):
    r = post(module_server, {**HELLO, **extra})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "offline_no_recording"


# -- sampling values: a near match in non-strict mode ---------------------------------------

@pytest.mark.parametrize("extra, differs", [
    ({"temperature": 0.95}, "temperature"),  # what LangChain's ChatZhipuAI always sends
    ({"top_p": 0.5}, "top_p"),
    ({"temperature": 0.2, "top_p": 0.3}, "temperature, top_p"),
])
def test_only_sampling_differs_replays_the_recording_and_says_so(lenient, recordings, extra,
                                                                 differs):
    r = post(lenient, {**HELLO, **extra})
    assert r.status_code == 200
    assert r.json() == recordings["hello-en"]["response"]["json"]
    assert r.headers["X-GLM-Offline-Match"] == "sampling-ignored; differs in " + differs
    exchange = lenient.history[-1]
    assert (exchange.source, exchange.match) == ("recorded:hello-en", "sampling-ignored")


def test_a_sampling_near_match_of_a_stream_is_said_in_the_header(lenient, recordings):
    r = post(lenient, {**HELLO, "stream": True, "temperature": 0.95})
    assert r.headers["X-GLM-Offline-Match"] == "sampling-ignored; differs in temperature"
    assert r.text.split("\n") == recordings["hello-en-stream"]["response"]["sse"] + [""]


def test_an_exact_match_has_no_header_and_says_exact(lenient, recordings):
    r = post(lenient, HELLO)
    assert "X-GLM-Offline-Match" not in r.headers
    assert lenient.history[-1].match == "exact"
    assert r.json() == recordings["hello-en"]["response"]["json"]


def test_sampling_plus_another_difference_is_generated(lenient):
    r = post(lenient, {**HELLO, "temperature": 0.95, "max_tokens": 50})
    assert r.status_code == 200
    assert "X-GLM-Offline-Match" not in r.headers
    assert r.json()["choices"][0]["message"]["content"].startswith("[offline, generated]")


def test_strict_mode_misses_on_sampling_and_names_it(module_server):
    r = post(module_server, {**HELLO, "temperature": 0.95})
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "nearest recording 'hello-en' differs: body.temperature is not in the recording " \
           "(request has 0.95)" in message
    assert message.endswith("'hello-en' differs only in temperature, and non-strict mode would "
                            "replay it")


def test_find_ignoring_sampling_names_the_fields():
    library = Library.from_dirs([PACKAGE_CASSETTES])
    found, differ = library.find_ignoring_sampling(
        "POST", "/api/paas/v4/chat/completions", {**HELLO, "top_p": 0.3})
    assert (found.name, differ) == ("hello-en", ["top_p"])
    assert library.find_ignoring_sampling("POST", "/api/paas/v4/chat/completions",
                                          {**HELLO, "n": 2}) == (None, [])


THINKING_BODY = {"model": "glm-4.7-flash",
                 "messages": [{"role": "user", "content": "Is 91 prime?"}]}


@pytest.fixture(scope="module")
def thinking_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("thinking")
    spec = {"description": "matching", "recorded_at": "2026-11-25", "model": "glm-4.7-flash",
            "created": 1795593600, "interactions": [
                {"name": "prime", "body": THINKING_BODY, "reasoning": ["7", "×", "13"],
                 "answer": ["No", "."]},
                {"name": "prime-effort", "body": {**THINKING_BODY, "model": "glm-5.3"},
                 "reasoning": ["7", "×", "13"], "answer": ["No", "."]}]}
    (folder / "m.json").write_text(transcribe.render(spec), encoding="utf-8")
    with glm_offline.start(cassette_dirs=[folder], packaged_cassettes=False, strict=True,
                           pacing="instant") as server:
        yield server


@pytest.mark.parametrize("extra", [
    {"thinking": {"type": "enabled"}},
    {"thinking": {"type": "enabled", "clear_thinking": True}},
    {"temperature": 1.0, "top_p": 0.95},  # glm-4.7's defaults (docs/sources.md#request-body)
    {"temperature": 1},
])
def test_thinking_defaults_match(thinking_server, extra):
    r = post(thinking_server, {**THINKING_BODY, **extra})
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "No."


@pytest.mark.parametrize("extra", [
    {"thinking": {"type": "disabled"}},
    {"thinking": {"type": "enabled", "clear_thinking": False}},
    {"temperature": 0.6},
])
def test_thinking_non_defaults_do_not_match(thinking_server, extra):
    r = post(thinking_server, {**THINKING_BODY, **extra})
    assert r.json()["error"]["code"] == "offline_no_recording"


def test_the_default_reasoning_effort_matches(thinking_server):
    body = {**THINKING_BODY, "model": "glm-5.3"}
    assert post(thinking_server, {**body, "reasoning_effort": "max"}).status_code == 200
    low = post(thinking_server, {**body, "reasoning_effort": "low"})
    assert low.json()["error"]["code"] == "offline_no_recording"


def test_canonical_leaves_the_callers_body_alone():
    body = {**HELLO, "stream": False, "temperature": 0.75, "x": None}
    before = json.dumps(body)
    assert matching.canonical(body) == HELLO
    assert json.dumps(body) == before


def test_dropping_defaults_makes_no_two_shipped_recordings_one_request():
    """Two shipped recordings that differ as sent must still differ once defaults are dropped
    (else the second would never be answered)."""
    library = Library.from_dirs([PACKAGE_CASSETTES])
    raw = {}
    for path in sorted(PACKAGE_CASSETTES.glob("*.json")):
        for item in json.loads(path.read_text(encoding="utf-8"))["interactions"]:
            raw[item["name"]] = json.dumps(matching.drop_nulls(item["request"]), sort_keys=True)
    seen = {}
    for item in library.interactions:
        key = (item.method, item.path, json.dumps(item.body, sort_keys=True, ensure_ascii=False))
        if key in seen:
            assert raw[item.name] == raw[seen[key]], f"{item.name} became {seen[key]}"
        seen.setdefault(key, item.name)


# -- one matcher for the server, the recorder and the re-record script --------------------

def test_the_recorder_sees_a_spelled_out_default_as_the_same_request(tmp_path):
    cassette = CassetteFile(tmp_path / "rec.json")
    response = {"status": 200, "json": {"choices": []}}
    path = "/api/paas/v4/chat/completions"
    first, new = cassette.add("POST", path, HELLO, response)
    assert new
    again, new = cassette.add("POST", path, {**HELLO, "stream": False, "n": 1}, response)
    assert (again, new) == (first, False)


def test_rerecord_counts_a_spelled_out_default_as_made(tmp_path):
    def write(name, body):
        spec = {"description": "x", "recorded_at": "2026-11-25", "model": "glm-4-flash-250414",
                "created": 1795593600, "interactions": [{"name": name, "body": body,
                                                         "answer": ["Hi"]}]}
        (tmp_path / f"{name}.json").write_text(transcribe.render(spec), encoding="utf-8")
        return tmp_path / f"{name}.json"

    transcribed = write("transcribed", HELLO)
    live = write("live", {**HELLO, "stream": False, "stream_options": {"include_usage": True}})
    assert rerecord.missing_from(transcribed, live) == []
    other = write("other", {**HELLO, "temperature": 0.2})
    assert rerecord.missing_from(transcribed, other) == ["transcribed"]


# -- a strict miss on a big body is explained in bounded work -----------------------------

def big_bodies():
    many = {**HELLO, "messages": [{"role": "user", "content": f"message {i} " + "x" * 55}
                                  for i in range(10000)]}
    one = {**HELLO, "messages": [{"role": "user", "content": "y" * 1_000_000}]}
    wide = {**HELLO, **{f"f{i}": i for i in range(60000)}}
    return {"many-messages": many, "one-huge-message": one, "many-fields": wide}


@pytest.mark.parametrize("name", big_bodies())
def test_big_body_miss_is_explained(module_server, name):
    body = big_bodies()[name]
    data = json.dumps(body).encode()
    assert 900_000 < len(data) < 1_048_576  # under the server's 1 MiB body limit
    # The work is bounded by count (the test below); bench-like timing is not asserted here.
    r = requests.post(module_server.base_url + "/chat/completions", data=data,
                      headers={**auth(), "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "offline_no_recording"


@pytest.mark.parametrize("name", big_bodies())
def test_big_body_miss_does_bounded_work(monkeypatch, name):
    library = Library.from_dirs([PACKAGE_CASSETTES])
    compared, visits = [], [0]
    real_matcher, real_differing = matching.difflib.SequenceMatcher, matching._differing

    def counting_matcher(isjunk, a, b):
        compared.append((len(a), len(b)))
        return real_matcher(isjunk, a, b)

    def counting_differing(recorded, actual, budget):
        visits[0] += 1
        return real_differing(recorded, actual, budget)

    monkeypatch.setattr(matching.difflib, "SequenceMatcher", counting_matcher)
    monkeypatch.setattr(matching, "_differing", counting_differing)
    message = library.explain_miss("POST", "/api/paas/v4/chat/completions", big_bodies()[name])
    assert message.startswith("nearest recording")
    assert len(message) < 400
    assert compared and max(max(pair) for pair in compared) <= matching.SUMMARY_CHARS
    assert len(compared) <= len(library.interactions)
    # Every visit but one per recording (the call that finds the budget spent) is budgeted.
    assert visits[0] <= max(matching.WORK_LIMIT, 100 * len(library.interactions)) + \
        2 * len(library.interactions)

"""The drift check end to end against a mutant upstream: the recorded server answering from
copies of the cassettes with one mutation applied to their responses (or with CRLF framing),
each of which must land in its verdict. Only 127.0.0.1 is ever contacted.
"""

import copy
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import glm_offline
import transcribe
from glm_offline import __main__ as main_module
from glm_offline import drift_run
from glm_offline.cassette_file import read_checked
from glm_offline.cassettes import PACKAGE_CASSETTES
from glm_offline.wire import sse_lines_to_events

ROOT = Path(__file__).resolve().parents[2]
KEY_ID = "drift-test"
SECRET = "this-secret-only-opens-the-mutant-upstream"
KEY = f"{KEY_ID}.{SECRET}"
SUBSET = ["lesson-02.json", "lesson-03.json", "lesson-04.json", "server-basics.json"]
CHAT = "/api/paas/v4/chat/completions"
REFUSAL = {"error": {"code": "1210", "message": "API 调用参数有误，请检查文档。"}}
# A recording the recorded server's own validation lets through, answered 400/1210.
REFUSED_CASSETTE = {"version": 1, "metadata": {}, "interactions": [
    {"name": "refused-1210",
     "request": {"method": "POST", "path": CHAT,
                 "body": {"model": "glm-4.7-flash",
                          "messages": [{"role": "user", "content": "A refused request"}]}},
     "response": {"status": 400, "json": REFUSAL}}]}


# -- mutations of one recorded response (request body, response) -> response ----------------

def chunks(response, change):
    """Apply change(payload) to every JSON event of a stream (or to the JSON body)."""
    if "json" in response:
        change(response["json"])
        return response
    lines = []
    for line in response["sse"]:
        try:
            payload = json.loads(line[6:]) if line.startswith("data: {") else None
        except ValueError:  # JSON spread over several data: lines (lesson 03's framing demo)
            payload = None
        if payload is not None:
            before = copy.deepcopy(payload)
            change(payload)
            if payload != before:
                line = "data: " + json.dumps(payload, ensure_ascii=False)
        lines.append(line)
    response["sse"] = lines
    return response


def parts(payload):
    """The message or delta objects of a body or chunk."""
    for choice in payload.get("choices", []):
        yield choice.get("message") or choice.get("delta") or {}


def drop_reasoning(body, response):
    def change(payload):
        for part in parts(payload):
            part.pop("reasoning_content", None)
    return chunks(response, change)


def rename_stop(body, response):
    def change(payload):
        for choice in payload.get("choices", []):
            if choice.get("finish_reason") == "stop":
                choice["finish_reason"] = "end_turn"
    return chunks(response, change)


def add_field(body, response):
    return chunks(response, lambda payload: payload.update(service_tier="default"))


def code_1214(body, response):
    if response["status"] == 400 and response["json"]["error"]["code"] == "1210":
        response["json"]["error"]["code"] = "1214"
    return response


def other_model(body, response):
    return chunks(response, lambda payload: payload.update(model="glm-5.3-flash")
                  if "model" in payload else None)


def usage_alone(body, response):
    if "sse" not in response:
        return response
    lines, delays = [], []
    events = sse_lines_to_events(response["sse"])
    for event, delay in zip(events, response["event_delays_ms"]):
        try:
            payload = json.loads(event[0][6:]) if event[0].startswith("data: {") else None
        except ValueError:  # JSON spread over several data: lines
            payload = None
        if payload and "usage" in payload:
            usage = payload.pop("usage")
            own = {key: payload[key] for key in ("id", "created", "model")}
            lines += ["data: " + json.dumps(payload, ensure_ascii=False), "",
                      "data: " + json.dumps({**own, "choices": [], "usage": usage}), ""]
            delays += [delay, 0]
        else:
            lines += [*event, ""]
            delays.append(delay)
    response.update(sse=lines, event_delays_ms=delays)
    return response


def refuse_low_effort(body, response):
    if (body or {}).get("reasoning_effort") == "low":
        return {"status": 400, "json": copy.deepcopy(REFUSAL)}
    return response


def benign_only(body, response):
    """Other ids, other (non-empty) text, other token counts: what every live run gives."""
    rng = random.Random(json.dumps(body, sort_keys=True))

    def change(payload):
        for key in ("id", "request_id"):
            if key in payload:
                payload[key] = f"2026{rng.getrandbits(64):x}"
        for part in parts(payload):
            for key in ("content", "reasoning_content"):
                if part.get(key):
                    part[key] = rng.choice(["Sure.", "好的。", "A different answer."])
        for key, value in (payload.get("usage") or {}).items():
            if isinstance(value, int):
                payload["usage"][key] = value + rng.randint(1, 50)
    return chunks(response, change)


def mutant_folder(folder, mutate, names=SUBSET, extra=()):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        data = read_checked(PACKAGE_CASSETTES / name)
        for item in data["interactions"]:
            item["response"] = mutate(item["request"].get("body"), item["response"])
        (folder / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    for name, data in extra:
        data = copy.deepcopy(data)
        for item in data["interactions"]:
            item["response"] = mutate(item["request"].get("body"), item["response"])
        (folder / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


def run(tmp_path, mutate=None, keys=(KEY,), names=SUBSET, **options):
    """(refused, {interaction name: Verdict}) of a drift check against the mutant."""
    mutants = mutant_folder(tmp_path / "mutant", mutate or (lambda body, r: r), names,
                            [("refused.json", REFUSED_CASSETTE)])
    with glm_offline.start(cassette_dirs=[mutants], packaged_cassettes=False, strict=True,
                           api_keys=[glm_offline.OFFLINE_API_KEY, *keys], pacing="instant",
                           **options) as upstream:
        recordings = [PACKAGE_CASSETTES / n for n in names] + [refused_recording(tmp_path)]
        refused, results = drift_run.check(recordings, upstream.base_url, KEY, poll_seconds=0)
    return refused, {e.interaction: e.verdict for e in results}


def refused_recording(tmp_path):
    path = tmp_path / "recorded" / "refused.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(REFUSED_CASSETTE), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def recorded():
    """{interaction name: (request body, response)} of the subset."""
    found = {}
    for name in SUBSET:
        for item in read_checked(PACKAGE_CASSETTES / name)["interactions"]:
            found[item["name"]] = (item["request"]["body"], item["response"])
    found["refused-1210"] = (None, REFUSED_CASSETTE["interactions"][0]["response"])
    return found


def touched(mutate, recorded):
    """The recordings whose response this mutation changes (the others must stay identical)."""
    return {name for name, (body, response) in recorded.items()
            if mutate(body, copy.deepcopy(response)) != response}


def verdicts(results, names):
    return {results[name].name for name in names}


def test_an_unmutated_upstream_gives_identical_for_every_recording(tmp_path):
    refused, results = run(tmp_path)
    assert refused is None
    assert len(results) == sum(len(read_checked(PACKAGE_CASSETTES / n)["interactions"])
                               for n in SUBSET) + 1
    assert {name: v.name for name, v in results.items() if v.name != "identical"} == {}


def test_benign_only_mutants_give_no_critical(tmp_path):
    _, results = run(tmp_path, benign_only)
    names = {v.name for v in results.values()}
    assert names <= {"benign", "identical"} and "benign" in names
    assert "choices[].message.content" in results["lesson02-request-en"].paths


@pytest.mark.parametrize("mutate, verdict, example, path", [
    (drop_reasoning, "critical", "lesson03-stream-en",
     "chunks[].choices[].delta.reasoning_content"),
    (rename_stop, "critical", "hello-en-stream", "chunks[].choices[].finish_reason"),
    (add_field, "notable", "lesson02-request-en", "service_tier"),
    (code_1214, "critical", "refused-1210", "error.code"),
    (other_model, "redirected", "lesson03-stream-en", "chunks[].model"),
    (usage_alone, "critical", "lesson03-stream-en", "sse:event-order"),
    (refuse_low_effort, "critical", "lesson04-effort-low-en", "status"),
])
def test_each_mutant_lands_in_its_bucket_and_leaves_the_rest_identical(tmp_path, recorded,
                                                                       mutate, verdict,
                                                                       example, path):
    _, results = run(tmp_path, mutate)
    changed = touched(mutate, recorded)
    assert example in changed and verdicts(results, changed) == {verdict}
    assert verdicts(results, set(results) - changed) <= {"identical"}
    assert path in results[example].paths


def test_mutations_are_reported_by_what_changed(tmp_path, recorded):
    _, results = run(tmp_path, drop_reasoning)
    assert len(touched(drop_reasoning, recorded)) > 20
    assert "choices[].message.reasoning_content" in results["lesson02-request-en"].paths
    _, results = run(tmp_path / "renamed", rename_stop)
    assert "a new finish_reason 'end_turn'" in [c.what for c in
                                                results["hello-en-stream"].changes]


def test_crlf_framing_is_critical_for_streams_only(tmp_path, recorded):
    _, results = run(tmp_path, line_ending="crlf")
    streams = [n for n, (_, r) in recorded.items() if "sse" in r]
    assert verdicts(results, streams) == {"critical"}
    assert all(results[n].paths == ["sse:line-ending"] for n in streams)
    assert verdicts(results, set(results) - set(streams)) == {"identical"}


def test_a_refused_effort_value_is_an_accepted_request_now_refused(tmp_path):
    _, results = run(tmp_path, refuse_low_effort)
    for name in ("lesson04-effort-low-en", "lesson04-effort-low-zh"):
        assert results[name].name == "critical" and results[name].paths == ["status"]
        assert "accepted is now refused" in results[name].changes[0].what
    assert results["lesson04-effort-max-en"].name == "identical"


def test_a_refused_key_is_skipped_not_drift(tmp_path):
    refused, results = run(tmp_path, keys=())
    assert refused == "key refused"
    assert {(v.name, v.reason) for v in results.values()} == {("skipped", "key refused")}


def test_an_async_task_is_polled_to_its_end_and_only_its_new_id_differs(tmp_path):
    _, results = run(tmp_path, names=["lesson-08.json"])
    assert {(v.name, tuple(v.paths)) for n, v in results.items() if n != "refused-1210"} == \
        {("benign", ("id",))}


# -- the command line -------------------------------------------------------------------

def clean_env(**variables):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHIPUAI_", "GLM_OFFLINE_"))}
    return {**env, **variables}


def drift_command(upstream, *args):
    return subprocess.run([sys.executable, "-m", "glm_offline", "drift", "--base-url",
                           upstream.base_url, *args], env=clean_env(ZHIPUAI_API_KEY=KEY),
                          capture_output=True, text=True, encoding="utf-8", timeout=60,
                          cwd=ROOT)


def everything_written(*paths):
    texts = []
    for path in paths:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        texts += [p.read_text(encoding="utf-8") for p in files]
    return "\n".join(texts)


@pytest.mark.parametrize("mutate, keys, exit_code, worst", [
    (None, (KEY,), 0, "identical"),
    (drop_reasoning, (KEY,), 1, "critical"),
    (None, (), 2, "skipped"),
])
def test_the_command_reports_exits_and_never_shows_the_key(tmp_path, mutate, keys, exit_code,
                                                          worst):
    mutants = mutant_folder(tmp_path / "mutant", mutate or (lambda body, r: r),
                            ["lesson-02.json"])
    report, live = tmp_path / "report.json", tmp_path / "live"
    live.mkdir()
    with glm_offline.start(cassette_dirs=[mutants], packaged_cassettes=False, strict=True,
                           api_keys=[glm_offline.OFFLINE_API_KEY, *keys],
                           pacing="instant") as upstream:
        result = drift_command(upstream, "--lessons", "02", "--json", str(report),
                               "--save-live", str(live))
    printed = result.stdout + result.stderr
    assert result.returncode == exit_code, printed
    data = json.loads(report.read_text(encoding="utf-8"))
    assert len(data["exchanges"]) == 18  # lesson 02: 18 recorded exchanges
    assert data["exchanges"][0]["verdict"] == worst
    assert data["exchanges"][0]["recording"] == {"cassette": "lesson-02.json",
                                                 "interaction": data["exchanges"][0]
                                                 ["recording"]["interaction"]}
    assert data["summary"][worst] == 18
    assert data["not_checked"] is None or worst == "skipped"
    assert "Verdict · 结论" in result.stdout and "变化的字段" in result.stdout
    written = printed + everything_written(report, live)
    for secret in (KEY, SECRET, KEY_ID):
        assert secret not in written
    if worst == "skipped":
        assert "error: nothing was checked: key refused" in result.stderr
        assert data["not_checked"] == "key refused"
        assert {e["reason"] for e in data["exchanges"]} == {"key refused"}
    if worst == "critical":
        assert "choices[].message.reasoning_content" in data["exchanges"][0]["paths"]
        assert list(live.iterdir()) == [live / "live-lesson-02.json"]  # what the API said


def test_the_command_needs_a_key_and_says_so_in_one_line():
    result = subprocess.run([sys.executable, "-m", "glm_offline", "drift"], env=clean_env(),
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ZHIPUAI_API_KEY is not set. The drift check needs")
    assert len(result.stderr.splitlines()) == 1


def test_update_cassettes_writes_the_verdict_and_the_day(tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "lesson-02.json").write_bytes((PACKAGE_CASSETTES / "lesson-02.json").read_bytes())
    mutants = mutant_folder(tmp_path / "mutant", add_field, ["lesson-02.json"])
    with glm_offline.start(cassette_dirs=[mutants], packaged_cassettes=False, strict=True,
                           api_keys=[KEY], pacing="instant") as upstream:
        result = drift_command(upstream, "--cassettes", str(folder), "--update-cassettes")
    assert result.returncode == 0, result.stderr
    provenance = read_checked(folder / "lesson-02.json")["metadata"]["provenance"]
    assert provenance["made"] == "transcribed"
    assert provenance["last_drift"]["verdict"] == "notable"
    assert provenance["last_drift"]["checked_at"] == drift_run.datetime.now(
        drift_run.timezone.utc).date().isoformat()
    # As contributors/transcribe.py would write it, so `transcribe.py --check` still passes.
    spec = json.loads((ROOT / "contributors" / "cassette_specs" / "lesson-02.json").read_text(
        encoding="utf-8"))
    assert (folder / "lesson-02.json").read_text(encoding="utf-8") == transcribe.render(
        spec, provenance["last_drift"])


def test_verdicts_that_cannot_be_written_end_in_one_line_not_a_traceback(tmp_path, monkeypatch,
                                                                        capsys):
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "lesson-02.json").write_bytes((PACKAGE_CASSETTES / "lesson-02.json").read_bytes())

    def refuse(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(drift_run, "write_whole", refuse)
    with glm_offline.start(cassette_dirs=[folder], packaged_cassettes=False, strict=True,
                           api_keys=[KEY], pacing="instant") as upstream:
        args = main_module.build_parser().parse_args(
            ["drift", "--base-url", upstream.base_url, "--cassettes", str(folder),
             "--update-cassettes"])
        status = drift_run.run_command(args, environ={"ZHIPUAI_API_KEY": KEY})
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip().splitlines()[-1] == (
        "error: the verdicts could not be written into the cassettes: Permission denied")

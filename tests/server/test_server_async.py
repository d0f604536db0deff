"""Async chat: POST /async/chat/completions starts a task, GET /async-result/{id} polls it."""

import json
import re
from pathlib import Path

import pytest
import requests

import glm_offline
from glm_offline.cassettes import CassetteError, load_file
from helpers import auth, settled_history

CASSETTE = Path(glm_offline.__file__).parent / "cassettes" / "lesson-08.json"
TASK_ID = re.compile(r"\d{17}-\d{19}")


@pytest.fixture(scope="module")
def tasks():
    """The async interactions of lesson-08.json by name."""
    data = json.loads(CASSETTE.read_text(encoding="utf-8"))
    return {item["name"]: item for item in data["interactions"]}


def submit(server, body, headers=None):
    return requests.post(server.base_url + "/async/chat/completions", json=body,
                         headers=auth() if headers is None else headers, timeout=10)


def poll(server, task_id, headers=None):
    return requests.get(f"{server.base_url}/async-result/{task_id}",
                        headers=auth() if headers is None else headers, timeout=10)


def statuses(server, task_id, polls):
    return [poll(server, task_id).json()["task_status"] for _ in range(polls)]


def test_submit_answers_a_processing_task_record(module_server, tasks):
    recorded = tasks["lesson08-story-en"]
    r = submit(module_server, recorded["request"]["body"])
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    record = r.json()
    assert list(record) == ["id", "model", "request_id", "task_status"]
    assert TASK_ID.fullmatch(record["id"])
    assert record["model"] == "glm-4.7-flash"
    assert record["request_id"] == recorded["response"]["json"]["request_id"]
    assert record["task_status"] == "PROCESSING"


def test_polls_answer_processing_then_success(module_server, tasks):
    recorded = tasks["lesson08-story-en"]
    assert recorded["response"]["polls_before_done"] == 2
    task = submit(module_server, recorded["request"]["body"]).json()
    assert [poll(module_server, task["id"]).json() for _ in range(2)] == [task, task]
    assert statuses(module_server, task["id"], 3) == ["SUCCESS"] * 3


def test_success_record_is_the_recording_under_the_task_id(module_server, tasks):
    recorded = tasks["lesson08-story-zh"]
    task_id = submit(module_server, recorded["request"]["body"]).json()["id"]
    statuses(module_server, task_id, 2)
    done = poll(module_server, task_id).json()
    assert done == {**recorded["response"]["json"], "id": task_id}
    assert list(done) == sorted(done)
    assert done["task_status"] == "SUCCESS"
    assert done["choices"][0]["message"]["content"].startswith("四十年来")
    # glm-4.7-flash reports both details (docs/sources.md#responses), also with thinking off.
    assert set(done["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens",
                                  "prompt_tokens_details", "completion_tokens_details"}


def test_polls_before_done_zero_succeeds_at_once(module_server, tasks):
    task_id = submit(module_server, tasks["lesson08-square-en"]["request"]["body"]).json()["id"]
    assert poll(module_server, task_id).json()["choices"][0]["message"]["content"] == "144"


def test_tasks_are_independent(module_server, tasks):
    body = tasks["lesson08-colour-en"]["request"]["body"]
    first, second = (submit(module_server, body).json()["id"] for _ in range(2))
    assert first != second
    assert statuses(module_server, first, 2) == ["PROCESSING", "SUCCESS"]
    assert statuses(module_server, second, 2) == ["PROCESSING", "SUCCESS"]


def test_task_fail_fault(server, tasks):
    server.inject("task_fail")
    task_id = submit(server, tasks["lesson08-story-en"]["request"]["body"]).json()["id"]
    assert statuses(server, task_id, 2) == ["PROCESSING", "PROCESSING"]
    failed = poll(server, task_id).json()
    assert failed == {"id": task_id, "model": "glm-4.7-flash",
                      "request_id": tasks["lesson08-story-en"]["response"]["json"]["request_id"],
                      "task_status": "FAIL"}
    assert statuses(server, task_id, 2) == ["FAIL", "FAIL"]
    # The submit carried the fault, no poll did (history is in order of completion).
    faults = {(e.method, e.fault) for e in settled_history(server, 6)}
    assert faults == {("POST", "task_fail"), ("GET", "")}


def test_a_task_fault_waits_for_a_task(server, tasks, recordings):
    server.inject("task_fail")
    r = requests.post(server.base_url + "/chat/completions", headers=auth(), timeout=10,
                      json=recordings["hello-en"]["request"]["body"])
    assert r.json() == recordings["hello-en"]["response"]["json"]
    assert server.faults.pending() == [{"kind": "task_fail", "times": 1}]


def test_status_fault_on_submit(server, tasks):
    server.inject("rate_limit")
    r = submit(server, tasks["lesson08-story-en"]["request"]["body"])
    assert (r.status_code, r.json()["error"]["code"]) == (429, "1302")


def test_unknown_task_id(module_server):
    r = poll(module_server, "12345-678")
    assert (r.status_code, r.json()) == (
        404, {"error": {"code": "404", "message": "no such task: 12345-678"}})


@pytest.mark.parametrize("call", [
    lambda s, body: submit(s, body, headers={}),
    lambda s, body: poll(s, submit(s, body).json()["id"], headers={}),
], ids=["submit", "poll"])
def test_auth_is_required(module_server, tasks, call):
    r = call(module_server, tasks["lesson08-story-en"]["request"]["body"])
    assert (r.status_code, r.json()["error"]["code"]) == (401, "1001")


def test_poll_with_a_wrong_key(module_server, tasks):
    task_id = submit(module_server, tasks["lesson08-story-en"]["request"]["body"]).json()["id"]
    r = poll(module_server, task_id, headers=auth("glm-offline.wrong-secret"))
    assert r.status_code == 401


@pytest.mark.parametrize("change, code", [
    ({"model": None}, "1213"),
    ({"model": "glm-4-flahs"}, "1211"),
    ({"temperature": 1.5}, "1210"),
    ({"messages": []}, "1214"),
    ({"stream": "yes"}, "1214"),
])
def test_submit_is_validated_like_chat(module_server, tasks, change, code):
    body = {**tasks["lesson08-story-en"]["request"]["body"], **change}
    r = submit(module_server, body)
    assert (r.status_code, r.json()["error"]["code"]) == (400, code)


def test_stream_is_ignored(module_server, tasks):
    body = {**tasks["lesson08-square-en"]["request"]["body"], "stream": True}
    r = submit(module_server, body)
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert poll(module_server, r.json()["id"]).json()["choices"][0]["message"]["content"] == "144"


@pytest.mark.parametrize("method, path, allowed", [
    ("GET", "/async/chat/completions", "POST"),
    ("POST", "/async-result/123", "GET"),
])
def test_wrong_method(module_server, method, path, allowed):
    r = requests.request(method, module_server.base_url + path, headers=auth(), timeout=10)
    assert (r.status_code, r.json()["error"]["message"]) == (
        405, f"{method} is not allowed here; use {allowed}")


def test_strict_miss_names_the_nearest_async_recording(module_server, tasks):
    body = {**tasks["lesson08-story-en"]["request"]["body"], "temperature": 0.5}
    r = submit(module_server, body)
    assert r.status_code == 400
    assert "nearest recording 'lesson08-story-en' differs: body.temperature" in \
        r.json()["error"]["message"]


def test_a_sync_recording_does_not_answer_an_async_request(module_server, recordings):
    r = submit(module_server, recordings["hello-en"]["request"]["body"])
    assert r.json()["error"]["code"] == "offline_no_recording"


def test_lenient_server_generates_a_task(tasks):
    with glm_offline.start(pacing="instant", strict=False) as lenient:
        body = {"model": "glm-4-flash-250414", "messages": [{"role": "user", "content": "Hi?"}]}
        task_id = submit(lenient, body).json()["id"]
        assert statuses(lenient, task_id, 1) == ["PROCESSING"]
        done = poll(lenient, task_id).json()
        assert done["task_status"] == "SUCCESS"
        assert done["choices"][0]["message"]["content"].startswith("[offline, generated]")


def test_a_fresh_server_repeats_everything_but_the_random_task_ids(tasks):
    def session():
        with glm_offline.start(pacing="instant", strict=True) as fresh:
            seen = []
            for name in ("lesson08-story-en", "lesson08-story-en", "lesson08-colour-zh"):
                seen.append(submit(fresh, tasks[name]["request"]["body"]).json())
                seen += [poll(fresh, seen[-1]["id"]).json() for _ in range(3)]
            return seen

    first, second = session(), session()
    assert [{**r, "id": None} for r in first] == [{**r, "id": None} for r in second]
    assert len({record["id"] for record in first}) == 3
    assert not {record["id"] for record in first} & {record["id"] for record in second}


def test_task_ids_are_unguessable(module_server, tasks):
    """Neighbouring submissions share no digits run: nothing to count up or down from."""
    body = tasks["lesson08-square-en"]["request"]["body"]
    ids = [submit(module_server, body).json()["id"] for _ in range(40)]
    assert all(TASK_ID.fullmatch(ident) for ident in ids)
    assert len(set(ids)) == 40
    numbers = [int(ident.replace("-", "")) for ident in ids]
    gaps = {abs(b - a) for a, b in zip(numbers, numbers[1:])}
    assert min(gaps) > 10**20  # a counter or a timestamp would step by small amounts


def test_one_client_cannot_evict_another_clients_tasks(tasks):
    other_key = "glm-offline-2.another-attendee-key-for-the-task-quota-test"
    body = tasks["lesson08-square-en"]["request"]["body"]
    with glm_offline.start(pacing="instant", strict=True,
                           api_keys=(glm_offline.OFFLINE_API_KEY, other_key)) as server:
        server.tasks.per_client = 5
        mine = submit(server, body).json()["id"]
        theirs = [submit(server, body, headers=auth(other_key)).json()["id"] for _ in range(12)]
        assert len(server.tasks) == 1 + 5  # the other client's own oldest tasks went
        assert poll(server, mine).json()["choices"][0]["message"]["content"] == "144"
        assert poll(server, theirs[0], headers=auth(other_key)).status_code == 404
        assert poll(server, theirs[-1], headers=auth(other_key)).status_code == 200


@pytest.mark.parametrize("response", [
    {"status": 200, "json": {}, "polls_before_done": -1},
    {"status": 200, "json": {}, "polls_before_done": True},
    {"status": 200, "sse": ["data: [DONE]", ""], "polls_before_done": 2},
], ids=["negative", "bool", "with-sse"])
def test_cassette_rejects_bad_polls_before_done(tmp_path, response):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"version": 1, "metadata": {}, "interactions": [
        {"name": "bad", "request": {"method": "POST", "path": "/x", "body": {}},
         "response": response}]}), encoding="utf-8")
    with pytest.raises(CassetteError, match="polls_before_done"):
        load_file(path)

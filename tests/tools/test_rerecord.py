"""`contributors/rerecord.py` end to end, against a local fake upstream instead of the real API.

The fake upstream is glm_offline itself, serving the current (transcribed) cassettes and
knowing one extra test key, as the real API knows the user's. The script records lesson 02
through the proxy; a strict server that knows only that new cassette then replays the lesson,
and its outputs must be the stored ones. Only 127.0.0.1 is ever contacted.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import requests

import execute_notebooks
import glm_offline
import rerecord
from glm_offline.auth import is_local
from glm_offline.cassettes import PACKAGE_CASSETTES, load_file
from glm_offline.matching import first_difference
from helpers import serve_command

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "contributors" / "rerecord.py"
LESSON = ROOT / "notebooks" / "en" / "02-chat-completions.ipynb"
TEST_KEY_ID = "rerecord-test"
TEST_SECRET = "this-secret-only-opens-the-fake-upstream-of-a-test"
TEST_KEY = f"{TEST_KEY_ID}.{TEST_SECRET}"



def clean_env(**variables):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHIPUAI_", "GLM_OFFLINE"))}
    env.update(variables)
    return env


@pytest.fixture
def fake_upstream():
    """Stands in for https://open.bigmodel.cn/api/paas/v4: knows the test key."""
    with glm_offline.start(api_keys=[glm_offline.OFFLINE_API_KEY, TEST_KEY],
                           pacing="instant") as running:
        yield running


def requests_in(interactions):
    return [(i.method, i.path, i.body) for i in interactions]


def contains(requests_, wanted):
    return any((m, p) == wanted[:2] and first_difference(b, wanted[2]) is None
               for m, p, b in requests_)


def test_rerecord_lesson_02_then_replay_it_from_that_cassette_alone(fake_upstream, tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--lessons", "02", "--upstream", fake_upstream.base_url,
         "--output-dir", str(tmp_path)],
        env=clean_env(ZHIPUAI_API_KEY=TEST_KEY), capture_output=True, text=True,
        encoding="utf-8", timeout=120, cwd=ROOT)
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed
    assert TEST_SECRET not in printed and TEST_KEY_ID not in printed
    assert "running notebooks/en/02-chat-completions.ipynb live" in printed
    assert "running notebooks/zh/02-chat-completions.ipynb live" in printed
    # Lesson 02 asks the same request several times, and makes one with a misspelt model.
    assert "(the first recording wins)" in printed
    assert "the replay server answers this request itself (400, code 1211)" in printed
    assert "python contributors/execute_notebooks.py" in printed and "--replace" in printed

    assert [p.name for p in tmp_path.iterdir()] == ["recorded-02.json"]
    cassette = tmp_path / "recorded-02.json"
    text = cassette.read_text(encoding="utf-8")
    for secret in (TEST_KEY, TEST_SECRET, TEST_KEY_ID, "Bearer"):
        assert secret not in text
    assert "authorization" not in text.lower()
    metadata, interactions = load_file(cassette)  # valid for the replayer
    assert metadata["api_base"] == fake_upstream.base_url
    recorded = requests_in(interactions)
    assert all(re.fullmatch(r"recorded-02-\d{3}-.+", i.name) for i in interactions)
    assert all(i.response["status"] == 200 for i in interactions)
    assert len(recorded) == len({json.dumps(r, sort_keys=True) for r in recorded})  # no repeats
    transcribed = requests_in(load_file(PACKAGE_CASSETTES / "lesson-02.json")[1])
    missing = [r for r in transcribed if not contains(recorded, r)]
    assert not missing, missing  # every request of the lesson, in both languages
    assert {r[2]["messages"][0]["content"][:2] for r in recorded} >= {"In", "用一"}

    stored = nbformat.read(LESSON, as_version=4)
    with glm_offline.start(cassette_dirs=[tmp_path], packaged_cassettes=False, strict=True,
                           pacing="instant") as replay:
        ran = execute_notebooks.run(LESSON, clean_env(ZHIPUAI_API_KEY=replay.api_key,
                                                      ZHIPUAI_BASE_URL=replay.base_url))
        sources = {exchange.source for exchange in replay.history}
    names = {f"recorded:{i.name}" for i in interactions}
    assert "error" in sources  # the misspelt model: validation answers, not a recording
    assert sources - {"error"} <= names and names & sources  # every other answer: recorded
    # Same outputs as the stored (offline) ones, except the mode line of the setup cell.
    setup = next(i for i, c in enumerate(ran.cells) if c.cell_type == "code")
    assert ran.cells[setup].outputs[0].text == "Mode: live (ZHIPUAI_API_KEY set; GLM_OFFLINE=1 " \
        f"goes back offline), requests go to 127.0.0.1:{replay.port}\n"
    stale = execute_notebooks.stale_cells(stored, ran)
    assert [index for index, _ in stale] == [setup], stale


def test_only_the_given_cassettes_with_packaged_cassettes_false(tmp_path):
    body = load_file(PACKAGE_CASSETTES / "lesson-02.json")[1][0].body
    with glm_offline.start(cassette_dirs=[tmp_path], packaged_cassettes=False, strict=True,
                           pacing="instant") as alone, \
            glm_offline.start(cassette_dirs=[tmp_path], strict=True, pacing="instant") as both:
        answers = [requests.post(s.base_url + "/chat/completions", json=body, timeout=10,
                                 headers={"Authorization": f"Bearer {s.api_key}"})
                   for s in (alone, both)]
    assert answers[0].status_code == 400
    assert answers[0].json()["error"]["code"] == "offline_no_recording"
    assert "there are no recordings" in answers[0].json()["error"]["message"]
    assert answers[1].status_code == 200


def test_serve_only_cassettes_on_the_command_line(tmp_path):
    with serve_command("--only-cassettes", str(tmp_path), "--strict") as variables:
        body = load_file(PACKAGE_CASSETTES / "lesson-02.json")[1][0].body
        answer = requests.post(variables["ZHIPUAI_BASE_URL"] + "/chat/completions", json=body,
                               timeout=10, headers={
                                   "Authorization": f"Bearer {variables['ZHIPUAI_API_KEY']}"})
    assert answer.json()["error"]["code"] == "offline_no_recording"


def test_serve_refuses_a_missing_folder(tmp_path):
    result = subprocess.run([sys.executable, "-m", "glm_offline", "serve", "--only-cassettes",
                             str(tmp_path / "nowhere")], capture_output=True, text=True,
                            timeout=30, env=clean_env())
    assert result.returncode == 2
    assert result.stderr.startswith("error: no such folder: ")


@pytest.mark.parametrize("argv, key, message", [
    (["--lessons", "02"], None, "ZHIPUAI_API_KEY is not set"),
    (["--lessons", "02"], glm_offline.OFFLINE_API_KEY, "the offline server's key"),
    (["--lessons", "02"], "no-dot-in-this-key", "API key must look like"),
    (["--lessons", "08"], TEST_KEY, "lesson 08 (async chat) is not re-recorded"),
    (["--lessons", "99"], TEST_KEY, "no lesson 99"),
    (["--replace", "--output-dir", "."], TEST_KEY, "--replace removes the packaged"),
    (["--upstream", "open.bigmodel.cn"], TEST_KEY, "--upstream must be an http(s) URL"),
])
def test_refusals_before_anything_starts(monkeypatch, argv, key, message):
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    if key:
        monkeypatch.setenv("ZHIPUAI_API_KEY", key)
    with pytest.raises(SystemExit) as exit_:
        rerecord.main(argv)
    assert message in str(exit_.value.code)
    assert key is None or key.split(".")[-1] not in str(exit_.value.code)


def test_the_offline_key_is_accepted_for_a_local_upstream(monkeypatch):
    monkeypatch.setenv("ZHIPUAI_API_KEY", glm_offline.OFFLINE_API_KEY)
    assert rerecord.check_key("http://127.0.0.1:8000/api/paas/v4") == glm_offline.OFFLINE_API_KEY
    assert is_local("http://localhost:1/x") and is_local("http://[::1]:1/x")
    assert not is_local(rerecord.DEFAULT_UPSTREAM)


def test_every_lesson_is_recorded_but_the_start_here_page_which_calls_nothing():
    lessons = rerecord.lessons_on_disk()
    assert "00" not in lessons and lessons["01"] == [
        ROOT / "notebooks" / language / "01-keys-and-tokens.ipynb" for language in ("en", "zh")]


def test_help_explains_why_lesson_07_is_left_out(capsys):
    with pytest.raises(SystemExit):
        rerecord.main(["--help"])
    out = capsys.readouterr().out
    assert "Lesson 08 (async chat) is not re-recorded" in out
    assert "--replace" in out and "--output-dir" in out


ASK = """import os, requests
base, key = os.environ["ZHIPUAI_BASE_URL"], os.environ["ZHIPUAI_API_KEY"]
body = {"model": "glm-4-flash-250414", "messages": [{"role": "user", "content": "Hi"}]}
print(requests.post(base + "/chat/completions", json=body, timeout=10,
                    headers={"Authorization": f"Bearer {key}"}).status_code)"""


def test_a_failing_cell_is_reported_the_next_lesson_recorded_and_the_exit_is_1(
        fake_upstream, tmp_path, monkeypatch, capsys):
    broken = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(ASK),
        nbformat.v4.new_code_cell("raise RuntimeError(os.environ['ZHIPUAI_API_KEY'])"),
        nbformat.v4.new_code_cell("print('never run')"),
    ])
    fine = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(ASK)])
    for name, notebook in (("02-broken.ipynb", broken), ("03-fine.ipynb", fine)):
        nbformat.write(notebook, tmp_path / name)
    monkeypatch.setattr(rerecord, "lessons_on_disk", lambda: {
        "02": [tmp_path / "02-broken.ipynb"], "03": [tmp_path / "03-fine.ipynb"]})
    monkeypatch.setenv("ZHIPUAI_API_KEY", TEST_KEY)
    output = tmp_path / "out"
    output.mkdir()
    assert rerecord.main(["--upstream", fake_upstream.base_url, "--output-dir",
                          str(output)]) == 1
    printed = capsys.readouterr().out
    assert "02-broken.ipynb: cell 1 failed live, RuntimeError: <ZHIPUAI_API_KEY>" in printed
    assert "FAILED: lesson 02: recording not written (incomplete)" in printed
    assert TEST_SECRET not in printed
    assert [p.name for p in output.iterdir()] == ["recorded-03.json"]
    assert [i.name for i in load_file(output / "recorded-03.json")[1]] == ["recorded-03-001-hi"]

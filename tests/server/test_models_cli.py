"""`python -m glm_offline models`: the model table with each model's life, and
`models --retired-by DATE`, which lists the lessons and recordings that use a retired model."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from glm_offline import models
from glm_offline.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("GLM_OFFLINE_", "ZHIPUAI_"))}


def run(*args, cwd=ROOT, pythonpath=ROOT):
    return subprocess.run([sys.executable, "-m", "glm_offline", "models", *args], cwd=cwd,
                          env={**ENV, "PYTHONPATH": str(pythonpath)}, capture_output=True,
                          text=True, timeout=120)


def test_nothing_the_course_uses_is_retired_today():
    """The suite's own check: run every day, it fails once a lesson or a recording uses a
    model whose announced retirement date has come."""
    result = run("--retired-by", date.today().isoformat())
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout == (f"none: no lesson or recording uses a model retired by "
                             f"{date.today().isoformat()}\n")


@pytest.fixture
def glm_5_3_retired(monkeypatch):
    """A fake announcement: glm-5.3 (lesson 04's effort demo) retires 2026-10-09 for glm-5.4."""
    monkeypatch.setitem(models.MODELS, "glm-5.3", replace(
        models.MODELS["glm-5.3"], retired=date(2026, 10, 9), replacement="glm-5.4"))


def test_a_retired_model_is_found_in_lessons_and_recordings(glm_5_3_retired, capsys, tmp_path):
    cassette = {"version": 1, "metadata": {"recorded_at": "2026-12-07", "model": "glm-5.3",
                                           "how": "written for this test"},
                "interactions": [{"name": "mine", "request": {
                    "method": "POST", "path": "/api/paas/v4/chat/completions",
                    "body": {"model": "glm-5.3", "messages": [{"role": "user", "content": "Hi"}]}},
                    "response": {"status": 200, "json": {"model": "glm-5.3", "choices": []}}}]}
    (tmp_path / "mine.json").write_text(json.dumps(cassette), encoding="utf-8")

    assert main(["models", "--retired-by", "2026-12-07", "--cassettes", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    tail = ": glm-5.3 retired 2026-10-09, use glm-5.4"
    for language in ("en", "zh"):
        assert any(line.startswith(f"notebooks/{language}/04-thinking-models.ipynb cell ")
                   and line.endswith(tail) for line in lines), lines
    for name in ("effort-low-en", "effort-max-en", "effort-low-zh", "effort-max-zh"):
        assert f"glm_offline/cassettes/lesson-04.json interaction 'lesson04-{name}'{tail}" in lines
    assert f"{tmp_path / 'mine.json'} interaction 'mine'{tail}" in lines
    assert not any("lesson-01" in line or "01-keys" in line for line in lines)  # glm-4.7-flash
    assert lines[-1] == f"{len(lines) - 1} use(s) of a model retired by 2026-12-07"


def test_a_model_retired_after_the_date_is_not_listed(glm_5_3_retired, capsys):
    assert main(["models", "--retired-by", "2026-10-08"]) == 0
    assert capsys.readouterr().out == (
        "none: no lesson or recording uses a model retired by 2026-10-08\n")


def test_the_table_shows_release_dates_thinking_and_retirements(glm_5_3_retired, capsys):
    assert main(["models"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert rows["glm-4.7-flash"] == ["glm-4.7-flash", "2026-01-19", "switchable", "-", "-"]
    assert rows["glm-4.6v"][:3] == ["glm-4.6v", "2025-12-01", "~"]  # only the month is known
    assert rows["glm-4-flash-250414"][1:3] == ["2025-04-14", "none"]
    assert rows["glm-4.5-flash"][-4:] == ["announced,", "no", "date", "-"]
    assert rows["glm-5.3"][-2:] == ["2026-10-09", "glm-5.4"]
    assert rows["glm-4-plus"][1] == "unknown"
    assert " ".join(rows["glm-5.3-flash"][2:]).startswith("forced, off is a 400, effort low|")


@pytest.mark.parametrize("text", ["2026-13-01", "20261207", "tomorrow", "2026-1-7"])
def test_a_bad_date_is_a_one_line_error(text):
    result = run("--retired-by", text)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: argument --retired-by: must be a date YYYY-MM-DD")
    assert result.stderr.count("\n") == 1


def test_a_missing_cassette_folder_is_a_one_line_error(tmp_path):
    result = run("--retired-by", "2026-12-07", "--cassettes", str(tmp_path / "nowhere"))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"error: no such folder: {tmp_path / 'nowhere'}\n"


def test_installed_without_the_lessons_it_scans_the_recordings_only(tmp_path):
    shutil.copytree(ROOT / "glm_offline", tmp_path / "site" / "glm_offline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    result = run("--retired-by", "2026-12-07", cwd=tmp_path, pythonpath=tmp_path / "site")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout.splitlines() == [
        "note: no notebooks folder beside the package (installed without the lessons): "
        "scanning the recordings only",
        "none: no lesson or recording uses a model retired by 2026-12-07"]


def test_a_reader_that_leaves_early_gets_no_traceback():
    # `python -m glm_offline models | head -3`: the pipe closes before the table is written.
    process = subprocess.Popen([sys.executable, "-m", "glm_offline", "models"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()

"""python -m glm_lessons lab|reset (glm_lessons/workspace.py): the lessons open on copies in
my-lessons/, a learner's copy is never overwritten, a reset keeps the old copy, the two
languages' copies have different names with working links, and bad input is one line.
JupyterLab itself is never started here: a stand-in command records what it was given."""

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from glm_lessons import workspace
from helpers import NOTEBOOKS, ROOT

# Written by hand from the stored lessons' Chinese titles, not computed by the code under test.
ZH_COPIES = {"00": "00-从这里开始.ipynb", "03": "03-流式输出.ipynb", "06": "06-工具调用.ipynb"}
STAND_IN = ("import json, sys\n"
            "open(sys.argv[1], 'w', encoding='utf-8').write(json.dumps(sys.argv[2:]))\n"
            "sys.exit(3)\n")


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A copy of the course's notebooks/ in the current folder (so a test may change a stored
    lesson), the workspace beside it, and a stand-in for JupyterLab that writes its arguments
    to a file."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    folder = tmp_path / "my-lessons"
    called = tmp_path / "jupyter-arguments.json"
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN, encoding="utf-8")
    monkeypatch.setattr(workspace, "JUPYTER", [sys.executable, str(script), str(called)])
    monkeypatch.chdir(tmp_path)  # the course's folder is the current one
    return notebooks, folder, called


def test_lab_copies_both_languages_and_their_diagrams_then_opens_start_here(course, capsys):
    notebooks, folder, called = course
    assert workspace.main(["lab", "zh", "--allow-root", "--port", "8889"]) == 3  # its status
    assert json.loads(called.read_text(encoding="utf-8")) == [
        f"--ServerApp.root_dir={folder}", str(folder / "zh" / ZH_COPIES["00"]),
        "--allow-root", "--port", "8889"]
    for language in ("en", "zh"):
        stored = sorted(p.name for p in (notebooks / language).glob("*.ipynb"))
        copies = sorted(p.name for p in (folder / language).glob("*.ipynb"))
        assert len(copies) == len(stored) and "00" in {name[:2] for name in copies}
        svgs = sorted(p.name for p in (notebooks / language).glob("*.svg"))
        assert svgs and svgs == sorted(p.name for p in (folder / language).glob("*.svg"))
    assert (folder / "en" / "03-streaming.ipynb").read_bytes() == (
        notebooks / "en" / "03-streaming.ipynb").read_bytes()
    printed = capsys.readouterr().out
    assert printed.startswith("copied ") and "my-lessons" in printed


def test_lab_opens_the_english_start_here_by_default(course):
    _, folder, called = course
    workspace.main(["lab"])
    assert json.loads(called.read_text(encoding="utf-8"))[1] == str(
        folder / "en" / "00-start-here.ipynb")


def test_the_two_languages_copies_have_different_names(course):
    _, folder, _ = course
    workspace.Workspace().copy_missing()
    zh = {p.name for p in (folder / "zh").glob("*.ipynb")}
    assert set(ZH_COPIES.values()) <= zh
    assert not zh & {p.name for p in (folder / "en").glob("*.ipynb")}


def test_links_between_lessons_still_work_in_the_renamed_copies(course):
    notebooks, folder, _ = course
    workspace.Workspace().copy_missing()
    start = json.loads((folder / "zh" / ZH_COPIES["00"]).read_text(encoding="utf-8"))
    text = "".join("".join(cell["source"]) for cell in start["cells"])
    assert f"]({ZH_COPIES['03']})" in text and "](03-streaming.ipynb)" not in text
    stored = (notebooks / "zh" / "00-start-here.ipynb").read_text(encoding="utf-8")
    assert "](03-streaming.ipynb)" in stored  # the stored lesson keeps its own names
    broken = []
    for copy in folder.glob("*/*.ipynb"):
        for cell in json.loads(copy.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "markdown":
                for target in re.findall(r"\]\(([^)#\s]+\.(?:ipynb|svg))", "".join(cell["source"])):
                    if not (copy.parent / target).is_file():
                        broken.append(f"{copy.relative_to(folder)}: {target}")
    assert not broken


def test_a_link_to_a_lesson_in_the_other_language_points_at_its_copy(course):
    _, folder, _ = course
    copies = workspace.Workspace()
    text = "see [lesson 03](../zh/03-streaming.ipynb#2-sse) and [here](03-streaming.ipynb)"
    assert copies.rewrite_links(text, "en") == (
        f"see [lesson 03](../zh/{ZH_COPIES['03']}#2-sse) and [here](03-streaming.ipynb)")
    assert copies.rewrite_links("[web](https://example.org/03-streaming.ipynb)", "zh") == (
        "[web](https://example.org/03-streaming.ipynb)")


def test_a_learners_copy_is_never_overwritten(course):
    _, folder, _ = course
    workspace.main(["lab"])
    mine = folder / "zh" / ZH_COPIES["03"]
    mine.write_text('{"my": "work"}', encoding="utf-8")
    (folder / "en" / "06-tool-calls.ipynb").unlink()
    workspace.main(["lab", "zh"])
    assert mine.read_text(encoding="utf-8") == '{"my": "work"}'
    assert (folder / "en" / "06-tool-calls.ipynb").is_file()  # a missing copy comes back


def test_a_damaged_manifest_costs_no_copy(course):
    _, folder, _ = course
    workspace.Workspace().copy_missing()
    mine = folder / "zh" / ZH_COPIES["03"]
    mine.write_text('{"my": "work"}', encoding="utf-8")
    (folder / ".copied.json").write_text('{"zh/03-streaming.ipynb": {"copy": "../../x.ipynb"},'
                                         ' "en/01-keys-and-tokens.ipynb": 7}', encoding="utf-8")
    copies = workspace.Workspace()
    assert copies.copy_of("zh/03-streaming.ipynb") == mine
    assert copies.copy_missing() == [] and mine.read_text(encoding="utf-8") == '{"my": "work"}'
    assert not (folder.parent.parent / "x.ipynb").exists()


def test_a_changed_stored_lesson_is_announced_in_one_line(course, capsys):
    notebooks, folder, _ = course
    workspace.main(["lab"])
    capsys.readouterr()
    workspace.main(["lab"])
    assert capsys.readouterr().out == ""  # nothing new, nothing said
    stored = notebooks / "en" / "03-streaming.ipynb"
    stored.write_text(stored.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    workspace.main(["lab"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "python -m glm_lessons reset 03 --lang en" in lines[0], lines
    zh = notebooks / "zh" / "03-streaming.ipynb"
    zh.write_text(zh.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    workspace.main(["lab"])
    assert "reset 03 --lang both" in capsys.readouterr().out
    workspace.main(["reset", "03", "--lang", "both"])
    capsys.readouterr()
    workspace.main(["lab"])
    assert capsys.readouterr().out == ""


def test_reset_moves_the_copy_to_a_backup_and_puts_a_fresh_one_back(course, capsys):
    notebooks, folder, _ = course
    copies = workspace.Workspace()
    copies.copy_missing()
    mine = folder / "zh" / ZH_COPIES["03"]
    mine.write_text('{"my": "work"}', encoding="utf-8")
    (folder / "zh" / "03-streaming-diagram-1.svg").unlink()
    now = datetime.datetime(2026, 1, 2, 3, 4, 5)
    backup, fresh = copies.reset("03", "zh", now=now)
    assert backup == folder / ".backups" / "03-流式输出-20260102-030405.ipynb"
    assert backup.read_text(encoding="utf-8") == '{"my": "work"}'
    assert fresh == mine and json.loads(mine.read_text(encoding="utf-8"))["cells"]
    assert (folder / "zh" / "03-streaming-diagram-1.svg").is_file()
    again, _ = copies.reset("03", "zh", now=now)  # the same second: a second backup
    assert again.name == "03-流式输出-20260102-030405-2.ipynb" and backup.is_file()


def test_reset_prints_one_line_with_both_paths(course, capsys):
    _, folder, _ = course
    assert workspace.main(["reset", "3"]) == 0  # no copy yet
    assert capsys.readouterr().out == (
        "lesson 03 (en): you had no copy; a fresh one is at "
        f"{Path('my-lessons', 'en', '03-streaming.ipynb')}\n")
    assert workspace.main(["reset", "03", "--lang", "both"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("lesson 03 (zh): you had no copy")
    assert lines[0].startswith("lesson 03 (en): your copy is now "
                               + str(Path("my-lessons", ".backups", "03-streaming-2")))
    assert workspace.main(["reset", "03", "--lang", "zh"]) == 0
    line = capsys.readouterr().out
    assert str(Path("my-lessons", ".backups", "03-流式输出-2")) in line
    assert line.endswith(f"a fresh one is at {Path('my-lessons', 'zh', ZH_COPIES['03'])}\n")
    assert len(list((folder / ".backups").glob("*.ipynb"))) == 2


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: command"),
    (["lab", "fr"], "unknown language 'fr'"),
    (["reset"], "the following arguments are required: NN"),
    (["reset", "x"], "a lesson is a number like 03, not 'x'"),
    (["reset", "99"], "reset: no lesson 99 (there are 00 to 10)"),
    (["reset", "03", "--lang", "fr"], "invalid choice: 'fr'"),
    (["reset", "03", "--force"], "unrecognized arguments: --force"),
    (["open"], "invalid choice: 'open'"),
])
def test_bad_arguments_are_one_line_and_exit_2(course, capsys, argv, message):
    _, folder, called = course
    with pytest.raises(SystemExit) as stopped:
        workspace.main(argv)
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and message in err, err
    assert not folder.exists() and not called.exists()  # nothing copied, nothing started


def test_the_clone_is_the_course_folder_when_the_current_one_has_no_lessons(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copies = workspace.Workspace()
    assert (copies.notebooks, copies.folder) == (NOTEBOOKS, ROOT / "my-lessons")


def test_no_lessons_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(workspace, "PACKAGE_COURSE", tmp_path)  # an install from a wheel
    assert workspace.main(["reset", "03"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("error: no lessons (notebooks/en, ")
    assert not (tmp_path / "my-lessons").exists()


@pytest.mark.parametrize("command", [[], ["lab"], ["reset"]])
def test_help(command):
    done = subprocess.run([sys.executable, "-m", "glm_lessons", *command, "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m glm_lessons")
    assert "my-lessons" in done.stdout


def test_the_workspace_is_ignored_by_git_ruff_and_the_suite():
    name = workspace.WORKSPACE_NAME
    assert f"{name}/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert f'"{name}"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_ruff_leaves_a_learners_copy_alone(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for folder in ("my-lessons/en", "notebooks/en"):
        (tmp_path / folder).mkdir(parents=True)
    bad = json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "id": "a",
                                 "metadata": {}, "outputs": [], "source": "import os\n"}],
                      "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    (tmp_path / "my-lessons" / "en" / "01-mine.ipynb").write_text(bad, encoding="utf-8")
    ruff = [sys.executable, "-m", "ruff", "check", "--no-cache", "."]
    assert subprocess.run(ruff, cwd=tmp_path, capture_output=True).returncode == 0
    (tmp_path / "notebooks" / "en" / "01-stored.ipynb").write_text(bad, encoding="utf-8")
    assert subprocess.run(ruff, cwd=tmp_path, capture_output=True).returncode == 1


def test_pytest_does_not_collect_a_learners_copies(tmp_path):
    shutil.copy(ROOT / "conftest.py", tmp_path)
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for folder, name in (("my-lessons", "test_mine.py"), ("tests", "test_ours.py")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text("def test_it():\n    pass\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                           "no:cacheprovider", "."], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert "tests/test_ours.py::test_it" in done.stdout
    assert "test_mine" not in done.stdout, done.stdout


def test_a_manifest_giving_two_lessons_one_copy_is_refused_in_one_line(course, capsys):
    _, folder, _ = course
    workspace.Workspace().copy_missing()
    mine = folder / "en" / "03-streaming.ipynb"
    mine.write_text('{"my": "work"}', encoding="utf-8")
    manifest = json.loads((folder / ".copied.json").read_text(encoding="utf-8"))
    manifest["en/04-thinking-models.ipynb"]["copy"] = "en/03-streaming.ipynb"
    (folder / ".copied.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert workspace.main(["reset", "04"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    assert "gives the copy en/03-streaming.ipynb to" in err
    assert mine.read_text(encoding="utf-8") == '{"my": "work"}'  # not moved to the backups
    assert not (folder / ".backups").exists()


@pytest.mark.parametrize("command", [["reset", "03", "--lang", "zh"], ["lab", "zh"]])
def test_a_damaged_stored_lesson_is_one_line_not_a_traceback(course, capsys, command):
    notebooks, _, called = course
    (notebooks / "zh" / "03-streaming.ipynb").write_text('{"cells": [', encoding="utf-8")
    assert workspace.main(command) == 1
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: " + str(Path("notebooks", "zh", "03-streaming.ipynb"))
                          + " is not a readable notebook (")
    assert not called.exists()  # JupyterLab not started


def test_a_kill_sent_to_lab_reaches_jupyterlab_too(course, monkeypatch):
    """`kill <lab's pid>` must not leave JupyterLab running on its own: lab passes it on."""
    _, _, called = course
    ready = called.with_suffix(".ready")
    script = called.parent / "waits_for_a_signal.py"
    script.write_text(
        "import pathlib, signal, sys, time\n"
        "def stop(*_):\n"
        "    pathlib.Path(sys.argv[1]).write_text('terminated')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"pathlib.Path({str(ready)!r}).write_text('ready')\n"
        "time.sleep(60)\n", encoding="utf-8")
    monkeypatch.setattr(workspace, "JUPYTER", [sys.executable, str(script), str(called)])
    before = signal.getsignal(signal.SIGTERM)

    def kill_when_ready():
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=kill_when_ready, daemon=True).start()
    assert workspace.lab("en", []) == 0
    assert called.read_text() == "terminated"
    assert signal.getsignal(signal.SIGTERM) == before

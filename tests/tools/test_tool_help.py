"""Every tool in contributors/ and instructors/ is started by some test. Here each tool that no
test of its own starts answers --help with its usage, and the one tool whose imports cross
folders (contributors/ uses instructors/) starts as a script from another folder. The tools that
need a browser, the package index or minutes of load are run for real in .ci/run or by hand;
this keeps them from rotting in between."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

HELP = ["contributors/check_official_sdks.py", "contributors/lesson_minutes.py",
        "contributors/render_diagrams.py", "contributors/transcribe.py",
        "instructors/bench_room.py", "instructors/browser_check.py",
        "instructors/browser_edition_check.py", "instructors/build_wheelhouse.py",
        "instructors/wire_check.py"]
# The tools their own tests already start as scripts (not started twice), and the modules the
# tools share (no command line of their own), with the test that runs them.
ELSEWHERE = {
    "contributors/bench_browser_edition.py": "tools/test_tool_help.py",
    "contributors/bench_record.py": "tools/test_benchmarks.py",
    "contributors/bench_stream_latency.py": "tools/test_benchmarks.py",
    "contributors/execute_notebooks.py": "tools/test_execute_notebooks.py",
    "contributors/notebook_hygiene.py": "repo/test_repo_hygiene.py",
    "contributors/rerecord.py": "tools/test_rerecord.py",
    "instructors/soak_room.py": "tools/test_soak_room.py",
    "instructors/soak_attacks.py": "tools/test_soak_room.py",  # every attack, --quick
    "instructors/serve_process.py": "server/test_server_room.py",
    "instructors/reasoning_contrast.py": "lessons/test_03_colours.py",  # browser_check.py's
}


def test_every_tool_is_started_here_or_by_a_test_of_its_own():
    tools = sorted(p.relative_to(ROOT).as_posix() for folder in ("contributors", "instructors")
                   for p in (ROOT / folder).glob("*.py"))
    assert tools == sorted(HELP + list(ELSEWHERE))
    for tool, test in ELSEWHERE.items():
        name = tool.split("/")[1]
        text = (ROOT / "tests" / test).read_text(encoding="utf-8")
        assert name in text or f"import {name[:-3]}" in text, (tool, test)


@pytest.mark.parametrize("path", HELP)
def test_help_prints_the_usage(path, monkeypatch, capsys):
    """In this process, as `python FOLDER/TOOL.py --help` runs it (a process each would cost the
    suite seconds); the one tool that imports the other folder's modules runs as a script."""
    monkeypatch.setattr(sys, "argv", [str(ROOT / path), "--help"])
    tool = importlib.import_module(Path(path).stem)
    with pytest.raises(SystemExit) as stopped:
        tool.main()
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {Path(path).name} ")


def test_the_tool_that_imports_the_other_folder_starts_from_any_folder(tmp_path):
    path = "contributors/bench_browser_edition.py"  # it uses instructors/browser_check.py
    result = subprocess.run([sys.executable, str(ROOT / path), "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: bench_browser_edition.py ")


def test_the_wrk_script_is_where_bench_room_looks_for_it():
    import bench_room

    assert bench_room.WRK_SCRIPT == ROOT / "instructors" / "wrk_room.lua"
    assert "wrk.method" in bench_room.WRK_SCRIPT.read_text(encoding="utf-8")

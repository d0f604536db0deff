"""Every tool in contributors/ and instructors/ starts as its users start it, as a script from
any folder: it finds the modules it imports (its own folder's, the other folder's, the packages).
Here `python FOLDER/TOOL.py --help` prints the usage of each tool that no test of its own starts
as a script; the tools that need a browser, the package index or minutes of load are run for
real in .ci/run or by hand, and this keeps them from rotting in between."""

import subprocess
import sys

import pytest

from helpers import ROOT

HELP = ["contributors/bench_browser_edition.py", "contributors/check_official_sdks.py",
        "contributors/lesson_minutes.py", "contributors/render_diagrams.py",
        "contributors/transcribe.py", "instructors/bench_room.py", "instructors/browser_check.py",
        "instructors/browser_edition_check.py", "instructors/build_wheelhouse.py",
        "instructors/wire_check.py"]
# The tools their own tests already start as scripts (not started twice), and the modules the
# tools share (no command line of their own), with the test that runs them.
ELSEWHERE = {
    "contributors/bench_record.py": "tools/test_benchmarks.py",
    "contributors/bench_stream_latency.py": "tools/test_benchmarks.py",
    "contributors/execute_notebooks.py": "tools/test_execute_notebooks.py",
    "contributors/notebook_hygiene.py": "repo/test_repo_hygiene.py",
    "contributors/rerecord.py": "tools/test_rerecord.py",
    "instructors/soak_room.py": "tools/test_soak_room.py",
    "instructors/soak_attacks.py": "tools/test_soak_room.py",  # every attack, --quick
    "instructors/serve_process.py": "server/test_server_room.py",
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
def test_help_prints_the_usage(path, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / path), "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: {path.split('/')[1]} ")


def test_the_wrk_script_is_where_bench_room_looks_for_it():
    import bench_room

    assert bench_room.WRK_SCRIPT == ROOT / "instructors" / "wrk_room.lua"
    assert "wrk.method" in bench_room.WRK_SCRIPT.read_text(encoding="utf-8")

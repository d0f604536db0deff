"""Every tool in contributors/ and instructors/ starts as its users start it,
`python FOLDER/TOOL.py --help`, from any folder: it finds the modules it imports (its own
folder's, the other folder's, the packages) and prints its usage. The tools that need a browser,
the package index or minutes of load are run for real in .ci/run or by hand; this keeps them
from rotting in between."""

import subprocess
import sys

import pytest

from helpers import ROOT

CONTRIBUTORS = ["bench_browser_edition", "bench_record", "bench_stream_latency",
                "check_official_sdks", "execute_notebooks", "lesson_minutes", "notebook_hygiene",
                "render_diagrams", "rerecord", "transcribe"]
INSTRUCTORS = ["bench_room", "browser_check", "browser_edition_check", "build_wheelhouse",
               "soak_room", "wire_check"]
LIBRARIES = ["serve_process", "soak_attacks"]  # instructors/ modules the tools share, no CLI


def test_the_lists_name_every_tool_there_is():
    assert sorted(p.stem for p in (ROOT / "contributors").glob("*.py")) == CONTRIBUTORS
    assert sorted(p.stem for p in (ROOT / "instructors").glob("*.py")) == sorted(
        INSTRUCTORS + LIBRARIES)


@pytest.mark.parametrize("path", [f"contributors/{name}.py" for name in CONTRIBUTORS]
                         + [f"instructors/{name}.py" for name in INSTRUCTORS])
def test_help_prints_the_usage(path, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / path), "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: {path.split('/')[1]} ")


def test_the_wrk_script_is_where_bench_room_looks_for_it():
    import bench_room

    assert bench_room.WRK_SCRIPT == ROOT / "instructors" / "wrk_room.lua"
    assert "wrk.method" in bench_room.WRK_SCRIPT.read_text(encoding="utf-8")

"""The contributors' benchmarks run on a tiny input and print their figures (the figures
themselves are measurements, not asserted). bench_browser_edition.py needs Chromium and a
built edition: tests/tools/test_tool_help.py starts it, .ci/run's browser checks share its code."""

import re
import subprocess
import sys

from helpers import ROOT


def run(tool, *args):
    result = subprocess.run([sys.executable, str(ROOT / "contributors" / tool), *args],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_bench_record_measures_each_part_on_a_small_input():
    lines = run("bench_record.py", "--exchanges", "2", "--sse-mb", "1", "--json-mb", "1")
    assert [line.split(" ")[0].rstrip(":") for line in lines] == [
        "exchanges", "sse-line", "sse-line", "big-json"]
    assert all("failed" not in line for line in lines), lines
    assert all("HTTP 200, 1.0 MB to the client" in line for line in lines[1:]), lines


def test_bench_stream_latency_measures_one_stream_of_each_approach():
    lines = run("bench_stream_latency.py", "--chunking", "event", "--runs", "1")
    rows = [line.split() for line in lines if re.match(r"event +(lesson|seed) ", line)]
    assert [row[1] for row in rows] == ["lesson", "seed"]
    assert all(int(row[2]) > 0 for row in rows), rows  # deltas measured
    assert lines[-1].startswith("goal (lesson median <= 2 ms, max <= 10 ms): ")

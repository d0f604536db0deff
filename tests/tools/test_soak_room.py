"""instructors/soak_room.py (with instructors/soak_attacks.py) cannot rot: its smallest setting runs
every attack against a real `serve` process on 127.0.0.1 and prints its figures."""

import subprocess
import sys
from pathlib import Path

INSTRUCTORS = Path(__file__).resolve().parents[2] / "instructors"
ATTACKS = ["stalled-bodies", "byte-lines", "big-request-ids", "deaf-viewers", "greedy-attendee",
           "odd-claims"]


def soak(*args, timeout=120):
    return subprocess.run([sys.executable, str(INSTRUCTORS / "soak_room.py"), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=INSTRUCTORS)


def test_help_names_every_attack_and_the_quick_mode():
    result = soak("--help", timeout=30)
    assert result.returncode == 0, result.stderr
    for name in [*ATTACKS, "--quick", "--compare", "--each"]:
        assert name in result.stdout


def test_an_unknown_attack_is_refused_in_one_line():
    result = soak("--attacks", "stalled-bodies,teleport", timeout=30)
    assert result.returncode == 2
    assert "unknown attack 'teleport'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_smallest_soak_runs_every_attack_and_reports_its_figures():
    result = soak("--quick", "--seconds", "3", "--attendees", "2", "--idle-holders", "2",
                  # no malformed senders: a half-sent one waits out the 10 s head deadline
                  "--slow-senders", "0", "--hostile-senders", "0", "--max-in-flight", "3",
                  "--attacks", "all", "--stalled-bodies", "2", "--byte-lines", "20",
                  "--big-request-ids", "2", "--deaf-viewers", "2")
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 2: no server
    assert "Traceback" not in result.stderr, result.stderr
    out = result.stdout
    assert "  attacks: " + ", ".join(ATTACKS) in out
    for line in ("good requests answered", "errors", "stalled bodies: heads sent",
                 "byte lines: connections opened", "big request_ids: HTTP",
                 "deaf viewers: opened (never read)", "greedy attendee: ", "odd claims: ",
                 "server: peak threads", "result: "):
        assert line in out, line
    assert "peak memory" in out and ", CPU " in out

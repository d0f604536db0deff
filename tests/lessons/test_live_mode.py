"""A lesson run the way a workshop room or a live key runs it: ZHIPUAI_API_KEY and
ZHIPUAI_BASE_URL set, pointing at a separately started `python -m glm_offline serve`.

The outputs must be the stored (offline) ones, except the first line, which must say
that live mode is on, and the offline-only demo's, which must say in one line that it needs
the offline server.
"""

import os
from pathlib import Path

import nbformat
import pytest

import execute_notebooks
import serve_process
from notebook_hygiene import fix

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "notebooks" / "en" / "01-keys-and-tokens.ipynb"
CELL_TIMEOUT_S = 300  # a bound for a machine under heavy load, not a wait: cells end sooner


@pytest.fixture
def served():
    """A separately started server, ready once it has printed its variables (or an error
    with its output after serve_process's deadline); always stopped."""
    process, base_url, key = serve_process.start(timeout_s=60)
    try:
        yield {"ZHIPUAI_BASE_URL": base_url, "ZHIPUAI_API_KEY": key}
    finally:
        serve_process.stop(process)


def texts(cells):
    return [[o.get("text", o.get("data", {}).get("text/plain", "")) for o in c.outputs]
            for c in cells if c.cell_type == "code"]


def test_lesson_against_a_separately_started_server(served):
    stored = nbformat.read(LESSON, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHIPUAI_", "GLM_OFFLINE"))}
    ran = execute_notebooks.run(LESSON, {**env, **served}, timeout=CELL_TIMEOUT_S)
    port = served["ZHIPUAI_BASE_URL"].split(":")[2].split("/")[0]
    # fix() joins a cell's stream pieces, as they are saved: how the kernel happened to flush
    # a print must not count as a difference
    live, offline = texts(fix(ran).cells), texts(stored.cells)
    assert live[0] == ["Mode: live (ZHIPUAI_API_KEY set; GLM_OFFLINE=1 goes back offline), "
                       f"requests go to 127.0.0.1:{port}\n"]
    # the one offline-only demo, the made-up keys, sends nothing live and says so in one line
    demo = next(i for i, cell in enumerate(c for c in stored.cells if c.cell_type == "code")
                if "server.offline_keys()" in cell.source)
    assert live[demo] == ["(live mode: trying the made-up keys needs the offline server; "
                          "set GLM_OFFLINE=1 to see it)\n"]
    assert live[1:demo] + live[demo + 1:] == offline[1:demo] + offline[demo + 1:]

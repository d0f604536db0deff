"""A lesson run the way a workshop room or a live key runs it: ZHIPUAI_API_KEY and
ZHIPUAI_BASE_URL set, pointing at a separately started `python -m glm_offline serve`.

The outputs must be the stored (offline) ones, except the first line, which must say
that live mode is on.
"""

import os
from pathlib import Path

import nbformat
import pytest

import execute_notebooks
from conftest import serve_command

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "en" / "01-keys-and-tokens.ipynb"


@pytest.fixture
def served():
    with serve_command() as variables:
        yield variables


def texts(cells):
    return [[o.get("text", o.get("data", {}).get("text/plain", "")) for o in c.outputs]
            for c in cells if c.cell_type == "code"]


def test_lesson_against_a_separately_started_server(served):
    stored = nbformat.read(LESSON, as_version=4)
    ran = execute_notebooks.run(LESSON, {**os.environ, **served})
    port = served["ZHIPUAI_BASE_URL"].split(":")[2].split("/")[0]
    live, offline = texts(ran.cells), texts(stored.cells)
    assert live[0] == [f"Mode: live, requests go to 127.0.0.1:{port}\n"]
    assert live[1:] == offline[1:]

"""Lint: `python -m ruff check .` from the repo root is clean (config in pyproject.toml).

It covers the packages, the tools (contributors/, instructors/), the tests and every lesson
notebook's code cells.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_check_is_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.fail("ruff is not installed: pip install -r requirements.txt")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail("ruff found problems (the [*] ones: python -m ruff check --fix .):\n"
                    + result.stdout + result.stderr, pytrace=False)

"""A fresh install that cannot trap anyone: an old Python, root, a key already set.

Measured, not run here (each run downloads about 70 MB): `pip install -r requirements.txt` with
Python 3.10.13 in a fresh venv, no pip cache, stopped with "requires a different Python" after
15 s (its own pip 23.0.1), 25 s (pip 22.0.2, Ubuntu 22.04's) and 8 s (pip 26.3) with `-e .`
first; with `-e .` last, pip 23.0.1 was still backtracking through openai versions when stopped
at 120 s (learners reported 14 minutes). The order is what this file checks.
"""

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READMES = {"en": "README.md", "zh": "README_zh.md"}


def requirement_lines():
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.split(" #")[0].strip() for line in lines
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_project_is_the_first_requirement_so_an_old_python_stops_at_once():
    assert requirement_lines()[0] == "-e .[lessons]"  # the project, with the course's extra
    assert [line for line in requirement_lines() if line.startswith("-e")] == ["-e .[lessons]"]


def project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_server_needs_requests_and_pyjwt_and_the_lessons_extra_the_plots():
    assert [re.match(r"[\w-]+", d).group() for d in project()["dependencies"]] == [
        "requests", "PyJWT"]
    assert [re.match(r"[\w-]+", d).group() for d in project()["optional-dependencies"]
            ["lessons"]] == ["matplotlib", "noto-cjk-sans-otc"]


def test_requirements_repeat_the_lessons_extra_word_for_word_for_the_wheelhouse():
    for requirement in project()["optional-dependencies"]["lessons"]:
        assert requirement in requirement_lines(), requirement


def test_the_project_requires_python_3_11():
    assert project()["requires-python"] == ">=3.11"


def readme(language):
    return (ROOT / READMES[language]).read_text(encoding="utf-8")


@pytest.mark.parametrize("language", READMES)
def test_the_readme_says_python_3_11_before_its_first_command(language):
    top = readme(language).split("```bash")[0]
    assert re.search(r"Python 3\.11 (or newer|或更高版本)", top), top


@pytest.mark.parametrize("language", READMES)
def test_the_readme_quotes_what_pip_and_jupyter_say_and_what_to_do(language):
    text = readme(language)
    # pip's own words for a Python that requires-python excludes
    assert "requires a different Python: 3.10.13 not in '>=3.11'" in text
    assert ".venv/bin/python -m glm_lessons lab --allow-root" in text and "adduser" in text
    assert "GLM_OFFLINE=1 .venv/bin/python -m glm_lessons lab" in text
    assert "%env GLM_OFFLINE=1" in text


def test_lab_passes_what_follows_the_language_on_to_jupyter(tmp_path, monkeypatch):
    """The README's root and offline advice holds: `lab --allow-root` reaches JupyterLab, and
    the environment (GLM_OFFLINE=1) is Jupyter's, so its kernels'."""
    from glm_lessons import workspace

    seen = tmp_path / "seen.txt"
    stand_in = ("import os, sys\nopen(sys.argv[1], 'w').write("
                "' '.join(sys.argv[2:]) + '|' + os.environ.get('GLM_OFFLINE', ''))")
    monkeypatch.setattr(workspace, "JUPYTER", [sys.executable, "-c", stand_in, str(seen)])
    monkeypatch.setenv("GLM_OFFLINE", "1")
    copies = workspace.Workspace(ROOT / "notebooks", tmp_path / "my-lessons")
    assert workspace.lab("en", ["--allow-root"], copies) == 0
    arguments, offline = seen.read_text().split("|")
    assert arguments.endswith("00-start-here.ipynb --allow-root") and offline == "1"


def test_the_root_message_the_readmes_quote_is_jupyters():
    quoted = re.search(r"`(Running as root[^`]+)`", readme("en")).group(1)
    assert quoted in readme("zh")
    serverapp = importlib.util.find_spec("jupyter_server.serverapp").origin
    assert quoted in Path(serverapp).read_text(encoding="utf-8")

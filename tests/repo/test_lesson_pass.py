"""The suite's pass over the lessons starts each lesson's kernel with strict, hostile streams."""

import importlib.util
import os
from pathlib import Path

from glm_lessons.browser.run import LESSON_KERNEL_ENV

# The repository's root conftest.py (tests/conftest.py, the fixtures, is another module).
_spec = importlib.util.spec_from_file_location(
    "lesson_pass", Path(__file__).resolve().parents[2] / "conftest.py")
lesson_pass = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lesson_pass)


class IPyNbCell:  # what nbval calls a notebook cell's test item
    pass


def run_setup(item):
    steps = lesson_pass.pytest_runtest_setup(item)
    next(steps)  # the kernel would start here
    during = {name: os.environ.get(name) for name in LESSON_KERNEL_ENV}
    for _ in steps:
        pass
    return during


def test_a_lesson_kernel_starts_strict_hostile_and_instant(monkeypatch):
    for name in LESSON_KERNEL_ENV:
        monkeypatch.delenv(name, raising=False)
    during = run_setup(IPyNbCell())
    assert during == {"GLM_OFFLINE_STRICT": "1", "GLM_OFFLINE_CHUNKING": "hostile",
                      "GLM_OFFLINE_PACING": "instant"}
    assert not any(name in os.environ for name in LESSON_KERNEL_ENV)


def test_a_setting_of_your_own_wins_and_other_tests_are_untouched(monkeypatch):
    monkeypatch.setenv("GLM_OFFLINE_PACING", "realistic")
    for name in ("GLM_OFFLINE_STRICT", "GLM_OFFLINE_CHUNKING"):
        monkeypatch.delenv(name, raising=False)
    assert run_setup(IPyNbCell())["GLM_OFFLINE_PACING"] == "realistic"
    assert os.environ["GLM_OFFLINE_PACING"] == "realistic"
    assert run_setup(object())["GLM_OFFLINE_CHUNKING"] is None


def test_a_chinese_lesson_the_edition_ships_starts_in_process_and_others_do_not(monkeypatch):
    for name in ("GLM_OFFLINE_IN_PROCESS", "IPYTHONDIR"):
        monkeypatch.delenv(name, raising=False)
    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    seen = {}
    for relative in ("zh/03-streaming.ipynb", "en/03-streaming.ipynb", "zh/09-sdks.ipynb",
                     "zh/10-capstone.ipynb"):
        item = IPyNbCell()
        item.path = notebooks / relative
        steps = lesson_pass.pytest_runtest_setup(item)
        next(steps)
        seen[relative] = (os.environ.get("GLM_OFFLINE_IN_PROCESS"), os.environ.get("IPYTHONDIR"))
        for _ in steps:
            pass
    assert seen["zh/03-streaming.ipynb"][0] == "1"
    startup = Path(seen["zh/03-streaming.ipynb"][1]) / "profile_default" / "startup"
    assert "no sockets" in (startup / "00-no-sockets.py").read_text(encoding="utf-8")
    for other in ("en/03-streaming.ipynb", "zh/09-sdks.ipynb", "zh/10-capstone.ipynb"):
        assert seen[other] == (None, None), other
    assert "GLM_OFFLINE_IN_PROCESS" not in os.environ and "IPYTHONDIR" not in os.environ
    lesson_pass.pytest_unconfigure(None)  # the session's end removes the startup file's folder
    assert not Path(seen["zh/03-streaming.ipynb"][1]).exists()


def test_a_key_in_the_environment_does_not_reach_a_lessons_kernel(monkeypatch):
    monkeypatch.setenv("ZHIPUAI_API_KEY", "abc.def")
    monkeypatch.setenv("ZHIPUAI_BASE_URL", "https://api.z.ai/api/paas/v4")
    monkeypatch.setenv("GLM_LESSONS_EXPORTED_API_KEY", "abc.def")
    steps = lesson_pass.pytest_runtest_setup(IPyNbCell())
    next(steps)  # the kernel would start here
    during = [name for name in os.environ
              if name.startswith(("ZHIPUAI_", "GLM_LESSONS_"))]
    for _ in steps:
        pass
    assert during == []
    assert os.environ["ZHIPUAI_API_KEY"] == "abc.def"
    assert os.environ["ZHIPUAI_BASE_URL"] == "https://api.z.ai/api/paas/v4"

"""Suite-wide hooks: the lessons' pass through nbval (its settings: glm_lessons/browser/run.py),
and how many workers run the suite (tests/conftest.py holds the tests' fixtures)."""

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from glm_lessons.browser.run import LESSON_KERNEL_ENV, in_process_kernel_env, in_process_lessons

# A learner's copies of the lessons (python -m glm_lessons lab, glm_lessons/workspace.py): a run,
# an edit or a failed cell there is theirs, never a test, even under `pytest .`.
collect_ignore = ["my-lessons"]

# The lessons' pass through nbval: each kernel starts with LESSON_KERNEL_ENV (strict, hostile,
# instant), and the Chinese lessons the browser edition ships run the way it runs them, with
# the recorded server in-process and no sockets (glm_lessons/browser/run.py says which and why).
IN_PROCESS = in_process_lessons(Path(__file__).resolve().parent / "notebooks")

_IN_PROCESS_ENV = None  # made once per worker, when its first such lesson starts


def pytest_configure(config):
    """A suite started in the background of a non-interactive shell (nohup, `cmd &` in a CI
    script) inherits SIGINT ignored, and so would every program its tests start: the tests
    that press Ctrl-C in a child would then wait for an exit that never comes. Take it back."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Start each lesson's kernel (nbval does it in the first cell's setup) with
    LESSON_KERNEL_ENV and without a key (a contributor who uses the official SDK has
    ZHIPUAI_API_KEY set), and leave this process's environment as it was."""
    if type(item).__name__ != "IPyNbCell":
        yield
        return
    settings = {name: value for name, value in LESSON_KERNEL_ENV.items()
                if name not in os.environ}  # a setting of your own wins
    if getattr(item, "path", None) in IN_PROCESS:
        global _IN_PROCESS_ENV
        _IN_PROCESS_ENV = _IN_PROCESS_ENV or in_process_kernel_env(
            tempfile.mkdtemp(prefix="glm-no-sockets-"))
        settings.update(_IN_PROCESS_ENV)
    live = [name for name in os.environ  # the suite's kernels are offline, whoever runs it
            if name in ("ZHIPUAI_API_KEY", "ZHIPUAI_BASE_URL") or name.startswith("GLM_LESSONS_")]
    saved = {name: os.environ.get(name) for name in [*settings, *live]}
    os.environ.update(settings)
    for name in live:
        del os.environ[name]
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pytest_unconfigure(config):
    """Remove the IPYTHONDIR this process made for the in-process lessons, if it made one."""
    global _IN_PROCESS_ENV
    if _IN_PROCESS_ENV:
        shutil.rmtree(_IN_PROCESS_ENV["IPYTHONDIR"], ignore_errors=True)
        _IN_PROCESS_ENV = None


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject.toml) starts two workers per core: most of the suite waits on
    sockets, streams and kernels rather than computing (on 2 cores: ~56 s instead of ~68 s)."""
    return 2 * (os.cpu_count() or 1)

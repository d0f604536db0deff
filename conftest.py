"""Suite-wide settings: the lessons' pass through nbval, and how many workers run the suite
(tests/conftest.py holds the tests' fixtures)."""

import os
import signal
import tempfile
from pathlib import Path

import pytest

from glm_lessons.browser.run import NO_SOCKETS
from glm_lessons.browser.site import RUNS_A_PROGRAM, edition_lessons

# The lessons run through nbval in kernels of their own, each with its own recorded server
# (glm_lessons.shared_server()), which reads its stream options from the environment when it
# starts. The suite's one pass over the lessons makes it as hard as the server can: every
# request must match a recording (strict), and every stream is cut into 1-5 byte pieces
# (hostile), so no lesson output depends on how the bytes arrive. Pacing is instant, which
# halves the run; the one demo that needs events spread over time asks for it itself.
# A learner's copies of the lessons (python -m glm_lessons lab, glm_lessons/workspace.py): a run,
# an edit or a failed cell there is theirs, never a test, even under `pytest .`.
collect_ignore = ["my-lessons"]

LESSON_KERNEL_ENV = {"GLM_OFFLINE_STRICT": "1", "GLM_OFFLINE_CHUNKING": "hostile",
                     "GLM_OFFLINE_PACING": "instant"}

# The Chinese lessons the browser edition ships go through nbval the way the edition runs them
# (glm_lessons/browser/run.py): the recorded server in-process and no sockets in the kernel (an
# IPython startup file refuses them). So one pass proves both their outputs and the edition's
# transport, and tests/lessons/test_browser_lessons.py runs only the others a second time.
# The English ones, lesson 09 (the SDKs' own HTTP clients) and the capstone (its program is a
# process of its own) keep their sockets.
ROOT = Path(__file__).resolve().parent
IN_PROCESS = {path for path in edition_lessons(ROOT / "notebooks")
              if path.parent.name == "zh" and path.name[:2] not in RUNS_A_PROGRAM}


def in_process_kernel_env():
    """GLM_OFFLINE_IN_PROCESS, and an IPYTHONDIR whose startup file takes sockets away before
    the first cell runs."""
    ipython_dir = Path(tempfile.mkdtemp(prefix="glm-no-sockets-"))
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    # before the first cell, not at startup: the kernel's own event loop still needs one then
    (startup / "00-no-sockets.py").write_text(
        "from IPython import get_ipython\n\n\n"
        "def _no_sockets(*_):\n"
        "    get_ipython().events.unregister('pre_run_cell', _no_sockets)\n"
        f"    exec({NO_SOCKETS!r}, {{}})\n\n\n"
        "get_ipython().events.register('pre_run_cell', _no_sockets)\n", encoding="utf-8")
    return {"GLM_OFFLINE_IN_PROCESS": "1", "IPYTHONDIR": str(ipython_dir)}


_IN_PROCESS_ENV = None  # made once per worker, when its first such lesson starts
_IN_PROCESS_KEYS = {"GLM_OFFLINE_IN_PROCESS", "IPYTHONDIR"}


def pytest_configure(config):
    """A suite started in the background of a non-interactive shell (nohup, `cmd &` in a CI
    script) inherits SIGINT ignored, and so would every program its tests start: the tests
    that press Ctrl-C in a child would then wait for an exit that never comes. Take it back."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Start each lesson's kernel (nbval does it in the first cell's setup) with
    LESSON_KERNEL_ENV, and leave this process's environment as it was."""
    if type(item).__name__ != "IPyNbCell":
        yield
        return
    settings = dict(LESSON_KERNEL_ENV)
    if getattr(item, "path", None) in IN_PROCESS:
        global _IN_PROCESS_ENV
        _IN_PROCESS_ENV = _IN_PROCESS_ENV or in_process_kernel_env()
        settings.update(_IN_PROCESS_ENV)
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update({k: v for k, v in settings.items()
                       if saved[k] is None or k in _IN_PROCESS_KEYS})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject.toml) starts two workers per core: most of the suite waits on
    sockets, streams and kernels rather than computing (on 2 cores: ~56 s instead of ~68 s)."""
    return 2 * (os.cpu_count() or 1)

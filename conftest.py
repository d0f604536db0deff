"""Suite-wide settings: the lessons' pass through nbval, and how many workers run the suite
(tests/conftest.py holds the tests' fixtures)."""

import os
import signal

import pytest

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
    saved = {name: os.environ.get(name) for name in LESSON_KERNEL_ENV}
    os.environ.update({k: v for k, v in LESSON_KERNEL_ENV.items() if saved[k] is None})
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

"""Shared fixtures: a running recorded server, the recordings, a logger put back, and the
live switch put back after every test (the plain helpers are in tests/helpers.py)."""

import json
import logging
import os

import pytest

import glm_offline
from helpers import CASSETTE


@pytest.fixture(autouse=True)
def live_switch_put_back():
    """connect() in this process points ZHIPUAI_API_KEY/ZHIPUAI_BASE_URL at its offline server
    (glm_lessons/environment.py): whatever a test leaves there must not reach the next test,
    nor a lesson's kernel that nbval starts in the same worker (which would then go live)."""
    def switch():
        return {name: value for name, value in os.environ.items()
                if name.startswith(("ZHIPUAI_", "GLM_LESSONS_"))}
    before = switch()
    yield
    for name in switch():
        if name not in before:
            del os.environ[name]
    os.environ.update(before)


@pytest.fixture
def server():
    """A strict server that streams instantly; stopped after the test."""
    with glm_offline.start(pacing="instant", strict=True) as running:
        yield running


@pytest.fixture(scope="module")
def module_server():
    """The same, shared by a module's tests that leave no state behind (stop costs ~0.1 s)."""
    with glm_offline.start(pacing="instant", strict=True) as running:
        yield running


@pytest.fixture(scope="module")
def lenient():
    """A module's server that answers a request no recording matches with a generated reply
    (not strict), streaming instantly."""
    with glm_offline.start(pacing="instant", strict=False) as running:
        yield running


@pytest.fixture(scope="session")
def recordings():
    """The interactions of server-basics.json by name, read straight from the file."""
    data = json.loads(CASSETTE.read_text(encoding="utf-8"))
    return {item["name"]: item for item in data["interactions"]}


@pytest.fixture(scope="module")
def lenient_server():
    """A server of the module's own that is not strict (exercise 2 of lesson 02 asks a question
    no recording answers): tests/lessons/test_solutions.py runs lesson solutions against it."""
    with glm_offline.start(pacing="instant", strict=False) as running:
        yield running


@pytest.fixture
def urllib3_logger_restored():
    """Lesson 02 counts connections with a handler on urllib3's logger; take it off again."""
    logger = logging.getLogger("urllib3.connectionpool")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)

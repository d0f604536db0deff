"""Lesson 02's check counts urllib3's new connections from its log records
(glm_lessons/checks/lesson_02.py NewConnections): the records must not reach a learner's own
logging handlers meanwhile, and the logger is left as it was."""

import io
import logging

import pytest

from glm_lessons.checks.lesson_02 import NewConnections

STARTING = "Starting new HTTP connection (1): 127.0.0.1:8000"


@pytest.fixture
def learners_handler():
    """logging.basicConfig(level=logging.DEBUG), as a learner debugging their calls writes it."""
    printed = io.StringIO()
    handler = logging.StreamHandler(printed)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield printed
    root.removeHandler(handler)
    root.setLevel(level)


def test_the_count_prints_nothing_through_the_learners_handler_and_puts_the_logger_back(
        learners_handler):
    logger = logging.getLogger("urllib3.connectionpool")
    before = (logger.level, logger.propagate, list(logger.handlers))
    with NewConnections() as seen:
        logger.debug(STARTING)
        logger.debug("http://127.0.0.1:8000 \"POST /chat HTTP/1.1\" 200 None")
    assert seen.count == 1
    assert learners_handler.getvalue() == ""
    assert (logger.level, logger.propagate, list(logger.handlers)) == before
    logger.warning("after the check")  # the learner's handler hears urllib3 again
    assert learners_handler.getvalue() == "after the check\n"

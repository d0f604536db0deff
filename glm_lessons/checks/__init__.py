"""The exercises' checks, one module per lesson (lesson_01.py ... lesson_10.py).

A lesson's setup cell makes its checks once, in the lesson's language:

    check = exercise_checks("en", lesson="02")

and each exercise's check cell is one line that hands over the learner's answer, and the
lesson's names the check needs:

    check.third(third, conversation, second)

A check prints one line: the hint while the answer is still None (each answer cell starts as
`name = None`), what is wrong with it, or the verdict that starts with "Correct" ("正确").
It never changes the learner's names: what it needs it gets as arguments. An exception raised
by the learner's own code keeps its traceback, which is what the learner needs to fix it.
"""

import importlib
import re

from .verdicts import Checks, Wrong, check

__all__ = ["Checks", "Wrong", "check", "exercise_checks"]


def exercise_checks(language, lesson):
    """The checks of lesson "NN", printing in `language` ("en" or "zh")."""
    if not (isinstance(lesson, str) and re.fullmatch(r"\d\d", lesson)):
        raise ValueError(f"lesson must be a two-digit lesson number like \"02\", not {lesson!r}")
    try:
        module = importlib.import_module(f"{__name__}.lesson_{lesson}")
    except ModuleNotFoundError:
        raise ValueError(f"lesson {lesson} has no exercise checks") from None
    return module.Checks(language)

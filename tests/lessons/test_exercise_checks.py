"""The exercises' check cells are one line each, `check.<name>(answer, ...)`, calling a check of
glm_lessons.checks that exists and takes those arguments; the answer cell before each starts as
`name = None`, so the check prints its hint until the learner answers; and each lesson's
messages exist in both languages."""

import ast
import inspect

import nbformat
import pytest

from glm_lessons import exercise_checks
from glm_lessons.checks import Checks
from helpers import NOTEBOOKS, lesson_paths

LESSONS = [path.name for path in lesson_paths("en")]  # 00-start-here has no exercises


def exercise_cells(language, name):
    cells = nbformat.read(NOTEBOOKS / language / name, as_version=4).cells
    start = next(i for i, c in enumerate(cells)
                 if c.cell_type == "markdown" and c.source.startswith(("## Exercises", "## 练习")))
    return cells[start:]


def check_cells(language, name):
    """(answer cell, check cell) pairs of the lesson's exercises."""
    cells = exercise_cells(language, name)
    return [(cells[i - 1], cell) for i, cell in enumerate(cells)
            if cell.cell_type == "code" and cell.source.startswith("check.")]


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("name", LESSONS)
def test_each_check_cell_is_one_call_of_a_check_that_takes_its_arguments(language, name):
    checks = exercise_checks(language, lesson=name[:2])
    pairs = check_cells(language, name)
    assert pairs, f"{name}: no check cells"
    for answer, cell in pairs:
        assert "\n" not in cell.source.strip(), cell.source
        call = ast.parse(cell.source, mode="eval").body
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
        assert call.func.value.id == "check" and not call.keywords, cell.source
        method = getattr(checks, call.func.attr)  # AttributeError: no such check
        inspect.signature(method.__wrapped__).bind(checks, *call.args)
        assert answer.cell_type == "code", f"{cell.source}: the cell before is the answer cell"
        first = call.args[0]
        assigned = [t.id for node in ast.parse(answer.source).body
                    if isinstance(node, ast.Assign) for t in ast.walk(node) if
                    isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)]
        if isinstance(first, ast.Name) and assigned:
            assert first.id in assigned and answer.source.split("#")[0].strip().endswith(
                "= None"), (answer.source, cell.source)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_only_the_setup_cell_names_check(language):
    """A lesson cell that binds `check` (a loop variable, say) would hide the checks."""
    for name in LESSONS:
        cells = nbformat.read(NOTEBOOKS / language / name, as_version=4).cells
        for index, cell in enumerate(cells):
            if cell.cell_type == "code" and index != 2:
                bound = [node for node in ast.walk(ast.parse(cell.source))
                         if isinstance(node, ast.Name) and node.id == "check"
                         and not isinstance(node.ctx, ast.Load)]
                assert not bound, (name, index, cell.source)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_no_exercise_cell_reaches_into_the_learners_globals(language):
    for name in LESSONS:
        for cell in exercise_cells(language, name):
            if cell.cell_type == "code":
                assert "globals()" not in cell.source, (name, cell.source)
                assert len(cell.source.splitlines()) == 1, (name, cell.source)


@pytest.mark.parametrize("name", LESSONS)
def test_every_check_of_a_lesson_has_its_cell_and_its_messages_in_both_languages(name):
    checks = exercise_checks("en", lesson=name[:2])
    methods = {attribute for attribute, value in vars(type(checks)).items()
               if callable(value) and not attribute.startswith("_")}
    for language in ("en", "zh"):
        used = {ast.parse(cell.source, mode="eval").body.func.attr
                for _, cell in check_cells(language, name)}
        assert used == methods, (language, used ^ methods)
    messages = type(checks).MESSAGES
    assert set(messages) == {"en", "zh"} and set(messages["en"]) == set(messages["zh"])


def test_a_check_prints_its_hint_in_the_lessons_language_and_returns_nothing(capsys):
    assert exercise_checks("en", lesson="10").trim_history(None) is None
    assert exercise_checks("zh", lesson="10").trim_history(None) is None
    assert capsys.readouterr().out == ("Define trim_history() above, then run this cell again.\n"
                                       "先在上面定义 trim_history()，再运行这个单元。\n")


@pytest.mark.parametrize("arguments, message", [
    (("fr", "02"), "language must be one of"), (("en", "2"), "two-digit lesson number"),
    (("en", "11"), "lesson 11 has no exercise checks")])
def test_a_wrong_language_or_lesson_gets_a_one_line_error(arguments, message):
    with pytest.raises(ValueError, match=message):
        exercise_checks(*arguments)
    assert issubclass(type(exercise_checks("en", "01")), Checks)

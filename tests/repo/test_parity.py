"""Each English lesson has a Chinese twin that teaches the same program.

Same cells in the same order, same cell kinds, same Markdown heading levels, and code
cells that are the same program once comments and string literals are set aside (their
ASTs compared with every string constant blanked), so prompts and labels can be in the
reader's language.
"""

import re
from pathlib import Path

import nbformat
import pytest

from helpers import program

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
EN = sorted(p.name for p in (NOTEBOOKS / "en").glob("*.ipynb"))
ZH = sorted(p.name for p in (NOTEBOOKS / "zh").glob("*.ipynb"))


def headings(source):
    return [len(m.group(1)) for m in re.finditer(r"^(#{1,6}) ", source, re.MULTILINE)]


def test_every_lesson_has_both_languages():
    assert EN, "no English lessons found"
    assert EN == ZH


def test_program_ignores_strings_and_comments_but_not_code():
    assert program('print("hello")  # say hi') == program('print("你好")  # 打招呼')
    assert program('print(f"{n} tokens")') == program('print(f"{n} 个词元")')
    assert program('print("hello")') != program('print("hello", end="")')
    assert program("x = 1") != program("x = 2")


@pytest.mark.parametrize("name", EN)
def test_twins_match(name):
    en = nbformat.read(NOTEBOOKS / "en" / name, as_version=4).cells
    zh = nbformat.read(NOTEBOOKS / "zh" / name, as_version=4).cells
    assert [c.cell_type for c in en] == [c.cell_type for c in zh], "cell kinds or count differ"
    for index, (a, b) in enumerate(zip(en, zh)):
        if a.cell_type == "markdown":
            assert headings(a.source) == headings(b.source), f"cell {index}: heading levels differ"
        elif a.cell_type == "code":
            assert program(a.source) == program(b.source), f"cell {index}: code differs"
            assert a.metadata.get("tags") == b.metadata.get("tags"), f"cell {index}: tags differ"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_lesson_starts_with_the_same_setup_cell(language):
    """Every lesson calls the live/offline switch in one line, naming itself (for the line on
    where its recordings come from); lesson 01 then shows the switch by hand."""
    paths = sorted((NOTEBOOKS / language).glob("*.ipynb"))
    assert paths
    comment = CHECKS_COMMENT[language]
    for path in paths:
        setup = nbformat.read(path, as_version=4).cells[2].source
        assert setup == SETUP.format(language=language, lesson=path.name[:2],
                                     comment=comment), path.name


# The setup cell also makes the exercises' checks (glm_lessons.checks), in the lesson's language.
CHECKS = 'check = exercise_checks("{language}", lesson="{lesson}")  {comment}'
CHECKS_COMMENT = {"en": "# the checks of the exercises at the end", "zh": "# 文末练习的检查"}
SETUP = ("from glm_lessons import connect, exercise_checks\n\n"
         'BASE_URL, API_KEY, server = connect("{language}", lesson="{lesson}")\n' + CHECKS)

"""The instructor's documents follow the notebooks.

docs/lesson-notes*.md: each lesson's table of sections (the first table under "## NN · Title"
whose header is "| Section |" / "| 小节 |") lists the notebook's numbered sections, setup left
out, in order, each row's first cell being the heading itself ("5. Which key, which endpoint",
a deep dive with its marker "*(deep dive, optional)*"), and the lesson's recipe is named once,
on a line starting "**Recipe**" / "**完整示例**".

docs/quizzes*.md: each lesson's questions are the ones of the notebook's "## Quiz" section."""

import re

import nbformat
import pytest

from glm_lessons.layout import lesson_paths
from helpers import NOTEBOOKS, ROOT

NOTES = {"en": ROOT / "docs" / "lesson-notes.md", "zh": ROOT / "docs" / "lesson-notes_zh.md"}
QUIZZES = {"en": ROOT / "docs" / "quizzes.md", "zh": ROOT / "docs" / "quizzes_zh.md"}
SECTION_HEADER = {"en": "| Section |", "zh": "| 小节 |"}
RECIPE = {"en": "**Recipe**", "zh": "**完整示例**"}
QUIZ = {"en": "## Quiz", "zh": "## 小测验"}
DEEP_DIVE = {"en": "*(deep dive, optional)*", "zh": "*（深入，可选）*"}
NUMBERED = re.compile(r"## (\d+)\. ")
LESSON = re.compile(r"(?m)^## (\d\d) · ")


def notebooks(language):
    return sorted((NOTEBOOKS / language).glob("[0-9][0-9]-*.ipynb"))


def lessons(language):
    return lesson_paths(NOTEBOOKS, language)


def cells(path):
    return nbformat.read(path, as_version=4).cells


def notebook_sections(path):
    """The headings of the numbered sections but setup, without "## "."""
    found = []
    for cell in cells(path):
        first = cell.source.lstrip().split("\n", 1)[0]
        match = NUMBERED.match(first)
        if cell.cell_type == "markdown" and match and match.group(1) != "0":
            found.append(first[3:].strip())
    return found


def by_lesson(text):
    """{"01": the text under "## 01 · ...", ...}"""
    parts = LESSON.split(text)
    return dict(zip(parts[1::2], parts[2::2]))


def section_rows(text, language):
    """The first cells of the rows of the lesson's table of sections."""
    lines = text.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith(SECTION_HEADER[language])),
                 None)
    if start is None:
        return None
    rows = []
    for line in lines[start + 2:]:  # after the header and its |---| rule
        if not line.startswith("|"):
            break
        rows.append(line[1:].split(" | ", 1)[0].strip())
    return rows


def normal(text):
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_notes_have_every_notebook_and_only_those(language):
    listed = sorted(by_lesson(NOTES[language].read_text(encoding="utf-8")))
    assert listed == [path.name[:2] for path in notebooks(language)]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_deep_dives_are_found(language):
    """The rule below is not vacuous: the notebooks have numbered sections and deep dives."""
    sections = [s for path in lessons(language) for s in notebook_sections(path)]
    assert len(sections) > 40
    assert sum(s.endswith(DEEP_DIVE[language]) for s in sections) >= 10


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("lesson", [path.name for path in lessons("en")])
def test_the_notes_list_the_sections_of_the_notebook(language, lesson):
    notes = by_lesson(NOTES[language].read_text(encoding="utf-8"))[lesson[:2]]
    rows = section_rows(notes, language)
    assert rows is not None, f"{NOTES[language].name}, lesson {lesson[:2]}: no table of sections"
    expected = notebook_sections(NOTEBOOKS / language / lesson)
    missing = [heading for heading in expected if heading not in rows]
    unknown = [row for row in rows if row not in expected]
    assert rows == expected, (f"{NOTES[language].name}, lesson {lesson[:2]}: "
                              f"not in the notes: {missing}; not in the notebook: {unknown}")


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("lesson", [path.name for path in lessons("en")])
def test_the_notes_name_the_recipe_once(language, lesson):
    notes = by_lesson(NOTES[language].read_text(encoding="utf-8"))[lesson[:2]]
    lines = [line for line in notes.splitlines() if line.startswith(RECIPE[language])]
    assert len(lines) == 1, (f"{NOTES[language].name}, lesson {lesson[:2]}: "
                             f"{len(lines)} recipe lines")


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("lesson", [path.name for path in lessons("en")])
def test_the_quiz_page_has_the_notebooks_quiz(language, lesson):
    page = by_lesson(QUIZZES[language].read_text(encoding="utf-8")).get(lesson[:2])
    assert page is not None, f"{QUIZZES[language].name}: no lesson {lesson[:2]}"
    quiz = [c.source for c in cells(NOTEBOOKS / language / lesson)
            if c.cell_type == "markdown" and c.source.startswith(QUIZ[language])]
    assert len(quiz) == 1
    questions = quiz[0].split("\n\n", 2)[2]  # after the heading and the line that introduces it
    assert normal(page.split("\n", 1)[1]) == normal(questions)

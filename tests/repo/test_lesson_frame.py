"""Every lesson ends with a short quiz whose answers stay hidden until opened (00-start-here,
the course's first page, is not a lesson and has none)."""

import nbformat
import pytest

from helpers import NOTEBOOKS, lesson_paths

QUIZ = {"en": ("## Quiz", "<details><summary>Answer</summary>"),
        "zh": ("## 小测验", "<details><summary>答案</summary>")}
LESSONS = [(language, path.name) for language in QUIZ for path in lesson_paths(language)]


@pytest.mark.parametrize("language, name", LESSONS)
def test_the_lesson_ends_with_a_quiz(language, name):
    heading, answer = QUIZ[language]
    cells = nbformat.read(NOTEBOOKS / language / name, as_version=4).cells
    quiz = [c for c in cells if c.cell_type == "markdown" and c.source.startswith(heading)]
    assert quiz, f"{language}/{name} has no '{heading}' section"
    source = quiz[-1].source
    assert source.count("**Q") >= 3, "a quiz has at least three questions"
    assert source.count("**Q") == source.count(answer), "each question has one hidden answer"
    after = cells[cells.index(quiz[-1]) + 1:]
    assert all(c.cell_type == "code" for c in after), "the quiz is the lesson's last section"

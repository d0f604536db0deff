"""Both READMEs list every numbered lesson, in order, linked in their own language (the minutes
in the same rows are checked with every other place they appear: test_lesson_minutes.py)."""

import re

import pytest

from glm_lessons.layout import lesson_paths
from helpers import NOTEBOOKS, ROOT

README = {"en": "README.md", "zh": "README_zh.md"}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_each_lesson_is_in_the_readme(language):
    rows = []
    for line in (ROOT / README[language]).read_text(encoding="utf-8").splitlines():
        link = re.search(rf"\]\(notebooks/{language}/(\d\d-[\w-]+\.ipynb)\)", line)
        if line.startswith("| ") and link:
            rows.append(link.group(1))
    names = [path.name for path in lesson_paths(NOTEBOOKS, language)]
    assert rows == names, f"{README[language]}: the lesson table and notebooks/{language} differ"

"""Both READMEs list every lesson, with the minutes the lesson itself states."""

import re
from pathlib import Path

import nbformat
import pytest

from helpers import lesson_paths

ROOT = Path(__file__).resolve().parents[2]
TIME = {"en": re.compile(r"\*\*Time:\*\* (\d+) minutes teaching, (\d+) minutes exercises"),
        "zh": re.compile(r"\*\*时间：\*\* 讲解 (\d+) 分钟，练习 (\d+) 分钟")}
README = {"en": ("README.md", r"\| (\d+) \+ (\d+) min \|"),
          "zh": ("README_zh.md", r"\| (\d+) \+ (\d+) 分钟 \|")}


def stated_minutes(language, name):
    first = nbformat.read(ROOT / "notebooks" / language / name, as_version=4).cells[0].source
    match = TIME[language].search(first)
    assert match, f"{language}/{name}: no **Time:** line in its first cell"
    return match.groups()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_each_lesson_is_in_the_readme_with_its_own_minutes(language):
    readme, minutes = README[language]
    rows = {}
    for line in (ROOT / readme).read_text(encoding="utf-8").splitlines():
        link = re.search(rf"\]\(notebooks/{language}/(\d\d-[\w-]+\.ipynb)\)", line)
        found = re.search(minutes, line)
        if line.startswith("| ") and link and found:
            rows[link.group(1)] = found.groups()
    names = [path.name for path in lesson_paths(language)]  # 00-start-here is linked apart
    assert sorted(rows) == names, f"{readme}: the lesson table and notebooks/{language} differ"
    for name in names:
        assert rows[name] == stated_minutes(language, name), f"{readme}: {name}'s minutes"

"""00-start-here.ipynb, the first notebook a learner sees, in both languages: what the course
is, the core path, how to run and reset a lesson, and a link to every lesson; its one code
cell is the setup check (nbval runs it like every lesson's). Its twin is checked by
tests/repo/test_parity.py."""

import re

import nbformat
import pytest

from glm_lessons.workspace import START_HERE
from helpers import NOTEBOOKS, ROOT, lesson_paths

# Written out here, not read from the code: the glossary's terms and the course's promises.
EXPECTED = {
    "en": {"title": "# Start here", "core": "about two hours",
           "deep dive": "*(deep dive, optional)*",
           "phrases": ["Shift-Enter", "Run All Cells", "GLM_OFFLINE=1", "ZHIPUAI_API_KEY",
                       "transcribed", "python -m glm_lessons reset 03", "my-lessons/.backups/",
                       "python -m glm_lessons lab"]},
    "zh": {"title": "# 从这里开始", "core": "大约两小时", "deep dive": "*（深入，可选）*",
           "phrases": ["核心路线", "Shift-Enter", "Run All Cells", "GLM_OFFLINE=1",
                       "ZHIPUAI_API_KEY", "整理", "python -m glm_lessons reset 03 --lang zh",
                       "my-lessons/.backups/", "python -m glm_lessons lab"]},
}
MINUTES = re.compile(r"\d+\s*(?:min|minutes|分钟)|\d+\s*(?:hours?|小时)")


def cells(language):
    return nbformat.read(NOTEBOOKS / language / START_HERE, as_version=4).cells


def markdown(language):
    return "\n".join(c.source for c in cells(language) if c.cell_type == "markdown")


@pytest.mark.parametrize("language", EXPECTED)
def test_it_says_what_the_course_is_and_how_to_run_and_reset_a_lesson(language):
    text, expected = markdown(language), EXPECTED[language]
    assert cells(language)[0].source.startswith(expected["title"] + "\n")
    for phrase in [expected["core"], expected["deep dive"], *expected["phrases"]]:
        assert phrase in text, phrase


@pytest.mark.parametrize("language", EXPECTED)
def test_it_links_every_lesson_of_its_language(language):
    linked = re.findall(r"\]\((\d\d-[\w-]+\.ipynb)\)", markdown(language))
    assert linked == [path.name for path in lesson_paths(language)]


@pytest.mark.parametrize("language", EXPECTED)
def test_it_states_no_minutes_but_the_core_paths_two_hours(language):
    assert not MINUTES.findall(markdown(language))  # the lessons' minutes are the lead's table


@pytest.mark.parametrize("language", EXPECTED)
def test_its_one_code_cell_checks_the_setup(language):
    code = [c for c in cells(language) if c.cell_type == "code"]
    assert len(code) == 1
    assert code[0].source == ("from glm_lessons import connect\n\n"
                              f'BASE_URL, API_KEY, server = connect("{language}")')
    assert code[0].outputs[0]["text"].startswith({"en": "Mode: ", "zh": "模式："}[language])


@pytest.mark.parametrize("readme", ["README.md", "README_zh.md"])
def test_the_readmes_link_both_start_here_pages(readme):
    text = (ROOT / readme).read_text(encoding="utf-8")
    assert "](notebooks/en/00-start-here.ipynb)" in text
    assert "](notebooks/zh/00-start-here.ipynb)" in text

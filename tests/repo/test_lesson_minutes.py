"""contributors/lesson_minutes.py: the figures the instructor guide's plans are built on."""

import shutil

import nbformat
import pytest

import lesson_minutes


def notebook(tmp_path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    path = tmp_path / "99-example.ipynb"
    nbformat.write(nb, path)
    return path


def test_words_leave_out_code_blocks_and_solutions():
    text = ("One two three.\n```python\nprint('not read aloud')\n```\n"
            "<details><summary>Solution</summary>\nhidden words here\n</details>")
    assert lesson_minutes.words(text) == 3


def test_two_chinese_characters_count_as_one_word():
    assert lesson_minutes.words("流式输出") == 2


def test_a_lesson_is_measured_before_and_after_its_exercises(tmp_path):
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    path = notebook(tmp_path, [
        md("# Title\n\n**Time:** 10 minutes teaching, 5 minutes exercises.\n" + "word " * 120),
        code("x = 1"), code("print(x)"),
        md("## Exercises\n\n**1.** Do it.\n\n<details><summary>Solution</summary>\n\n"
           "```python\na = 1\nb = 2\n```\n\n</details>"),
        code("# your answer here"),
    ])
    m = lesson_minutes.measure(path)
    assert (m["code_cells"], m["exercises"], m["solution_lines"]) == (2, 1, 2)
    assert m["words"] == 1 + 120  # "Title" and the prose; the Time line is not read aloud
    assert m["teaching_min"] == 121 / 130 + 2 * 0.5
    assert m["exercise_min"] == 2 + 2 * 0.5


def test_a_missing_notebook_is_one_line(tmp_path, capsys):
    assert lesson_minutes.main([str(tmp_path / "nope.ipynb")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_deep_dives_are_left_out_of_the_core_path(tmp_path):
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    deep = md("## 2. Bytes *(deep dive, optional)*\n" + "word " * 125)
    deep.metadata["tags"] = ["deep-dive"]
    path = notebook(tmp_path, [
        md("# T\n\n" + "word " * 129),                        # 130 words: 1 minute
        md("## 1. Core\n" + "word " * 128), code("a = 1"),   # 130 words + a cell: 1.5
        deep, code("b = 2"), code("c = 3"),                   # 130 words + 2 cells: 2
        md("## 3. Core again\n" + "word " * 127),            # 130 words: 1
    ])
    m = lesson_minutes.measure(path)
    assert round(m["teaching_min"], 6) == 5.5
    assert round(m["core_min"], 6) == 3.5


def test_the_plan_rounds_up_to_five_and_on_your_own_is_half_as_long_again():
    measured = {"teaching_min": 21.0, "core_min": 14.2, "exercise_min": 10.0}
    assert lesson_minutes.plan(measured) == {
        "teaching": 25, "core": 15, "exercises": 10, "alone": 50,  # 1.5 * 31 = 46.5
        "teaching_raw": 21, "exercises_raw": 10}


def test_the_time_line_names_the_core_only_when_there_are_deep_dives():
    figures = {"teaching": 25, "core": 15, "exercises": 10, "alone": 55}
    assert lesson_minutes.time_line("en", figures) == (
        "**Time:** 25 minutes teaching (15 without the deep dives), 10 minutes exercises; "
        "about 55 minutes on your own.")
    assert lesson_minutes.time_line("zh", {**figures, "core": 25}) == (
        "**时间：** 讲解 25 分钟，练习 10 分钟；自学约 55 分钟。")


def test_every_place_shows_the_formulas_figures(tmp_path):
    """The notebooks' Time lines, both READMEs and both instructor guides: writing the figures
    again into a copy of them changes nothing."""
    for relative in ["notebooks", "README.md", "README_zh.md", "docs/instructor-guide.md",
                     "docs/instructor-guide_zh.md"]:
        source, copy = lesson_minutes.ROOT / relative, tmp_path / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("*.svg", "*.png"))
        else:
            shutil.copy(source, copy)
    changed = lesson_minutes.write(tmp_path)
    assert not changed, ("figures differ from the formula; run python contributors/"
                         "lesson_minutes.py --write: "
                         f"{[str(p.relative_to(tmp_path)) for p in changed]}")


def test_a_place_that_lost_its_figures_is_one_line(tmp_path):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(lesson_minutes.NOTEBOOKS, notebooks,
                    ignore=shutil.ignore_patterns("*.svg", "*.png"))
    (tmp_path / "README.md").write_text("# no table here\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"README.md: found 0 places for the figures, expected"):
        lesson_minutes.write(tmp_path)

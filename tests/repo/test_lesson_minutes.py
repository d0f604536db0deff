"""contributors/lesson_minutes.py: the figures the instructor guide's plans are built on."""

import nbformat

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
    assert (m["code_cells"], m["exercises"], m["solution_lines"], m["stated"]) == (2, 1, 2, "10+5")
    assert m["words"] == 1 + 7 + 120  # "Title", the 7 words of the Time line, the prose
    assert m["teaching_min"] == 128 / 130 + 2 * 0.5
    assert m["exercise_min"] == 2 + 2 * 0.5


def test_a_missing_notebook_is_one_line(tmp_path, capsys):
    assert lesson_minutes.main([str(tmp_path / "nope.ipynb")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1

"""`contributors/execute_notebooks.py --check`: passes on a fresh lesson, names a stale cell."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import execute_notebooks

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "contributors" / "execute_notebooks.py"
LESSON = ROOT / "notebooks" / "en" / "01-keys-and-tokens.ipynb"



def first_stream_cell(nb):
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(o.output_type == "stream" for o in cell.outputs):
            if index > 2:  # past the setup cell
                return index
    pytest.fail("lesson has no code cell with printed output")


def test_check_passes_a_fresh_lesson_and_names_the_stale_cell_of_another(tmp_path):
    """One run of the script (a kernel per notebook): a fresh copy and a stale one."""
    fresh, stale_copy = tmp_path / "fresh" / LESSON.name, tmp_path / "stale" / LESSON.name
    lesson = nbformat.read(LESSON, as_version=4)
    index = first_stream_cell(lesson)
    lesson.cells = lesson.cells[:index + 1]  # the lesson up to its first printed output
    for copy in (fresh, stale_copy):
        copy.parent.mkdir()
        nbformat.write(lesson, copy)
    nb = nbformat.read(stale_copy, as_version=4)
    stream = next(o for o in nb.cells[index].outputs if o.output_type == "stream")
    stream.text = "something the code no longer prints\n" + stream.text
    nbformat.write(nb, stale_copy)
    before = {copy: copy.read_bytes() for copy in (fresh, stale_copy)}

    result = subprocess.run([sys.executable, str(SCRIPT), "--check", str(fresh), str(stale_copy)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.endswith(": up to date")] == [f"{fresh}: up to date"]
    stale = [line for line in lines if "is stale" in line]
    assert len(stale) == 1 and stale[0].startswith(f"{stale_copy}: cell {index} is stale"), lines
    assert "something the code no longer prints" in stale[0]
    assert all(copy.read_bytes() == data for copy, data in before.items()), "--check wrote"


def code_cell(source, text):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return cell


def test_local_port_and_ignored_cells_are_not_stale():
    stored = nbformat.v4.new_notebook(cells=[
        code_cell("print(server.base_url)", "http://127.0.0.1:40001/api/paas/v4\n"),
        code_cell("# NBVAL_IGNORE_OUTPUT\nprint(time.time())", "1.0\n"),
        code_cell("print(1)", "1\n"),
    ])
    fresh = nbformat.v4.new_notebook(cells=[
        code_cell("print(server.base_url)", "http://127.0.0.1:52345/api/paas/v4\n"),
        code_cell("# NBVAL_IGNORE_OUTPUT\nprint(time.time())", "2.0\n"),
        code_cell("print(1)", "1\n2\n"),
    ])
    stale = execute_notebooks.stale_cells(stored, fresh)
    assert [index for index, _ in stale] == [2]
    assert "line 2" in stale[0][1] and "'2'" in stale[0][1]

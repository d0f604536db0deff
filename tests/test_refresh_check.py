"""`scripts/execute_notebooks.py --check`: passes on a fresh lesson, names a stale cell."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import execute_notebooks

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "execute_notebooks.py"
LESSON = ROOT / "notebooks" / "en" / "01-keys-and-tokens.ipynb"



def run_check(path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--check", str(path)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    return result.returncode, result.stdout


def first_stream_cell(nb):
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(o.output_type == "stream" for o in cell.outputs):
            if index > 2:  # past the setup cell
                return index
    pytest.fail("lesson has no code cell with printed output")


@pytest.fixture
def lesson_copy(tmp_path):
    copy = tmp_path / LESSON.name
    shutil.copy(LESSON, copy)
    return copy


def test_check_passes_then_names_the_stale_cell(lesson_copy):
    before = lesson_copy.read_bytes()
    code, out = run_check(lesson_copy)
    assert code == 0, out
    assert "up to date" in out
    assert lesson_copy.read_bytes() == before, "--check must write nothing"

    nb = nbformat.read(lesson_copy, as_version=4)
    index = first_stream_cell(nb)
    stream = next(o for o in nb.cells[index].outputs if o.output_type == "stream")
    stream.text = "something the code no longer prints\n" + stream.text
    nbformat.write(nb, lesson_copy)
    before = lesson_copy.read_bytes()

    code, out = run_check(lesson_copy)
    assert code == 1, out
    stale = [line for line in out.splitlines() if "is stale" in line]
    assert len(stale) == 1, out
    assert f"cell {index} is stale" in stale[0]
    assert "something the code no longer prints" in stale[0]
    assert lesson_copy.read_bytes() == before, "--check must write nothing"


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

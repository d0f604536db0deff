"""The browser edition's lessons, run under CPython the way the browser runs them: the
recorded server in-process (GLM_OFFLINE_IN_PROCESS=1, glm_offline/inprocess.py) and no
sockets at all (a first hidden cell makes socket.socket refuse to exist). Each lesson's
outputs must equal its stored ones, sanitised as nbval does (tests/nbval_sanitize.cfg).

One class per lesson, so that pytest-xdist's loadscope spreads the lessons over workers.
English lesson 05 runs with threads taken away too, as a web page has none: there only its two
thread-pool cells may differ, each explained by the line the edition's stand-in prints
(glm_lessons/browser/threads.py; tests/lessons/test_browser_threads.py tests the stand-in).
The browser itself is checked in .ci/run (instructors/browser_edition_check.py).
"""

from pathlib import Path

import nbformat
import pytest

from glm_lessons.browser.compare import comparable, verdict
from glm_lessons.browser.run import (
    LESSON_KERNEL_ENV,
    NO_SOCKETS,
    in_process_lessons,
    run_in_process,
)
from glm_lessons.browser.site import RUNS_A_PROGRAM, edition_lessons

ROOT = Path(__file__).resolve().parents[2]


IN_PROCESS = in_process_lessons(ROOT / "notebooks")  # nbval runs these in-process already


THREADLESS = {"en/05-errors-and-retries.ipynb": 2}  # lesson -> its thread-pool cells


def check_lesson(path):
    marker = RUNS_A_PROGRAM.get(path.name[:2])  # another program cannot reach this server
    pools = THREADLESS.get(f"{path.parent.name}/{path.name}")
    stored, cells = run_in_process(path, LESSON_KERNEL_ENV, skip=marker, threads=pools is None)
    explained = []
    for number, (old, cell) in enumerate(zip(stored, cells)):
        if cell.cell_type != "code" or "NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        if cell.source == "# not run here":
            continue
        if pools and "ThreadPoolExecutor(" in cell.source:
            assert verdict(old, cell.outputs) in ("same", "explained"), \
                f"cell {number}: {cell.outputs}"
            explained.append(number)
            continue
        assert comparable(cell.outputs) == comparable(old), \
            f"{path.relative_to(ROOT)} cell {number}:\n{cell.source}"
    assert len(explained) == (pools or 0)


def _lesson_class(path):
    def test_outputs_equal_the_stored_ones(self):
        check_lesson(path)
    return type(f"TestInProcess_{path.parent.name}_{path.stem[:2]}", (),
                {"test_outputs_equal_the_stored_ones": test_outputs_equal_the_stored_ones})


for _path in edition_lessons(ROOT / "notebooks"):
    if _path in IN_PROCESS:  # nbval runs these in-process already (the root conftest.py)
        continue
    _class = _lesson_class(_path)
    globals()[_class.__name__] = _class


def test_every_shipped_lesson_is_tested_in_process_here_or_by_nbval():
    names = sorted(name for name in globals() if name.startswith("TestInProcess_"))
    assert len(names) == 11, names  # start-here, lessons 01-08 and 10 in English; zh/10
    assert {"TestInProcess_en_00", "TestInProcess_zh_10"} <= set(names)
    assert "TestInProcess_en_09" not in names
    assert sorted(path.name[:2] for path in IN_PROCESS) == [
        "00", "01", "02", "03", "04", "05", "06", "07", "08"]
    assert {path.parent.name for path in IN_PROCESS} == {"zh"}


def test_only_the_capstone_cells_that_run_its_program_are_not_compared():
    for language in ("en", "zh"):
        notebook = nbformat.read(ROOT / "notebooks" / language / "10-capstone.ipynb", 4)
        calls = [cell.source for cell in notebook.cells
                 if cell.cell_type == "code" and RUNS_A_PROGRAM["10"] in cell.source]
        assert len(calls) == 1, calls  # exercise 8, the one cell that runs it (not its definition)
    assert set(RUNS_A_PROGRAM) == {"10"}


def test_the_first_cell_really_disables_sockets(monkeypatch):
    import socket
    monkeypatch.setattr(socket, "socket", socket.socket)  # put back after the test
    exec(NO_SOCKETS, {})
    with pytest.raises(OSError, match="no sockets"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_a_lesson_kernel_nbval_runs_in_process_has_no_sockets_and_an_in_process_server(
        tmp_path):
    """What the root conftest.py gives the kernels of the IN_PROCESS lessons, checked in a real
    kernel: its own sockets refused by the startup file, the lessons' server in-process."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import socket\n"
        "try:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "except OSError as error:\n    print(error)\n"
        "from glm_lessons import connect\n"
        "print(connect('zh')[0])")]
    path = tmp_path / "probe.ipynb"
    nbformat.write(notebook, path)
    from glm_lessons.browser import run
    env = {**LESSON_KERNEL_ENV, **run.in_process_kernel_env(tmp_path / "ipython")}
    monkey = pytest.MonkeyPatch()
    monkey.setattr(run, "NO_SOCKETS", "pass")  # only the startup file may take them away
    try:
        _, cells = run.run_in_process(path, env)
    finally:
        monkey.undo()
    printed = "".join(output.get("text", "") for output in cells[0].outputs)
    assert printed.splitlines()[0] == "no sockets in the browser edition"
    assert printed.splitlines()[-1].startswith("http://glm-offline")

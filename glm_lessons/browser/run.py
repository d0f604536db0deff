"""Run a lesson under CPython the way the browser edition runs it: the recorded server
in-process (GLM_OFFLINE_IN_PROCESS=1) and no sockets at all (a first hidden cell makes
socket.socket refuse to exist); with threads=False, no threads either, as in a web page
(connect() then runs the lessons' thread pools one call at a time, browser/threads.py). Used
by the tests and by the build (to draw the pictures).

Also what the suite's own pass over the lessons needs (the root conftest.py, and the tests of
it): LESSON_KERNEL_ENV, in_process_lessons() and in_process_kernel_env()."""

import os
import tempfile
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient

from .site import RUNS_A_PROGRAM, edition_lessons

ROOT = Path(__file__).resolve().parents[2]
NO_SOCKETS = """\
import socket

class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        raise OSError("no sockets in the browser edition")

socket.socket = _NoSocket
"""
NO_THREADS = """\
import threading

def _no_thread(self):
    raise RuntimeError("can't start new thread")

threading.Thread.start = _no_thread
"""


# The lessons run through nbval in kernels of their own, each with its own recorded server
# (glm_lessons.shared_server()), which reads its stream options from the environment when it
# starts. The suite's one pass over the lessons makes it as hard as the server can: every
# request must match a recording (strict), and every stream is cut into 1-5 byte pieces
# (hostile), so no lesson output depends on how the bytes arrive. Pacing is instant, which
# halves the run; the one demo that needs events spread over time asks for it itself.
LESSON_KERNEL_ENV = {"GLM_OFFLINE_STRICT": "1", "GLM_OFFLINE_CHUNKING": "hostile",
                     "GLM_OFFLINE_PACING": "instant"}


def in_process_lessons(notebooks):
    """The lessons nbval runs the way the edition runs them: the Chinese ones the edition
    ships, so one pass proves both their outputs and the edition's transport (the tests of
    the edition run only the others a second time). The English ones, lesson 09 (the SDKs'
    own HTTP clients) and the capstone (its program is a process of its own) keep their
    sockets."""
    return {path for path in edition_lessons(notebooks)
            if path.parent.name == "zh" and path.name[:2] not in RUNS_A_PROGRAM}


def in_process_kernel_env(ipython_dir):
    """GLM_OFFLINE_IN_PROCESS, and the IPYTHONDIR `ipython_dir` (an empty folder the caller
    removes) with a startup file that takes sockets away before the first cell runs."""
    startup = Path(ipython_dir) / "profile_default" / "startup"
    startup.mkdir(parents=True)
    # before the first cell, not at startup: the kernel's own event loop still needs one then
    (startup / "00-no-sockets.py").write_text(
        "from IPython import get_ipython\n\n\n"
        "def _no_sockets(*_):\n"
        "    get_ipython().events.unregister('pre_run_cell', _no_sockets)\n"
        f"    exec({NO_SOCKETS!r}, {{}})\n\n\n"
        "get_ipython().events.register('pre_run_cell', _no_sockets)\n", encoding="utf-8")
    return {"GLM_OFFLINE_IN_PROCESS": "1", "IPYTHONDIR": str(ipython_dir)}


def run_in_process(path, env=None, timeout=60, skip=None, threads=True):
    """(the stored outputs of each cell, the cells as run now) for the notebook at `path`;
    a code cell containing the text `skip` is not run (its source is left out); threads=False
    takes threads away, as a web page does (threading.Thread.start raises RuntimeError)."""
    notebook = nbformat.read(path, as_version=4)
    stored = [cell.get("outputs", []) for cell in notebook.cells]
    for cell in notebook.cells:
        if skip and cell.cell_type == "code" and skip in cell.source:
            cell.source = "# not run here"
    hidden = NO_SOCKETS if threads else NO_SOCKETS + "\n" + NO_THREADS
    notebook.cells.insert(0, nbformat.v4.new_code_cell(hidden))
    kernel_env = {**os.environ, **(env or {}), "GLM_OFFLINE_IN_PROCESS": "1",
                  "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    kernel_env.pop("ZHIPUAI_API_KEY", None)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).parent)}},
                            allow_errors=True)
    with tempfile.TemporaryDirectory(prefix="glm-kernel-") as sockets:
        # IPC, not TCP: kernels started side by side cannot race for the same free port
        client.km = KernelManager(kernel_name="python3", transport="ipc",
                                  ip=str(Path(sockets) / "kernel"))
        client.execute(env=kernel_env)
    return stored, notebook.cells[1:]

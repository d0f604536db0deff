"""Run a lesson under CPython the way the browser edition runs it: the recorded server
in-process (GLM_OFFLINE_IN_PROCESS=1) and no sockets at all (a first hidden cell makes
socket.socket refuse to exist); with threads=False, no threads either, as in a web page
(connect() then runs the lessons' thread pools one call at a time, browser/threads.py). Used
by the tests and by the build (to draw the pictures)."""

import os
import tempfile
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient

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

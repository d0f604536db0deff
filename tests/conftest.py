"""Shared fixtures: a running recorded server, auth, raw HTTP, and the lessons' own code."""

import json
import logging
import os
import re
import socket
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import requests

import glm_offline

CASSETTE = Path(glm_offline.__file__).parent / "cassettes" / "server-basics.json"
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@contextmanager
def serve_command(*args):
    """`python -m glm_offline serve --port 0 ARGS` as a separate process, the way a workshop
    room runs it; yields the ZHIPUAI_BASE_URL and ZHIPUAI_API_KEY it prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHIPUAI_", "GLM_OFFLINE_"))}
    process = subprocess.Popen([sys.executable, "-m", "glm_offline", "serve", "--port", "0", *args],
                               stdout=subprocess.PIPE, text=True, env=env)
    try:
        variables = {}
        for line in process.stdout:
            match = re.match(r"\s*(ZHIPUAI_\w+)=(\S+)", line)
            if match:
                variables[match.group(1)] = match.group(2)
            if len(variables) == 2:
                break
        yield variables
    finally:
        process.terminate()
        process.wait(timeout=10)


def lesson_cells(language, lesson, tags):
    """The code cells of a lesson that carry any of `tags`, in notebook order."""
    cells = nbformat.read(NOTEBOOKS / language / lesson, as_version=4).cells
    return [c for c in cells
            if c.cell_type == "code" and set(tags) & set(c.metadata.get("tags", []))]


def run_lesson_cells(language, lesson, tags, namespace=None):
    """Run those cells as the lesson runs them, so the taught code is the tested code;
    return the names they define."""
    namespace = dict(namespace or {})
    cells = lesson_cells(language, lesson, tags)
    assert cells, f"no code cells tagged {tags} in {language}/{lesson}"
    for index, cell in enumerate(cells):
        where = f"{language}/{lesson} [{'/'.join(tags)} cell {index}]"
        exec(compile(cell.source, where, "exec"), namespace)
    return SimpleNamespace(**namespace)


def fake_response(status, body=b"", headers=None):
    """A requests.Response as if received, without a socket."""
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers.update(headers or {})
    return response


@pytest.fixture
def server():
    """A strict server that streams instantly; stopped after the test."""
    with glm_offline.start(pacing="instant", strict=True) as running:
        yield running


@pytest.fixture(scope="module")
def module_server():
    """The same, shared by a module's tests that leave no state behind (stop costs ~0.1 s)."""
    with glm_offline.start(pacing="instant", strict=True) as running:
        yield running


def auth(key=glm_offline.OFFLINE_API_KEY):
    return {"Authorization": f"Bearer {key}"}


def settled_history(server, count, timeout=10):
    """server.history once it holds `count` exchanges (TimeoutError after `timeout` s)."""
    return server.wait_for_exchanges(count, timeout)


@pytest.fixture(scope="session")
def recordings():
    """The interactions of server-basics.json by name, read straight from the file."""
    data = json.loads(CASSETTE.read_text(encoding="utf-8"))
    return {item["name"]: item for item in data["interactions"]}


@dataclass
class RawResponse:
    status_line: bytes
    headers: dict  # lower-case name -> value
    chunks: list  # the HTTP chunks of a chunked body, else [the body]
    ended: bool  # chunked body closed by 0\r\n\r\n (or Content-Length body complete)

    @property
    def status(self):
        return int(self.status_line.split()[1])

    @property
    def body(self):
        return b"".join(self.chunks)


def raw_post(port, path, body, headers=None, timeout=5):
    """POST bytes over a plain socket and read one response, chunk by chunk."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}",
            "Content-Type: application/json", "Connection: close"]
    head += [f"{name}: {value}" for name, value in (headers or auth()).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return read_response(sock.makefile("rb"))


def read_response(stream):
    status_line = stream.readline().rstrip(b"\r\n")
    headers = {}
    for line in iter(stream.readline, b"\r\n"):
        if not line:  # closed inside the head: no answer (readline would give b"" forever)
            raise ConnectionError(f"the connection closed after {status_line[:100]!r}")
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        chunks = []
        while True:
            size_line = stream.readline()
            if not size_line:
                return RawResponse(status_line, headers, chunks, ended=False)
            size = int(size_line, 16)
            data = stream.read(size + 2)
            if size == 0:
                return RawResponse(status_line, headers, chunks, ended=data == b"\r\n")
            assert data.endswith(b"\r\n"), data
            chunks.append(data[:-2])
    length = int(headers["content-length"])
    data = stream.read(length)
    return RawResponse(status_line, headers, [data], ended=len(data) == length)


@pytest.fixture(scope="module")
def lenient_server():
    """A server of the module's own that is not strict (exercise 2 of lesson 02 asks a question
    no recording answers): tests/test_lesson_solutions*.py run lesson solutions against it."""
    with glm_offline.start(pacing="instant", strict=False) as running:
        yield running


@pytest.fixture
def urllib3_logger_restored():
    """Lesson 02 counts connections with a handler on urllib3's logger; take it off again."""
    logger = logging.getLogger("urllib3.connectionpool")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)

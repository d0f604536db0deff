"""The tests' plain helpers (tests/conftest.py holds the fixtures): the repository's folders, a
recorded server run as a separate process, a lesson's tagged cells, raw HTTP, and GLM-shaped
requests and errors, a lesson's exercises run and checked, and a lesson's code compared as a
program."""

import ast
import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import nbformat
import requests

import glm_offline
from glm_lessons import environment, exercise_checks, layout

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CASSETTE = Path(glm_offline.__file__).parent / "cassettes" / "server-basics.json"
USER = [{"role": "user", "content": "Say hello in one short sentence."}]


def lesson_paths(language):
    """The numbered lessons of a language (01, 02, ...), without 00-start-here.ipynb: the
    course's first page has no lesson frame, setup cell, exercises or quiz."""
    return layout.lesson_paths(NOTEBOOKS, language)


def script_env(api_key=None, base_url=None):
    """The environment a script runs in, as on a learner's machine: none of this process's
    ZHIPUAI_*, GLM_* or PYTHON* settings (so nothing of the suite's leaks in, and a script
    cannot import what only PYTHONPATH finds), UTF-8 output, and the two variables given."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("ZHIPUAI_", "GLM_", "PYTHON"))}
    env["PYTHONIOENCODING"] = "utf-8"
    env.update({name: value for name, value in (("ZHIPUAI_API_KEY", api_key),
                                                ("ZHIPUAI_BASE_URL", base_url)) if value})
    return env


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


def auth(key=glm_offline.OFFLINE_API_KEY):
    return {"Authorization": f"Bearer {key}"}


def settled_history(server, count, timeout=10):
    """server.history once it holds `count` exchanges (TimeoutError after `timeout` s)."""
    return server.wait_for_exchanges(count, timeout)


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


def post_json(server, body, headers=None, path="/chat/completions"):
    """POST `body` as JSON to `path` under the server's base URL, with the offline key."""
    return requests.post(server.base_url + path, json=body,
                         headers={**auth(), **(headers or {})}, timeout=10)


def chat_body(model="glm-4-flash-250414", **fields):
    """A chat request for `model` asking USER's question, with `fields` added."""
    return {"model": model, "messages": USER, **fields}


def answer(response):
    """(status, body) of a JSON answer."""
    return response.status_code, response.json()


def glm_error(code, message, status=400):
    """(status, body) of a GLM error answer, as answer gives it."""
    return status, {"error": {"code": code, "message": message}}


class _BlankStrings(ast.NodeTransformer):
    def visit_Constant(self, node):
        return ast.Constant("") if isinstance(node.value, str) else node


def program(source):
    """The code's AST with string constants blanked (comments are not in the AST)."""
    return ast.dump(_BlankStrings().visit(ast.parse(source)))


# -- a lesson's exercises: its teaching cells run, a solution, its check called directly ---

SOLUTION = re.compile(r"```python\n(.*?)```", re.S)
CORRECT = ("Correct", "正确")



def lesson(language, name):
    """(the teaching cells, the exercise cells) of a lesson: split at its "## Exercises"."""
    cells = nbformat.read(NOTEBOOKS / language / name, as_version=4).cells
    start = next(i for i, c in enumerate(cells)
                 if c.cell_type == "markdown" and c.source.startswith(("## Exercises", "## 练习")))
    return cells[:start], cells[start:]


def run(source, namespace):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, "<lesson>", "exec"), namespace)
    return printed.getvalue()


_TAUGHT = {}  # (language, lesson, server) -> the namespace after the teaching cells


def taught(language, name, server):
    """A copy of the namespace after the lesson's teaching cells, against `server`, and the
    exercise cells. The teaching cells run once per lesson and server: each test gets its own
    copy of the names, so one test's solution is not in the next test's namespace."""
    key = (language, name, id(server))
    if key not in _TAUGHT:
        teaching, exercises = lesson(language, name)
        namespace = {"BASE_URL": server.base_url, "API_KEY": server.api_key, "server": server}
        # The lessons' demos wait for real: sleeps between retries and polls (lessons 08 and
        # 09), a server of their own at realistic pacing (lesson 05). Neither is needed to
        # build the names the checks use, so here they do not wait (the server never sleeps).
        started = glm_offline.start

        def instant_start(*args, **options):
            return started(*args, **{**options, "pacing": "instant"})

        # connect(), replaced here, points the recipe's two variables at the server too
        with mock.patch("time.sleep", lambda seconds: None), \
                mock.patch.object(glm_offline, "start", instant_start), \
                environment.pointed_at(server):
            for index, cell in enumerate(teaching):
                if cell.cell_type == "code" and index != 2:  # cell 2: the setup, replaced
                    # not the error demos, nor the recipe: a script of its own, which reads
                    # the environment (tests/lessons/test_recipes.py runs it as a file)
                    if not {"raises-exception", "recipe"} & set(cell.metadata.get("tags", [])):
                        run(cell.source, namespace)
        _TAUGHT[key] = namespace, exercises
    namespace, exercises = _TAUGHT[key]
    return dict(namespace), exercises


def exercise(exercises, number):
    """(the solution's code, the answer cell, the check cell) of exercise `number`."""
    at = next(i for i, c in enumerate(exercises)
              if c.cell_type == "markdown" and f"**{number}.**" in c.source)
    code = SOLUTION.findall(exercises[at].source.partition("</summary>")[2])[0]  # the solution
    check = next(i for i in range(at + 1, len(exercises)) if exercises[i].cell_type == "code"
                 and exercises[i].source.startswith("check."))
    return code, exercises[check - 1].source, exercises[check].source


def checked(language, name, cell, namespace):
    """What the lesson's check prints, called directly as its one-line cell names it, with the
    cell's arguments looked up in `namespace`."""
    call = ast.parse(cell, mode="eval").body
    assert isinstance(call, ast.Call) and call.func.value.id == "check", cell
    arguments = [eval(compile(ast.Expression(argument), "<argument>", "eval"), namespace)
                 for argument in call.args]
    method = getattr(exercise_checks(language, lesson=name[:2]), call.func.attr)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert method(*arguments) is None  # a notebook shows only the printed line
    return printed.getvalue()


def hints(language, name, answer_cell, check_cell, namespace):
    """Run with the answer cell as the lesson gives it (`name = None`), the check prints its
    one-line hint."""
    run(answer_cell, namespace)
    printed = checked(language, name, check_cell, namespace)
    return printed.count("\n") == 1 and ("run this cell again" in printed
                                           or "再运行这个单元" in printed)


def refuses(language, name, check_cell, namespace):
    """The check prints one line, and not the verdict of success."""
    printed = checked(language, name, check_cell, namespace).strip("\n")
    return "\n" not in printed and not printed.startswith(CORRECT)


@contextmanager
def serving_upstream(handler_class):
    """A stand-in upstream (a stdlib request handler class) on a free loopback port, for the
    recording proxy: yields its /api/paas/v4 base URL, and stops it on the way out."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/api/paas/v4"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()

"""The capstone (lesson 10): a command-line chat program, checked against the recorded server.

Runs capstone/chat.py, or a learner's program named by CAPSTONE_SOLUTION:

    CAPSTONE_SOLUTION=my_chat.py python -m pytest -q -n 0 tests/lessons/test_10_capstone.py

Each test starts the program as attendees do, with ZHIPUAI_BASE_URL and ZHIPUAI_API_KEY pointing
at a recorded server, feeds it lines on standard input and reads what it prints. The requests it
sends are read back from a recording proxy (glm_offline.record) between the two, so the checks
see exactly what went over the wire. The contract a solution keeps is in capstone/chat.py's
docstring and in notebooks/en/10-capstone.ipynb.
"""

import ast
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import glm_offline
from glm_client import GREY, PLAIN
from glm_offline.cassette_file import read_checked
from glm_offline.record import start_recorder

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = Path(os.environ.get("CAPSTONE_SOLUTION") or ROOT / "capstone" / "chat.py").resolve()
REASONING = re.compile(re.escape(GREY) + "(.*?)" + re.escape(PLAIN), re.S)  # glm_client.Printer
TIMEOUT = 15  # seconds for any one program run; each takes well under one


@pytest.fixture
def room(tmp_path):
    """A recorded server (non-strict: free-form prompts get generated replies) behind a
    recording proxy; yields (server, proxy, read the request bodies sent so far)."""
    output = tmp_path / "requests.json"
    with glm_offline.start(pacing="instant") as server, \
            start_recorder(server.base_url, output) as proxy:
        def bodies():
            if not output.exists():
                return []
            data = read_checked(output)  # the cassette with the recorder's journal merged
            return [item["request"]["body"] for item in data["interactions"]]
        yield server, proxy, bodies


def environment(proxy):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHIPUAI_", "GLM_OFFLINE_"))}
    return dict(env, ZHIPUAI_BASE_URL=proxy.base_url, ZHIPUAI_API_KEY=glm_offline.OFFLINE_API_KEY,
                PYTHONIOENCODING="utf-8")


def run_chat(proxy, lines, *args):
    """The program's exit status, output and error output after these input lines and EOF."""
    done = subprocess.run([sys.executable, str(SOLUTION), *args], input="".join(
        line + "\n" for line in lines), capture_output=True, text=True, encoding="utf-8",
        env=environment(proxy), timeout=TIMEOUT)
    return done.returncode, done.stdout, done.stderr


class Running:
    """The program running, its output collected by a thread so a test can wait for text."""

    def __init__(self, proxy, *args):
        self.process = subprocess.Popen([sys.executable, str(SOLUTION), *args],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                        env=environment(proxy))
        self.output, self.changed = "", threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for char in iter(lambda: self.process.stdout.read(1), ""):
            with self.changed:
                self.output += char
                self.changed.notify_all()

    def wait_for(self, text, timeout=TIMEOUT):
        with self.changed:
            if not self.changed.wait_for(lambda: text in self.output, timeout):
                raise AssertionError(f"no {text!r} within {timeout} s; output: {self.output!r}")

    def send(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def interrupt(self):
        """Ctrl-C: SIGINT, then the exit status and the error output."""
        self.process.send_signal(signal.SIGINT)
        status = self.process.wait(timeout=TIMEOUT)
        return status, self.process.stderr.read()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
        self.reader.join(timeout=TIMEOUT)  # it ends at the end of the output
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()


def answer_lines(output):
    """The lines of an output that are answers: neither reasoning (grey), nor the program's own
    ("you> " prompts, "[tool] ...", "(...)" notes, "error: ...", "goodbye")."""
    plain = REASONING.sub("", output).replace("you> ", "\n")
    return [line for line in plain.splitlines() if line.strip() and not line.startswith(
        ("[tool] ", "(", "error:", "goodbye"))]


def reasoning(output):
    return "".join(REASONING.findall(output))


def test_it_streams_the_reasoning_apart_then_the_answer(room):
    server, proxy, bodies = room
    status, out, err = run_chat(proxy, ["Hello there"], "--budget", "4000")
    assert (status, err) == (0, "")
    request = next(b for b in bodies() if "tools" in b)
    assert request["stream"] is True and request["messages"][-1]["content"] == "Hello there"
    # The generated reply's reasoning and answer (the last round, after the tool result):
    assert "I should say so plainly" in reasoning(out)
    [answer] = answer_lines(out)
    assert answer.startswith("[offline, generated]") and "I should say so" not in answer
    # The reasoning in grey first, then the answer on a line of its own.
    assert out.rindex(PLAIN) < out.index(answer) and out[out.index(answer) - 1] == "\n"
    assert out.rstrip().endswith("goodbye")


def test_with_a_question_it_prints_the_one_answer_and_exits(room):
    server, proxy, bodies = room
    status, out, err = run_chat(proxy, [], "What is 2 + 2?")
    assert (status, err) == (0, "")
    [body] = bodies()
    assert body["messages"][-1] == {"role": "user", "content": "What is 2 + 2?"}
    assert out.startswith("[offline, generated]") and out.count("\n") == 1 and GREY not in out


def test_it_runs_the_tool_and_streams_the_answer_to_its_result(room):
    server, proxy, bodies = room
    status, out, _ = run_chat(proxy, ["What's the weather in Beijing?"])
    assert status == 0
    first, second = bodies()[:2]
    assert first["tools"][0]["function"]["name"] == "get_weather"
    call, result = second["messages"][-2], second["messages"][-1]
    assert call["role"] == "assistant"
    assert call["tool_calls"][0]["function"]["name"] == "get_weather"
    assert result["role"] == "tool" and result["tool_call_id"] == call["tool_calls"][0]["id"]
    # The generated call asks for the city "example", which the tool does not know.
    assert "error" in json.loads(result["content"])
    assert "[tool] get_weather(" in out and answer_lines(out)


def test_history_is_kept_when_it_fits_the_budget(room):
    server, proxy, bodies = room
    run_chat(proxy, ["first question", "second question", "third question"], "--budget", "100000")
    last = bodies()[-1]["messages"]
    asked = [m["content"] for m in last if m["role"] == "user"]
    assert asked == ["first question", "second question", "third question"]


def test_history_is_trimmed_to_the_budget_oldest_turn_first(room):
    server, proxy, bodies = room
    _, out, _ = run_chat(proxy, ["first question", "second question", "third question"],
                         "--budget", "300")
    last = bodies()[-1]["messages"]
    asked = [m["content"] for m in last if m["role"] == "user"]
    assert "first question" not in asked and asked[-1] == "third question"
    assert last[0]["role"] == "system"
    # No tool result without the call before it.
    call_ids = {c["id"] for m in last if m["role"] == "assistant" for c in m.get("tool_calls", [])}
    assert all(m["tool_call_id"] in call_ids for m in last if m["role"] == "tool")
    assert "(history trimmed" in out


def test_a_1302_is_retried_and_the_answer_still_arrives(room):
    server, proxy, _ = room
    server.inject("rate_limit")
    status, out, _ = run_chat(proxy, ["hello"])
    assert status == 0
    statuses = [exchange.status for exchange in server.wait_for_exchanges(3)]
    assert statuses[:2] == [429, 200]
    assert "retrying" in out and answer_lines(out)


def test_a_1113_is_not_retried_and_the_chat_goes_on(room):
    server, proxy, _ = room
    server.inject("no_balance")
    status, out, err = run_chat(proxy, ["hello", "again"])
    assert status == 0 and "Traceback" not in out + err
    [error] = [line for line in out.splitlines() if "error:" in line]
    assert "1113" in error and "retrying" not in out
    assert [e.status for e in server.wait_for_exchanges(3)][:2] == [429, 200]
    assert answer_lines(out)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT cannot be sent to a child on Windows")
def test_ctrl_c_at_the_prompt_says_goodbye_and_exits_0(room):
    server, proxy, _ = room
    program = Running(proxy)
    try:
        program.wait_for("you> ")
        status, err = program.interrupt()
        assert status == 0 and "Traceback" not in err
        assert program.output.rstrip().endswith("goodbye")
    finally:
        program.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT cannot be sent to a child on Windows")
def test_ctrl_c_in_the_middle_of_an_answer_says_goodbye_and_exits_0(room):
    server, proxy, _ = room
    server.inject("stall_mid_stream", after_events=3, seconds=30)
    program = Running(proxy)
    try:
        program.wait_for("you> ")
        program.send("tell me a long story")
        program.wait_for(GREY)  # the stream has started (its reasoning), then stalls
        status, err = program.interrupt()
        assert status == 0 and "Traceback" not in err
        assert program.output.rstrip().endswith("goodbye")
    finally:
        program.kill()


def test_without_a_key_it_says_so_in_one_line(room):
    server, proxy, _ = room
    env = environment(proxy)
    del env["ZHIPUAI_API_KEY"]
    done = subprocess.run([sys.executable, str(SOLUTION)], input="", capture_output=True,
                          text=True, env=env, timeout=TIMEOUT)
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "ZHIPUAI_API_KEY" in done.stderr


def load_solution():
    """The solution as a module (its main() does not run on import)."""
    spec = importlib.util.spec_from_file_location("capstone_solution", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("arguments", [{"city": "Beijing"}, 42, ["Beijing"]])
def test_a_tool_call_whose_arguments_are_not_a_string_gets_an_error_message(arguments):
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": arguments}}
    message = load_solution().run_tool_call(call)
    assert message["role"] == "tool" and message["tool_call_id"] == "call_1"
    assert json.loads(message["content"])["error"].startswith("bad tool call: ")


GIVEN = ("SYSTEM_PROMPT", "WEATHER", "TOOLS", "MAX_TOOL_ROUNDS", "get_weather", "run_tool_call",
         "rough_tokens", "make_client", "parse_args", "main")
STEPS = ("ask", "stream_answer", "answer_turn", "trim_history", "answer_with_tools", "take_turn",
         "chat")


def definitions(path):
    """{name: the source of its definition} of a module's top-level functions and constants."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        names = ([node.name] if isinstance(node, ast.FunctionDef)
                 else [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)])
        for name in names:
            found[name] = ast.dump(node)
    return found


def test_the_starter_gives_what_the_answer_key_has_and_leaves_each_step_to_write():
    starter = definitions(ROOT / "capstone" / "starter.py")
    key = definitions(ROOT / "capstone" / "chat.py")
    assert [name for name in GIVEN if starter[name] != key[name]] == []
    assert set(starter) == set(key) and set(STEPS) <= set(key)
    for name in STEPS:
        assert starter[name] != key[name] and "NotImplementedError" in starter[name], name

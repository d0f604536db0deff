"""Lesson 03's recipe (its cell tagged "recipe"), run as the file a learner copies: a
subprocess with requests alone, against a recorded server of the test's own. What it prints is
compared with the recording itself (read straight from the cassette file), in the terminal's
terms: the reasoning wrapped in a 256-colour grey, readable on a light and on a dark terminal,
then the answer on a line of its own; and every way a stream fails ends the script with one
clear line, never a traceback. tests/lessons/test_recipes.py compares it with the stored output.
"""

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import glm_client
import glm_offline
import reasoning_contrast
from helpers import lesson_cells, script_env

ROOT = Path(__file__).resolve().parents[2]
CASSETTE = Path(glm_offline.__file__).parent / "cassettes" / "lesson-03.json"
GREY, PLAIN = "\x1b[38;5;245m", "\x1b[0m"  # xterm colour 245 (#8a8a8a), then reset
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def recipe(language):
    cells = lesson_cells(language, "03-streaming.ipynb", ["recipe"])
    assert len(cells) == 1
    return cells[0].source


def recorded(language):
    """(reasoning pieces, answer) of the recording the recipe's question is answered with."""
    for item in json.loads(CASSETTE.read_text(encoding="utf-8"))["interactions"]:
        if item["name"] == f"lesson03-stream-{language}":
            deltas = [json.loads(line[len("data: "):])["choices"][0]["delta"]
                      for line in item["response"]["sse"] if line.startswith("data: {")]
            return ([d["reasoning_content"] for d in deltas if d.get("reasoning_content")],
                    "".join(d.get("content", "") for d in deltas))
    raise AssertionError(f"no recording lesson03-stream-{language}")


def run(language, server, tmp_path, api_key=None):
    (tmp_path / "recipe.py").write_text(recipe(language) + "\n", encoding="utf-8")
    return subprocess.run([sys.executable, "recipe.py"], cwd=tmp_path,
                          env=script_env(api_key or server.api_key, server.base_url),
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


@pytest.fixture(scope="module")
def server():
    with glm_offline.start(strict=True, pacing="instant") as running:
        yield running


@pytest.fixture(scope="module")
def hostile_server():
    with glm_offline.start(strict=True, chunking="hostile", line_ending="crlf",
                           pacing="instant") as running:
        yield running


def xterm_grey(code):
    """The RGB level of xterm's grey ramp (colours 232-255): 8, 18, ..., 238."""
    assert 232 <= code <= 255, f"colour {code} is not on the 256-colour grey ramp"
    return 8 + 10 * (code - 232)


def contrast(first, second):
    """WCAG 2 contrast of two greys (the level of each)."""
    return reasoning_contrast.contrast((first,) * 3, (second,) * 3)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_recipe_prints_the_reasoning_grey_then_the_answer_on_its_own_line(
        language, server, tmp_path):
    ran = run(language, server, tmp_path)
    assert (ran.returncode, ran.stderr) == (0, "")
    reasoning, answer = recorded(language)
    assert ran.stdout == "".join(GREY + piece + PLAIN for piece in reasoning) + "\n" + answer + "\n"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_recipe_prints_the_same_whatever_the_chunking_and_line_endings(
        language, server, hostile_server, tmp_path):
    assert run(language, hostile_server, tmp_path).stdout == run(language, server, tmp_path).stdout


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_recipes_only_colour_is_the_clients_256_colour_grey(language, server, tmp_path):
    """Terminal colours: the 16-colour "bright black" (90) and "dim" (2) draw almost black in
    some themes; xterm grey 245 keeps 3:1 on a white and on a black terminal, so it reads as
    dimmer than the answer on both and stays readable."""
    codes = set(ESCAPE.findall(run(language, server, tmp_path).stdout))
    assert codes == {GREY, PLAIN}
    assert GREY == glm_client.GREY and PLAIN == glm_client.PLAIN  # one grey, the printer's
    level = xterm_grey(int(GREY[len("\x1b[38;5;"):-1]))
    assert contrast(level, 255) >= 3 and contrast(level, 0) >= 3, level


def test_the_grey_check_refuses_the_old_greys():
    with pytest.raises(AssertionError):
        xterm_grey(8)  # \x1b[90m, "bright black", is no 256-colour grey at all
    assert contrast(xterm_grey(235), 0) < 3  # a near-black grey vanishes on a dark terminal


def test_an_error_frame_mid_stream_stops_the_recipe_with_one_line(server, tmp_path):
    server.inject("error_frame", after_events=5)
    ran = run("en", server, tmp_path)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert ran.stderr.strip().startswith("error in the stream: {'code': '1302'")
    assert GREY + "The" + PLAIN in ran.stdout  # what arrived before the frame stays shown


def test_a_stream_without_done_is_reported_incomplete(server, tmp_path):
    server.inject("no_done", after_events=5)
    ran = run("zh", server, tmp_path)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert ran.stderr.strip() == "流在 data: [DONE] 之前就结束了：回答不完整"


def test_an_error_status_shows_glms_error_body(server, tmp_path):
    server.inject("rate_limit")
    ran = run("en", server, tmp_path)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    status, _, body = ran.stderr.strip().partition(": ")
    assert status == "HTTP 429" and json.loads(body)["error"]["code"] == "1302"


QUESTION = {"model": "glm-4.7-flash", "stream": True, "messages": [
    {"role": "user", "content": "Why do chat apps stream their answers? Answer in one sentence."}]}


def run_on_chunks(chunks, tmp_path):
    """The English recipe run against a server whose one recording streams these chunks."""
    lines = [line for chunk in chunks for line in (f"data: {json.dumps(chunk)}", "")]
    cassette = {"version": 1, "metadata": {}, "interactions": [{
        "name": "sparse", "request": {"method": "POST", "path": "/api/paas/v4/chat/completions",
                                      "body": QUESTION},
        "response": {"status": 200, "sse": lines + ["data: [DONE]", ""]}}]}
    folder = tmp_path / "cassettes"
    folder.mkdir()
    (folder / "sparse.json").write_text(json.dumps(cassette), encoding="utf-8")
    with glm_offline.start(cassette_dirs=[folder], packaged_cassettes=False,
                           strict=True) as sparse:
        return run("en", sparse, tmp_path)


def test_deltas_with_neither_field_and_chunks_without_choices_are_skipped(tmp_path):
    """A live delta may carry only a role, and a chunk may carry usage alone."""
    chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
              {"choices": [{"index": 0, "delta": {"reasoning_content": "Hm."}}]},
              {"choices": [{"index": 0, "delta": {"content": None}}]},
              {"choices": [{"index": 0, "delta": {"content": "Yes."}}]},
              {"choices": [], "usage": {"total_tokens": 3}}]
    ran = run_on_chunks(chunks, tmp_path)
    assert (ran.returncode, ran.stderr) == (0, "")
    assert ran.stdout == f"{GREY}Hm.{PLAIN}\nYes.\n"


def test_the_recipe_prints_what_the_clients_printer_prints_for_the_same_deltas(tmp_path):
    """Reasoning that resumes after the answer has begun gets no second line break."""
    deltas = [{"reasoning_content": "Think."}, {"content": "An"},
              {"reasoning_content": " More."}, {"content": "swer."}, {"role": "assistant"},
              {"reasoning_content": " Done."}]
    chunks = [{"choices": [{"index": 0, "delta": delta}]} for delta in deltas]
    ran = run_on_chunks(chunks, tmp_path)
    printed = io.StringIO()
    printer = glm_client.Printer(file=printed)
    for delta in deltas:
        if delta.get("reasoning_content"):
            printer.reasoning(delta["reasoning_content"])
        if delta.get("content"):
            printer.content(delta["content"])
    assert (ran.returncode, ran.stderr) == (0, "")
    assert ran.stdout == printed.getvalue() + "\n"
    assert ran.stdout.count("\n") == 2  # before the answer, and the last print()

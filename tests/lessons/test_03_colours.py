"""Lesson 03 prints the reasoning visibly dimmer than the answer, and still readable, where a
learner reads it outside a terminal: in an HTML export (`jupyter nbconvert --to html`, the lab
template JupyterLab's own CSS comes with). The lesson's stream_chat prints a recorded stream;
a one-cell notebook holds exactly that output; nbconvert exports it; the colours are read back
from the HTML and its CSS (the inline style or the class of the reasoning's span, the CSS
variables they use) and compared by WCAG 2 contrast. JupyterLab itself is measured in pixels by
instructors/browser_check.py (in CI, on zh/03); the verdict it gives on its measurements is
tested at the end. The thresholds, and why, are in instructors/reasoning_contrast.py.
"""

import contextlib
import html
import io
import re
import subprocess
import sys

import nbformat
import pytest
import requests

import glm_client
import glm_offline
import reasoning_contrast
from helpers import run_lesson_cells
from reasoning_contrast import MIN_ANSWER_CSS, MIN_ANSWER_OVER_REASONING_CSS, MIN_REASONING_CSS

QUESTIONS = {"en": "Why do chat apps stream their answers? Answer in one sentence.",
             "zh": "聊天应用为什么要流式输出回答？用一句话回答。"}
PRE = re.compile(r'data-mime-type="text/plain"[^>]*>\s*<pre>(.*?)</pre>', re.S)
SPAN = re.compile(r'<span (style|class)="([^"]*)">(.*?)</span>', re.S)
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


@pytest.fixture(scope="module")
def server():
    with glm_offline.start(strict=True) as running:
        yield running


def lesson_output(language, server):
    """What the lesson's stream_chat prints for its question, from its own cells."""
    namespace = {"requests": requests, "CHAT_URL": f"{server.base_url}/chat/completions",
                 "HEADERS": {"Authorization": f"Bearer {server.api_key}"}}
    for name in ("Answer", "api_error_from", "iter_chunks"):
        namespace[name] = getattr(glm_client, name)
    lesson = run_lesson_cells(language, "03-streaming.ipynb", ["glm-client", "stream-chat"],
                              namespace)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        answer = lesson.stream_chat({"model": "glm-4.7-flash", "stream": True, "messages": [
            {"role": "user", "content": QUESTIONS[language]}]})
    return printed.getvalue(), answer


def exported(text, tmp_path):
    """The HTML nbconvert makes of a one-cell notebook whose output is `text`."""
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("answer = stream_chat(question)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    notebook.cells = [cell]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, tmp_path / "lesson.ipynb")
    ran = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html",
                          str(tmp_path / "lesson.ipynb")], capture_output=True, text=True,
                         timeout=120)
    assert ran.returncode == 0, ran.stderr
    return (tmp_path / "lesson.html").read_text(encoding="utf-8")


def variables(page):
    """The page's CSS custom properties; each one the light theme defines once."""
    found = {}
    for name, value in re.findall(r"(--[\w-]+):\s*([^;{}]+);", page):
        found.setdefault(name, []).append(value.strip())
    return found


def resolve(value, defined):
    while "var(" in value:
        name = re.search(r"var\((--[\w-]+)[^)]*\)", value)
        values = defined[name.group(1)]
        assert len(values) == 1, f"{name.group(1)} is defined {len(values)} times"
        value = value.replace(name.group(0), values[0])
    return value.strip()


def rule_colour(page, selector, prop="color"):
    """The value of `prop` in the last rule whose selector list names `selector`."""
    found = None
    for selectors, body in RULE.findall(page):
        if selector in [s.strip() for s in selectors.split(",")]:
            match = re.search(rf"(?<![-\w]){prop}:\s*([^;]+);", body)
            if match:
                found = match.group(1)
    return found


def rgb(colour, background=(255, 255, 255)):
    """(r, g, b) of a CSS colour, an rgba one composited over `background`."""
    colour = colour.strip().lower()
    named = {"white": (255, 255, 255), "black": (0, 0, 0)}
    if colour in named:
        return named[colour]
    if colour.startswith("#"):
        digits = colour[1:]
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))
    numbers = [float(n) for n in re.findall(r"[\d.]+", colour)]
    alpha = numbers[3] if len(numbers) > 3 else 1
    return tuple(round(c * alpha + b * (1 - alpha)) for c, b in zip(numbers[:3], background))


contrast = reasoning_contrast.contrast  # WCAG 2, one copy for every check


def colours(page):
    """(background, answer, reasoning) colours of the exported output, read from the page."""
    assert 'data-jp-theme-light="true"' in page  # the theme whose variables are read
    defined = variables(page)
    for selector in (".jp-RenderedText", ".jp-RenderedText pre", ".jp-OutputArea-output"):
        assert rule_colour(page, selector, "background(?:-color)?") is None, selector
    background = rgb(resolve("var(--jp-layout-color0)", defined))  # the page behind the output
    answer = rgb(resolve(rule_colour(page, ".jp-RenderedText pre"), defined), background)
    pre = PRE.search(page).group(1)
    spans = SPAN.findall(pre)
    assert spans, "the reasoning is not set apart by a span"
    kinds = {(kind, value) for kind, value, _ in spans}
    assert len(kinds) == 1, f"the reasoning's spans differ: {kinds}"
    kind, value = kinds.pop()
    if kind == "style":
        reasoning = rgb(re.search(r"color:\s*([^;]+)", value).group(1), background)
    else:
        declared = rule_colour(page, f".jp-RenderedText pre .{value}")
        reasoning = rgb(resolve(declared, defined), background)
    return background, answer, reasoning, html.unescape(SPAN.sub("", pre))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_exported_lesson_shows_the_reasoning_dimmer_than_the_answer_and_readable(
        language, server, tmp_path):
    text, answer = lesson_output(language, server)
    background, answer_colour, reasoning_colour, plain = colours(exported(text, tmp_path))
    print(f"background {background}, answer {answer_colour}, reasoning {reasoning_colour}")
    assert answer.content.strip() in plain  # the answer is the text outside the spans
    answer_contrast = contrast(answer_colour, background)
    reasoning_contrast = contrast(reasoning_colour, background)
    assert answer_contrast >= MIN_ANSWER_CSS, answer_contrast
    assert reasoning_contrast >= MIN_REASONING_CSS, reasoning_contrast
    assert answer_contrast >= MIN_ANSWER_OVER_REASONING_CSS * reasoning_contrast, \
        (answer_contrast, reasoning_contrast)


def test_the_check_refuses_the_near_black_grey_the_lesson_used_to_print(tmp_path):
    old = "\x1b[90mThe user asks.\n\x1b[0mStreaming shows the first words."
    background, answer_colour, reasoning_colour, _ = colours(exported(old, tmp_path))
    assert reasoning_colour == (0x28, 0x2C, 0x36)  # JupyterLab's bright black
    assert contrast(answer_colour, background) < \
        MIN_ANSWER_OVER_REASONING_CSS * contrast(reasoning_colour, background)


# -- the verdict instructors/browser_check.py gives on the pixels it measures in JupyterLab ---

def measured(reasoning, answer, paper=(255, 255, 255)):
    return {"reasoning": {"ink": reasoning, "paper": paper},
            "answer": {"ink": answer, "paper": paper}}


def test_the_browser_check_passes_the_printers_grey_as_jupyterlab_draws_it():
    """The ink colours the check measured in headless Chromium for zh/03 (#8a8a8a, #212121)."""
    assert reasoning_contrast.reasoning_verdict(measured((0x8A,) * 3, (0x21,) * 3)) == []


@pytest.mark.parametrize("reasoning, why", [
    ((0x28, 0x2C, 0x36), "not visibly lighter"),  # \x1b[90m in JupyterLab: 14:1 beside 16:1
    ((0x21,) * 3, "not visibly lighter"),  # no colour at all
    ((0xC8,) * 3, "hard to read"),  # a pale grey: 1.7:1 on white
])
def test_the_browser_check_refuses_a_reasoning_too_dark_or_too_pale(reasoning, why):
    failures = reasoning_contrast.reasoning_verdict(measured(reasoning, (0x21,) * 3))
    assert any(why in failure for failure in failures), failures

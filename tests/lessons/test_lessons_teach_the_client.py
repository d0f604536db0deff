"""The lessons teach glm_client.py, piece by piece, and cannot drift from it.

A code cell tagged `glm-client` teaches part of the copy-ready client. Every function, class
and module-level constant it defines must be the module's own: in the English lessons the same
text (docstring and comments included), in the Chinese ones the same program (comments and
strings may be translated; see helpers.program). And each piece is taught somewhere.
"""

import ast
from pathlib import Path

import nbformat
import pytest

from helpers import program

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "glm_client.py"
TAG = "glm-client"
# Which lesson teaches which piece (issue 11: each once, then reused).
TAUGHT_IN = {
    "01-keys-and-tokens.ipynb": {"split_key", "sign_token", "TokenCache"},
    "03-streaming.ipynb": {"split_lines", "iter_events"},
    "05-errors-and-retries.ipynb": {"is_retryable", "backoff_delays"},
    "06-tool-calls.ipynb": {"merge_tool_call_fragments"},
}


def definitions(source):
    """{name: source text} for each top-level def, class and simple assignment."""
    tree = ast.parse(source)
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        else:
            continue
        decorators = getattr(node, "decorator_list", None)
        start = decorators[0].lineno if decorators else node.lineno
        text = "\n".join(source.splitlines()[start - 1:node.end_lineno])
        for name in names:
            found[name] = text
    return found


MODULE_DEFINITIONS = definitions(MODULE.read_text(encoding="utf-8"))


def taught(language, name):
    """{name: source} defined by the lesson's glm-client cells."""
    cells = nbformat.read(ROOT / "notebooks" / language / name, as_version=4).cells
    found = {}
    for cell in cells:
        if cell.cell_type == "code" and TAG in cell.metadata.get("tags", []):
            found.update(definitions(cell.source))
    return found


LESSONS = sorted(p.name for p in (ROOT / "notebooks" / "en").glob("*.ipynb"))


@pytest.mark.parametrize("name", LESSONS)
def test_the_english_lesson_defines_the_modules_own_text(name):
    for piece, text in taught("en", name).items():
        assert piece in MODULE_DEFINITIONS, f"{name} defines {piece}, which glm_client.py lacks"
        assert text == MODULE_DEFINITIONS[piece], (
            f"{name}: {piece} differs from glm_client.py; change both, or neither")


@pytest.mark.parametrize("name", LESSONS)
def test_the_chinese_lesson_defines_the_modules_own_program(name):
    for piece, text in taught("zh", name).items():
        assert piece in MODULE_DEFINITIONS, f"zh/{name} defines {piece}, which glm_client.py lacks"
        assert program(text) == program(MODULE_DEFINITIONS[piece]), (
            f"zh/{name}: {piece} is a different program from glm_client.py's")


@pytest.mark.parametrize("name, pieces", sorted(TAUGHT_IN.items()))
def test_each_piece_is_taught_where_the_lessons_say(name, pieces):
    for language in ("en", "zh"):
        missing = pieces - set(taught(language, name))
        assert not missing, f"{language}/{name} no longer teaches {sorted(missing)}"


def test_a_drifted_copy_is_caught():
    """The comparison itself can fail: one changed line is a different text and program."""
    original = MODULE_DEFINITIONS["is_retryable"]
    drifted = original.replace("return", "return not", 1)
    assert drifted != original
    assert program(drifted) != program(original)

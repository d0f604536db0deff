"""Imports go one way: glm_lessons -> glm_offline -> the standard library, requests, PyJWT.

glm_offline, the recorded server, is a product of its own (its dependencies in pyproject.toml are
requests and PyJWT only): it never imports glm_lessons, matplotlib, IPython or nbformat.
Its HTTP layer, glm_offline/http/, imports the standard library alone (not even the rest of
glm_offline: the server passes it what it needs). glm_lessons, the course's helpers, may use
glm_offline, glm_client and its own extra (matplotlib, Pillow, the CJK font) and IPython (the
notebooks' kernel). glm_client.py, the file learners copy, imports neither package. Every import
statement of every module is read with ast, those inside functions too (plots.py imports
matplotlib on first use). The tools (contributors/, instructors/) may import the packages, never
the tests; the instructors' tools never need the contributors'.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = frozenset(sys.stdlib_module_names)
# requests and PyJWT, as pyproject.toml declares them; urllib3 comes with requests (record.py
# names its exceptions)
SERVER = STDLIB | {"requests", "urllib3", "jwt"}
RULES = {  # what the modules of each product may import (top-level names)
    "glm_offline": SERVER | {"glm_offline"},
    # The HTTP layer: the standard library alone (imports between its own modules are
    # relative, and one that climbs out of glm_offline/http is reported).
    "glm_offline/http": STDLIB,
    "glm_lessons": SERVER | {"glm_offline", "glm_lessons", "glm_client", "matplotlib", "PIL",
                             "noto_cjk_sans_otc", "IPython"},
    "glm_client.py": SERVER,
}
# The browser edition's build tool (glm_lessons/browser/) runs at build time only, with
# requirements-browser.txt: it may also use what building and drawing the edition takes.
BUILD_TOOL = ("glm_lessons/browser", {"nbformat", "nbclient", "jupyter_client",
                                       "jupyterlite_pyodide_kernel"})


def modules(product, root=ROOT):
    path = root / product
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


def imports(path, root=ROOT, product_depth=1):
    """(line, top-level module name) of every import in the file; relative imports stay inside
    the product and are left out, unless they climb out of it (`product_depth`: how many
    folders deep the product's own folder is, 1 for glm_offline, 2 for glm_offline/http)."""
    found = []
    package_depth = len(path.relative_to(root).parts) - product_depth
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, node.module.split(".")[0]))
            elif node.level > package_depth:
                found.append((node.lineno, "." * node.level + (node.module or "")))
    return found


def violations(product, root=ROOT):
    """'file:line imports name' for each import of `product` outside its rule."""
    allowed = RULES[product]
    folder, extra = BUILD_TOOL
    depth = len(Path(product).parts)
    return [f"{path.relative_to(root)}:{line} imports {name}"
            for path in modules(product, root) for line, name in imports(path, root, depth)
            if name not in allowed
            and not (path.relative_to(root).as_posix().startswith(folder + "/")
                     and name in extra)]


@pytest.mark.parametrize("product", list(RULES))
def test_each_product_imports_only_what_its_rule_allows(product):
    assert modules(product), f"no modules found for {product}"
    assert violations(product) == []


@pytest.mark.parametrize("planted", [
    "from ..wire import dumps", "from glm_offline.history import Exchange", "import requests",
    "def later():\n    from .. import server"])
def test_an_import_of_the_server_planted_in_the_http_layer_is_found(planted, tmp_path):
    copy = tmp_path / "glm_offline" / "http"
    copy.mkdir(parents=True)
    for path in modules("glm_offline/http"):
        (copy / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert violations("glm_offline/http", tmp_path) == []
    with (copy / "reader.py").open("a", encoding="utf-8") as file:
        file.write("\n" + planted + "\n")
    assert len(violations("glm_offline/http", tmp_path)) == 1, planted


def test_the_server_does_not_import_the_course():
    forbidden = {"glm_lessons", "glm_client", "matplotlib", "IPython", "nbformat"}
    assert not forbidden & RULES["glm_offline"]
    assert not {"glm_offline", "glm_lessons"} & RULES["glm_client.py"]


@pytest.mark.parametrize("planted", [
    "import glm_lessons", "from glm_lessons.plots import Picture", "import matplotlib.pyplot",
    "def later():\n    from IPython import get_ipython", "import nbformat", "from .. import x"])
def test_a_planted_import_is_found(planted, tmp_path):
    """The same reading, on a copy of glm_offline with one import planted in a module."""
    copy = tmp_path / "glm_offline"
    copy.mkdir()
    for path in modules("glm_offline"):
        if path.parent == ROOT / "glm_offline":
            (copy / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert violations("glm_offline", tmp_path) == []
    with (copy / "auth.py").open("a", encoding="utf-8") as file:
        file.write("\n" + planted + "\n")
    assert len(violations("glm_offline", tmp_path)) == 1, planted


def tool_imports(folder):
    """(file:line, name) of every top-level name the tools in `folder` import."""
    return [(f"{path.relative_to(ROOT)}:{line}", name)
            for path in modules(folder) for line, name in imports(path)]


def test_the_tools_import_the_packages_but_never_the_tests():
    """contributors/ and instructors/ may import the packages and each other's modules; the
    tests import them, never the other way round."""
    test_modules = {"helpers", "conftest"} | {p.stem for p in (ROOT / "tests").rglob("test_*.py")}
    found = tool_imports("contributors") + tool_imports("instructors")
    assert {name for _, name in found} >= {"glm_offline", "browser_check"}  # the reading works
    assert [(where, name) for where, name in found if name in test_modules] == []


def test_the_instructors_tools_stand_without_the_contributors():
    contributors = {p.stem for p in (ROOT / "contributors").glob("*.py")}
    assert [(where, name) for where, name in tool_imports("instructors")
            if name in contributors] == []

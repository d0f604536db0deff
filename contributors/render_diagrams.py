"""Render the lessons' Mermaid diagrams to SVG files next to the notebooks, so that GitHub,
nbviewer, VS Code and an offline HTML export show them (none of them renders Mermaid in a
notebook). The Mermaid source stays in the notebook and stays the source of truth.

    python contributors/render_diagrams.py            # render what is missing or stale
    python contributors/render_diagrams.py --check    # exit 1 if an SVG is stale (no rendering)

Each diagram N of notebooks/LANG/NN-name.ipynb becomes NN-name-diagram-N.svg, whose first
line records the sha256 of its Mermaid source (tests/repo/test_diagrams.py compares it, without
rendering). The Markdown cell shows the image, with the sentence before the diagram as alt
text (so in the notebook's language), and keeps the source below it, folded:

    ![alt](NN-name-diagram-N.svg)

    <details><summary>Mermaid source</summary>

    ```mermaid
    ...
    ```

    </details>

Rendering uses the npm package mermaid (MERMAID_VERSION, fetched once with `npm pack` into the
browser edition's cache) in headless Chromium, from local files only.
"""

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
MERMAID_VERSION = "11.17.2"
BLOCK = re.compile(r"```mermaid\n(.*?)\n```", re.S)
HASH_LINE = re.compile(r"<!-- mermaid source sha256: ([0-9a-f]{64}) -->")
SUMMARY = {"en": "Mermaid source", "zh": "Mermaid 源码"}
ALT = {"en": "Diagram: {}", "zh": "示意图：{}"}


def source_hash(source):
    return hashlib.sha256(source.strip().encode("utf-8")).hexdigest()


def svg_name(notebook, number):
    return f"{Path(notebook).stem}-diagram-{number}.svg"


def prose(text):
    """The lines of Markdown that are sentences (not headings, tables, images or HTML)."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "|", "<", "![", "```"))]


def diagrams(notebook):
    """[(cell index, number, Mermaid source, alt text)] of a notebook, in order. The alt
    text is the sentence just before the diagram, else the first of the Markdown cell before."""
    found = []
    cells = nbformat.read(notebook, as_version=4).cells
    language = Path(notebook).parent.name
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for match in BLOCK.finditer(cell.source):
            before = prose(cell.source[:match.start()])
            if not before:
                earlier = [c for c in cells[:index] if c.cell_type == "markdown"]
                before = prose(earlier[-1].source)[:1] if earlier else [Path(notebook).stem]
            alt = ALT.get(language, ALT["en"]).format(before[-1].rstrip(":：").replace("]", ")"))
            found.append((index, len(found) + 1, match.group(1), alt))
    return found


def problems(notebook):
    """What is out of step for a notebook's diagrams: missing or stale SVGs, missing images."""
    notebook = Path(notebook)
    cells = nbformat.read(notebook, as_version=4).cells
    where = f"{notebook.parent.name}/{notebook.name}"
    found = []
    for index, number, source, _ in diagrams(notebook):
        svg = notebook.parent / svg_name(notebook, number)
        if not svg.exists():
            found.append(f"{where}: {svg.name} is missing")
            continue
        recorded = HASH_LINE.search(svg.read_text(encoding="utf-8").split("\n", 1)[0])
        if not recorded or recorded.group(1) != source_hash(source):
            found.append(f"{where}: {svg.name} is not drawn from the current source")
        if f"]({svg.name})" not in cells[index].source:
            found.append(f"{where}: cell {index} does not show {svg.name}")
    return found


def with_image(text, match, name, alt, language):
    """The Markdown with the image before the Mermaid block and the block folded."""
    image = f"![{alt}]({name})"
    if image in text:
        return text
    block = match.group(0)
    folded = (f"{image}\n\n<details><summary>{SUMMARY[language]}</summary>\n\n{block}\n\n"
              "</details>")
    return text[:match.start()] + folded + text[match.end():]


def render(sources, chromium_dir):
    """{name: svg text} for {name: Mermaid source}, drawn by Mermaid in headless Chromium
    (the name is also the SVG's id)."""
    sys.path.insert(0, str(ROOT / "instructors"))
    sys.path.insert(0, str(ROOT))
    from browser_check import (
        DevTools,
        find_chromium,
        import_websocket,
        page_websocket,
        start_chromium,
        stop,
        wait_for,
    )
    from glm_lessons.browser.build import CACHE, npm_package

    package = npm_package("mermaid", MERMAID_VERSION, CACHE)
    page = Path(chromium_dir) / "render.html"
    shutil.copy2(package / "dist" / "mermaid.min.js", page.parent / "mermaid.min.js")
    page.write_text('<!doctype html><meta charset="utf-8"><script src="mermaid.min.js">'
                    "</script><body></body>", encoding="utf-8")
    process, port = start_chromium(find_chromium(), Path(chromium_dir), page.as_uri())
    devtools = None
    try:
        devtools = DevTools(import_websocket(), page_websocket(port))
        wait_for(lambda: devtools.evaluate("typeof mermaid !== 'undefined'"), 30,
                 "Mermaid to load")
        devtools.evaluate("mermaid.initialize({startOnLoad: false, theme: 'default', "
                          "htmlLabels: false, flowchart: {htmlLabels: false}})")
        # The id starts the SVG's CSS selectors (#id ...): it must start with a letter.
        return {name: devtools.evaluate(f"mermaid.render({json.dumps('mermaid-' + name)}, "
                                        f"{json.dumps(source)}).then(r => r.svg)")
                for name, source in sources.items()}
    finally:
        if devtools is not None:
            devtools.close()
        stop(process, "Chromium")


def notebooks():
    return sorted(p for p in (ROOT / "notebooks").glob("*/*.ipynb") if diagrams(p))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="only say what is out of step (exit 1 if anything is)")
    args = parser.parse_args(argv)
    stale = [p for p in notebooks() if problems(p)]
    if args.check:
        for path in stale:
            for line in problems(path):
                print(line)
        return 1 if stale else 0
    if not stale:
        print("every diagram is drawn from its current source")
        return 0
    wanted = {svg_name(path, number)[:-4]: source
              for path in stale for _, number, source, _ in diagrams(path)}
    with tempfile.TemporaryDirectory(prefix="diagrams-") as work:
        drawn = render(wanted, work)
    for path in stale:
        notebook = nbformat.read(path, as_version=4)
        for index, number, source, alt in diagrams(path):
            name = svg_name(path, number)
            (path.parent / name).write_text(
                f"<!-- mermaid source sha256: {source_hash(source)} -->\n{drawn[name[:-4]]}\n",
                encoding="utf-8")
            cell = notebook.cells[index]
            match = list(BLOCK.finditer(cell.source))[[n for i, n, _, _ in diagrams(path)
                                                         if i == index].index(number)]
            cell.source = with_image(cell.source, match, name, alt, path.parent.name)
        nbformat.write(notebook, path)
        print(f"drew {path.relative_to(ROOT)}'s diagrams")
    return 0


if __name__ == "__main__":
    sys.exit(main())

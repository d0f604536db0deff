"""The lessons' Mermaid diagrams have SVGs drawn from their current source, and the notebooks
show them (contributors/render_diagrams.py; checked without rendering, by the source's sha256)."""

import shutil

import nbformat
import pytest

import render_diagrams as diagrams

NOTEBOOKS = diagrams.ROOT / "notebooks"


def test_every_lesson_with_a_diagram_has_it_drawn_from_its_current_source():
    found = [path for path in NOTEBOOKS.glob("*/*.ipynb") if "```mermaid" in path.read_text()]
    assert len(found) == 10  # lessons 01, 03, 06, 07 and 08, in both languages
    assert [problem for path in found for problem in diagrams.problems(path)] == []


@pytest.mark.parametrize("language, alt", [
    ("en", "Diagram: The whole road from the network to the answer, one layer per step; the "
           "rest of this section builds the first two, and the next section uses all four"),
    ("zh", "示意图：从网络到回答的整条路，每一步一层；"
           "本节余下的部分实现前两层，下一节把四层都用上")])
def test_the_image_has_alt_text_in_the_notebooks_language(language, alt):
    cells = nbformat.read(NOTEBOOKS / language / "03-streaming.ipynb", 4).cells
    images = [line for cell in cells if cell.cell_type == "markdown"
              for line in cell.source.splitlines() if line.startswith("![")]
    assert images == [f"![{alt}](03-streaming-diagram-1.svg)"]


def test_a_changed_source_or_a_missing_image_is_found(tmp_path):
    folder = tmp_path / "en"
    folder.mkdir()
    for name in ("03-streaming.ipynb", "03-streaming-diagram-1.svg"):
        shutil.copy2(NOTEBOOKS / "en" / name, folder / name)
    notebook = nbformat.read(folder / "03-streaming.ipynb", 4)
    cell = next(c for c in notebook.cells if "```mermaid" in c.source)
    cell.source = cell.source.replace("flowchart TD", "flowchart LR")
    nbformat.write(notebook, folder / "03-streaming.ipynb")
    assert diagrams.problems(folder / "03-streaming.ipynb") == [
        "en/03-streaming.ipynb: 03-streaming-diagram-1.svg is not drawn from the current source"]
    (folder / "03-streaming-diagram-1.svg").unlink()
    assert diagrams.problems(folder / "03-streaming.ipynb") == [
        "en/03-streaming.ipynb: 03-streaming-diagram-1.svg is missing"]

"""The glossary's "not ..." notes are rules: the Chinese prose never uses the words they rule
out (lessons' Markdown and code comments, the Chinese docs, README_zh.md). Code (fenced
blocks, `inline` spans, code outside comments) may name anything."""

import re

import nbformat
import pytest

from helpers import NOTEBOOKS, ROOT

GLOSSARY = ROOT / "docs" / "glossary.md"
INLINE_CODE = re.compile(r"`[^`\n]*`")
FENCE = re.compile(r"```.*?```", re.S)


def ruled_out():
    """Every word a glossary note rules out with "not X" (X up to punctuation)."""
    notes = [line.rsplit("|", 2)[-2] for line in GLOSSARY.read_text("utf-8").splitlines()
             if line.startswith("| ") and not line.startswith("| English")]
    return sorted({word.strip() for note in notes
                   for word in re.findall(r"\bnot ([^:;,·|`)]+)", note)})


def prose(text):
    return INLINE_CODE.sub(" ", FENCE.sub(" ", text))


def chinese_texts():
    for path in sorted((NOTEBOOKS / "zh").glob("*.ipynb")):
        for number, cell in enumerate(nbformat.read(path, as_version=4).cells):
            where = f"{path.relative_to(ROOT)} cell {number}"
            if cell.cell_type == "markdown":
                yield where, prose(cell.source)
            elif cell.cell_type == "code":
                comments = [line.split("#", 1)[1] for line in cell.source.splitlines()
                            if "#" in line]
                yield where, prose("\n".join(comments))
    for path in [ROOT / "README_zh.md", *sorted((ROOT / "docs").glob("*_zh.md"))]:
        yield str(path.relative_to(ROOT)), prose(path.read_text("utf-8"))


def test_the_glossary_rules_out_the_variants_the_course_once_mixed():
    assert {"业务码", "转写", "回答 token", "线路上", "流式块", "delta", "词元"} <= set(ruled_out())


@pytest.mark.parametrize("word", ruled_out())
def test_chinese_prose_never_uses_a_ruled_out_word(word):
    pattern = re.compile(r"(?<![A-Za-z_])" + re.escape(word).replace(r"\ ", r"\s*")
                         + r"(?![A-Za-z_])")  # "delta" alone, not reasoning_delta or deltas
    found = [where for where, text in chinese_texts() if pattern.search(text)]
    assert not found, f"{word!r} in: {', '.join(found[:10])}" + (" ..." if len(found) > 10 else "")

"""How long each lesson takes to teach, estimated from the notebooks themselves.

    python contributors/lesson_minutes.py [--language en] [--sections] [NOTEBOOK ...]

Teaching: the Markdown words before "## Exercises" ("## 练习"), leaving out solutions and code
blocks, read aloud at 130 words a minute (two Chinese characters count as a word), plus 30
seconds for each code cell (run it, look at the output, say the one sentence after it).
Exercises: 2 minutes to read and start each one, plus 30 seconds for each line of its
solution's code (writing, running, fixing). The rates are a classroom rule of thumb, not
measured on attendees; the instructor guide's plans use these figures, rounded up to 5
minutes, and say so. The notebook's own "**Time:**" line is printed beside the estimate.
"""

import argparse
import math
import re
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WORDS_PER_MINUTE = 130
MINUTES_PER_CODE_CELL = 0.5
MINUTES_PER_EXERCISE = 2
MINUTES_PER_SOLUTION_LINE = 0.5

SOLUTION = re.compile(r"<details>.*?</details>", re.S)
FENCE = re.compile(r"```.*?```", re.S)
EXERCISE = re.compile(r"^\*\*\d+\.\*\*", re.M)
STATED = re.compile(r"\*\*(?:Time|时间)[:：]\*\*\D*(\d+)\D+(\d+)")
EXERCISES_HEADING = ("## Exercises", "## 练习")


def words(markdown):
    """Words read aloud: prose only, without code blocks, solutions, tables' rules or tags."""
    text = FENCE.sub(" ", SOLUTION.sub(" ", markdown))
    text = re.sub(r"<[^>]+>|[|#*`>-]+", " ", text)
    latin = len(re.findall(r"[A-Za-z0-9][\w'.:/-]*", text))
    cjk = len(re.findall(r"[\u3400-\u9fff]", text))
    return latin + math.ceil(cjk / 2)  # UNVERIFIED rate: two Chinese characters read as a word


def solution_lines(markdown):
    lines = 0
    for solution in SOLUTION.findall(markdown):
        for block in FENCE.findall(solution):
            lines += sum(1 for line in block.splitlines()[1:-1] if line.strip())
    return lines


def measure(path):
    """A dict of what the lesson holds and the minutes it should take."""
    cells = nbformat.read(path, as_version=4).cells
    split = next((i for i, c in enumerate(cells)
                  if c.cell_type == "markdown" and c.source.lstrip().startswith(EXERCISES_HEADING)),
                 len(cells))
    teaching, exercises = cells[:split], cells[split:]
    teaching_words = sum(words(c.source) for c in teaching if c.cell_type == "markdown")
    code_cells = sum(1 for c in teaching if c.cell_type == "code")
    exercise_text = "\n".join(c.source for c in exercises if c.cell_type == "markdown")
    count = len(EXERCISE.findall(exercise_text))
    lines = solution_lines(exercise_text)
    stated = STATED.search(cells[0].source) if cells else None
    return {
        "lesson": path.stem,
        "words": teaching_words,
        "code_cells": code_cells,
        "exercises": count,
        "solution_lines": lines,
        "teaching_min": teaching_words / WORDS_PER_MINUTE + code_cells * MINUTES_PER_CODE_CELL,
        "exercise_min": count * MINUTES_PER_EXERCISE + lines * MINUTES_PER_SOLUTION_LINE,
        "stated": f"{stated.group(1)}+{stated.group(2)}" if stated else "-",
    }


def sections(path):
    """(heading, teaching minutes) for each "## " section before the exercises: what a cut saves."""
    found = []
    for cell in nbformat.read(path, as_version=4).cells:
        source = cell.source.lstrip()
        if cell.cell_type == "markdown" and source.startswith(EXERCISES_HEADING):
            break
        if cell.cell_type == "markdown" and source.startswith("## "):
            found.append([source.splitlines()[0][3:], 0.0])
        if not found:
            continue
        found[-1][1] += (words(cell.source) / WORDS_PER_MINUTE if cell.cell_type == "markdown"
                         else MINUTES_PER_CODE_CELL)
    return [(heading, minutes) for heading, minutes in found]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--language", default="en", choices=["en", "zh"])
    parser.add_argument("--sections", action="store_true",
                        help="also the teaching minutes of each section")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((NOTEBOOKS / args.language).glob("[0-9][0-9]-*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    print(f"{'lesson':<28} {'words':>6} {'cells':>5} {'ex':>3} {'sol.lines':>9} "
          f"{'teach':>6} {'exerc':>6}  stated")
    for path in paths:
        m = measure(path)
        print(f"{m['lesson']:<28} {m['words']:>6} {m['code_cells']:>5} {m['exercises']:>3} "
              f"{m['solution_lines']:>9} {m['teaching_min']:>6.0f} {m['exercise_min']:>6.0f}"
              f"  {m['stated']}")
        if args.sections:
            for heading, minutes in sections(path):
                print(f"    {minutes:4.1f}  {heading}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

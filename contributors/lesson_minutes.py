"""How long each lesson takes, from one formula applied to the notebooks themselves, and the
one place every figure the course shows comes from.

    python contributors/lesson_minutes.py [--language en] [--sections] [NOTEBOOK ...]
    python contributors/lesson_minutes.py --write      # after a lesson changes

The formula (the rates are a classroom rule of thumb, not timed on attendees):
- Teaching: the Markdown words before "## Exercises" ("## 练习"), leaving out solutions and
  code blocks, read aloud at 130 words a minute (two Chinese characters count as a word),
  plus 30 seconds for each code cell (run it, look at the output, say the sentence after it).
- Core path: teaching, less the sections marked as deep dives (a "## " Markdown cell tagged
  `deep-dive`, up to the next "## " heading); the course's core path is lessons 01-06 so, its
  minutes added up before rounding.
- Exercises: 2 minutes to read and start each one, plus 30 seconds for each line of its
  solution's code (writing, running, fixing).
- On your own: 1.5 times teaching plus exercises (a learner alone reads more slowly than an
  instructor talks, and gets stuck with nobody to ask).
Every figure shown is rounded up to 5 minutes, and measured on the English notebook: the
Chinese twin shows the same figures (measured with --language zh it comes within a few
minutes). --write puts them in each notebook's **Time:** line (both languages), in both
READMEs' lesson tables and core-path sentence, and in both instructor guides' table;
tests/repo/test_lesson_minutes.py fails while any of them differs from the formula.
"""

import argparse
import math
import re
import sys
from pathlib import Path

import nbformat

from glm_lessons.layout import NUMBERED, lesson_paths

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
WORDS_PER_MINUTE = 130
MINUTES_PER_CODE_CELL = 0.5
MINUTES_PER_EXERCISE = 2
MINUTES_PER_SOLUTION_LINE = 0.5
ON_YOUR_OWN = 1.5
CORE_PATH = ("01", "02", "03", "04", "05", "06")  # streaming, thinking, errors, tool calls
DEEP_DIVE = "deep-dive"

SOLUTION = re.compile(r"<details>.*?</details>", re.S)
FENCE = re.compile(r"```.*?```", re.S)
EXERCISE = re.compile(r"^\*\*\d+\.\*\*", re.M)
EXERCISES_HEADING = ("## Exercises", "## 练习")

# Where the figures are shown, per language: the pattern that finds them, the text that replaces
# them (str.format with the plan's fields).
TIME_LINE = {
    "en": (re.compile(r"\*\*Time:\*\*[^\n]*"),
           "**Time:** {teaching} minutes teaching{core_note}, {exercises} minutes exercises; "
           "about {alone} minutes on your own."),
    "zh": (re.compile(r"\*\*时间：\*\*[^\n]*"),
           "**时间：** 讲解 {teaching} 分钟{core_note}，练习 {exercises} 分钟；"
           "自学约 {alone} 分钟。"),
}
CORE_NOTE = {"en": " ({core} without the deep dives)", "zh": "（不含深入部分 {core} 分钟）"}
README = {"en": ("README.md", re.compile(r"(?<=\| )\d+ \+ \d+ min \(\d+ alone\)(?= \|)"),
                 "{teaching} + {exercises} min ({alone} alone)"),
          "zh": ("README_zh.md", re.compile(r"(?<=\| )\d+ \+ \d+ 分钟（自学 \d+）(?= \|)"),
                 "{teaching} + {exercises} 分钟（自学 {alone}）")}
README_CORE = {"en": (re.compile(r"(?<=\*\*The core path\*\* \(lessons 01-06 without their "
                                 r"deep dives\) takes )\d+(?= minutes)"), "{minutes}"),
               "zh": (re.compile(r"(?<=\*\*核心路线\*\*（第 01-06 课，不含深入部分）讲解共 )\d+"
                                 r"(?= 分钟)"), "{minutes}")}


def _guide(relative, unit):
    """An instructor guide's row: teaching and exercises as measured, then rounded: plan with
    (teaching + exercises), the core path's teaching, on your own."""
    n = rf"\d+ {unit}"
    pattern = re.compile(rf"(?<= \| ){n} \| {n} \| \d+ \+ \d+ \| {n} \| {n}(?= \|)")
    shown = (f"{{teaching_raw}} {unit} | {{exercises_raw}} {unit} | {{teaching}} + {{exercises}}"
             f" | {{core}} {unit} | {{alone}} {unit}")
    return relative, pattern, shown


GUIDE = {"en": _guide("docs/instructor-guide.md", "min"),
         "zh": _guide("docs/instructor-guide_zh.md", "分钟")}


def words(markdown):
    """Words read aloud: prose only, without code blocks, solutions, tables' rules or tags, and
    without the Time line (so writing the figures never changes them)."""
    for pattern, _ in TIME_LINE.values():
        markdown = pattern.sub(" ", markdown)
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


def cell_minutes(cell):
    if cell.cell_type == "markdown":
        return words(cell.source) / WORDS_PER_MINUTE
    return MINUTES_PER_CODE_CELL if cell.cell_type == "code" else 0


def is_heading(cell):
    return cell.cell_type == "markdown" and cell.source.lstrip().startswith("## ")


def measure(path):
    """A dict of what the lesson holds and the minutes it should take."""
    cells = nbformat.read(path, as_version=4).cells
    split = next((i for i, c in enumerate(cells)
                  if c.cell_type == "markdown" and c.source.lstrip().startswith(EXERCISES_HEADING)),
                 len(cells))
    teaching, exercises = cells[:split], cells[split:]
    deep, deep_min = False, 0.0
    for cell in teaching:
        if is_heading(cell):
            deep = DEEP_DIVE in cell.metadata.get("tags", [])
        deep_min += cell_minutes(cell) if deep else 0
    exercise_text = "\n".join(c.source for c in exercises if c.cell_type == "markdown")
    count = len(EXERCISE.findall(exercise_text))
    lines = solution_lines(exercise_text)
    teaching_min = sum(cell_minutes(cell) for cell in teaching)
    return {
        "lesson": path.stem,
        "words": sum(words(c.source) for c in teaching if c.cell_type == "markdown"),
        "code_cells": sum(1 for c in teaching if c.cell_type == "code"),
        "exercises": count,
        "solution_lines": lines,
        "teaching_min": teaching_min,
        "core_min": teaching_min - deep_min,
        "exercise_min": count * MINUTES_PER_EXERCISE + lines * MINUTES_PER_SOLUTION_LINE,
    }


def up_to_five(minutes):
    return 5 * math.ceil(round(minutes, 6) / 5)


def plan(measured):
    """The figures the course shows for one lesson, all from measure()."""
    teaching, exercises = measured["teaching_min"], measured["exercise_min"]
    return {"teaching": up_to_five(teaching), "exercises": up_to_five(exercises),
            "core": up_to_five(measured["core_min"]),
            "alone": up_to_five(ON_YOUR_OWN * (teaching + exercises)),
            "teaching_raw": round(teaching), "exercises_raw": round(exercises)}


def plans(notebooks=NOTEBOOKS):
    """{"01-keys-and-tokens": plan, ...} for every lesson (not start-here), from the English."""
    return {path.stem: plan(measure(path)) for path in lesson_paths(notebooks, "en")}


def core_path_minutes(notebooks=NOTEBOOKS):
    """The core path's teaching: the lessons' core minutes added up, then rounded once."""
    return up_to_five(sum(measure(path)["core_min"] for path in lesson_paths(notebooks, "en")
                          if path.stem[:2] in CORE_PATH))


def time_line(language, figures):
    note = CORE_NOTE[language].format(**figures) if figures["core"] != figures["teaching"] else ""
    return TIME_LINE[language][1].format(core_note=note, **figures)


def _replace_each(pattern, text, replacements, where):
    """Replace the pattern's matches in order, one replacement each, and insist they match."""
    found = pattern.findall(text)
    if len(found) != len(replacements):
        raise SystemExit(f"error: {where}: found {len(found)} places for the figures, "
                         f"expected {len(replacements)}")
    pieces = iter(replacements)
    return pattern.sub(lambda _: next(pieces), text)


def write(root=ROOT):
    """Put the formula's figures everywhere the course shows them; return the files changed."""
    all_plans, changed = plans(root / "notebooks"), []
    core_minutes = core_path_minutes(root / "notebooks")
    for language in ("en", "zh"):
        for name, figures in all_plans.items():
            path = root / "notebooks" / language / f"{name}.ipynb"
            nb = nbformat.read(path, as_version=4)
            first = nb.cells[0]
            new = _replace_each(TIME_LINE[language][0], first.source,
                                [time_line(language, figures)], path.name)
            if new != first.source:
                first.source = new
                nbformat.write(nb, path)
                changed.append(path)
        readme, pattern, shown = README[language]
        guide, guide_pattern, guide_shown = GUIDE[language]
        core_pattern, core_shown = README_CORE[language]
        for relative, edits in [
            (readme, [(pattern, [shown.format(**f) for f in all_plans.values()]),
                      (core_pattern, [core_shown.format(minutes=core_minutes)])]),
            (guide, [(guide_pattern, [guide_shown.format(**f) for f in all_plans.values()])]),
        ]:
            path = root / relative
            text = old = path.read_text(encoding="utf-8")
            for found, replacements in edits:
                text = _replace_each(found, text, replacements, relative)
            if text != old:
                path.write_text(text, encoding="utf-8")
                changed.append(path)
    return changed


def sections(path):
    """(heading, teaching minutes) for each "## " section before the exercises: what a cut saves."""
    found = []
    for cell in nbformat.read(path, as_version=4).cells:
        source = cell.source.lstrip()
        if cell.cell_type == "markdown" and source.startswith(EXERCISES_HEADING):
            break
        if is_heading(cell):
            found.append([source.splitlines()[0][3:], 0.0])
        if found:
            found[-1][1] += cell_minutes(cell)
    return [(heading, minutes) for heading, minutes in found]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--language", default="en", choices=["en", "zh"])
    parser.add_argument("--sections", action="store_true",
                        help="also the teaching minutes of each section")
    parser.add_argument("--write", action="store_true",
                        help="write the figures into the notebooks, READMEs and instructor guides")
    args = parser.parse_args(argv)
    if args.write:
        for path in write():
            print(f"updated {path.relative_to(ROOT)}")
        return 0
    paths = args.notebooks or sorted((NOTEBOOKS / args.language).glob(NUMBERED))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    print(f"{'lesson':<28} {'words':>6} {'cells':>5} {'ex':>3} {'sol.lines':>9} "
          f"{'teach':>6} {'core':>5} {'exerc':>6} {'alone':>6}")
    for path in paths:
        m = measure(path)
        p = plan(m)
        print(f"{m['lesson']:<28} {m['words']:>6} {m['code_cells']:>5} {m['exercises']:>3} "
              f"{m['solution_lines']:>9} {m['teaching_min']:>6.0f} {m['core_min']:>5.0f} "
              f"{m['exercise_min']:>6.0f} {p['alone']:>6}")
        if args.sections:
            for heading, minutes in sections(path):
                print(f"    {minutes:4.1f}  {heading}")
    if not args.notebooks and args.language == "en":
        print(f"core path (lessons {CORE_PATH[0]}-{CORE_PATH[-1]} without deep dives): "
              f"{core_path_minutes()} minutes teaching")
    return 0


if __name__ == "__main__":
    sys.exit(main())

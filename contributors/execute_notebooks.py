"""Re-run lesson notebooks top to bottom against the recorded server and save them.

This is "Restart & Run All" and save, done the same way every time: a fresh kernel,
no ZHIPUAI_* variables (so the offline recorded server is used), then the hygiene fixes.

    python contributors/execute_notebooks.py                       # every lesson, both languages
    python contributors/execute_notebooks.py notebooks/en/01-keys-and-tokens.ipynb
    python contributors/execute_notebooks.py --check               # write nothing; exit 1 if stale

--check runs the same way but in memory, and compares each code cell's output text
(stream, execute_result and display_data text) with the stored one, normalised like
tests/nbval_sanitize.cfg (a local port is not a difference). Cells with a line
`# NBVAL_IGNORE_OUTPUT` are skipped. Each stale cell is printed with its first differing line.
"""

import argparse
import configparser
import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from notebook_hygiene import ROOT, fix, lesson_notebooks, problems

SANITIZE_CFG = ROOT / "tests" / "nbval_sanitize.cfg"
IGNORE_OUTPUT = "# NBVAL_IGNORE_OUTPUT"


def run(path, env=None, timeout=120, **options):
    """Execute a notebook in a fresh kernel and return it; nothing is written.

    Without env the kernel gets this environment minus ZHIPUAI_*, so the lesson runs
    offline against its own recorded server; pass env to run it against another server.
    """
    nb = nbformat.read(path, as_version=4)
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIPUAI_")}
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(Path(path).parent)}},
                   **options).execute(env=env)
    return nb


def execute(path):
    nb = run(path)
    nbformat.write(fix(nb), path)
    return problems(nb)


def sanitizers():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(SANITIZE_CFG, encoding="utf-8")
    return [(re.compile(parser[name]["regex"]), parser[name]["replace"])
            for name in parser.sections()]


def output_text(cell, rules):
    """The text a reader sees of a code cell's outputs, streams merged, sanitised."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", "") + "\n")
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}\n")
    text = "".join(parts)
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text


def stale_cells(stored, fresh):
    """[(cell index, first differing line)] between two runs of the same notebook."""
    rules, stale = sanitizers(), []
    for index, (old, new) in enumerate(zip(stored.cells, fresh.cells)):
        if old.cell_type != "code":
            continue
        if any(line.strip() == IGNORE_OUTPUT for line in old.source.splitlines()):
            continue
        old_lines = output_text(old, rules).splitlines()
        new_lines = output_text(new, rules).splitlines()
        if old_lines == new_lines:
            continue
        for number, (was, now) in enumerate(zip(old_lines + [None] * len(new_lines),
                                                new_lines + [None] * len(old_lines))):
            if was != now:
                stale.append((index, f"output line {number + 1}: stored {was!r}, now {now!r}"))
                break
    return stale


def check(path):
    stored = nbformat.read(path, as_version=4)
    fresh = run(path)
    return [f"cell {index} is stale, {detail}" for index, detail in stale_cells(stored, fresh)]


def shown(path):
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list stale stored outputs and exit 1 if any")
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all lessons)")
    args = parser.parse_args(argv)
    failed = False
    for path in args.paths or lesson_notebooks():
        path = path.resolve()
        if args.check:
            found = check(path)
            for line in found:
                print(f"{shown(path)}: {line}")
            if not found:
                print(f"{shown(path)}: up to date")
        else:
            found = execute(path)
            print(f"{shown(path)}: " + ("; ".join(found) if found else "ok"))
        failed = failed or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

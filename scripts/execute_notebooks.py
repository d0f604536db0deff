"""Re-run lesson notebooks top to bottom against the recorded server and save them.

This is "Restart & Run All" and save, done the same way every time: a fresh kernel,
no ZHIPUAI_* variables (so the offline recorded server is used), then the hygiene fixes.

    python scripts/execute_notebooks.py                       # every lesson, both languages
    python scripts/execute_notebooks.py notebooks/en/01-keys-and-tokens.ipynb
"""

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from notebook_hygiene import ROOT, fix, lesson_notebooks, problems


def execute(path):
    nb = nbformat.read(path, as_version=4)
    env_before = dict(os.environ)
    for name in ("ZHIPUAI_API_KEY", "ZHIPUAI_BASE_URL"):
        os.environ.pop(name, None)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    nbformat.write(fix(nb), path)
    return problems(nb)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all lessons)")
    args = parser.parse_args(argv)
    failed = False
    for path in args.paths or lesson_notebooks():
        found = execute(path.resolve())
        print(f"{path.resolve().relative_to(ROOT)}: " + ("; ".join(found) if found else "ok"))
        failed = failed or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Check (or fix) the hygiene of every lesson notebook.

    python contributors/notebook_hygiene.py          # check; exit 1 and list problems
    python contributors/notebook_hygiene.py --fix    # strip editor metadata, trailing empty cells

Rules: valid nbformat 4; kernelspec python3; code cells executed in order with counts
1..N (as after "Restart & Run All"); no error output except in cells tagged
"raises-exception"; cell metadata holds nothing but tags; no trailing empty cells.
"""

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def lesson_notebooks():
    return sorted(NOTEBOOKS.glob("*/[0-9][0-9]-*.ipynb"))


def fix(nb):
    nb.metadata = {k: nb.metadata[k] for k in KEPT_NOTEBOOK_METADATA if k in nb.metadata}
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.cells:
        tags = cell.metadata.get("tags")
        cell.metadata = {"tags": tags} if tags else {}
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    while nb.cells and not nb.cells[-1].source.strip():
        nb.cells.pop()
    return nb


def merge_streams(outputs):
    """Join consecutive stdout (or stderr) pieces: how the kernel happened to flush a
    streamed answer must not change the saved file."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def problems(nb):
    found = []
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        found.append(f"invalid nbformat: {exc.message}")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        found.append("kernelspec is not python3")
    extra = set(nb.metadata) - set(KEPT_NOTEBOOK_METADATA)
    if extra:
        found.append(f"notebook metadata to strip: {sorted(extra)}")
    expected = 1
    for index, cell in enumerate(nb.cells):
        where = f"cell {index}"
        if set(cell.metadata) - {"tags"}:
            found.append(f"{where}: editor metadata {sorted(set(cell.metadata) - {'tags'})}")
        if cell.cell_type != "code":
            continue
        if cell.execution_count != expected:
            found.append(f"{where}: execution count {cell.execution_count}, expected {expected}")
        expected = (cell.execution_count or expected) + 1
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors and "raises-exception" not in cell.metadata.get("tags", []):
            found.append(f"{where}: error output ({errors[0].ename}) in a cell not tagged "
                         "raises-exception")
    if nb.cells and not nb.cells[-1].source.strip():
        found.append("trailing empty cell")
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fix", action="store_true", help="rewrite notebooks with fixes")
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all lessons)")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.paths or lesson_notebooks():
        nb = nbformat.read(path, as_version=4)
        if args.fix:
            nbformat.write(fix(nb), path)
        for problem in problems(nb):
            failed += 1
            print(f"{path.relative_to(ROOT)}: {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Re-record the lessons' cassettes from the real API with your own key, end to end.

    export ZHIPUAI_API_KEY=<your key>
    python contributors/rerecord.py --replace            # every lesson but 08, both languages
    python contributors/rerecord.py --lessons 02 03      # some lessons; keeps the transcribed ones

For each lesson this starts the recording proxy (python -m glm_offline record) in front of
--upstream, runs the lesson's EN and ZH notebooks top to bottom in a fresh kernel with
ZHIPUAI_API_KEY (yours) and ZHIPUAI_BASE_URL (the proxy), and writes what the proxy saw to
<output-dir>/recorded-NN.json. The live outputs are thrown away: the notebooks in the repo
are not touched. Your key is passed to the API through the local proxy; it is never
printed and never written (the proxy stores no header).

A lesson with a cell that fails live is reported (notebook and cell) and its recording is
not written; the other lessons go on, and the exit status is 1 at the end.

Lesson 08 is not re-recorded: its async tasks (a POST that answers PROCESSING, then polls of
GET /async-result/{id}) reach the proxy as separate exchanges, and the proxy cannot yet turn
them into the one-interaction async cassette (the task's final record plus
polls_before_done) the replay server needs. Its transcribed cassette stays.

Then review (printed at the end too):
  1. git diff / git status glm_offline/cassettes: one interaction per request, indented JSON;
  2. the recordings replace the transcribed contributors/cassette_specs/lesson-NN.json and
     glm_offline/cassettes/lesson-NN.json (replay uses the first match, and the transcribed
     file sorts first): --replace removes them for each lesson recorded without errors;
  3. python contributors/execute_notebooks.py (offline, no ZHIPUAI_* variables) to refresh the
     stored outputs, then --check, git diff notebooks/, and python -m pytest.
"""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from execute_notebooks import run
from glm_lessons.layout import lesson_paths
from glm_offline import matching
from glm_offline.auth import own_key
from glm_offline.cassettes import PACKAGE_CASSETTES, CassetteError, load_file
from glm_offline.record import DEFAULT_UPSTREAM, start_recorder
from glm_offline.redaction import credential_secrets
from notebook_hygiene import NOTEBOOKS, ROOT

SPECS = ROOT / "contributors" / "cassette_specs"
NOT_RECORDABLE = {
    "08": "lesson 08 (async chat) is not re-recorded: the proxy sees its task submission and "
          "each poll as separate exchanges and cannot yet turn them into the one-interaction "
          "async cassette (final record plus polls_before_done) that replay needs; its "
          "transcribed cassette stays",
}
EPILOG = " ".join(note[0].upper() + note[1:] + "." for note in NOT_RECORDABLE.values())
LIVE_ERRORS = (CellExecutionError, CellTimeoutError, DeadKernelError)


class Redactor:
    """Removes the key (and its secret part) from anything about to be printed."""

    def __init__(self, key):
        self.secrets = credential_secrets(key)  # what the recorder keeps out of cassettes

    def __call__(self, text):
        for secret in self.secrets:
            text = text.replace(secret, "<ZHIPUAI_API_KEY>")
        return text


def lessons_on_disk():
    """{"01": [en notebook, zh notebook], ...}, English first (00-start-here calls nothing)."""
    found = {}
    for language in ("en", "zh"):
        for path in lesson_paths(NOTEBOOKS, language):
            found.setdefault(path.name[:2], []).append(path)
    return dict(sorted(found.items()))


def shown(path):
    path = Path(path).resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def run_live(path, env, timeout, redact):
    """Run a notebook in a fresh kernel with env; return None, or what failed (a line).

    The notebook is executed in memory only; nothing is written."""
    current = {"cell": None}
    try:
        run(path, env, timeout,
            on_cell_start=lambda cell, cell_index: current.update(cell=cell_index))
    except LIVE_ERRORS as exc:
        if isinstance(exc, CellExecutionError):
            detail = f"{exc.ename}: {exc.evalue}"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        detail = (detail.strip().splitlines() or [""])[0][:300]
        return redact(f"{shown(path)}: cell {current['cell']} failed live, {detail}")
    return None


def missing_from(transcribed, recorded):
    """Names of transcribed interactions whose request the live run did not make."""
    made = load_file(recorded)[1]
    return [item.name for item in load_file(transcribed)[1]
            if matching.find(made, item.method, item.path, item.body) is None]


def install(partial, target):
    """Move a finished recording into place atomically (overwriting an older one)."""
    temp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(partial, temp)
    os.replace(temp, target)


def record_lesson(lesson, notebooks, args, key, work, redact):
    """Record one lesson; return (target path or None, [failure lines])."""
    partial = work / f"recorded-{lesson}.json"
    proxy = start_recorder(args.upstream, partial, timeout_seconds=args.timeout)
    print(f"\n== lesson {lesson}: recording proxy at {proxy.base_url} -> {args.upstream}",
          flush=True)
    env = {**os.environ, "ZHIPUAI_API_KEY": key, "ZHIPUAI_BASE_URL": proxy.base_url}
    failures = []
    try:
        for path in notebooks:
            print(f"-- running {shown(path)} live (outputs discarded)", flush=True)
            failure = run_live(path, env, args.timeout, redact)
            if failure:
                failures.append(failure)
                break  # the lesson's recording is incomplete: on to the next lesson
    finally:
        proxy.stop()
        proxy.app.cassette.close()
    if failures:
        return None, failures + [f"lesson {lesson}: recording not written (incomplete)"]
    if not partial.exists():
        return None, [f"lesson {lesson}: the notebooks made no request worth recording"]
    try:
        load_file(partial)
    except CassetteError as exc:
        return None, [f"lesson {lesson}: the recording does not load: {exc}"]
    target = args.output_dir / partial.name
    install(partial, target)
    count = len(load_file(target)[1])
    print(f"== lesson {lesson}: wrote {shown(target)} ({count} interactions)", flush=True)
    return target, []


def replace_transcribed(lesson):
    for path in (SPECS / f"lesson-{lesson}.json", PACKAGE_CASSETTES / f"lesson-{lesson}.json"):
        if path.exists():
            path.unlink()
            print(f"   removed {shown(path)}")


def review(written, missing, args):
    print("\nReview the new recordings:")
    print(f"  1. git status {shown(args.output_dir)} && git diff {shown(args.output_dir)}"
          "   (one interaction per request; no key or Authorization is ever stored)")
    for lesson, names in missing.items():
        print(f"     lesson {lesson}: transcribed requests the live run did not make (offline-"
              f"only demos, or live answers that led elsewhere), so not re-recorded: "
              f"{', '.join(names)}")
    if args.replace:
        print("  2. done by --replace: the transcribed spec and cassette of each recorded lesson "
              "are removed")
    else:
        names = ", ".join(f"lesson-{lesson}.json" for lesson in written) or "lesson-NN.json"
        print(f"  2. remove the transcribed files the recordings replace ({names} in "
              f"{shown(SPECS)} and {shown(PACKAGE_CASSETTES)}), or rerun with --replace")
    print("  3. python contributors/execute_notebooks.py   (offline: unset ZHIPUAI_API_KEY and "
          "ZHIPUAI_BASE_URL first) to refresh the stored outputs, then")
    print("     python contributors/execute_notebooks.py --check, git diff notebooks/, and "
          "python -m pytest (tests that read a transcribed cassette: grep -rn lesson-NN tests)")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lessons", nargs="+", metavar="NN",
                        help="lesson numbers, e.g. 02 03 (default: every lesson except 07)")
    parser.add_argument("--upstream", default=DEFAULT_UPSTREAM,
                        help="the API to record from (default %(default)s)")
    parser.add_argument("--output-dir", type=Path, default=PACKAGE_CASSETTES, metavar="DIR",
                        help="where recorded-NN.json go (default glm_offline/cassettes)")
    parser.add_argument("--replace", action="store_true",
                        help="remove the transcribed spec and cassette of each lesson recorded "
                        "without errors (only with the default --output-dir)")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds per cell and per upstream read (default %(default)s)")
    return parser.parse_args(argv)


def check_arguments(args, available):
    """The lessons to record, or raise SystemExit with a message."""
    if args.lessons:
        lessons = [n.zfill(2) for n in args.lessons]
        for lesson in lessons:
            if lesson in NOT_RECORDABLE:
                raise SystemExit(f"error: {NOT_RECORDABLE[lesson]}")
            if lesson not in available:
                raise SystemExit(f"error: no lesson {lesson} in {shown(ROOT / 'notebooks')}")
    else:
        lessons = [n for n in available if n not in NOT_RECORDABLE]
        for lesson in available:
            if lesson in NOT_RECORDABLE:
                print(f"note: {NOT_RECORDABLE[lesson]}.")
    upstream = urlsplit(args.upstream)
    if upstream.scheme not in ("http", "https") or not upstream.netloc:
        raise SystemExit(f"error: --upstream must be an http(s) URL like {DEFAULT_UPSTREAM}")
    args.output_dir = args.output_dir.resolve()
    if not args.output_dir.is_dir():
        raise SystemExit(f"error: --output-dir {args.output_dir} is not a folder")
    if args.replace and args.output_dir != PACKAGE_CASSETTES.resolve():
        raise SystemExit("error: --replace removes the packaged transcribed cassettes, so the "
                         f"recordings must go to {shown(PACKAGE_CASSETTES)} (the default "
                         "--output-dir)")
    return lessons


def check_key(upstream):
    """The user's key from the environment, or raise SystemExit (the key is never shown)."""
    try:
        return own_key(upstream, os.environ, "Re-recording")
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


def main(argv=None):
    args = parse_args(argv)
    available = lessons_on_disk()
    lessons = check_arguments(args, available)
    key = check_key(args.upstream)
    redact = Redactor(key)
    written, missing, failures = {}, {}, []
    with tempfile.TemporaryDirectory(prefix="rerecord-") as work:
        for lesson in lessons:
            try:
                target, failed = record_lesson(lesson, available[lesson], args, key, Path(work),
                                               redact)
            except (CassetteError, ValueError, OSError) as exc:
                target, failed = None, [redact(f"lesson {lesson}: {exc}")]
            failures += failed
            if target:
                written[lesson] = target
                transcribed = PACKAGE_CASSETTES / f"lesson-{lesson}.json"
                if transcribed.exists() and missing_from(transcribed, target):
                    missing[lesson] = missing_from(transcribed, target)
                if args.replace:
                    replace_transcribed(lesson)
    print(f"\nRecorded {len(written)} of {len(lessons)} lessons: "
          + (", ".join(str(shown(t)) for t in written.values()) or "none"))
    for line in failures:
        print(f"FAILED: {line}")
    if written:
        review(written, missing, args)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

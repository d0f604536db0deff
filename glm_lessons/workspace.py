"""The learner's workspace: the lessons open on copies, so no run changes the stored ones.

    python -m glm_lessons lab [en|zh] [jupyter options...]
    python -m glm_lessons reset NN [--lang en|zh|both]

`lab` copies every lesson of notebooks/ (both languages), with the files their Markdown shows
or links to (the diagrams beside them), into my-lessons/ where a copy is missing, never over a
learner's copy, then starts JupyterLab there with the start-here notebook open. JupyterLab's
autosave then writes to the copies, and the stored lessons (which the test suite runs) stay as
they are. The course's folder is the current one when it holds notebooks/ (the README's
commands run there, and an offline-kit install has the package in site-packages), else the
clone an editable install runs from. my-lessons/ sits in it at the same depth as
notebooks/LANG, so a path a lesson builds from its own folder (lesson 10's `../../capstone`,
`../../my_chat.py`) means the same thing in a copy.

Chinese copies are named after their titles (`03-流式输出.ipynb`), so the two languages' tabs
differ in JupyterLab; links between lessons are rewritten in the copies to match.
my-lessons/.copied.json records each copy's name and the stored lesson's sha256 when it was
copied: when a stored lesson changes (a `git pull`), `lab` says in one line how to get the new one.
`reset` moves a copy to my-lessons/.backups/ (never deleted) and puts a fresh one in its place.
"""

import argparse
import contextlib
import datetime
import hashlib
import json
import posixpath
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .layout import NUMBERED, START_HERE

PACKAGE_COURSE = Path(__file__).resolve().parents[1]  # with an editable install: the clone
WORKSPACE_NAME = "my-lessons"  # .gitignore, pytest (conftest.py) and ruff leave it alone
LANGUAGES = ("en", "zh")
MANIFEST = ".copied.json"
BACKUPS = ".backups"
JUPYTER = [sys.executable, "-m", "jupyter", "lab"]  # the tests put a stand-in here
# A Markdown link or image target, or an HTML href/src, up to an optional #fragment.
REFERENCE = re.compile(r"(\]\(|\b(?:href|src)=\")([^)\"#\s]+)(#[^)\"\s]*)?")
UNSAFE_IN_NAMES = re.compile(r'[\s/\\:*?"<>|]+')  # spaces break Markdown links; the rest, Windows


class WorkspaceError(Exception):
    """Something the learner must fix: one line saying what."""


def read_notebook(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise WorkspaceError(f"{shown(path)} is not a readable notebook ({error}): get it "
                             "back with git (git checkout -- notebooks)") from None


def source_text(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def title(path):
    """The notebook's first Markdown heading, without "# " and a "Lesson NN · " prefix."""
    for cell in read_notebook(path)["cells"]:
        if cell["cell_type"] == "markdown":
            for line in source_text(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].split(" · ")[-1].strip()
    return ""


def copy_name(path, language):
    """English copies keep the stored name; Chinese ones are named after their title."""
    name = UNSAFE_IN_NAMES.sub("", title(path)) if language == "zh" else ""
    return f"{path.name[:2]}-{name}.ipynb" if name else path.name


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def shown(path):
    """A path as the learner would type it: relative to the current folder when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def has_lessons(notebooks):
    return all((Path(notebooks) / language).is_dir() for language in LANGUAGES)


def course_folder():
    """The folder holding notebooks/: the current one, else the clone this package runs from."""
    for folder in (Path.cwd(), PACKAGE_COURSE):
        if has_lessons(folder / "notebooks"):
            return folder
    raise WorkspaceError(f"no lessons (notebooks/en, notebooks/zh) in {Path.cwd()}: run this "
                         "in the course's folder, the one with README.md")


class Workspace:
    """The copies of `notebooks` (a folder with en/ and zh/) kept in `folder` (by default the
    course's notebooks/ and my-lessons/ beside it)."""

    def __init__(self, notebooks=None, folder=None):
        course = None if notebooks and folder else course_folder()
        self.notebooks = Path(notebooks or course / "notebooks")
        self.folder = Path(folder or course / WORKSPACE_NAME)
        if not has_lessons(self.notebooks):
            raise WorkspaceError(f"no lessons (en/, zh/) in {self.notebooks}")
        self.manifest = self._read_manifest()
        self.names = {}  # "en/03-streaming.ipynb" -> "en/03-streaming.ipynb" (the copy's)
        for language in LANGUAGES:
            for path in self.lessons(language):
                stored = f"{language}/{path.name}"
                copy = self.entry(stored).get("copy")
                if not (isinstance(copy, str) and posixpath.dirname(copy) == language
                        and re.fullmatch(r"[^/\\]+\.ipynb", posixpath.basename(copy))):
                    copy = f"{language}/{copy_name(path, language)}"  # none yet, or damaged
                self.names[stored] = copy
        owners = {}
        for stored, copy in self.names.items():
            owners.setdefault(copy, []).append(stored)
        for copy, shared in owners.items():
            if len(shared) > 1:  # a reset of one would move the other's copy away
                raise WorkspaceError(
                    f"{shown(self.folder / MANIFEST)} gives the copy {copy} to "
                    f"{' and '.join(shared)}: correct it, or delete it (the copies stay)")

    def entry(self, stored):
        """What the manifest says of a lesson's copy: {"copy": name, "sha256": of the stored}."""
        entry = self.manifest.get(stored)
        return entry if isinstance(entry, dict) else {}

    def lessons(self, language):
        return sorted((self.notebooks / language).glob(NUMBERED))

    def _read_manifest(self):
        try:
            data = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or damaged: the names follow the titles
            return {}
        return data if isinstance(data, dict) else {}

    def _write_manifest(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        (self.folder / MANIFEST).write_text(text, encoding="utf-8")

    def copy_of(self, stored):
        """Where the copy of "LANG/NN-name.ipynb" is (or goes)."""
        return self.folder / self.names[stored]

    def copy_missing(self):
        """Copy every lesson that has no copy yet; returns the copies made."""
        made = []
        for stored in self.names:
            if not self.copy_of(stored).exists():
                made.append(self._copy(stored))
        return made

    def _copy(self, stored, refresh_files=False):
        """Write the copy of one lesson (its links rewritten) and the files it refers to."""
        source = self.notebooks / stored
        target = self.copy_of(stored)
        target.parent.mkdir(parents=True, exist_ok=True)
        notebook = read_notebook(source)
        changed = False
        for cell in notebook["cells"]:
            if cell["cell_type"] == "markdown":
                text = source_text(cell)
                new = self.rewrite_links(text, posixpath.dirname(stored))
                if new != text:
                    cell["source"] = new.splitlines(keepends=True)
                    changed = True
        if changed:
            text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(source, target)
        for relative in self.referenced_files(notebook, posixpath.dirname(stored)):
            destination = self.folder / relative
            if refresh_files or not destination.exists():
                shutil.copyfile(self.notebooks / relative, destination)
        self.manifest[stored] = {"copy": self.names[stored], "sha256": sha256(source)}
        self._write_manifest()
        return target

    def _resolve(self, target, folder):
        """A reference's path relative to notebooks/, or None if it leaves notebooks/."""
        if "://" in target or target.startswith(("/", "mailto:", "data:")):
            return None
        resolved = posixpath.normpath(posixpath.join(folder, target))
        return None if resolved.startswith("..") else resolved

    def rewrite_links(self, text, folder):
        """Links from a lesson in `folder` (en or zh) to a lesson, pointed at its copy."""
        def replace(match):
            resolved = self._resolve(match.group(2), folder)
            if resolved not in self.names:
                return match.group(0)
            target = posixpath.relpath(self.names[resolved], folder)
            return match.group(1) + target + (match.group(3) or "")
        return REFERENCE.sub(replace, text)

    def referenced_files(self, notebook, folder):
        """Files (not lessons) under notebooks/ the Markdown shows or links to: the diagrams."""
        found = []
        for cell in notebook["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            for match in REFERENCE.finditer(source_text(cell)):
                resolved = self._resolve(match.group(2), folder)
                if (resolved and resolved not in self.names and resolved not in found
                        and (self.notebooks / resolved).is_file()):
                    found.append(resolved)
        return found

    def stale(self):
        """(number, language) of each lesson that changed since its copy was made."""
        changed = []
        for stored in self.names:
            copy = self.copy_of(stored)
            if not copy.exists():
                continue
            recorded = self.entry(stored).get("sha256")
            if recorded:
                newer = recorded != sha256(self.notebooks / stored)
            else:  # a copy made before the manifest, or by hand: compare the times
                newer = (self.notebooks / stored).stat().st_mtime > copy.stat().st_mtime
            if newer:
                changed.append((posixpath.basename(stored)[:2], posixpath.dirname(stored)))
        return changed

    def numbers(self):
        return sorted({posixpath.basename(stored)[:2] for stored in self.names})

    def stored_lesson(self, number, language):
        found = [s for s in self.names if s.startswith(f"{language}/{number}-")]
        if not found:
            raise WorkspaceError(f"no lesson {number} in {self.notebooks / language}")
        return found[0]

    def reset(self, number, language, now=None):
        """Move the copy of one lesson to the backups and put a fresh copy in its place;
        returns (the backup or None when there was no copy, the fresh copy)."""
        stored = self.stored_lesson(number, language)
        copy = self.copy_of(stored)
        backup = None
        if copy.exists():
            stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
            backups = self.folder / BACKUPS
            backups.mkdir(parents=True, exist_ok=True)
            backup = backups / f"{copy.stem}-{stamp}.ipynb"
            count = 1
            while backup.exists():
                count += 1
                backup = backups / f"{copy.stem}-{stamp}-{count}.ipynb"
            copy.rename(backup)
        return backup, self._copy(stored, refresh_files=True)


def stale_lines(workspace):
    """One line per lesson that changed since its copy was made: how to get the new one."""
    by_number = {}
    for number, language in workspace.stale():
        by_number.setdefault(number, []).append(language)
    lines = []
    for number, languages in sorted(by_number.items()):
        which = "both" if len(languages) == 2 else languages[0]
        lines.append(f"lesson {number} ({', '.join(languages)}) has changed since your copy was "
                     f"made: python -m glm_lessons reset {number} --lang {which} gets the new "
                     f"one (yours is kept in {shown(workspace.folder / BACKUPS)})")
    return lines


def lab(language, jupyter_args, workspace=None):
    """Make the missing copies, say which lessons changed, start JupyterLab on the copies."""
    workspace = workspace or Workspace()
    made = workspace.copy_missing()
    if made:
        noun = "notebook" if len(made) == 1 else "notebooks"
        print(f"copied {len(made)} {noun} into {shown(workspace.folder)}: you work on these "
              "copies, the stored lessons in notebooks/ stay as they are")
    for line in stale_lines(workspace):
        print(line)
    start_here = f"{language}/{START_HERE}"  # without one, JupyterLab opens the folder
    first = (workspace.copy_of(start_here) if start_here in workspace.names
             else workspace.folder / language)
    command = [*JUPYTER, f"--ServerApp.root_dir={workspace.folder}", str(first), *jupyter_args]
    process = subprocess.Popen(command)
    with signals_passed_to(process):
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:  # JupyterLab asks itself whether to stop: wait for it
                continue


@contextlib.contextmanager
def signals_passed_to(process):
    """A `kill` (SIGTERM) or a closed terminal (SIGHUP) sent to this command reaches JupyterLab
    too, instead of leaving it running without us."""
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):  # Windows has neither to pass on
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, lambda got, _: process.send_signal(got))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def reset(number, languages, workspace=None):
    workspace = workspace or Workspace()
    for language in languages:
        backup, fresh = workspace.reset(number, language)
        kept = (f"your copy is now {shown(backup)}" if backup
                else "you had no copy")
        print(f"lesson {number} ({language}): {kept}; a fresh one is at {shown(fresh)}")
    return 0


class Parser(argparse.ArgumentParser):
    """Bad arguments are one line (and exit status 2), not a usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help for usage)\n")


def lesson_number(text):
    if not re.fullmatch(r"\d{1,2}", text):
        raise argparse.ArgumentTypeError(f"a lesson is a number like 03, not {text!r}")
    return text.zfill(2)


def parser():
    main_parser = Parser(
        prog="python -m glm_lessons", allow_abbrev=False,
        description="Open the lessons on your own copies (my-lessons/), or get a fresh copy "
                    "of one back. The stored lessons in notebooks/ are never changed.")
    commands = main_parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    commands.add_parser(
        "lab", allow_abbrev=False, usage="python -m glm_lessons lab [en|zh] [jupyter options...]",
        help="copy the lessons you do not have yet into my-lessons/ and open JupyterLab there",
        description="Copies each lesson (both languages) into my-lessons/ unless you already "
                    "have a copy (yours is never overwritten), says which lessons changed since "
                    "your copy was made, and starts JupyterLab there with the start-here "
                    "notebook of the language open (en or zh; en if not given). Everything "
                    "after the language goes to JupyterLab, for example --allow-root or "
                    "--port 8889.")
    reset_parser = commands.add_parser(
        "reset", allow_abbrev=False, help="get a fresh copy of one lesson back",
        description="Moves your copy of lesson NN to my-lessons/.backups/NN-name-DATE-TIME.ipynb "
                    "(nothing is deleted) and puts a fresh copy of the stored lesson in its place.")
    reset_parser.add_argument("number", type=lesson_number, metavar="NN",
                              help="the lesson's number, 00 to 10")
    reset_parser.add_argument("--lang", choices=("en", "zh", "both"), default="en",
                              help="which language's copy (default: en)")
    return main_parser


def main(argv=None):
    main_parser = parser()
    args, extra = main_parser.parse_known_args(argv)
    if args.command == "reset" and extra:
        main_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "lab":
            language = "en"
            if extra and not extra[0].startswith("-"):
                language = extra.pop(0)
                if language not in LANGUAGES:
                    main_parser.error(f"lab: unknown language {language!r} (en or zh)")
            return lab(language, extra)
        workspace = Workspace()
        if args.number not in workspace.numbers():
            main_parser.error(f"reset: no lesson {args.number} (there are "
                              f"{workspace.numbers()[0]} to {workspace.numbers()[-1]})")
        languages = LANGUAGES if args.lang == "both" else (args.lang,)
        return reset(args.number, languages, workspace)
    except (WorkspaceError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

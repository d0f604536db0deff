"""The cassette file: the one module that reads and writes it (the format is described in
cassettes.py; each field's check is in cassette_schema.py).

    rec.json           the cassette, always written whole and atomically (a temporary file,
                       fsync'd, then a rename): every write leaves a file that loads
    rec.json-journal   what a recorder appended since, one line per exchange,
                       {"interaction": {...}, "metadata": {...}} (the cassette's metadata after
                       it), each flushed and fsync'd
    .rec.json.lock     held by the one recorder writing rec.json (released by the system if
                       its process dies)

read_checked() parses and checks a cassette, its journal merged. CassetteFile is the
recorder's writer: the first exchange of a new file writes it whole, later ones are appended
to the journal, and close() writes the file whole again; so an exchange costs the same with
300 in the file as with 2, and a recorder killed at any moment leaves a cassette that loads
(the journal can only lose the end of its last line, and a line without its newline is
ignored). The next recorder on a file with a journal writes it whole and removes the journal.
"""

import errno
import json
import os
import re
import tempfile
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

from . import matching
from .cassette_schema import check_cassette

FORMAT_VERSION = 1
JOURNAL_SUFFIX = "-journal"


class CassetteError(ValueError):
    """A cassette file that cannot be used, with the file and the reason."""


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


# -- reading -------------------------------------------------------------------------------

def read_checked(path, format_version=FORMAT_VERSION):
    """The cassette at `path`, parsed, checked, and with its journal's exchanges merged;
    CassetteError naming the file otherwise. A UTF-8 byte order mark at the start is
    accepted (editors on Windows add one)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise CassetteError(f"{path}: not a readable JSON file ({reason})") from None
    except RecursionError:
        raise CassetteError(f"{path}: nests too deeply to be a cassette") from None
    try:
        check_cassette(data, format_version)
        before = len(data["interactions"])
        data = merge_journal(path, data)
        if len(data["interactions"]) != before:
            check_cassette(data, format_version)
    except ValueError as exc:
        raise CassetteError(f"{path}: {exc}") from None
    return data


def journal_path(cassette_path):
    return cassette_path.with_name(cassette_path.name + JOURNAL_SUFFIX)


def merge_journal(cassette_path, data):
    """`data` (the cassette's checked JSON) with the journal's complete lines added, or as it
    was when there is no journal. ValueError for a complete line that is not an entry, or
    that names an interaction the cassette holds differently."""
    journal = journal_path(cassette_path)
    try:
        raw = journal.read_bytes()
    except FileNotFoundError:
        return data
    complete = raw[:raw.rfind(b"\n") + 1]  # a kill can only cut the last line short
    known = {item["name"]: item for item in data["interactions"]}
    for number, line in enumerate(complete.split(b"\n")[:-1], 1):
        where = f"{journal.name} line {number}"
        try:
            item = json.loads(line.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ValueError(f"{where} is not JSON; move the journal away to load the "
                             "cassette without its exchanges") from None
        if not isinstance(item, dict) or sorted(item) != ["interaction", "metadata"]:
            raise ValueError(f"{where} is not a journal entry "
                             '({"interaction": ..., "metadata": ...})')
        interaction = item["interaction"]
        name = interaction.get("name") if isinstance(interaction, dict) else None
        if isinstance(name, str) and name in known:
            if known[name] != interaction:
                raise ValueError(f"{where}: interaction {name!r} differs from the cassette's")
            continue  # already written whole: the recorder stopped before removing the journal
        data["interactions"].append(interaction)
        data["metadata"] = item["metadata"]
        if isinstance(name, str):
            known[name] = interaction
    return data


# -- writing -------------------------------------------------------------------------------

def text(data):
    """A cassette's JSON as the files hold it: readable, one space of indent, Chinese as is."""
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def write_whole(path, data):
    """Replace the file at `path` with `data`, atomically (a temporary file in the same
    folder, fsync'd, then renamed over it); the file's mode is kept. Its journal, if any, is
    left alone: the caller removes it once the file holds every entry."""
    path = Path(path)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    replaced = False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text(data))
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
        replaced = True
    finally:
        if not replaced:
            Path(temp).unlink(missing_ok=True)


class JournalAppender:
    """Append an entry to a cassette's journal and make it durable before returning."""

    def __init__(self, cassette_path):
        self.path = journal_path(cassette_path)
        self._file = None

    def append(self, interaction, metadata):
        if self._file is None:
            self._file = open(self.path, "ab")  # noqa: SIM115 (kept open while recording)
        self._file.write((json.dumps({"interaction": interaction, "metadata": metadata},
                                     ensure_ascii=False, separators=(",", ":")) + "\n"
                          ).encode("utf-8"))
        self._file.flush()
        os.fsync(self._file.fileno())

    def remove(self):
        """Once the cassette holds every entry: close and delete the journal."""
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


class WriterLock:
    """One writer per cassette: an exclusive lock on a file next to it, held while the writer
    runs and released by the system if its process dies. A second writer is refused instead
    of silently losing the first one's exchanges."""

    def __init__(self, path):
        self.path = path.with_name(f".{path.name}.lock")
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise CassetteError(f"{path}: another recorder (process {holder}) is writing "
                                    "this file; stop it first, or choose another --output")
            try:  # the lock file may have been removed by a writer that just stopped
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self.fd = fd

    def release(self):
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still held: no one else has it
            os.close(self.fd)
            self.fd = None


def _try_lock(fd):
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
            return False
        raise
    return True


def _same_metadata(old, body, response):
    return old


class CassetteFile:
    """A cassette being recorded into: checked before recording starts, then written by this
    writer alone (WriterLock) until close(). `describe(old metadata, request body, response)`
    gives the metadata after each new exchange (the recorder's: record.py)."""

    def __init__(self, path, describe=_same_metadata):
        self.path = Path(path)
        self.describe = describe
        self.lock = threading.Lock()
        self.closed = False
        if not self.path.parent.is_dir():
            raise CassetteError(f"{self.path}: folder {self.path.parent} does not exist")
        if not os.access(self.path.parent, os.W_OK):
            raise CassetteError(f"{self.path}: folder {self.path.parent} is not writable")
        self.recorded = len(self._read()["interactions"])
        try:
            self._writer = WriterLock(self.path)
        except OSError as exc:
            raise CassetteError(f"{self.path}: cannot lock it for writing "
                                f"({exc.strerror or exc})") from None
        self._journal = JournalAppender(self.path)
        try:
            self._data = self._read()  # again, now that no one else writes it
            if self._journal.path.exists():  # left by a recorder that was killed
                write_whole(self.path, self._data)
                self._journal.remove()
        except BaseException:
            self._writer.release()
            raise
        self.recorded = len(self._data["interactions"])
        self._appended = 0

    def _read(self):
        if not self.path.exists():
            if journal_path(self.path).exists():
                raise CassetteError(f"{self.path}: there is a journal of it "
                                    f"({journal_path(self.path).name}) but no cassette; "
                                    "restore the cassette, or move the journal away")
            return {"version": FORMAT_VERSION, "metadata": {}, "interactions": []}
        if not self.path.is_file():
            raise CassetteError(f"{self.path}: not a file")
        return read_checked(self.path)  # CassetteError for anything replay could not load

    def add(self, method, path, body, response):
        """Record one exchange: the whole file if it is new, else a line in its journal.

        Returns (name, True) for a new interaction; (name of the earlier one, False) when the
        same request (method, path, parsed body) is already recorded, since replay would
        only ever answer with the first; (None, False) once closed.
        """
        with self.lock:
            if self.closed:
                return None, False
            data = self._data
            earlier = matching.recorded_name(data["interactions"], method, path, body)
            if earlier:
                return earlier, False
            names = {item["name"] for item in data["interactions"]}
            number = len(data["interactions"]) + 1
            name = interaction_name(self.path.stem, number, body)
            while name in names:
                number += 1
                name = interaction_name(self.path.stem, number, body)
            item = {"name": name, "request": {"method": method, "path": path, "body": body},
                    "response": response}
            metadata = self.describe(data["metadata"], body, response)
            if self.path.exists():
                self._journal.append(item, metadata)
                self._appended += 1
            else:  # a new file (or one removed while recording): written whole
                write_whole(self.path, {**data, "metadata": metadata,
                                        "interactions": [*data["interactions"], item]})
                self._journal.remove()
                self._appended = 0
            data["interactions"].append(item)
            data["metadata"] = metadata
            self.recorded = len(data["interactions"])
        return name, True

    def close(self):
        """Refuse further writes (exchanges still in flight at shutdown are not recorded),
        write the file whole once more (its journal merged), and let another writer have
        the file. Idempotent."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            try:
                if self._appended:
                    write_whole(self.path, self._data)
                    self._journal.remove()
            except OSError as exc:  # the journal stays, and the loader still merges it
                print(f"could not write {self.path} whole ({exc.strerror or exc}); its journal "
                      f"{self._journal.path.name} keeps the exchanges and loads with it",
                      flush=True)
            finally:
                self._journal.close()
                self._writer.release()


def interaction_name(stem, number, body):
    """e.g. 'lesson-02-003-what-is-a-token-stream': file, counter, first user message."""
    words = re.findall(r"\w+", _first_user_text(body).lower())
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > 40:
            break
        slug = f"{slug}-{word}" if slug else word
    slug = slug or (words[0][:40] if words else "request")
    stream = "-stream" if isinstance(body, dict) and body.get("stream") is True else ""
    return f"{stem}-{number:03d}-{slug}{stream}"


def _first_user_text(body):
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(part.get("text", "") for part in content
                                   if isinstance(part, dict))
            return content if isinstance(content, str) else ""
    return ""

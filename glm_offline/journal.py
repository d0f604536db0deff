"""The recorder's journal: exchanges appended next to a cassette, one JSON line each.

    rec.json           the cassette, always written whole and atomically (a temporary file,
                       then a rename): at the first exchange of a new file, and when a
                       recorder starts on or stops writing a file that has a journal
    rec.json-journal   one line per later exchange, {"interaction": {...}, "metadata": {...}}
                       (the cassette's metadata after it), each flushed and fsync'd

So recording an exchange costs the same with 300 in the file as with 2, and a recorder
killed at any moment leaves a cassette that loads: the journal can only lose the end of its
last line, and a line without its newline is ignored, so every complete exchange loads.
The loader (cassette_schema.read_checked) merges the journal; the next recorder on the file
writes it whole again and removes the journal.
"""

import json
import os

SUFFIX = "-journal"


def path_for(cassette_path):
    return cassette_path.with_name(cassette_path.name + SUFFIX)


def entry(interaction, metadata):
    """One journal line (bytes, with its newline)."""
    return (json.dumps({"interaction": interaction, "metadata": metadata}, ensure_ascii=False,
                       separators=(",", ":")) + "\n").encode("utf-8")


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def merge(cassette_path, data):
    """`data` (the cassette's checked JSON) with the journal's complete lines added, or as it
    was when there is no journal. ValueError for a complete line that is not an entry, or
    that names an interaction the cassette holds differently."""
    journal = path_for(cassette_path)
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


class Appender:
    """The recorder's side: append an entry and make it durable before returning."""

    def __init__(self, cassette_path):
        self.path = path_for(cassette_path)
        self._file = None

    def append(self, interaction, metadata):
        if self._file is None:
            self._file = open(self.path, "ab")  # noqa: SIM115 (kept open while recording)
        self._file.write(entry(interaction, metadata))
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

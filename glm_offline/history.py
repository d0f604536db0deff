"""What the server saw: one Exchange per request, kept in a history bounded in bytes.

An exchange is added to the history *before* the last byte of its response is written, so a
client that has read a whole response can look at the server's history and find it there;
`History.wait_for(count, timeout)` waits for more exchanges without polling.
"""

import itertools
import threading
import time
from dataclasses import dataclass, field

MAX_PATH_CHARS = 200  # a longer request path is stored cut short, with "..."
HISTORY_ENTRIES = 10000
HISTORY_BYTES = 8 * 1024 * 1024  # an estimate of what the entries hold, not exact RSS
_ENTRY_BYTES = 600  # the object, its fields and the list slot, roughly
_EVENT_TIME_BYTES = 32

_arrivals = itertools.count(1)


def short_path(path):
    return path if len(path) <= MAX_PATH_CHARS else path[:MAX_PATH_CHARS - 3] + "..."


@dataclass
class Exchange:
    """What the server saw and did for one request (server.history)."""

    connection: int
    method: str
    path: str
    number: int = field(default_factory=lambda: next(_arrivals), repr=False)  # arrival order
    status: int = 0
    source: str = ""
    fault: str = ""
    # how a recorded answer matched: "exact", "sampling-ignored" (non-strict mode replayed a
    # recording that differs only in temperature or top_p), or "" (no recording used)
    match: str = ""
    events_sent: int = 0
    outcome: str = "complete"
    event_times: list = field(default_factory=list, repr=False)  # time.time() after each event
    # The recording proxy: the names (never the values) of the headers the upstream sent.
    upstream_headers: tuple = field(default=(), repr=False)
    # Told of each event written and of the end (the wire page's log, wire_page.Watch), or None.
    watcher: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self.method = self.method[:20]
        self.path = short_path(self.path)

    def event_written(self, lines):
        """Count an SSE event (its lines) just written to the client, with its time."""
        self.events_sent += 1
        self.event_times.append(time.time())
        if self.watcher is not None:
            self.watcher.event(self, lines)

    def size(self):
        return _ENTRY_BYTES + len(self.path) + len(self.source) + _EVENT_TIME_BYTES * len(
            self.event_times)


class History:
    """Finished exchanges in arrival order, at most HISTORY_ENTRIES and about HISTORY_BYTES;
    the oldest are forgotten first. Reads like a list: len(), [index], iteration."""

    def __init__(self, max_entries=HISTORY_ENTRIES, max_bytes=HISTORY_BYTES):
        self._entries = []
        self._bytes = 0
        self._changed = threading.Condition()
        self.max_entries, self.max_bytes = max_entries, max_bytes

    def add(self, exchange):
        """Add an exchange: a request that arrived first is listed first even if a later one,
        on another connection, finished first."""
        with self._changed:
            entries = self._entries
            index = len(entries)
            while index and entries[index - 1].number > exchange.number:
                index -= 1
            entries.insert(index, exchange)
            self._bytes += exchange.size()
            drop = 0
            while len(entries) - drop > self.max_entries or (
                    self._bytes > self.max_bytes and len(entries) - drop > 1):
                self._bytes -= entries[drop].size()
                drop += 1
            del entries[:drop]
            self._changed.notify_all()
        if exchange.watcher is not None:
            exchange.watcher.finished(exchange)

    def wait_for(self, count, timeout=5):
        """The history as a list once it holds at least `count` exchanges.

        Raises TimeoutError (naming how many there are) if that takes longer than `timeout`.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._entries) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the server's history holds {len(self._entries)} "
                                       f"exchanges after {timeout} s, not {count}")
                self._changed.wait(remaining)
            return list(self._entries)

    def __len__(self):
        return len(self._entries)

    def __getitem__(self, index):
        return self._entries[index]

    def __iter__(self):
        return iter(list(self._entries))

    def __repr__(self):
        return f"<History of {len(self)} exchanges>"

"""The recorder's SSE capture: the bytes of an upstream stream, as it arrives, cut into raw
lines (CR, LF or CRLF, however the chunks fall) with the gap before each event, bounded in
memory (MAX_RECORDED_BYTES a stream, MAX_SSE_LINE_BYTES a line)."""

import re

# The most one recording holds in memory: a JSON reply, or a whole stream (a stream over it
# still reaches the client, unrecorded; a JSON reply over it gets a 502).
MAX_RECORDED_BYTES = 16 * 2**20
MAX_SSE_LINE_BYTES = 4 * 2**20
_NEWLINE = re.compile(rb"\r\n|\r|\n")


class SSERecorder:
    """Stream bytes -> raw SSE lines (split on CR, LF, CRLF), and the gap before each event.

    A gap is measured from the previous event's end (the first from the request start) to the
    blank line that ends the event, in milliseconds, as the replayer's event_delays_ms expects.
    Each byte is looked at once, however the stream is cut. Bounded: a line over
    MAX_SSE_LINE_BYTES or a stream over MAX_RECORDED_BYTES is not recorded (`refused` says
    why) and nothing more is kept.
    """

    def __init__(self, started):
        self.lines = []
        self.delays_ms = []
        self.refused = None
        self._pending = bytearray()
        self._after_cr = False  # a CR ended the last chunk: an LF first in the next one is its pair
        self._size = 0
        self._last = started
        self._in_event = False

    @property
    def held_bytes(self):
        """The bytes of the line not yet complete."""
        return len(self._pending)

    def feed(self, data, now):
        if self.refused or not data:
            return
        self._size += len(data)
        if self._size > MAX_RECORDED_BYTES:
            return self._refuse(f"the stream is over {mb(MAX_RECORDED_BYTES)} MB, the most one "
                                "recording holds")
        start = 1 if self._after_cr and data[:1] == b"\n" else 0
        self._after_cr = False
        for match in _NEWLINE.finditer(data, start):
            if not self._add(data[start:match.start()]):
                return
            self._line(bytes(self._pending), now)
            self._pending.clear()
            start = match.end()
            self._after_cr = start == len(data) and match.group() == b"\r"
        self._add(data[start:])

    def close(self, now):
        if self.refused:
            return
        if self._pending:
            self._line(bytes(self._pending), now)
            self._pending.clear()
        if self._in_event:
            self._end_event(now)

    def _add(self, part):
        if len(self._pending) + len(part) > MAX_SSE_LINE_BYTES:
            self._refuse(f"the stream has a line over {mb(MAX_SSE_LINE_BYTES)} MB")
            return False
        self._pending += part
        return True

    def _refuse(self, reason):
        self.refused = reason
        self.lines, self.delays_ms, self._pending = [], [], bytearray()

    def _line(self, raw, now):
        line = raw.decode("utf-8", errors="replace")  # per complete line, never per chunk
        self.lines.append(line)
        if line:
            self._in_event = True
        elif self._in_event:
            self._end_event(now)

    def _end_event(self, now):
        self.delays_ms.append(round((now - self._last) * 1000))
        self._last = now
        self._in_event = False


def mb(size):
    return f"{size / 2**20:.4g}"

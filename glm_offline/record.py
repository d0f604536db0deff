"""Record mode: a local proxy in front of the real GLM API that writes what it sees as a cassette.

    python -m glm_offline record --output my-lesson.json
    # then run the lessons with ZHIPUAI_BASE_URL=<the printed url> and your own ZHIPUAI_API_KEY

Every request under /api/paas/v4/ is forwarded to the upstream with the caller's own
Authorization header, and the reply is streamed back as it arrives (SSE chunk by chunk).
Each exchange is added to the cassette (format version 1, see cassettes.py): appended to a
journal next to it, fsync'd, and merged into the file, written whole and atomically, when
the recorder stops (journal.py), so stopping or being killed at any moment loses nothing.
No header is ever written to disk: not Authorization, and no key or token anywhere in what
is stored (the caller's own credential, its secret part, and anything shaped like a real key
are replaced by "<redacted>" in bodies, streams and paths, and in the text a stream's deltas
join into: stream_secrets.py). Memory is bounded: one recorded body at most
MAX_RECORDED_BYTES, one SSE line MAX_SSE_LINE_BYTES. One recorder writes a file at a time (a
lock next to it; a second is refused), and no cookie an upstream sets is ever sent again.

Only what replay needs and cannot produce itself is recorded; every reply still reaches the
client unchanged, and each skip is printed with its reason:
  * 401s: the replay server checks the key before it looks for a recording, so a recorded
    401 could only hide a good request with the same body;
  * 429s and 5xx: transient; recorded, the same request would fail forever offline;
  * requests the replay server's own validation rejects (an unknown model, a bad field):
    it answers those itself, before any recording is consulted;
  * a request (method, path, parsed body) already in the cassette: the first recording wins.
Kept: 200s and the other 4xx, e.g. a 400 with code 1301 (content refused), which only the
real service can decide.
"""

import errno
import json
import math
import os
import re
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

from . import journal, matching, provenance, stream_secrets
from .cassette_schema import read_checked
from .cassettes import FORMAT_VERSION, CassetteError, load_file
from .redaction import KEY_SHAPE, REDACTED, credential_secrets, redact
from .server import API_PREFIX, Server, wait_for_interrupt
from .validation import parse_body, validate_chat
from .wire import APIError, http_error

DEFAULT_UPSTREAM = "https://open.bigmodel.cn/api/paas/v4"
FORWARDED_HEADERS = ("Authorization", "Content-Type", "Accept", "User-Agent")
PASSED_BACK_HEADERS = ("Retry-After",)
CONNECT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 3600
READ_SIZE = 64 * 1024
# The most one recording holds in memory: a JSON reply, or a whole stream (a stream over it
# still reaches the client, unrecorded; a JSON reply over it gets a 502).
MAX_RECORDED_BYTES = 16 * 2**20
MAX_SSE_LINE_BYTES = 4 * 2**20
UPSTREAM_READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
_NEWLINE = re.compile(rb"\r\n|\r|\n")
# Requests the replay server validates (and so answers itself when invalid) before matching.
VALIDATED = {("POST", API_PREFIX + "/chat/completions"),
             ("POST", API_PREFIX + "/async/chat/completions")}


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
            return self._refuse(f"the stream is over {_mb(MAX_RECORDED_BYTES)} MB, the most one "
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
            self._refuse(f"the stream has a line over {_mb(MAX_SSE_LINE_BYTES)} MB")
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


def _mb(size):
    return f"{size / 2**20:.4g}"


class WriterLock:
    """One recorder per output file: an exclusive lock on a file next to it, held while the
    recorder runs and released by the system if its process dies. A second recorder is
    refused instead of silently losing the first one's exchanges."""

    def __init__(self, path):
        self.path = path.with_name(f".{path.name}.lock")
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise CassetteError(f"{path}: another recorder (process {holder}) is writing "
                                    "this file; stop it first, or choose another --output")
            try:  # the lock file may have been removed by a recorder that just stopped
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


class CassetteFile:
    """The --output cassette: checked before recording starts, then written by this recorder
    alone until close(). An exchange costs the same however many the file holds: the first
    of a new file writes it whole, later ones are appended to its journal (journal.py), and
    close() writes the file whole again; every write leaves a file that loads."""

    def __init__(self, path, upstream):
        self.path = Path(path)
        self.upstream = upstream
        self.how = f"recorded: captured from {upstream} with `python -m glm_offline record`"
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
        self._journal = journal.Appender(self.path)
        try:
            self._data = self._read()  # again, now that no one else writes it
            if self._journal.path.exists():  # left by a recorder that was killed
                self._write(self._data)
                self._journal.remove()
        except BaseException:
            self._writer.release()
            raise
        self.recorded = len(self._data["interactions"])
        self._appended = 0

    def _read(self):
        if not self.path.exists():
            if journal.path_for(self.path).exists():
                raise CassetteError(f"{self.path}: there is a journal of it "
                                    f"({journal.path_for(self.path).name}) but no cassette; "
                                    "restore the cassette, or move the journal away")
            return {"version": FORMAT_VERSION, "metadata": {}, "interactions": []}
        if not self.path.is_file():
            raise CassetteError(f"{self.path}: not a file")
        load_file(self.path)  # raises CassetteError for anything the replayer could not load
        return read_checked(self.path, FORMAT_VERSION)

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
            earlier = _same_request(data["interactions"], method, path, body)
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
            metadata = self._metadata(data["metadata"], body, response)
            if self.path.exists():
                self._journal.append(item, metadata)
                self._appended += 1
            else:  # a new file (or one removed while recording): written whole
                self._write({**data, "metadata": metadata,
                             "interactions": [*data["interactions"], item]})
                self._journal.remove()
                self._appended = 0
            data["interactions"].append(item)
            data["metadata"] = metadata
            self.recorded = len(data["interactions"])
        return name, True

    def close(self):
        """Refuse further writes (exchanges still in flight at shutdown are not recorded),
        write the file whole once more (its journal merged), and let another recorder have
        the file. Idempotent."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            try:
                if self._appended:
                    self._write(self._data)
                    self._journal.remove()
            except OSError as exc:  # the journal stays, and the loader still merges it
                _say(f"could not write {self.path} whole ({exc.strerror or exc}); its journal "
                     f"{self._journal.path.name} keeps the exchanges and loads with it")
            finally:
                self._journal.close()
                self._writer.release()

    def _metadata(self, old, body, response):
        metadata = dict(old)
        metadata["recorded_at"] = datetime.now(timezone.utc).date().isoformat()
        metadata["provenance"] = provenance.captured(old.get("provenance"),
                                                     provenance.served_model(response),
                                                     metadata["recorded_at"])
        models = [m.strip() for m in str(old.get("model", "")).split(",") if m.strip()]
        model = body.get("model") if isinstance(body, dict) else None
        if isinstance(model, str) and model and model not in models:
            models.append(model)
        if models:
            metadata["model"] = ", ".join(models)
        if not old.get("how"):
            metadata["how"] = self.how
        elif self.how not in old["how"]:
            metadata["how"] = f"{old['how']} Later interactions {self.how}"
        metadata.setdefault("api_base", self.upstream)
        return metadata

    def _write(self, data):
        text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
        mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o644
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                    dir=self.path.parent)
        replaced = False
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temp, mode)
            os.replace(temp, self.path)
            replaced = True
        finally:
            if not replaced:
                Path(temp).unlink(missing_ok=True)


def _same_request(interactions, method, path, body):
    """The name of the recorded interaction replay would match this request with, or None."""
    return matching.recorded_name(interactions, method, path, body)


def unrecorded_reason(method, path, raw, status):
    """Why an exchange is not worth a recording (see the module docstring), or None."""
    if status == 401:
        return ("401: the replay server checks the key before it looks for a recording, so a "
                "recorded 401 could only hide a good request with the same body")
    if status == 429 or status >= 500:
        return (f"{status} is transient: recorded, the same request would fail every time "
                "offline")
    if (method, path) in VALIDATED:
        try:
            validate_chat(parse_body(raw))
        except APIError as error:
            note = "" if status == error.status else (
                f"; the upstream answered {status}, so the offline checks may be stricter than "
                "the real API's")
            return (f"the replay server answers this request itself ({error.status}, code "
                    f"{error.code}){note}")
    return None


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


def _live_chunks(response):
    """The decoded body as it arrives: whatever the socket has, never waiting for a full buffer."""
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:  # urllib3 1.x: iter_content(None) yields each HTTP chunk as it arrives
        yield from response.iter_content(chunk_size=None)
        return
    while True:
        data = read1(READ_SIZE, decode_content=True)
        if not data:
            return
        yield data


def _say(message):
    print(message, flush=True)


def secret_spans(text, secrets):
    """Where the secrets, and anything shaped like a real key, are in `text`: [(start, end)]."""
    spans = [match.span() for match in KEY_SHAPE.finditer(text)]
    for secret in secrets:
        start = text.find(secret)
        while start != -1:
            spans.append((start, start + len(secret)))
            start = text.find(secret, start + len(secret))
    return spans


def redact_stream(lines, secrets):
    """(SSE lines with every secret hidden, in each line and in the text the deltas join
    into; how many were replaced), or ValueError when one would still be there."""
    def spans_of(text):
        return secret_spans(text, secrets)

    lines, joined = stream_secrets.redact(lines, spans_of, REDACTED)
    lines, count = redact(lines, secrets)
    if stream_secrets.find(lines, spans_of):
        raise ValueError("a key or token is still in the text its deltas join into")
    return lines, joined + count


def session_without_cookies():
    """A requests.Session (for its connection pool) whose cookie jar never keeps a cookie:
    one attendee's upstream cookie must never be sent for another."""
    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


def check_timeout(seconds):
    """The upstream read timeout, if it is a usable number of seconds; ValueError otherwise."""
    number = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    if not number or not math.isfinite(seconds) or not 0 < seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError(f"--timeout must be a number of seconds above 0 and at most "
                         f"{MAX_TIMEOUT_SECONDS}, not {seconds!r}")
    return seconds


class RecordApp:
    """Forwards /api/paas/v4/... to the upstream, streams the reply back, records it."""

    def __init__(self, owner, upstream, cassette, timeout_seconds):
        self.owner = owner
        self.upstream = upstream
        self.cassette = cassette
        self.timeout = (CONNECT_TIMEOUT_SECONDS, timeout_seconds)
        self.session = session_without_cookies()

    def close(self):
        """Called when the server stops: the cassette is let go, the pool closed."""
        self.cassette.close()
        self.session.close()

    def route(self, method, path):
        if path.startswith(API_PREFIX + "/"):
            return self.forward
        raise http_error(404, f"the recording proxy only forwards {API_PREFIX}/...; not {path}")

    def forward(self, handler, path, raw):
        parts = urlsplit(handler.path)
        url = self.upstream + parts.path[len(API_PREFIX):]
        if parts.query:
            url += f"?{parts.query}"
        headers = {name: handler.headers[name] for name in FORWARDED_HEADERS
                   if handler.headers[name]}
        secrets = credential_secrets(handler.headers["Authorization"])
        handler.exchange.source = "upstream"
        started = time.monotonic()
        try:
            upstream = self.session.request(handler.command, url, data=raw or None,
                                            headers=headers, stream=True, timeout=self.timeout,
                                            allow_redirects=False)
        except requests.Timeout as exc:
            if not isinstance(exc, requests.ConnectionError):  # a read timeout, not ConnectTimeout
                raise http_error(504, f"upstream {self.upstream} did not answer in time") from None
            raise self._unreachable(exc) from None
        except requests.RequestException as exc:
            raise self._unreachable(exc) from None

        def record(response):  # called before the client sees the end of the reply
            self._record(handler.command, parts.path, raw, response, secrets)

        handler.exchange.upstream_headers = tuple(upstream.headers)  # names, for drift
        with upstream:
            content_type = upstream.headers.get("Content-Type", "")
            passed = [(name, upstream.headers[name]) for name in PASSED_BACK_HEADERS
                      if name in upstream.headers]
            if "text/event-stream" in content_type.lower():
                self._relay_stream(handler, upstream, content_type, passed, started, record)
            else:
                self._relay_whole(handler, upstream, content_type, passed, record)

    def _unreachable(self, exc):
        reason = str(exc)
        reason = reason if len(reason) <= 300 else reason[:297] + "..."
        return http_error(502, f"recording proxy: upstream {self.upstream} cannot be reached "
                          f"({type(exc).__name__}: {reason})")

    def _relay_whole(self, handler, upstream, content_type, passed, record):
        data = self._read_whole(handler, upstream)
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            _say(f"not recorded: {handler.command} {handler.path} answered {upstream.status_code} "
                 f"{content_type or 'without a content type'}, not JSON")
        else:
            record({"status": upstream.status_code, "json": parsed})
        handler.send_bytes(upstream.status_code, content_type, data, passed)

    def _read_whole(self, handler, upstream):
        """The decoded body (gzip/deflate bodies are stored readable), at most
        MAX_RECORDED_BYTES of it: a longer one is a 502, read no further."""
        length = upstream.headers.get("Content-Length", "")
        parts, size = [], 0
        too_big = length.isdigit() and int(length) > MAX_RECORDED_BYTES
        try:
            for data in () if too_big else _live_chunks(upstream):
                size += len(data)
                if size > MAX_RECORDED_BYTES:
                    too_big = True
                    break
                parts.append(data)
        except UPSTREAM_READ_ERRORS as exc:
            raise self._unreachable(exc) from None
        if too_big:
            reason = (f"the upstream's reply is over {_mb(MAX_RECORDED_BYTES)} MB, the most one "
                      "recording holds")
            _say(f"not recorded: {handler.command} {urlsplit(handler.path).path}: {reason}")
            raise http_error(502, f"recording proxy: {reason}; it was neither passed on nor "
                             "recorded")
        return b"".join(parts)

    def _relay_stream(self, handler, upstream, content_type, passed, started, record):
        handler.start_chunked(upstream.status_code, content_type, passed)
        recorder = SSERecorder(started)
        chunks = _live_chunks(upstream)
        while True:
            try:
                data = next(chunks, b"")
            except UPSTREAM_READ_ERRORS as exc:
                _say(f"not recorded: the upstream stream broke off ({type(exc).__name__})")
                handler.exchange.outcome = "upstream_failed"
                return handler.abort()
            if not data:
                break
            recorder.feed(data, time.monotonic())
            try:
                handler.write_chunk(data)
            except (ConnectionError, socket.timeout):
                _say(f"not recorded: the client left {handler.path} before the stream ended")
                raise
            handler.exchange.events_sent = len(recorder.delays_ms)
        recorder.close(time.monotonic())
        if recorder.refused:
            _say(f"not recorded: {handler.command} {urlsplit(handler.path).path}: "
                 f"{recorder.refused}")
        else:
            record({"status": upstream.status_code, "sse": recorder.lines,
                    "event_delays_ms": recorder.delays_ms})
        handler.end_chunked()

    def _record(self, method, path, raw, response, secrets=()):
        reason = unrecorded_reason(method, path, raw, response["status"])
        if reason:
            _say(f"not recorded: {method} {path} answered {response['status']}; {reason}")
            return
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            _say(f"not recorded: the {method} {path} request body is not JSON")
            return
        except RecursionError:
            _say(f"not recorded: {method} {path} nests too deeply to be checked for keys")
            return
        joined = 0
        if "sse" in response:
            try:
                lines, joined = redact_stream(response["sse"], secrets)
            except ValueError as exc:
                _say(f"NOT RECORDED: the {method} {path} stream holds a key or token that could "
                     f"not be redacted ({exc}); record it again with a prompt that does not "
                     "make the model repeat a key")
                return
            response = {**response, "sse": lines}
        try:
            (path, body, response), redacted = redact([path, body, response], secrets)
        except RecursionError:
            _say(f"not recorded: {method} {path} nests too deeply to be checked for keys")
            return
        redacted += joined
        if redacted:
            _say(f"redacted {redacted} key(s) or token(s) in {method} {path} before recording "
                 "it; replay will only match a request without them")
        try:
            name, new = self.cassette.add(method, path, body, response)
        except (OSError, CassetteError) as exc:
            _say(f"NOT RECORDED, cannot write {self.cassette.path}: {exc}")
            return
        if name and not new:
            _say(f"not recorded: {method} {path}, the same request as {name}, already in "
                 f"{self.cassette.path.name} (the first recording wins)")
        elif name:
            kind = "json" if "json" in response else f"{len(response['event_delays_ms'])} events"
            _say(f"recorded {name} ({response['status']}, {kind})")


def start_recorder(upstream=DEFAULT_UPSTREAM, output="recording.json", host="127.0.0.1", port=0,
                   timeout_seconds=300, verbose=False):
    """Start the recording proxy in a background thread; return the running Server.

    Raises CassetteError when the output cannot be recorded into (the file is left as it is),
    ValueError for a bad upstream URL, OSError when the port cannot be opened.
    """
    upstream = upstream.rstrip("/")
    if urlsplit(upstream).scheme not in ("http", "https") or not urlsplit(upstream).netloc:
        raise ValueError(f"--upstream must be an http(s) URL like {DEFAULT_UPSTREAM}, "
                         f"not {upstream!r}")
    check_timeout(timeout_seconds)
    cassette = CassetteFile(output, upstream)
    try:
        server = Server(host, port, verbose=verbose,
                        app=lambda owner: RecordApp(owner, upstream, cassette, timeout_seconds))
        return server.start()
    except BaseException:
        cassette.close()
        raise


def run_recorder(args):
    """`python -m glm_offline record`: run until Ctrl-C or SIGTERM; 0 when stopped, 2 on errors."""
    try:
        server = start_recorder(args.upstream, args.output, args.host, args.port, args.timeout)
    except CassetteError as exc:
        print(f"error: refusing to record into this file, and it was not changed: {exc}\n"
              "Choose a new --output file, or fix or move this one.", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cassette = server.app.cassette
    print(f"Recording proxy listening on {args.host}:{server.port}, forwarding to "
          f"{server.app.upstream}")
    print(f"  each exchange is added to {cassette.path} ({cassette.recorded} there now), except "
          "401s, 429s, 5xx, requests replay rejects itself, and repeats (each skip is printed)")
    print("Run the lessons with:")
    print(f"  ZHIPUAI_BASE_URL={server.base_url}")
    print("  and use your own ZHIPUAI_API_KEY (passed through, never written to disk)")
    print("Press Ctrl-C to stop.", flush=True)
    wait_for_interrupt()
    server.stop()
    cassette.close()
    print(f"Recording proxy stopped; {cassette.path} holds {cassette.recorded} interactions.",
          flush=True)
    return 0

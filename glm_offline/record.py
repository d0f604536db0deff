"""Record mode: a local proxy in front of the real GLM API that writes what it sees as a cassette.

    python -m glm_offline record --output my-lesson.json
    # then run the lessons with ZHIPUAI_BASE_URL=<the printed url> and your own ZHIPUAI_API_KEY

Every request under /api/paas/v4/ is forwarded to the upstream with the caller's own
Authorization header, and the reply is streamed back as it arrives (SSE chunk by chunk).
Each exchange is added to the cassette through cassette_file.CassetteFile (the one writer of
the format: appended to a journal next to it, fsync'd, and merged into the file, written
whole and atomically, when the recorder stops), so stopping or being killed at any moment
loses nothing. The stream is captured by sse_capture.SSERecorder.
No header is ever written to disk: not Authorization, and no key or token anywhere in what
is stored (the caller's own credential, its secret part, and anything shaped like a real key
are replaced by "<redacted>" in bodies, streams and paths, and in the text a stream's deltas
join into: stream_secrets.py). Memory is bounded: one recorded body at most
MAX_RECORDED_BYTES, one SSE line MAX_SSE_LINE_BYTES (sse_capture.py). One recorder writes a
file at a time (a lock next to it; a second is refused), and no cookie an upstream sets is
ever sent again.

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

import json
import math
import socket
import sys
import time
from datetime import datetime, timezone
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests
import urllib3

from . import provenance, sse_capture
from .cassette_file import CassetteError, CassetteFile
from .redaction import credential_secrets, redact, redact_text
from .routes import API_PREFIX
from .server import Server, wait_for_interrupt
from .sse_capture import SSERecorder
from .stream_secrets import redact_stream
from .validation import parse_body, validate_chat
from .wire import LIVE_BASE_URL, APIError, http_error

DEFAULT_UPSTREAM = LIVE_BASE_URL
FORWARDED_HEADERS = ("Authorization", "Content-Type", "Accept", "User-Agent")
PASSED_BACK_HEADERS = ("Retry-After",)
CONNECT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 3600
READ_SIZE = 64 * 1024
UPSTREAM_READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
# Requests the replay server validates (and so answers itself when invalid) before matching.
VALIDATED = {("POST", API_PREFIX + "/chat/completions"),
             ("POST", API_PREFIX + "/async/chat/completions")}


def recording_metadata(upstream):
    """describe(old metadata, request body, response) for cassette_file.CassetteFile: the
    metadata after a new exchange (the day, the provenance, the models asked, how and where
    from it was recorded)."""
    how = f"recorded: captured from {upstream} with `python -m glm_offline record`"

    def describe(old, body, response):
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
            metadata["how"] = how
        elif how not in old["how"]:
            metadata["how"] = f"{old['how']} Later interactions {how}"
        metadata.setdefault("api_base", upstream)
        return metadata

    return describe


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


def shown_path(path, secrets=()):
    """What a console message may print of a request's path: no query, no secret."""
    return redact_text(urlsplit(path).path, secrets)[0]


def _say(message):
    print(message, flush=True)


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
            _say(f"not recorded: {handler.command} {shown_path(handler.path)} answered "
                 f"{upstream.status_code} "
                 f"{content_type or 'without a content type'}, not JSON")
        else:
            record({"status": upstream.status_code, "json": parsed})
        handler.send_bytes(upstream.status_code, content_type, data, passed)

    def _read_whole(self, handler, upstream):
        """The decoded body (gzip/deflate bodies are stored readable), at most
        MAX_RECORDED_BYTES of it: a longer one is a 502, read no further."""
        length = upstream.headers.get("Content-Length", "")
        parts, size = [], 0
        cap = sse_capture.MAX_RECORDED_BYTES
        too_big = length.isdigit() and int(length) > cap
        try:
            for data in () if too_big else _live_chunks(upstream):
                size += len(data)
                if size > cap:
                    too_big = True
                    break
                parts.append(data)
        except UPSTREAM_READ_ERRORS as exc:
            raise self._unreachable(exc) from None
        if too_big:
            reason = (f"the upstream's reply is over {sse_capture.mb(cap)} MB, the most one "
                      "recording holds")
            _say(f"not recorded: {handler.command} {shown_path(handler.path)}: {reason}")
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
                _say(f"not recorded: the client left {shown_path(handler.path)} before the "
                     "stream ended")
                raise
            handler.exchange.events_sent = len(recorder.delays_ms)
        recorder.close(time.monotonic())
        if recorder.refused:
            _say(f"not recorded: {handler.command} {shown_path(handler.path)}: "
                 f"{recorder.refused}")
        else:
            record({"status": upstream.status_code, "sse": recorder.lines,
                    "event_delays_ms": recorder.delays_ms})
        handler.end_chunked()

    def _record(self, method, path, raw, response, secrets=()):
        reason = unrecorded_reason(method, path, raw, response["status"])
        shown = shown_path(path, secrets)  # what a message may print of it
        if reason:
            _say(f"not recorded: {method} {shown} answered {response['status']}; {reason}")
            return
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            _say(f"not recorded: the {method} {shown} request body is not JSON")
            return
        except RecursionError:
            _say(f"not recorded: {method} {shown} nests too deeply to be checked for keys")
            return
        joined = 0
        if "sse" in response:
            try:
                lines, joined = redact_stream(response["sse"], secrets)
            except ValueError as exc:
                _say(f"NOT RECORDED: the {method} {shown} stream holds a key or token that could "
                     f"not be redacted ({exc}); record it again with a prompt that does not "
                     "make the model repeat a key")
                return
            response = {**response, "sse": lines}
        try:
            (path, body, response), redacted = redact([path, body, response], secrets)
        except RecursionError:
            _say(f"not recorded: {method} {shown} nests too deeply to be checked for keys")
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
    cassette = CassetteFile(output, recording_metadata(upstream))
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

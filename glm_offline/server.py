"""The recorded GLM server: a stdlib HTTP/1.1 server that replays cassettes.

    with glm_offline.start() as server:
        requests.post(server.base_url + "/chat/completions",
                      headers={"Authorization": f"Bearer {server.api_key}"}, json=..., timeout=10)

Endpoints: POST /chat/completions; POST /async/chat/completions and GET /async-result/{id}
(async tasks, see TaskTable); and /_offline/faults for fault injection from this machine.
"""

import ipaddress
import itertools
import json
import os
import random
import signal
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import chat
from .auth import OFFLINE_API_KEY, Authenticator
from .cassettes import PACKAGE_CASSETTES, Library
from .faults import FaultQueue
from .validation import parse_body, validate_chat
from .wire import (
    DONE_LINE,
    ERRORS,
    JSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
    SSE_CONTENT_TYPE_NO_CHARSET,
    APIError,
    count_tokens,
    dumps,
    http_error,
    task_id,
)

API_PREFIX = "/api/paas/v4"
ADMIN_PREFIX = "/_offline"
MAX_BODY_BYTES = 1024 * 1024
HISTORY_LIMIT = 10000
REQUEST_TIMEOUT_SECONDS = 30
STREAM_REPLAY_CAP_MS = 2000
MAX_TASKS = 10000  # async tasks kept per server; the oldest are forgotten first
GENERATED_TASK_POLLS = 1  # a task with a generated answer polls PROCESSING once
STREAM_OPTIONS = {
    "chunking": ("event", "hostile"),
    "line_ending": ("lf", "crlf"),
    "charset": (True, False),
    "pacing": ("realistic", "instant"),
}


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
    events_sent: int = 0
    outcome: str = "complete"
    event_times: list = field(default_factory=list, repr=False)  # time.time() after each event


_arrivals = itertools.count(1)


class _HTTPServer(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a room of clients connecting at once
    # would overflow it and wait a 1 s SYN retry (or be reset). The kernel caps this.
    request_queue_size = socket.SOMAXCONN
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class _HTTP6Server(_HTTPServer):
    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    """Parses and frames HTTP; what to answer is decided by the server's app."""

    protocol_version = "HTTP/1.1"
    # Used until a request line is parsed: errors about a bad line then still get a status
    # line and headers (the stdlib default, HTTP/0.9, sends the bare body).
    default_request_version = "HTTP/1.0"
    timeout = REQUEST_TIMEOUT_SECONDS

    def version_string(self):
        return "glm-offline"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection_number = self.server.owner.connection_opened(self.connection)

    def handle(self):
        try:
            super().handle()
        except ConnectionError:  # the client reset the connection mid-request: not our error
            self.close_connection = True

    def finish(self):
        self.server.owner.connection_closed(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def send_error(self, code, message=None, explain=None):
        """Errors raised by the stdlib parser (bad request line, headers) answered as JSON."""
        self.close_connection = True
        # Called before _dispatch, so this request has no Exchange yet.
        self.exchange = Exchange(self.connection_number, self.command or "",
                                 getattr(self, "path", ""), outcome="rejected")
        error = http_error(code, message or self.responses.get(code, ("Error",))[0])
        try:
            self.send_json(error.status, error.body(), source="error")
        except OSError:
            pass
        self.server.owner.record(self.exchange)

    def _dispatch(self):
        self.exchange = Exchange(self.connection_number, self.command, self.path)
        try:
            try:
                path = urlsplit(self.path).path
                # Read the body first: an unread body would be parsed as the next request.
                body = self.read_body()
                route = self.server.owner.app.route(self.command, path)
                route(self, path, body)
            except APIError as error:
                self.send_json(error.status, error.body(), source="error")
        except (ConnectionError, socket.timeout):  # also while sending the error
            self.close_connection = True
            self.exchange.outcome = "client_closed"
        finally:
            self.server.owner.record(self.exchange)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if not (length.isascii() and length.isdigit()):
            self.close_connection = True
            raise http_error(400, "Content-Length must be a whole number")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise http_error(413, f"request body over {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(int(length))
        if len(body) < int(length):
            raise ConnectionResetError("client closed before sending the whole body")
        return body

    def _read_chunked_body(self):
        body = b""
        while True:
            size_line = self.rfile.readline(100).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                self.close_connection = True
                raise http_error(400, "malformed chunked request body") from None
            if size < 0 or len(body) + size > MAX_BODY_BYTES:
                self.close_connection = True
                raise http_error(413, f"request body over {MAX_BODY_BYTES} bytes")
            if size == 0:
                while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += self.rfile.read(size)
            self.rfile.readline(10)

    def send_json(self, status, obj, source="", headers=()):
        self.exchange.source = source or self.exchange.source
        self.send_bytes(status, JSON_CONTENT_TYPE, dumps(obj).encode("utf-8"), headers)

    def send_bytes(self, status, content_type, data, headers=()):
        self.exchange.status = status
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def start_chunked(self, status, content_type, headers=()):
        self.exchange.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")

    def abort(self):
        """Cut the connection without ending the body, as a failing network would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def encode_event(lines, line_ending):
    newline = "\r\n" if line_ending == "crlf" else "\n"
    return (newline.join(lines) + newline + newline).encode("utf-8")


def hostile_pieces(data, seed):
    """Split bytes into 1-5 byte pieces: through multi-byte characters and CRLF pairs."""
    rng = random.Random(seed)
    pieces, start = [], 0
    while start < len(data):
        size = rng.randint(1, 5)
        pieces.append(data[start:start + size])
        start += size
    return pieces


class ReplayApp:
    """Answers chat requests and async tasks from cassettes, with auth, validation and faults."""

    def __init__(self, owner, library, authenticator, strict):
        self.owner = owner
        self.library = library
        self.auth = authenticator
        self.strict = strict

    def route(self, method, path):
        if path == API_PREFIX + "/chat/completions":
            return _allowed(method, ("POST",), self.chat)
        if path == API_PREFIX + "/async/chat/completions":
            return _allowed(method, ("POST",), self.async_chat)
        if path.startswith(API_PREFIX + "/async-result/"):
            return _allowed(method, ("GET",), self.async_result)
        if path == ADMIN_PREFIX + "/faults":
            return _allowed(method, ("GET", "POST", "DELETE"), self.admin_faults)
        raise http_error(404, f"no such endpoint: {path}")

    def checked_body(self, handler, raw):
        """The request's chat body once auth and validation pass (APIError otherwise)."""
        self.auth.check(handler.headers.get("Authorization"))
        body = parse_body(raw)
        validate_chat(body)
        return body

    def chat(self, handler, path, raw):
        body = self.checked_body(handler, raw)
        fault = self.take_fault(handler, streaming=body.get("stream") is True)
        if fault and fault.error():
            return self.send_fault_error(handler, fault)
        reply = self.reply_for("POST", path, body)
        if fault:
            reply = apply_fault(reply, fault)
        self.owner.write_reply(handler, reply)

    def async_chat(self, handler, path, raw):
        """Start a task whose polls replay the matching recording; answer its record."""
        body = self.checked_body(handler, raw)
        # The async API has no "stream" (glm-api-facts.md 2.5); that the service ignores
        # one sent anyway, rather than rejecting it, is UNVERIFIED.
        body.pop("stream", None)
        fault = self.take_fault(handler, streaming=False, task=True)
        if fault and fault.error():
            return self.send_fault_error(handler, fault)
        reply = self.reply_for("POST", path, body)
        if reply.status != 200:  # a recorded rejection
            return self.owner.write_reply(handler, reply)
        if fault:
            reply = apply_fault(reply, fault)
        final = task_record(reply.json, "SUCCESS")
        if fault and fault.kind == "task_fail":
            final = task_record(_task_fields(final), "FAIL")
        polls = GENERATED_TASK_POLLS if reply.source == "generated" else reply.polls_before_done
        record = self.owner.tasks.submit(final, polls, reply.source)
        handler.send_json(200, record, reply.source)

    def async_result(self, handler, path, raw):
        """A task's record: PROCESSING for its first polls, then SUCCESS or FAIL."""
        self.auth.check(handler.headers.get("Authorization"))
        ident = path[len(API_PREFIX + "/async-result/"):]
        record = self.owner.tasks.poll(ident)
        if record is None:
            # UNVERIFIED: the live answer for an unknown or expired id is not documented;
            # this server answers HTTP 404 with code "404", like its other unknown paths.
            raise http_error(404, f"no such task: {ident}")
        handler.send_json(200, record, "task:" + record["task_status"])

    def take_fault(self, handler, streaming, task=False):
        """The next fault for this request (a slow first byte waits here), or None."""
        fault = self.owner.faults.take(streaming, task)
        if fault:
            handler.exchange.fault = fault.kind
            if fault.kind == "slow_first_byte":
                self.owner.wait(fault.params.get("seconds", 5))
        return fault

    def send_fault_error(self, handler, fault):
        error = fault.error()
        retry = fault.params.get("retry_after")
        extra = [("Retry-After", str(retry))] if retry is not None else []
        handler.send_json(error.status, error.body(), "fault", extra)

    def reply_for(self, method, path, body):
        interaction = self.library.find(method, path, body)
        if interaction:
            return interaction.reply()
        if self.strict:
            raise APIError(400, "offline_no_recording", "strict mode: no recording matches this "
                           "request; " + self.library.explain_miss(method, path, body))
        return chat.generated(body)

    def admin_faults(self, handler, path, raw):
        address = handler.client_address[0]
        if not ipaddress.ip_address(address.split("%")[0]).is_loopback:
            raise http_error(403, "faults can only be set from the server's own machine")
        if handler.command == "POST":
            try:
                spec = json.loads(raw.decode("utf-8"))
                kind = spec.pop("kind")
                self.owner.faults.add(kind, **spec)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise http_error(400, f"bad fault: {exc}") from None
        elif handler.command == "DELETE":
            self.owner.faults.clear()
        handler.send_json(200, {"pending": self.owner.faults.pending()}, "admin")


def _allowed(method, methods, action):
    if method not in methods:
        names = ", ".join(methods[:-1]) + " or " + methods[-1] if len(methods) > 1 else methods[0]
        raise http_error(405, f"{method} is not allowed here; use {names}")
    return action


def task_record(completion, task_status):
    """A task as GET /async-result/{id} returns it: the completion plus task_status.

    Keys are alphabetical, as in other non-streaming bodies. While PROCESSING, and after a
    FAIL, the record has only id, model, request_id and task_status; the docs show no failed
    record, so that a FAIL carries no error detail is UNVERIFIED.
    """
    return dict(sorted({**completion, "task_status": task_status}.items()))


def _task_fields(record):
    return {key: record.get(key) for key in ("id", "model", "request_id")}


@dataclass
class Task:
    final: dict  # the record once done: SUCCESS with the answer, or FAIL
    polls_left: int  # polls that still answer PROCESSING


class TaskTable:
    """Async chat tasks by id. A task answers PROCESSING for the first polls_before_done
    polls, then its final record on every poll after that.

    The live service finishes a task after some time; here a task finishes after a number
    of polls, so a lesson prints the same states however fast it polls. Each submission is
    a new task with a new id (the same on every fresh server), so a room sharing one server
    does not share tasks.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._tasks = {}
        self._submissions = itertools.count(1)

    def submit(self, final, polls_before_done, seed):
        """Store a task; return its record as POST /async/chat/completions answers it."""
        with self._lock:
            ident = task_id(seed, next(self._submissions))
            self._tasks[ident] = Task({**final, "id": ident}, polls_before_done)
            if len(self._tasks) > MAX_TASKS:
                del self._tasks[next(iter(self._tasks))]
        return task_record(_task_fields({**final, "id": ident}), "PROCESSING")

    def poll(self, ident):
        """The task's record now, or None for an unknown id."""
        with self._lock:
            task = self._tasks.get(ident)
            if task is None:
                return None
            if task.polls_left:
                task.polls_left -= 1
                return task_record(_task_fields(task.final), "PROCESSING")
            return task.final


def apply_fault(reply, fault):
    """Reshape a reply for finish_reason and mid-stream faults."""
    kind = fault.kind
    if reply.json is not None:
        if kind in ("sensitive", "network_error") and reply.json.get("choices"):
            body = json.loads(json.dumps(reply.json))
            choice = body["choices"][0]
            content = choice["message"].get("content") or ""
            choice["message"]["content"] = content = content[: len(content) // 2]
            choice["finish_reason"] = kind
            if isinstance(body.get("usage"), dict) and "prompt_tokens" in body["usage"]:
                body["usage"] = chat.usage(body["usage"]["prompt_tokens"], count_tokens(content))
            reply.json = body
        return reply
    events, delays = reply.events, reply.delays_ms
    body_events = len(events) - 2 if events[-1] == [DONE_LINE] else len(events)
    cut = fault.params.get("after_events", body_events // 2)
    cut = int(min(cut, body_events))
    if kind == "stall_mid_stream":
        reply.stall = (cut, fault.params.get("seconds", 30))
        return reply
    reply.events, reply.delays_ms = events[:cut], delays[:cut]
    first = _first_json(events)
    if kind in ("sensitive", "network_error"):
        final = chat.final_chunk(first, kind, _usage_after(events, cut))
        reply.events += [[f"data: {dumps(final)}"], [DONE_LINE]]
    elif kind == "error_frame":
        code = fault.params.get("code", "1302")
        error = {"error": {"code": code, "message": ERRORS[code][1]}, "request_id": first["id"]}
        reply.events += [["event: error", f"data: {dumps(error)}"], [DONE_LINE]]
    elif kind == "drop_mid_stream":
        reply.drop = True
    elif kind == "no_done":
        pass  # the events stop here and the body ends cleanly, without [DONE]
    reply.delays_ms += [delays[min(cut, len(delays) - 1)]] * (len(reply.events) - cut)
    return reply


def _first_json(events):
    for event in events:
        for line in event:
            if line.startswith("data: {"):
                data = json.loads(line[6:])
                data.setdefault("request_id", data.get("id"))
                return data
    return {"id": "", "created": 0, "model": "", "request_id": ""}


def _usage_after(events, cut):
    for event in reversed(events):
        for line in event:
            if line.startswith("data: {") and '"usage"' in line:
                recorded = json.loads(line[6:])["usage"]
                return chat.usage(recorded["prompt_tokens"], cut)
    return chat.usage(0, cut)


class Server:
    """A running recorded GLM server; see start()."""

    def __init__(self, host="127.0.0.1", port=0, *, cassette_dirs=None, strict=None,
                 api_keys=(OFFLINE_API_KEY,), clock=time.time, verbose=False, app=None,
                 packaged_cassettes=True, **stream_options):
        self.host, self.port = host, port
        self.api_key = api_keys[0]
        self.verbose = verbose
        self.faults = FaultQueue()
        self.tasks = TaskTable()
        self.history = []  # finished exchanges, in the order the requests arrived
        self._history_lock = threading.Lock()
        self.stream_options = {"chunking": "event", "line_ending": "lf", "charset": True,
                               "pacing": "realistic"}
        self.configure(**_env_stream_options())  # checked like start() options
        self.configure(**stream_options)
        if strict is None:
            strict = os.environ.get("GLM_OFFLINE_STRICT", "") not in ("", "0")
        if app is not None:  # another app behind the same Handler, e.g. record.RecordApp
            self.app = app(self)
        else:
            # packaged_cassettes=False: only cassette_dirs, e.g. to check a new recording alone
            dirs = [*([PACKAGE_CASSETTES] if packaged_cassettes else []), *(cassette_dirs or [])]
            self.app = ReplayApp(self, Library.from_dirs(dirs), Authenticator(api_keys, clock),
                                 strict)
        self._httpd = None
        self._thread = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections = {}
        self._connection_counter = itertools.count(1)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self):
        with self._lock:
            if self._httpd is not None:
                raise RuntimeError(f"this server is already running at {self.base_url}")
            if self._stopping.is_set():
                raise RuntimeError("this server was stopped;"
                                   " call glm_offline.start() for a new one")
            server_class = _HTTP6Server if ":" in self.host else _HTTPServer
            try:
                httpd = server_class((self.host, self.port), Handler)
            except OSError as exc:
                raise OSError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") \
                    from None
            httpd.owner = self
            self.port = httpd.server_address[1]
            self._httpd = httpd
            self._thread = threading.Thread(target=httpd.serve_forever,
                                            kwargs={"poll_interval": 0.1},
                                            name=f"glm-offline:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self):
        """Stop serving, close every connection, and wait for the server thread. Idempotent."""
        with self._lock:
            httpd, self._httpd = self._httpd, None
            self._stopping.set()
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        for sock in list(self._connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    @property
    def running(self):
        return self._httpd is not None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        state = "running" if self.running else "stopped"
        return f"<glm_offline.Server {state} at {self.base_url}>"

    @property
    def base_url(self):
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{API_PREFIX}"

    # -- what tests and lessons use ----------------------------------------------------
    def inject(self, kind, times=1, **params):
        """Make the next `times` chat requests fail as `kind` (see glm_offline.faults.KINDS);
        "task_fail" makes the next async task end in FAIL."""
        return self.faults.add(kind, times, **params)

    def configure(self, **options):
        """Change how streams are written; returns the previous values."""
        previous = {}
        for name, value in options.items():
            if name not in STREAM_OPTIONS:
                raise ValueError(f"unknown stream option {name!r};"
                                 f" options: {', '.join(STREAM_OPTIONS)}")
            if value not in STREAM_OPTIONS[name]:
                raise ValueError(f"{name} must be one of {STREAM_OPTIONS[name]}, not {value!r}")
            previous[name] = self.stream_options[name]
        self.stream_options.update(options)
        return previous

    @contextmanager
    def configured(self, **options):
        """Change stream options for a `with` block only."""
        previous = self.configure(**options)
        try:
            yield self
        finally:
            self.configure(**previous)

    # -- internals ---------------------------------------------------------------------
    def record(self, exchange):
        """Add a finished exchange to history in arrival order: a request that arrived
        first is listed first even if a later one, on another connection, finished first."""
        with self._history_lock:
            index = len(self.history)
            while index and self.history[index - 1].number > exchange.number:
                index -= 1
            self.history.insert(index, exchange)
            if len(self.history) > HISTORY_LIMIT:
                del self.history[: len(self.history) - HISTORY_LIMIT]

    def connection_opened(self, sock):
        number = next(self._connection_counter)
        self._connections[sock] = number
        return number

    def connection_closed(self, sock):
        self._connections.pop(sock, None)

    def wait(self, seconds):
        self._stopping.wait(seconds)

    def write_reply(self, handler, reply):
        handler.exchange.source = reply.source
        if reply.json is not None:
            return handler.send_json(reply.status, reply.json, reply.source)
        options = dict(self.stream_options)
        content_type = SSE_CONTENT_TYPE if options["charset"] else SSE_CONTENT_TYPE_NO_CHARSET
        handler.start_chunked(reply.status, content_type)
        delays = reply.delays_ms
        scale = 0.0
        if options["pacing"] == "realistic" and sum(delays) > 0:
            scale = min(1.0, STREAM_REPLAY_CAP_MS / sum(delays))
        for index, (event, delay) in enumerate(zip(reply.events, delays)):
            if scale:
                self.wait(delay * scale / 1000)
            if reply.stall and reply.stall[0] == index:
                handler.exchange.outcome = "stalled"
                self.wait(reply.stall[1])
            if self._stopping.is_set():
                return handler.abort()
            data = encode_event(event, options["line_ending"])
            if options["chunking"] == "hostile":
                for piece in hostile_pieces(data, index):
                    handler.write_chunk(piece)
            else:
                handler.write_chunk(data)
            handler.exchange.events_sent += 1
            handler.exchange.event_times.append(time.time())
        if reply.drop:
            handler.exchange.outcome = "dropped"
            return handler.abort()
        handler.end_chunked()


def _env_stream_options():
    """Defaults from GLM_OFFLINE_CHUNKING / _LINE_ENDING / _PACING / _CHARSET."""
    options = {}
    for name in ("chunking", "line_ending", "pacing"):
        value = os.environ.get(f"GLM_OFFLINE_{name.upper()}")
        if value:
            options[name] = value
    charset = os.environ.get("GLM_OFFLINE_CHARSET")
    if charset:
        options["charset"] = charset not in ("0", "no", "false")
    return options


def wait_for_interrupt():
    """Block until Ctrl-C or SIGTERM, for the command line's long-running servers."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


_shared = None
_shared_lock = threading.Lock()


def shared_server():
    """The server a notebook kernel uses: started on first call, the same one afterwards.

    Re-running a notebook's setup cell must not start a second server.
    """
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = start()
        return _shared


def start(host="127.0.0.1", port=0, **options):
    """Start a recorded GLM server in a background thread and return it (a context manager).

    Options: cassette_dirs, packaged_cassettes (False: only cassette_dirs' recordings, not
    the ones shipped in glm_offline/cassettes), strict, api_keys, clock, verbose, and the
    stream options
    chunking="event"|"hostile", line_ending="lf"|"crlf", charset=True|False,
    pacing="realistic"|"instant".
    """
    return Server(host, port, **options).start()

"""The recorded server without sockets: `requests` hands each request for its base URL to the
server's own app in this process (the browser edition, where Python has no sockets).

    server = glm_offline.inprocess.start()    # http://glm-offline.invalid/api/paas/v4
    requests.post(server.base_url + "/chat/completions", ...)   # answered in-process

The same validation, matching, recordings, faults and stream writing as over HTTP: the app gets
a MemoryHandler with the handler interface http.connection.Connection has (headers, path,
exchange, send_*, start_chunked, write_chunk, end_chunked, abort). A stream is produced
lazily: each piece of streams.stream_pieces() is made when `requests` asks for the next one,
after the recorded wait, so iter_content() yields pieces one at a time at the recorded
pacing. No thread, no socket.

Every requests.Session made after start() (requests.post() makes one per call) has the
transport mounted for the server's host; other hosts go out as usual, except in a web page
(sys.platform "emscripten"), where they are refused at once with requests.ConnectionError, as
a port where nothing listens is: the page must reach no other host (and Pyodide's fetch
would fail with a JsException that no `except requests.RequestException` catches).
What differs from the socket server: a stream's request leaves the per-attendee in-flight
count when its head is sent, not when its body ends (nothing runs between the pieces here);
and there is no control token (server.inject() is the control surface).
"""

import io
import itertools
import logging
import sys
import threading
import time

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from .history import Exchange
from .http import Headers
from .http.writer import JSON_CONTENT_TYPE, dumps
from .routes import API_PREFIX, InFlight
from .server import Server
from .streams import end_stream, start_reply, stream_pieces
from .wire import http_error

HOST_SUFFIX = ".invalid"  # RFC 6761: never resolved, so it cannot reach a real host
CLIENT_ADDRESS = ("127.0.0.1", 0)  # what the app sees as the client (tasks, limits)
ORIGIN_PREFIX = "http://glm-offline"  # then ".invalid", or "-2.invalid" for a second server
_servers = {}  # "http://host" -> the running InProcessServer
_lock = threading.Lock()
POOL_LOG = logging.getLogger("urllib3.connectionpool")  # where urllib3 logs its connections


class ReadTimedOut(Exception):
    """The server would stay silent for longer than the request's read timeout."""


class InProcessServer(Server):
    """A recorded GLM server answered in this process through `requests` (see the module)."""

    def __init__(self, **options):
        super().__init__("127.0.0.1", 0, **options)
        self.origin = ORIGIN_PREFIX + HOST_SUFFIX  # start() picks a free one
        self._running = False
        self._local = threading.local()  # the read timeout of the request being answered
        if isinstance(getattr(self.app, "in_flight", None), InFlight):
            self.app.in_flight = StreamHeldInFlight(self.app.in_flight.limit)

    @property
    def base_url(self):
        return self.origin + API_PREFIX

    @property
    def running(self):
        return self._running

    @property
    def connections(self):
        return 0

    def start(self):
        with _lock:
            if self._running:
                raise RuntimeError(f"this server is already running at {self.base_url}")
            if self._stopping.is_set():
                raise RuntimeError("this server was stopped;"
                                   " call glm_offline.start() for a new one")
            install_adapter()
            self.origin = next(origin for origin in (
                ORIGIN_PREFIX + ("" if number == 1 else f"-{number}") + HOST_SUFFIX
                for number in itertools.count(1)) if origin not in _servers)
            _servers[self.origin] = self
            self._running = True
        return self

    def stop(self):
        with _lock:
            self._stopping.set()
            self._running = False
            _servers.pop(self.origin, None)
        close = getattr(self.app, "close", None)
        if close is not None:
            close()

    def __repr__(self):
        state = "running" if self.running else "stopped"
        return f"<glm_offline in-process server {state} at {self.base_url}>"

    def wait(self, seconds):
        """Wait as the socket server would, but past the request's read timeout raise
        ReadTimedOut (after waiting that long): what a client would see."""
        limit = getattr(self._local, "read_timeout", None)
        if limit is not None and seconds > limit:
            pause(limit)
            raise ReadTimedOut(limit)
        pause(seconds)

    def write_reply(self, handler, reply):
        options = dict(self.stream_options)
        if not start_reply(handler, reply, options):
            handler.stream_from(reply, stream_pieces(reply, options, handler.exchange))
            handler.held = self.app.in_flight.hold()  # until the stream ends, as on a socket

    def answer(self, method, path, headers, body, read_timeout):
        """The app's answer to one request, as a MemoryHandler (its stream not yet read)."""
        handler = MemoryHandler(self, method, path, headers)
        self._local.read_timeout = read_timeout
        try:
            self._answer(handler, body)  # the socket path's own routing and error headers
        except ReadTimedOut:
            handler.exchange.outcome = "client_closed"
            handler.finish()
            raise
        except Exception as exc:  # noqa: BLE001 (a bug here: answer 500, as http.connection does)
            handler.exchange.outcome = "server_error"
            if handler.status is None:
                handler.send_error(http_error(500, "internal error in the recorded server "
                                              f"({type(exc).__name__})"))
            else:
                handler.abort()
        finally:
            self._local.read_timeout = None
        if handler.status is None:  # an action that returned without answering
            handler.send_error(http_error(500, "internal error in the recorded server "
                                          "(no answer)"))
        if handler.pieces is None:
            handler.finish()
        return handler


class StreamHeldInFlight(InFlight):
    """The per-attendee in-flight count (routes.InFlight) where a stream stays counted until its
    body ends, as it does on a socket: the app leaves the count when write_reply() returns,
    which here is before the body is read, so write_reply() holds the request's key once
    more (hold()) and the stream's end lets go of it."""

    def __init__(self, limit):
        super().__init__(limit)
        self._entered = threading.local()

    def enter(self, key):
        entered = super().enter(key)
        self._entered.key = key if entered else None
        return entered

    def hold(self):
        """Count the request being answered once more; a function that undoes it, once."""
        key = getattr(self._entered, "key", None)
        if key is None:
            return lambda: None
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
        released = []

        def release():
            if not released:
                released.append(True)
                self.leave(key)
        return release


def pause(seconds):
    """time.sleep: in the browser's kernel worker it blocks the worker, which is what a
    stream's pacing needs (the page keeps running; each output was already posted)."""
    if seconds > 0:
        time.sleep(seconds)


class MemoryHandler:
    """One request, answered into memory: the interface the app uses on a Connection."""

    def __init__(self, owner, method, path, headers):
        self.owner = owner
        self.command = method
        self.path = path  # the request target, query included, as on the wire
        self.request_path = path.split("?", 1)[0].split("#", 1)[0]
        self.headers = Headers(headers)
        self.client_address = CLIENT_ADDRESS
        self.attendee = CLIENT_ADDRESS[0]
        self.connection = None
        self.exchange = Exchange(0, method, self.request_path)
        self.status, self.response_headers, self.body = None, [], b""
        self.pieces, self.reply, self.aborted = None, None, False
        self.held = lambda: None  # lets go of the in-flight count a stream holds
        self._published = False

    def english(self):
        return self.owner.english_for(self.headers)

    def send_error(self, error, headers=()):
        self.send_json(error.status, error.body(english=self.english()), "error", headers)

    def send_json(self, status, obj, source="", headers=()):
        self.exchange.source = source or self.exchange.source
        self.send_bytes(status, JSON_CONTENT_TYPE, dumps(obj).encode("utf-8"), headers)

    def send_bytes(self, status, content_type, data, headers=()):
        self._head(status, [("Content-Type", content_type)] if content_type else [], headers)
        self.response_headers.append(("Content-Length", str(len(data))))
        self.body = b"" if self.command == "HEAD" else data

    def start_chunked(self, status, content_type, headers=()):
        self._head(status, [("Content-Type", content_type), ("Transfer-Encoding", "chunked"),
                            ("Cache-Control", "no-cache")], headers)

    def _head(self, status, fields, headers):
        self.status = self.exchange.status = status
        self.response_headers = [("Server", "glm-offline"), *fields, *headers]

    def write_chunk(self, data):
        self.body += data

    def end_chunked(self):
        self.finish()

    def abort(self):
        self.aborted = True
        self.finish()

    def stream_from(self, reply, pieces):
        """The body is still to come: `pieces` (streams.stream_pieces) when it is read."""
        self.reply, self.pieces = reply, pieces

    def finish(self):
        """Put the exchange in the server's history, once, and let go of its in-flight count."""
        self.held()
        if not self._published:
            self._published = True
            self.owner.record(self.exchange)


class StreamedBody(io.RawIOBase):
    """response.raw: the answer's body, read piece by piece (stream()) as urllib3's is."""

    def __init__(self, handler, read_timeout):
        super().__init__()
        self.handler, self.read_timeout = handler, read_timeout
        self._buffer = handler.body
        self._pieces = self._generate()

    def readable(self):
        return True

    def _generate(self):
        handler = self.handler
        if handler.body:
            yield handler.body
        if handler.pieces is not None:
            owner = handler.owner
            for delay, piece in handler.pieces:
                if delay:
                    if self.read_timeout is not None and delay > self.read_timeout:
                        pause(self.read_timeout)
                        handler.exchange.outcome = "client_closed"
                        handler.finish()
                        raise ReadTimeoutError(None, None, "Read timed out.")
                    owner.wait(delay)
                if owner._stopping.is_set():
                    handler.abort()
                    break
                if piece:
                    yield piece
            else:
                end_stream(handler, handler.reply)
        if handler.aborted:
            raise ProtocolError("Response ended prematurely")

    def stream(self, amt=2 ** 16, decode_content=None):
        yield from self._pieces

    def read(self, amt=None, decode_content=None, cache_content=False):
        data = b"".join(self._pieces) if amt is None else next(self._pieces, b"")
        return data

    def readinto(self, buffer):
        data = next(self._pieces, b"")
        buffer[:len(data)] = data
        return len(data)

    def close(self):
        """The client stops reading: a stream not read to its end counts as left early."""
        if self.handler.pieces is not None and not self.handler._published:
            self.handler.exchange.outcome = "client_closed"
            self.handler.pieces.close()
            self.handler.finish()
        self._pieces.close()
        super().close()

    def release_conn(self):
        pass


class InProcessAdapter(BaseAdapter):
    """requests' transport for the in-process servers' hosts: one per Session, as requests'
    HTTPAdapter is. It keeps one pretend connection per host open until the Session closes,
    and logs opening one as urllib3 does ("Starting new HTTP connection"), so what a lesson
    shows about reusing connections holds here too."""

    def __init__(self):
        super().__init__()
        self._open = {}  # host -> connections opened to it by this adapter

    def _connection_for(self, host):
        if host not in self._open:
            self._open[host] = len(self._open) + 1
            POOL_LOG.debug("Starting new HTTP connection (%d): %s:%s", 1, host, 80)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        origin, _, rest = request.url.partition("://")[2].partition("/")
        server = _servers.get("http://" + origin)
        if server is None:
            raise requests.ConnectionError(f"no in-process recorded server at http://{origin}"
                                           " (it was stopped)", request=request)
        self._connection_for(origin)
        read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):  # an iterable of pieces (a streamed upload)
            body = b"".join(part.encode("utf-8") if isinstance(part, str) else part
                            for part in body)
        try:
            handler = server.answer(request.method, "/" + rest, request.headers.items(), body,
                                    read_timeout)
        except ReadTimedOut:
            raise requests.ReadTimeout(f"{origin}: Read timed out. (read timeout="
                                       f"{read_timeout})", request=request) from None
        return self.build_response(request, handler, read_timeout)

    def build_response(self, request, handler, read_timeout):
        response = requests.Response()
        response.status_code = handler.status
        response.headers = CaseInsensitiveDict(handler.response_headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.reason = reason_phrase(handler.status)
        response.raw = StreamedBody(handler, read_timeout)
        response.url = request.url
        response.request = request
        response.connection = self
        return response

    def close(self):
        self._open.clear()


class NoNetworkAdapter(BaseAdapter):
    """requests' transport in a web page for every host but the in-process servers': refused,
    as by a port where nothing listens, without a request leaving the page."""

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        host = request.url.partition("://")[2].partition("/")[0]
        raise requests.ConnectionError(f"no connection to {host} from the browser edition: a web "
                                       "page reaches only its in-page recorded server",
                                       request=request)

    def close(self):
        pass


def reason_phrase(status):
    from http import HTTPStatus
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


_original_session_init = None


def install_adapter():
    """From now on every requests.Session mounts the in-process transport on the in-process
    servers' hosts (requests.post() and friends make a Session per call). Idempotent."""
    global _original_session_init
    if _original_session_init is not None:
        return
    _original_session_init = original = requests.Session.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if sys.platform == "emscripten":  # a web page: no other host (see the module)
            for scheme in ("http://", "https://"):
                self.mount(scheme, NoNetworkAdapter())
        self.mount(ORIGIN_PREFIX, InProcessAdapter())  # every in-process server's host

    requests.Session.__init__ = __init__


def start(**options):
    """An in-process recorded server (the options of glm_offline.start()), started."""
    return InProcessServer(**options).start()

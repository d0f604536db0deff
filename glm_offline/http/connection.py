"""One client connection: requests one after another (keep-alive), each within its deadlines,
each answered by the app through the per-request interface below (what routes.py, streams.py,
tasks.py, control.py and wire_page.py call: headers, path, exchange, attendee, english(),
send_json, send_error, send_bytes, start_chunked, write_chunk, end_chunked, abort, ...).

What the connection needs from outside is passed in, never the whole server: its limits, its
Site (the app and the hooks below) and its part of the body budget; a listener that tracks
its state passes States."""

import io
import socket
import time
from dataclasses import dataclass
from typing import Callable

from .limits import address_group, log
from .reader import BodyAccount, FramingError, Headers, RequestReader
from .writer import JSON_CONTENT_TYPE, ResponseWriter, dumps

LINGER_BYTES = 256 * 1024  # read (and drop) at most this much before closing after an error
LINGER_SECONDS = 1.0


class NoAnswer(Exception):
    """The app's action returned without answering: a bug, answered 500 (as uvicorn does)."""


@dataclass(frozen=True)
class Site:
    """What a connection answers with and tells."""

    app: Callable  # app(handler, body): answers with the handler's send_* methods
    error: Callable  # error(status, message) -> an error with .status and .body(english=)
    exchange: Callable  # exchange(connection_number, method, path) -> the request's record
    publish: Callable  # publish(handler): handler.exchange to the history (once, early)
    english: Callable = lambda headers: False  # english(headers): error messages in English


def _nothing(*args):
    return None


@dataclass(frozen=True)
class States:
    """What a connection tells the listener that tracks it (and asks: whether it stops)."""

    idle: Callable = _nothing  # idle(connection, bool): waiting for a request, or not
    incomplete: Callable = _nothing  # incomplete(connection, bool): a request arriving
    closed: Callable = _nothing  # closed(connection)
    stopping: Callable = lambda: False  # the server is stopping: no lingering


class _SocketReader(io.RawIOBase):
    """recv() that fails with TimeoutError once `deadline` (time.monotonic()) has passed:
    a whole-request deadline, not a per-read one (a byte every few seconds is not enough)."""

    def __init__(self, sock):
        super().__init__()
        self.sock = sock
        self.deadline = time.monotonic()

    def readable(self):
        return True

    def readinto(self, buffer):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


class Connection:
    """One client connection: reads requests one after another and answers each."""

    def __init__(self, sock, address, number, limits, site, budget, states=States()):
        self.limits, self.site, self.states = limits, site, states
        self.connection = sock
        self.client_address = address
        self.attendee = address_group(address[0])  # per-client limits count by this
        self.connection_number = number
        self._socket_reader = _SocketReader(sock)
        self.rfile = io.BufferedReader(self._socket_reader, 65536)
        self._account = BodyAccount(budget, self.attendee)
        self._reader = RequestReader(self.rfile, limits, self._account, self._before_body)
        self.close_connection = False
        self.evicted = False
        self.answered = 0  # requests answered on this connection
        self._reset()

    def _reset(self):
        self.command, self.path, self.request_path, self.request_version = "", "", "", ""
        self.headers = Headers()
        self.exchange = None
        self._published = False
        self._writer = ResponseWriter(self._send)

    @property
    def _head_sent(self):
        return self._writer.head_sent

    # -- the connection --------------------------------------------------------------------
    def run(self):
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while not self.close_connection and self._handle_one():
                self._reset()
        except (OSError, ValueError):  # the socket went away under us (reset, stop(), evicted)
            pass
        finally:
            self._close()

    def _close(self):
        try:
            if self.close_connection and not self.evicted and not self.states.stopping():
                self._linger()
            self.connection.close()
        except OSError:
            pass
        self.states.closed(self)

    def _linger(self):
        """After an error, read what the client is still sending before closing: closing with
        unread data sends a TCP reset, which can destroy the answer before the client reads it."""
        self.connection.shutdown(socket.SHUT_WR)
        self._socket_reader.deadline = time.monotonic() + LINGER_SECONDS
        drained = 0
        try:
            while drained < LINGER_BYTES:
                data = self.rfile.read1(65536)
                if not data:
                    break
                drained += len(data)
        except (OSError, ValueError):
            pass

    def _handle_one(self):
        """Read and answer one request; False when the connection is to be closed."""
        self._socket_reader.deadline = time.monotonic() + self.limits.idle_seconds
        self.states.idle(self, True)
        try:
            first = self._reader.starting()
        except (TimeoutError, ConnectionError):
            return False
        finally:
            self.states.idle(self, False)
        if not first or self.evicted:
            return False
        self._socket_reader.deadline = time.monotonic() + self.limits.head_seconds
        self.states.incomplete(self, True)
        try:
            read, body = self._read_request()
            if not read:
                return False
            self._dispatch(body)
            self.answered += 1
        finally:
            self.states.incomplete(self, False)
            self._account.give_back()
        return not self.close_connection

    def _read_request(self):
        """(True, body) for a request read; (False, None) when the connection is to close
        (a framing error has been answered)."""
        try:
            request = self._reader.read_head()
            if request is None:
                return False, None
            self._take(request)
            self.exchange = self.site.exchange(self.connection_number, self.command,
                                               self.request_path)
            if not getattr(self.site.app, "reads_body", True):  # e.g. the refusal past the cap
                return True, b""
            body = self._reader.read_body(request)
            self.close_connection = self.close_connection or request.close
            self.states.incomplete(self, False)
            return True, body
        except FramingError as error:
            self._reject(error)
        except TimeoutError:
            self._reject(FramingError(408, "the request was not received in time"))
        except ConnectionError:
            pass
        except Exception as exc:  # noqa: BLE001 (a bug in reading: answer 500, one line)
            log(f"internal error reading a request on connection {self.connection_number}: "
                f"{type(exc).__name__}: {exc}")
            self._reject(FramingError(500, "internal error in the recorded server "
                                      f"({type(exc).__name__}); see its console"),
                         outcome="server_error")
        return False, None

    def _take(self, request):
        self.command, self.path, self.request_path = request.method, request.target, request.path
        self.request_version, self.headers = request.version, request.headers
        self.close_connection = request.close

    def _before_body(self, request):
        if request.expects_continue:
            self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._socket_reader.deadline = time.monotonic() + self.limits.body_seconds

    # -- answering -----------------------------------------------------------------------
    def _dispatch(self, body):
        try:
            self.site.app(self, body)
            if not (self._head_sent or self.evicted):  # neither answered nor cut: a bug
                raise NoAnswer(f"{self.command} {self.exchange.path} gave no answer")
        except (ConnectionError, TimeoutError):  # the client left, also while sending an error
            self.close_connection = True
            self.exchange.outcome = "client_closed"
        except Exception as exc:  # noqa: BLE001 (a bug here: answer 500, say so in one line)
            self._internal_error(exc)
        finally:
            self._publish()

    def _internal_error(self, exc):
        self.close_connection = True
        log(f"internal error: {exc}" if isinstance(exc, NoAnswer) else
            f"internal error answering {self.command} {self.exchange.path}: "
            f"{type(exc).__name__}: {exc}")
        self.exchange.outcome = "server_error"
        if not self._head_sent:
            try:
                self.send_error(self.site.error(500, "internal error in the recorded server "
                                                f"({type(exc).__name__}); see its console"))
            except OSError:
                pass
        else:
            self.abort()

    def _reject(self, error, outcome="rejected"):
        """Answer a request that could not be read, then close (quietly if it was closed to
        make room: its end was not the client's doing, and no answer can reach it)."""
        self.close_connection = True
        if self.evicted:
            return
        if self.exchange is None:
            request = self._reader.request  # what was read of it
            self.command, self.request_path = request.method, request.path
            self.request_version = request.version
            self.exchange = self.site.exchange(self.connection_number, self.command,
                                               self.request_path)
        self.exchange.outcome = outcome
        try:
            self.send_error(self.site.error(error.status, error.message), error.headers)
        except OSError:
            pass
        self._publish()

    def _publish(self):
        """Put the exchange in the server's history (once): before the last byte is written,
        so whoever has read the whole answer finds it there."""
        if not self._published and self.exchange is not None:
            self._published = True
            self.site.publish(self)

    # -- the per-request interface the app calls ---------------------------------------------
    def english(self):
        """Whether error messages are to be in English for this request."""
        return self.site.english(self.headers)

    def send_error(self, error, headers=()):
        self.send_json(error.status, error.body(english=self.english()), "error", headers)

    def send_json(self, status, obj, source="", headers=()):
        self.exchange.source = source or self.exchange.source
        self.send_bytes(status, JSON_CONTENT_TYPE, dumps(obj).encode("utf-8"), headers)

    def _send(self, data):
        self.connection.settimeout(self.limits.write_seconds)
        self.connection.sendall(data)

    def send_bytes(self, status, content_type, data, headers=()):
        self.exchange.status = status
        response = self._writer.whole(status, content_type, data, headers, self.close_connection,
                                      head_only=self.command == "HEAD")
        self._publish()
        self._send(response)

    def start_chunked(self, status, content_type, headers=()):
        """Start a body of unknown length: chunked, or for an HTTP/1.0 client, which cannot
        read chunked (RFC 9112 7.1), ended by closing the connection."""
        self.exchange.status = status
        if self._writer.start(status, content_type, headers,
                              self.request_version == "HTTP/1.0", self.close_connection):
            self.close_connection = True

    def write_chunk(self, data):
        self._writer.chunk(data)

    def end_chunked(self):
        self._publish()
        self._writer.end()

    def abort(self):
        """Cut the connection without ending the body, as a failing network would."""
        self.close_connection = True
        self.evicted = True  # nothing to linger for
        self._publish()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

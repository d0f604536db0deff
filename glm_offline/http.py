"""HTTP/1.1 for the recorded server: request framing by RFC 9112, strict where it says to
reject, with deadlines and limits in bytes, and a cap on connections.

One thread per connection (at most `Limits.connections` of them, plus a few that only answer
503 when the cap is reached). A connection is idle (waiting for a request: closed first to
make room at the cap), incomplete (a request arriving: bounded per client address and in
all, see Limits; a stalled one is closed to make room) or busy (being answered: never
closed to make room). What to answer is the app's business: the server's app has
`route(method, path) -> action` and `action(handler, path, body)` uses the Handler's send_*
methods. Every request gets an HTTP answer: a GLM-shaped 4xx for a client's mistake, a
GLM-shaped 500 (and one line on stderr) only for a bug here.
"""

import _thread
import errno
import io
import ipaddress
import os
import re
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

from .history import Exchange
from .wire import JSON_CONTENT_TYPE, APIError, dumps, http_error

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(r"HTTP/(\d)\.(\d)")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
REFUSING_THREADS = 32  # connections past the cap that still get a 503 (others: closed at once)
CONNECTIONS_AT_MOST = 1000  # the default cap's ceiling: a thread each
FILE_HEADROOM = 64  # file descriptors the default cap leaves for anything but connections
ACCEPT_POLL_SECONDS = 0.25  # how often the accept loop looks at the stop flag
LINGER_BYTES = 256 * 1024  # read (and drop) at most this much before closing after an error
LINGER_SECONDS = 1.0
# At the connection cap with no idle connection, an incomplete request this old is closed to
# make room (an honest one takes milliseconds to arrive); a younger one is left alone.
STALLED_SECONDS = 1.0
_ACCEPT_RESOURCE_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


@dataclass(frozen=True)
class Limits:
    """What one request and one server may use. Sizes in bytes, times in seconds."""

    request_line: int = 8192
    header_bytes: int = 32768  # all header lines of one request together
    header_count: int = 100
    body: int = 1024 * 1024
    # What all request bodies being read or handled may take at once (a stream holds its
    # own until it ends): the bytes as they arrive, then an estimate of them parsed
    # (parsed_cost); one client address at most half of it (so one 1 MiB body of 60,000
    # fields, ~12.6 MB parsed, still fits). This is what keeps the
    # server's memory bounded whatever a client sends; lesson bodies are under 3 kB.
    bodies_in_flight: int = 32 * 1024 * 1024
    idle_seconds: float = 30  # waiting for a request (the first, or the next on keep-alive)
    head_seconds: float = 10  # from a request's first byte to the end of its headers
    body_seconds: float = 30  # from the end of the headers to the end of the body
    write_seconds: float = 30  # a client that stops reading an answer
    connections: int = None  # None: from the process's file-descriptor limit
    # Incomplete requests ("half-open": the first byte came, the head or body is still
    # arriving), from one client address and from all together (None: half
    # the connection cap, at least 16). An honest request is in that state for
    # milliseconds; one that stalls there is the cheapest way to hold a connection, so past
    # either bound the oldest such request (of that address, or of all) is closed to make
    # room. The bound per address is generous because a whole room behind one NAT shares
    # one address; it applies to incomplete requests only, never to requests being
    # answered or to idle keep-alive connections.
    incomplete_per_address: int = 64
    incomplete: int = None


def file_limit():
    """The process's open-file (descriptor) limit, None where there is none to read."""
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):  # no resource module (Windows)
        return None
    return None if soft == resource.RLIM_INFINITY else soft


def open_descriptors():
    """How many file descriptors the process has open now (0 where that cannot be read)."""
    for folder in ("/proc/self/fd", "/dev/fd"):  # Linux; macOS and the BSDs
        try:
            return len(os.listdir(folder))
        except OSError:
            pass
    return 0


def default_connection_cap(limit=None, in_use=None):
    """One descriptor per connection: what the open-file limit leaves after the descriptors
    open now, the connections answered 503 past the cap and FILE_HEADROOM (files, the
    control token, a notebook kernel's own), between 8 and CONNECTIONS_AT_MOST."""
    limit = limit or file_limit() or 512  # no limit to read (Windows): a modest guess
    in_use = open_descriptors() if in_use is None else in_use
    return max(8, min(CONNECTIONS_AT_MOST, limit - in_use - REFUSING_THREADS - FILE_HEADROOM))


def address_reuse_option(os_name=os.name):
    """The option that lets a restarted server listen on its port at once. SO_REUSEADDR
    means that on Linux and macOS (bind despite old connections in TIME_WAIT), but on
    Windows it lets a second server bind the same port; there SO_EXCLUSIVEADDRUSE keeps
    the port to this one (and Windows needs nothing to rebind after a restart)."""
    return "SO_EXCLUSIVEADDRUSE" if os_name == "nt" else "SO_REUSEADDR"


def address_group(host):
    """Whom a limit per client counts together: one address, an IPv4 one also when written
    ::ffff:a.b.c.d. (Not an IPv6 /64, as servers on the internet count: in a room every
    attendee's machine is in the same /64, that of the room's network.)"""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def log(message):
    """One line on stderr: the server's only output about itself while it runs."""
    print(f"glm_offline: {message}", file=sys.stderr, flush=True)


class FramingError(Exception):
    """The request cannot be read as HTTP/1.1: answered with `status`, then the connection
    is closed (what follows on it cannot be trusted to start a request)."""

    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, tuple(headers)


class NoAnswer(Exception):
    """The app's action returned without answering: a bug, answered 500 (as uvicorn does)."""


class ClientGone(ConnectionError):
    """The client closed its side before the request was complete."""


class Headers:
    """A request's header fields, looked up case-insensitively; missing names give None."""

    def __init__(self, pairs=()):
        self._pairs = list(pairs)
        self._by_name = {}
        for name, value in self._pairs:
            self._by_name.setdefault(name.lower(), []).append(value)

    def get(self, name, default=None):
        values = self._by_name.get(name.lower())
        return values[0] if values else default

    __getitem__ = get

    def get_all(self, name):
        return list(self._by_name.get(name.lower(), ()))

    def __contains__(self, name):
        return name.lower() in self._by_name

    def items(self):
        return list(self._pairs)


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


def parsed_cost(body):
    """Memory a JSON body takes once parsed, checked, matched (a strict miss explained) and
    answered, on top of its bytes: an upper estimate, measured on hostile shapes (a megabyte
    of "[]," is ~50 MB parsed, of "1.5," ~15 MB, of prose ~6 MB with its copies). Every body
    here is JSON; one that is not costs less. tests/test_server_http.py checks the estimate."""
    return 6 * len(body) + 150 * (body.count(b"[") + body.count(b"{")) + 110 * body.count(b",")


class ByteBudget:
    """What all connections together may hold in request bodies at once: their bytes, and
    once read, the estimate of them parsed (parsed_cost); and what the connections of one
    client (address_group) may hold of it, `share`: half, so that one attendee who sends
    big bodies slowly cannot hold it all."""

    def __init__(self, limit):
        self.limit, self.share, self.used = limit, limit // 2, 0
        self._used_by = Counter()
        self._lock = threading.Lock()

    def take(self, size, client):
        with self._lock:
            if self.used + size > self.limit or self._used_by[client] + size > self.share:
                return False
            self.used += size
            self._used_by[client] += size
            return True

    def give(self, size, client):
        with self._lock:
            self.used -= size
            self._used_by[client] -= size
            if not self._used_by[client]:
                del self._used_by[client]


def _list_values(headers, name):
    """A comma-separated header's elements, from every line of it, stripped, empties dropped."""
    return [part.strip() for value in headers.get_all(name) for part in value.split(",")
            if part.strip()]


class Handler:
    """One client connection: reads requests one after another and answers each."""

    def __init__(self, server, sock, address, number, refuse=False):
        self.server = server
        self.owner = server.owner
        self.limits = server.limits
        self.connection = sock
        self.client_address = address
        self.attendee = address_group(address[0])  # per-client limits count by this
        self.connection_number = number
        self.refuse = refuse  # past the connection cap: answer 503 and close
        self._reader = _SocketReader(sock)
        self.rfile = io.BufferedReader(self._reader, 65536)
        self.close_connection = False
        self.evicted = False
        self._reset()

    def _reset(self):
        self.command, self.path, self.request_path, self.request_version = "", "", "", ""
        self.headers = Headers()
        self.exchange = None
        self._published = False
        self._head_sent = False
        self._chunked = True
        self._body_size = 0

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
            if self.close_connection and not self.evicted and self.owner.running:
                self._linger()
            self.connection.close()
        except OSError:
            pass
        self.server.connection_closed(self)

    def _linger(self):
        """After an error, read what the client is still sending before closing: closing with
        unread data sends a TCP reset, which can destroy the answer before the client reads it."""
        self.connection.shutdown(socket.SHUT_WR)
        self._reader.deadline = time.monotonic() + LINGER_SECONDS
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
        idle = 2.0 if self.refuse else self.limits.idle_seconds
        self._reader.deadline = time.monotonic() + idle
        self.server.set_idle(self, True)
        try:
            first = self.rfile.peek(1)
        except (TimeoutError, ConnectionError):
            return False
        finally:
            self.server.set_idle(self, False)
        if not first or self.evicted:
            return False
        self._reader.deadline = time.monotonic() + (2.0 if self.refuse else
                                                    self.limits.head_seconds)
        if not self.refuse:
            self.server.set_incomplete(self, True)
        try:
            try:
                if not self._read_head():
                    return False
                if self.refuse:
                    raise FramingError(503, f"the server is at its limit of {self.server.cap} "
                                       "connections; try again in a moment",
                                       [("Retry-After", "1")])
                self.exchange = Exchange(self.connection_number, self.command, self.request_path)
                body = self._read_body()
                self.server.set_incomplete(self, False)
            except FramingError as error:
                self._reject(error)
                return False
            except TimeoutError:
                self._reject(FramingError(408, "the request was not received in time"))
                return False
            except ConnectionError:
                return False
            except Exception as exc:  # noqa: BLE001 (a bug in reading: answer 500, one line)
                log(f"internal error reading a request on connection {self.connection_number}: "
                    f"{type(exc).__name__}: {exc}")
                self._reject(FramingError(500, "internal error in the recorded server "
                                          f"({type(exc).__name__}); see its console"),
                             outcome="server_error")
                return False
            self._dispatch(body)
        finally:
            self.server.set_incomplete(self, False)
            self.server.budget.give(self._body_size, self.attendee)
        return not self.close_connection

    # -- reading a request ---------------------------------------------------------------
    def _read_line(self, limit, too_long):
        line = self.rfile.readline(limit + 1)
        if not line.endswith(b"\n"):
            if len(line) > limit:
                raise FramingError(*too_long)
            raise FramingError(400, "the request ended before its headers did")
        return line[:-2] if line.endswith(b"\r\n") else line[:-1]

    def _read_head(self):
        """Request line and header fields; False for a connection that sends only blank lines."""
        for _ in range(4):  # RFC 9112 2.2: ignore blank lines before a request line
            line = self.rfile.readline(self.limits.request_line + 1)
            if not line:
                return False
            if line not in (b"\r\n", b"\n"):
                break
        else:
            return False
        if not line.endswith(b"\n"):
            if len(line) > self.limits.request_line:
                raise FramingError(414, f"request line over {self.limits.request_line} bytes")
            raise FramingError(400, "the request ended before its request line did")
        self._parse_request_line(line.rstrip(b"\r\n"))
        self.headers = self._read_fields(self.limits.header_bytes, "header")
        hosts = self.headers.get_all("Host")
        if self.request_version == "HTTP/1.1" and len(hosts) != 1:
            raise FramingError(400, "an HTTP/1.1 request needs exactly one Host header")
        tokens = [t.lower() for t in _list_values(self.headers, "Connection")]
        if self.request_version == "HTTP/1.1":
            self.close_connection = "close" in tokens
        else:
            self.close_connection = "keep-alive" not in tokens
        return True

    def _parse_request_line(self, line):
        if not line.isascii() or b"\r" in line:
            raise FramingError(400, "the request line must be ASCII text")
        parts = line.decode("ascii").split(" ")
        if len(parts) != 3 or not all(parts):
            raise FramingError(400, "the request line must be: METHOD /path HTTP/1.1")
        method, target, version = parts
        match = _VERSION.fullmatch(version)
        if not _TOKEN.fullmatch(method.encode()) or not match:
            raise FramingError(400, "the request line must be: METHOD /path HTTP/1.1")
        if match.group(1) != "1":
            raise FramingError(505, f"{version} is not supported here; use HTTP/1.1")
        self.request_version = "HTTP/1.0" if match.group(2) == "0" else "HTTP/1.1"
        self.command = method
        if method not in METHODS:
            raise FramingError(501, f"method {method} is not implemented")
        if target.startswith(("http://", "https://")):  # absolute-form: keep path and query
            rest = target.split("://", 1)[1]
            target = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        elif not (target.startswith("/") or (target == "*" and method == "OPTIONS")):
            raise FramingError(400, "the request target must be a path starting with /")
        self.path = target
        self.request_path = target.split("?", 1)[0].split("#", 1)[0]

    def _read_fields(self, budget, what):
        """Header (or trailer) fields up to the blank line, strictly (RFC 9112 section 5)."""
        pairs = []
        too_long = (431, f"request {what}s over {budget} bytes")
        while True:
            line = self._read_line(budget, too_long)
            budget -= len(line) + 2
            if not line:
                return Headers(pairs)
            if budget < 0:
                raise FramingError(*too_long)
            if len(pairs) >= self.limits.header_count:
                raise FramingError(431, f"more than {self.limits.header_count} {what} fields")
            if line[:1] in (b" ", b"\t"):
                raise FramingError(400, f"a {what} line starts with whitespace (obsolete folding)")
            name, colon, value = line.partition(b":")
            if not colon or not name:
                raise FramingError(400, f"a {what} line has no 'name:' part")
            if not _TOKEN.fullmatch(name):
                if name.rstrip(b" \t") != name:
                    raise FramingError(400, f"whitespace before the colon of a {what} name")
                raise FramingError(400, f"a {what} name has characters a name cannot have")
            value = value.strip(b" \t")
            if b"\r" in value or b"\0" in value:
                raise FramingError(400, f"a {what} value contains CR or NUL")
            pairs.append((name.decode("ascii"), value.decode("latin-1")))

    def _read_body(self):
        codings = [c.lower() for c in _list_values(self.headers, "Transfer-Encoding")]
        lengths = _list_values(self.headers, "Content-Length")
        if codings and lengths:
            raise FramingError(400, "a request cannot have both Transfer-Encoding and "
                               "Content-Length")
        if codings:
            if codings[-1] != "chunked":
                raise FramingError(400, "Transfer-Encoding must end with chunked")
            if codings != ["chunked"]:
                raise FramingError(501, "only the chunked transfer coding is supported")
            if self.request_version == "HTTP/1.0":
                self.close_connection = True  # RFC 9112 6.1: faulty framing in HTTP/1.0
            self._continue()
            self._reader.deadline = time.monotonic() + self.limits.body_seconds
            return self._read_chunked()
        if not lengths:
            return b""
        if not all(n.isascii() and n.isdigit() for n in lengths):
            raise FramingError(400, "Content-Length must be a whole number")
        if len({n.lstrip("0") for n in lengths}) > 1:
            raise FramingError(400, "conflicting Content-Length values")
        digits = lengths[0].lstrip("0") or "0"
        if len(digits) > 15 or int(digits) > self.limits.body:
            raise FramingError(413, f"request body over {self.limits.body} bytes")
        size = int(digits)
        if not size:
            return b""
        self._could_fit(size)
        self._continue()
        self._reader.deadline = time.monotonic() + self.limits.body_seconds
        body = self._read_counted(size, "the client closed before sending the whole body")
        self._take_budget(parsed_cost(body))
        return body

    def _read_counted(self, size, gone):
        """`size` bytes of body, each piece taken from the budget as it arrives (as nginx and
        h11 count): a size declared and never sent holds nothing, until the body deadline."""
        pieces = []
        while size:
            data = self.rfile.read1(min(size, 65536))
            if not data:
                raise ClientGone(gone)
            self._take_budget(len(data))
            pieces.append(data)
            size -= len(data)
        return b"".join(pieces)

    def _could_fit(self, size):
        if size > self.server.budget.share:  # would never fit: waiting cannot help
            raise FramingError(413, "request body too large or too complex for this server "
                               f"(parsed, it would take about {size // 2**20 + 1} MB)")

    def _take_budget(self, size):
        self._could_fit(self._body_size + size)
        if not self.server.budget.take(size, self.attendee):
            raise FramingError(503, "the server is reading too many large request bodies at "
                               "once; try again in a moment", [("Retry-After", "1")])
        self._body_size += size

    def _continue(self):
        expect = (self.headers.get("Expect") or "").lower()
        if expect == "100-continue" and self.request_version == "HTTP/1.1":
            self.connection.settimeout(self.limits.write_seconds)
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _read_chunked(self):
        pieces, total = [], 0
        while True:
            line = self._read_line(1024, (400, "a chunk-size line over 1024 bytes"))
            size_text = line.split(b";", 1)[0].strip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise FramingError(400, "malformed chunked request body")
            size = int(size_text, 16)
            if total + size > self.limits.body:
                raise FramingError(413, f"request body over {self.limits.body} bytes")
            if size == 0:
                self._read_fields(8192, "trailer")
                body = b"".join(pieces)
                self._take_budget(parsed_cost(body))
                return body
            data = self._read_counted(size, "the client closed in the middle of a chunk")
            if self._read_line(2, (400, "a chunk is longer than its size says")) != b"":
                raise FramingError(400, "a chunk is longer than its size says")
            pieces.append(data)
            total += size

    # -- answering -----------------------------------------------------------------------
    def _dispatch(self, body):
        try:
            try:
                route = self.owner.app.route(self.command, self.request_path)
                route(self, self.request_path, body)
                if not (self._head_sent or self.evicted):  # neither answered nor cut: a bug
                    raise NoAnswer(f"{self.command} {self.exchange.path} gave no answer")
            except APIError as error:
                # An error may say more in headers, e.g. what a 405 allows (RFC 9110 15.5.6).
                self.send_error(error, getattr(error, "headers", ()))
        except (ConnectionError, TimeoutError):  # the client left, also while sending an error
            self.close_connection = True
            self.exchange.outcome = "client_closed"
        except Exception as exc:  # noqa: BLE001 (a bug here: answer 500, say so in one line)
            self.close_connection = True
            log(f"internal error: {exc}" if isinstance(exc, NoAnswer) else
                f"internal error answering {self.command} {self.exchange.path}: "
                f"{type(exc).__name__}: {exc}")
            self.exchange.outcome = "server_error"
            if not self._head_sent:
                try:
                    self.send_error(http_error(500, "internal error in the recorded server "
                                               f"({type(exc).__name__}); see its console"))
                except OSError:
                    pass
            else:
                self.abort()
        finally:
            self._publish()

    def _reject(self, error, outcome="rejected"):
        """Answer a request that could not be read, then close (quietly if it was closed to
        make room: its end was not the client's doing, and no answer can reach it)."""
        self.close_connection = True
        if self.evicted:
            return
        if self.exchange is None:
            self.exchange = Exchange(self.connection_number, self.command, self.request_path)
        self.exchange.outcome = outcome
        try:
            self.send_error(http_error(error.status, error.message), error.headers)
        except OSError:
            pass
        self._publish()

    def _publish(self):
        """Put the exchange in the server's history (once): before the last byte is written,
        so whoever has read the whole answer finds it there."""
        if not self._published and self.exchange is not None:
            self._published = True
            self.owner.record(self.exchange)
            if self.owner.verbose:
                log(f"{self.client_address[0]} {self.command} {self.exchange.path} "
                    f"{self.exchange.status} {self.exchange.source}")

    def english(self):
        """Whether error messages are to be in English for this request."""
        return self.owner.english_for(self.headers)

    def send_error(self, error, headers=()):
        self.send_json(error.status, error_body(error, self.english()), "error", headers)

    def send_json(self, status, obj, source="", headers=()):
        self.exchange.source = source or self.exchange.source
        self.send_bytes(status, JSON_CONTENT_TYPE, dumps(obj).encode("utf-8"), headers)

    def _head(self, status, fields):
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        lines = [f"HTTP/1.1 {status} {reason}", "Server: glm-offline",
                 f"Date: {formatdate(usegmt=True)}",
                 "X-Content-Type-Options: nosniff"]  # browsers never guess HTML from a body
        lines += [f"{name}: {value}" for name, value in fields]
        if self.close_connection:
            lines.append("Connection: close")
        self._head_sent = True
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, data):
        self.connection.settimeout(self.limits.write_seconds)
        self.connection.sendall(data)

    def send_bytes(self, status, content_type, data, headers=()):
        self.exchange.status = status
        fields = [("Content-Type", content_type)] if content_type else []
        head = self._head(status, [*fields, ("Content-Length", str(len(data))), *headers])
        self._publish()
        self._send(head if self.command == "HEAD" else head + data)

    def start_chunked(self, status, content_type, headers=()):
        """Start a body of unknown length: chunked, or for an HTTP/1.0 client, which cannot
        read chunked (RFC 9112 7.1), ended by closing the connection."""
        self.exchange.status = status
        self._chunked = self.request_version != "HTTP/1.0"
        if not self._chunked:
            self.close_connection = True
        framing = [("Transfer-Encoding", "chunked")] if self._chunked else []
        self._send(self._head(status, [("Content-Type", content_type), *framing,
                                       ("Cache-Control", "no-cache"), *headers]))

    def write_chunk(self, data):
        if data:
            self._send(b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data)

    def end_chunked(self):
        self._publish()
        if self._chunked:
            self._send(b"0\r\n\r\n")

    def abort(self):
        """Cut the connection without ending the body, as a failing network would."""
        self.close_connection = True
        self.evicted = True  # nothing to linger for
        self._publish()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def error_body(error, english):
    """The error's GLM body in the language asked for."""
    return error.body(english=english)


class HTTPServer:
    """The listening socket, the accept loop and the connections, capped."""

    def __init__(self, owner, host, port, limits):
        self.owner, self.limits = owner, limits
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            reuse = getattr(socket, address_reuse_option(), None)
            if reuse is not None:
                self.listener.setsockopt(socket.SOL_SOCKET, reuse, 1)
            if family == socket.AF_INET6 and host == "::":  # also IPv4, as ::ffff:a.b.c.d
                self.listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            self.listener.bind((host, port))
            self.listener.listen(socket.SOMAXCONN)
        except OSError:
            self.listener.close()
            raise
        self.listener.settimeout(ACCEPT_POLL_SECONDS)
        self.port = self.listener.getsockname()[1]
        self.cap = limits.connections or default_connection_cap()
        self.incomplete_cap = limits.incomplete or max(self.cap // 2, min(self.cap, 16))
        self.budget = ByteBudget(limits.bodies_in_flight)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # any connection's state changed
        self._handlers = set()  # counted against the cap
        self._idle = {}  # handlers waiting for a request, oldest first
        self._incomplete = {}  # handlers reading a request's head or body -> since when
        self._incomplete_from = Counter()  # their number per attendee (address_group)
        self._refusing = set()
        self._numbers = iter(range(1, sys.maxsize))
        self.peak_connections = 0
        self.accepted = 0  # connections accepted so far
        self._last_resource_log = 0.0

    def serve_forever(self, stopping):
        while not stopping.is_set():
            try:
                sock, address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if stopping.is_set():
                    break
                # Out of file descriptors (or memory): wait instead of retrying in a busy loop.
                if time.monotonic() - self._last_resource_log > 10:
                    self._last_resource_log = time.monotonic()
                    what = "out of file descriptors" if exc.errno in _ACCEPT_RESOURCE_ERRORS \
                        else "accept failed"
                    log(f"{what} ({exc.strerror or exc}); new connections wait")
                stopping.wait(0.1)
                continue
            if stopping.is_set():  # woken by wake(), or a client just as the server stops
                sock.close()
                break
            self._admit(sock, address)

    def wake(self):
        """Make a waiting accept() return now, so that stopping takes no poll interval."""
        host = self.listener.getsockname()[0]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        try:
            socket.create_connection((host, self.port), timeout=0.5).close()
        except OSError:
            pass  # the accept loop sees the stop flag within ACCEPT_POLL_SECONDS anyway

    def _admit(self, sock, address):
        with self._lock:
            number = next(self._numbers)
            self.accepted = number
            if len(self._handlers) >= self.cap:
                oldest = next(iter(self._incomplete), None)
                if self._idle:
                    self._evict(next(iter(self._idle)))
                elif oldest and time.monotonic() - self._incomplete[oldest] > STALLED_SECONDS:
                    self._evict(oldest)
            if len(self._handlers) < self.cap:
                handler = Handler(self, sock, address, number)
                self._handlers.add(handler)
                self.peak_connections = max(self.peak_connections, len(self._handlers))
            elif len(self._refusing) < REFUSING_THREADS:
                handler = Handler(self, sock, address, number, refuse=True)
                self._refusing.add(handler)
            else:
                handler = None
            self._changed.notify_all()
        if handler is None:  # far past the cap: a refused connection, at once
            sock.close()
            return
        try:
            # _thread, not threading.Thread: Thread.start() waits until the new thread runs,
            # a hand-off per connection that, under load, delayed a burst of 100 clients.
            _thread.start_new_thread(handler.run, ())
        except RuntimeError:  # cannot start a thread: the machine is out of resources
            sock.close()
            self.connection_closed(handler)

    def _evict(self, handler):
        """Close an idle keep-alive connection (its client reconnects) or a stalled incomplete
        request to make room."""
        self._idle.pop(handler, None)
        self._forget_incomplete(handler)
        self._handlers.discard(handler)
        handler.evicted = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def set_idle(self, handler, idle):
        with self._lock:
            if idle and handler in self._handlers:
                self._idle[handler] = None
            else:
                self._idle.pop(handler, None)
            self._changed.notify_all()

    def set_incomplete(self, handler, incomplete):
        """A request started arriving on `handler` (past the bounds on incomplete requests,
        the oldest of its address, or of all, is closed), or it has arrived (or failed)."""
        with self._lock:
            if not incomplete:
                self._forget_incomplete(handler)
                return
            if handler not in self._handlers or handler in self._incomplete:
                return
            attendee = handler.attendee
            if self._incomplete_from[attendee] >= self.limits.incomplete_per_address:
                self._evict(next(h for h in self._incomplete if h.attendee == attendee))
            elif len(self._incomplete) >= self.incomplete_cap:
                self._evict(next(iter(self._incomplete)))
            self._incomplete[handler] = time.monotonic()
            self._incomplete_from[attendee] += 1

    def _forget_incomplete(self, handler):
        if self._incomplete.pop(handler, None) is not None:
            self._incomplete_from[handler.attendee] -= 1
            if not self._incomplete_from[handler.attendee]:
                del self._incomplete_from[handler.attendee]

    def connection_closed(self, handler):
        with self._lock:
            self._handlers.discard(handler)
            self._refusing.discard(handler)
            self._idle.pop(handler, None)
            self._forget_incomplete(handler)
            self._changed.notify_all()

    @property
    def connections(self):
        with self._lock:
            return len(self._handlers)

    @property
    def incomplete_requests(self):
        with self._lock:
            return len(self._incomplete)

    def wait_until(self, condition, timeout):
        """Wait until condition(open, idle) (connection counts) holds; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: condition(len(self._handlers), len(self._idle)), timeout)

    def close(self):
        """Stop listening and cut every connection."""
        self.listener.close()
        with self._lock:
            handlers = list(self._handlers | self._refusing)
        for handler in handlers:
            handler.evicted = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

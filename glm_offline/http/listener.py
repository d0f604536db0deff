"""The listening socket, the accept loop and the connections, capped.

One thread per connection (at most `cap` of them, plus REFUSING_THREADS that only answer 503
when the cap is reached: the Refusal app). A connection is idle (waiting for a request: closed
first to make room at the cap), incomplete (a request arriving: bounded per client address and
in all, see Limits; a stalled one is closed to make room) or busy (being answered: never closed
to make room)."""

import _thread
import errno
import os
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import replace

from .connection import Connection, States
from .limits import REFUSING_THREADS, ByteBudget, default_connection_cap, log

ACCEPT_POLL_SECONDS = 0.25  # how often the accept loop looks at the stop flag
REFUSING_SECONDS = 2.0  # a refused connection's deadline for its request's head
# At the connection cap with no idle connection, an incomplete request this old is closed to
# make room (an honest one takes milliseconds to arrive); a younger one is left alone.
STALLED_SECONDS = 1.0
# ... or at any age when its address holds more incomplete requests than this: an address
# opening them faster than they can stall (a loop of one-byte heads) pays for its own.
CROWDED_INCOMPLETE = 8
# close() waits this long for the connections' threads: a cut connection's thread ends within
# milliseconds, unless it is blocked on something else (the recorder's upstream read), which
# close() cannot cut and does not wait out.
CLOSE_WAIT_SECONDS = 1.0
_ACCEPT_RESOURCE_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def address_reuse_option(os_name=os.name):
    """The option that lets a restarted server listen on its port at once. SO_REUSEADDR
    means that on Linux and macOS (bind despite old connections in TIME_WAIT), but on
    Windows it lets a second server bind the same port; there SO_EXCLUSIVEADDRUSE keeps
    the port to this one (and Windows needs nothing to rebind after a restart)."""
    return "SO_EXCLUSIVEADDRUSE" if os_name == "nt" else "SO_REUSEADDR"


class Refusal:
    """The app of a connection past the cap: a 503 with Retry-After once its request's head
    has come (its body is not read), then the connection closes."""

    reads_body = False

    def __init__(self, cap, error):
        self.cap, self.error = cap, error

    def __call__(self, handler, body):
        handler.close_connection = True
        handler.exchange.outcome = "rejected"
        handler.send_error(self.error(503, f"the server is at its limit of {self.cap} "
                                      "connections; try again in a moment"),
                           [("Retry-After", "1")])


def _listening_socket(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        reuse = getattr(socket, address_reuse_option(), None)
        if reuse is not None:
            listener.setsockopt(socket.SOL_SOCKET, reuse, 1)
        if family == socket.AF_INET6 and host == "::":  # also IPv4, as ::ffff:a.b.c.d
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind((host, port))
        listener.listen(socket.SOMAXCONN)
    except OSError:
        listener.close()
        raise
    listener.settimeout(ACCEPT_POLL_SECONDS)
    return listener


class Listener:
    """Accepts connections on host:port and runs each with `site` (connection.Site) within
    `limits`, at most `cap` at once; what all request bodies hold is bounded by `budget`."""

    def __init__(self, host, port, limits, site):
        self.limits, self.site = limits, site
        self.listener = _listening_socket(host, port)
        self.port = self.listener.getsockname()[1]
        self.cap = limits.connections or default_connection_cap()
        self.incomplete_cap = limits.incomplete or max(self.cap // 2, min(self.cap, 16))
        self.budget = ByteBudget(limits.bodies_in_flight)
        self._stopping = threading.Event()  # serve_forever's, once it runs
        self._states = States(self.set_idle, self.set_incomplete, self.connection_closed,
                              lambda: self._stopping.is_set())
        self._refusal_site = replace(site, app=Refusal(self.cap, site.error))
        self._refusal_limits = replace(limits, idle_seconds=REFUSING_SECONDS,
                                       head_seconds=REFUSING_SECONDS)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # any connection's state changed
        self._handlers = set()  # counted against the cap
        self._idle = {}  # handlers waiting for a request, oldest first
        self._incomplete = {}  # handlers reading a request's head or body -> since when
        self._incomplete_from = Counter()  # their number per attendee (address_group)
        self._refusing = set()
        self._live = set()  # every connection whose thread has not ended (evicted ones too)
        self._numbers = iter(range(1, sys.maxsize))
        self.peak_connections = 0
        self.accepted = 0  # connections accepted so far
        self._last_resource_log = 0.0

    def serve_forever(self, stopping):
        self._stopping = stopping
        while not stopping.is_set():
            try:
                sock, address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if stopping.is_set():
                    break
                self._accept_failed(exc)
                stopping.wait(0.1)  # out of file descriptors (or memory): no busy loop
                continue
            if stopping.is_set():  # woken by wake(), or a client just as the server stops
                sock.close()
                break
            self._admit(sock, address)

    def _accept_failed(self, exc):
        if time.monotonic() - self._last_resource_log > 10:
            self._last_resource_log = time.monotonic()
            what = "out of file descriptors" if exc.errno in _ACCEPT_RESOURCE_ERRORS \
                else "accept failed"
            log(f"{what} ({exc.strerror or exc}); new connections wait")

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
                self._make_room()
            if len(self._handlers) < self.cap:
                handler = Connection(sock, address, number, self.limits, self.site,
                                     self.budget, self._states)
                self._handlers.add(handler)
                self.peak_connections = max(self.peak_connections, len(self._handlers))
            elif len(self._refusing) < REFUSING_THREADS:
                handler = Connection(sock, address, number, self._refusal_limits,
                                     self._refusal_site, self.budget, self._states)
                self._refusing.add(handler)
            else:
                handler = None
            self._changed.notify_all()
        if handler is None:  # far past the cap: a refused connection, at once
            sock.close()
            return
        with self._lock:
            self._live.add(handler)
        try:
            # _thread, not threading.Thread: Thread.start() waits until the new thread runs,
            # a hand-off per connection that, under load, delayed a burst of 100 clients.
            _thread.start_new_thread(handler.run, ())
        except RuntimeError:  # cannot start a thread: the machine is out of resources
            sock.close()
            self.connection_closed(handler)

    def _make_room(self):
        """At the cap: close an idle connection, else a stalled or crowding incomplete one."""
        oldest, idle = self._oldest_incomplete(), self._evictable_idle()
        if idle:
            self._evict(idle)
        elif oldest and (time.monotonic() - self._incomplete[oldest] > STALLED_SECONDS
                         or self._incomplete_from[oldest.attendee] > CROWDED_INCOMPLETE):
            self._evict(oldest)

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
                self._idle[handler] = time.monotonic()
            else:
                self._idle.pop(handler, None)
            self._changed.notify_all()

    def set_incomplete(self, handler, incomplete):
        """A request started arriving on `handler` (past the bounds on incomplete requests,
        the oldest of its address, or of the address holding the most, is closed), or it has
        arrived (or failed). Refused connections are not counted."""
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
                self._evict(self._oldest_incomplete())
            self._incomplete[handler] = time.monotonic()
            self._incomplete_from[attendee] += 1

    def _evictable_idle(self):
        """The oldest idle connection that may be closed to make room (None if there is none):
        one that has been answered and waits for its next request, or one that has waited
        for its first byte longer than STALLED_SECONDS. A connection accepted a moment ago
        is left alone: its client's request is usually on its way."""
        now = time.monotonic()
        return next((handler for handler, since in self._idle.items()
                     if handler.answered or now - since > STALLED_SECONDS), None)

    def _oldest_incomplete(self):
        """The oldest incomplete request of the address that holds the most of them (None if
        there is none): one address holding many pays for them, not a lone honest client
        whose request is a few milliseconds from complete."""
        if not self._incomplete:
            return None
        heaviest = max(self._incomplete_from, key=self._incomplete_from.get)
        return next(h for h in self._incomplete if h.attendee == heaviest)

    def _forget_incomplete(self, handler):
        if self._incomplete.pop(handler, None) is not None:
            self._incomplete_from[handler.attendee] -= 1
            if not self._incomplete_from[handler.attendee]:
                del self._incomplete_from[handler.attendee]

    def connection_closed(self, handler):
        with self._lock:
            self._handlers.discard(handler)
            self._refusing.discard(handler)
            self._live.discard(handler)
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

    def close(self, timeout=CLOSE_WAIT_SECONDS):
        """Stop listening, cut every connection, and wait (at most `timeout`) until every
        connection's thread has ended, so that none answers or publishes after close()."""
        self._stopping.set()
        self.listener.close()
        with self._lock:
            handlers = list(self._live)
        for handler in handlers:
            handler.evicted = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._changed:
            return self._changed.wait_for(lambda: not self._live, timeout)

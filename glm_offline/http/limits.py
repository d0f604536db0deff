"""What one request and one server may use: sizes, deadlines, the connection cap, the bytes
all request bodies may hold at once, and whom a limit per client counts together."""

import ipaddress
import os
import sys
import threading
from collections import Counter
from dataclasses import dataclass

REFUSING_THREADS = 32  # connections past the cap that still get a 503 (others: closed at once)
CONNECTIONS_AT_MOST = 1000  # the default cap's ceiling: a thread each
FILE_HEADROOM = 64  # file descriptors the default cap leaves for anything but connections


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
    # either bound the oldest such request (of that address, or of the address holding the
    # most) is closed to make room. The bound per address is generous because a whole room
    # behind one NAT shares one address; it applies to incomplete requests only, never to
    # requests being answered or to idle keep-alive connections.
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


def parsed_cost(body):
    """Memory a JSON body takes once parsed, checked, matched (a strict miss explained) and
    answered, on top of its bytes: an upper estimate, measured on hostile shapes (a megabyte
    of "[]," is ~50 MB parsed, of "1.5," ~15 MB, of prose ~6 MB with its copies). Every body
    here is JSON; one that is not costs less. tests/server/test_server_http.py checks the
    estimate."""
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

"""The recorded GLM server: start it, stop it, and what notebooks and tests use of it.

    with glm_offline.start() as server:
        requests.post(server.base_url + "/chat/completions",
                      headers={"Authorization": f"Bearer {server.api_key}"}, json=..., timeout=10)

Where each part lives: http/ (HTTP/1.1 framing, limits, the connection cap), routes.py
(which path does what: chat, async tasks, the control endpoint), streams.py (writing
replies), tasks.py (async tasks), faults.py (the fault table), control.py (the instructor's
control surface and its token), options.py (every option, in code and in the environment),
history.py (what the server saw), wire_page.py (the instructor's live "see the wire" page).
"""

import os
import signal
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .auth import Authenticator
from .cassettes import PACKAGE_CASSETTES, Library
from .control import ControlToken
from .faults import FaultQueue
from .history import Exchange, History
from .http import Limits, Listener, Site, log
from .key_kinds import DEFAULT_KEYS, KEYS
from .options import (
    STREAM_DEFAULTS,
    check_stream_options,
    in_process,
    server_options,
    stream_options_from_env,
)
from .routes import API_PREFIX, ReplayApp
from .streams import write_reply
from .tasks import TaskTable
from .wire import APIError, http_error


class Server:
    """A running recorded GLM server; see start()."""

    def __init__(self, host="127.0.0.1", port=0, *, cassette_dirs=None, strict=None,
                 english=None, max_in_flight=None, max_connections=None, limits=None,
                 api_keys=DEFAULT_KEYS, clock=time.time, verbose=False, app=None,
                 packaged_cassettes=True, **stream_options):
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ValueError(f"port must be a whole number from 0 to 65535, not {port!r}")
        self.host, self.port = host, port
        self.api_key = api_keys[0]
        self.verbose = verbose
        options = server_options({"strict": strict, "english": english,
                                  "max_in_flight": max_in_flight,
                                  "max_connections": max_connections})
        self.english = options["english"]
        self.limits = limits or Limits()
        if options["max_connections"]:
            self.limits = Limits(**{**self.limits.__dict__,
                                    "connections": options["max_connections"]})
        self.faults = FaultQueue()
        self.tasks = TaskTable()
        self.history = History()  # finished exchanges, in the order the requests arrived
        self.stream_options = {**STREAM_DEFAULTS, **stream_options_from_env(),
                               **check_stream_options(stream_options)}
        if app is not None:  # another app behind the same HTTP layer, e.g. record.RecordApp
            given = {"cassette_dirs": cassette_dirs is not None, "strict": strict is not None,
                     "max_in_flight": max_in_flight is not None,
                     "api_keys": tuple(api_keys) != DEFAULT_KEYS,
                     "clock": clock is not time.time,
                     "packaged_cassettes": packaged_cassettes is not True,
                     **{name: True for name in stream_options}}
            ignored = [name for name, passed in given.items() if passed]
            if ignored:
                raise ValueError(f"{', '.join(ignored)}: replay options, and this server runs "
                                 "another app (app=...) that would ignore them")
            self.app = app(self)
        else:
            # packaged_cassettes=False: only cassette_dirs, e.g. to check a new recording alone
            dirs = [*([PACKAGE_CASSETTES] if packaged_cassettes else []),
                    *cassette_folders(cassette_dirs)]
            self.app = ReplayApp(self, Library.from_dirs(dirs), Authenticator(api_keys, clock),
                                 options["strict"], options["max_in_flight"])
        self.control = None
        self._httpd = None
        self._thread = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self):
        with self._lock:
            if self._httpd is not None:
                raise RuntimeError(f"this server is already running at {self.base_url}")
            if self._stopping.is_set():
                raise RuntimeError("this server was stopped;"
                                   " call glm_offline.start() for a new one")
            try:
                httpd = Listener(self.host, self.port, self.limits, self._site())
            except (OSError, OverflowError) as exc:
                reason = getattr(exc, "strerror", None) or exc
                raise OSError(f"cannot listen on {self.host}:{self.port}: {reason}") from None
            self.port = httpd.port
            self.control = ControlToken(self.host, self.port)
            try:
                thread = threading.Thread(target=httpd.serve_forever, args=(self._stopping,),
                                          name=f"glm-offline:{self.port}", daemon=True)
                thread.start()
            except BaseException:  # no thread (or interrupted): nothing may stay behind
                self.control.remove()
                httpd.close()
                raise
            self._httpd, self._thread = httpd, thread
        return self

    def stop(self):
        """Stop serving, close every connection, and wait for the server thread. Idempotent."""
        with self._lock:
            httpd, self._httpd = self._httpd, None
            self._stopping.set()
        if httpd is None:
            return
        httpd.wake()
        self._thread.join(timeout=5)
        httpd.close()
        self.control.remove()
        close = getattr(self.app, "close", None)  # e.g. the recorder lets go of its file
        if close is not None:
            close()

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

    @property
    def connections(self):
        """Connections open now (0 when stopped)."""
        return self._httpd.connections if self._httpd else 0

    @property
    def connection_cap(self):
        """Connections open at most (max_connections, or from the open-file limit)."""
        return self._httpd.cap if self._httpd else None

    # -- what tests and lessons use ----------------------------------------------------
    def _replaying(self, what):
        if not isinstance(self.app, ReplayApp):
            raise TypeError(f"{what}: this server runs {type(self.app).__name__}, not the "
                            "replay server; only replies it makes itself can be changed")

    def inject(self, kind, times=1, **params):
        """Make the next `times` chat requests fail as `kind` (see glm_offline.faults.KINDS);
        "task_fail" makes the next async task end in FAIL."""
        self._replaying("inject()")
        return self.faults.add(kind, times, **params)

    def configure(self, **options):
        """Change how streams are written; returns the previous values."""
        self._replaying("configure()")
        check_stream_options(options)
        previous = {name: self.stream_options[name] for name in options}
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

    def offline_keys(self):
        """{kind: key}: the made-up key of each kind a server knows by default (key_kinds.py); the
        lessons try them through the server, so that live mode (LiveStandIn) sends none."""
        return dict(KEYS)

    def wait_for_exchanges(self, count, timeout=5):
        """server.history as a list once it holds `count` exchanges; TimeoutError otherwise.
        An exchange is there as soon as its client can have read the whole answer."""
        return self.history.wait_for(count, timeout)

    # -- what the HTTP layer and the apps call -----------------------------------------
    def _site(self):
        """What the HTTP layer answers with (the app, routed) and tells (the history)."""
        return Site(app=self._answer, error=http_error, exchange=Exchange,
                    publish=self._publish, english=self.english_for)

    def _answer(self, handler, body):
        try:
            self.app.route(handler.command, handler.request_path)(handler, handler.request_path,
                                                                  body)
        except APIError as error:
            # An error may say more in headers, e.g. what a 405 allows (RFC 9110 15.5.6).
            handler.send_error(error, getattr(error, "headers", ()))

    def _publish(self, handler):
        exchange = handler.exchange
        self.record(exchange)
        if self.verbose:
            log(f"{handler.client_address[0]} {handler.command} {exchange.path} "
                f"{exchange.status} {exchange.source}")

    def record(self, exchange):
        self.history.add(exchange)

    def english_for(self, headers):
        """English error messages: the server's option, or the request's Accept-Language."""
        return self.english or (headers.get("Accept-Language") or "").strip().lower()[:2] == "en"

    def wait(self, seconds):
        self._stopping.wait(seconds)

    def write_reply(self, handler, reply):
        write_reply(handler, reply, dict(self.stream_options), self.wait, self._stopping.is_set)


def cassette_folders(cassette_dirs):
    """cassette_dirs as a list of folders; TypeError for one path given alone (its letters
    would be read as folders), ValueError naming the folders that do not exist (a missing
    folder would serve none of its recordings, silently)."""
    if isinstance(cassette_dirs, (str, bytes, os.PathLike)):
        raise TypeError(f"cassette_dirs must be a list of folders, not one path: "
                        f"cassette_dirs=[{cassette_dirs!r}]")
    dirs = list(cassette_dirs or [])
    missing = [str(folder) for folder in dirs if not Path(folder).is_dir()]
    if missing:
        raise ValueError(f"no such folder: {', '.join(missing)} (in cassette_dirs; its "
                         "recordings could not be served)")
    return dirs


# Where a UDP "connect" points to find the address the machine would send from: nothing is
# sent. A public (documentation) address first, for the default route's interface; then one
# of each private range, so a room network without internet access (no default route) still
# gives its address.
ADDRESS_PROBES = ("198.51.100.1", "10.255.255.254", "172.31.255.254", "192.168.255.254")


def reachable_addresses(probes=ADDRESS_PROBES):
    """This machine's IPv4 addresses that other machines in a room can use (not loopback),
    found without network access; the machine's name is looked up last."""
    found = []
    for probe in probes:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.connect((probe, 9))
                found.append(udp.getsockname()[0])
        except OSError:  # no route to that range
            pass
    try:
        found += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None,
                                                            socket.AF_INET)]
    except OSError:
        pass
    return [a for a in dict.fromkeys(found) if not a.startswith(("127.", "0."))]


def stop_on_signals():
    """An Event that Ctrl-C (SIGINT) or SIGTERM sets from now on, instead of raising
    KeyboardInterrupt or ending the process: what a command installs before it makes anything
    it must undo (the control token's file), so that it always gets to undo it. A signal the
    process was started ignoring (nohup) stays ignored."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, lambda *_: stop.set())
    return stop


def wait_for_interrupt(stop=None):
    """Block until Ctrl-C or SIGTERM (until `stop`, from stop_on_signals(), is set), for the
    command line's long-running servers."""
    stop = stop or stop_on_signals()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


def start(host="127.0.0.1", port=0, **options):
    """Start a recorded GLM server in a background thread and return it (a context manager).

    Options: cassette_dirs, packaged_cassettes (False: only cassette_dirs' recordings, not
    the ones shipped in glm_offline/cassettes), strict, english (api.z.ai's English error
    messages; also per request with Accept-Language: en), max_in_flight (requests in
    progress per API key and client address, so per key on one machine; past it 429/1302
    at once), max_connections, limits
    (glm_offline.http.Limits), api_keys, clock, verbose, and the stream options
    chunking="event"|"hostile", line_ending="lf"|"crlf", charset=True|False,
    pacing="realistic"|"instant". Each also reads GLM_OFFLINE_<NAME> (see options.py).

    In the browser (or with GLM_OFFLINE_IN_PROCESS=1) there is no socket: the server is
    answered in-process through `requests` (inprocess.py), at a base URL of its own.
    """
    if in_process():
        from .inprocess import InProcessServer  # it builds on Server
        return InProcessServer(**options).start()
    return Server(host, port, **options).start()

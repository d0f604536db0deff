"""A lesson's setup in one line: the live/offline switch that lesson 01 teaches by hand.

    from glm_offline.lesson import connect

    BASE_URL, API_KEY, server = connect()

Offline (no ZHIPUAI_API_KEY): `server` is the kernel's recorded server, glm_offline.shared_server().
Live (ZHIPUAI_API_KEY set, ZHIPUAI_BASE_URL optional, the official SDK's variable names): `server`
is a stand-in whose offline-only demos (faults, stream options, the server's history) say in one
line that they need the offline server and then do nothing, so a lesson cell never branches.
"""

import contextlib
import os

from .server import shared_server

LIVE_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"
OFFLINE_LINE = "Mode: offline, recorded GLM responses from a local server (no key needed)"
LIVE_NOTE = "(live mode: {what} needs the offline server; run without ZHIPUAI_API_KEY to see it)"


def connect(environ=None):
    """(BASE_URL, API_KEY, server) for this kernel, after one line that says which mode is on."""
    environ = os.environ if environ is None else environ
    api_key = environ.get("ZHIPUAI_API_KEY", "").strip()
    if api_key:
        base_url = environ.get("ZHIPUAI_BASE_URL", "").strip() or LIVE_BASE_URL
        print("Mode: live, requests go to", host_of(base_url))
        return base_url, api_key, LiveStandIn(base_url)
    server = shared_server()  # one per kernel, however often the setup cell runs
    print(OFFLINE_LINE)
    return server.base_url, server.api_key, server


def host_of(base_url):
    """'https://open.bigmodel.cn/api/paas/v4' -> 'open.bigmodel.cn' (what the mode line shows)."""
    if "://" not in base_url:
        raise ValueError(f"ZHIPUAI_BASE_URL must start with http:// or https://, not {base_url!r}")
    return base_url.split("/")[2]


class LiveStandIn:
    """Stands where the recorded server would be in live mode: its offline-only methods print
    one line saying so and change nothing (the real API cannot be told to fail on purpose)."""

    running = True

    def __init__(self, base_url):
        self.base_url = base_url
        self.history = []  # the real API shows nobody what it saw; always empty

    def __repr__(self):
        return f"<live mode: requests go to {host_of(self.base_url)}; no offline server>"

    def _note(self, what):
        print(LIVE_NOTE.format(what=what))

    def inject(self, kind, times=1, **params):
        self._note(f"injecting {kind!r}")

    def configure(self, **options):
        self._note("changing how streams are written")
        return {}

    @contextlib.contextmanager
    def configured(self, **options):
        self.configure(**options)
        yield self

    def wait_for_exchanges(self, count, timeout=5):
        self._note("reading the server's history")
        return []

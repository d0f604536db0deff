"""A lesson's setup in one line: the live/offline switch that lesson 01 teaches by hand.

    from glm_lessons import connect

    BASE_URL, API_KEY, server = connect("en", lesson="02")   # connect("zh", ...) in Chinese

Offline (no ZHIPUAI_API_KEY, or GLM_OFFLINE=1 to ignore one): `server` is the kernel's recorded
server, shared_server(). The mode line says which mode is on and why.
Live (ZHIPUAI_API_KEY set, ZHIPUAI_BASE_URL optional, the official SDK's variable names): `server`
is a stand-in whose offline-only demos (faults, stream options, the server's history) say in one
line that they need the offline server and then do nothing, so a lesson cell never branches; and
an answer whose `model` differs from the request's gets one line saying so (model_watch); and a
call that cannot connect, or whose key is refused, ends in one line, not a traceback (live_errors).
In the browser edition (sys.platform "emscripten") there is no live mode: a web page may not
call the API (its answers carry no CORS headers), so a key is ignored, in one line, and the
server is answered in-process (glm_offline.start() makes one there; glm_offline/inprocess.py).
A web page's Python has no threads either: where none can start, connect() makes
concurrent.futures.ThreadPoolExecutor a stand-in that runs the work one call at a time and
says so in one line (browser/threads.py), so the lessons' thread pools run unchanged.
Offline, with `lesson`, a second line says where that lesson's recordings come from and when
they were last checked against the live API (recordings.py, from the cassettes' metadata).

Offline, connect() also points ZHIPUAI_API_KEY and ZHIPUAI_BASE_URL (in this process's
environment) at the recorded server, so a lesson's recipe cell, which reads those two variables
exactly as it would in a script run live, runs unchanged in the notebook. Whatever they held
before is kept and put back by the next connect(), each variable on its own (environment.py).
"""

import contextlib
import os
import re
import sys
import threading

import glm_offline
from glm_offline.options import parse_flag
from glm_offline.wire import LIVE_BASE_URL

from . import environment, live_errors, model_watch, recordings
from .browser import threads

LINES = {  # what connect() prints, in the lesson's language
    "en": {"offline": "Mode: offline (no ZHIPUAI_API_KEY set), recorded GLM responses "
                      "from a local server",
           "forced": "Mode: offline (GLM_OFFLINE={flag}, ZHIPUAI_API_KEY ignored), recorded GLM "
                     "responses from a local server",
           "live": "Mode: live (ZHIPUAI_API_KEY set; GLM_OFFLINE=1 goes back offline), "
                   "requests go to {host}",
           "note": "(live mode: {what} needs the offline server; "
                   "set GLM_OFFLINE=1 to see it)",
           "browser": "Mode: offline (the browser edition: a web page cannot call the live "
                      "API, so ZHIPUAI_API_KEY is ignored), recorded GLM responses "
                      "from an in-page server"},
    "zh": {"offline": "模式：离线（未设置 ZHIPUAI_API_KEY），由本地服务器回放录制好的 GLM 响应",
           "forced": "模式：离线（GLM_OFFLINE={flag}，已忽略 ZHIPUAI_API_KEY），"
                     "由本地服务器回放录制好的 GLM 响应",
           "live": "模式：在线（已设置 ZHIPUAI_API_KEY；设置 GLM_OFFLINE=1 可回到离线），"
                   "请求发往 {host}",
           "note": "（在线模式：{what}需要离线服务器；设置 GLM_OFFLINE=1 即可看到）",
           "browser": "模式：离线（浏览器版：网页无法调用在线 API，已忽略 ZHIPUAI_API_KEY），"
                      "由页面内的服务器回放录制好的 GLM 响应"},
}
WHAT = {  # the offline-only demos, named in the note
    "inject": {"en": "injecting a fault", "zh": "注入故障"},
    "configure": {"en": "changing how streams are written", "zh": "改变流的写法"},
    "history": {"en": "reading the server's history", "zh": "读取服务器的记录"},
    "offline_keys": {"en": "trying the made-up keys", "zh": "试用虚构的密钥"},
}


def connect(language="en", environ=None, lesson=None):
    """(BASE_URL, API_KEY, server) for this kernel, after one line that says which mode is on
    (offline, and given the lesson number "NN", a second one on the lesson's recordings)."""
    if language not in LINES:
        raise ValueError(f"language must be one of {sorted(LINES)}, not {language!r}")
    if lesson is not None and not (isinstance(lesson, str) and re.fullmatch(r"\d\d", lesson)):
        raise ValueError(f"lesson must be a two-digit lesson number like \"02\", not {lesson!r}")
    environ = os.environ if environ is None else environ
    environment.restore(environ)  # whatever an earlier offline connect() exported
    api_key = environ.get("ZHIPUAI_API_KEY", "").strip()
    flag = environ.get("GLM_OFFLINE", "").strip()  # 1/true/yes/on forces offline; 0/... not
    forced = bool(flag) and parse_flag("GLM_OFFLINE", flag)
    if api_key and not forced and sys.platform != "emscripten":
        base_url = environ.get("ZHIPUAI_BASE_URL", "").strip() or LIVE_BASE_URL
        print(LINES[language]["live"].format(host=host_of(base_url)))
        model_watch.watch(base_url, language)  # one line when an answer's model differs
        live_errors.watch(base_url, language)  # one line when a call cannot connect
        return base_url, api_key, LiveStandIn(base_url, language)
    model_watch.unwatch()
    live_errors.unwatch()
    server = shared_server()  # one per kernel, however often the setup cell runs
    if not threads.threads_available():  # a web page: its pools run one call at a time
        threads.use_in_order_pools(language)
    if api_key and sys.platform == "emscripten":  # browsers may not call the API (CORS)
        print(LINES[language]["browser"])
    else:
        print(LINES[language]["forced"].format(flag=flag) if api_key
              else LINES[language]["offline"])
    line = None if lesson is None else recordings.lesson_line(lesson, language)
    if line:
        print(line)
    environment.export(environ, server.api_key, server.base_url)
    return server.base_url, server.api_key, server


_shared = None
_shared_lock = threading.Lock()


def shared_server():
    """The recorded server a notebook kernel uses: started on first call, the same one
    afterwards (re-running a lesson's setup cell must not start a second server), and a new
    one if it was stopped."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = glm_offline.start()
        return _shared


def host_of(base_url):
    """'https://open.bigmodel.cn/api/paas/v4' -> 'open.bigmodel.cn' (what the mode line shows)."""
    if "://" not in base_url:
        raise ValueError(f"ZHIPUAI_BASE_URL must start with http:// or https://, not {base_url!r}")
    return base_url.split("/")[2]


class LiveStandIn:
    """Stands where the recorded server would be in live mode: its offline-only methods print
    one line saying so and change nothing (the real API cannot be told to fail on purpose)."""

    running = True

    def __init__(self, base_url, language="en"):
        self.base_url = base_url
        self.language = language
        self.history = []  # the real API shows nobody what it saw; always empty

    def __repr__(self):
        return f"<live mode: requests go to {host_of(self.base_url)}; no offline server>"

    def _note(self, what):
        print(LINES[self.language]["note"].format(what=WHAT[what][self.language]))

    def inject(self, kind, times=1, **params):
        self._note("inject")

    def configure(self, **options):
        self._note("configure")
        return {}

    @contextlib.contextmanager
    def configured(self, **options):
        self.configure(**options)
        yield self

    def wait_for_exchanges(self, count, timeout=5):
        self._note("history")
        return []

    def offline_keys(self):
        self._note("offline_keys")
        return {}  # the real API knows none of them: nothing to try

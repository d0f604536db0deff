""""See the wire": a live page for the instructor's projector, and the log it reads.

    GET /_offline/wire?token=...          the page (wire_page.html), labels in en or zh
    GET /_offline/wire/events?token=...   text/event-stream: what the page shows, live

For each request the server answers (not the page's own): method, path, the credential
(a JWT's decoded header and claims; for a raw key only its id; never a secret, a key or a
signature), the request body (capped), the status and the recording that answered, and each
SSE event with its time in ms after the request, as it is written.

Behind the control surface's checks (control.check_machine: this machine only, an address in
Host, no other web page) plus the control token, given as ?token= in the URL `serve` prints.

Every frame is made by wire_frames.frame(): valid JSON, valid UTF-8, no secret, nothing
that reverses or widens the page, whatever an attendee sent.

Bounded: from the first time a page is opened, the log keeps the last MAX_EXCHANGES
exchanges and at most MAX_LOG_BYTES (before that, nothing: no cost per event); each viewer
has a queue of at most QUEUE_MESSAGES frames and QUEUE_BYTES (the oldest are dropped, and the
page is told how many), so a slow page never holds up a request. At most MAX_VIEWERS pages
at once, and a new page always gets in: the place of the page that has waited longest for
its frames is taken (the page that never reads), else the oldest page's (it is told, and does
not come back by itself). A page whose frames have waited STALL_SECONDS is let go at once,
its connection cut: a page that does not read holds no place and no memory.
"""

import json
import secrets
import select
import socket
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from urllib.parse import parse_qs

from .auth import MAX_CREDENTIAL_CHARS, bearer_credential, jwt_segment
from .control import ADMIN_PREFIX, check_machine
from .redaction import credential_secrets
from .wire import event_chunk, event_data, http_error
from .wire_frames import frame, shown_text

WIRE_PATH = ADMIN_PREFIX + "/wire"
EVENTS_PATH = WIRE_PATH + "/events"
MAX_EXCHANGES = 200
MAX_LOG_BYTES = 2 * 1024 * 1024
MAX_BODY_BYTES = 4096
MAX_EVENT_BYTES = 1024
MAX_EVENTS_SHOWN = 300  # per exchange; the rest are counted in its "done" message
QUEUE_MESSAGES = 500
# Per page: the newest frames, about 40 full requests; 8 pages at most: 8 MiB in all.
QUEUE_BYTES = 1024 * 1024
MAX_VIEWERS = 8
STALL_SECONDS = 10  # frames waiting this long for a page: it does not read, it is let go
KEEPALIVE_SECONDS = 5  # a comment line when nothing else was sent for this long
GONE_CHECK_SECONDS = 0.25  # how often a viewer's connection is checked: a closed page's slot
PAGE_FILE = Path(__file__).with_name("wire_page.html")

LABELS = {
    "en": {"title": "See the wire", "waiting": "Waiting for requests…",
           "connected": "connected", "reconnecting": "reconnecting…",
           "closed": "refused: open the URL the running server printed (a new server, a new token)",
           "credential": "credential", "none": "no Authorization header",
           "raw": "raw key", "jwt_header": "JWT header", "claims": "claims",
           "unreadable": "unreadable credential", "body": "request body",
           "events": "SSE events", "ms": "ms", "recording": "answered by",
           "more": "bytes more", "dropped": "messages dropped (the page fell behind)",
           "not_shown": "more events not shown", "language": "中文", "other_lang": "zh",
           "show_raw": "whole lines", "show_short": "what changes",
           "evicted": "closed: the page was opened in another place (reload to watch here)"},
    "zh": {"title": "看见线路上的请求", "waiting": "等待请求……",
           "connected": "已连接", "reconnecting": "正在重新连接……",
           "closed": "被拒绝：请打开正在运行的服务器打印的网址（新服务器有新令牌）",
           "credential": "凭证", "none": "没有 Authorization 请求头",
           "raw": "原始密钥", "jwt_header": "JWT 头部", "claims": "声明（claims）",
           "unreadable": "无法解析的凭证", "body": "请求体",
           "events": "SSE 事件", "ms": "毫秒", "recording": "应答来源",
           "more": "字节未显示", "dropped": "条消息被丢弃（页面跟不上）",
           "not_shown": "个事件未显示", "language": "English", "other_lang": "en",
           "show_raw": "完整行", "show_short": "变化的部分",
           "evicted": "已关闭：页面在别处打开了（刷新即可在此继续查看）"},
}


def page_language(query, headers):
    """"zh" or "en": ?lang= first, then the browser's Accept-Language."""
    asked = query.get("lang") or (headers.get("Accept-Language") or "")[:2]
    return "zh" if asked.strip().lower().startswith("zh") else "en"


def parse_query(target):
    """The query of a request target as a dict (the first value of each name)."""
    query = target.split("?", 1)[1] if "?" in target else ""
    return {name: values[0] for name, values in parse_qs(query[:2048]).items()}


def describe_credential(header):
    """What the page may show of an Authorization header: never a secret or a signature."""
    credential = bearer_credential(header)
    if not credential:
        return {"kind": "none"}
    if len(credential) <= MAX_CREDENTIAL_CHARS:
        parts = credential.split(".")
        if len(parts) == 2:
            return {"kind": "raw", "id": parts[0][:64]}
        if len(parts) == 3:
            try:
                return {"kind": "jwt", "header": jwt_segment(parts[0]),
                        "claims": jwt_segment(parts[1])}
            except (ValueError, UnicodeError):
                pass
    return {"kind": "unreadable", "chars": len(credential)}


def body_text(raw, secrets=()):
    """The request body for the page: indented when it is JSON, capped at MAX_BODY_BYTES."""
    if len(raw) <= 64 * 1024:
        try:
            raw = json.dumps(json.loads(raw), ensure_ascii=False, indent=2).encode(
                "utf-8", "surrogatepass")
        except (ValueError, RecursionError):
            pass
    return shown_text(raw, MAX_BODY_BYTES, secrets)


def encoded(lines):
    """An event's lines as bytes for shown_text (a lone surrogate becomes U+FFFD there)."""
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def describe_event(lines):
    """(kind, short) of an SSE event for the page. kind colours it: reasoning (dimmed),
    content, done, error or other; short is what changes from chunk to chunk (the choice
    without its index, and the usage), or the data as it is for anything but a chat chunk."""
    data = event_data(lines) or ""
    if data == "[DONE]":
        return "done", data
    chunk = event_chunk(lines)
    if chunk is None:
        return "other", data
    if "error" in chunk:
        return "error", data
    try:
        choice = {k: v for k, v in chunk["choices"][0].items() if k != "index"}
    except (KeyError, IndexError, TypeError, AttributeError):
        return "other", data
    delta = choice.get("delta")
    thinking = isinstance(delta, dict) and delta.get("reasoning_content") and \
        not delta.get("content")
    usage = chunk.get("usage")
    short = json.dumps(choice, ensure_ascii=False) + (
        "  usage " + json.dumps(usage, ensure_ascii=False) if usage else "")
    return ("reasoning" if thinking else "content"), short


class Viewer:
    """One open page: a queue of frames (bytes) bounded in count and in bytes; when it is
    full the oldest go, counted. behind_since: since when frames have waited for the page
    (None while it keeps up)."""

    def __init__(self, limit=None, limit_bytes=None, cut=None):
        self.limit = limit or QUEUE_MESSAGES
        self.limit_bytes = limit_bytes or QUEUE_BYTES
        self.dropped = 0
        self.closed = False
        self.joined = time.monotonic()
        self.behind_since = None
        self._cut = cut  # cuts the page's connection (a writer stuck on a page that never reads)
        self._frames = deque()
        self._bytes = 0
        self._ready = threading.Condition()

    def put(self, data):
        with self._ready:
            if self.closed:
                return
            self._frames.append(data)
            self._bytes += len(data)
            while len(self._frames) > self.limit or (self._bytes > self.limit_bytes and
                                                     len(self._frames) > 1):
                self._bytes -= len(self._frames.popleft())
                self.dropped += 1
            if self.behind_since is None:
                self.behind_since = time.monotonic()
            self._ready.notify()

    def take(self, timeout):
        """(frames, dropped since last time) once there are some, or ([], 0) after `timeout`
        or once closed. Call written() when they are sent."""
        with self._ready:
            self._ready.wait_for(lambda: self._frames or self.closed, timeout)
            frames, self._frames, self._bytes = list(self._frames), deque(), 0
            dropped, self.dropped = self.dropped, 0
            return frames, dropped

    def written(self):
        """The frames taken are sent: the page keeps up, or is behind by what came since."""
        with self._ready:
            self.behind_since = time.monotonic() if self._frames else None

    def stalled(self, now):
        behind = self.behind_since
        return behind is not None and now - behind >= STALL_SECONDS

    @property
    def queued_bytes(self):
        with self._ready:
            return self._bytes

    def close(self, last=None):
        """End the page's stream, after the frame `last` if given; a page that does not read
        (frames waiting for it) has its connection cut, so its writer stops at once."""
        with self._ready:
            self.closed = True
            stuck = self.behind_since is not None
            self._frames, self._bytes = deque([last] if last else []), len(last or b"")
            self._ready.notify()
        if stuck and self._cut is not None:
            self._cut()


class Watch:
    """Follows one exchange for the log (Exchange.watcher): its events and its end."""

    def __init__(self, log, exchange, secrets):
        self.log, self.id = log, exchange.number
        self.secrets = secrets  # the request's own credential and its signature
        self.started = time.time()
        self.replied = False
        self.shown = 0

    def ms(self, when=None):
        return round(((when or time.time()) - self.started) * 1000)

    def _reply(self, exchange):
        if not self.replied:
            self.replied = True
            self.log.publish(self.id, "reply", {"id": self.id, "status": exchange.status,
                                                "source": exchange.source or "generated"},
                             self.secrets)

    def event(self, exchange, lines):
        self._reply(exchange)
        if self.shown >= MAX_EVENTS_SHOWN:
            return
        self.shown += 1
        text, more = shown_text(encoded(lines), MAX_EVENT_BYTES, self.secrets)
        kind, short = describe_event(lines)
        self.log.publish(self.id, "sse", {
            "id": self.id, "ms": self.ms(exchange.event_times[-1]), "text": text, "more": more,
            "short": shown_text(encoded([short]), MAX_EVENT_BYTES, self.secrets)[0],
            "kind": kind}, self.secrets)

    def finished(self, exchange):
        self._reply(exchange)
        exchange.watcher = None
        self.log.publish(self.id, "done", {
            "id": self.id, "ms": self.ms(), "status": exchange.status,
            "outcome": exchange.outcome, "fault": exchange.fault,
            "events": exchange.events_sent, "not_shown": exchange.events_sent - self.shown},
            self.secrets)


class WireLog:
    """The last exchanges as the page's frames, and the pages watching them."""

    def __init__(self, hidden=()):
        # e.g. the known keys' secrets (a very short one would blank out ordinary text)
        self.hidden = [text for text in hidden if len(text) >= 8]
        self._lock = threading.Lock()
        self._kept = OrderedDict()  # exchange id -> [frames]
        self._bytes = 0
        self._viewers = set()
        self._closed = False
        self.opened = False  # has a page subscribed yet?

    def watch(self, exchange, headers, raw):
        """A request arrived: show it, and follow its reply (exchange.watcher). Until a page
        is first opened nothing is kept: a server nobody watches pays nothing per event."""
        if not self.opened:
            return
        authorization = headers.get("Authorization")
        own = credential_secrets(authorization)
        exchange.watcher = watch = Watch(self, exchange, own)
        text, more = body_text(raw, self.hidden + own)
        self.publish(watch.id, "request", {
            "id": watch.id, "time": time.strftime("%H:%M:%S", time.localtime(watch.started)),
            "method": exchange.method, "path": exchange.path,
            "credential": describe_credential(authorization),
            "body": text, "more": more}, own)

    def publish(self, exchange_id, kind, data, secrets=()):
        """Add a frame to the log and to every page's queue; let go of a page that has not
        read for STALL_SECONDS."""
        # whatever a learner pasted where: a known key's secret is never shown
        text = frame(kind, data, [*self.hidden, *secrets])
        now = time.monotonic()
        with self._lock:
            frames = self._kept.get(exchange_id)
            if frames is None:
                frames = self._kept[exchange_id] = []
            frames.append(text)
            self._bytes += len(text)
            while len(self._kept) > MAX_EXCHANGES or (self._bytes > MAX_LOG_BYTES and
                                                       len(self._kept) > 1):
                _, old = self._kept.popitem(last=False)
                self._bytes -= sum(len(f) for f in old)
            viewers = list(self._viewers)
            stalled = [v for v in viewers if v.stalled(now)]
            self._viewers.difference_update(stalled)
        for viewer in viewers:
            viewer.put(text)
        for viewer in stalled:
            viewer.close()

    def subscribe(self, cut=None):
        """(a new Viewer, the frames so far), or None once the server stops. With MAX_VIEWERS
        pages open, one is let go for it: the one behind for longest, else the oldest.
        `cut` cuts the new page's connection (see Viewer.close)."""
        with self._lock:
            if self._closed:
                return None
            evicted = None
            if len(self._viewers) >= MAX_VIEWERS:
                evicted = min(self._viewers, key=lambda v: (
                    v.behind_since is None, v.behind_since or 0, v.joined))
                self._viewers.discard(evicted)
            viewer = Viewer(cut=cut)
            self._viewers.add(viewer)
            self.opened = True
            backlog = [f for frames in self._kept.values() for f in frames]
        if evicted is not None:
            evicted.close(last=frame("evicted", {}))
        return viewer, backlog

    @property
    def viewers(self):
        """How many pages are watching."""
        with self._lock:
            return len(self._viewers)

    def unsubscribe(self, viewer):
        with self._lock:
            self._viewers.discard(viewer)

    def close(self):
        """The server stops: every page's stream ends."""
        with self._lock:
            self._closed = True
            viewers = list(self._viewers)
        for viewer in viewers:
            viewer.close()


def page_gone(sock):
    """Whether the browser has closed the stream's connection (it never sends anything on it)."""
    try:
        readable = select.select([sock], [], [], 0)[0]
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def check(owner, handler):
    """The control surface's checks for a page, then the control token from ?token=."""
    check_machine(handler, page=True)
    if not owner.control.matches(parse_query(handler.path).get("token")):
        raise http_error(403, "the wire page needs ?token=<the control token>: open the URL "
                         "that `python -m glm_offline serve` printed")


def page_url(server):
    """The page's URL with the token, for the instructor's own browser."""
    return server.base_url.split("/api/", 1)[0] + f"{WIRE_PATH}?token={server.control.value}"


def page(owner, handler):
    """GET /_offline/wire: the page, labels in the asked language; inline script by nonce."""
    check(owner, handler)
    lang = page_language(parse_query(handler.path), handler.headers)
    nonce = secrets.token_urlsafe(16)
    html = (PAGE_FILE.read_text(encoding="utf-8")
            .replace("{{lang}}", lang).replace("{{nonce}}", nonce)
            .replace("{{title}}", LABELS[lang]["title"])
            .replace("{{labels}}", json.dumps(LABELS[lang], ensure_ascii=False)))
    handler.send_bytes(200, "text/html; charset=utf-8", html.encode("utf-8"), [
        ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", f"default-src 'none'; script-src 'nonce-{nonce}'; "
         "style-src 'unsafe-inline'; connect-src 'self'")])
    handler.exchange.source = "wire-page"


def events(owner, handler, log):
    """GET /_offline/wire/events: the log so far, then each new frame, until the page closes
    (noticed within GONE_CHECK_SECONDS) or the server stops; a comment line after
    KEEPALIVE_SECONDS without news."""
    check(owner, handler)

    def cut():
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    subscribed = log.subscribe(cut)
    if subscribed is None:
        raise http_error(503, "the server is stopping")
    viewer, backlog = subscribed
    handler.exchange.source = "wire-page"
    try:
        handler.start_chunked(200, "text/event-stream; charset=utf-8",
                              [("Referrer-Policy", "no-referrer")])
        handler.write_chunk(b"retry: 2000\n\n" + frame("hello", {}) + b"".join(backlog))
        viewer.written()
        quiet_since = time.monotonic()
        while True:
            frames, dropped = viewer.take(GONE_CHECK_SECONDS)
            if dropped:
                frames.insert(0, frame("dropped", {"count": dropped}))
            if frames or time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                handler.write_chunk(b"".join(frames) or b": keep-alive\n\n")
                quiet_since = time.monotonic()
            viewer.written()
            if viewer.closed or page_gone(handler.connection):
                break
        handler.end_chunked()
    finally:
        log.unsubscribe(viewer)

""""See the wire": a live page for the instructor's projector, and the log it reads.

    GET /_offline/wire?token=...          the page (wire_page.html), labels in en or zh
    GET /_offline/wire/events?token=...   text/event-stream: what the page shows, live

For each request the server answers (not the page's own): method, path, the credential
(a JWT's decoded header and claims; for a raw key only its id; never a secret, a key or a
signature), the request body (capped), the status and the recording that answered, and each
SSE event with its time in ms after the request, as it is written.

Behind the control surface's checks (control.check_machine: this machine only, an address in
Host, no other web page) plus the control token, given as ?token= in the URL `serve` prints.

Bounded: the log keeps the last MAX_EXCHANGES exchanges and about MAX_LOG_BYTES; each viewer
has a queue of QUEUE_MESSAGES (the oldest are dropped, and the page is told how many), so a
slow page never holds up a request; at most MAX_VIEWERS pages at once.
"""

import codecs
import json
import secrets
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from urllib.parse import parse_qs

from .auth import MAX_CREDENTIAL_CHARS, _b64json, bearer_credential
from .control import ADMIN_PREFIX, check_machine
from .wire import http_error

WIRE_PATH = ADMIN_PREFIX + "/wire"
EVENTS_PATH = WIRE_PATH + "/events"
MAX_EXCHANGES = 200
MAX_LOG_BYTES = 2 * 1024 * 1024
MAX_BODY_BYTES = 4096
MAX_EVENT_BYTES = 1024
MAX_EVENTS_SHOWN = 300  # per exchange; the rest are counted in its "done" message
QUEUE_MESSAGES = 500
MAX_VIEWERS = 8
KEEPALIVE_SECONDS = 5  # also how soon a closed page's slot is noticed and freed
HIDDEN = "•••"
PAGE_FILE = Path(__file__).with_name("wire_page.html")

LABELS = {
    "en": {"title": "See the wire", "waiting": "Waiting for requests…",
           "connected": "connected", "reconnecting": "reconnecting…",
           "credential": "credential", "none": "no Authorization header",
           "raw": "raw key", "jwt_header": "JWT header", "claims": "claims",
           "unreadable": "unreadable credential", "body": "request body",
           "events": "SSE events", "ms": "ms", "recording": "answered by",
           "more": "bytes more", "dropped": "messages dropped (the page fell behind)",
           "not_shown": "more events not shown", "language": "中文", "other_lang": "zh"},
    "zh": {"title": "看见线路上的请求", "waiting": "等待请求……",
           "connected": "已连接", "reconnecting": "正在重新连接……",
           "credential": "凭证", "none": "没有 Authorization 请求头",
           "raw": "原始密钥", "jwt_header": "JWT 头部", "claims": "声明（claims）",
           "unreadable": "无法解析的凭证", "body": "请求体",
           "events": "SSE 事件", "ms": "毫秒", "recording": "应答来源",
           "more": "字节未显示", "dropped": "条消息被丢弃（页面跟不上）",
           "not_shown": "个事件未显示", "language": "English", "other_lang": "en"},
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
                return {"kind": "jwt", "header": _b64json(parts[0]), "claims": _b64json(parts[1])}
            except (ValueError, UnicodeError):
                pass
    return {"kind": "unreadable", "chars": len(credential)}


def capped_text(data, limit):
    """(text, bytes not shown): at most `limit` bytes of UTF-8, never half a character."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return decoder.decode(data[:limit], final=len(data) <= limit), max(0, len(data) - limit)


def body_text(raw):
    """The request body for the page: indented when it is JSON, capped at MAX_BODY_BYTES."""
    if len(raw) <= 64 * 1024:
        try:
            raw = json.dumps(json.loads(raw), ensure_ascii=False, indent=2).encode("utf-8")
        except (ValueError, RecursionError):
            pass
    return capped_text(raw, MAX_BODY_BYTES)


def event_kind(lines):
    """How the page colours an SSE event: reasoning (dimmed), content, done, error or other."""
    data = "\n".join(line[5:].lstrip(" ") for line in lines if line.startswith("data:"))
    if data == "[DONE]":
        return "done"
    try:
        chunk = json.loads(data)
        delta = chunk["choices"][0]["delta"] if "choices" in chunk else None
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):
        return "other"
    if "error" in chunk:
        return "error"
    if isinstance(delta, dict) and delta.get("reasoning_content") and not delta.get("content"):
        return "reasoning"
    return "content"


def frame(kind, data):
    """One SSE event of the page's own stream."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class Viewer:
    """One open page: a bounded queue of frames; when it is full the oldest go, counted."""

    def __init__(self, limit=QUEUE_MESSAGES):
        self.limit = limit
        self.dropped = 0
        self.closed = False
        self._frames = deque()
        self._ready = threading.Condition()

    def put(self, text):
        with self._ready:
            if len(self._frames) >= self.limit:
                self._frames.popleft()
                self.dropped += 1
            self._frames.append(text)
            self._ready.notify()

    def take(self, timeout):
        """(frames, dropped since last time) once there are some, or ([], 0) after `timeout`."""
        with self._ready:
            self._ready.wait_for(lambda: self._frames or self.closed, timeout)
            frames, self._frames = list(self._frames), deque()
            dropped, self.dropped = self.dropped, 0
            return frames, dropped

    def close(self):
        with self._ready:
            self.closed = True
            self._ready.notify()


class Watch:
    """Follows one exchange for the log (Exchange.watcher): its events and its end."""

    def __init__(self, log, exchange):
        self.log, self.id = log, exchange.number
        self.started = time.time()
        self.replied = False
        self.shown = 0

    def ms(self, when=None):
        return round(((when or time.time()) - self.started) * 1000)

    def _reply(self, exchange):
        if not self.replied:
            self.replied = True
            self.log.publish(self.id, "reply", {"id": self.id, "status": exchange.status,
                                                "source": exchange.source or "generated"})

    def event(self, exchange, lines):
        self._reply(exchange)
        if self.shown >= MAX_EVENTS_SHOWN:
            return
        self.shown += 1
        text, more = capped_text("\n".join(lines).encode("utf-8"), MAX_EVENT_BYTES)
        self.log.publish(self.id, "sse", {"id": self.id, "ms": self.ms(exchange.event_times[-1]),
                                          "text": text, "more": more,
                                          "kind": event_kind(lines)})

    def finished(self, exchange):
        self._reply(exchange)
        exchange.watcher = None
        self.log.publish(self.id, "done", {
            "id": self.id, "ms": self.ms(), "status": exchange.status,
            "outcome": exchange.outcome, "fault": exchange.fault,
            "events": exchange.events_sent, "not_shown": exchange.events_sent - self.shown})


class WireLog:
    """The last exchanges as the page's frames, and the pages watching them."""

    def __init__(self, hidden=()):
        self.hidden = [text for text in hidden if text]  # e.g. the known keys' secrets
        self._lock = threading.Lock()
        self._kept = OrderedDict()  # exchange id -> [frames]
        self._bytes = 0
        self._viewers = set()
        self._closed = False

    def watch(self, exchange, headers, raw):
        """A request arrived: show it, and follow its reply (exchange.watcher)."""
        exchange.watcher = watch = Watch(self, exchange)
        text, more = body_text(raw)
        self.publish(watch.id, "request", {
            "id": watch.id, "time": time.strftime("%H:%M:%S", time.localtime(watch.started)),
            "method": exchange.method, "path": exchange.path,
            "credential": describe_credential(headers.get("Authorization")),
            "body": text, "more": more})

    def publish(self, exchange_id, kind, data):
        text = frame(kind, data)
        for secret in self.hidden:  # whatever a learner pasted where: a secret is never shown
            text = text.replace(secret, HIDDEN)
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
        for viewer in viewers:
            viewer.put(text)

    def subscribe(self):
        """(a new Viewer, the frames so far), or None when MAX_VIEWERS pages are open."""
        with self._lock:
            if self._closed or len(self._viewers) >= MAX_VIEWERS:
                return None
            viewer = Viewer()
            self._viewers.add(viewer)
            return viewer, [f for frames in self._kept.values() for f in frames]

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
    or the server stops; a comment line every KEEPALIVE_SECONDS when nothing happens."""
    check(owner, handler)
    subscribed = log.subscribe()
    if subscribed is None:
        raise http_error(503, f"the wire page is open in {MAX_VIEWERS} places already; "
                         "close one")
    viewer, backlog = subscribed
    handler.exchange.source = "wire-page"
    try:
        handler.start_chunked(200, "text/event-stream; charset=utf-8",
                              [("Referrer-Policy", "no-referrer")])
        handler.write_chunk(("retry: 2000\n\n" + frame("hello", {}) + "".join(backlog))
                            .encode("utf-8"))
        while not viewer.closed:
            frames, dropped = viewer.take(KEEPALIVE_SECONDS)
            if dropped:
                frames.insert(0, frame("dropped", {"count": dropped}))
            handler.write_chunk("".join(frames or [": keep-alive\n\n"]).encode("utf-8"))
        handler.end_chunked()
    finally:
        log.unsubscribe(viewer)

"""Fault injection: make the next N chat requests fail in a chosen, repeatable way.

    server.inject("rate_limit", times=2)            # two 429s with code 1302, then normal
    server.inject("drop_mid_stream", after_events=3)
    server.inject("error_frame")                    # a 200 stream that is only an error
    server.inject("error_frame", after_events=5)    # the same after 5 events (partial output)
    server.inject("error", code="1308")             # any documented business code
    server.inject("task_fail")                      # the next async task ends in FAIL

Faults wait in a queue and are used in order; a stream-only fault waits for the next
streaming request, a task-only fault for the next async task (POST /async/chat/completions).
Mid-stream failures' shapes are UNVERIFIED live (docs/sources.md#errors-in-a-stream);
they follow the documentation and third-party captures.

Adding a fault kind is one row in KINDS (what it does, which requests, which options, and
its behaviour: a business code, a finish_reason, or a stream shape handled in reshape()).
The table drives validation, `python -m glm_offline fault --help` and glm_offline.FAULT_KINDS.
"""

import copy
import math
import threading
from dataclasses import dataclass, field

from . import chat
from .wire import DONE_LINE, ERRORS, APIError, api_error, count_tokens, dumps, event_chunk


@dataclass(frozen=True)
class Kind:
    help: str
    scope: str = "any"  # "any" request, only a "stream", or only an async "task"
    options: tuple = ()  # option names this kind takes (see OPTIONS)
    code: str = None  # status faults: the business code answered
    finish_reason: str = None  # the answer is cut and ends with this finish_reason
    shape: str = None  # how reshape() changes a stream: "frame", "drop", "no_done", "stall"


def _code_ranges(codes):
    """'1000-1005, 1100, ...': the documented codes, runs of consecutive numbers joined."""
    numbers = sorted(int(c) for c in codes if c.isdigit() and len(c) == 4)
    runs = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in runs)


# name -> (help, (low, high), whole numbers only). `code` is checked against wire.ERRORS.
OPTIONS = {
    "code": ("a documented business code: " + _code_ranges(ERRORS) + ", or 401 (the "
             "gateway's wrong-key body)", None, False),
    "after_events": ("mid-stream faults: events sent first (default: half of them; "
                     "error_frame: 0)", (0, 100000), True),
    "seconds": ("how long to wait", (0, 600), False),
    "retry_after": ("status faults: send a Retry-After header (seconds)", (0, 86400), True),
}
MAX_TIMES = 100000
_STATUS = ("retry_after",)
_CUT = ("after_events",)

KINDS = {
    "rate_limit": Kind("HTTP 429, code 1302: account rate limit (retry later)", code="1302",
                       options=_STATUS),
    "overloaded": Kind("HTTP 429, code 1305: the model is overloaded (retry later)",
                       code="1305", options=_STATUS),
    "no_balance": Kind("HTTP 429, code 1113: no balance left (never retry)", code="1113",
                       options=_STATUS),
    "server_error": Kind("HTTP 500, code 1200: the API call failed", code="1200",
                         options=_STATUS),
    "unavailable": Kind("HTTP 503: service unavailable (body UNVERIFIED)", code="503",
                        options=_STATUS),
    "error": Kind("any documented business code, with code=...", code="option",
                  options=("code", *_STATUS)),
    "sensitive": Kind("finish_reason 'sensitive': the answer is cut by moderation",
                      finish_reason="sensitive", options=_CUT),
    "network_error": Kind("finish_reason 'network_error': inference failed",
                          finish_reason="network_error", options=_CUT),
    "model_context_window_exceeded": Kind(
        "finish_reason 'model_context_window_exceeded': the context is full",
        finish_reason="model_context_window_exceeded", options=_CUT),
    "slow_first_byte": Kind("wait seconds=... (default 5) before the response starts",
                            options=("seconds",)),
    "error_frame": Kind("an SSE error frame (code=..., default 1302), then [DONE]: the first "
                        "event of a 200 stream, as captured, or after after_events=N events",
                        "stream", ("code", *_CUT), shape="frame"),
    "drop_mid_stream": Kind("the connection is cut mid-stream, no end of body", "stream", _CUT,
                            shape="drop"),
    "no_done": Kind("the stream ends cleanly but early, without [DONE]", "stream", _CUT,
                    shape="no_done"),
    "stall_mid_stream": Kind("the stream stops sending for seconds=... (default 30) mid-stream",
                             "stream", ("seconds", *_CUT), shape="stall"),
    "task_fail": Kind("an async task polls as PROCESSING, then ends in FAIL (no answer)",
                      "task"),
}


@dataclass
class Fault:
    kind: str
    times: int = 1
    params: dict = field(default_factory=dict)

    def applies(self, streaming, task):
        scope = KINDS[self.kind].scope
        return scope == "any" or (scope == "stream" and streaming) or (scope == "task" and task)

    def error(self):
        """The APIError for status faults, or None for faults that shape the answer."""
        code = KINDS[self.kind].code
        if code == "option":
            return api_error(self.params["code"])
        if code == "503":  # the gateway's own 503 body is UNVERIFIED
            return APIError(503, "503", "服务暂时不可用，请稍后重试。",
                            "Service temporarily unavailable, please retry later.")
        return api_error(code) if code else None

    def describe(self):
        return {"kind": self.kind, "times": self.times, **self.params}


def _check_option(name, value):
    what, bounds, whole = OPTIONS[name]
    if name == "code":
        value = str(value)
        if value not in ERRORS:
            raise ValueError(f"unknown business code {value!r}; known: {_code_ranges(ERRORS)}, "
                             "401")
        return value
    low, high = bounds
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or (whole and not isinstance(value, int)) or not math.isfinite(value) \
            or not low <= value <= high:
        kind = "a whole number" if whole else "a finite number"
        raise ValueError(f"{name} must be {kind} from {low} to {high}, not {value!r}")
    return value


def make_fault(kind, times=1, **params):
    """Build a Fault, with a clear ValueError for anything unknown or out of range."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault {kind!r}; choose one of: {', '.join(KINDS)}")
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= MAX_TIMES:
        raise ValueError(f"times must be a whole number of requests, from 1 to {MAX_TIMES}")
    unknown = set(params) - set(OPTIONS)
    if unknown:
        raise ValueError(f"unknown fault option(s) {sorted(unknown)}; options: {sorted(OPTIONS)}")
    allowed = KINDS[kind].options
    extra = [name for name in params if name not in allowed]
    if extra:
        takes = ", ".join(allowed) or "no options"
        raise ValueError(f"fault {kind!r} does not take {', '.join(extra)}; it takes: {takes}")
    if KINDS[kind].code == "option" and params.get("code") is None:
        raise ValueError(f"fault {kind!r} needs code=..., one of: {_code_ranges(ERRORS)}, 401")
    params = {name: _check_option(name, value) for name, value in params.items()
              if value is not None}
    return Fault(kind, times, params)


def kinds_help():
    """The kinds, one line each, for `fault --help` and docs."""
    return "\n".join(f"  {name:30} {kind.help}" for name, kind in KINDS.items())


class FaultQueue:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def add(self, kind, times=1, **params):
        fault = make_fault(kind, times, **params)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, streaming, task=False):
        """Use up one request's worth of the first fault that applies to this request."""
        with self._lock:
            for fault in self._faults:
                if fault.applies(streaming, task):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return Fault(fault.kind, 1, dict(fault.params))
        return None

    def pending(self):
        with self._lock:
            return [f.describe() for f in self._faults]

    def clear(self):
        with self._lock:
            self._faults.clear()


def reshape(reply, fault, english=False):
    """The reply as `fault` spoils it: cut with a finish_reason, or a stream cut, stalled,
    ended early or interrupted by an error frame (its message in English if asked)."""
    kind = KINDS[fault.kind]
    if reply.json is not None:
        if kind.finish_reason and reply.json.get("choices"):
            reply.json = _cut_body(reply.json, kind.finish_reason)
        return reply
    events, delays = reply.events, reply.delays_ms
    body_events = len(events) - 2 if events and events[-1] == [DONE_LINE] else len(events)
    # An error frame comes first by default, as captured live in 2026 (`event: error`, then
    # [DONE], as the whole of an HTTP 200 stream: quoted in a public proxy's code comment and a
    # test fixture); the other faults cut halfway by default.
    default_cut = 0 if kind.shape == "frame" else body_events // 2
    cut = int(min(fault.params.get("after_events", default_cut), body_events))
    if kind.shape == "stall":
        reply.stall = (cut, fault.params.get("seconds", 30))
        return reply
    if not (kind.finish_reason or kind.shape):
        return reply
    reply.events, reply.delays_ms = events[:cut], delays[:cut]
    first = _first_json(events)
    if kind.finish_reason:
        final = chat.final_chunk(first, kind.finish_reason, _usage_after(events, cut))
        reply.events += [[f"data: {dumps(final)}"], [DONE_LINE]]
    elif kind.shape == "frame":
        code = fault.params.get("code", "1302")
        error = {**api_error(code).body(english=english), "request_id": first["id"]}
        reply.events += [["event: error", f"data: {dumps(error)}"], [DONE_LINE]]
    elif kind.shape == "drop":
        reply.drop = True
    # "no_done": the events stop here and the body ends cleanly, without [DONE]
    reply.delays_ms += [delays[min(cut, len(delays) - 1)]] * (len(reply.events) - cut)
    return reply


def _cut_body(body, finish_reason):
    body = copy.deepcopy(body)
    choice = body["choices"][0]
    content = choice["message"].get("content") or ""
    choice["message"]["content"] = content = content[: len(content) // 2]
    choice["finish_reason"] = finish_reason
    if isinstance(body.get("usage"), dict) and "prompt_tokens" in body["usage"]:
        reasoning = count_tokens(choice["message"].get("reasoning_content"))
        body["usage"] = chat.recount(body["usage"], reasoning + count_tokens(content), reasoning)
    return body


def _first_json(events):
    for event in events:
        data = event_chunk(event)
        if data is not None:
            return {**data, "request_id": data.get("request_id", data.get("id"))}
    return {"id": "", "created": 0, "model": "", "request_id": ""}


def _reasoning_events(events):
    """How many of these events carry a piece of reasoning."""
    count = 0
    for event in events:
        choices = (event_chunk(event) or {}).get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else {}
        delta = choice.get("delta") if isinstance(choice, dict) else None
        count += bool(isinstance(delta, dict) and delta.get("reasoning_content"))
    return count


def _usage_after(events, cut):
    """The usage of a stream cut after `cut` events: one token per event sent."""
    for event in reversed(events):
        recorded = (event_chunk(event) or {}).get("usage")
        if isinstance(recorded, dict):
            return chat.recount(recorded, cut, _reasoning_events(events[:cut]))
    return chat.usage(0, cut)

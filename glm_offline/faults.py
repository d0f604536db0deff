"""Fault injection: make the next N chat requests fail in a chosen, repeatable way.

    server.inject("rate_limit", times=2)            # two 429s with code 1302, then normal
    server.inject("drop_mid_stream", after_events=3)
    server.inject("task_fail")                      # the next async task ends in FAIL

Faults wait in a queue and are used in order; a stream-only fault waits for the next
streaming request, a task-only fault for the next async task (POST /async/chat/completions).
The shapes of mid-stream failures are UNVERIFIED on the live service (glm-api-facts.md 4.5);
they follow the documentation and third-party captures.
"""

import threading
from dataclasses import dataclass, field

from .wire import ERRORS, api_error, http_error

# kind -> (what it does, which requests it applies to)
KINDS = {
    "rate_limit": ("HTTP 429, code 1302: account rate limit (retry later)", "any"),
    "overloaded": ("HTTP 429, code 1305: the model is overloaded (retry later)", "any"),
    "no_balance": ("HTTP 429, code 1113: no balance left (never retry)", "any"),
    "server_error": ("HTTP 500, code 1200: the API call failed", "any"),
    "unavailable": ("HTTP 503: service unavailable (body UNVERIFIED)", "any"),
    "error": ("any documented business code, with code=...", "any"),
    "sensitive": ("finish_reason 'sensitive': the answer is cut by moderation", "any"),
    "network_error": ("finish_reason 'network_error': inference failed", "any"),
    "slow_first_byte": ("wait seconds=... (default 5) before the response starts", "any"),
    "error_frame": ("an SSE error frame mid-stream (code=..., default 1302), then [DONE]",
                    "stream"),
    "drop_mid_stream": ("the connection is cut mid-stream, no end of body", "stream"),
    "no_done": ("the stream ends cleanly but early, without [DONE]", "stream"),
    "stall_mid_stream": ("the stream stops sending for seconds=... (default 30) mid-stream",
                         "stream"),
    "task_fail": ("an async task polls as PROCESSING, then ends in FAIL (no answer)", "task"),
}
_PARAMS = {"code", "after_events", "seconds", "retry_after"}
_ALIASES = {"rate_limit": "1302", "overloaded": "1305", "no_balance": "1113",
            "server_error": "1200"}


@dataclass
class Fault:
    kind: str
    times: int = 1
    params: dict = field(default_factory=dict)

    def applies(self, streaming, task):
        scope = KINDS[self.kind][1]
        return scope == "any" or (scope == "stream" and streaming) or (scope == "task" and task)

    def error(self):
        """The APIError for status faults, or None for faults that shape the stream."""
        if self.kind in _ALIASES:
            return api_error(_ALIASES[self.kind])
        if self.kind == "error":
            return api_error(self.params["code"])
        if self.kind == "unavailable":
            return http_error(503, "服务暂时不可用，请稍后重试。")
        return None

    def describe(self):
        return {"kind": self.kind, "times": self.times, **self.params}


def make_fault(kind, times=1, **params):
    """Build a Fault, with a clear ValueError for anything unknown."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault {kind!r}; choose one of: {', '.join(KINDS)}")
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ValueError("times must be a whole number of requests, 1 or more")
    unknown = set(params) - _PARAMS
    if unknown:
        raise ValueError(f"unknown fault option(s) {sorted(unknown)}; options: {sorted(_PARAMS)}")
    code = params.get("code")
    if kind == "error" and code is None:
        raise ValueError("fault 'error' needs code=..., one of: " + ", ".join(ERRORS))
    if code is not None:
        params["code"] = code = str(code)
        if code not in ERRORS:
            raise ValueError(f"unknown business code {code!r}; known: {', '.join(ERRORS)}")
    for name in ("after_events", "seconds", "retry_after"):
        value = params.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value < 0):
            raise ValueError(f"{name} must be a number, 0 or more")
    return Fault(kind, times, params)


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

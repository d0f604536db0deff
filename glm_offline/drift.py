"""Drift: how a live answer differs from its recording, as one verdict. Pure: no sockets.

    classify(request_body, recorded, live) -> Verdict("notable", [Change("usage.x", ...)])

`recorded` is a cassette response ({"status", "json"} or {"status", "sse": [lines]});
`live` has the same shape plus what only the wire shows, when known: "line_ending" of a
stream ("lf", "crlf", "cr" or "mixed"), "content_type", and "headers" (names).

The verdicts, worst first:
  critical    a field removed, renamed or retyped, a new finish_reason, SSE framing or event
              order changed, a status or business code changed (an accepted request now
              refused, or the reverse);
  redirected  the answer's model is not the one the request asked for;
  skipped     401, 429, 5xx, or a stream cut by overload (1302, 1305): nothing to compare
              (the caller tells a refused key apart);
  notable     a new field or a new header;
  benign      only values differ: ids, text, token counts;
  identical   the same shape and the same values (timing is never compared: it differs on
              every run).
"""

import json
import re
from dataclasses import dataclass, field

VERDICTS = ("critical", "redirected", "skipped", "notable", "benign", "identical")
# finish_reason values the docs list (docs/sources.md#responses); anything else is new.
FINISH_REASONS = ("stop", "tool_calls", "length", "sensitive", "network_error",
                  "model_context_window_exceeded")
# Fields whose value names a kind of thing: a new value breaks clients as a retype would.
KIND_FIELDS = ("object", "role", "type", "task_status")
# Headers the recorded server sends, or public captures show the live API sending; any
# other is new (names only: a value is never looked at). Add one here once a live run has
# reported it and it turned out to be no news.
KNOWN_HEADERS = ("cache-control", "connection", "content-encoding", "content-length",
                 "content-type", "date", "keep-alive", "retry-after", "server", "set-cookie",
                 "strict-transport-security", "transfer-encoding", "vary",
                 "x-content-type-options")
CONTENT_TYPES = {"json": "application/json;charset=utf-8",
                 "sse": "text/event-stream;charset=utf-8"}
_SKIP = {401: "401: the key was refused for this request",
         429: "429: rate limit or balance, not an answer to compare"}
# Business codes that can end a 200 stream and say nothing about its shape: the concurrency
# limit and platform overload (docs/sources.md#rate-limits-and-retries).
TRANSIENT_CODES = ("1302", "1305")


@dataclass(frozen=True)
class Change:
    path: str  # e.g. "choices[].message.reasoning_content", "status", "header:x-new"
    what: str  # one short line
    verdict: str


@dataclass
class Verdict:
    name: str
    changes: list = field(default_factory=list)
    reason: str = ""  # why an exchange was skipped

    @property
    def paths(self):
        return list(dict.fromkeys(change.path for change in self.changes))


def worst(names):
    """The worst of these verdict names ("identical" for none)."""
    return min(names, key=VERDICTS.index, default="identical")


def skip_reason(status):
    """Why a live status leaves nothing to compare, or None."""
    if status in _SKIP:
        return _SKIP[status]
    if status >= 500:
        return f"{status}: a server error, transient"
    return None


def classify(body, recorded, live):
    """The Verdict for one exchange: `body` is the request's JSON body."""
    reason = skip_reason(live["status"])
    if reason:
        return Verdict("skipped", reason=reason)
    if "sse" in live:
        code = _stream_error_code(live["sse"])
        if code in TRANSIENT_CODES:
            return Verdict("skipped", reason=f"{code} in the stream: overloaded, transient")
    changes = _status(recorded["status"], live["status"])
    kinds = ["sse" if "sse" in side else "json" for side in (recorded, live)]
    if kinds[0] != kinds[1]:
        changes.append(Change("body", f"a {kinds[0]} answer is now {kinds[1]}", "critical"))
    elif (recorded["status"] < 400) == (live["status"] < 400):  # else the status says it
        asked = body.get("model") if isinstance(body, dict) else None
        if kinds[0] == "json":
            changes += compare_values([recorded["json"]], [live["json"]], "", asked)
        else:
            changes += compare_streams(recorded["sse"], live["sse"], asked)
    changes += _framing(kinds[1], live)
    return Verdict(worst(c.verdict for c in changes), changes)


def _stream_error_code(lines):
    for payload in parse_stream(lines)[1]:
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            return str(error.get("code"))
    return None


def _status(recorded, live):
    if recorded == live:
        return []
    if recorded < 400 <= live:
        what = f"{recorded} -> {live}: a request that was accepted is now refused"
    elif live < 400 <= recorded:
        what = f"{recorded} -> {live}: a request that was refused is now accepted"
    else:
        what = f"{recorded} -> {live}"
    return [Change("status", what, "critical")]


def _framing(kind, live):
    changes = []
    content_type = live.get("content_type")
    if content_type is not None and re.sub(r"\s", "", content_type.lower()) != CONTENT_TYPES[kind]:
        changes.append(Change("header:content-type", f"now {content_type!r}", "critical"))
    for name in sorted({n.lower() for n in live.get("headers", ())} - set(KNOWN_HEADERS)):
        changes.append(Change(f"header:{name}", "a new header", "notable"))
    ending = live.get("line_ending", "lf")
    if kind == "sse" and ending != "lf":
        changes.append(Change("sse:line-ending", f"lines end with {ending.upper()}, not LF",
                              "critical"))
    return changes


# -- JSON shapes and values ------------------------------------------------------------------

def _type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def leaves(value, path=""):
    """(generalised path, type, value) of every node: list items share the path "x[]"."""
    yield path, _type(value), value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for child in value:
            yield from leaves(child, f"{path}[]")


def _index(documents, prefix):
    types, values = {}, {}
    for document in documents:
        for path, kind, value in leaves(document, prefix):
            types.setdefault(path, set()).add(kind)
            if kind not in ("object", "array"):
                values.setdefault(path, []).append(value)
    return types, values


def _parent(path):
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def _key(path):
    return re.split(r"[.\[]", path.rstrip("[]"))[-1]


def compare_values(recorded, live, prefix, asked):
    """Changes between two lists of JSON documents (a body, or a stream's chunks)."""
    old_types, old_values = _index(recorded, prefix)
    new_types, new_values = _index(live, prefix)
    removed = [p for p in old_types if p not in new_types and _parent(p) in new_types]
    added = [p for p in new_types if p not in old_types and _parent(p) in old_types]
    changes = []
    for path in removed:
        twin = next((p for p in added if _parent(p) == _parent(path)
                     and new_types[p] == old_types[path]), None)
        if twin:
            added.remove(twin)
            changes.append(Change(path, f"renamed to {_key(twin)!r}", "critical"))
        else:
            changes.append(Change(path, "removed", "critical"))
    changes += [Change(path, "a new field", "notable") for path in added]
    retyped = {p for p in old_types.keys() & new_types.keys() if old_types[p] != new_types[p]}
    for path in sorted(retyped):
        changes.append(Change(path, f"retyped: {'/'.join(sorted(old_types[path]))} -> "
                              f"{'/'.join(sorted(new_types[path]))}", "critical"))
    for path, values in new_values.items():
        key = _key(path)
        if key == "finish_reason":
            for value in dict.fromkeys(v for v in values if v not in FINISH_REASONS):
                changes.append(Change(path, f"a new finish_reason {value!r}", "critical"))
        if key == "model" and path == _join(prefix, "model") and asked is not None:
            redirected = list(dict.fromkeys(v for v in values if v != asked))
            if redirected:
                changes.append(Change(path, f"{asked!r} was asked, "
                                      f"{', '.join(map(repr, redirected))} answered",
                                      "redirected"))
                continue
        if path not in old_values or path in retyped or values == old_values[path]:
            continue
        new = sorted(set(map(_text, values)) - set(map(_text, old_values[path])))
        if key == "code" and _parent(path) == _join(prefix, "error"):
            changes.append(Change(path, f"business code {_text(old_values[path][0])} -> "
                                  f"{_text(values[0])}", "critical"))
        elif key in KIND_FIELDS and new:
            changes.append(Change(path, f"new value {', '.join(new)}", "critical"))
        else:
            changes.append(Change(path, "value differs", "benign"))
    return sorted(changes, key=lambda c: (VERDICTS.index(c.verdict), c.path))


def _join(prefix, key):
    return f"{prefix}.{key}" if prefix else key


def _text(value):
    return json.dumps(value, ensure_ascii=False)


# -- streams -----------------------------------------------------------------------------

def parse_stream(lines):
    """(line kinds, [event payloads]) of raw SSE lines. A payload is the event's data lines
    joined with newlines, parsed as JSON ("[DONE]" and text that is not JSON stay text).
    Kinds: "data", "comment", "event", "id", "retry", other field names, and "multiline"
    for an event whose data spans several lines."""
    kinds, payloads = set(), []
    for event in _events(lines):
        data = []
        for line in event:
            name, _, value = line.partition(":")
            if not name:
                kinds.add("comment")
                continue
            kinds.add(name)
            if name == "data":
                data.append(value[1:] if value.startswith(" ") else value)
        if len(data) > 1:
            kinds.add("multiline")
        if data:
            text = "\n".join(data)
            try:
                payloads.append(json.loads(text))
            except ValueError:
                payloads.append(text)
    return kinds, payloads


def _events(lines):
    current = []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            yield current
            current = []
    if current:
        yield current


def event_label(payload):
    """What an event carries, for the event order: e.g. "reasoning", "content+finish+usage"."""
    if not isinstance(payload, dict):
        return payload if payload == "[DONE]" else "text"
    parts = []
    for choice in payload.get("choices") or []:
        delta = choice.get("delta") or {} if isinstance(choice, dict) else {}
        parts += [name for name in ("reasoning_content", "content", "tool_calls")
                  if delta.get(name) not in (None, "")]
        parts += ["finish"] if isinstance(choice, dict) and "finish_reason" in choice else []
    parts += [name for name in ("usage", "error") if name in payload]
    return "+".join(dict.fromkeys(parts)) or "empty"


def event_order(payloads):
    """Event labels with repeats folded: how many deltas a stream has is not its order."""
    order = []
    for label in map(event_label, payloads):
        if not order or order[-1] != label:
            order.append(label)
    return order


def compare_streams(recorded, live, asked):
    old_kinds, old = parse_stream(recorded)
    new_kinds, new = parse_stream(live)
    changes = [Change(f"sse:{kind}", "a new kind of SSE line", "critical")
               for kind in sorted(new_kinds - old_kinds)]
    changes += [Change(f"sse:{kind}", "this kind of SSE line is gone", "benign")
                for kind in sorted(old_kinds - new_kinds)]
    if event_order(old) != event_order(new):
        changes.append(Change("sse:event-order", f"{' > '.join(event_order(old))} is now "
                              f"{' > '.join(event_order(new))}", "critical"))
    changes += compare_values([p for p in old if isinstance(p, dict)],
                              [p for p in new if isinstance(p, dict)], "chunks[]", asked)
    return changes

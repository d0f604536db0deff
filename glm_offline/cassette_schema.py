"""Load-time checks of a cassette file: every field's type and range (the format is described
in cassettes.py), so that a hand-edited or corrupt cassette fails at start with one line
naming the file, the interaction and the field, instead of breaking the request it answers.

    read_checked(path) -> the file's parsed JSON, or CassetteError("<file>: interaction 3
    (hello-en): response.status must be a whole number from 200 to 599, not 0")

A UTF-8 byte order mark at the start of the file is accepted (editors on Windows add one).
Exchanges a recorder appended to the file's journal (journal.py) are merged and checked too.
Adding a field to the format is one entry in the tables below.
"""

import json
import math
import re
from datetime import date

from . import journal
from .drift import VERDICTS

MAX_NAME_CHARS = 200
MAX_PATH_CHARS = 2000
MAX_DELAY_MS = 3_600_000  # one gap between events; replay caps a whole stream at ~2 s anyway
MAX_POLLS = 1000
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
NO_BODY_STATUSES = (204, 205, 304)  # a replayed body would break the HTTP framing
METADATA_TEXT = ("recorded_at", "model", "how", "source", "description", "api_base")
# metadata.provenance (see provenance.py): how the recordings were made, the last drift check.
PROVENANCE_MADE = ("transcribed", "captured", "mixed")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _Bad(Exception):
    """A field that fails its check: where (e.g. 'response.status') and what is wrong."""

    def __init__(self, where, message):
        super().__init__(f"{where} {message}")


def _shown(value):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole(where, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Bad(where, f"must be a whole number from {low} to {high}, not {_shown(value)}")
    return value


def _object(where, value):
    if not isinstance(value, dict):
        raise _Bad(where, f"must be an object, not {_shown(value)}")
    return value


def _list(where, value):
    if not isinstance(value, list):
        raise _Bad(where, f"must be a list, not {_shown(value)}")
    return value


def _text(where, value, limit, control_ok=False):
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _Bad(where, f"must be text of 1 to {limit} characters, not {_shown(value)}")
    if not control_ok and _CONTROL.search(value):
        raise _Bad(where, "must not contain control characters")
    return value


def _fields(where, item, required, optional):
    """The object's keys are known, and the required ones are there."""
    for key in item:
        if key not in required and key not in optional:
            known = ", ".join([*required, *optional])
            raise _Bad(f"{where}.{key}" if where else key, f"is not a field of the format "
                       f"(known here: {known})")
    for key in required:
        if key not in item:
            raise _Bad(f"{where}.{key}" if where else key, "is missing")


def check_request(request):
    _object("request", request)
    _fields("request", request, ("method", "path"), ("body",))
    method = request["method"]
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise _Bad("request.method", f"must be one of {', '.join(METHODS)}, not {_shown(method)}")
    path = _text("request.path", request["path"], MAX_PATH_CHARS)
    if not path.startswith("/") or re.search(r"[\s?#]", path):
        raise _Bad("request.path", f"must be a path like /api/paas/v4/chat/completions (no "
                   f"spaces, query or fragment), not {_shown(path)}")
    body = request.get("body")
    if body is not None and not isinstance(body, dict):
        raise _Bad("request.body", f"must be the request's JSON object (or null), not "
                   f"{_shown(body)}")


def check_response(response):
    _object("response", response)
    _fields("response", response, ("status",),
            ("json", "sse", "event_delays_ms", "polls_before_done"))
    status = _whole("response.status", response["status"], 200, 599)
    if status in NO_BODY_STATUSES:
        raise _Bad("response.status", f"{status} cannot carry a body; use another status")
    if ("json" in response) == ("sse" in response):
        raise _Bad("response", "needs exactly one of \"json\" (a body) or \"sse\" (a stream)")
    if "json" in response:
        _object("response.json", response["json"])
        if "event_delays_ms" in response:
            raise _Bad("response.event_delays_ms", "belongs to \"sse\" responses only")
        _whole("response.polls_before_done", response.get("polls_before_done", 0), 0, MAX_POLLS)
        return
    if "polls_before_done" in response:
        raise _Bad("response.polls_before_done", "belongs to \"json\" (async task) responses")
    lines = _list("response.sse", response["sse"])
    events = 0
    for index, line in enumerate(lines):
        if not isinstance(line, str) or "\n" in line or "\r" in line:
            raise _Bad(f"response.sse[{index}]", f"must be one line of text, not {_shown(line)}")
        if line and (index == 0 or not lines[index - 1]):
            events += 1
    if not events:
        raise _Bad("response.sse", "must hold at least one event")
    delays = response.get("event_delays_ms")
    if delays is None:
        return
    _list("response.event_delays_ms", delays)
    for index, delay in enumerate(delays):
        number = isinstance(delay, (int, float)) and not isinstance(delay, bool)
        if not number or not math.isfinite(delay) or not 0 <= delay <= MAX_DELAY_MS:
            raise _Bad(f"response.event_delays_ms[{index}]", f"must be a number of "
                       f"milliseconds from 0 to {MAX_DELAY_MS}, not {_shown(delay)}")
    if len(delays) != events:
        raise _Bad("response.event_delays_ms", f"needs one delay per SSE event: {events} "
                   f"events, {len(delays)} delays")


def _date(where, value):
    try:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise _Bad(where, f"must be a date like 2026-12-07, not {_shown(value)}")


def check_provenance(value):
    where = "metadata.provenance"
    _object(where, value)
    made = value.get("made")
    if made not in PROVENANCE_MADE:
        raise _Bad(f"{where}.made", f"must be one of {', '.join(PROVENANCE_MADE)}, not "
                   f"{_shown(made)}")
    captured = ("captured_at", "model_served") if made != "transcribed" else ()
    _fields(where, value, ("made", *captured, "last_drift"), ())
    if captured:
        _date(f"{where}.captured_at", value["captured_at"])
        _text(f"{where}.model_served", value["model_served"], 1000)
    check = value["last_drift"]
    if check is not None:
        _object(f"{where}.last_drift", check)
        _fields(f"{where}.last_drift", check, ("verdict", "checked_at"), ())
        if check["verdict"] not in VERDICTS:
            raise _Bad(f"{where}.last_drift.verdict", f"must be one of {', '.join(VERDICTS)}, "
                       f"not {_shown(check['verdict'])}")
        _date(f"{where}.last_drift.checked_at", check["checked_at"])


def check_interaction(item):
    _object("interaction", item)
    _fields("", item, ("name", "request", "response"), ())
    _text("name", item["name"], MAX_NAME_CHARS)
    check_request(item["request"])
    check_response(item["response"])


def check_cassette(data, format_version):
    """Raise ValueError (one line, naming the interaction and field) for anything wrong."""
    where = ""
    try:
        _object("the file", data)
        _fields("", data, ("version", "metadata", "interactions"), ())
        if data["version"] != format_version or isinstance(data["version"], bool):
            raise _Bad("version", f"must be {format_version}, not {_shown(data['version'])}")
        metadata = _object("metadata", data["metadata"])
        for key in METADATA_TEXT:
            if key in metadata:
                _text(f"metadata.{key}", metadata[key], 10_000, control_ok=True)
        if "provenance" in metadata:
            check_provenance(metadata["provenance"])
        for index, item in enumerate(_list("interactions", data["interactions"])):
            name = item.get("name") if isinstance(item, dict) else None
            named = isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS and \
                not _CONTROL.search(name)
            where = f"interaction {index}" + (f" ({name})" if named else "")
            check_interaction(item)
    except _Bad as bad:
        raise ValueError(f"{where}: {bad}" if where else str(bad)) from None


class CassetteError(ValueError):
    """A cassette file that cannot be used, with the file and the reason."""


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def read_checked(path, format_version=1):
    """The cassette at `path`, parsed and checked; CassetteError naming the file otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise CassetteError(f"{path}: not a readable JSON file ({reason})") from None
    except RecursionError:
        raise CassetteError(f"{path}: nests too deeply to be a cassette") from None
    try:
        check_cassette(data, format_version)
        before = len(data["interactions"])
        data = journal.merge(path, data)  # what a recorder appended since (journal.py)
        if len(data["interactions"]) != before:
            check_cassette(data, format_version)
    except ValueError as exc:
        raise CassetteError(f"{path}: {exc}") from None
    return data

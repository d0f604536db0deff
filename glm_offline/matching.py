"""Request matching: when a request is the one a recording answers, and, on a miss, which
recording came closest and why. The one matcher the server (cassettes.Library), the
recorder (record.py) and contributors/rerecord.py use.

A request matches a recording when method, path and the canonical bodies are equal. The
canonical body drops what does not change the answer (docs/sources.md#what-real-clients-send):
explicit nulls (the official SDK sends "response_format": null, "thinking": null), and values
that spell out a default, which real clients send: "stream": false (LangChain), "n": 1,
any "stream_options" (the openai SDK; usage comes on the last chunk either way), "do_sample": true,
"tool_stream": false, "tool_choice": "auto", "response_format": {"type": "text"},
"thinking": {"type": "enabled"} (and "clear_thinking": true) on a thinking model, the
model's own default reasoning_effort, temperature and top_p (models.py; the defaults of the
GLM-4 family are UNVERIFIED, the docs disagree), and a reasoning_effort sent to a model whose
answer it does not change (every model but glm-5.2 and glm-5.3, models.py: UNVERIFIED).

Sampling values (temperature, top_p) change an answer only by chance. A request that differs
from a recording in them alone is a near match: the server replays that recording when not
strict, and says so (find_ignoring_sampling); strict mode misses and names the difference.
LangChain's ChatZhipuAI, for one, always sends temperature 0.95.
"""

import difflib
import json

from .models import model

# Top-level fields whose value is the documented default whatever the model.
DEFAULTS = {"stream": False, "n": 1, "do_sample": True, "tool_stream": False,
            "tool_choice": "auto", "response_format": {"type": "text"}}
ALWAYS_DROPPED = ("stream_options",)
SAMPLING = ("temperature", "top_p")
# A miss's explanation looks at this much of each body, whatever its size (issue 10: a
# diff of a megabyte body against every recording cost seconds of CPU).
SUMMARY_CHARS = 2000
MAX_CANDIDATES = 8  # recordings compared as text after the cheap ranking
WORK_LIMIT = 50000  # values visited in all when counting differences for a miss


def drop_nulls(value):
    """Drop explicit nulls from objects, recursively."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def _same_number(value, default):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == default


def canonical(body):
    """The body as matching compares it: nulls and spelled-out defaults dropped."""
    body = drop_nulls(body)
    if not isinstance(body, dict):
        return body
    body = {k: v for k, v in body.items()
            if k not in ALWAYS_DROPPED and not (k in DEFAULTS and _equal(v, DEFAULTS[k]))}
    info = model(body.get("model"))
    if info is None:
        return body
    for name, default in (("temperature", info.default_temperature),
                          ("top_p", info.default_top_p)):
        if _same_number(body.get(name), default):
            del body[name]
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and (effort == info.default_effort or not info.reasoning_effort):
        del body["reasoning_effort"]
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and info.thinks_by_default:
        if thinking.get("clear_thinking") is True:  # the default (7.2)
            thinking = {k: v for k, v in thinking.items() if k != "clear_thinking"}
            body["thinking"] = thinking
        if thinking == {"type": "enabled"}:
            del body["thinking"]
    return body


def _equal(a, b):
    return a == b and type(a) is type(b)


def first_difference(recorded, actual, where="body"):
    """Describe the first place two (canonical) bodies differ, or return None if equal."""
    if isinstance(recorded, dict) and isinstance(actual, dict):
        for key in recorded:
            if key not in actual:
                return f"{where}.{key} is missing (recorded {_short(recorded[key])})"
            found = first_difference(recorded[key], actual[key], f"{where}.{key}")
            if found:
                return found
        extra = next((k for k in actual if k not in recorded), None)  # lazily: bodies can be big
        if extra is not None:
            return f"{where}.{extra} is not in the recording (request has {_short(actual[extra])})"
        return None
    if isinstance(recorded, list) and isinstance(actual, list):
        for index, (r, a) in enumerate(zip(recorded, actual)):
            found = first_difference(r, a, f"{where}[{index}]")
            if found:
                return found
        if len(recorded) != len(actual):
            return f"{where} has {len(actual)} items, the recording {len(recorded)}"
        return None
    if recorded != actual or type(recorded) is not type(actual):
        return f"{where}: recorded {_short(recorded)}, request has {_short(actual)}"
    return None


def _short(value, limit=60):
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > 4 * limit:  # a huge value: only its start is shown
        text = text[:4 * limit]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def find(recordings, method, path, body):
    """The first recording this request matches, or None."""
    wanted, where = canonical(body), (method.upper(), path)
    for recorded in recordings:
        if (recorded.method, recorded.path) == where and \
                recorded.body == wanted and first_difference(recorded.body, wanted) is None:
            return recorded  # == first: a fast no for every other recording (1 == 1.0 too)
    return None


def _without_sampling(body):
    if not isinstance(body, dict):
        return body
    return {k: v for k, v in body.items() if k not in SAMPLING}


def find_ignoring_sampling(recordings, method, path, body):
    """(recording, [the sampling fields that differ]) for the first recording this request
    matches once temperature and top_p are left out of both, or (None, [])."""
    wanted, where = canonical(body), (method.upper(), path)
    loose = _without_sampling(wanted)
    for recorded in recordings:
        if (recorded.method, recorded.path) == where and \
                first_difference(_without_sampling(recorded.body), loose) is None:
            differ = [name for name in SAMPLING if isinstance(recorded.body, dict) and
                      isinstance(wanted, dict) and not _equal(recorded.body.get(name),
                                                              wanted.get(name))]
            return recorded, differ
    return None, []


def recorded_name(items, method, path, body):
    """find() over a cassette file's own JSON interactions: the first one's name, or None."""
    for item in items:
        request = item["request"]
        if (str(request["method"]).upper(), request["path"]) == (method.upper(), path) and \
                first_difference(canonical(request.get("body")), canonical(body)) is None:
            return item["name"]
    return None


def _differing(recorded, actual, budget):
    """How many values differ, visiting at most budget[0] values (the rest are not looked at);
    it only ranks recordings for a miss's message, so a rough count is enough."""
    if budget[0] <= 0:
        return 0
    budget[0] -= 1
    if isinstance(recorded, dict) and isinstance(actual, dict):
        shared = sum(key in actual for key in recorded)
        count = len(actual) - shared  # keys only the request has, one difference each
        for key in recorded:
            if budget[0] <= 0:
                break
            count += _differing(recorded[key], actual.get(key), budget)
        return count
    if isinstance(recorded, list) and isinstance(actual, list):
        count = abs(len(recorded) - len(actual))
        for r, a in zip(recorded, actual):
            if budget[0] <= 0:
                break
            count += _differing(r, a, budget)
        return count
    return 0 if _equal(recorded, actual) else 1


def _summary(body):
    return json.dumps(body, ensure_ascii=False, sort_keys=True)[:SUMMARY_CHARS]


def explain_miss(recordings, method, path, body):
    """Name the nearest recording and what differed from it, in bounded work: differences are
    counted within a budget shared by all recordings, and only the start of each body is
    compared as text, for the few recordings that the count leaves closest."""
    recordings = list(recordings)
    if not recordings:
        return "there are no recordings"
    method = method.upper()
    wanted = canonical(body)

    share = max(100, WORK_LIMIT // len(recordings))
    ranks = {id(item): (item.method != method, item.path != path,
                        _differing(item.body, wanted, [share]))
             for item in recordings}
    best = min(ranks.values())
    tied = [item for item in recordings if ranks[id(item)] == best]
    text = _summary(wanted)
    # Among equals, the most similar text: a cheap upper bound first, then the real ratio for
    # a few.
    matchers = {id(item): difflib.SequenceMatcher(None, _summary(item.body), text)
                for item in tied}
    tied = sorted(tied, key=lambda item: -matchers[id(item)].quick_ratio())[:MAX_CANDIDATES]
    nearest = min(tied, key=lambda item: -matchers[id(item)].ratio())
    if nearest.method != method or nearest.path != path:
        return (f"nearest recording {nearest.name!r} is {nearest.method} {nearest.path}, "
                f"request is {method} {path}")
    return f"nearest recording {nearest.name!r} differs: {first_difference(nearest.body, wanted)}"

"""Live mode: one line when an answer comes from another model than the request named.

The coding plan answers requests for older models with a newer one, silently: the answer's
`model` differs from the request body's. In live mode connect() calls watch(); from then on
every requests Session this process makes (`requests.post` makes one per call) starts with a
response hook, check(), that compares the two for requests to the live base URL and prints one
line, in the lesson's language, when they differ. Lesson cells do not change.

The hook never changes a response and never reads a stream early:
  * not streamed (requests' default): requests reads the body right after its hooks anyway, so
    check() reads it one step earlier and compares the JSON `model`;
  * streamed (stream=True): check() only wraps the response's iter_content (which iter_lines,
    .content and glm_client's parser all read through) so that, as the learner reads, the first
    complete `data:` event is compared; chunks pass through unchanged. A stream read another
    way (response.raw) is not checked.
"""

import json

import requests.sessions

LINES = {
    "en": "(live mode: asked for {asked}, the answer came from {answered})",
    "zh": "（在线模式：请求的是 {asked}，回答来自 {answered}）",
}
PEEK_LIMIT_BYTES = 65536  # a stream whose first event is longer than this is not checked
_PENDING = object()  # the first event is not complete yet
_watching = {"base_url": None, "language": "en"}


def watch(base_url, language="en"):
    """Check answers to requests under base_url from now on; idempotent."""
    if language not in LINES:
        raise ValueError(f"language must be one of {sorted(LINES)}, not {language!r}")
    _watching.update(base_url=base_url.rstrip("/") + "/", language=language)
    if getattr(requests.sessions.default_hooks, "checks_models", False):
        return
    original = requests.sessions.default_hooks

    def default_hooks():
        hooks = original()
        hooks.setdefault("response", []).append(check)
        return hooks

    default_hooks.checks_models = True
    requests.sessions.default_hooks = default_hooks


def unwatch():
    """Stop checking (offline mode); the hook stays installed and does nothing."""
    _watching["base_url"] = None


def check(response, **kwargs):
    """The response hook. Returns None, so requests keeps the response as it is."""
    asked = _asked(response.request)
    if asked is None:
        return
    if not kwargs.get("stream"):
        _compare(asked, _model_of(response.content))
    elif "text/event-stream" in response.headers.get("Content-Type", ""):
        _check_first_event(response, asked)


def _asked(request):
    """The model a POST under the watched base URL asked for, else None."""
    base_url = _watching["base_url"]
    if base_url is None or request.method != "POST" or not request.url.startswith(base_url):
        return None
    model = _model_of(request.body)
    return model


def _model_of(body):
    """The `model` of a JSON object body (bytes or str), else None."""
    if not body:
        return None
    try:
        data = json.loads(body)
    except (TypeError, ValueError):  # not JSON (UnicodeDecodeError is a ValueError)
        return None
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, str) else None


def _compare(asked, answered):
    if answered is not None and answered.strip().lower() != asked.strip().lower():
        print(LINES[_watching["language"]].format(asked=asked, answered=answered), flush=True)


def _check_first_event(response, asked):
    """Wrap iter_content: compare the first event's model once, as the learner reads it."""
    original = response.iter_content
    state = {"seen": b"", "done": False}

    def iter_content(*args, **kwargs):
        for chunk in original(*args, **kwargs):
            if not state["done"]:
                state["seen"] += chunk.encode("utf-8") if isinstance(chunk, str) else chunk
                model = _first_event_model(state["seen"])
                if model is not _PENDING or len(state["seen"]) > PEEK_LIMIT_BYTES:
                    state.update(done=True, seen=b"")
                    if model is not _PENDING:
                        _compare(asked, model)
            yield chunk

    response.iter_content = iter_content


def _first_event_model(seen):
    """The model of the first `data:` line in these bytes, None when it has none, or _PENDING
    while that line is incomplete."""
    for line in seen.splitlines(keepends=True):
        if not line.endswith((b"\n", b"\r")):
            return _PENDING
        line = line.strip()
        if line.startswith(b"data:"):
            return _model_of(line[5:].strip())
    return _PENDING

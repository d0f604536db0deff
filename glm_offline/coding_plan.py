"""The GLM Coding Plan's base URL, /api/coding/paas/v4: served like /api/paas/v4 (the same
recordings, the same validation), with the plan's documented quirks.

- Model substitution: in late 2026 the plan serves only GLM-5.3 and GLM-5.3-Flash and
  silently switches older names, so the answer's `model` can differ from the request's
  (docs.bigmodel.cn /cn/api/introduction, coding endpoint). Which name
  becomes which is models.CODING_PLAN_MODELS.
- thinking {"type": "disabled"} is ignored there: the models it serves always think
  (same sources; glm-5.3 on /api/paas/v4 rejects it with 1210 instead). The answer is the
  one for the request without it.
The plan's base URL was captured in use on api.z.ai (charmbracelet/fantasy go-vcr fixtures,
2025-09 and 2026-03).
"""

from .models import CODING_PLAN_MODELS
from .wire import data_event, data_value, event_chunk

CODING_PREFIX = "/api/coding/paas/v4"


def _switched_off(body):
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") == "disabled"


def checked_as(body):
    """The request as validation sees it on the plan: thinking switched on again, so the rest
    of `thinking` is still checked and glm-5.3 does not refuse it."""
    if not _switched_off(body):
        return body
    return {**body, "thinking": {**body["thinking"], "type": "enabled"}}


def plan_body(body):
    """The request as the plan answers it: thinking {"type": "disabled"} left out."""
    if not _switched_off(body):
        return body
    return {k: v for k, v in body.items() if k != "thinking"}


def served_model(name):
    return CODING_PLAN_MODELS.get(name, name)


def substitute(reply):
    """The reply with the served model's name in `model`: the body, a task record, or every
    chunk of a stream."""
    if isinstance(reply.json, dict) and isinstance(reply.json.get("model"), str):
        reply.json = {**reply.json, "model": served_model(reply.json["model"])}
    if reply.events is not None:
        reply.events = [_substituted_event(event) for event in reply.events]
    return reply


def _substituted_event(event):
    """The event with the served model in its chunk (its other fields kept), or as it was."""
    chunk = event_chunk(event)
    if chunk is None or not isinstance(chunk.get("model"), str):
        return event
    chunk["model"] = served_model(chunk["model"])
    return [line for line in event if data_value(line) is None] + data_event(chunk)

"""Request validation for POST /chat/completions, like the real API.

Fields, ranges and codes: glm-api-facts.md section 2.4 and 5. Unknown fields are
tolerated (OpenAI clients send some); explicit nulls are accepted for optional fields
(the official SDK sends "response_format": null and "thinking": null).
"""

import json
import math

from .wire import api_error

# The 2026 documented model enum, plus older names still seen in captures.
MODELS = frozenset({
    "glm-5.1", "glm-5-turbo", "glm-5", "glm-4.7", "glm-4.7-flash", "glm-4.7-flashx",
    "glm-4.6", "glm-4.5", "glm-4.5-air", "glm-4.5-airx", "glm-4.5-flash",
    "glm-4-flash-250414", "glm-4-flashx-250414",
    "glm-4", "glm-4-plus", "glm-4-air", "glm-4-airx", "glm-4-flash", "glm-4-long",
})
ROLES = frozenset({"system", "user", "assistant", "tool"})
MAX_TOKENS_LIMIT = 131072
MAX_NESTING = 100  # deeper bodies would overflow the recursive matching code


def _nesting(value):
    """How deeply lists and objects nest in a parsed body (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((v, depth + 1) for v in children)
    return deepest


def parse_body(raw):
    """Bytes of the request body to a JSON object, or APIError 1210."""
    try:
        body = json.loads(raw.decode("utf-8"))
        # "\ud800" is valid JSON but a lone surrogate cannot be sent back as UTF-8.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        raise api_error("1210") from None
    if not isinstance(body, dict) or _nesting(body) > MAX_NESTING:
        raise api_error("1210")
    return body


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_range(body, field, low, high, integer=False):
    value = body.get(field)
    if value is None:
        return
    ok = isinstance(value, int) and not isinstance(value, bool) if integer else _is_number(value)
    if not ok or not low <= value <= high:
        raise api_error("1214", field=field)


def _check_type(body, field, kind):
    value = body.get(field)
    if value is not None and not isinstance(value, kind):
        raise api_error("1214", field=field)


def _check_message(index, message):
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise api_error("1214", field=where)
    role = message.get("role")
    if role not in ROLES:
        raise api_error("1214", field=f"{where}.role")
    content = message.get("content")
    tool_calls = message.get("tool_calls")
    if role == "assistant" and tool_calls is not None:
        if not isinstance(tool_calls, list) or not all(isinstance(c, dict) for c in tool_calls):
            raise api_error("1214", field=f"{where}.tool_calls")
        if content is not None and not isinstance(content, str):
            raise api_error("1214", field=f"{where}.content")
        return
    # Vision models accept a list of parts; text is what this server answers.
    if not isinstance(content, (str, list)):
        raise api_error("1214", field=f"{where}.content")
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise api_error("1214", field=f"{where}.tool_call_id")


def _check_tools(body):
    choice = body.get("tool_choice")
    if choice is not None and choice != "auto":
        raise api_error("1214", field="tool_choice")
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list) or len(tools) > 128:
        raise api_error("1214", field="tools")
    for index, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind not in ("function", "retrieval", "web_search", "mcp"):
            raise api_error("1214", field=f"tools[{index}].type")
        if kind == "function":
            function = tool.get("function")
            name = function.get("name") if isinstance(function, dict) else None
            if not isinstance(name, str) or not 1 <= len(name) <= 64 or not all(
                    c.isascii() and (c.isalnum() or c in "_-") for c in name):
                raise api_error("1214", field=f"tools[{index}].function.name")


def validate_chat(body):
    """Raise APIError for a chat request the real API would reject."""
    model = body.get("model")
    if model is None:
        raise api_error("1213", field="model")
    if not isinstance(model, str):
        raise api_error("1214", field="model")
    if model not in MODELS:
        raise api_error("1211")
    messages = body.get("messages")
    if messages is None:
        raise api_error("1213", field="messages")
    if not isinstance(messages, list) or not messages:
        raise api_error("1214", field="messages")
    for index, message in enumerate(messages):
        _check_message(index, message)
    # "Cannot contain only system or assistant messages" (API reference).
    if all(m["role"] in ("system", "assistant") for m in messages):
        raise api_error("1214", field="messages")
    for field in ("stream", "do_sample"):
        _check_type(body, field, bool)
    _check_type(body, "request_id", str)
    _check_range(body, "temperature", 0.0, 1.0)
    _check_range(body, "top_p", 0.01, 1.0)
    _check_range(body, "max_tokens", 1, MAX_TOKENS_LIMIT, integer=True)
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
            isinstance(stop, list) and len(stop) <= 1 and all(isinstance(s, str) for s in stop)):
        raise api_error("1214", field="stop")
    _check_tools(body)

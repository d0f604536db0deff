"""Request validation for POST /chat/completions, like the live API of 2026.

Fields, ranges, codes: docs/sources.md#request-body and #errors (what live probes in 2026 accepted
and rejected). Range errors are 1210 with the range in the message; a value of the wrong type
is a 1214 naming the field (UNVERIFIED: the live probes tried numbers out of range, not
strings). Unknown fields are tolerated (OpenAI clients send some); explicit nulls are
accepted for optional fields (the official SDK sends "response_format": null and
"thinking": null). The models, their limits and their thinking modes are in models.py.
"""

import json
import math

from .models import MAX_TOKENS_LIMIT, MODELS, model
from .wire import APIError, api_error

__all__ = ["MAX_TOKENS_LIMIT", "MODELS", "ROLES", "parse_body", "validate_chat"]

ROLES = ("system", "user", "assistant", "tool")
MAX_NESTING = 100  # deeper bodies would overflow the recursive matching code
# Lists and objects in one body, counted before parsing as their opening brackets (those
# inside strings too: a safe over-count). Parsed, a megabyte of "[]," is ~50 MB of objects
# (a megabyte of numbers or short strings ~10 MB, bounded by the HTTP layer's bytes in
# flight); 20000 is far above any real chat (issue 10: memory bounded whatever one sends).
MAX_CONTAINERS = 20000
TEXT_PARTS = ("text",)
VISION_PARTS = ("text", "image_url", "video_url")  # UNVERIFIED beyond text and image_url
TOOL_CHOICES = ("auto", "none", "required")
# json_schema is accepted and ignored: the answer is not held to the schema (live 2026 probes,
# docs/sources.md#request-body); chat.py gives JSON content for json_object only.
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
# request_id is echoed in answers and kept with async tasks: a limit bounds that memory (a
# megabyte request_id was sent). The live limit is unknown: 128 is this server's (UNVERIFIED).
MAX_REQUEST_ID_CHARS = 128


def _nesting(value):
    """How deeply lists and objects nest in a parsed body (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            # only containers are stacked: a list of 50000 numbers costs no memory here
            stack.extend((v, depth + 1) for v in children if isinstance(v, (dict, list)))
    return deepest


def parse_body(raw):
    """Bytes of the request body to a JSON object, or APIError 1210."""
    if raw.count(b"[") + raw.count(b"{") > MAX_CONTAINERS:
        raise api_error("1210")
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
    """A number (whole if `integer`) from low to high: 1214 for a wrong type, 1210 with the
    range in the message (as live) for a number outside it."""
    value = body.get(field)
    if value is None:
        return
    ok = isinstance(value, int) and not isinstance(value, bool) if integer else _is_number(value)
    if not ok:
        raise api_error("1214", field=field)
    if not low <= value <= high:
        raise api_error("1210", "range", field=field, low=low, high=high)


def request_id_text(value):
    """A request_id as the answer echoes it: a string as sent, a number as its JSON text
    (the official SDKs' integration tests send time.time(); that the live API echoes it as a
    string is UNVERIFIED, the response schema types request_id as a string)."""
    return value if isinstance(value, str) else json.dumps(value)


def _check_request_id(body):
    """A string or a finite number, at most MAX_REQUEST_ID_CHARS long once written out."""
    value = body.get("request_id")
    if value is None:
        return
    if not (isinstance(value, str) or _is_number(value)):
        raise api_error("1214", field="request_id")
    if len(request_id_text(value)) > MAX_REQUEST_ID_CHARS:
        # Code 1214 as for any invalid field; the text is this server's (UNVERIFIED).
        raise APIError(400, "1214", f"request_id 参数过长：最多 {MAX_REQUEST_ID_CHARS} 个字符",
                       f"request_id is too long: at most {MAX_REQUEST_ID_CHARS} characters")


def _check_type(body, field, kind):
    value = body.get(field)
    if value is not None and not isinstance(value, kind):
        raise api_error("1214", field=field)


def _check_parts(where, parts, allowed):
    """Content parts. The message for a part type the model does not take was seen live
    (an image part to a text model); its code, 1214, is UNVERIFIED, as are the checks of
    empty text (rejected live, code unknown) and of a part's url."""
    for index, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(kind, str) or kind not in allowed:
            raise api_error("1214", "content_type", allowed=str(list(allowed)))
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str) or not text:  # empty text parts are rejected (7.3)
                raise api_error("1214", field=f"{where}.content[{index}].text")
        elif not isinstance(part.get(kind), dict) or not isinstance(part[kind].get("url"), str):
            raise api_error("1214", field=f"{where}.content[{index}].{kind}")


def _check_message(index, message, info):
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise api_error("1214", field=where)
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:  # a list or object is just as wrong
        raise api_error("1214", "role")
    content = message.get("content")
    tool_calls = message.get("tool_calls")
    if role == "assistant" and tool_calls is not None:
        if not isinstance(tool_calls, list) or not all(isinstance(c, dict) for c in tool_calls):
            raise api_error("1214", field=f"{where}.tool_calls")
        if content is not None and not isinstance(content, str):
            raise api_error("1214", field=f"{where}.content")
    elif isinstance(content, list):
        _check_parts(where, content, VISION_PARTS if info.vision else TEXT_PARTS)
    elif not isinstance(content, str):
        raise api_error("1214", field=f"{where}.content")
    reasoning = message.get("reasoning_content")  # sent back with preserved thinking (7.2)
    if reasoning is not None and (role != "assistant" or not isinstance(reasoning, str)):
        raise api_error("1214", field=f"{where}.reasoning_content")
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise api_error("1214", field=f"{where}.tool_call_id")


def _function_names(tools):
    return [t["function"]["name"] for t in tools or [] if t.get("type") == "function"]


def _check_tools(body, info):
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or len(tools) > 128:
            raise api_error("1214", field="tools")
        for index, tool in enumerate(tools):
            kind = tool.get("type") if isinstance(tool, dict) else None
            if kind not in ("function", "retrieval", "web_search", "mcp"):
                raise api_error("1214", field=f"tools[{index}].type")
            if kind == "function":
                function = tool.get("function")
                fname = function.get("name") if isinstance(function, dict) else None
                if not isinstance(fname, str) or not 1 <= len(fname) <= 64 or not all(
                        c.isascii() and (c.isalnum() or c in "_-") for c in fname):
                    raise api_error("1214", field=f"tools[{index}].function.name")
                parameters = function.get("parameters")
                if parameters is not None and not isinstance(parameters, dict):
                    raise api_error("1214", field=f"tools[{index}].function.parameters")
    choice = body.get("tool_choice")
    if choice is None or (isinstance(choice, str) and choice in TOOL_CHOICES):
        return
    # A named function, {"type": "function", "function": {"name": ...}}, one of the tools'.
    function = choice.get("function") if isinstance(choice, dict) else None
    named = function.get("name") if isinstance(function, dict) else None
    if not isinstance(choice, dict) or choice.get("type") != "function" \
            or not isinstance(named, str) or named not in _function_names(tools):
        raise api_error("1214", field="tool_choice")
    if info.named_choice_needs_thinking_off and info.thinks(body):
        raise api_error("1210")


def _check_thinking(body, info):
    thinking = body.get("thinking")
    if thinking is not None:
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        if not isinstance(kind, str) or kind not in ("enabled", "disabled"):
            raise api_error("1214", field="thinking.type")
        if not isinstance(thinking.get("clear_thinking", False), bool):
            raise api_error("1214", field="thinking.clear_thinking")
        if kind == "disabled" and info.thinking == "forced_rejects_disabled":
            raise api_error("1210", "always_thinks")
    effort = body.get("reasoning_effort")
    if effort is None:
        return
    if info.reasoning_effort:  # documented values (glm-5.2, glm-5.3: docs.bigmodel.cn)
        if not isinstance(effort, str) or effort not in info.reasoning_effort:
            raise api_error("1210", "effort", allowed=str(list(info.reasoning_effort)))
    elif not isinstance(effort, str):
        raise api_error("1214", field="reasoning_effort")
    # Any other model: any string is accepted and changes nothing (models.py; UNVERIFIED).


def _check_response_format(body):
    response_format = body.get("response_format")
    if response_format is None:
        return
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if not isinstance(kind, str) or kind not in RESPONSE_FORMATS:
        raise api_error("1214", field="response_format")


def validate_chat(body):
    """Raise APIError for a chat request the real API would reject."""
    name = body.get("model")
    if name is None:
        raise api_error("1213", field="model")
    if not isinstance(name, str):
        raise api_error("1214", field="model")
    info = model(name)
    if info is None:
        raise api_error("1211")
    messages = body.get("messages")
    if messages is None:
        raise api_error("1213", field="messages")
    if not isinstance(messages, list) or not messages:
        raise api_error("1214", field="messages")
    for index, message in enumerate(messages):
        _check_message(index, message, info)
    # "Cannot contain only system or assistant messages" (API reference).
    if all(m["role"] in ("system", "assistant") for m in messages):
        raise api_error("1214", field="messages")
    for field in ("stream", "do_sample", "tool_stream"):
        _check_type(body, field, bool)
    _check_request_id(body)
    # The live messages give both ranges as [0,1] (7.3); the docs' top_p floor of 0.01 is not
    # enforced by that range (whether top_p 0 is then accepted: UNVERIFIED).
    _check_range(body, "temperature", 0, 1)
    _check_range(body, "top_p", 0, 1)
    _check_range(body, "max_tokens", 1, info.max_tokens, integer=True)
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
            isinstance(stop, list) and len(stop) <= 1 and all(isinstance(s, str) for s in stop)):
        raise api_error("1214", field="stop")
    _check_thinking(body, info)
    _check_tools(body, info)
    _check_response_format(body)

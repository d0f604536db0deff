"""Chat completion bodies and stream chunks in the service's shape, and the locally
generated reply used when no recording matches a request.

Shapes: glm-api-facts.md sections 3 and 4. Non-streaming bodies have their keys in
alphabetical order, as captured; chunks use the captured order (id, created, object,
model, choices) and only the last JSON chunk has finish_reason and usage.
"""

import hashlib
import re

from .cassettes import Reply
from .wire import DONE_LINE, count_tokens, data_event, dumps, is_chinese, response_id

# Generated replies are deterministic: a fixed creation time (2025-11-25 00:00 UTC).
GENERATED_CREATED = 1764028800
_PIECE = re.compile(r"\s*(?:[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z0-9]+|[^\sA-Za-z0-9])")


def usage(prompt_tokens, completion_tokens):
    return {"completion_tokens": completion_tokens, "prompt_tokens": prompt_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def completion_body(meta, content, finish_reason, token_usage, tool_calls=None):
    message = {"content": content, "role": "assistant"}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"choices": [{"finish_reason": finish_reason, "index": 0, "message": message}],
            "created": meta["created"], "id": meta["id"], "model": meta["model"],
            "object": "chat.completion", "request_id": meta["request_id"], "usage": token_usage}


def _call_order(call):
    """A streamed tool call (or a piece of one) in the captured key order."""
    ordered = {key: call[key] for key in ("id", "index", "type") if key in call}
    function = call.get("function", {})
    ordered["function"] = {key: function[key] for key in ("name", "arguments") if key in function}
    return ordered


def _stream_order(delta):
    """Tool calls and usage inside chunks use the captured key order, not alphabetical."""
    if "tool_calls" in delta:
        delta = {**delta, "tool_calls": [_call_order(c) for c in delta["tool_calls"]]}
    return delta


def chunk(meta, delta, finish_reason=None, token_usage=None):
    delta = _stream_order(delta)
    choice = {"index": 0}
    if finish_reason is not None:
        choice["finish_reason"] = finish_reason
    choice["delta"] = delta
    body = {"id": meta["id"], "created": meta["created"], "object": "chat.completion.chunk",
            "model": meta["model"], "choices": [choice]}
    if token_usage is not None:
        order = ("prompt_tokens", "completion_tokens", "total_tokens")
        body["usage"] = {**{k: token_usage[k] for k in order}, **token_usage}
    return body


def final_chunk(meta, finish_reason, token_usage):
    return chunk(meta, {"role": "assistant", "content": ""}, finish_reason, token_usage)


def tool_call_pieces(call, tool_stream=False):
    """The stream deltas' tool_calls entries for one call.

    Without tool_stream the call arrives whole in one chunk (captured). With it the
    arguments arrive in token-sized fragments: the first piece carries id, type and name,
    later pieces only the index and more argument text. That fragment shape follows the
    documented accumulation by index (glm-api-facts.md 4.6) and OpenAI's; it is UNVERIFIED.
    """
    if not tool_stream:
        return [call]
    fragments = split_pieces(call["function"]["arguments"]) or [""]
    first = {**call, "function": {"name": call["function"]["name"], "arguments": fragments[0]}}
    return [first] + [{"index": call["index"], "function": {"arguments": piece}}
                      for piece in fragments[1:]]


def stream_events(meta, pieces, finish_reason, token_usage, tool_calls=None, *,
                  tool_stream=False, finish_on_tool_chunks=False):
    """SSE events for a whole answer: one per text piece, the tool calls, the end.

    Each tool call (or fragment) has a chunk of its own. finish_on_tool_chunks puts
    finish_reason on those chunks too, as glm-4 and glm-4.5 were captured doing; the
    final chunk repeats it.
    """
    events = [data_event(chunk(meta, {"role": "assistant", "content": p})) for p in pieces]
    on_tool_chunks = finish_reason if finish_on_tool_chunks else None
    for call in tool_calls or []:
        for piece in tool_call_pieces(call, tool_stream):
            events.append(data_event(chunk(meta, {"tool_calls": [piece]}, on_tool_chunks)))
    events.append(data_event(final_chunk(meta, finish_reason, token_usage)))
    events.append([DONE_LINE])
    return events


def split_pieces(text):
    """Split text into token-sized pieces whose concatenation is the text."""
    pieces = _PIECE.findall(text)
    if "".join(pieces) != text:
        pieces.append(text[len("".join(pieces)):])
    return [p for p in pieces if p]


def _text_of(message):
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict)
                        and isinstance(p.get("text"), str))
    return ""


def prompt_tokens(messages):
    """Roughly what the service counts: the text plus a few tokens per message."""
    return sum(count_tokens(_text_of(m)) + 4 for m in messages)


def _example_arguments(function):
    schema = function.get("parameters") if isinstance(function.get("parameters"), dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    examples = {"string": "example", "number": 0, "integer": 0, "boolean": False}
    args = {}
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    for name in (n for n in required if isinstance(n, str)):
        spec = properties.get(name) if isinstance(properties.get(name), dict) else {}
        enum = spec.get("enum")
        args[name] = enum[0] if isinstance(enum, list) and enum else examples.get(spec.get("type"))
    return args


def generated_reply(body):
    """A deterministic, clearly labelled reply for a request no recording matches."""
    messages = body["messages"]
    last = messages[-1]
    seed = dumps(body)
    meta = {"id": response_id(seed, GENERATED_CREATED), "created": GENERATED_CREATED,
            "model": body["model"]}
    meta["request_id"] = body.get("request_id") or meta["id"]
    prompt_usage = prompt_tokens(messages)
    functions = [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]

    if functions and last["role"] == "user":
        call_id = "call_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
        arguments = dumps(_example_arguments(functions[0]))
        call = {"function": {"arguments": arguments, "name": functions[0]["name"]},
                "id": call_id, "index": 0, "type": "function"}
        token_usage = usage(prompt_usage, count_tokens(arguments) + 5)
        return meta, None, "tool_calls", token_usage, [call]

    asked = _text_of(last).strip().replace("\n", " ")
    asked = asked if len(asked) <= 80 else asked[:77] + "..."
    if is_chinese(_text_of(last)):
        text = (f"【离线生成】没有与这个请求匹配的录制，这条回复由本地生成。你说的是：“{asked}”。"
                "设置 ZHIPUAI_API_KEY 后，同样的代码会向真实的 GLM 提问。")
    else:
        text = (f"[offline, generated] No recording matches this request, so this reply was "
                f"generated locally. You said: \"{asked}\". Set ZHIPUAI_API_KEY and the same "
                "code asks the real GLM.")
    finish_reason = "stop"
    stop = body.get("stop")
    stop_word = stop if isinstance(stop, str) else (stop or [None])[0]
    if stop_word and stop_word in text:
        text = text[: text.index(stop_word)]
    pieces = split_pieces(text)
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces, finish_reason = pieces[:max_tokens], "length"
    return meta, pieces, finish_reason, usage(prompt_usage, len(pieces)), None


def generated(body):
    """The generated reply as a Reply, streaming or not as the request asked."""
    meta, pieces, finish_reason, token_usage, tool_calls = generated_reply(body)
    if body.get("stream"):
        events = stream_events(meta, pieces or [], finish_reason, token_usage, tool_calls,
                               tool_stream=body.get("tool_stream") is True)
        return Reply(200, "generated", events=events, delays_ms=[40] * len(events))
    content = "".join(pieces) if pieces is not None else None
    return Reply(200, "generated",
                 json=completion_body(meta, content, finish_reason, token_usage, tool_calls))

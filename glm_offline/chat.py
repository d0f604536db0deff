"""Chat completion bodies and stream chunks in the service's shape, and the locally
generated reply used when no recording matches a request.

Shapes: docs/sources.md#responses, #streaming and #thinking. Non-streaming bodies have their keys in
alphabetical order, as captured; chunks use the captured order (id, created, object,
model, choices) and only the last JSON chunk has finish_reason and usage. A thinking
model's answer carries its reasoning: `message.reasoning_content`, or in a stream a run of
reasoning-only deltas before the content deltas.
"""

import hashlib
import json
import re
from dataclasses import dataclass

from .cassettes import Reply
from .models import SENTENCE, model
from .validation import request_id_text
from .wire import DONE_LINE, count_tokens, data_event, dumps, is_chinese, response_id

# Generated replies are deterministic: a fixed creation time (2025-11-25 00:00 UTC).
GENERATED_CREATED = 1764028800
_PIECE = re.compile(r"\s*(?:[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z0-9]+|[^\sA-Za-z0-9])")
HANDOVERS = ("plain", "dot", "newline-first")
_STREAM_USAGE_ORDER = ("prompt_tokens", "completion_tokens", "total_tokens",
                       "prompt_tokens_details", "completion_tokens_details")


def usage(prompt_tokens, completion_tokens, reasoning_tokens=None, cached_tokens=None):
    """Token usage, keys in alphabetical order as in captured bodies. The details appear when
    given: models that report them (models.Model.usage_details) give both."""
    body = {"completion_tokens": completion_tokens}
    if reasoning_tokens is not None:
        body["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    body["prompt_tokens"] = prompt_tokens
    if cached_tokens is not None:
        body["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    body["total_tokens"] = prompt_tokens + completion_tokens
    return body


def recount(token_usage, completion_tokens, reasoning_tokens=0):
    """The same usage (same prompt, same details present) with new completion counts."""
    details = "completion_tokens_details" in token_usage
    cached = token_usage.get("prompt_tokens_details", {}).get("cached_tokens")
    return usage(token_usage.get("prompt_tokens", 0), completion_tokens,
                 reasoning_tokens if details else None, cached)


@dataclass
class Answer:
    """What the model says, before it is laid out as a body or a stream.

    `pieces` are the content tokens (None: no content, only tool calls), `reasoning` the
    reasoning tokens (None: the answer has no reasoning at all), one piece per token.
    `beside_calls` is the non-streamed body's content when pieces is None: a string, never
    null (see models.Model.tool_call_content); a stream sends no content before its calls.
    """

    meta: dict  # id, created, model, request_id
    pieces: list
    finish_reason: str
    usage: dict
    tool_calls: list = None
    reasoning: list = None
    handover: str = "plain"
    beside_calls: str = ""

    @property
    def reasoning_text(self):
        if self.reasoning is None:
            return None
        return ("\n" if self.handover == "newline-first" else "") + "".join(self.reasoning)


def answer_usage(body, reasoning, pieces, tool_calls, cached_tokens=0):
    """The usage of an answer to `body`: one token per piece, a tool call its argument
    tokens plus 5, and both details for models that report them."""
    completion = len(reasoning or []) + len(pieces or []) + sum(
        count_tokens(c["function"]["arguments"]) + 5 for c in tool_calls or [])
    info = model(body.get("model"))
    if info is not None and info.usage_details:
        return usage(prompt_tokens(body["messages"]), completion, len(reasoning or []),
                     cached_tokens)
    return usage(prompt_tokens(body["messages"]), completion)


def completion_body(meta, content, finish_reason, token_usage, tool_calls=None, reasoning=None):
    message = {"content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    message["role"] = "assistant"
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"choices": [{"finish_reason": finish_reason, "index": 0, "message": message}],
            "created": meta["created"], "id": meta["id"], "model": meta["model"],
            "object": "chat.completion", "request_id": meta["request_id"], "usage": token_usage}


def answer_body(answer):
    content = "".join(answer.pieces) if answer.pieces is not None else answer.beside_calls
    return completion_body(answer.meta, content, answer.finish_reason, answer.usage,
                           answer.tool_calls, answer.reasoning_text)


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
        ordered = {k: token_usage[k] for k in _STREAM_USAGE_ORDER if k in token_usage}
        body["usage"] = {**ordered, **token_usage}
    return body


def final_chunk(meta, finish_reason, token_usage):
    return chunk(meta, {"role": "assistant", "content": ""}, finish_reason, token_usage)


def tool_call_pieces(call, tool_stream=False):
    """The stream deltas' tool_calls entries for one call.

    Without tool_stream the call arrives whole in one chunk (captured). With it the
    arguments arrive in token-sized fragments: the first piece carries id, type and name,
    later pieces only the index and more argument text. That fragment shape follows the
    documented accumulation by index (docs/sources.md#tool-calls) and OpenAI's; it is UNVERIFIED.
    """
    if not tool_stream:
        return [call]
    fragments = split_pieces(call["function"]["arguments"]) or [""]
    first = {**call, "function": {"name": call["function"]["name"], "arguments": fragments[0]}}
    return [first] + [{"index": call["index"], "function": {"arguments": piece}}
                      for piece in fragments[1:]]


def thinking_deltas(reasoning, pieces, handover="plain"):
    """The deltas of a thinking model's answer: reasoning first, then content.

    Reasoning deltas carry no "content" key (captured, every model). The hand-over:
      "plain"          content deltas carry only content (glm-4.7-flash, 2026);
      "dot"            content deltas also carry "reasoning_content": "" (glm-4.5, 2025-09,
                       whose last piece was ".", docs/sources.md#thinking);
      "newline-first"  the first delta is {"content": "", "reasoning_content": "\\n"}, then
                       plain deltas (glm-4.5-flash, 2025-09).
    """
    if handover not in HANDOVERS:
        raise ValueError(f"handover must be one of {HANDOVERS}, not {handover!r}")
    deltas = []
    if handover == "newline-first" and reasoning is not None:
        deltas.append({"role": "assistant", "content": "", "reasoning_content": "\n"})
    deltas += [{"role": "assistant", "reasoning_content": p} for p in reasoning or []]
    empty = {"reasoning_content": ""} if handover == "dot" and reasoning is not None else {}
    deltas += [{"role": "assistant", "content": p, **empty} for p in pieces or []]
    return deltas


def stream_events(meta, pieces, finish_reason, token_usage, tool_calls=None, *,
                  reasoning=None, handover="plain", tool_stream=False,
                  finish_on_tool_chunks=False):
    """SSE events for a whole answer: its reasoning and text pieces, the tool calls, the end.

    Each tool call (or fragment) has a chunk of its own. finish_on_tool_chunks puts
    finish_reason on those chunks too, as glm-4 and glm-4.5 were captured doing; the
    final chunk repeats it.
    """
    events = [data_event(chunk(meta, delta))
              for delta in thinking_deltas(reasoning, pieces, handover)]
    on_tool_chunks = finish_reason if finish_on_tool_chunks else None
    for call in tool_calls or []:
        for piece in tool_call_pieces(call, tool_stream):
            events.append(data_event(chunk(meta, {"tool_calls": [piece]}, on_tool_chunks)))
    events.append(data_event(final_chunk(meta, finish_reason, token_usage)))
    events.append([DONE_LINE])
    return events


def answer_events(answer, tool_stream=False, finish_on_tool_chunks=False):
    return stream_events(answer.meta, answer.pieces, answer.finish_reason, answer.usage,
                         answer.tool_calls, reasoning=answer.reasoning,
                         handover=answer.handover, tool_stream=tool_stream,
                         finish_on_tool_chunks=finish_on_tool_chunks)


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


def request_id_of(body):
    """The request's request_id as an answer echoes it, or None when it sends none."""
    value = body.get("request_id")
    return None if value is None or value == "" else request_id_text(value)


def beside_calls(body, calls):
    """The content a non-streamed answer carries beside its tool calls (models.py)."""
    text = model(body["model"]).tool_call_content
    if text != SENTENCE:
        return text
    names = list(dict.fromkeys(call["function"]["name"] for call in calls))
    asked = next((m for m in reversed(body["messages"]) if m.get("role") == "user"), {})
    if is_chinese(_text_of(asked)):
        return f"我来调用 {'、'.join(names)}。"
    return f"I'll call {', '.join(names)}."


def prompt_tokens(messages):
    """Roughly what the service counts: the text plus a few tokens per message."""
    return sum(count_tokens(_text_of(m)) + 4 for m in messages)


def _json_type(spec):
    """A parameter's JSON Schema type as one name: ["string", "null"] (the nullable form)
    is "string"; anything unreadable is None."""
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str) and k != "null"), None)
    return kind if isinstance(kind, str) else None


def _example_arguments(function):
    schema = function.get("parameters") if isinstance(function.get("parameters"), dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    examples = {"string": "example", "number": 0, "integer": 0, "boolean": False}
    args = {}
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    for name in (n for n in required if isinstance(n, str)):
        spec = properties.get(name) if isinstance(properties.get(name), dict) else {}
        enum = spec.get("enum")
        args[name] = enum[0] if isinstance(enum, list) and enum else examples.get(_json_type(spec))
    return args


def _called_function(body):
    """The function a generated reply calls (tool_choice: auto, none, required or named)."""
    functions = [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]
    choice = body.get("tool_choice") or "auto"
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict):
        named = choice["function"]["name"]
        return next(f for f in functions if f["name"] == named)
    if choice == "required" or body["messages"][-1]["role"] == "user":
        return functions[0]
    return None


def _generated_texts(body, asked, function):
    """(reasoning, content) of a generated reply, in the prompt's language."""
    chinese = is_chinese(_text_of(body["messages"][-1]))
    if function is not None:
        name = function["name"]
        if chinese:
            return f"用户问：“{asked}”。工具 {name} 正好合适，我应该调用它。", None
        return f"The user asks: \"{asked}\". The tool {name} fits, so I should call it.", None
    if chinese:
        reasoning = (f"用户问：“{asked}”。没有与这个请求匹配的录制，所以这条回复由离线服务器生成。"
                     "我应该如实说明，并提示设置 ZHIPUAI_API_KEY 才能得到真实的回答。")
        content = ("【离线生成】没有与这个请求匹配的录制，这条回复由本地生成。"
                   f"你说的是：“{asked}”。设置 ZHIPUAI_API_KEY 后，同样的代码会向真实的 GLM 提问。")
    else:
        reasoning = (f"The user asks: \"{asked}\". No recording matches this request, so the "
                     "offline server generates the reply. I should say so plainly and point "
                     "to ZHIPUAI_API_KEY for a real answer.")
        content = ("[offline, generated] No recording matches this request, so this reply was "
                   f"generated locally. You said: \"{asked}\". Set ZHIPUAI_API_KEY and the same "
                   "code asks the real GLM.")
    if body.get("reasoning_effort") == "low" and model(body["model"]).reasoning_effort:
        reasoning = reasoning.split("。" if chinese else ". ")[0] + ("。" if chinese else ".")
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_object":  # valid JSON, as live (7.3)
        key = "回复" if chinese else "reply"
        content = json.dumps({"offline_generated": True, key: content}, ensure_ascii=False)
    return reasoning, content


def generated_answer(body):
    """A deterministic, clearly labelled Answer for a request no recording matches."""
    seed = dumps(body)
    meta = {"id": response_id(seed, GENERATED_CREATED), "created": GENERATED_CREATED,
            "model": body["model"]}
    meta["request_id"] = request_id_of(body) or meta["id"]
    info = model(body["model"])
    thinks = info.thinks(body)
    asked = _text_of(body["messages"][-1]).strip().replace("\n", " ")
    asked = asked if len(asked) <= 80 else asked[:77] + "..."
    function = _called_function(body)
    reasoning_text, text = _generated_texts(body, asked, function)
    reasoning = split_pieces(reasoning_text) if thinks else None
    if function is not None:
        call_id = "call_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
        call = {"function": {"arguments": dumps(_example_arguments(function)),
                             "name": function["name"]},
                "id": call_id, "index": 0, "type": "function"}
        return Answer(meta, None, "tool_calls", answer_usage(body, reasoning, None, [call]),
                      [call], reasoning, info.handover, beside_calls(body, [call]))
    stop = body.get("stop")
    stop_word = stop if isinstance(stop, str) else (stop or [None])[0]
    if stop_word and stop_word in text:
        text = text[: text.index(stop_word)]
    pieces, finish_reason = split_pieces(text), "stop"
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and len(reasoning or []) + len(pieces) > max_tokens:
        # Reasoning is spent first: a small budget on a thinking model leaves no content.
        finish_reason = "length"
        if reasoning is not None and len(reasoning) >= max_tokens:
            reasoning, pieces = reasoning[:max_tokens], []
        else:
            pieces = pieces[:max_tokens - len(reasoning or [])]
    return Answer(meta, pieces, finish_reason, answer_usage(body, reasoning, pieces, None),
                  None, reasoning, info.handover)


def generated(body):
    """The generated reply as a Reply, streaming or not as the request asked."""
    answer = generated_answer(body)
    if body.get("stream"):
        events = answer_events(answer, tool_stream=body.get("tool_stream") is True)
        return Reply(200, "generated", events=events, delays_ms=[40] * len(events))
    return Reply(200, "generated", json=answer_body(answer))

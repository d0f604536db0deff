"""Secrets a streamed chat reply spreads over several deltas, found and hidden before recording.

A reply that repeats a key may send it in pieces: "0123abcd" in one event, "ef45..." in the
next. Each raw SSE line then holds no whole key, yet a client that joins the deltas (as every
client does) rebuilds it. So the recorder joins them too, per choice and per field (content,
reasoning_content, each tool call's arguments), asks `spans_of(text)` where the secrets are
in the joined text, and rewrites the deltas that carry their pieces: the first piece becomes
the mark ("<redacted>"), the others lose their part. The text around a secret is kept.

Only complete `data:` lines holding a JSON object with "choices" are read; anything else (a
comment, [DONE], a line that is not JSON) is left as it is, for the per-line redaction.
"""

import json

TEXT_FIELDS = ("content", "reasoning_content")


def _chunk(line):
    """(prefix, parsed chunk) of a `data:` line holding a chat chunk, else None."""
    if not line.startswith("data:"):
        return None
    text = line[5:]
    text = text[1:] if text.startswith(" ") else text
    if not text.startswith("{"):
        return None
    try:
        chunk = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(chunk, dict) or not isinstance(chunk.get("choices"), list):
        return None
    return line[:len(line) - len(text)], chunk


def _texts(chunks):
    """Every text a client joins: key -> [(line index, object, field)], in stream order."""
    texts = {}
    for number, (_, chunk) in chunks.items():
        for position, choice in enumerate(chunk["choices"]):
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                continue
            index = repr(choice.get("index", position))
            for field in TEXT_FIELDS:
                if isinstance(delta.get(field), str):
                    texts.setdefault((index, field), []).append((number, delta, field))
            calls = delta.get("tool_calls")
            for place, call in enumerate(calls if isinstance(calls, list) else []):
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    key = (index, "tool", repr(call.get("index", place)))
                    texts.setdefault(key, []).append((number, function, "arguments"))
    return texts


def _cut(piece, start, spans, mark):
    """`piece` (found at `start` in the joined text) without the parts inside `spans`; the
    mark stands where a span begins."""
    end, kept, at = start + len(piece), [], start
    for low, high in spans:
        if high <= start or low >= end:
            continue
        kept.append(piece[at - start:max(low, start) - start])
        if low >= start:
            kept.append(mark)
        at = min(high, end)
    kept.append(piece[at - start:])
    return "".join(kept)


def _merged(spans):
    result = []
    for low, high in sorted(spans):
        if result and low <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], high))
        else:
            result.append((low, high))
    return result


def find(lines, spans_of):
    """How many secrets the joined deltas of these SSE lines hold."""
    chunks = {n: c for n, c in ((n, _chunk(line)) for n, line in enumerate(lines)) if c}
    return sum(len(spans_of("".join(obj[field] for _, obj, field in pieces)))
               for pieces in _texts(chunks).values())


def redact(lines, spans_of, mark):
    """(the lines with every secret in the joined deltas replaced by `mark`, how many).

    `spans_of(text)` returns the (start, end) of each secret in a text. Lines that change
    are written again as compact JSON; the others are returned as they were."""
    chunks = {n: c for n, c in ((n, _chunk(line)) for n, line in enumerate(lines)) if c}
    changed, count = set(), 0
    for pieces in _texts(chunks).values():
        spans = _merged(spans_of("".join(obj[field] for _, obj, field in pieces)))
        if not spans:
            continue
        count += len(spans)
        start = 0
        for number, obj, field in pieces:
            piece = obj[field]
            cut = _cut(piece, start, spans, mark)
            start += len(piece)
            if cut != piece:
                obj[field] = cut
                changed.add(number)
    result = list(lines)
    for number in changed:
        prefix, chunk = chunks[number]
        result[number] = prefix + json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
    return result, count

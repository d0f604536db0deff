"""Write cassettes from transcript specs (contributors/cassette_specs/*.json).

An interaction spec has "name" and "body" (the exact request), and then one of:
"answer" (text pieces, one token each) with optional "finish_reason", "tool_calls"
([{"name", "arguments", "id"}]), "error" (a business code), or "sse" (raw SSE lines,
with optional "event_delays_ms") for recordings with unusual but legal framing.

Thinking models: "reasoning" (reasoning pieces, one token each) comes before "answer";
the answer then carries message.reasoning_content, or in a stream a run of reasoning-only
deltas before the content deltas (a spec without it shows an answer without reasoning). It
is refused for a request that does not think (a GLM-4 model, or thinking switched off).
"handover" ("plain", "dot" or "newline-first"; see glm_offline.chat.thinking_deltas) says
how the stream passes from reasoning to content; by default the model's own
(glm_offline.models). "cached_tokens" (default 0) goes into usage.prompt_tokens_details for
models that report it, with completion_tokens_details.reasoning_tokens = the number of
reasoning pieces. A reply cut by max_tokens ("finish_reason": "length") has exactly
max_tokens pieces, reasoning and answer together: reasoning is spent first, so a small
budget leaves an empty answer.

Async tasks: "async": true makes the request a POST to /async/chat/completions; the
response is the task's final record (the completion plus "task_status": "SUCCESS") with
"polls_before_done" (default 2), how many polls answer PROCESSING first.

Tool calls: "arguments" is a JSON value, written as the model would (json.dumps);
"arguments_raw" is the exact argument string instead, for a model that sends invalid
JSON. A non-streamed answer's content beside its calls is "beside_calls", by default the
model's (glm_offline.chat.beside_calls: "" , "\n\n" or a short sentence, never null).
In a stream each call has a chunk of its own; "finish_on_tool_chunks": true puts
finish_reason on those chunks too (the glm-4 / glm-4.5 captures). When the request body
has "tool_stream": true, the arguments are written in fragments over several chunks
(see glm_offline.chat.tool_call_pieces: that fragment shape is UNVERIFIED).

The recordings shipped with glm_offline were not captured from the live API (it is not
reachable from where they were made). They are transcribed: each spec gives the request
and the answer, and this script lays them out in the documented, publicly captured wire
format using the same builders the server uses. `python -m glm_offline record` replaces
them with real captures for anyone with a key.

    python contributors/transcribe.py            # rewrite every cassette from its spec
    python contributors/transcribe.py --check    # fail if a cassette differs from its spec
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

from glm_offline import chat, models, provenance
from glm_offline.cassette_file import FORMAT_VERSION, text, write_whole
from glm_offline.cassettes import PACKAGE_CASSETTES
from glm_offline.routes import API_PREFIX
from glm_offline.tasks import task_record
from glm_offline.wire import LIVE_BASE_URL, api_error, response_id, sse_lines_to_events

SPECS = Path(__file__).parent / "cassette_specs"
HOW = ("transcribed: written from the documented and publicly captured GLM v4 wire format "
       "(field names, key order, SSE framing as in real captures), not captured from the live "
       "API; answers, token counts and event gaps are plausible, not measured. Regenerate with "
       "contributors/transcribe.py; replace with real captures with "
       "`python -m glm_offline record`.")
REASONING_HOW = (" The reasoning (reasoning_content) was written for the lesson, in the shape "
                 "the captures show, not produced by a model.")


def tool_call(spec, index, seed):
    digest = hashlib.sha256(f"{seed}/{index}".encode()).hexdigest()
    call_id = spec.get("id") or "call_" + digest[:24]
    if "arguments_raw" in spec:  # exactly what the model sent, valid JSON or not
        arguments = spec["arguments_raw"]
    else:
        arguments = json.dumps(spec["arguments"], ensure_ascii=False)
    return {"function": {"arguments": arguments, "name": spec["name"]},
            "id": call_id, "index": index, "type": "function"}


def thinking_of(item, body):
    """(reasoning pieces or None, handover) of a spec, checked against the model table."""
    info = models.model(body["model"])
    if info is None:
        raise SystemExit(f"{item['name']}: unknown model {body['model']!r}")
    reasoning = item.get("reasoning")
    if reasoning is not None and not info.thinks(body):
        raise SystemExit(f"{item['name']}: \"reasoning\" given, but {body['model']} does not "
                         "think for this request")
    handover = item.get("handover", info.handover)
    if handover not in chat.HANDOVERS:
        raise SystemExit(f"{item['name']}: handover must be one of {chat.HANDOVERS}")
    return reasoning, handover


def interaction(item, model, created):
    """One cassette interaction from its spec (`model`: the spec's default, unused: each
    request names its own)."""
    body = item["body"]
    name = item["name"]
    endpoint = "/async/chat/completions" if item.get("async") else "/chat/completions"
    request = {"method": "POST", "path": API_PREFIX + endpoint, "body": body}
    if "error" in item:
        error = api_error(item["error"])
        return {"name": name, "request": request,
                "response": {"status": error.status, "json": error.body()}}
    if "sse" in item:  # raw lines, for recordings that show unusual but legal framing
        lines = item["sse"]
        delays = item.get("event_delays_ms", [60] * len(sse_lines_to_events(lines)))
        return {"name": name, "request": request,
                "response": {"status": 200, "sse": lines, "event_delays_ms": delays}}
    created = item.get("created", created)
    meta = {"id": response_id(name, created), "created": created, "model": body["model"]}
    meta["request_id"] = chat.request_id_of(body) or meta["id"]
    reasoning, handover = thinking_of(item, body)
    pieces = item.get("answer", [])
    calls = [tool_call(c, i, name) for i, c in enumerate(item.get("tool_calls", []))]
    finish = item.get("finish_reason", "tool_calls" if calls else "stop")
    # One piece is one token, as in the stream (one delta per token), so a reply cut by
    # max_tokens has exactly max_tokens pieces (reasoning and answer) and completion_tokens.
    if finish == "length" and len(reasoning or []) + len(pieces) != body.get("max_tokens"):
        raise SystemExit(f"{name}: finish_reason 'length' needs exactly max_tokens pieces, "
                         "reasoning and answer together")
    usage = chat.answer_usage(body, reasoning, pieces, calls, item.get("cached_tokens", 0))
    content = pieces if pieces or not calls else None
    beside = item.get("beside_calls", chat.beside_calls(body, calls) if calls else "")
    answer = chat.Answer(meta, content, finish, usage, calls, reasoning, handover, beside)
    if not body.get("stream"):
        response = {"status": 200, "json": chat.answer_body(answer)}
        if item.get("async"):
            response = {"status": 200, "json": task_record(response["json"], "SUCCESS"),
                        "polls_before_done": item.get("polls_before_done", 2)}
        return {"name": name, "request": request, "response": response}
    if item.get("async"):
        raise SystemExit(f"{name}: an async task takes no \"stream\"")
    events = chat.answer_events(answer, tool_stream=body.get("tool_stream") is True,
                                finish_on_tool_chunks=item.get("finish_on_tool_chunks", False))
    lines = [line for event in events for line in (*event, "")]
    gap = item.get("gap_ms", 60)
    delays = [item.get("first_gap_ms", 300)] + [gap] * (len(events) - 2) + [5]
    return {"name": name, "request": request,
            "response": {"status": 200, "sse": lines, "event_delays_ms": delays}}


def cassette(spec, last_drift=None):
    """The cassette of a spec; `last_drift` is kept from the file it replaces (a drift run
    writes it there, see glm_offline.provenance)."""
    metadata = {key: spec[key] for key in ("description", "recorded_at", "model")}
    how = HOW
    if any("reasoning" in item for item in spec["interactions"]):
        how += REASONING_HOW
    metadata.update({"how": how, "api_base": LIVE_BASE_URL,
                     "provenance": {**provenance.TRANSCRIBED, "last_drift": last_drift}})
    created = spec["created"]
    return {"version": FORMAT_VERSION, "metadata": metadata,
            "interactions": [interaction(item, spec["model"], created)
                             for item in spec["interactions"]]}


def render(spec, last_drift=None):
    return text(cassette(spec, last_drift))


def last_drift_of(path):
    """The last drift check recorded in an existing cassette, or None."""
    if not path.exists():
        return None
    metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    return (metadata.get("provenance") or {}).get("last_drift")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for spec_path in sorted(SPECS.glob("*.json")):
        target = PACKAGE_CASSETTES / spec_path.name
        data = cassette(json.loads(spec_path.read_text(encoding="utf-8")), last_drift_of(target))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if text(data) != current:
            stale.append(target.name)
            if not args.check:
                write_whole(target, data)
    verb = "stale" if args.check else "rewritten"
    print(f"{len(stale)} cassette(s) {verb}" + (": " + ", ".join(stale) if stale else ""))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

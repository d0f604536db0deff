"""Check the official SDKs, unchanged, against a recorded GLM server this script starts.

Runs whichever of `zhipuai` and `openai` is importable in this interpreter:

  * zhipuai.ZhipuAI(api_key=KEY, base_url=BASE): raw key (the default) and JWT
    (disable_token_cache=False), chat.completions.create without and with stream=True;
  * openai.OpenAI(api_key=KEY, base_url=BASE): the same two calls.

The request is the recorded English one ("hello-en" / "hello-en-stream"). One line per
check, "ok" or "FAILED: reason"; an ok line says whether the reply was the recording or a
generated one (the zhipuai SDK adds fields, so its request may not match the recording
exactly; that is expected). Exit status 1 if a check of an importable SDK failed,
2 if no SDK is importable or the server cannot start.

Use a throwaway virtualenv per SDK (never the project's), e.g.:

    python -m venv /tmp/v-zhipuai && /tmp/v-zhipuai/bin/pip install zhipuai sniffio requests
    PYTHONPATH=/work/main /tmp/v-zhipuai/bin/python scripts/check_official_sdks.py

The server runs as `<python> -m glm_offline serve --port 0 --pacing instant` on
127.0.0.1, with this interpreter unless --server-python is given, and is always stopped.
"""

import argparse
import importlib
import json
import sys
from pathlib import Path

import serve_process

REPO = Path(__file__).resolve().parent.parent
CASSETTE = REPO / "glm_offline" / "cassettes" / "server-basics.json"
TIMEOUT_S = 20


def recording(name):
    for interaction in json.loads(CASSETTE.read_text(encoding="utf-8"))["interactions"]:
        if interaction["name"] == name:
            return interaction
    raise SystemExit(f"no interaction {name!r} in {CASSETTE}")


def recorded_ids():
    """Response ids of the recorded English replies, to tell recorded from generated."""
    ids = {recording("hello-en")["response"]["json"]["id"]}
    for line in recording("hello-en-stream")["response"]["sse"]:
        if line.startswith("data: {"):
            ids.add(json.loads(line[6:])["id"])
    return ids


def messages():
    return recording("hello-en")["request"]["body"]["messages"]


def model():
    return recording("hello-en")["request"]["body"]["model"]


def non_streaming(client):
    response = client.chat.completions.create(model=model(), messages=messages())
    content = response.choices[0].message.content
    if not content:
        raise AssertionError(f"empty content in {response!r}"[:300])
    return response.id, content, response.choices[0].finish_reason


def streaming(client):
    stream = client.chat.completions.create(model=model(), messages=messages(), stream=True)
    ids, parts, finish = set(), [], None
    for chunk in stream:
        ids.add(chunk.id)
        if chunk.choices:
            choice = chunk.choices[0]
            if choice.delta is not None and choice.delta.content:
                parts.append(choice.delta.content)
            finish = choice.finish_reason or finish
    if not parts:
        raise AssertionError("the stream had no content")
    if finish is None:
        raise AssertionError("no chunk carried a finish_reason")
    if len(ids) != 1:
        raise AssertionError(f"chunks have {len(ids)} different ids")
    return ids.pop(), "".join(parts), finish


def clients(name, sdk, base_url, api_key):
    if name == "zhipuai":
        yield "ZhipuAI raw key", lambda: sdk.ZhipuAI(api_key=api_key, base_url=base_url,
                                                    timeout=TIMEOUT_S, max_retries=0)
        yield "ZhipuAI JWT (disable_token_cache=False)", lambda: sdk.ZhipuAI(
            api_key=api_key, base_url=base_url, disable_token_cache=False,
            timeout=TIMEOUT_S, max_retries=0)
    else:
        yield "OpenAI", lambda: sdk.OpenAI(api_key=api_key, base_url=base_url,
                                           timeout=TIMEOUT_S, max_retries=0)


def run_checks(name, sdk, base_url, api_key, known_ids):
    failures = 0
    version = getattr(sdk, "__version__", "?")
    for label, make in clients(name, sdk, base_url, api_key):
        for call_name, call in (("non-streaming", non_streaming), ("stream=True", streaming)):
            title = f"{name} {version}: {label}, {call_name}"
            try:
                response_id, content, finish = call(make())
            except Exception as exc:  # any failure is a result line
                failures += 1
                print(f"FAILED  {title}: {type(exc).__name__}: {exc}"[:600], flush=True)
                continue
            source = "recorded reply" if response_id in known_ids else \
                "generated reply (request did not match the recording exactly)"
            print(f"ok      {title}: {source}, finish_reason={finish}, content={content!r}",
                  flush=True)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-python", default=sys.executable,
                        help="interpreter that runs the server (default: this one)")
    args = parser.parse_args(argv)

    sdks = {}
    for name in ("zhipuai", "openai"):
        try:
            sdks[name] = importlib.import_module(name)
        except ImportError as exc:
            print(f"skip    {name}: not importable here ({exc})")
    if not sdks:
        print("error: neither zhipuai nor openai is importable in this interpreter",
              file=sys.stderr)
        return 2
    try:
        process, base_url, api_key = serve_process.start(["--pacing", "instant"],
                                                         python=args.server_python)
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot start the recorded server: {exc}", file=sys.stderr)
        return 2
    print(f"server  {base_url} (server: {args.server_python}; SDKs: {sys.executable}, "
          f"python {sys.version.split()[0]})")
    try:
        known_ids = recorded_ids()
        failures = sum(run_checks(name, sdk, base_url, api_key, known_ids)
                       for name, sdk in sdks.items())
    finally:
        serve_process.stop(process)
    print(f"{'all checks ok' if not failures else f'{failures} check(s) FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

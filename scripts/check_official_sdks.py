"""Check real clients, unchanged, against a recorded GLM server this script starts: each must
get the RECORDED answer for a recorded prompt, streaming and not.

Runs whichever of these is importable in this interpreter:

  * zhipuai.ZhipuAI(api_key=KEY, base_url=BASE): raw key (the default) and JWT
    (disable_token_cache=False);
  * zai.ZaiClient (api.z.ai's client: it sends Accept-Language: en-US,en, so its errors come
    back in English) and zai.ZhipuAiClient;
  * openai.OpenAI(api_key=KEY, base_url=BASE);
  * langchain_openai.ChatOpenAI(model=..., api_key=KEY, base_url=BASE): invoke and stream;
  * litellm.completion(model="openai/<model>", api_base=BASE, api_key=KEY).

The server runs in strict mode, so a request that does not match the recording is a FAILED
line that names the nearest recording and the field that differed (the extra fields a client
sends, e.g. "stream": false or stream_options, must match: glm_offline.matching). The prompt
is the recorded English one ("hello-en" / "hello-en-stream" in server-basics.json); an ok
line shows the content, which must be the recorded content. For zai-sdk a third check sends an
unknown model and expects the English 1211 message. Exit status 1 if a check of an
importable client failed, 2 if none is importable or the server cannot start.

Use a throwaway virtualenv per client (never the project's; zhipuai and zai-sdk cannot
share one: their PyJWT pins conflict), e.g.:

    python -m venv /tmp/venv-sdk-zai && /tmp/venv-sdk-zai/bin/pip install zai-sdk
    PYTHONPATH=/work/main /tmp/venv-sdk-zai/bin/python scripts/check_official_sdks.py \\
        --server-python /work/main/.venv/bin/python

The server runs as `<python> -m glm_offline serve --port 0 --pacing instant --strict` on
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
CLIENTS = ("zhipuai", "zai", "openai", "langchain_openai", "litellm")
ENGLISH_1211 = "Unknown Model, please check the model code."


def recording(name):
    for interaction in json.loads(CASSETTE.read_text(encoding="utf-8"))["interactions"]:
        if interaction["name"] == name:
            return interaction
    raise SystemExit(f"no interaction {name!r} in {CASSETTE}")


def recorded_content():
    """The recorded answers' text, non-streaming and streaming."""
    whole = recording("hello-en")["response"]["json"]["choices"][0]["message"]["content"]
    parts = []
    for line in recording("hello-en-stream")["response"]["sse"]:
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                parts.append(choice["delta"].get("content") or "")
    return {"non-streaming": whole, "stream=True": "".join(parts)}


def messages():
    return recording("hello-en")["request"]["body"]["messages"]


def model():
    return recording("hello-en")["request"]["body"]["model"]


# -- one call per client style: return (content, finish_reason) ----------------------------

def sdk_once(client):
    response = client.chat.completions.create(model=model(), messages=messages())
    return response.choices[0].message.content, response.choices[0].finish_reason


def sdk_stream(client):
    stream = client.chat.completions.create(model=model(), messages=messages(), stream=True)
    parts, finish = [], None
    for chunk in stream:
        for choice in chunk.choices or []:
            if choice.delta is not None and choice.delta.content:
                parts.append(choice.delta.content)
            finish = choice.finish_reason or finish
    return "".join(parts), finish


def langchain_once(llm):
    message = llm.invoke([(m["role"], m["content"]) for m in messages()])
    return message.content, message.response_metadata.get("finish_reason")


def langchain_stream(llm):
    parts, finish = [], None
    for chunk in llm.stream([(m["role"], m["content"]) for m in messages()]):
        parts.append(chunk.content or "")
        finish = chunk.response_metadata.get("finish_reason") or finish
    return "".join(parts), finish


def litellm_once(call):
    response = call(messages=messages())
    return response.choices[0].message.content, response.choices[0].finish_reason


def litellm_stream(call):
    parts, finish = [], None
    for chunk in call(messages=messages(), stream=True):
        for choice in chunk.choices or []:
            if choice.delta is not None and choice.delta.content:
                parts.append(choice.delta.content)
            finish = choice.finish_reason or finish
    return "".join(parts), finish


def clients(name, module, base_url, api_key):
    """(label, make_client, once, stream) for each way this client is used."""
    common = {"api_key": api_key, "base_url": base_url, "timeout": TIMEOUT_S, "max_retries": 0}
    if name == "zhipuai":
        yield "ZhipuAI raw key", lambda: module.ZhipuAI(**common), sdk_once, sdk_stream
        yield ("ZhipuAI JWT (disable_token_cache=False)",
               lambda: module.ZhipuAI(disable_token_cache=False, **common), sdk_once, sdk_stream)
    elif name == "zai":
        yield "ZaiClient", lambda: module.ZaiClient(**common), sdk_once, sdk_stream
        yield "ZhipuAiClient", lambda: module.ZhipuAiClient(**common), sdk_once, sdk_stream
    elif name == "openai":
        yield "OpenAI", lambda: module.OpenAI(**common), sdk_once, sdk_stream
    elif name == "langchain_openai":
        yield ("ChatOpenAI", lambda: module.ChatOpenAI(model=model(), **common),
               langchain_once, langchain_stream)
    else:
        def make():
            return lambda **kwargs: module.completion(
                model=f"openai/{model()}", api_base=base_url, api_key=api_key,
                timeout=TIMEOUT_S, max_retries=0, **kwargs)
        yield "completion(model='openai/...')", make, litellm_once, litellm_stream


def zai_errors_in_english(module, base_url, api_key):
    client = module.ZaiClient(api_key=api_key, base_url=base_url, timeout=TIMEOUT_S,
                              max_retries=0)
    try:
        client.chat.completions.create(model="glm-9", messages=messages())
    except Exception as exc:  # noqa: BLE001 (the SDK's own error class; its text is checked)
        if ENGLISH_1211 not in str(exc):
            raise AssertionError(f"expected the English 1211 message, got: {exc}") from None
        return ENGLISH_1211, None
    raise AssertionError("an unknown model was accepted")


def run_checks(name, module, base_url, api_key, expected):
    failures = 0
    version = getattr(module, "__version__", None) or _version(name)
    checks = [(label, make, call_name, call)
              for label, make, once, stream in clients(name, module, base_url, api_key)
              for call_name, call in (("non-streaming", once), ("stream=True", stream))]
    if name == "zai":
        checks.append(("ZaiClient", lambda: module, "unknown model",
                       lambda m: zai_errors_in_english(m, base_url, api_key)))
    for label, make, call_name, call in checks:
        title = f"{name} {version}: {label}, {call_name}"
        try:
            content, finish = call(make())
            want = expected.get(call_name)
            if want is not None and content != want:
                raise AssertionError(f"not the recorded content: {content!r}")
        except Exception as exc:  # noqa: BLE001 (any failure is a result line)
            failures += 1
            print(f"FAILED  {title}: {type(exc).__name__}: {exc}"[:700], flush=True)
            continue
        what = "error" if call_name == "unknown model" else "recorded reply"
        print(f"ok      {title}: {what}, finish_reason={finish}, content={content!r}", flush=True)
    return failures


def _version(name):
    try:
        from importlib.metadata import version
        return version({"zai": "zai-sdk", "langchain_openai": "langchain-openai"}.get(name, name))
    except Exception:  # noqa: BLE001 (only a label)
        return "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-python", default=sys.executable,
                        help="interpreter that runs the server (default: this one)")
    args = parser.parse_args(argv)

    modules = {}
    for name in CLIENTS:
        try:
            modules[name] = importlib.import_module(name)
        except ImportError as exc:
            print(f"skip    {name}: not importable here ({exc})")
    if not modules:
        print(f"error: none of {', '.join(CLIENTS)} is importable in this interpreter",
              file=sys.stderr)
        return 2
    try:
        process, base_url, api_key = serve_process.start(["--pacing", "instant", "--strict"],
                                                         python=args.server_python)
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot start the recorded server: {exc}", file=sys.stderr)
        return 2
    print(f"server  {base_url} (server: {args.server_python}; clients: {sys.executable}, "
          f"python {sys.version.split()[0]})")
    try:
        expected = recorded_content()
        failures = sum(run_checks(name, module, base_url, api_key, expected)
                       for name, module in modules.items())
    finally:
        serve_process.stop(process)
    print(f"{'all checks ok' if not failures else f'{failures} check(s) FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

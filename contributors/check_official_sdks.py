"""Check real clients, unchanged, against a recorded GLM server: each must get the RECORDED
answers for recorded requests, in six client families:

  openai      openai.OpenAI(api_key=KEY, base_url=BASE)
  langchain   langchain_openai.ChatOpenAI(model=..., api_key=KEY, base_url=BASE) and
              langchain_community.chat_models.ChatZhipuAI(model=..., api_key=KEY,
              api_base=BASE + "/chat/completions") (it signs a JWT with the key)
  zai-sdk     zai.ZaiClient (api.z.ai's client, English errors) and zai.ZhipuAiClient
  zhipuai     zhipuai.ZhipuAI: raw key, and JWT (disable_token_cache=False)
  litellm     litellm.completion(model="openai/<model>", api_base=BASE, api_key=KEY)

Checks, each on a recorded glm-4.7-flash exchange (lesson-09.json, client-checks.json):
  chat         a plain question; the recorded content
  thinking     the same answer's reasoning, as the client exposes it (reasoning_content)
  stream       a streamed question; the recorded content, joined from the deltas
  stream-thinking   that stream's reasoning deltas, joined
  tool-call    the umbrella question with the get_weather tool; a get_weather call for Beijing
  tool-answer  the second round, built the way the client's docs show (its own assistant
               message, then a tool message); the recorded final answer
  json         response_format {"type": "json_object"}; the recorded JSON object
  effort       reasoning_effort="low", for clients that have that parameter; the recorded answer
  (zai-sdk also: an unknown model gets the English 1211 message)

The server is strict: a request that does not match a recording is an error that names the
nearest recording and the field that differed, and the FAILED line shows it as the client
reported it. Exit status 1 if a check failed, 2 if no client is importable or the server
cannot start.

One command, each family in a throwaway virtualenv under DIR (created and pip-installed from
PyPI on first use; zhipuai and zai-sdk cannot share one, their PyJWT pins conflict):

    python contributors/check_official_sdks.py --venvs /tmp/sdk-venvs            # starts a server
    python contributors/check_official_sdks.py --venvs /tmp/sdk-venvs \\
        --base-url http://127.0.0.1:8000/api/paas/v4 --api-key <the key serve printed>

Without --venvs it checks the clients importable in this interpreter (--family to pick one).
Without --base-url it starts `<python> -m glm_offline serve --port 0 --pacing instant --strict`
on 127.0.0.1 (--server-python, default this interpreter) and always stops it.
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CASSETTES = REPO / "glm_offline" / "cassettes"
TIMEOUT_S = 20
ERROR_CHARS = 1500  # of an error's text in a FAILED line
MODEL = "glm-4.7-flash"
ENGLISH_1211 = "Unknown Model, please check the model code."
FAMILIES = {  # name: (pip packages, modules it needs)
    "openai": (["openai"], ["openai"]),
    "langchain": (["langchain-openai", "langchain-community", "httpx-sse", "pyjwt"],
                  ["langchain_openai", "langchain_community"]),
    "zai-sdk": (["zai-sdk"], ["zai"]),
    # zhipuai 2.1.5 imports sniffio without requiring it, and httpx 0.29 no longer brings it
    "zhipuai": (["zhipuai", "sniffio"], ["zhipuai"]),
    "litellm": (["litellm"], ["litellm"]),
}
VERSIONED = {"openai": ["openai"], "langchain": ["langchain-openai", "langchain-community",
                                                "langchain-core", "openai", "httpx-sse"],
             "zai-sdk": ["zai-sdk"], "zhipuai": ["zhipuai", "httpx"],
             "litellm": ["litellm", "openai"]}


# -- what the recordings say -----------------------------------------------------------------

def interaction(cassette, name):
    data = json.loads((CASSETTES / cassette).read_text(encoding="utf-8"))
    for item in data["interactions"]:
        if item["name"] == name:
            return item
    raise SystemExit(f"no interaction {name!r} in {cassette}")


def streamed(item):
    """(content, reasoning) joined from a recorded stream's deltas."""
    content, reasoning = [], []
    for line in item["response"]["sse"]:
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                content.append(choice["delta"].get("content") or "")
                reasoning.append(choice["delta"].get("reasoning_content") or "")
    return "".join(content), "".join(reasoning)


def recorded():
    """The requests to send and the answers to expect, read from the cassettes."""
    question = interaction("lesson-09.json", "lesson09-question-en")
    stream = interaction("lesson-09.json", "lesson09-stream-en")
    call = interaction("lesson-09.json", "lesson09-umbrella-call-en")
    answer = interaction("lesson-09.json", "lesson09-umbrella-answer-en")
    as_json = interaction("client-checks.json", "client-checks-json-en")
    message = question["response"]["json"]["choices"][0]["message"]
    stream_content, stream_reasoning = streamed(stream)
    recorded_call = call["response"]["json"]["choices"][0]["message"]["tool_calls"][0]
    return {
        "question": question["request"]["body"]["messages"],
        "content": message["content"], "reasoning": message["reasoning_content"],
        "stream_question": stream["request"]["body"]["messages"],
        "stream_content": stream_content, "stream_reasoning": stream_reasoning,
        "tool_question": call["request"]["body"]["messages"],
        "tools": call["request"]["body"]["tools"],
        "call": (recorded_call["function"]["name"],
                 json.loads(recorded_call["function"]["arguments"])),
        "tool_result": answer["request"]["body"]["messages"][-1]["content"],
        "tool_answer": answer["response"]["json"]["choices"][0]["message"]["content"],
        "json_question": as_json["request"]["body"]["messages"],
        "json": json.loads(as_json["response"]["json"]["choices"][0]["message"]["content"]),
    }


# -- one adapter per client style: ask() -> (content, reasoning, [(id, name, args)], message) --

class Sdk:
    """openai, zai-sdk, zhipuai: client.chat.completions.create."""

    def __init__(self, create, effort=False, dump_message=False):
        self.create, self.has_effort, self.dump_message = create, effort, dump_message

    def ask(self, messages, tools=None, json_mode=False, effort=None):
        options = {"tools": tools} if tools else {}
        if json_mode:
            options["response_format"] = {"type": "json_object"}
        if effort:
            options["reasoning_effort"] = effort
        response = self.create(model=MODEL, messages=messages, **options)
        message = response.choices[0].message
        calls = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []]
        # the documented round trip: openai appends the message object, zai-sdk and zhipuai
        # their message.model_dump()
        back = message.model_dump() if self.dump_message else message
        return message.content, _reasoning(message), calls, back

    def stream(self, messages):
        content, reasoning = [], []
        for chunk in self.create(model=MODEL, messages=messages, stream=True):
            for choice in chunk.choices or []:
                if choice.delta is not None:
                    content.append(choice.delta.content or "")
                    reasoning.append(_reasoning(choice.delta) or "")
        return "".join(content), "".join(reasoning)

    def tool_message(self, call_id, content):
        return {"role": "tool", "tool_call_id": call_id, "content": content}

    def user(self, messages):
        return messages


class LangChain:
    """ChatOpenAI and ChatZhipuAI: invoke and stream on LangChain messages."""

    def __init__(self, make, has_effort):
        self.make, self.has_effort = make, has_effort

    def user(self, messages):
        from langchain_core.messages import HumanMessage
        return [HumanMessage(m["content"]) for m in messages]

    def ask(self, messages, tools=None, json_mode=False, effort=None):
        llm = self.make(reasoning_effort=effort) if effort else self.make()
        if tools:
            llm = llm.bind_tools(tools)
        if json_mode:
            llm = llm.bind(response_format={"type": "json_object"})
        message = llm.invoke(messages)
        calls = [(c["id"], c["name"], json.dumps(c["args"])) for c in message.tool_calls]
        if not calls:  # ChatZhipuAI keeps the raw calls in additional_kwargs only
            calls = [(c["id"], c["function"]["name"], c["function"]["arguments"])
                     for c in message.additional_kwargs.get("tool_calls") or []]
        return (message.content, message.additional_kwargs.get("reasoning_content"), calls,
                message)

    def stream(self, messages):
        content, reasoning = [], []
        for chunk in self.make().stream(messages):
            content.append(chunk.content or "")
            reasoning.append(chunk.additional_kwargs.get("reasoning_content") or "")
        return "".join(content), "".join(reasoning)

    def tool_message(self, call_id, content):
        from langchain_core.messages import ToolMessage
        return ToolMessage(content, tool_call_id=call_id)


def _reasoning(message):
    value = getattr(message, "reasoning_content", None)
    if value is None:
        value = (getattr(message, "model_extra", None) or {}).get("reasoning_content")
    return value


def clients(family, base_url, api_key):
    """(label, make_adapter) for each way this family is used."""
    common = {"api_key": api_key, "base_url": base_url, "timeout": TIMEOUT_S, "max_retries": 0}
    if family == "openai":
        import openai
        yield "OpenAI", lambda: Sdk(openai.OpenAI(**common).chat.completions.create,
                                    effort=True)
    elif family == "zai-sdk":
        import zai
        for name in ("ZaiClient", "ZhipuAiClient"):
            yield name, lambda name=name: Sdk(
                getattr(zai, name)(**common).chat.completions.create, dump_message=True)
    elif family == "zhipuai":
        import zhipuai
        yield "ZhipuAI raw key", lambda: Sdk(zhipuai.ZhipuAI(**common).chat.completions.create,
                                             dump_message=True)
        yield ("ZhipuAI JWT (disable_token_cache=False)", lambda: Sdk(
            zhipuai.ZhipuAI(disable_token_cache=False, **common).chat.completions.create,
            dump_message=True))
    elif family == "langchain":
        from langchain_community.chat_models import ChatZhipuAI
        from langchain_openai import ChatOpenAI
        yield "ChatOpenAI", lambda: LangChain(
            lambda **extra: ChatOpenAI(model=MODEL, **common, **extra), has_effort=True)
        yield "ChatZhipuAI", lambda: LangChain(
            lambda **extra: ChatZhipuAI(model=MODEL, api_key=api_key,
                                        api_base=base_url + "/chat/completions", **extra),
            has_effort=False)
    elif family == "litellm":
        import litellm

        def create(model, **kwargs):
            return litellm.completion(model=f"openai/{model}", api_base=base_url,
                                      api_key=api_key, timeout=TIMEOUT_S, max_retries=0,
                                      **kwargs)
        yield "completion(model='openai/...')", lambda: Sdk(create, effort=True)


# -- the checks: each returns a short description of what came back, or raises --------------

def expect(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, recorded {want!r}")
    return f"{what} as recorded"


def check_chat(client, r):
    content, _, _, _ = client.ask(client.user(r["question"]))
    return expect("content", content, r["content"])


def check_thinking(client, r):
    _, reasoning, _, _ = client.ask(client.user(r["question"]))
    return expect("reasoning_content", reasoning, r["reasoning"])


def check_stream(client, r):
    content, _ = client.stream(client.user(r["stream_question"]))
    return expect("content", content, r["stream_content"])


def check_stream_thinking(client, r):
    _, reasoning = client.stream(client.user(r["stream_question"]))
    return expect("reasoning deltas", reasoning, r["stream_reasoning"])


def check_tool_call(client, r):
    _, _, calls, _ = client.ask(client.user(r["tool_question"]), tools=r["tools"])
    got = [(name, json.loads(arguments)) for _, name, arguments in calls]
    return expect("tool calls", got, [r["call"]])


def check_tool_answer(client, r):
    first = client.user(r["tool_question"])
    _, _, calls, message = client.ask(first, tools=r["tools"])
    if not calls:
        raise AssertionError("the first round brought no tool call")
    second = [*first, message, client.tool_message(calls[0][0], r["tool_result"])]
    content, _, _, _ = client.ask(second, tools=r["tools"])
    return expect("final content", content, r["tool_answer"])


def check_json(client, r):
    content, _, _, _ = client.ask(client.user(r["json_question"]), json_mode=True)
    return expect("JSON", json.loads(content), r["json"])


def check_effort(client, r):
    if not client.has_effort:
        return None  # no reasoning_effort parameter: skipped
    content, _, _, _ = client.ask(client.user(r["question"]), effort="low")
    return expect("content", content, r["content"])


CHECKS = {"chat": check_chat, "thinking": check_thinking, "stream": check_stream,
          "stream-thinking": check_stream_thinking, "tool-call": check_tool_call,
          "tool-answer": check_tool_answer, "json": check_json, "effort": check_effort}


def zai_errors_in_english(base_url, api_key, r):
    import zai
    client = zai.ZaiClient(api_key=api_key, base_url=base_url, timeout=TIMEOUT_S, max_retries=0)
    try:
        client.chat.completions.create(model="glm-9", messages=r["question"])
    except Exception as exc:  # noqa: BLE001 (the SDK's own error class; its text is checked)
        if ENGLISH_1211 not in str(exc):
            raise AssertionError(f"expected the English 1211 message, got: {exc}") from None
        return "the English 1211 message"
    raise AssertionError("an unknown model was accepted")


def run_family(family, base_url, api_key, r):
    failures = 0
    print(f"family  {family}: {versions(family)}", flush=True)
    for label, make in clients(family, base_url, api_key):
        for check, function in CHECKS.items():
            title = f"{family}: {label}, {check}"
            try:
                outcome = function(make(), r)
            except Exception as exc:  # noqa: BLE001 (any failure is a result line)
                failures += 1
                print(f"FAILED  {title}: {describe(exc)}", flush=True)
                continue
            print(f"{'ok    ' if outcome else 'skip  '}  {title}: "
                  f"{outcome or 'no reasoning_effort parameter'}", flush=True)
    if family == "zai-sdk":
        try:
            print(f"ok      zai-sdk: ZaiClient, unknown model: "
                  f"{zai_errors_in_english(base_url, api_key, r)}", flush=True)
        except Exception as exc:  # noqa: BLE001
            failures += 1
            print(f"FAILED  zai-sdk: ZaiClient, unknown model: {describe(exc)}", flush=True)
    return failures


def describe(exc):
    """The error as the client reported it, and where in the client it came from."""
    text = f"{type(exc).__name__}: {exc}"
    body = getattr(getattr(exc, "response", None), "text", None)  # httpx/requests errors
    if isinstance(body, str) and body and body not in text:
        text += f" (body: {body})"
    text = " ".join(text.split())
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" [at {Path(frame.filename).name}:{frame.lineno}]" if frame else ""
    return (text[:ERROR_CHARS] + (" ..." if len(text) > ERROR_CHARS else "")) + where


def versions(family):
    from importlib.metadata import PackageNotFoundError, version
    found = []
    for name in VERSIONED[family]:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found) + f"; python {sys.version.split()[0]}"


# -- running: here, or each family in its own virtualenv -------------------------------------

def importable(family):
    try:
        for module in FAMILIES[family][1]:
            importlib.import_module(module)
    except ImportError as exc:
        print(f"skip    {family}: not importable here ({exc})", flush=True)
        return False
    return True


def with_server(args, body):
    """Run body(base_url, api_key) against --base-url, or a strict server started for it."""
    if args.base_url:
        if not args.api_key:
            print("error: --base-url needs --api-key", file=sys.stderr)
            return 2
        print(f"server  {args.base_url} (given)", flush=True)
        return body(args.base_url.rstrip("/"), args.api_key)
    import serve_process
    try:
        process, base_url, api_key = serve_process.start(["--pacing", "instant", "--strict"],
                                                         python=args.server_python)
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot start the recorded server: {exc}", file=sys.stderr)
        return 2
    print(f"server  {base_url} (started with {args.server_python}, strict)", flush=True)
    try:
        return body(base_url, api_key)
    finally:
        serve_process.stop(process)


def here(args):
    families = [f for f in (args.family or FAMILIES) if importable(f)]
    if not families:
        print(f"error: none of {', '.join(FAMILIES)} is importable in this interpreter",
              file=sys.stderr)
        return 2
    r = recorded()

    def body(base_url, api_key):
        failures = sum(run_family(f, base_url, api_key, r) for f in families)
        print(f"{'all checks ok' if not failures else f'{failures} check(s) FAILED'}")
        return 1 if failures else 0
    return with_server(args, body)


def in_venvs(args):
    """Each family in DIR/<family>, created and installed on first use."""
    root = Path(args.venvs)
    pythons = {}
    for family in args.family or FAMILIES:
        venv = root / family
        python = venv / "bin" / "python"
        if not python.exists():
            print(f"venv    {venv}: creating, pip install {' '.join(FAMILIES[family][0])}",
                  flush=True)
            made = subprocess.run([sys.executable, "-m", "venv", str(venv)],
                                  capture_output=True, text=True)
            if made.returncode == 0:
                made = subprocess.run([str(python), "-m", "pip", "install", "-q",
                                       *FAMILIES[family][0]], capture_output=True, text=True)
            if made.returncode != 0:
                print(f"FAILED  {family}: cannot install: {made.stderr.strip()[-ERROR_CHARS:]}",
                      flush=True)
                continue
        pythons[family] = python

    def body(base_url, api_key):
        worst = 0
        for family, python in pythons.items():
            env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIPUAI_")}
            child = subprocess.run([str(python), str(Path(__file__).resolve()), "--family",
                                    family, "--base-url", base_url, "--api-key", api_key],
                                   env=env, timeout=600)
            worst = max(worst, child.returncode)
        return worst or (1 if len(pythons) < len(args.family or FAMILIES) else 0)
    return with_server(args, body)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", action="append", choices=list(FAMILIES),
                        help="check only this family (repeatable; default: all)")
    parser.add_argument("--venvs", metavar="DIR",
                        help="run each family in its own virtualenv under DIR (made on first "
                        "use with pip from PyPI)")
    parser.add_argument("--base-url", help="a running server's base URL (default: start one)")
    parser.add_argument("--api-key", help="its API key (with --base-url)")
    parser.add_argument("--server-python", default=sys.executable,
                        help="interpreter that runs a started server (default: this one)")
    args = parser.parse_args(argv)
    return in_venvs(args) if args.venvs else here(args)


if __name__ == "__main__":
    sys.exit(main())

"""capstone/chat.py: a command-line chat with GLM, built from glm_client (lesson 10's answer key).

    ZHIPUAI_API_KEY=... python capstone/chat.py [--budget TOKENS] [--max-retries N] [QUESTION]

With ZHIPUAI_BASE_URL set too, it talks to that server (a recorded one: `python -m glm_offline
serve` prints both variables). Type a message and press Enter; /quit, end of input (Ctrl-D,
Ctrl-Z Enter on Windows) or Ctrl-C ends it with "goodbye" and exit status 0. With a QUESTION,
it prints the one answer and exits.

capstone/starter.py is the same file with the seven steps of notebooks/en/10-capstone.ipynb left
for you to write. What it does, and what tests/lessons/test_10_capstone.py checks (a learner's
program keeps this contract):
- prints the prompt "you> " and reads one line at a time from standard input;
- streams each answer with glm_client.Printer: the reasoning in grey, then the answer on a line
  of its own;
- keeps the conversation, trimmed to --budget rough tokens (oldest turns dropped first, the
  newest turn always kept), and says "(history trimmed: ...)" when it drops something;
- offers one tool, get_weather, runs the calls GLM asks for ("[tool] get_weather(...)"), sends
  the results back and streams the answer to them;
- retries what glm_client.is_retryable allows, saying "(retrying in ... s)" first; any other
  failure is one line starting "error: " and the chat goes on;
- without ZHIPUAI_API_KEY: one line on standard error, exit status 2.
"""

import argparse
import json
import os
import sys
import time

from glm_client import GLM_BASE_URL, GLMClient, GLMError, Printer

# == Given: the same in capstone/starter.py and capstone/chat.py ==========================
SYSTEM_PROMPT = "You are a helpful assistant in a terminal. Answer in a few sentences."
WEATHER = {"beijing": ("sunny", 23), "shanghai": ("cloudy", 26), "shenzhen": ("rain", 28),
           "北京": ("晴", 23), "上海": ("多云", 26), "深圳": ("雨", 28)}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather",
    "description": "Current weather in a city: the sky and the temperature in °C.",
    "parameters": {"type": "object",
                   "properties": {"city": {"type": "string", "description": "City name"}},
                   "required": ["city"]}}}]
MAX_TOOL_ROUNDS = 3  # a model that keeps calling tools is stopped after this many rounds


def get_weather(city):
    """A stand-in weather service: a small table, and an error for any other city."""
    sky_celsius = WEATHER.get(str(city).strip().lower())
    if sky_celsius is None:
        return {"city": city, "error": "unknown city; try Beijing, Shanghai or Shenzhen"}
    return {"city": city, "sky": sky_celsius[0], "celsius": sky_celsius[1]}


def run_tool_call(call):
    """The tool message answering one tool call; bad arguments become an error GLM can read."""
    function = call["function"]
    try:
        arguments = json.loads(function["arguments"] or "{}")
        if function["name"] != "get_weather":
            raise ValueError(f"there is no tool named {function['name']!r}")
        if not isinstance(arguments, dict):
            raise ValueError("the arguments must be a JSON object")
        result = get_weather(arguments["city"])
    except (ValueError, KeyError, TypeError) as error:  # JSONDecodeError is a ValueError;
        # TypeError: arguments that are not a string (json.loads of a dict or a number)
        result = {"error": f"bad tool call: {error}"}
    return {"role": "tool", "tool_call_id": call["id"],
            "content": json.dumps(result, ensure_ascii=False)}


def rough_tokens(message):
    """About how many tokens a message costs: a CJK character is about one token, four other
    characters are about one (UNVERIFIED: GLM's tokenizer is not published; the usage field of
    each answer gives the true count afterwards)."""
    text = json.dumps({k: v for k, v in message.items() if k != "role"}, ensure_ascii=False)
    cjk = sum(1 for ch in text if "\u3000" <= ch <= "\u9fff")
    return cjk + (len(text) - cjk) // 4 + 4  # + 4 for the role and the framing


def make_client(base_url, api_key, out, max_retries=3):
    """A GLMClient that says "(retrying in ... s)" on `out` before each retry it makes."""
    def announce_and_sleep(seconds):
        out.write(f"(retrying in {seconds:.1f} s)\n")
        out.flush()
        time.sleep(seconds)

    return GLMClient(base_url, api_key, max_retries=max_retries, sleep=announce_and_sleep)


# == Step 1: one chat turn ===================================================================
def ask(client, question):
    """GLM's answer to one question, whole, as text."""
    answer = client.chat([{"role": "system", "content": SYSTEM_PROMPT},
                          {"role": "user", "content": question}])
    return answer.content


# == Step 2: streaming, the reasoning apart ==================================================
def stream_answer(client, messages, out, **options):
    """Stream GLM's answer to `messages` onto `out` (the reasoning in grey, then the answer on
    a line of its own) and return it; `options` go to GLM (tools=...)."""
    printer = Printer(out)
    answer = client.stream(messages, on_reasoning=printer.reasoning,
                           on_content=printer.content, **options)
    out.write("\n")
    return answer


# == Step 3: the history, kept across turns ==================================================
def answer_turn(client, history, out, **options):
    """Stream the answer to `history` and append it to `history`; return it."""
    answer = stream_answer(client, history, out, **options)
    # Reasoning goes back with tool calls (interleaved thinking, docs/sources.md#thinking).
    history.append(answer.as_message(with_reasoning=bool(answer.tool_calls)))
    return answer


# == Step 4: the history, trimmed to a token budget ==========================================
def trim_history(messages, budget, count=rough_tokens):
    """(messages that fit in `budget`, how many were dropped). The system message stays; whole
    turns (a user message and the replies and tool results after it) go, oldest first, so a
    tool result never loses its call; the newest turn stays even if it alone is over budget."""
    system = [m for m in messages[:1] if m["role"] == "system"]
    rest = messages[len(system):]
    starts = [i for i, m in enumerate(rest) if m["role"] == "user"] or [0]
    for start in starts:
        kept = rest[start:]
        if sum(map(count, system + kept)) <= budget or start == starts[-1]:
            return system + kept, len(rest) - len(kept)
    return messages, 0  # unreachable: the loop always returns at the last start


# == Step 5: one tool ========================================================================
def answer_with_tools(client, history, out):
    """Answer turns with the tool offered, running the calls GLM asks for, until it answers
    in text; every assistant and tool message goes into `history`. Returns the last answer."""
    for _ in range(MAX_TOOL_ROUNDS):
        answer = answer_turn(client, history, out, tools=TOOLS)
        if not answer.tool_calls:
            return answer
        for call in answer.tool_calls:
            out.write(f"[tool] {call['function']['name']}({call['function']['arguments']})\n")
            history.append(run_tool_call(call))
    raise GLMError(f"GLM still asked for tools after {MAX_TOOL_ROUNDS} rounds")


# == Step 6: failures in one line ============================================================
def take_turn(client, history, question, out, budget):
    """One question: the history trimmed to `budget` with it, then answered. Returns the
    history to keep; after a failure, one "error: ..." line and the history without the turn."""
    history, dropped = trim_history(history + [{"role": "user", "content": question}], budget)
    if dropped:
        out.write(f"(history trimmed: {dropped} older messages dropped)\n")
    start = len(history) - 1  # where this turn starts: its question
    try:
        answer_with_tools(client, history, out)
    except GLMError as error:  # the retries are over (make_client), or none was worth it
        out.write(f"\nerror: {error}\n")
        del history[start:]  # a question without its answer would confuse the next turn
    return history


# == Step 7: the loop, and a clean exit ======================================================
def chat(client, stdin, out, budget=4000):
    """The conversation: a turn for each line, until /quit, the end of input or Ctrl-C."""
    history = [{"role": "system", "content": SYSTEM_PROMPT}]
    try:
        while True:
            out.write("you> ")
            out.flush()
            line = stdin.readline()
            if not line or line.strip() == "/quit":
                break
            if line.strip():
                history = take_turn(client, history, line.strip(), out, budget)
    except KeyboardInterrupt:  # Ctrl-C, at the prompt or in the middle of an answer
        out.write("\n")
    out.write("goodbye\n")
    out.flush()


# == Given: the program ======================================================================
def parse_args(argv):
    parser = argparse.ArgumentParser(description="Chat with GLM in the terminal.")
    parser.add_argument("question", nargs="?", help="ask this one question, print the answer")
    parser.add_argument("--budget", type=int, default=4000,
                        help="rough tokens of history to send (default 4000)")
    parser.add_argument("--max-retries", type=int, default=3,
                        help="retries of a busy or failed call (default 3)")
    args = parser.parse_args(argv)
    if args.budget < 1 or args.max_retries < 0:
        parser.error("--budget must be at least 1 and --max-retries at least 0")
    return args


def main(argv=None, stdin=None, out=None, environ=None):
    """The program; stdin, out and environ default to the process's own (tests pass theirs)."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    if hasattr(out, "reconfigure"):  # a console that cannot show Chinese gets "?", not a crash
        out.reconfigure(errors="replace")
    environ = os.environ if environ is None else environ
    args = parse_args(argv)
    api_key = environ.get("ZHIPUAI_API_KEY", "").strip()
    if not api_key:
        print("error: set ZHIPUAI_API_KEY (and ZHIPUAI_BASE_URL for a recorded server)",
              file=sys.stderr)
        return 2
    try:
        client = make_client(environ.get("ZHIPUAI_BASE_URL") or GLM_BASE_URL, api_key, out,
                             args.max_retries)
    except ValueError as error:  # a malformed key or base URL; the message never shows the key
        print(f"error: {error}", file=sys.stderr)
        return 2
    with client.session:
        if args.question is None:
            chat(client, stdin, out, args.budget)
            return 0
        try:
            out.write(ask(client, args.question) + "\n")
        except GLMError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130  # what a shell reports for Ctrl-C
    return 0


if __name__ == "__main__":
    sys.exit(main())

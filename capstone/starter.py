"""capstone/starter.py: the skeleton of your command-line chat with GLM (lesson 10).

Copy it to a file of your own (my_chat.py), fill in each TODO as notebooks/en/10-capstone.ipynb
guides you, and check it against the recorded server:

    CAPSTONE_SOLUTION=my_chat.py python -m pytest -q -n 0 tests/lessons/test_10_capstone.py

The contract the checks expect (capstone/chat.py is one solution that keeps it):
- print the prompt "you> " and read one line at a time from standard input;
- stream each answer: reasoning on lines that start with "[thinking] ", then the answer on its
  own line after "glm> ";
- keep the conversation, trimmed to --budget rough tokens, oldest turns first, never cutting a
  tool result from its call; print "(history trimmed: ...)" when something is dropped;
- offer the tool get_weather, run the calls GLM asks for, send the results back;
- retry what glm_client.is_retryable allows (GLMClient does, given max_retries), print
  "(retrying in ... s)" before each retry; any other failure is one line starting "error: ";
- /quit, end of input or Ctrl-C: print "goodbye" and exit with status 0, never a traceback;
- without ZHIPUAI_API_KEY: one line on standard error, exit status 2.
"""

import argparse
import json
import os
import sys
import time  # noqa: F401 (for the TODOs of step 5)

from glm_client import GLM_BASE_URL, GLMClient, GLMError, IncompleteAnswer  # noqa: F401

SYSTEM_PROMPT = "You are a helpful assistant in a terminal. Answer in a few sentences."
TOOLS = [{"type": "function", "function": {
    "name": "get_weather",
    "description": "Current weather in a city: the sky and the temperature in °C.",
    "parameters": {"type": "object",
                   "properties": {"city": {"type": "string", "description": "City name"}},
                   "required": ["city"]}}}]


def get_weather(city):
    """A stand-in weather service."""
    # TODO step 3: return {"city": ..., "sky": ..., "celsius": ...} for a few cities,
    # and {"city": ..., "error": ...} for any other.
    return {"city": city, "error": "not written yet"}


def run_tool_call(call):
    """The tool message that answers one tool call."""
    # TODO step 3: parse call["function"]["arguments"] (JSON), call get_weather, and return
    # {"role": "tool", "tool_call_id": call["id"], "content": <the result as JSON>}.
    # Bad arguments or an unknown function name: put the error in the content instead.
    raise NotImplementedError("run_tool_call")


def rough_tokens(message):
    """About how many tokens a message costs."""
    # TODO step 4: a CJK character is about 1 token, 4 other characters about 1.
    return len(json.dumps(message, ensure_ascii=False)) // 4


def trim_history(messages, budget, count=rough_tokens):
    """(the messages that fit in budget, how many were dropped)."""
    # TODO step 4: keep the system message; drop whole turns (a user message and everything
    # after it up to the next user message), oldest first; always keep the newest turn.
    return messages, 0


def answer_turn(client, messages, out):
    """Stream GLM's answer to messages, running tool calls until it answers in text."""
    # TODO steps 2 and 3: client.stream(messages, tools=TOOLS, on_reasoning=..., on_content=...)
    # prints "[thinking] ..." and "glm> ..."; append answer.as_message(...) to messages; if it
    # holds tool calls, print "[tool] name(arguments)", append run_tool_call(call) for each,
    # and ask again.
    answer = client.stream(messages, on_content=lambda text: out.write(text))
    out.write("\n")
    messages.append(answer.as_message())
    return answer


def chat(client, budget, stdin, out):
    """The conversation loop, until /quit or the end of input."""
    history = [{"role": "system", "content": SYSTEM_PROMPT}]
    while True:
        out.write("you> ")
        out.flush()
        line = stdin.readline()
        if not line or line.strip() == "/quit":
            return
        history.append({"role": "user", "content": line.strip()})
        # TODO step 4: trim the history; TODO step 5: catch GLMError and IncompleteAnswer,
        # print one "error: ..." line, and drop the unanswered turn.
        answer_turn(client, history, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Chat with GLM in the terminal.")
    parser.add_argument("--budget", type=int, default=4000)
    parser.add_argument("--max-retries", type=int, default=3)
    args = parser.parse_args(argv)
    # TODO step 5: without ZHIPUAI_API_KEY, one line on sys.stderr and return 2.
    # TODO step 5: a sleep= for GLMClient that prints "(retrying in ... s)", then time.sleep.
    client = GLMClient(os.environ.get("ZHIPUAI_BASE_URL") or GLM_BASE_URL,
                       os.environ.get("ZHIPUAI_API_KEY", ""), max_retries=args.max_retries)
    # TODO step 6: Ctrl-C (KeyboardInterrupt) anywhere: print "goodbye" and return 0.
    chat(client, args.budget, sys.stdin, sys.stdout)
    print("goodbye")
    return 0


if __name__ == "__main__":
    sys.exit(main())

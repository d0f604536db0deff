"""How long after the server writes each event does its delta appear in a notebook's output?

Not a test: a measurement, side by side in one run, of lesson 03's streaming code (its cells
tagged "glm-client" and "stream-chat", run as they are) and of the seed notebook's approach
(requests.post without stream=True, iter_lines, find('{"id"'), print(..., end='|')).

A recorded server (realistic pacing) runs in this process and notes the time it finished
writing each event (server.history[-1].event_times); a Jupyter kernel runs the code; the time
the kernel published each piece of output is the header date of its iopub stream message.
For each delta: latency = publish time - write time. Goal for the lesson's code: median
<= 2 ms and max <= 10 ms, with hostile chunking too.

    python contributors/bench_stream_latency.py                     # event and hostile chunking
    python contributors/bench_stream_latency.py --chunking hostile --line-ending crlf --runs 5
"""

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel

import glm_offline
from glm_client import Printer
from glm_offline.wire import event_chunk, sse_lines_to_events

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "en" / "03-streaming.ipynb"
QUESTION = {"model": "glm-4.7-flash", "stream": True,
            "messages": [{"role": "user", "content": "Why do chat apps stream their answers? "
                                                     "Answer in one sentence."}]}

SEED = '''
response = requests.post(CHAT_URL, headers=HEADERS, json=question, timeout=30)
for chunk in response.iter_lines():
    if chunk:
        chunk_str = chunk.decode('utf-8')
        json_start_pos = chunk_str.find('{"id"')
        if json_start_pos != -1:
            json_data = json.loads(chunk_str[json_start_pos:])
            for choice in json_data.get('choices', []):
                content = choice.get('delta', {}).get('content', '')
                print(content, end='|')
'''
LESSON_CALL = "answer = stream_chat(question)"


def lesson_code():
    cells = nbformat.read(LESSON, as_version=4).cells
    return "\n\n".join(c.source for c in cells
                       if {"glm-client", "stream-chat"} & set(c.metadata.get("tags", [])))


def run(client, code, timeout=60):
    """Execute code; return [(publish time, text)] of its stdout messages."""
    msg_id = client.execute(code)
    outputs = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.get_iopub_msg(timeout=deadline - time.monotonic())
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream" and content["name"] == "stdout":
            outputs.append((message["header"]["date"].timestamp(), content["text"]))
        elif kind == "error":
            raise RuntimeError("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return outputs
    raise TimeoutError(code)


def latencies(outputs, deltas, separator, event_times):
    """Per delta: when the output holding its last character was published, minus its write time."""
    ends, position = [], 0
    for delta in deltas:
        position += len(delta) + len(separator)
        ends.append(position - len(separator))
    result, printed, index = [], 0, 0
    for published, text in outputs:
        printed += len(text)
        while index < len(deltas) and ends[index] <= printed:
            result.append((published - event_times[index]) * 1000)
            index += 1
    assert index == len(deltas), f"only {index} of {len(deltas)} deltas were printed"
    return result


def measure(server, client, code, separator, deltas):
    count = len(server.history)
    outputs = run(client, code)
    while len(server.history) <= count:
        time.sleep(0.01)
    record = server.history[count]
    assert record.outcome == "complete" and record.source.startswith("recorded:"), record
    return latencies(outputs, deltas, separator, record.event_times)


def printed(deltas):
    """What the lesson's stream_chat prints for each delta: glm_client.Printer's text (the
    reasoning in its grey, a line break before the answer), so the colour codes are counted."""
    out = io.StringIO()
    printer, pieces = Printer(file=out), []
    for delta in deltas:
        start = len(out.getvalue())
        if delta.get("reasoning_content"):
            printer.reasoning(delta["reasoning_content"])
        if delta.get("content"):
            printer.content(delta["content"])
        pieces.append(out.getvalue()[start:])
    return pieces


def recorded_deltas():
    """(what the lesson prints per chunk, what the seed prints per chunk): the lesson shows
    reasoning too (grey), the seed only content."""
    cassette = Path(glm_offline.__file__).parent / "cassettes" / "lesson-03.json"
    for item in json.loads(cassette.read_text(encoding="utf-8"))["interactions"]:
        if item["request"]["body"] == QUESTION:
            events = sse_lines_to_events(item["response"]["sse"])
            chunks = [chunk for chunk in map(event_chunk, events) if chunk is not None]
            deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
            return printed(deltas), [d.get("content", "") for d in deltas]
    raise SystemExit("lesson-03.json has no recording of the benchmark's question")


def bench(chunking, line_ending, runs):
    lesson_deltas, seed_deltas = recorded_deltas()
    with glm_offline.start(pacing="realistic", chunking=chunking, line_ending=line_ending,
                           strict=True) as server:
        kernel, client = start_new_kernel(kernel_name="python3")
        try:
            setup = (f"import json, re, time, requests\n"
                     f"CHAT_URL = {server.base_url + '/chat/completions'!r}\n"
                     f"HEADERS = {{'Authorization': 'Bearer {server.api_key}'}}\n"
                     f"question = {QUESTION!r}\nraw = b''\n"
                     "from glm_client import Answer, api_error_from, iter_chunks\n")
            run(client, setup + lesson_code())
            results = {"lesson": [], "seed": []}
            for _ in range(runs):  # alternate, so both see the same machine state
                results["lesson"] += measure(server, client, LESSON_CALL, "", lesson_deltas)
                results["seed"] += measure(server, client, SEED, "|", seed_deltas)
        finally:
            client.stop_channels()
            kernel.shutdown_kernel(now=True)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunking", choices=["event", "hostile", "both"], default="both")
    parser.add_argument("--line-ending", choices=["lf", "crlf"], default="lf")
    parser.add_argument("--runs", type=int, default=3, help="streams per approach (default 3)")
    args = parser.parse_args(argv)
    modes = ["event", "hostile"] if args.chunking == "both" else [args.chunking]
    print(f"delta latency: kernel publishes the output - server wrote the event "
          f"(realistic pacing, {args.runs} streams per approach, line endings {args.line_ending})")
    print(f"{'chunking':<9} {'approach':<8} {'deltas':>6} {'median ms':>10} {'max ms':>9}")
    met = True
    for mode in modes:
        results = bench(mode, args.line_ending, args.runs)
        summary = {name: (statistics.median(values), max(values))
                   for name, values in results.items()}
        for name, values in results.items():
            print(f"{mode:<9} {name:<8} {len(values):>6}"
                  f" {summary[name][0]:>10.2f} {summary[name][1]:>9.2f}")
        (lesson_median, lesson_max), (seed_median, seed_max) = summary["lesson"], summary["seed"]
        print(f"{mode:<9} seed/lesson ratio: median {seed_median / lesson_median:.0f}x, "
              f"max {seed_max / lesson_max:.0f}x")
        met = met and lesson_median <= 2 and lesson_max <= 10
    print("goal (lesson median <= 2 ms, max <= 10 ms):", "met" if met else "NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark one recorded GLM server as a whole workshop room would use it.

Starts ONE server as a separate process (python -m glm_offline serve --port 0), then N
streaming attendees at once, each POSTing the recorded streaming request "hello-zh-stream"
and reading the SSE to `data: [DONE]`. Prints latencies, errors and the server's peak memory
against the goals, and exits 1 if any goal is missed (2 if the server cannot start).

Three load generators, because a Python client shares the machine's cores with the server
and queues behind its own GIL (its 100th request leaves ~100 ms after its first):
  --client requests  (default) a thread and a requests.Session per attendee, as lesson code;
  --client raw       one thread, non-blocking sockets: every request is sent within a few
                     ms and timed from the moment its last byte left, so the figures are the
                     server's (and the kernel's);
  --wrk              wrk (a C load generator) with instructors/wrk_room.lua, for --seconds:
                     every connection streams again and again; its latency is the whole
                     stream, so the figure to compare is what it adds to the recorded pacing.

    python instructors/bench_room.py                      # 100 attendees, realistic pacing
    python instructors/bench_room.py --client raw
    python instructors/bench_room.py --wrk                # wrk -t2 -c100 -d10s
    python instructors/bench_room.py --wrk --clients 200 --max-connections 50   # overload
    python instructors/bench_room.py --pacing instant --chunking hostile --clients 50

Only 127.0.0.1 is used. Every request has a timeout; the server is always stopped.
"""

import argparse
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

import serve_process
from glm_offline.streams import pacing_scale

REPO = Path(__file__).resolve().parent.parent
CASSETTE = REPO / "glm_offline" / "cassettes" / "server-basics.json"
WRK_SCRIPT = REPO / "instructors" / "wrk_room.lua"
INTERACTION = "hello-zh-stream"

GOAL_ERRORS = 0
GOAL_FIRST_BYTE_P99_MS = 100.0
GOAL_PEAK_MB = 100.0

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 30
CLIENT_JOIN_TIMEOUT_S = 120


def recorded_request(name=INTERACTION):
    data = json.loads(CASSETTE.read_text(encoding="utf-8"))
    for interaction in data["interactions"]:
        if interaction["name"] == name:
            response = interaction["response"]
            return interaction["request"]["body"], response.get("event_delays_ms") or []
    raise SystemExit(f"no interaction {name!r} in {CASSETTE}")


def paced_ms(delays, pacing):
    """(first event, whole stream) in ms as realistic pacing replays them, else (0, 0)."""
    scale = pacing_scale(delays, pacing)  # as the server replays them
    return delays[0] * scale, sum(delays) * scale


def status_kb(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def ms(seconds):
    return f"{seconds * 1000:8.1f} ms"


# -- the requests client: a thread per attendee -------------------------------------------------

def one_client(url, headers, body, barrier, result):
    """One attendee: POST, stream to [DONE]; fill result with timings or an error."""
    session = requests.Session()
    try:
        barrier.wait(timeout=30)
        sent = time.perf_counter()
        with session.post(url, headers=headers, json=body, stream=True,
                          timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)) as response:
            result["headers_s"] = time.perf_counter() - sent
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            buffer = b""
            done = False
            for chunk in response.iter_content(chunk_size=None):
                if not chunk:
                    continue
                if "first_byte_s" not in result:
                    result["first_byte_s"] = time.perf_counter() - sent
                if done:
                    continue  # read on to the end of the chunked body, as a client should
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                if any(line.rstrip(b"\r") == b"data: [DONE]" for line in complete):
                    result["done_s"] = time.perf_counter() - sent
                    done = True
            if not done:
                raise RuntimeError("stream ended without data: [DONE]")
    except Exception as exc:  # every failure is a result, never a crash of the benchmark
        result["error"] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        session.close()


def requests_clients(base_url, api_key, body, count):
    url = base_url + "/chat/completions"
    headers = {"Authorization": f"Bearer {api_key}"}
    barrier = threading.Barrier(count + 1)
    results = [{} for _ in range(count)]
    threads = [threading.Thread(target=one_client, args=(url, headers, body, barrier, r),
                                daemon=True) for r in results]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=30)
    deadline = time.perf_counter() + CLIENT_JOIN_TIMEOUT_S
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    for result, thread in zip(results, threads):
        if thread.is_alive() and "error" not in result:
            result["error"] = "client still running after the benchmark deadline"
    return results


# -- the raw client: one thread, non-blocking sockets ---------------------------------------

def raw_clients(base_url, api_key, body, count):
    """Every attendee's request sent at once from one thread; each timed from the moment its
    last byte was written (so a queue in this client does not count against the server)."""
    parts = urlsplit(base_url)
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = (f"POST {parts.path}/chat/completions HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               f"Authorization: Bearer {api_key}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data
    selector = selectors.DefaultSelector()
    results = [{} for _ in range(count)]
    for result in results:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sock.connect_ex((parts.hostname, parts.port))
        result.update(sock=sock, unsent=request, received=b"")
        selector.register(sock, selectors.EVENT_WRITE, result)
    deadline = time.perf_counter() + READ_TIMEOUT_S
    open_ = count
    while open_ and time.perf_counter() < deadline:
        for key, events in selector.select(timeout=0.5):
            result, sock = key.data, key.fileobj
            try:
                if events & selectors.EVENT_WRITE:
                    result["unsent"] = result["unsent"][sock.send(result["unsent"]):]
                    if not result["unsent"]:
                        result["sent"] = time.perf_counter()
                        selector.modify(sock, selectors.EVENT_READ, result)
                    continue
                chunk = sock.recv(65536)
            except OSError as exc:
                result["error"] = f"{type(exc).__name__}: {exc}"
                chunk = b""
            now = time.perf_counter()
            if chunk:
                result.setdefault("headers_s", now - result["sent"])
                result["received"] += chunk
                if "first_byte_s" not in result and b"\ndata: " in result["received"]:
                    result["first_byte_s"] = now - result["sent"]
                if "done_s" not in result and b"data: [DONE]" in result["received"]:
                    result["done_s"] = now - result["sent"]
                continue
            selector.unregister(sock)
            sock.close()
            open_ -= 1
    for result in results:
        status = result["received"][9:12]
        if "error" in result:
            pass
        elif status != b"200":
            result["error"] = f"HTTP {status.decode('latin-1') or 'no answer'}"
        elif "done_s" not in result:
            result["error"] = "stream ended without data: [DONE]"
        if result["sock"].fileno() != -1:
            result["sock"].close()
            result.setdefault("error", "no complete answer before the deadline")
        for name in ("sock", "unsent", "received", "sent"):
            result.pop(name, None)
    return results


def report_attendees(args, results, wall, delays):
    errors = [r["error"] for r in results if "error" in r]
    ok = [r for r in results if "error" not in r]
    head = [r["headers_s"] for r in ok]
    first = [r["first_byte_s"] for r in ok]
    done = [r["done_s"] for r in ok]
    first_event_ms, stream_ms = paced_ms(delays, args.pacing)
    print(f"clients              {args.clients} ({args.client} client)")
    print(f"errors               {len(errors)}")
    for message in errors[:5]:
        print(f"  - {message}")
    if len(errors) > 5:
        print(f"  ... and {len(errors) - 5} more")
    if ok:
        print(f"first response byte  p50 {ms(percentile(head, 50))}   "
              f"p99 {ms(percentile(head, 99))}   max {ms(max(head))}")
        print(f"first event          p50 {ms(percentile(first, 50))}   "
              f"p99 {ms(percentile(first, 99))}   max {ms(max(first))}")
        if first_event_ms:
            extra = [f - first_event_ms / 1000 for f in first]
            print(f"  minus recorded wait p50 {ms(percentile(extra, 50))}   p99 "
                  f"{ms(percentile(extra, 99))}   (what the server and the room add)")
        print(f"[DONE]               p50 {ms(percentile(done, 50))}   "
              f"p99 {ms(percentile(done, 99))}   max {ms(max(done))}")
    print(f"total wall time      {ms(wall)}")
    # Time to first byte is the status line and headers: with realistic pacing the first
    # *event* waits the recorded time-to-first-token on purpose, which is the lesson.
    first_p99 = percentile(head, 99) * 1000 if head else None
    return [
        (f"errors == {GOAL_ERRORS}", len(errors) <= GOAL_ERRORS, f"{len(errors)}"),
        (f"p99 first response byte <= {GOAL_FIRST_BYTE_P99_MS:.0f} ms",
         first_p99 is not None and first_p99 <= GOAL_FIRST_BYTE_P99_MS,
         f"{first_p99:.1f} ms" if first_p99 is not None else "no successful client"),
    ]


# -- wrk ---------------------------------------------------------------------------------------

def wrk_load(args, base_url, api_key, body):
    """Run wrk with wrk_room.lua; return its summary line's numbers and its own output."""
    with tempfile.TemporaryDirectory() as work:
        body_file = Path(work) / "body.json"
        body_file.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        env = dict(os.environ, WRK_BODY_FILE=str(body_file), WRK_API_KEY=api_key)
        command = ["wrk", f"-t{args.threads}", f"-c{args.clients}", f"-d{args.seconds}s",
                   "-s", str(WRK_SCRIPT), base_url + "/chat/completions"]
        print("$ " + " ".join(command[:-1]) + " " + command[-1])
        finished = subprocess.run(command, capture_output=True, text=True, env=env,
                                  timeout=args.seconds + 60)
    match = re.search(r"^wrk_room: (.*)$", finished.stdout, re.M)
    if finished.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({finished.returncode}): {finished.stderr.strip()}")
    numbers = {k: float(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
    return numbers, finished.stdout


def report_wrk(args, numbers, delays):
    _, stream_ms = paced_ms(delays, args.pacing)
    n = {name: int(value) for name, value in numbers.items()}  # the counts
    closed = n["connect_errors"] + n["read_errors"] + n["write_errors"]
    # Past the cap, a connection closed at once is the server's fast answer (issue 10: "503
    # or a refused accept, not a timeout"); otherwise it is an error.
    errors = n["other_status"] + n["incomplete"] + n["timeouts"] + \
        (0 if args.max_connections else closed)
    print(f"connections          {args.clients} for {args.seconds} s ({args.threads} wrk threads)")
    print(f"requests             {n['requests']} ({n['requests'] / numbers['seconds']:.0f}/s): "
          f"{n['streams_to_done']} streams to [DONE], {n['refused_503']} answered 503 "
          f"(at the cap), {closed} closed at once or socket errors")
    print(f"errors               {errors} (other status {n['other_status']}, incomplete "
          f"{n['incomplete']}, timeouts {n['timeouts']}"
          + ("" if args.max_connections else f", socket errors {closed}") + ")")
    print(f"whole response       p50 {numbers['p50_ms']:8.1f} ms   p90 {numbers['p90_ms']:8.1f} ms"
          f"   p99 {numbers['p99_ms']:8.1f} ms   max {numbers['max_ms']:8.1f} ms")
    overhead = numbers["p99_ms"] - stream_ms
    if stream_ms and not args.max_connections:  # past the cap most answers are quick 503s
        print(f"  minus recorded stream ({stream_ms:.0f} ms): p50 "
              f"{numbers['p50_ms'] - stream_ms:.1f} ms   p99 {overhead:.1f} ms   "
              "(what the server and the room add)")
    goals = [(f"errors == {GOAL_ERRORS} (no timeout, no wrong answer)", errors <= GOAL_ERRORS,
              f"{errors}")]
    if not args.max_connections:
        goals.append((f"p99 added to the stream <= {GOAL_FIRST_BYTE_P99_MS:.0f} ms",
                      overhead <= GOAL_FIRST_BYTE_P99_MS, f"{overhead:.1f} ms"))
    return goals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100,
                        help="attendees (with --wrk: connections); default 100")
    parser.add_argument("--client", choices=("requests", "raw"), default="requests")
    parser.add_argument("--wrk", action="store_true", help="load with wrk instead")
    parser.add_argument("--seconds", type=int, default=10, help="with --wrk: how long")
    parser.add_argument("--threads", type=int, default=2, help="with --wrk: wrk threads")
    parser.add_argument("--max-connections", type=int, help="passed to serve")
    parser.add_argument("--pacing", choices=("realistic", "instant"), default="realistic")
    parser.add_argument("--chunking", choices=("event", "hostile"), default="event")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds < 1 or args.threads < 1:
        parser.error("--clients, --seconds and --threads must be at least 1")
    if args.wrk and not shutil.which("wrk"):
        parser.error("--wrk needs wrk on PATH (Debian/Ubuntu: apt-get install wrk)")

    body, delays = recorded_request()
    options = ["--pacing", args.pacing, "--chunking", args.chunking]
    if args.max_connections:
        options += ["--max-connections", str(args.max_connections)]
    try:
        process, base_url, api_key = serve_process.start(options)
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot start the server: {exc}", file=sys.stderr)
        return 2
    try:
        started = time.perf_counter()
        if args.wrk:
            numbers, _ = wrk_load(args, base_url, api_key, body)
        elif args.client == "raw":
            results = raw_clients(base_url, api_key, body, args.clients)
        else:
            results = requests_clients(base_url, api_key, body, args.clients)
        wall = time.perf_counter() - started
        peak_kb = status_kb(process.pid, "VmHWM")
        threads_now = status_kb(process.pid, "Threads")
        server_alive = process.poll() is None
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        serve_process.stop(process)

    print(f"glm_offline room benchmark: {INTERACTION}, pacing={args.pacing}, "
          f"chunking={args.chunking}, server {base_url}"
          + (f", --max-connections {args.max_connections}" if args.max_connections else ""))
    first_event_ms, stream_ms = paced_ms(delays, args.pacing)
    if stream_ms:
        print(f"  (recorded pacing: first event after {first_event_ms:.0f} ms, "
              f"whole stream {stream_ms:.0f} ms)")
    goals = report_wrk(args, numbers, delays) if args.wrk else \
        report_attendees(args, results, wall, delays)
    peak_mb = peak_kb / 1024 if peak_kb is not None else None
    print("server peak memory   " + (f"{peak_mb:.1f} MB (VmHWM)" if peak_mb is not None
                                     else "unknown (no /proc/<pid>/status)")
          + (f", {threads_now} threads at the end" if threads_now is not None else "")
          + ("" if server_alive else ", SERVER PROCESS HAD EXITED"))
    goals.append((f"server peak memory <= {GOAL_PEAK_MB:.0f} MB",
                  peak_mb is not None and peak_mb <= GOAL_PEAK_MB,
                  f"{peak_mb:.1f} MB" if peak_mb is not None else "unknown"))
    print("goals:")
    for label, passed, actual in goals:
        print(f"  {'PASS' if passed else 'MISS'}  {label:44} ({actual})")
    return 0 if all(passed for _, passed, _ in goals) else 1


if __name__ == "__main__":
    sys.exit(main())

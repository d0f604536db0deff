"""Benchmark one recorded GLM server as a whole workshop room would use it.

Starts ONE server as a separate process (python -m glm_offline serve --port 0), then
starts N streaming clients at once (threads behind a barrier, each its own
requests.Session) that POST the recorded streaming request "hello-zh-stream" and read
the SSE to `data: [DONE]`. Prints latencies, errors and the server's peak memory
against the goals, and exits 1 if any goal is missed (2 if the server cannot start).

    python scripts/bench_room.py                      # 100 clients, realistic pacing
    python scripts/bench_room.py --pacing instant
    python scripts/bench_room.py --chunking hostile --clients 50

Only 127.0.0.1 is used. Every request has a timeout; the server is always stopped.
"""

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import requests

import serve_process

REPO = Path(__file__).resolve().parent.parent
CASSETTE = REPO / "glm_offline" / "cassettes" / "server-basics.json"
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


def status_kb(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


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


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def ms(seconds):
    return f"{seconds * 1000:8.1f} ms"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--pacing", choices=("realistic", "instant"), default="realistic")
    parser.add_argument("--chunking", choices=("event", "hostile"), default="event")
    args = parser.parse_args(argv)
    if args.clients < 1:
        parser.error("--clients must be at least 1")

    body, delays = recorded_request()
    try:
        process, base_url, api_key = serve_process.start(
            ["--pacing", args.pacing, "--chunking", args.chunking])
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot start the server: {exc}", file=sys.stderr)
        return 2
    try:
        url = base_url + "/chat/completions"
        headers = {"Authorization": f"Bearer {api_key}"}
        barrier = threading.Barrier(args.clients + 1)
        results = [{} for _ in range(args.clients)]
        threads = [threading.Thread(target=one_client, args=(url, headers, body, barrier, r),
                                    daemon=True) for r in results]
        for thread in threads:
            thread.start()
        barrier.wait(timeout=30)
        started = time.perf_counter()
        deadline = started + CLIENT_JOIN_TIMEOUT_S
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.perf_counter()))
        wall = time.perf_counter() - started
        for result, thread in zip(results, threads):
            if thread.is_alive() and "error" not in result:
                result["error"] = "client still running after the benchmark deadline"
        peak_kb = status_kb(process.pid, "VmHWM")
        threads_now = status_kb(process.pid, "Threads")
        server_alive = process.poll() is None
    finally:
        serve_process.stop(process)

    errors = [r["error"] for r in results if "error" in r]
    ok = [r for r in results if "error" not in r]
    first = [r["first_byte_s"] for r in ok]
    head = [r["headers_s"] for r in ok]
    done = [r["done_s"] for r in ok]
    paced = args.pacing == "realistic" and sum(delays) > 0
    scale = min(1.0, 2000 / sum(delays)) if paced else 0.0

    print(f"glm_offline room benchmark: {INTERACTION}, pacing={args.pacing}, "
          f"chunking={args.chunking}, server {base_url}")
    if paced:
        print(f"  (recorded pacing: first event after {delays[0] * scale:.0f} ms, "
              f"whole stream {sum(delays) * scale:.0f} ms)")
    print(f"clients              {args.clients}")
    print(f"errors               {len(errors)}")
    for message in errors[:5]:
        print(f"  - {message}")
    if len(errors) > 5:
        print(f"  ... and {len(errors) - 5} more")
    if ok:
        print(f"first response byte  p50 {ms(percentile(head, 50))}   "
              f"p99 {ms(percentile(head, 99))}   max {ms(max(head))}")
        print(f"first body byte      p50 {ms(percentile(first, 50))}   "
              f"p99 {ms(percentile(first, 99))}   max {ms(max(first))}")
        if paced:
            extra = [f - delays[0] * scale / 1000 for f in first]
            print(f"  minus recorded wait p50 {ms(percentile(extra, 50))}   p99 "
                  f"{ms(percentile(extra, 99))}   (what the server and the room add)")
        print(f"[DONE]               p50 {ms(percentile(done, 50))}   "
              f"p99 {ms(percentile(done, 99))}   max {ms(max(done))}")
    print(f"total wall time      {ms(wall)}")
    peak_mb = peak_kb / 1024 if peak_kb is not None else None
    print("server peak memory   " + (f"{peak_mb:.1f} MB (VmHWM)" if peak_mb is not None
                                     else "unknown (no /proc/<pid>/status)")
          + (f", {threads_now} threads at the end" if threads_now is not None else "")
          + ("" if server_alive else ", SERVER PROCESS HAD EXITED"))

    # Time to first byte is the status line and headers: with realistic pacing the first
    # *event* waits the recorded time-to-first-token on purpose, which is the lesson.
    first_p99 = percentile(head, 99) if head else None
    goals = [
        (f"errors == {GOAL_ERRORS}", len(errors) <= GOAL_ERRORS, f"{len(errors)}"),
        (f"p99 first response byte <= {GOAL_FIRST_BYTE_P99_MS:.0f} ms",
         first_p99 is not None and first_p99 * 1000 <= GOAL_FIRST_BYTE_P99_MS,
         f"{first_p99 * 1000:.1f} ms" if first_p99 is not None else "no successful client"),
        (f"server peak memory <= {GOAL_PEAK_MB:.0f} MB",
         peak_mb is not None and peak_mb <= GOAL_PEAK_MB,
         f"{peak_mb:.1f} MB" if peak_mb is not None else "unknown"),
    ]
    print("goals:")
    for label, passed, actual in goals:
        print(f"  {'PASS' if passed else 'MISS'}  {label:34} ({actual})")
    return 0 if all(passed for _, passed, _ in goals) else 1


if __name__ == "__main__":
    sys.exit(main())

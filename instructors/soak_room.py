"""The room's worst afternoon, for a bounded time, against ONE `serve` process.

Not a test: a soak that prints what the server did. It starts `python -m glm_offline serve`
(instructors/serve_process.py) with a connection cap and a --max-in-flight, then, all at once,
until --seconds pass:
  * attendees: each streams the recorded request "hello-zh-stream" in a loop from its own
    127.0.0.x address, a new connection per request as lesson code makes them, and reads it
    to `data: [DONE]`;
  * idle keep-alive holders, more of them than the connection cap: each sends one request,
    keeps its connection open and idle, and reconnects half a second after the server
    closes it (a loop that never closes its connections);
  * slow senders: a request head at one byte every few seconds (the server's head deadline
    answers them 408);
  * malformed and oversized requests, one kind after another (framing tricks, huge headers
    and bodies, dense JSON, bad keys and tokens, long paths), each of which must get an
    HTTP answer;
  * fault injections through the control endpoint with the server's token (as the `fault`
    command sends them), and attempts without it, which must be refused;
  * with --attacks, the attacks of instructors/soak_attacks.py, each switchable: stalled-bodies,
    byte-lines, big-request-ids, deaf-viewers, greedy-attendee, odd-claims (or all).
Then: good requests answered, their p50/p99 time to first byte and to first event, errors
(anything without a proper answer), peak threads and memory (/proc/<pid>/status), the
server's CPU time, and whether it still answers at the end. Exit 0 if nothing failed, 1
otherwise, 2 if the server did not start.

    python instructors/soak_room.py                           # a minute, no new attack
    python instructors/soak_room.py --attacks all --compare   # a minute without, one with them
    python instructors/soak_room.py --attacks all --each      # and one per attack alone
    python instructors/soak_room.py --quick --attacks all --compare   # under a minute in all

Only 127.0.0.x is used; every socket operation has a timeout; every count is bounded; the
server is always stopped.
"""

import argparse
import base64
import http.client
import json
import os
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import bench_room
import serve_process
import soak_attacks

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from glm_offline import control  # noqa: E402 (the repository's package, one folder up)

SOCKET_TIMEOUT_S = 20  # longer than the server's head deadline (10 s): slow senders see a 408
HOLDER_RETRY_S = 0.5
ATTENDEE_RETRY_S = 0.2
SLOW_BYTE_EVERY_S = 3
FAULT_EVERY_S = 1.0
SAMPLE_EVERY_S = 0.25
FAULT_STATUSES = (429, 500)  # a status fault taken by whichever chat request comes next
GOAL_PEAK_MB = 150
# Good clients: the attendees, the instructor's fault control and wire page.
GOOD_CLIENTS = ("attendee", "fault control", "wire page")
# Faults whose answer an attendee can tell apart from a broken server (a cut or stalled
# stream could not be), with what the attendee then sees.
FAULTS = [{"kind": "rate_limit"}, {"kind": "server_error"}, {"kind": "overloaded"},
          {"kind": "error_frame", "after_events": 2}, {"kind": "no_done", "after_events": 2},
          {"kind": "sensitive", "after_events": 2}]


class Tally:
    """Counters and timings that every load thread adds to."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = Counter()
        self.first_event_s = []
        self.first_byte_s = []
        self.errors = Counter()

    def count(self, name, number=1):
        with self.lock:
            self.counts[name] += number

    def error(self, what):
        with self.lock:
            self.errors[what[:120]] += 1

    def good(self, first_event_s, first_byte_s):
        with self.lock:
            self.counts["good"] += 1
            self.first_event_s.append(first_event_s)
            self.first_byte_s.append(first_byte_s)


read_status = soak_attacks.read_status  # one reader of a status line for the whole soak


# -- attendees -----------------------------------------------------------------------------

def attendee(target, body, deadline, tally, source):
    """A good client: streams in a loop from its own address (127.0.0.x, as its own laptop)."""
    host, port, path, headers = target
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(host, port, timeout=SOCKET_TIMEOUT_S,
                                                source_address=(source, 0))
        try:
            sent = time.perf_counter()
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            first_byte = time.perf_counter() - sent  # the status line and headers are in
            data, first_event = b"", None
            while True:
                chunk = response.read1(65536)
                if not chunk:
                    break
                data += chunk
                if first_event is None and b"data: " in data:
                    first_event = time.perf_counter() - sent
            classify(response.status, data, (first_event, first_byte), tally)
            if response.status == 200:
                continue
        except (OSError, http.client.HTTPException) as exc:
            tally.error(f"attendee: {type(exc).__name__}: {exc}")
        finally:
            connection.close()
        time.sleep(ATTENDEE_RETRY_S)  # refused or failed: the learner retries, not at once


def classify(status, data, timings, tally):
    """A good stream, an injected fault's answer, a fast 503 at the cap, or an error."""
    if status == 200 and data.endswith(b"data: [DONE]\n\n"):
        if b"event: error" in data:
            tally.count("fault: error frame")
        elif b'"finish_reason":"sensitive"' in data:
            tally.count("fault: sensitive")
        elif b'"finish_reason":"stop"' in data:
            tally.good(*timings)
        else:
            tally.error("attendee: a stream to [DONE] without finish_reason stop")
    elif status == 200 and b'"finish_reason"' not in data and data.count(b"data: ") >= 2:
        tally.count("fault: no_done")
    elif status in (429, 500) and b'"error"' in data:
        tally.count(f"fault: HTTP {status}")  # a 429 may also be the --max-in-flight cap
    elif status == 503:
        tally.count("attendee refused at the cap (503)")
    else:
        tally.error(f"attendee: HTTP {status}: {data[:80]!r}")


# -- the room's other clients ------------------------------------------------------------------

def idle_holder(host, port, request, deadline, tally):
    """One request, then an idle keep-alive connection until the server closes it; again."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_S) as sock:
                sock.sendall(request)
                status = read_status(sock)
                if status not in (200, 503, *FAULT_STATUSES):
                    tally.error(f"idle holder: HTTP {status}")
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                while sock.recv(65536):  # the rest of the answer, then idle until closed
                    pass
                tally.count("idle connections closed by the server")
        except TimeoutError:
            return  # the soak ended while this connection was still idle
        except OSError as exc:
            tally.count(f"idle holder: {type(exc).__name__}")
        time.sleep(HOLDER_RETRY_S)  # the holder's own retry pause, not a wait for the server


def slow_sender(host, port, head, deadline, tally):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_S) as sock:
                sock.settimeout(SLOW_BYTE_EVERY_S)
                for byte in head:
                    sock.sendall(bytes([byte]))
                    try:
                        status = read_status(sock)
                        break
                    except TimeoutError:
                        continue
                else:
                    sock.settimeout(SOCKET_TIMEOUT_S)
                    status = read_status(sock)
                if status == 408:
                    tally.count("slow senders answered 408")
                else:
                    tally.error(f"slow sender: HTTP {status}")
        except OSError as exc:
            tally.error(f"slow sender: {type(exc).__name__}: {exc}")


def hostile_requests(host, key):
    """(name, bytes, expected statuses): what a careless or hostile client sends."""
    def request(body, *fields, line=b"POST /api/paas/v4/chat/completions HTTP/1.1", auth=None):
        auth = auth or b"Bearer " + key.encode()
        lines = [line, b"Host: " + host.encode(), b"Authorization: " + auth, *fields]
        if body is not None:
            lines.append(b"Content-Length: %d" % len(body))
        return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")

    def segment(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    nested = segment(b'{"alg":"HS256","sign_type":"SIGN","x":' + b"[" * 1400 + b"]" * 1400
                     + b"}") + b"." + segment(b'{"api_key":"glm-offline"}') + b".c2ln"
    ask = b'{"model": "glm-4-flash-250414", "messages": [{"role": "user", "content": "hi"}]'
    return [
        # No line end: the server cannot know it is not HTTP before its head deadline.
        ("tls-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, (400, 408)),
        ("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (400, 505)),
        ("no-host", b"GET /api/paas/v4/models HTTP/1.1\r\n\r\n", (400,)),
        ("huge-content-length", request(None, b"Content-Length: " + b"9" * 5000), (413,)),
        ("body-over-limit", request(None, b"Content-Length: 2000000"), (413,)),
        ("conflicting-lengths", request(ask + b"}", b"Content-Length: 3"), (400,)),
        ("transfer-encoding-trick", request(None, b"Transfer-Encoding: xchunked")
         + b"0\r\n\r\n", (400,)),
        ("header-of-40kb", request(ask + b"}", b"X-Big: " + b"a" * 40000), (431,)),
        ("request-line-of-10kb", request(ask + b"}", line=b"GET /" + b"a" * 10000
                                         + b" HTTP/1.1"), (414,)),
        ("long-404-path", request(None, line=b"GET /api/paas/v4/" + b"x" * 6000
                                  + b" HTTP/1.1"), (404,)),
        ("not-json", request(b"{not json"), (400,)),
        ("dense-json-lists", request(ask + b', "x": [' + b"[]," * 30000 + b"[]]}"), (400,)),
        ("dense-json-numbers", request(ask + b', "x": [' + b"1," * 500000 + b"1]}"), (413,)),
        ("one-byte-chunks", request(None, b"Transfer-Encoding: chunked")
         + b"".join(b"1\r\n%c\r\n" % c for c in ask + b"}") + b"0\r\n\r\n",
         (200, *FAULT_STATUSES)),
        ("wrong-key", request(ask + b"}", auth=b"Bearer glm-offline.not-the-secret"), (401,)),
        ("nested-jwt", request(ask + b"}", auth=b"Bearer " + nested), (401,)),
        ("role-is-a-list", request(b'{"model": "glm-4-flash-250414", "messages": [{"role": '
                                   b'["user"], "content": "hi"}]}'), (400,)),
        ("nullable-tool-type", request(ask + b', "tools": [{"type": "function", "function": '
                                       b'{"name": "f", "parameters": {"type": "object", '
                                       b'"properties": {"a": {"type": ["string", "null"]}}}}}]}'),
         (200, 400, *FAULT_STATUSES)),
    ]


def hostile_sender(host, port, kinds, deadline, tally):
    index = 0
    while time.monotonic() < deadline:
        name, data, expected = kinds[index % len(kinds)]
        index += 1
        try:
            with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_S) as sock:
                try:
                    sock.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server answered and closed before reading it all: read on
                status = read_status(sock)
            if status in expected:
                tally.count("malformed or oversized: answered")
                tally.count(f"  {status}")
            elif status == 503:
                tally.count("malformed or oversized: 503 (server busy)")
            else:
                tally.error(f"malformed {name}: HTTP {status}, expected {expected}")
        except OSError as exc:
            tally.error(f"malformed {name}: no answer ({type(exc).__name__}: {exc})")
            time.sleep(ATTENDEE_RETRY_S)  # a pause, not a spin that takes the server's cores


def fault_injector(port, deadline, tally, stop):
    index = 0
    while not stop.wait(FAULT_EVERY_S) and time.monotonic() < deadline:
        spec = FAULTS[index % len(FAULTS)]
        index += 1
        try:
            control.call(None, port, "POST", {**spec, "times": 1}, timeout=SOCKET_TIMEOUT_S)
            tally.count("faults queued with the token")
        except control.ControlError as exc:
            tally.error(f"fault control: {exc}")
        try:  # the same, as a web page or another user would try it: no token
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCKET_TIMEOUT_S)
            connection.request("POST", control.FAULTS_PATH, json.dumps(spec),
                               {"Origin": "http://attacker.example"})
            status = connection.getresponse().status
            connection.close()
            if status == 403:
                tally.count("control requests without the token refused (403)")
            else:
                tally.error(f"control without the token: HTTP {status}")
        except (OSError, http.client.HTTPException) as exc:
            tally.error(f"control without the token: {type(exc).__name__}")


def sampler(pid, stop, peaks):
    while not stop.wait(SAMPLE_EVERY_S):
        threads = bench_room.status_kb(pid, "Threads")
        if threads is not None:
            peaks["threads"] = max(peaks.get("threads", 0), threads)


def still_answers(target, body):
    host, port, path, headers = target
    connection = http.client.HTTPConnection(host, port, timeout=SOCKET_TIMEOUT_S)
    try:
        pending = control.call(None, port, "DELETE", timeout=SOCKET_TIMEOUT_S)
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        data = response.read()
        return response.status == 200 and data.endswith(b"data: [DONE]\n\n") and pending == []
    except (OSError, http.client.HTTPException, control.ControlError):
        return False
    finally:
        connection.close()


QUICK = {"seconds": 10, "attendees": 20, "idle_holders": 20, "slow_senders": 2,
         "hostile_senders": 2, "big_request_ids": 40}
DEFAULTS = {"seconds": 60, "attendees": 100, "idle_holders": None, "slow_senders": 10,
            "hostile_senders": 4, "big_request_ids": 200}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a small room for a short time (under a minute, with --compare "
                        "too): " + ", ".join(f"--{k.replace('_', '-')} {v}"
                                             for k, v in QUICK.items()))
    parser.add_argument("--seconds", type=int, help="default 60")
    parser.add_argument("--attendees", type=int, help="default 100")
    parser.add_argument("--max-connections", type=int, default=200,
                        help="the server's cap (default 200)")
    parser.add_argument("--max-in-flight", type=int,
                        help="the server's --max-in-flight, per attendee as a room sets it "
                        "(default 4); the greedy attendee keeps twice this many streams open")
    parser.add_argument("--idle-holders", type=int, help="default: the cap plus 50")
    parser.add_argument("--slow-senders", type=int, help="default 10")
    parser.add_argument("--hostile-senders", type=int, help="default 4")
    parser.add_argument("--attacks", default="none", metavar="NAMES",
                        help="the new attacks, comma-separated, or all, or none (default): "
                        + "; ".join(f"{k}: {v}" for k, v in soak_attacks.ATTACKS.items()))
    parser.add_argument("--compare", action="store_true",
                        help="run twice, without the attacks and then with them, and print "
                        "both side by side")
    parser.add_argument("--each", action="store_true",
                        help="like --compare, with a run for each attack alone in between")
    parser.add_argument("--stalled-bodies", type=int, default=24)
    parser.add_argument("--byte-lines", type=int, default=1000)
    parser.add_argument("--big-request-ids", type=int, help="submissions in all (default 200)")
    parser.add_argument("--deaf-viewers", type=int, default=8)
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.idle_holders is None:
        args.idle_holders = args.max_connections + 50
    if args.max_in_flight is None:
        args.max_in_flight = 4  # each attendee streams one at a time; a live account's cap
    if min(args.seconds, args.attendees, args.max_connections, args.max_in_flight) < 1:
        parser.error("--seconds, --attendees, --max-connections and --max-in-flight must be "
                     "at least 1")
    if min(args.idle_holders, args.slow_senders, args.hostile_senders, args.stalled_bodies,
           args.byte_lines, args.big_request_ids, args.deaf_viewers) < 0:
        parser.error("counts cannot be negative")
    if args.seconds > 600 or args.byte_lines > 2000 or args.big_request_ids > 1000:
        parser.error("bounded: --seconds at most 600, --byte-lines 2000, --big-request-ids 1000")
    names = [n.strip() for n in args.attacks.split(",") if n.strip()]
    if names == ["all"]:
        names = list(soak_attacks.ATTACKS)
    elif names == ["none"]:
        names = []
    unknown = [n for n in names if n not in soak_attacks.ATTACKS]
    if unknown:
        parser.error(f"unknown attack {unknown[0]!r}; known: all, none, "
                     + ", ".join(soak_attacks.ATTACKS))
    args.attacks = set(names)
    return args


def cpu_seconds(pid):
    """The process's user + system CPU time so far, from /proc/<pid>/stat; None elsewhere."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text[text.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def main(argv=None):
    args = parse_args(argv)
    phases = [args.attacks]
    if (args.compare or args.each) and args.attacks:
        alone = [{name} for name in soak_attacks.ATTACKS if name in args.attacks]
        phases = [set(), *(alone if args.each and len(alone) > 1 else []), args.attacks]
    results = []
    for attacks in phases:
        result = run_phase(args, attacks)
        if result is None:
            return 2
        results.append(result)
    if len(results) > 1:
        compare(results)
    return 0 if all(result["passed"] for result in results) else 1


def run_phase(args, attacks):
    body, delays = bench_room.recorded_request()
    first_event_ms, _ = bench_room.paced_ms(delays, "realistic")
    try:
        process, base_url, key = serve_process.start(
            ["--max-connections", str(args.max_connections),
             "--max-in-flight", str(args.max_in_flight)])
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot start the server: {exc}", file=sys.stderr)
        return None
    parts = urlsplit(base_url)
    host, port = parts.hostname, parts.port
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    target = (host, port, parts.path + "/chat/completions",
              {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    whole = json.dumps({k: v for k, v in body.items() if k != "stream"}).encode()
    keep_alive = (f"POST {parts.path}/chat/completions HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                  f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(whole)}\r\n\r\n").encode() + whole  # then idle
    slow_head = (f"POST {parts.path}/chat/completions HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n").encode()

    tally, stop, peaks = Tally(), threading.Event(), {}
    started = time.monotonic()
    deadline = started + args.seconds
    kinds = hostile_requests(parts.netloc, key)
    # Each attendee from its own loopback address, as each laptop in a room has its own.
    workers = [threading.Thread(target=attendee, args=(target, data, deadline, tally,
                                                       f"127.0.0.{2 + number % 200}"))
               for number in range(args.attendees)]
    workers += [threading.Thread(target=idle_holder, args=(host, port, keep_alive, deadline,
                                                           tally))
                for _ in range(args.idle_holders)]
    workers += [threading.Thread(target=slow_sender, args=(host, port, slow_head, deadline,
                                                           tally))
                for _ in range(args.slow_senders)]
    workers += [threading.Thread(target=hostile_sender, args=(host, port, kinds[i::2] if
                                                              args.hostile_senders > 1 else
                                                              kinds, deadline, tally))
                for i in range(args.hostile_senders)]
    workers += [threading.Thread(target=fault_injector, args=(port, deadline, tally, stop))]
    watcher = threading.Thread(target=sampler, args=(process.pid, stop, peaks))
    try:
        watcher.start()
        token_file = control.token_path(port)
        room = soak_attacks.Room(host, port, parts.path, key,
                                 control.read_token_file(token_file).get("token", "")
                                 if token_file.exists() else "", tally, deadline, body)
        workers += soak_attacks.start(room, attacks, args)
        for worker in workers:
            if not worker.is_alive() and worker.ident is None:
                worker.daemon = True
                worker.start()
        for worker in workers:
            worker.join(timeout=max(0.0, deadline + 2 * SOCKET_TIMEOUT_S - time.monotonic()))
        stuck = sum(worker.is_alive() for worker in workers)
        answers = still_answers(target, data)
        peak_kb = bench_room.status_kb(process.pid, "VmHWM")
        cpu_s = cpu_seconds(process.pid)
        alive = process.poll() is None
    finally:
        stop.set()
        watcher.join(timeout=5)
        serve_process.stop(process)
    elapsed = time.monotonic() - started
    return report(args, attacks, tally, peaks, peak_kb, cpu_s, stuck, answers, alive, elapsed,
                  first_event_ms)


def report(args, attacks, tally, peaks, peak_kb, cpu_s, stuck, answers, alive, elapsed,
           first_event_ms):
    counts, times = tally.counts, tally.first_event_s
    errors = sum(tally.errors.values()) + stuck
    print(f"\nglm_offline room soak: {args.seconds} s against one `serve` process "
          f"(--max-connections {args.max_connections}, --max-in-flight {args.max_in_flight}, "
          f"realistic pacing; {elapsed:.0f} s in all)")
    print(f"  load: {args.attendees} streaming attendees in a loop (each from its own "
          f"127.0.0.x), {args.idle_holders} idle keep-alive holders, {args.slow_senders} slow "
          f"senders (a byte every {SLOW_BYTE_EVERY_S} s), {args.hostile_senders} "
          f"malformed/oversized senders, a fault every {FAULT_EVERY_S:.0f} s")
    print("  attacks: " + (", ".join(name for name in soak_attacks.ATTACKS if name in attacks)
                           or "none"))
    attendee_errors = sum(n for what, n in tally.errors.items() if what.startswith("attendee"))
    good_errors = sum(n for what, n in tally.errors.items() if what.startswith(GOOD_CLIENTS))
    result = {"attacks": attacks, "good": counts["good"], "errors": errors,
              "attendee_errors": attendee_errors, "good_errors": good_errors}
    print(f"{'good requests answered':44} {counts['good']} "
          f"({counts['good'] / args.seconds:.0f}/s)")
    if times:
        p50, p99 = (bench_room.percentile(times, p) * 1000 for p in (50, 99))
        b50, b99 = (bench_room.percentile(tally.first_byte_s, p) * 1000 for p in (50, 99))
        result.update(first_byte=(b50, b99), first_event=(p50, p99))
        print(f"{'  time to first byte (status line)':44} p50 {b50:.1f} ms   p99 {b99:.1f} ms")
        print(f"{'  time to first event':44} p50 {p50:.1f} ms   p99 {p99:.1f} ms   "
              f"(the recording waits {first_event_ms:.0f} ms: the server and the room add "
              f"p50 {p50 - first_event_ms:.1f} ms, p99 {p99 - first_event_ms:.1f} ms)")
    faulted = sum(v for k, v in counts.items() if k.startswith("fault:"))
    kinds = ", ".join(f"{k[7:]} {v}" for k, v in sorted(counts.items()) if k.startswith("fault:"))
    print(f"{'attendees answered with an injected fault':44} {faulted} ({kinds}; "
          f"{counts['faults queued with the token']} queued, other clients took the rest; "
          "a 429 may also be the --max-in-flight cap)")
    print(f"{'errors':44} {errors} ({attendee_errors} of them attendees', {good_errors} of "
          "good clients')")
    for what, number in tally.errors.most_common(8):
        print(f"  {number:5} x {what}")
    if stuck:
        print(f"  {stuck} load threads still blocked after the deadline")
    for name in sorted(k for k in counts if not k.startswith(("fault", "good", "  "))):
        print(f"{name:44} {counts[name]}")
        if name == "malformed or oversized: answered":
            print("  by status: " + ", ".join(f"{k.strip()}: {v}" for k, v in
                                              sorted(counts.items()) if k.startswith("  ")))
    peak_mb = peak_kb / 1024 if peak_kb is not None else None
    result.update(peak_mb=peak_mb, cpu_s=cpu_s, answers=answers)
    print(f"server: peak threads {peaks.get('threads', '?')}, peak memory "
          + (f"{peak_mb:.1f} MB (VmHWM)" if peak_mb is not None else "unknown")
          + (f", CPU {cpu_s:.1f} s" if cpu_s is not None else "")
          + f", still answers at the end: {'yes' if answers else 'NO'}"
          + ("" if alive else " (THE PROCESS HAD EXITED)"))
    # With an attack that holds incomplete requests, the server closes the oldest incomplete
    # ones of the address holding the most to make room: a slow sender or a half-sent
    # malformed request then gets no answer by design. Good clients must never fail.
    evicting = bool(set(attacks) & {"stalled-bodies", "byte-lines"})
    passed = (good_errors if evicting else errors) == 0 and answers and alive and \
        peak_mb is not None and peak_mb <= GOAL_PEAK_MB and counts["good"] > 0
    print("result: " + ("PASS" if passed else "FAIL") + " ("
          + ("no good client's request failed" if evicting else "no errors")
          + f", the server still answers, peak memory <= {GOAL_PEAK_MB} MB)", flush=True)
    result["passed"] = passed
    result["refused"] = counts["attendee refused at the cap (503)"]
    result["limited"] = counts["fault: HTTP 429"]
    return result


def compare(results):
    def pair(result, name):
        values = result.get(name)
        return f"{values[0]:.0f} / {values[1]:.0f}" if values else "-"

    def number(value, form):
        return "-" if value is None else format(value, form)

    def label(attacks):
        if not attacks:
            return "none"
        return "all" if attacks == set(soak_attacks.ATTACKS) else "+".join(sorted(attacks))

    rows = [("attacks", lambda r: label(r["attacks"])),
            ("good requests answered", lambda r: str(r["good"])),
            ("first byte p50 / p99 (ms)", lambda r: pair(r, "first_byte")),
            ("first event p50 / p99 (ms)", lambda r: pair(r, "first_event")),
            ("errors (attendees')", lambda r: f"{r['errors']} ({r['attendee_errors']})"),
            ("attendees refused 503 / 429", lambda r: f"{r['refused']} / {r['limited']}"),
            ("server peak memory (MB)", lambda r: number(r["peak_mb"], ".1f")),
            ("server CPU (s)", lambda r: number(r["cpu_s"], ".1f")),
            ("still answers at the end", lambda r: "yes" if r["answers"] else "NO")]
    width = max(16, *(len(label(r["attacks"])) for r in results)) + 2
    print("\nside by side (one run per column):")
    for name, shown in rows:
        print(f"{name:28}" + "".join(f"{shown(r):>{width}}" for r in results))


if __name__ == "__main__":
    sys.exit(main())

"""Measure the recording proxy (`python -m glm_offline record`) where it used to hurt.

Each part runs in a fresh process of its own (so its peak memory is its own) against a local
fake upstream on 127.0.0.1, and prints figures; nothing here asserts a timing.

  exchanges   ms per recorded exchange through the proxy, with the cassette holding about 2
              and about 300 exchanges (--exchanges to change the 300)
  sse-line    CPU seconds for a streamed reply of --sse-mb MB with no newline at all
  big-json    peak memory (ru_maxrss) when the upstream answers --json-mb MB of JSON

    python contributors/bench_record.py                       # every part
    python contributors/bench_record.py --part exchanges      # one of them
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import glm_offline  # noqa: E402 (the repository's package, one folder up)
from glm_offline import sse_capture  # noqa: E402
from glm_offline.record import start_recorder  # noqa: E402

PARTS = ("exchanges", "sse-line", "big-json")
MODEL = "glm-4-flash-250414"
PIECE = 64 * 1024
TIMEOUT_S = 600


def ask(text, stream=False):
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    return {**body, "stream": True} if stream else body


def headers(key):
    return {"Authorization": f"Bearer {key}"}


def exchanges(count):
    """Record `count` different exchanges one after another; time each through the proxy."""
    with tempfile.TemporaryDirectory() as folder, \
            glm_offline.start(pacing="instant") as upstream, \
            start_recorder(upstream.base_url, Path(folder) / "bench.json") as proxy:
        session = requests.Session()
        times_ms = []
        for number in range(count):
            body = ask(f"Benchmark question number {number}, please answer briefly.",
                       stream=number % 2 == 1)
            started = time.perf_counter()
            response = session.post(proxy.base_url + "/chat/completions", json=body,
                                    headers=headers(upstream.api_key), timeout=TIMEOUT_S)
            response.content  # noqa: B018 (read it all: the exchange ends with its body)
            times_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"exchange {number}: HTTP {response.status_code}")
        session.close()
    few = min(5, count)
    first, last = sorted(times_ms[:few]), sorted(times_ms[-few:])
    print(f"exchanges: median ms per exchange, holding ~2: {first[few // 2]:.1f}; "
          f"holding ~{count}: {last[few // 2]:.1f} (exchanges 1-{few} and "
          f"{count - few + 1}-{count})")


class FakeUpstream(BaseHTTPRequestHandler):
    """Answers every POST with `make()`'s chunks, never holding the whole body."""

    protocol_version = "HTTP/1.1"
    content_type = "application/json"
    make = staticmethod(lambda: iter(()))

    def do_POST(self):  # noqa: N802 (stdlib name)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for piece in self.make():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the proxy stopped reading (it refused the body): nothing to finish

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass


def through_fake(content_type, make, label):
    """One request through the proxy to a fake upstream; print CPU time and peak memory."""
    FakeUpstream.content_type, FakeUpstream.make = content_type, staticmethod(make)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeUpstream)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    upstream = f"http://127.0.0.1:{httpd.server_address[1]}/api/paas/v4"
    try:
        with tempfile.TemporaryDirectory() as folder, \
                start_recorder(upstream, Path(folder) / "bench.json") as proxy:
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            received = 0
            with requests.post(proxy.base_url + "/chat/completions", json=ask("Big.", True),
                               headers=headers(glm_offline.OFFLINE_API_KEY), stream=True,
                               timeout=TIMEOUT_S) as response:
                for chunk in response.iter_content(chunk_size=PIECE):
                    received += len(chunk)
                status = response.status_code
            after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"{label}: HTTP {status}, {received / 2**20:.1f} MB to the client, "
          f"{time.perf_counter() - started:.1f} s, {cpu:.1f} s CPU (this process: proxy, fake "
          f"upstream, client), peak memory {after.ru_maxrss / 1024:.0f} MB")


def sse_line(megabytes):
    def make():
        yield b"data: "
        for _ in range(megabytes * 2**20 // PIECE):
            yield b"x" * PIECE
    through_fake("text/event-stream", make, f"sse-line ({megabytes} MB without a newline)")
    if hasattr(sse_capture, "MAX_SSE_LINE_BYTES"):  # the same, caps lifted: the scan alone
        sse_capture.MAX_SSE_LINE_BYTES = sse_capture.MAX_RECORDED_BYTES = 2 * megabytes * 2**20
        through_fake("text/event-stream", make, f"sse-line ({megabytes} MB without a newline, "
                     "line and size caps lifted)")


def big_json(megabytes):
    def make():
        yield b'{"choices": [{"message": {"role": "assistant", "content": "'
        for _ in range(megabytes * 2**20 // PIECE):
            yield b"y" * PIECE
        yield b'"}}]}'
    through_fake("application/json", make, f"big-json ({megabytes} MB of JSON)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=PARTS, action="append",
                        help="run only this part (repeatable; default: all)")
    parser.add_argument("--exchanges", type=int, default=300)
    parser.add_argument("--sse-mb", type=int, default=16)
    parser.add_argument("--json-mb", type=int, default=200)
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.exchanges, args.sse_mb, args.json_mb) < 1:
        parser.error("--exchanges, --sse-mb and --json-mb must be at least 1")
    parts = args.part or list(PARTS)
    if args.in_process:
        for part in parts:
            {"exchanges": lambda: exchanges(args.exchanges),
             "sse-line": lambda: sse_line(args.sse_mb),
             "big-json": lambda: big_json(args.json_mb)}[part]()
        return 0
    for part in parts:  # each in a fresh process: its peak memory is its own
        command = [sys.executable, __file__, "--in-process", "--part", part,
                   "--exchanges", str(args.exchanges), "--sse-mb", str(args.sse_mb),
                   "--json-mb", str(args.json_mb)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
        shown = [line for line in result.stdout.splitlines() if line.startswith(part)]
        print("\n".join(shown) or f"{part}: failed (exit {result.returncode})\n"
              + result.stdout[-2000:] + result.stderr[-2000:], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line: serve recordings, inject faults into a running server, record new ones."""

import argparse
import json
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .auth import OFFLINE_API_KEY
from .cassettes import CassetteError
from .faults import KINDS
from .server import ADMIN_PREFIX, STREAM_OPTIONS, start, wait_for_interrupt

DESCRIPTION = """\
The recorded GLM server: an offline stand-in for https://open.bigmodel.cn/api/paas/v4.

  python -m glm_offline serve                      # this machine only, free port
  python -m glm_offline serve --host 0.0.0.0 --port 8000    # a whole workshop room
  python -m glm_offline fault rate_limit --times 2 --port 8000
  python -m glm_offline record --port 8001         # needs a real key, see `record --help`

Attendees set two environment variables and run the lessons unchanged:
  ZHIPUAI_BASE_URL=http://<this machine>:<port>/api/paas/v4
  ZHIPUAI_API_KEY=<the offline key printed by `serve`>
"""


def cmd_serve(args):
    options = {name: getattr(args, name) for name in ("chunking", "line_ending", "pacing")
               if getattr(args, name)}
    if args.no_charset:
        options["charset"] = False
    missing = [d for d in args.cassettes or args.only_cassettes or [] if not Path(d).is_dir()]
    if missing:
        print(f"error: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        server = start(args.host, args.port, cassette_dirs=args.cassettes or args.only_cassettes,
                       packaged_cassettes=not args.only_cassettes, strict=args.strict,
                       verbose=args.verbose, **options)
    except (OSError, CassetteError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Recorded GLM server listening on {args.host}:{server.port}", flush=True)
    if args.host in ("0.0.0.0", "::"):
        print(f"  other machines use this machine's address, e.g. {socket.gethostname()}; "
              "anyone who can reach this port can use it.")
    print(f"  ZHIPUAI_BASE_URL={server.base_url}")
    print(f"  ZHIPUAI_API_KEY={server.api_key}")
    print("Press Ctrl-C to stop.", flush=True)
    wait_for_interrupt()
    server.stop()
    print("Recorded GLM server stopped.", flush=True)
    return 0


def cmd_fault(args):
    url = f"http://{args.server_host}:{args.port}{ADMIN_PREFIX}/faults"
    if args.clear:
        request = urllib.request.Request(url, method="DELETE")
    elif args.kind:
        spec = {"kind": args.kind, "times": args.times}
        for name in ("code", "after_events", "seconds", "retry_after"):
            if getattr(args, name) is not None:
                spec[name] = getattr(args, name)
        request = urllib.request.Request(url, data=json.dumps(spec).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
    else:
        request = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            pending = json.load(response)["pending"]
    except urllib.error.HTTPError as exc:
        print(f"error: {json.load(exc)['error']['message']}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: no recorded GLM server at {url} ({exc})", file=sys.stderr)
        return 2
    print("pending faults: " + (", ".join(json.dumps(f) for f in pending) or "none"))
    return 0


def cmd_record(args):
    from .record import run_recorder
    return run_recorder(args)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m glm_offline", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="replay the recordings until Ctrl-C",
                                description="Replay the recordings over HTTP until Ctrl-C. "
                                f"The API key to use is always {OFFLINE_API_KEY}")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1, this machine only; "
                       "0.0.0.0 lets other machines in the room connect)")
    serve.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    folders = serve.add_mutually_exclusive_group()
    folders.add_argument("--cassettes", action="append", metavar="DIR",
                         help="also load recordings from this folder (repeatable)")
    folders.add_argument("--only-cassettes", action="append", metavar="DIR",
                         help="load recordings from this folder only, not the packaged ones "
                         "(repeatable), e.g. to check a new recording with --strict")
    serve.add_argument("--strict", action="store_true", default=None,
                       help="answer unrecorded requests with an error instead of a generated reply")
    serve.add_argument("--chunking", choices=STREAM_OPTIONS["chunking"],
                       help="'hostile' splits every SSE event into 1-5 byte pieces")
    serve.add_argument("--line-ending", choices=STREAM_OPTIONS["line_ending"])
    serve.add_argument("--pacing", choices=STREAM_OPTIONS["pacing"],
                       help="'realistic' (default) replays recorded gaps, at most ~2 s a stream")
    serve.add_argument("--no-charset", action="store_true",
                       help="send text/event-stream without charset"
                            " (shows requests' ISO-8859-1 trap)")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.set_defaults(func=cmd_serve)

    fault = commands.add_parser(
        "fault", help="make a running server fail the next requests on purpose",
        description="Queue a fault on a running `serve` (from the same machine). Kinds:\n"
        + "\n".join(f"  {k:16} {v[0]}" for k, v in KINDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    fault.add_argument("kind", nargs="?", choices=list(KINDS), metavar="KIND",
                       help="the fault; without one, list the pending faults")
    fault.add_argument("--port", type=int, required=True, help="the port `serve` printed")
    fault.add_argument("--server-host", default="127.0.0.1", help=argparse.SUPPRESS)
    fault.add_argument("--times", type=int, default=1, help="how many requests (default 1)")
    fault.add_argument("--code", help="business code, for 'error' and 'error_frame'")
    fault.add_argument("--after-events", type=int, help="mid-stream faults: events sent first")
    fault.add_argument("--seconds", type=float, help="slow_first_byte: the delay")
    fault.add_argument("--retry-after", type=int, help="status faults: send a Retry-After header")
    fault.add_argument("--clear", action="store_true", help="drop every pending fault")
    fault.set_defaults(func=cmd_fault)

    record = commands.add_parser(
        "record", help="record real responses through a local proxy (needs a real key)",
        description="Run a recording proxy in front of the real API. Point the lessons at it "
        "with ZHIPUAI_BASE_URL and your own ZHIPUAI_API_KEY; each exchange that replay needs "
        "is written to a cassette (not 401s, 429s, 5xx, requests replay rejects itself, or "
        "repeats), never with the Authorization header or any key.")
    record.add_argument("--upstream", default="https://open.bigmodel.cn/api/paas/v4",
                        help="the real API base URL (default %(default)s)")
    record.add_argument("--output", required=True, metavar="FILE",
                        help="cassette file to write (created, or appended to)")
    record.add_argument("--host", default="127.0.0.1")
    record.add_argument("--port", type=int, default=0)
    record.add_argument("--timeout", type=float, default=300, help="upstream read timeout (s)")
    record.set_defaults(func=cmd_record)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

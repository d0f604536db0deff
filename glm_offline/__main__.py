"""Command line: serve recordings, inject faults into a running server, record new ones."""

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

from . import control, doctor
from .auth import OFFLINE_API_KEY
from .cassettes import CassetteError
from .faults import KINDS, OPTIONS, kinds_help, make_fault
from .http import CONNECTIONS_AT_MOST, Limits, file_limit
from .options import MAX_COUNT, STREAM_OPTIONS
from .server import reachable_addresses, start, stop_on_signals, wait_for_interrupt
from .wire import LIVE_BASE_URL
from .wire_page import page_url

DESCRIPTION = """\
The recorded GLM server: an offline stand-in for https://open.bigmodel.cn/api/paas/v4.

  python -m glm_offline serve                      # this machine only, free port
  python -m glm_offline serve --host 0.0.0.0 --port 8000    # a whole workshop room
  python -m glm_offline fault rate_limit --times 2 --port 8000
  python -m glm_offline record --port 8001         # needs a real key, see `record --help`
  python -m glm_offline drift --json drift.json    # needs a real key, see `drift --help`
  python -m glm_offline doctor                     # does my key work at my base URL?

Attendees set two environment variables and run the lessons unchanged:
  ZHIPUAI_BASE_URL=http://<this machine>:<port>/api/paas/v4
  ZHIPUAI_API_KEY=<the offline key printed by `serve`>
"""


def raise_file_limit():
    """Let a room's connections use every file descriptor the system allows this process
    (macOS refuses an unlimited or very high soft limit: then the highest it takes)."""
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # no resource module (Windows)
        return
    if soft == resource.RLIM_INFINITY:
        return
    targets = [hard] if hard != resource.RLIM_INFINITY else [65536, 10240, 4096]
    for target in targets:
        if target <= soft:
            return
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return
        except (OSError, ValueError):
            pass


def file_limit_advice(server, max_connections):
    """One line when the open-file limit keeps the room small, with what to run; else None."""
    cap, limit = server.connection_cap, file_limit()
    if max_connections or limit is None or cap >= CONNECTIONS_AT_MOST // 2:
        return None
    return (f"  at most {cap} connections at once: the open-file limit is {limit}; for a bigger "
            "room stop the server, run `ulimit -n 4096` in this shell and start it again")


def cmd_serve(args):
    options = {name: getattr(args, name) for name in ("chunking", "line_ending", "pacing")
               if getattr(args, name)}
    if args.no_charset:
        options["charset"] = False
    # From here on Ctrl-C and SIGTERM only set `stop`: the server (and its token file) is
    # always stopped below, whenever they come, and no traceback is printed.
    stop = stop_on_signals()
    raise_file_limit()
    if stop.is_set():
        print("Stopped before the server started.", flush=True)
        return 0
    try:
        server = start(args.host, args.port, cassette_dirs=args.cassettes or args.only_cassettes,
                       packaged_cassettes=not args.only_cassettes, strict=args.strict,
                       english=args.english, max_in_flight=args.max_in_flight,
                       max_connections=args.max_connections, verbose=args.verbose, **options)
    except (OSError, CassetteError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if not stop.is_set():
            print_banner(args, server)
            wait_for_interrupt(stop)
    finally:
        server.stop()
    print("Recorded GLM server stopped.", flush=True)
    return 0


def print_banner(args, server):
    """What `serve` prints once it listens: the address, the variables, the page's URL."""
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Recorded GLM server listening on {shown}:{server.port}", flush=True)
    advice = file_limit_advice(server, args.max_connections)
    if advice:
        print(advice)
    base_url = server.base_url
    if args.host in ("0.0.0.0", "::"):
        addresses = reachable_addresses()
        if addresses:
            base_url = base_url.replace("127.0.0.1", addresses[0], 1)
            if addresses[1:]:
                print(f"  this machine's other addresses: {', '.join(addresses[1:])}")
        else:
            print("  no LAN address found: attendees use this machine's name or address")
        print("  anyone who can reach this port can use it.")
    print(f"  ZHIPUAI_BASE_URL={base_url}")
    print(f"  ZHIPUAI_API_KEY={server.api_key}")
    if os.name == "nt":  # PowerShell
        print(f'  in another shell: $env:ZHIPUAI_BASE_URL="{base_url}"; '
              f'$env:ZHIPUAI_API_KEY="{server.api_key}"')
    else:
        print(f"  in another shell: export ZHIPUAI_BASE_URL={base_url} "
              f"ZHIPUAI_API_KEY={server.api_key}")
    if not args.port:
        print("  (a free port, another one next time: --port 8000 keeps one)")
    if server.control.path:
        print(f"  faults: python -m glm_offline fault KIND --port {server.port} (on this machine, "
              f"as this user: it reads the token in {server.control.path})")
    print(f"  see the wire (your browser on this machine, not for attendees: the URL holds the "
          f"control token): {page_url(server)}")
    print("Press Ctrl-C to stop.", flush=True)


def cmd_fault(args):
    host = args.host
    try:
        if args.clear:
            pending = control.call(host, args.port, "DELETE")
        elif args.kind:
            spec = {"kind": args.kind, "times": args.times}
            spec.update({name: getattr(args, name) for name in OPTIONS
                         if getattr(args, name) is not None})
            make_fault(**spec)  # the server checks the same; a bad option fails here first
            pending = control.call(host, args.port, "POST", spec)
        else:
            pending = control.call(host, args.port)
    except ValueError as exc:
        print(f"error: bad fault: {exc}", file=sys.stderr)
        return 2
    except control.ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("pending faults: " + (", ".join(json.dumps(f) for f in pending) or "none"))
    return 0


def thinking_label(model):
    """'none', 'switchable', 'forced', or 'forced, off is a 400' with its reasoning_effort."""
    label = {"forced_rejects_disabled": "forced, off is a 400"}.get(model.thinking,
                                                                    model.thinking)
    if model.reasoning_effort:
        label += f", effort {'|'.join(model.reasoning_effort)}"
    return label


def cmd_models(args):
    """The model table with each model's life, or (--retired-by) what uses a retired model."""
    from .models import MODELS
    from .retired import notebooks_folder, scan
    if args.retired_by is None:
        rows = [("model", "released", "thinking", "retired", "instead")]
        for name, model in sorted(MODELS.items(),
                                  key=lambda item: (item[1].released or datetime.date.min,
                                                    item[0])):
            released = (f"{model.released}{' ~' if model.released_approximate else ''}"
                        if model.released else "unknown")
            retired = (str(model.retired) if model.retired
                       else "announced, no date" if model.retiring else "-")
            rows.append((name, released, thinking_label(model), retired,
                         model.replacement or "-"))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            print("  ".join([*(f"{cell:<{w}}" for cell, w in zip(row, widths)), row[4]]))
        print("~ only the month is known: the date shown is the first of that month.\n"
              "retired: only dates open.bigmodel.cn / api.z.ai announced.")
        return 0
    missing = [d for d in args.cassettes or [] if not Path(d).is_dir()]
    if missing:
        print(f"error: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    lessons = notebooks_folder()
    if lessons is None:
        print("note: no notebooks folder beside the package (installed without the lessons): "
              "scanning the recordings only")
    try:
        uses = scan(args.retired_by, lessons, args.cassettes or [])
    except (OSError, CassetteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not uses:
        print(f"none: no lesson or recording uses a model retired by {args.retired_by}")
        return 0
    for use in uses:
        instead = f", use {use.replacement}" if use.replacement else ", no replacement announced"
        print(f"{use.where}: {use.model} retired {use.retired}{instead}")
    print(f"{len(uses)} use(s) of a model retired by {args.retired_by}")
    return 1


def cmd_record(args):
    from .record import run_recorder
    return run_recorder(args)


def cmd_drift(args):
    from .drift_run import run_command
    return run_command(args)


def add_drift_command(commands):
    """`drift`: replay the recordings' requests against the live API, say what drifted."""
    from .drift_run import DEFAULT_BASE_URL
    drift = commands.add_parser(
        "drift", help="check the recordings against the live API (needs a real key)",
        description="Send every recording's request to the live API through the recording "
        "proxy (key from ZHIPUAI_API_KEY, never printed or written) and classify each answer "
        "against its recording: identical, benign (ids, text, token counts), notable (a new "
        "field or header), critical (a field removed, renamed or retyped, a new finish_reason, "
        "SSE framing or event order changed, a status or business code changed), redirected "
        "(another model answered) or skipped (401, 429, 5xx). Exit 1 if anything is critical, "
        "2 if nothing could be checked.")
    drift.add_argument("--base-url", default=DEFAULT_BASE_URL,
                       help="the API to check against (default %(default)s; "
                       "https://api.z.ai/api/paas/v4 internationally)")
    drift.add_argument("--lessons", nargs="+", metavar="NN",
                       help="only these lessons' recordings, e.g. 02 03 (default: every one)")
    drift.add_argument("--only", action="append", metavar="NAME",
                       help="only this interaction (repeatable)")
    drift.add_argument("--cassettes", metavar="DIR",
                       help="check the recordings in this folder (default: the packaged ones)")
    drift.add_argument("--json", metavar="FILE", help="write the machine-readable report here")
    drift.add_argument("--save-live", metavar="DIR",
                       help="keep what the API answered, as cassettes live-<name>.json")
    drift.add_argument("--update-cassettes", action="store_true",
                       help="write each checked cassette's worst verdict and today's date "
                       "into its metadata.provenance.last_drift")
    drift.add_argument("--timeout", type=float, default=300, help="upstream read timeout (s)")
    drift.add_argument("--poll-seconds", type=float, default=2.0,
                       help="wait between polls of an async task (default %(default)s)")
    drift.set_defaults(func=cmd_drift)


def port_number(text):
    """argparse type: a TCP port, 0 (any free port) to 65535."""
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 65535, not {text!r}")
    return int(text)


def count(text):
    """argparse type: a whole number from 1 to options.MAX_COUNT."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text[:7]) <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_COUNT}, "
                                         f"not {text!r}")
    return int(text)


def day(text):
    """argparse type: a date, YYYY-MM-DD."""
    try:
        if len(text) == 10:
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD, not {text!r}")


class Parser(argparse.ArgumentParser):
    """Bad arguments give one line, `error: ...` (and `--help` the whole story)."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = Parser(prog="python -m glm_offline", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="replay the recordings until Ctrl-C",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Replay the recordings over HTTP until Ctrl-C.\n\n"
                                f"The general API key is {OFFLINE_API_KEY}\n"
                                "Four more offline keys simulate other kinds (a Coding Plan "
                                "key, one with no balance, ...):\nglm_offline.OFFLINE_KEYS, "
                                "see lesson 01, section 5; try one with "
                                "`python -m glm_offline doctor`.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1, this machine only; "
                       "0.0.0.0 lets other machines in the room connect)")
    serve.add_argument("--port", type=port_number, default=0,
                       help="port (default: any free port)")
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
    serve.add_argument("--english", action="store_true", default=None,
                       help="error messages in English, as api.z.ai answers (also per request "
                       "with Accept-Language: en)")
    serve.add_argument("--max-in-flight", type=count, metavar="N",
                       help="requests in progress per attendee (API key and client address; "
                       "on one machine: per key, as the live per-account limit); past it "
                       "429/1302 at once, as the live concurrency limit. Attendees behind one "
                       "NAT address share N")
    serve.add_argument("--max-connections", type=count, metavar="N",
                       help="open connections at most (default: from the file limit); past it "
                       "idle keep-alive connections are closed first, then requests stalled "
                       "while arriving, then new ones get 503. Requests still arriving are "
                       f"held to {Limits.incomplete_per_address} per client address (a room "
                       "behind one NAT shares them; "
                       "each arrives in milliseconds)")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.set_defaults(func=cmd_serve)

    fault = commands.add_parser(
        "fault", help="make a running server fail the next requests on purpose",
        description="Queue a fault on a running `serve` on this machine (it reads the "
        f"server's control token from {control.control_dir()}). Kinds:\n" + kinds_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    fault.add_argument("kind", nargs="?", choices=list(KINDS), metavar="KIND",
                       help="the fault; without one, list the pending faults")
    fault.add_argument("--port", type=port_number, required=True, help="the port `serve` printed")
    fault.add_argument("--host",
                       help="the server's address on this machine (default: the one `serve` "
                       "wrote next to its control token)")
    fault.add_argument("--times", type=count, default=1, help="how many requests (default 1)")
    kinds_taking = {name: [k for k, kind in KINDS.items() if name in kind.options]
                    for name in OPTIONS}
    for name, (what, bounds, whole) in OPTIONS.items():
        kind = str if bounds is None else int if whole else float
        fault.add_argument("--" + name.replace("_", "-"), type=kind,
                           help=f"{what} ({', '.join(kinds_taking[name])})")
    fault.add_argument("--clear", action="store_true", help="drop every pending fault")
    fault.set_defaults(func=cmd_fault)

    record = commands.add_parser(
        "record", help="record real responses through a local proxy (needs a real key)",
        description="Run a recording proxy in front of the real API. Point the lessons at it "
        "with ZHIPUAI_BASE_URL and your own ZHIPUAI_API_KEY; each exchange that replay needs "
        "is written to a cassette (not 401s, 429s, 5xx, requests replay rejects itself, or "
        "repeats), never with the Authorization header or any key.")
    record.add_argument("--upstream", default=LIVE_BASE_URL,
                        help="the real API base URL (default %(default)s)")
    record.add_argument("--output", required=True, metavar="FILE",
                        help="cassette file to write (created, or appended to)")
    record.add_argument("--host", default="127.0.0.1")
    record.add_argument("--port", type=port_number, default=0)
    record.add_argument("--timeout", type=float, default=300, help="upstream read timeout (s)")
    record.set_defaults(func=cmd_record)

    models = commands.add_parser(
        "models", help="the model table: release dates, thinking, retirements",
        description="Print every model the recorded server knows: its release date (~: only "
        "the month is known), how it thinks, and its retirement and replacement where the "
        "platform announced them. With --retired-by, list instead every lesson cell and "
        "recorded request that uses a model retired by that date (exit 1 if any).")
    models.add_argument("--retired-by", type=day, metavar="YYYY-MM-DD",
                        help="list the lessons and recordings that use a model retired by then")
    models.add_argument("--cassettes", action="append", metavar="DIR",
                        help="also scan the recordings in this folder (repeatable)")
    models.set_defaults(func=cmd_models)
    add_drift_command(commands)
    doctor.add_command(commands)
    return parser


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C before a command took it over (serve takes it over)
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `models | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())

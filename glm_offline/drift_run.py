"""`python -m glm_offline drift`: replay every recording's request against the live API and
say how each answer drifted from its recording (the verdicts are glm_offline.drift's).

    export ZHIPUAI_API_KEY=<your key>
    python -m glm_offline drift --lessons 02 03 --json drift.json

Each request goes through the recording proxy (glm_offline.record) in front of --base-url, so
it reaches the API exactly as a re-recording would send it (forwarded headers, no cookies,
the same timeouts, 502 for an unreachable API), and what the API answered is kept, redacted,
as a cassette in --save-live DIR when given. A first cheap call (a chat request the API must
refuse, which costs no tokens) tells a refused key ("skipped: key refused") from drift.
The key is never printed or written: anything shown or stored passes redaction.redact first.

Exit status: 0 when nothing is critical, 1 when something is, 2 when nothing could be
checked (no key, the key refused, the API unreachable) or the arguments are wrong.
"""

import contextlib
import io
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from . import drift, provenance
from .auth import own_key
from .cassette_file import CassetteError, read_checked, write_whole
from .cassettes import PACKAGE_CASSETTES
from .record import CONNECT_TIMEOUT_SECONDS, session_without_cookies, start_recorder
from .redaction import credential_secrets, redact
from .routes import ASYNC_PATH, CHAT_PATH, RESULT_PREFIX
from .sse_capture import SSERecorder
from .wire import LIVE_BASE_URL

DEFAULT_BASE_URL = LIVE_BASE_URL
# The cheap first call: the API checks the key before the body, and an empty message list
# is refused without running a model (that the live API checks in this order is UNVERIFIED;
# the recorded server does).
PROBE_BODY = {"model": "glm-4.7-flash", "messages": []}
MAX_POLLS = 120
HEADINGS = ("Verdict · 结论", "Recording · 录制", "Changed fields · 变化的字段")
FIELDS_WIDTH = 100


class Checked:
    """One recording checked: where it is, and its verdict."""

    def __init__(self, cassette, interaction, verdict):
        self.cassette, self.interaction, self.verdict = cassette, interaction, verdict

    def entry(self):
        verdict = self.verdict
        return {"recording": {"cassette": self.cassette, "interaction": self.interaction},
                "verdict": verdict.name,
                **({"reason": verdict.reason} if verdict.reason else {}),
                "paths": verdict.paths,
                "changes": [{"path": c.path, "what": c.what, "verdict": c.verdict}
                            for c in verdict.changes]}


def line_ending(data):
    """"lf", "crlf", "cr" or "mixed": how the lines of a stream's raw bytes end."""
    crlf = data.count(b"\r\n")
    counts = {"crlf": crlf, "cr": data.count(b"\r") - crlf, "lf": data.count(b"\n") - crlf}
    found = [name for name, count in counts.items() if count]
    return found[0] if len(found) == 1 else "mixed" if found else "lf"


class Caller:
    """Sends requests through the proxy and reads each answer as the drift compares it."""

    def __init__(self, key, timeout_seconds, poll_seconds):
        self.secrets = credential_secrets(f"Bearer {key}")
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.timeout = (CONNECT_TIMEOUT_SECONDS, timeout_seconds)
        self.poll_seconds = poll_seconds
        self.session = session_without_cookies()

    def close(self):
        self.session.close()

    def send(self, proxy, method, path, body):
        """The live answer, redacted: {"status", "json" or "sse", "content_type", "headers",
        "line_ending"}; an async task is polled until it is done."""
        live = self._one(proxy, method, path, body)
        if path == ASYNC_PATH and live["status"] == 200 and isinstance(live.get("json"), dict):
            for _ in range(MAX_POLLS):
                if live["json"].get("task_status") != "PROCESSING":
                    break
                time.sleep(self.poll_seconds)
                live = self._one(proxy, "GET", RESULT_PREFIX + str(live["json"].get("id")), None)
        return live

    def _one(self, proxy, method, path, body):
        seen = len(proxy.history)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        url = f"http://127.0.0.1:{proxy.port}{path}"
        with self.session.request(method, url, data=data, headers=self.headers, stream=True,
                                  timeout=self.timeout) as response:
            raw = b"".join(response.iter_content(chunk_size=None))
            status, content_type = response.status_code, response.headers.get("Content-Type")
        names = proxy.wait_for_exchanges(seen + 1, timeout=10)[seen].upstream_headers
        live = {"status": status, "content_type": content_type, "headers": list(names)}
        if "text/event-stream" in (content_type or "").lower():
            lines = SSERecorder(0)
            lines.feed(raw, 0)
            lines.close(0)
            live.update(sse=lines.lines, line_ending=line_ending(raw))
        else:
            try:
                live["json"] = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                live["json"] = {"not JSON": len(raw)}
        return redact(live, self.secrets)[0]


def select_cassettes(lessons=None, folder=PACKAGE_CASSETTES):
    """The cassette files to check: every one in `folder`, or those of some lessons
    (lesson-NN.json, recorded-NN.json); ValueError naming a lesson that has none."""
    paths = sorted(Path(folder).glob("*.json"))
    if not paths:
        raise ValueError(f"no cassettes (*.json) in {folder}")
    if not lessons:
        return paths
    chosen = []
    for lesson in (n.zfill(2) for n in lessons):
        found = [p for p in paths if p.name in (f"lesson-{lesson}.json",
                                                f"recorded-{lesson}.json")]
        if not found:
            raise ValueError(f"no recordings for lesson {lesson} in {folder}")
        chosen += found
    return chosen


def probe(caller, proxy):
    """None when the key works, else the reason every exchange is skipped."""
    try:
        live = caller.send(proxy, "POST", CHAT_PATH, PROBE_BODY)
    except requests.RequestException as exc:
        return f"no answer from the API ({type(exc).__name__})"
    if live["status"] == 401:
        return "key refused"
    if live["status"] >= 500:
        return f"the API is unreachable or failing ({live['status']})"
    return None


def check(paths, base_url, key, only=None, save_live=None, timeout_seconds=300,
          poll_seconds=2.0, say=lambda line: None):
    """Check the recordings of these cassette files; return (key refused reason or None,
    [Checked], worst first). `only`: interaction names to check (default all)."""
    caller = Caller(key, timeout_seconds, poll_seconds)
    results, refused = [], None
    with tempfile.TemporaryDirectory(prefix="drift-") as work, \
            contextlib.redirect_stdout(io.StringIO()):  # the proxy's own lines, not ours
        folder = Path(save_live or work)
        for path in paths:
            interactions = [i for i in read_checked(path)["interactions"]
                            if not only or i["name"] in only]
            if not interactions:
                continue
            proxy = start_recorder(base_url, folder / f"live-{path.name}",
                                   timeout_seconds=timeout_seconds)
            try:
                if refused is None and not results:
                    refused = probe(caller, proxy) or ""
                for item in interactions:
                    verdict = _verdict(caller, proxy, item, refused)
                    results.append(Checked(path.name, item["name"], verdict))
                    say(f"{verdict.name:<10} {path.name} {item['name']}")
            finally:
                proxy.stop()
    caller.close()
    results.sort(key=lambda e: drift.VERDICTS.index(e.verdict.name))
    return refused or None, results


def _verdict(caller, proxy, item, refused):
    if refused:
        return drift.Verdict("skipped", reason=refused)
    request = item["request"]
    try:
        live = caller.send(proxy, request["method"].upper(), request["path"], request.get("body"))
    except (requests.RequestException, TimeoutError) as exc:
        return drift.Verdict("skipped", reason=f"no whole answer ({type(exc).__name__})")
    return drift.classify(request.get("body"), item["response"], live)


def report(results, base_url, refused, day):
    counts = {name: sum(e.verdict.name == name for e in results) for name in drift.VERDICTS}
    return {"checked_at": day, "base_url": base_url,
            "not_checked": refused or None,  # why nothing was, e.g. "key refused"
            "summary": counts,
            "exchanges": [e.entry() for e in results]}


def table(results):
    """The bilingual summary: one row per recording, worst verdict first."""
    rows = [HEADINGS]
    for e in results:
        verdict = e.verdict
        fields = verdict.reason if verdict.name == "skipped" else ", ".join(
            f"{c.path} ({c.what})" if c.verdict != "benign" else c.path
            for c in verdict.changes)
        if len(fields) > FIELDS_WIDTH:
            fields = fields[:FIELDS_WIDTH - 3] + "..."
        rows.append((verdict.name, f"{e.cassette} {e.interaction}", fields or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}".rstrip() for r in rows]
    counts = [f"{sum(e.verdict.name == n for e in results)} {n}" for n in drift.VERDICTS]
    lines.append(f"{len(results)} exchanges · 共 {len(results)} 次交互: {', '.join(counts)}")
    return "\n".join(lines)


def update_cassettes(results, folder, day):
    """Write each checked cassette's worst verdict and the day into its provenance."""
    worst = {}
    for e in results:
        worst[e.cassette] = drift.worst([worst.get(e.cassette, "identical"), e.verdict.name])
    for name, verdict in worst.items():
        path = Path(folder) / name
        data = read_checked(path)
        data["metadata"]["provenance"] = provenance.with_drift(
            data["metadata"].get("provenance"), verdict, day)
        write_whole(path, data)


def run_command(args, environ=None):
    """The `drift` subcommand."""
    environ = os.environ if environ is None else environ
    base_url = args.base_url.rstrip("/")
    try:
        key = own_key(base_url, environ, "The drift check")
        paths = select_cassettes(args.lessons, args.cassettes or PACKAGE_CASSETTES)
        only = set(args.only or ())
        refused, results = check(paths, base_url, key, only, args.save_live, args.timeout,
                                 args.poll_seconds, say=lambda line: print(
                                     line, file=sys.stderr, flush=True))
    except (ValueError, CassetteError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not results:
        print(f"error: no recording is named {', '.join(sorted(only))}", file=sys.stderr)
        return 2
    secrets = credential_secrets(f"Bearer {key}")
    day = datetime.now(timezone.utc).date().isoformat()
    print(redact(table(results), secrets)[0])
    if args.json:
        text = json.dumps(redact(report(results, base_url, refused, day), secrets)[0],
                          ensure_ascii=False, indent=1)
        try:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot write the report {args.json}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
    if refused:
        print(f"error: nothing was checked: {refused}", file=sys.stderr)
        return 2
    if args.update_cassettes:
        try:
            update_cassettes(results, args.cassettes or PACKAGE_CASSETTES, day)
        except (OSError, CassetteError) as exc:
            print(f"error: the verdicts could not be written into the cassettes: "
                  f"{getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
            return 2
    return 1 if any(e.verdict.name == "critical" for e in results) else 0

"""Check the browser edition in headless Chromium: lessons run with "Run All" and give their
stored outputs, nothing is requested from any host but the edition's own, and a streamed
answer reaches the page piece by piece.

    python -m glm_lessons.browser build --dest /tmp/edition
    python instructors/browser_edition_check.py --site /tmp/edition \
        --lesson en/02-chat-completions.ipynb --lesson zh/03-streaming.ipynb \
        --screenshot /tmp/edition-stream.png

It serves the folder with `python -m http.server` on 127.0.0.1, opens each lesson in a fresh
headless Chromium, clears its outputs, runs every cell, and compares each code cell's outputs
with the notebook's stored ones (glm_lessons.browser.compare: what nbval compares, sanitised
the same way; `--against DIR` compares with the notebooks in DIR instead, e.g. re-executed
copies; a cell that printed the edition's no-threads line may differ, as that line says,
and is listed apart). Every target's network requests are watched over the DevTools
Protocol (the page, the kernel's web worker, the service worker): one to another host fails
the check. Last, a
cell streams a recorded answer at its recorded pacing, and the times its pieces reach the page
are measured: they must be spread out, not all at once. The screenshot shows that cell.
"""

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import nbformat

from browser_check import (
    CheckFailed,
    DevTools,
    ensure_cjk_font,
    find_chromium,
    free_port,
    http_get,
    import_websocket,
    start_chromium,
    stop,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from glm_lessons.browser.compare import comparable, verdict  # noqa: E402
from glm_lessons.browser.site import RUNS_A_PROGRAM  # noqa: E402
from glm_offline.cassettes import PACKAGE_CASSETTES, load_file  # noqa: E402
from glm_offline.wire import event_chunk  # noqa: E402

LOCAL_SCHEMES = ("data", "blob", "about", "chrome", "devtools", "chrome-extension")
# The measured stream: a recorded answer at its recorded pacing, each piece printed as it comes.
STREAM_CELL = """\
import requests
from glm_lessons import shared_server

demo = shared_server()
body = {"model": "glm-4-flash-250414", "stream": True,
        "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}
with demo.configured(pacing="realistic"):
    with requests.post(demo.base_url + "/chat/completions", json=body, stream=True, timeout=30,
                       headers={"Authorization": f"Bearer {demo.api_key}"}) as response:
        for line in response.iter_lines():
            if line.startswith(b"data: {"):
                print(line.decode("utf-8").split('"content":"')[1].split('"')[0],
                      end="|", flush=True)
"""
STREAM_RECORDING = ("server-basics.json", "hello-en-stream")  # what STREAM_CELL asks for


def recorded_pieces():
    """How many chunk events ("data: {...}") the recording has: one printed piece each."""
    cassette, name = STREAM_RECORDING
    interaction = next(i for i in load_file(PACKAGE_CASSETTES / cassette)[1] if i.name == name)
    return sum(event_chunk(event) is not None for event in interaction.reply().events)

PANEL_JS = """
const app = window.jupyterapp;
const panel = app && app.shell && Array.from(app.shell.widgets('main'))
  .find(widget => widget.content && widget.content.model && widget.sessionContext);
if (panel) app.shell.activateById(panel.id);  // the notebook commands act on the active one
"""
NOTEBOOK_JS = r"""
(() => {
  %s
  const ctx = panel && panel.sessionContext;
  const kernel = ctx && ctx.session && ctx.session.kernel;
  if (!panel || !panel.content || !panel.content.model) return {ready: false};
  const cells = [];
  const model = panel.content.model;
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    cells.push({type: cell.type, count: cell.type === 'code' ? cell.executionCount : null,
                tags: cell.getMetadata('tags') || [],
                outputs: cell.type === 'code' ? cell.outputs.toJSON() : []});
  }
  return {ready: !!(ctx && ctx.isReady && kernel), kernel: kernel ? kernel.status : null,
          cells};
})()
""" % PANEL_JS


class Browser(DevTools):
    """One DevTools connection to the whole browser, sessions flattened, events kept."""

    def __init__(self, websocket, url):
        super().__init__(websocket, url, timeout=60)
        self.requests = []  # (target type, url) of every request any target made
        self.targets = {}  # session id -> target type

    def receive(self):
        message = super().receive()
        method = message.get("method")
        if method == "Target.attachedToTarget":
            session = message["params"]["sessionId"]
            self.targets[session] = message["params"]["targetInfo"]["type"]
            self.watch(session)
        elif method == "Page.javascriptDialogOpening":  # "leave with unsaved changes?": yes
            self.send("Page.handleJavaScriptDialog", message.get("sessionId"), accept=True)
        elif method == "Network.requestWillBeSent":
            target = self.targets.get(message.get("sessionId"), "?")
            self.requests.append((target, message["params"]["request"]["url"]))
        return message

    def watch(self, session):
        """Follow a target's requests and the targets it starts, then let it run."""
        self.send("Network.enable", session)
        self.send("Target.setAutoAttach", session, autoAttach=True,
                  waitForDebuggerOnStart=True, flatten=True)
        self.send("Runtime.runIfWaitingForDebugger", session)


def start_browser(chromium, workdir):
    """Chromium on a blank page, no application cache: (process, the browser's websocket)."""
    process, port = start_chromium(chromium, workdir, "about:blank",
                                   flags=["--disable-application-cache"])
    version = json.loads(http_get(f"http://127.0.0.1:{port}/json/version"))
    return process, version["webSocketDebuggerUrl"]


def open_page(browser, url, cache=False):
    """Attach to the blank page, watch it, and navigate it to `url` (the browser's cache
    off unless `cache`); its session id."""
    browser.call("Target.setDiscoverTargets", discover=True)
    browser.call("Target.setAutoAttach", autoAttach=True, waitForDebuggerOnStart=True,
                 flatten=True)
    page = next(t for t in browser.call("Target.getTargets")["targetInfos"]
                if t["type"] == "page")
    session = browser.call("Target.attachToTarget", targetId=page["targetId"],
                           flatten=True)["sessionId"]
    browser.targets[session] = "page"
    browser.call("Network.enable", session)
    browser.call("Network.setCacheDisabled", session, cacheDisabled=not cache)
    browser.call("Target.setAutoAttach", session, autoAttach=True,
                 waitForDebuggerOnStart=True, flatten=True)
    browser.call("Runtime.enable", session)
    browser.call("Page.enable", session)
    browser.call("Emulation.setDeviceMetricsOverride", session, width=1280, height=1400,
                 deviceScaleFactor=1, mobile=False)
    browser.call("Page.navigate", session, url=url)
    return session


def notebook_state(browser, session):
    return browser.evaluate(NOTEBOOK_JS, session) or {"ready": False}


def run_all(browser, session, timeout, started=None):
    """Open notebook: wait for its kernel, clear outputs, run every cell. The cells' state,
    and seconds since `started` (the navigation) until the kernel was ready, the first code
    cell had run, and every cell had.

    JupyterLab's "Run All" stops at a cell that raises, even one tagged raises-exception
    (a lesson's "This won't work:"); a learner then runs the cells below it, and so does this.
    """
    started = time.monotonic() if started is None else started
    wait_for(lambda: (s := notebook_state(browser, session))["ready"] and s["kernel"] == "idle",
             timeout, "the notebook to open with an idle kernel", interval=0.2)
    opened, first = time.monotonic() - started, None
    command = "notebook:clear-all-cell-outputs"
    browser.evaluate(f"window.jupyterapp.commands.execute('{command}')", session)
    command = "notebook:run-all-cells"
    while True:
        # not awaited: the command's promise ends only when every cell has run
        browser.evaluate(f"void window.jupyterapp.commands.execute('{command}')", session)
        if first is None:
            wait_for(lambda: next(c for c in notebook_state(browser, session)["cells"]
                                  if c["type"] == "code")["count"],
                     timeout, "the first code cell to run", interval=0.05)
            first = time.monotonic() - started
        state = settled(browser, session, started + timeout)
        code = [(n, c) for n, c in enumerate(state["cells"]) if c["type"] == "code"]
        waiting = next((n for n, c in code if not c["count"]), None)
        if waiting is None:
            return state, {"kernel ready": opened, "first cell run": first,
                           "every cell run": time.monotonic() - state["settled_for"] - started}
        before = [c for n, c in code if n < waiting]
        if not (before and "raises-exception" in before[-1]["tags"]
                and any(o["output_type"] == "error" for o in before[-1]["outputs"])):
            raise CheckFailed(f"the run stopped: {stuck(state)}")
        browser.evaluate(PANEL_JS + f"panel.content.activeCellIndex = {waiting};", session)
        command = "notebook:run-all-below"


def settled(browser, session, deadline):
    """The notebook's state once the kernel has been idle, and nothing changed, for 1 s."""
    previous = None
    while time.monotonic() < deadline:
        state = notebook_state(browser, session)
        counts = [c["count"] for c in state["cells"]]
        if state["kernel"] == "idle" and previous == counts:
            return {**state, "settled_for": 1.0}
        previous = counts if state["kernel"] == "idle" else None
        time.sleep(1)
    raise CheckFailed(f"timed out waiting for the cells to run: "
                      f"{stuck(notebook_state(browser, session))}")


def stuck(state):
    """Where a run stopped: the first code cell that has not run, and the error before it."""
    code = [(n, c) for n, c in enumerate(state.get("cells", [])) if c["type"] == "code"]
    waiting = next((n for n, c in code if not c["count"]), None)
    errors = [(n, o) for n, c in code for o in c["outputs"] if o["output_type"] == "error"]
    shown = "; ".join(f"cell {n}: {o['ename']}: {o['evalue'][:200]}" for n, o in errors[-2:])
    return f"kernel {state.get('kernel')}, cell {waiting} not run; errors: {shown or 'none'}"


def compare(notebook, cells):
    """One line per code cell whose outputs differ from the stored ones."""
    stored = nbformat.read(notebook, as_version=4).cells
    marker = RUNS_A_PROGRAM.get(notebook.name[:2])
    differences = []
    for number, (old, new) in enumerate(zip(stored, cells)):
        if old.cell_type != "code" or "NBVAL_IGNORE_OUTPUT" in old.source:
            continue
        if marker and marker in old.source:
            continue
        found = verdict(old.outputs, new["outputs"])
        if found == "explained":  # a pool run one call at a time, and the cell says so
            print(f"[edition-check] {notebook.parent.name}/{notebook.name} cell {number}: "
                  f"differs as its no-threads line explains: {comparable(new['outputs'])!r:.300}",
                  flush=True)
        elif found == "different":
            differences.append(f"cell {number} ({old.source.splitlines()[0][:60]!r}): "
                               f"stored {comparable(old.outputs)!r:.300} != "
                               f"browser {comparable(new['outputs'])!r:.300}")
    if len(stored) != len(cells):
        differences.append(f"{len(cells)} cells in the page, {len(stored)} stored")
    return differences


STREAM_JS = r"""
(async () => {
  %s
  const model = panel.content.model;
  model.sharedModel.insertCell(model.cells.length, {cell_type: 'code', source: %s});
  panel.content.activeCellIndex = model.cells.length - 1;
  const kernel = panel.sessionContext.session.kernel;
  const arrivals = [];
  const listen = (_, message) => {
    if (message.header.msg_type === 'stream' && message.content.name === 'stdout') {
      arrivals.push([performance.now(), message.content.text]);
    }
  };
  kernel.iopubMessage.connect(listen);
  const started = performance.now();
  await app.commands.execute('notebook:run-cell');
  const deadline = performance.now() + 60000;
  while (performance.now() < deadline) {
    const cell = model.cells.get(model.cells.length - 1);
    if (cell.executionCount && kernel.status === 'idle') break;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  kernel.iopubMessage.disconnect(listen);
  panel.content.activeCell.node.scrollIntoView();
  return arrivals.map(([at, text]) => [at - started, text]);
})()
""".replace("%s", PANEL_JS, 1)


def measure_stream(browser, session):
    """[(ms after the cell started, text)] of each stdout piece the page received."""
    return browser.evaluate(STREAM_JS % json.dumps(STREAM_CELL), session)


def check_lesson(chromium, websocket, site_url, notebook, against, workdir, timeout,
                 screenshot=None):
    chrome = browser = None
    try:
        chrome, ws_url = start_browser(chromium, workdir)
        browser = Browser(websocket, ws_url)
        relative = f"notebooks/{notebook.parent.name}/{notebook.name}"
        began = time.monotonic()
        session = open_page(browser, f"{site_url}/lab/index.html?path={relative}")
        state, timings = run_all(browser, session, timeout, began)
        print(f"[edition-check] {relative}: " + ", ".join(
            f"{what} {seconds:.1f} s" for what, seconds in timings.items())
            + " after opening", flush=True)
        failures = [f"{relative} {line}" for line in compare(against or notebook,
                                                             state["cells"])]
        measured = None
        if screenshot is not None:
            measured = measure_stream(browser, session)
            time.sleep(0.3)
            png = browser.call("Page.captureScreenshot", session, format="png")["data"]
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(png))
            print(f"[edition-check] screenshot of the streamed answer: {screenshot}", flush=True)
        return failures, browser.requests, measured
    finally:
        if browser is not None:
            browser.close()
        stop(chrome, "Chromium")


def stream_failures(measured):
    """A streamed answer must arrive in pieces spread over time."""
    if not measured:
        return ["the streamed answer printed nothing"]
    pieces = "".join(text for _, text in measured).count("|")
    times = [at for at, _ in measured]
    print(f"[edition-check] stream: {pieces} pieces in {len(measured)} page messages, at "
          + ", ".join(f"{at:.0f}" for at in times) + " ms", flush=True)
    failures = []
    if pieces != recorded_pieces():
        failures.append(f"the stream printed {pieces} pieces, not {recorded_pieces()}")
    if len(measured) < 3 or times[-1] - times[0] < 200:
        failures.append("the streamed pieces reached the page all at once "
                        f"({len(measured)} messages within {times[-1] - times[0]:.0f} ms)")
    return failures


def foreign(requests, origin):
    """Requests to anything but the edition's own origin (data:, blob: and the like aside)."""
    return sorted({f"{target}: {url}" for target, url in requests
                   if urlsplit(url).scheme not in LOCAL_SCHEMES
                   and f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" != origin})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, required=True, help="the built edition's folder")
    parser.add_argument("--lesson", action="append", required=True,
                        help="a lesson, as LANG/NN-name.ipynb (repeatable)")
    parser.add_argument("--against", type=Path,
                        help="compare with the notebooks in this folder (LANG/NN-name.ipynb)")
    parser.add_argument("--screenshot", type=Path, default=Path("/tmp/edition-stream.png"))
    parser.add_argument("--timeout", type=float, default=240, help="seconds per lesson")
    args = parser.parse_args(argv)
    websocket = import_websocket()
    try:
        chromium = find_chromium()
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory(prefix="edition-check-") as temp:
            server = subprocess.Popen(
                [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                 str(args.site), str(port)], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                wait_for(lambda: http_get(origin + "/index.html"), 20, "the site to be served")
                failures, requests, measured = [], [], None
                for number, lesson in enumerate(args.lesson):
                    notebook = ROOT / "notebooks" / lesson
                    ensure_cjk_font(notebook)  # else the screenshot shows boxes
                    against = args.against / lesson if args.against else None
                    workdir = Path(temp) / str(number)
                    workdir.mkdir()
                    last = number == len(args.lesson) - 1
                    found, seen, stream = check_lesson(
                        chromium, websocket, origin, notebook, against, workdir, args.timeout,
                        args.screenshot.resolve() if last else None)
                    failures += found
                    requests += seen
                    measured = stream if last else measured
            finally:
                stop(server, "http.server")
        failures += stream_failures(measured)
        outside = foreign(requests, origin)
        kinds = sorted({target for target, _ in requests})
        print(f"[edition-check] {len(requests)} requests from {', '.join(kinds)}; "
              f"{len(outside)} to another host", flush=True)
        failures += [f"a request left the edition's host: {line}" for line in outside]
        if failures:
            raise CheckFailed("\n  - ".join(["the browser edition failed:", *failures]))
    except CheckFailed as error:
        print(f"[edition-check] FAILED: {error}", flush=True)
        return 1
    print("[edition-check] PASSED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

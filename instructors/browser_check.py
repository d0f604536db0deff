"""Run a lesson the way a learner does: JupyterLab in a real (headless) Chromium, no key set.

    python instructors/browser_check.py                                  # lesson 01, English
    python instructors/browser_check.py --notebook notebooks/zh/01-keys-and-tokens.ipynb
    python instructors/browser_check.py --screenshot /tmp/zh-01.png --timeout 300

What it does: copies the notebook (outputs cleared) into a temporary folder; starts
JupyterLab from this Python environment on 127.0.0.1 and a free port, with a fresh token
and without ZHIPUAI_API_KEY / ZHIPUAI_BASE_URL; opens the notebook in headless Chromium;
runs "Run All Cells"; waits for the kernel to go idle; then reads the page. It fails if a
cell shows an error or stderr output, a code cell did not run, or the offline-mode line is
missing. It always saves a screenshot and always stops JupyterLab and Chromium.

Where a lesson prints a model's reasoning apart from its answer (lesson 03 must), it also
measures the two in the screenshot's pixels: the first output that holds coloured text and
plain text is scrolled into view, the screen boxes of both are read from the page, and the
darkest glyph pixels of each are compared with the background. It prints the colours and fails
unless the reasoning is visibly lighter than the answer and still readable (reasoning_contrast.py).

Needs Debian's `chromium` (installed with apt-get when run as root and it is missing) and
the packages in requirements-browser.txt (`pip install -r requirements-browser.txt`).
No browser build is downloaded: Chromium is driven over the DevTools Protocol.
"""

import argparse
import base64
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat

from reasoning_contrast import measure_reasoning

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NOTEBOOK = ROOT / "notebooks" / "en" / "01-keys-and-tokens.ipynb"
# The start of the mode line in offline mode (the reason after it, glm_lessons.lesson.LINES, may
# vary: no key set, or GLM_OFFLINE=1).
OFFLINE_LINES = ("Mode: offline", "模式：离线")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--window-size=1280,1600", "--force-device-scale-factor=1",
]
# JupyterLab settings for the run: every cell stays in the page (so the page can be read),
# and no news/update toast asks a question over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


# Lessons whose page must show reasoning apart from an answer (glm_client.Printer's grey).
REASONING_LESSONS = {"03-streaming.ipynb"}


class CheckFailed(Exception):
    pass


def log(message):
    print(f"[browser-check] {message}", flush=True)


def apt_install(packages, why):
    """Install Debian packages when we may (root with apt-get); say what we do."""
    if not (os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get")):
        return False
    log(f"{why}; installing Debian package(s): apt-get update && "
        f"apt-get install -y {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", *packages], check=True, env=env)
    return True


def find_chromium():
    def which():
        return shutil.which("chromium") or shutil.which("chromium-browser")
    if not which():
        apt_install(["chromium"], "chromium is missing")
    if not which():
        raise CheckFailed("Chromium not found. Install it (Debian/Ubuntu: "
                          "sudo apt-get install -y chromium) and run again.")
    return which()


def ensure_cjk_font(notebook):
    """Chinese lessons render as empty boxes in the screenshot without a CJK font."""
    text = notebook.read_text(encoding="utf-8")
    if not any("\u4e00" <= ch <= "\u9fff" for ch in text) or not shutil.which("fc-list"):
        return
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    if fonts.strip():
        return
    if not apt_install(["fonts-wqy-microhei"], "no Chinese font for the screenshot"):
        log("warning: no Chinese font installed; the screenshot will show boxes "
            "(sudo apt-get install -y fonts-wqy-microhei)")


def import_websocket():
    try:
        import websocket  # websocket-client
    except ImportError:
        raise CheckFailed("missing Python package websocket-client; install it with: "
                          f"{sys.executable} -m pip install -r "
                          f"{ROOT / 'requirements-browser.txt'}") from None
    return websocket


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def http_get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except OSError:
        return None


def stop(process, name):
    """Stop a process we started, and its children (it leads its own process group)."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop on SIGTERM; killing it")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


class DevTools:
    """The smallest Chrome DevTools Protocol client: a page's connection, or the browser's,
    whose calls may name a session (flattened); browser_edition_check.Browser adds events."""

    def __init__(self, websocket, url, timeout=30):
        self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self.ids = itertools.count(1)

    def send(self, method, session=None, **params):
        message_id = next(self.ids)
        message = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        return message_id

    def call(self, method, session=None, **params):
        message_id = self.send(method, session, **params)
        while True:
            reply = self.receive()
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise CheckFailed(f"DevTools {method} failed: {reply['error']}")
                return reply.get("result", {})

    def receive(self):
        return json.loads(self.ws.recv())

    def evaluate(self, expression, session=None):
        result = self.call("Runtime.evaluate", session, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CheckFailed(f"page script failed: {text}")
        return result["result"].get("value")

    def close(self):
        self.ws.close()


# State of the open notebook, read from the page (the DOM) plus the kernel's status.
PAGE_STATE_JS = r"""
(() => {
  const app = window.jupyterapp;
  const panel = app && app.shell && app.shell.currentWidget;
  const ctx = panel && panel.sessionContext;
  const kernel = ctx && ctx.session && ctx.session.kernel;
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell'));
  return {
    app: !!app,
    ready: !!(ctx && ctx.isReady && kernel),
    kernel: kernel ? kernel.status : null,
    cells: cells.map((cell, index) => {
      const prompt = cell.querySelector('.jp-InputArea-prompt');
      const stderr = cell.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
      return {
        index,
        prompt: prompt ? prompt.textContent.trim() : '',
        stderr: Array.from(stderr).map(node => node.textContent),
        firstLine: Array.from(cell.querySelectorAll('.jp-InputArea-editor .cm-line'))
          .map(line => line.textContent).find(text => text.trim()) || '',
      };
    }),
    outputText: Array.from(document.querySelectorAll('.jp-Notebook .jp-OutputArea-output'))
      .map(node => node.textContent).join('\n'),
  };
})()
"""


def prepare_notebook(source, folder):
    """A copy of the lesson with no outputs, so everything the check sees comes from this run."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    target = folder / source.name
    nbformat.write(nb, target)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    raising = {i for i, cell in enumerate(code)
               if "raises-exception" in cell.metadata.get("tags", [])}
    return target, len(code), raising


def start_lab(workdir, port, token):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ZHIPUAI_API_KEY", "ZHIPUAI_BASE_URL")}
    settings = workdir / "lab-settings"
    for relative, values in LAB_SETTINGS.items():
        path = settings / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(workdir / "lab-workspaces"),
        JUPYTER_CONFIG_DIR=str(workdir / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(workdir / "jupyter-runtime"),
    )
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--expose-app-in-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={workdir / 'lesson'}", "--LabApp.news_url=",
               "--ServerApp.open_browser=False"]
    if os.name == "posix" and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI runners often run as root
    log_file = open(workdir / "jupyterlab.log", "wb")
    process = subprocess.Popen(command, cwd=workdir / "lesson", env=env, stdout=log_file,
                               stderr=subprocess.STDOUT, start_new_session=True)
    return process


def start_chromium(chromium, workdir, url, flags=()):
    """Chromium on `url` with its own profile in `workdir`: (process, DevTools port)."""
    profile = workdir / "chromium-profile"
    profile.mkdir()
    with open(workdir / "chromium.log", "wb") as log_file:  # the child keeps its own copy
        process = subprocess.Popen([chromium, *CHROMIUM_FLAGS, *flags,
                                    f"--user-data-dir={profile}", url],
                                   stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    active_port = profile / "DevToolsActivePort"

    def port_ready():
        if process.poll() is not None:
            raise CheckFailed(f"Chromium exited with code {process.returncode}; "
                              f"see {workdir / 'chromium.log'}")
        return active_port.exists() and active_port.read_text().split("\n")[0].strip()

    devtools_port = wait_for(port_ready, 30, "Chromium's DevTools port")
    return process, int(devtools_port)


def page_websocket(devtools_port):
    def find():
        raw = http_get(f"http://127.0.0.1:{devtools_port}/json/list")
        pages = [t for t in json.loads(raw or "[]") if t.get("type") == "page"]
        return pages and pages[0]["webSocketDebuggerUrl"]
    return wait_for(find, 30, "the Chromium page")


def run_check(notebook, screenshot, timeout, chromium, websocket, workdir):
    started = time.monotonic()
    remaining = lambda: max(5.0, timeout - (time.monotonic() - started))  # noqa: E731
    (workdir / "lesson").mkdir()
    # Cells tagged raises-exception fail on purpose ("This won't work:"); JupyterLab goes on.
    copy, code_cells, raising = prepare_notebook(notebook, workdir / "lesson")
    port, token = free_port(), secrets.token_hex(16)
    lab = chrome = devtools = None
    try:
        log(f"starting JupyterLab on 127.0.0.1:{port} (no ZHIPUAI_* variables)")
        lab = start_lab(workdir, port, token)

        def lab_up():
            if lab.poll() is not None:
                raise CheckFailed(f"JupyterLab exited with code {lab.returncode}:\n"
                                  + (workdir / "jupyterlab.log").read_text(errors="replace"))
            return http_get(f"http://127.0.0.1:{port}/api/status?token={token}")
        wait_for(lab_up, remaining(), "JupyterLab to answer")

        url = f"http://127.0.0.1:{port}/lab/tree/{copy.name}?reset&token={token}"
        log(f"opening {copy.name} in headless Chromium")
        chrome, devtools_port = start_chromium(chromium, workdir, url)
        devtools = DevTools(websocket, page_websocket(devtools_port))
        devtools.call("Runtime.enable")

        state = lambda: devtools.evaluate(PAGE_STATE_JS)  # noqa: E731
        wait_for(lambda: (s := state())["ready"] and s["kernel"] == "idle"
                 and len(s["cells"]) == code_cells,
                 remaining(), "the notebook to open with an idle kernel", interval=0.5)

        log(f"running all cells ({code_cells} code cells)")
        devtools.evaluate("window.jupyterapp.commands.execute('runmenu:run-all')")

        def finished():
            s = state()
            prompts = [c["prompt"] for c in s["cells"]]
            if s["kernel"] == "idle" and prompts and "[*]:" not in prompts \
                    and any(p not in ("[ ]:", "") for p in prompts):
                return s
            return None
        # Idle twice in a row, half a second apart: a kernel between two cells is idle too.
        wait_for(lambda: finished() and (time.sleep(0.5) or finished()), remaining(),
                 "all cells to finish", interval=0.5)
        final = state()

        devtools.evaluate("(document.querySelector('.jp-Notebook .jp-CodeCell') || "
                          "document.body).scrollIntoView()")
        time.sleep(0.3)
        png, colour_failures = measure_reasoning(devtools, log)  # the reasoning, if any, in view
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(png))
        log(f"screenshot saved: {screenshot}")

        failures, not_run = [], []
        total = len(final["cells"])
        for cell in final["cells"]:
            where = (f"code cell {cell['index'] + 1} of {total} "
                     f"({cell['firstLine'].strip()[:60]!r})")
            if not cell["prompt"][1:-2].strip().isdigit():
                not_run.append(f"{where} did not run (prompt {cell['prompt']!r})")
            for text in [] if cell["index"] in raising else cell["stderr"]:
                failures.append(f"{where} shows an error or stderr output:\n"
                                + "\n".join("      " + line for line in text.splitlines()[-8:]))
        if failures and not_run:  # "Run All" stops at the first error: say so once
            failures.append(f"{len(not_run)} later code cell(s) did not run")
        else:
            failures += not_run
        if not any(line in final["outputText"] for line in OFFLINE_LINES):
            failures.append("the offline-mode line is missing from the outputs")
        if colour_failures is None and notebook.name in REASONING_LESSONS:
            colour_failures = ["no output shows the reasoning (coloured) apart from the answer"]
        failures += colour_failures or []
        if failures:
            raise CheckFailed("\n  - ".join(["the notebook did not run or show cleanly:",
                                              *failures]))
        return len(final["cells"])
    finally:
        if devtools is not None:
            devtools.close()
        stop(chrome, "Chromium")
        stop(lab, "JupyterLab")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebook", type=Path, default=DEFAULT_NOTEBOOK,
                        help="lesson notebook to run (default: %(default)s)")
    parser.add_argument("--screenshot", type=Path, default=Path("/tmp/browser-check.png"),
                        help="where to save the PNG screenshot (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=180,
                        help="seconds for the whole check (default: %(default)s)")
    parser.add_argument("--keep-temp", action="store_true",
                        help="keep the temporary folder (logs, profile) for debugging")
    args = parser.parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="browser-check-"))
    try:
        notebook = args.notebook.resolve()
        if not notebook.is_file():
            raise CheckFailed(f"no such notebook: {args.notebook}")
        websocket = import_websocket()
        chromium = find_chromium()
        ensure_cjk_font(notebook)
        cells = run_check(notebook, args.screenshot.resolve(), args.timeout, chromium,
                          websocket, workdir)
    except CheckFailed as exc:
        log(f"FAILED after {time.monotonic() - started:.1f}s: {exc}")
        if args.keep_temp:
            log(f"logs kept in {workdir}")
        return 1
    finally:
        if not args.keep_temp:
            shutil.rmtree(workdir, ignore_errors=True)
    log(f"PASSED: {notebook.relative_to(ROOT) if notebook.is_relative_to(ROOT) else notebook}"
        f", {cells} code cells ran without errors in offline mode "
        f"({time.monotonic() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

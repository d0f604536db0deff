"""Figures for the browser edition: its size, and how long a learner waits in headless
Chromium on this machine, from opening a lesson's page to the first executed cell and to the
whole lesson run, cold (a fresh browser profile: nothing cached) and warm (the same page
opened again: the browser's cache and the edition's service worker filled).

    python -m glm_lessons.browser build --dest /tmp/edition
    python contributors/bench_browser_edition.py --site /tmp/edition --runs 3 \
        [--lesson en/02-chat-completions.ipynb]

Each run starts its own Chromium; the site is served by `python -m http.server` on
127.0.0.1. The whole-lesson time is read by polling, to about a second.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The browser tools this measures are the instructors' (instructors/, next to this folder).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "instructors"))

from browser_check import (  # noqa: E402
    CheckFailed,
    find_chromium,
    free_port,
    http_get,
    import_websocket,
    stop,
    wait_for,
)
from browser_edition_check import Browser, open_page, run_all, start_browser  # noqa: E402

KINDS = ("kernel ready", "first cell run", "every cell run")


def site_size(folder):
    files = [p for p in Path(folder).rglob("*") if p.is_file()]
    pyodide = [p for p in files if "static/pyodide" in p.as_posix()]
    return (sum(p.stat().st_size for p in files), len(files),
            sum(p.stat().st_size for p in pyodide))


def one_run(chromium, websocket, url, workdir, timeout):
    """{cold: timings, warm: timings} in one fresh browser."""
    process, ws_url = start_browser(chromium, workdir)
    browser = None
    try:
        browser = Browser(websocket, ws_url)
        began = time.monotonic()
        session = open_page(browser, url, cache=True)
        _, cold = run_all(browser, session, timeout, began)
        browser.call("Page.navigate", session, url="about:blank")
        time.sleep(1)
        began = time.monotonic()
        browser.call("Page.navigate", session, url=url)
        _, warm = run_all(browser, session, timeout, began)
        return {"cold": cold, "warm": warm}
    finally:
        if browser is not None:
            browser.close()
        stop(process, "Chromium")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, required=True)
    parser.add_argument("--lesson", default="en/02-chat-completions.ipynb")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=240)
    args = parser.parse_args(argv)
    size, count, pyodide = site_size(args.site)
    print(f"edition: {size / 2**20:.1f} MB in {count} files "
          f"(Pyodide and the wheels: {pyodide / 2**20:.1f} MB)")
    websocket, chromium, port = import_websocket(), find_chromium(), free_port()
    origin = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                               "--directory", str(args.site), str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    results = []
    try:
        wait_for(lambda: http_get(origin + "/index.html"), 20, "the site to be served")
        url = f"{origin}/lab/index.html?path=notebooks/{args.lesson}"
        for number in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="edition-bench-") as work:
                results.append(one_run(chromium, websocket, url, Path(work), args.timeout))
            print(f"run {number + 1}: " + "; ".join(
                f"{state} " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
                for state, timings in results[-1].items()), flush=True)
    except CheckFailed as error:
        print(f"failed: {error}")
        return 1
    finally:
        stop(server, "http.server")
    print(f"{args.lesson}, median of {len(results)} runs (seconds after opening the page):")
    for state in ("cold", "warm"):
        print(f"  {state}: " + ", ".join(
            f"{kind} {statistics.median(r[state][kind] for r in results):.1f}"
            for kind in KINDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())

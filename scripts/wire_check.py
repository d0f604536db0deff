"""The "See the wire" page in a real (headless) Chromium, as an instructor opens it.

    python scripts/wire_check.py                          # English page, docs/wire-page.png
    python scripts/wire_check.py --lang zh --screenshot /tmp/wire-zh.png

What it does: starts the recorded server (realistic pacing) on 127.0.0.1; opens the wire
page's URL with its token in headless Chromium; waits until the page's EventSource is
connected; sends a non-streamed request with the raw key and a streamed thinking-model
request with a JWT (the lesson-09 recording); waits until the page shows every event the
client received, and the end of the exchange; checks that the page never shows the key's
secret or the JWT's signature; saves a screenshot. It always stops Chromium and the server.

Needs what scripts/browser_check.py needs (Debian's `chromium`, websocket-client from
requirements-browser.txt); no JupyterLab.
"""

import argparse
import base64
import io
import sys
import tempfile
import time
from pathlib import Path

import jwt
import requests

import glm_offline
from browser_check import (
    ROOT,
    CheckFailed,
    DevTools,
    find_chromium,
    import_websocket,
    page_websocket,
    start_chromium,
    stop,
    wait_for,
)
from glm_offline.auth import OFFLINE_API_KEY
from glm_offline.wire_page import LABELS, page_url

DEFAULT_SCREENSHOT = ROOT / "docs" / "wire-page.png"
QUESTIONS = {  # recorded in glm_offline/cassettes/server-basics.json and lesson-09.json
    "en": ({"model": "glm-4-flash-250414",
            "messages": [{"role": "user", "content": "Say hello in one short sentence."}]},
           {"model": "glm-4.7-flash", "stream": True, "messages": [{
               "role": "user",
               "content": "In one sentence, why stream a thinking model's answer?"}]}),
    "zh": ({"model": "glm-4-flash-250414",
            "messages": [{"role": "user", "content": "用一句话打个招呼。"}]},
           {"model": "glm-4.7-flash", "stream": True, "messages": [
               {"role": "user", "content": "用一句话说说：为什么要流式输出思考模型的回答？"}]}),
}
# What the page shows, read from its DOM.
PAGE_STATE_JS = r"""
(() => document.getElementById("state") && ({
  state: document.getElementById("state").className,
  cards: Array.from(document.querySelectorAll(".exchange")).map(card => ({
    head: card.querySelector(".head").textContent,
    events: card.querySelectorAll(".events > div").length,
    dimmed: card.querySelectorAll(".events > div.reasoning").length,
  })),
  text: document.body.innerText,
}))()
"""

# Scroll the stream's event list to where reasoning turns into content; resolve once two
# frames are painted, so the screenshot shows the scrolled list.
HAND_OVER_JS = r"""
(() => {
  const box = document.querySelector(".events");
  const answer = box.querySelector("div:not(.reasoning)");
  box.scrollTop += answer.getBoundingClientRect().top - box.getBoundingClientRect().top
                   - box.clientHeight / 2;
  return new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
})()
"""


def log(message):
    print(f"[wire-check] {message}", flush=True)


def glm_jwt(api_key, ttl_ms=3_600_000):
    key_id, secret = api_key.split(".")
    now_ms = int(time.time() * 1000)
    return jwt.encode({"api_key": key_id, "exp": now_ms + ttl_ms, "timestamp": now_ms},
                      secret, algorithm="HS256", headers={"alg": "HS256", "sign_type": "SIGN"})


def save_png(data, path):
    """Save a screenshot; with Pillow (matplotlib brings it), as a 64-colour palette PNG, a
    third of the size and no visible change for text."""
    try:
        from PIL import Image
    except ImportError:
        return path.write_bytes(data)
    with Image.open(io.BytesIO(data)) as image:
        image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(
            path, optimize=True)


def run_check(lang, screenshot, timeout, chromium, websocket, workdir):
    chrome = devtools = None
    with glm_offline.start(pacing="realistic", strict=True) as server:
        try:
            url = page_url(server) + f"&lang={lang}"
            chrome, devtools_port = start_chromium(chromium, workdir, url)
            devtools = DevTools(websocket, page_websocket(devtools_port))
            devtools.call("Emulation.setDeviceMetricsOverride", width=1280, height=960,
                          deviceScaleFactor=1, mobile=False)

            def state():
                return devtools.evaluate(PAGE_STATE_JS)
            wait_for(lambda: (state() or {}).get("state") == "on", timeout,
                     "the page's EventSource")
            log(f"page connected: {url.split('?')[0]}")

            plain, streamed = QUESTIONS[lang]
            answer = requests.post(server.base_url + "/chat/completions", json=plain, timeout=10,
                                   headers={"Authorization": f"Bearer {OFFLINE_API_KEY}"})
            token = glm_jwt(OFFLINE_API_KEY)
            stream = requests.post(server.base_url + "/chat/completions", json=streamed,
                                   timeout=10, headers={"Authorization": f"Bearer {token}"})
            if (answer.status_code, stream.status_code) != (200, 200):
                raise CheckFailed(f"requests answered {answer.status_code}, {stream.status_code}")
            events = [b for b in stream.content.decode("utf-8").split("\n\n") if b]
            log(f"sent a request and a stream of {len(events)} events")

            def shown():
                cards = state()["cards"]
                return len(cards) == 2 and cards[0]["events"] == len(events) and \
                    LABELS[lang]["ms"] + ", " in cards[0]["head"] and cards
            cards = wait_for(shown, timeout, f"the page to show all {len(events)} events")
            if not cards[0]["dimmed"]:
                raise CheckFailed("the thinking model's reasoning events are not dimmed")
            text = state()["text"]
            secret = OFFLINE_API_KEY.split(".")[1]
            if secret in text or token.split(".")[2] in text:
                raise CheckFailed("the page shows the key's secret or the JWT's signature")
            log(f"page shows {cards[0]['events']} events ({cards[0]['dimmed']} reasoning, dimmed)"
                " and no secret")
            # show where the reasoning (dimmed) hands over to the answer, once painted
            devtools.evaluate(HAND_OVER_JS)
            png = devtools.call("Page.captureScreenshot", format="png")["data"]
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            save_png(base64.b64decode(png), screenshot)
            log(f"screenshot saved: {screenshot}")
        finally:
            if devtools is not None:
                devtools.close()
            stop(chrome, "Chromium")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=("en", "zh"), default="en", help="the page's labels")
    parser.add_argument("--screenshot", type=Path, default=DEFAULT_SCREENSHOT,
                        help="where to save the PNG (default: docs/wire-page.png)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds for each wait")
    args = parser.parse_args(argv)
    try:
        websocket = import_websocket()
        chromium = find_chromium()
        with tempfile.TemporaryDirectory(prefix="wire-check-") as workdir:
            run_check(args.lang, args.screenshot.resolve(), args.timeout, chromium, websocket,
                      Path(workdir))
    except CheckFailed as exc:
        log(f"FAILED: {exc}")
        return 1
    log("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

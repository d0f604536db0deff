"""The "See the wire" page in a real (headless) Chromium, as an instructor opens it.

    python instructors/wire_check.py                          # English page, docs/wire-page.png
    python instructors/wire_check.py --lang zh --screenshot /tmp/wire-zh.png
    python instructors/wire_check.py --hostile --screenshot /tmp/wire-hostile.png

What it does: starts the recorded server (realistic pacing) on 127.0.0.1; opens the wire
page's URL with its token in headless Chromium; waits until the page's EventSource is
connected; sends a non-streamed request with the raw key and a streamed thinking-model
request with a JWT (the lesson-09 recording); waits until the page shows every event the
client received, and the end of the exchange; checks that the page never shows the key's
secret or the JWT's signature; saves a screenshot. It always stops Chromium and the server.

--hostile sends, instead, what an attendee could send to spoil the projected page: tokens
whose claims hold 1,200 combining marks, a right-to-left override, a lone surrogate and a
NaN exp, and a prompt with a real-shaped key and someone else's JWT pasted in; then a plain
request. It checks that the page shows every one of them (one bad frame stops none after it),
is no wider than the window (also with a 13,347 px unbreakable run put straight into it, past
the server's own cut), shows no override and no secret.

Needs what instructors/browser_check.py needs (Debian's `chromium`, websocket-client from
requirements-browser.txt); no JupyterLab.
"""

import argparse
import base64
import hashlib
import hmac
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


def segment(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hand_made_jwt(payload_json, secret):
    """A JWT with exactly this payload text (PyJWT would refuse NaN or a lone surrogate)."""
    signing_input = segment(b'{"alg":"HS256","sign_type":"SIGN"}') + "." + segment(
        payload_json.encode("utf-8"))
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + segment(signature)


# What the hostile check measures: the page's width against the window's, and its text.
WIDTH_JS = r"""
(() => ({scroll: document.documentElement.scrollWidth, window: window.innerWidth,
         cards: document.querySelectorAll(".exchange").length,
         text: document.body.innerText}))()
"""
# Something 13,347 px wide that cannot be broken, put straight into a card: what one run of
# 1,200 combining marks measured where the fonts give each mark an advance (the server cuts
# such runs; this checks the page holds even without that).
WIDE_JS = r"""
(() => {
  const pre = document.createElement("pre"), wide = document.createElement("span");
  wide.style.cssText = "display: inline-block; width: 13347px; height: 1em; background: #555";
  pre.append("unbreakable: ", wide);
  document.querySelector(".exchange").append(pre);
  return new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
})()
"""


def send_hostile(server):
    """The hostile requests, then a plain one; returns the secrets the page must not show."""
    key_id, secret = OFFLINE_API_KEY.split(".")
    exp_ms = int(time.time() * 1000) + 3_600_000
    url = server.base_url + "/chat/completions"
    plain = QUESTIONS["en"][0]
    for claims in ('{"api_key":"a' + "\u0301" * 1200 + '","exp":1}',  # UTF-8: 2,401 bytes
                   '{"api_key":"\\u202eyek-enilffo-mlg","exp":1}',
                   '{"api_key":"\\ud800","exp":1}',
                   f'{{"api_key":"{key_id}","exp":NaN,"timestamp":0}}'):
        r = requests.post(url, json=plain, timeout=10, headers={
            "Authorization": "Bearer " + hand_made_jwt(claims, secret)})
        if r.status_code != 401:
            raise CheckFailed(f"a token with claims {claims[:40]}... answered {r.status_code}")
    real_shaped = "5e" * 16 + "." + "Qx7" * 5 + "Z"  # made here, never written out whole
    pasted = hand_made_jwt(f'{{"api_key":"someone","exp":{exp_ms}}}', "someone-elses-secret")
    leak = {**plain, "messages": [{"role": "user",
                                   "content": f"Keys: {real_shaped} and {pasted}"}]}
    for body, expected in ((leak, 400), (plain, 200)):  # strict: the leak is not recorded
        r = requests.post(url, json=body, timeout=10,
                          headers={"Authorization": f"Bearer {OFFLINE_API_KEY}"})
        if r.status_code != expected:
            raise CheckFailed(f"a request answered {r.status_code}, not {expected}")
    return [real_shaped, real_shaped.split(".")[1], pasted.split(".")[2], secret]


def check_hostile(devtools, server, timeout, screenshot):
    secrets = send_hostile(server)
    page = wait_for(lambda: (lambda p: p["cards"] == 6 and p)(devtools.evaluate(WIDTH_JS)),
                    timeout, "the page to show all 6 requests")
    log(f"page shows all {page['cards']} requests, the plain one after the hostile ones")
    if "\u202e" in page["text"] or "[U+202E]" not in page["text"]:
        raise CheckFailed("the right-to-left override is not neutralised on the page")
    if any(secret in page["text"] for secret in secrets):
        raise CheckFailed("the page shows a pasted key or signature")
    log("no override, no secret on the page")
    devtools.evaluate("window.scrollTo(0, document.body.scrollHeight - innerHeight * 1.5)")
    take_screenshot(devtools, screenshot)
    devtools.evaluate(WIDE_JS)
    for shown in (page, devtools.evaluate(WIDTH_JS)):
        if shown["scroll"] > shown["window"]:
            raise CheckFailed(f"the page is {shown['scroll']} px wide in a "
                              f"{shown['window']} px window")
    log(f"page width {shown['scroll']} px in a {shown['window']} px window, also with a "
        "13,347 px unbreakable run in it")


def take_screenshot(devtools, path):
    png = devtools.call("Page.captureScreenshot", format="png")["data"]
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(base64.b64decode(png), path)
    log(f"screenshot saved: {path}")


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


def run_check(lang, screenshot, timeout, chromium, websocket, workdir, hostile=False):
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
            if hostile:
                return check_hostile(devtools, server, timeout, screenshot)

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
            take_screenshot(devtools, screenshot)
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
    parser.add_argument("--hostile", action="store_true",
                        help="send what an attendee could to spoil the page, and check it holds "
                        "(give --screenshot: the default is the docs' picture)")
    args = parser.parse_args(argv)
    try:
        websocket = import_websocket()
        chromium = find_chromium()
        with tempfile.TemporaryDirectory(prefix="wire-check-") as workdir:
            run_check(args.lang, args.screenshot.resolve(), args.timeout, chromium, websocket,
                      Path(workdir), args.hostile)
    except CheckFailed as exc:
        log(f"FAILED: {exc}")
        return 1
    log("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The "See the wire" page against an attendee who means harm: one request can never cut or
stall the page, make it lie (reversed text, a page widened off the projector) or leak a key
pasted into a prompt; pages that never read cannot lock the instructor out."""

import base64
import hashlib
import hmac
import json
import socket
import time

import pytest
import requests

import glm_offline
from glm_offline import wire_frames, wire_page
from glm_offline.auth import OFFLINE_API_KEY
from glm_offline.wire_page import EVENTS_PATH

KEY_ID, SECRET = OFFLINE_API_KEY.split(".")
HELLO = {"model": "glm-4-flash-250414",
         "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}


def segment(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_token(payload_json, secret=SECRET):
    """A JWT with exactly this payload text, signed HS256 with `secret` (PyJWT would refuse
    to write NaN or a lone surrogate: this is what a hand-made token carries)."""
    signing_input = segment(b'{"alg":"HS256","sign_type":"SIGN"}') + "." + segment(
        payload_json.encode("utf-8"))
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + segment(signature)


def strict_json(text):
    """json.loads as a browser's JSON.parse reads it: no NaN, no Infinity."""
    def refuse(constant):
        raise ValueError(f"JSON.parse rejects {constant}")
    return json.loads(text, parse_constant=refuse)


class PageStream:
    """The page's event stream read as bytes, parsed the way EventSource and JSON.parse do."""

    def __init__(self, server):
        self.response = requests.get(
            f"http://127.0.0.1:{server.port}{EVENTS_PATH}",
            params={"token": server.control.value}, stream=True, timeout=5)
        assert self.response.status_code == 200, self.response.text
        self.raw = b""
        self._chunks = self.response.iter_content(None)

    def frames(self):
        found = []
        for block in self.raw.decode("utf-8").split("\n\n")[:-1]:  # strict: valid UTF-8
            fields = dict(line.split(": ", 1) for line in block.split("\n")
                          if ": " in line and not line.startswith(":"))
            if "event" in fields:
                found.append((fields["event"], strict_json(fields["data"])))
        return found

    def until(self, predicate, timeout=5):
        deadline = time.monotonic() + timeout
        while not predicate(self.frames()):
            assert time.monotonic() < deadline, f"not seen after {timeout} s: {self.frames()}"
            self.raw += next(self._chunks)
        return self.frames()

    def close(self):
        self.response.close()


def post(server, body, authorization):
    return requests.post(server.base_url + "/chat/completions", json=body, timeout=5,
                         headers={"Authorization": f"Bearer {authorization}"})


def requests_shown(frames, match):
    return [d for kind, d in frames if kind == "request" and match(d)]


def finished(match):
    """The page shows a request for which match(request) holds, and its end."""
    def predicate(frames):
        ids = {d["id"] for d in requests_shown(frames, match)}
        return any(kind == "done" and d["id"] in ids for kind, d in frames)
    return predicate


def with_prompt(words):
    return lambda request: words in request.get("body", "")


@pytest.fixture
def served():
    with glm_offline.start(pacing="instant") as server:
        yield server


# -- one bad exchange never cuts or stalls the page ------------------------------------------------

def test_a_lone_surrogate_in_a_tokens_claims_never_cuts_the_page(served, capfd):
    stream = PageStream(served)
    try:
        token = signed_token('{"api_key":"\\ud800","exp":1,"timestamp":0}')
        assert post(served, HELLO, token).status_code == 401
        assert post(served, {**HELLO, "messages": [{"role": "user", "content": "after"}]},
                    OFFLINE_API_KEY).status_code == 200
        frames = stream.until(finished(with_prompt("after")))
    finally:
        stream.close()
    claims = [d["credential"].get("claims") for d in requests_shown(frames, lambda d: True)]
    assert {"api_key": "\ufffd", "exp": 1, "timestamp": 0} in claims
    # a page opened now gets the whole log, the bad exchange included
    again = PageStream(served)
    try:
        frames = again.until(finished(with_prompt("after")))
    finally:
        again.close()
    assert len(requests_shown(frames, lambda d: True)) == 2
    assert "internal error" not in capfd.readouterr().err


@pytest.mark.parametrize("exp", ["NaN", "Infinity", "-Infinity", "1e999", '"soon"', "true",
                                 "null"])
def test_an_exp_that_is_not_a_finite_number_is_a_1002_and_shown(served, exp):
    stream = PageStream(served)
    try:
        token = signed_token(f'{{"api_key":"{KEY_ID}","exp":{exp},"timestamp":0}}')
        prompt = "exp " + exp.strip('"')  # no quote: the page shows the body as indented JSON
        r = post(served, {**HELLO, "messages": [{"role": "user", "content": prompt}]}, token)
        frames = stream.until(finished(with_prompt(prompt)))
    finally:
        stream.close()
    assert (r.status_code, r.json()["error"]["code"]) == (401, "1002")
    done = [d for kind, d in frames if kind == "done"][-1]
    assert done["status"] == 401


@pytest.mark.parametrize("timestamp", ["NaN", "Infinity", "1e999", '"now"', "[]"])
def test_a_timestamp_that_is_not_a_finite_number_is_a_1002(served, timestamp):
    exp_ms = int(time.time() * 1000) + 60_000
    token = signed_token(f'{{"api_key":"{KEY_ID}","exp":{exp_ms},"timestamp":{timestamp}}}')
    r = post(served, HELLO, token)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "1002")


# -- the page never leaks a secret shape -----------------------------------------------------------

def real_shaped_key():
    """32 hex, ".", 16 alphanumerics: made here, never written out in the repository."""
    return "5e" * 16 + "." + "Qx7" * 5 + "Z"


def test_a_real_shaped_key_and_a_jwt_pasted_into_a_prompt_are_hidden(served):
    key = real_shaped_key()
    exp_ms = int(time.time() * 1000) + 60_000
    pasted = signed_token(f'{{"api_key":"someone","exp":{exp_ms},"timestamp":0}}',
                          secret="not-the-offline-secret-but-someone-elses")
    own = signed_token(f'{{"api_key":"{KEY_ID}","exp":{exp_ms},"timestamp":0}}')
    stream = PageStream(served)
    try:
        body = {**HELLO, "messages": [{"role": "user", "content":
                                       f"leak: {key} and {pasted} and mine {own}, "
                                       f"its signature {own.split('.')[2]}"}]}
        assert post(served, body, own).status_code == 200
        frames = stream.until(finished(with_prompt("leak:")))
    finally:
        stream.close()
    text = stream.raw.decode("utf-8")
    for secret in (key, pasted.split(".")[2], own.split(".")[2], key.split(".")[1]):
        assert secret not in text
    shown = requests_shown(frames, with_prompt("leak:"))[0]["body"]
    assert "leak: ••• and ••• and mine •••, its signature •••" in shown


# -- the page cannot be made to lie ---------------------------------------------------------------

def test_combining_marks_and_bidi_controls_are_neutralised_in_frames():
    claims = {"api_key": "a" + "\u0301" * 1200, "note": "abc\u202edcba\u2066x\u2069"}
    data = json.loads(wire_frames.frame("request", {"id": 1, "claims": claims}).decode()
                      .split("data: ", 1)[1])
    note, marks = data["claims"]["note"], data["claims"]["api_key"]
    assert not set(note) & {"\u202e", "\u2066", "\u2069"}
    assert "[U+202E]" in note
    assert marks.startswith("a" + "\u0301" * wire_frames.MAX_MARKS_IN_A_ROW)
    assert "\u0301" * (wire_frames.MAX_MARKS_IN_A_ROW + 1) not in marks
    assert len(marks) < 40


@pytest.mark.parametrize("value, shown", [
    (float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity"),
    ("\ud800x\udfff", "\ufffdx\ufffd"), (10 ** 5000, "(a number of 16610 bits)"),
], ids=["nan", "infinity", "minus-infinity", "lone-surrogates", "huge-integer"])
def test_every_frame_is_strict_json_and_encodable(value, shown):
    data = wire_frames.frame("request", {"id": 1, "value": value, value if isinstance(value, str)
                                       else "k": 1})
    parsed = strict_json(data.decode("utf-8").split("data: ", 1)[1])
    assert parsed["value"] == shown


def test_a_frame_with_anything_at_all_is_one_sse_event():
    data = wire_frames.frame("request", {"id": 1, "body": "a\nb\r\nc\rd\u2028e\x00"})
    assert data.endswith(b"\n\n") and data.count(b"\n") == 3
    assert strict_json(data.decode().split("data: ", 1)[1][:-2])["body"] == \
        "a\nb\r\nc\rd\u2028e\x00"


# -- pages that never read ------------------------------------------------------------------------

def open_without_reading(server):
    """A page's stream whose reader never reads a byte (its socket's buffer fills)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET {EVENTS_PATH}?token={server.control.value} HTTP/1.1\r\n"
                 f"Host: 127.0.0.1:{server.port}\r\n\r\n".encode())
    return sock


def test_pages_that_never_read_cannot_lock_the_instructor_out(served):
    stalled = [open_without_reading(served) for _ in range(wire_page.MAX_VIEWERS)]
    try:
        deadline = time.monotonic() + 5
        while served.app.wire.viewers < wire_page.MAX_VIEWERS:
            assert time.monotonic() < deadline, "the stalled pages never subscribed"
            time.sleep(0.01)
        for number in range(40):  # enough to fill every stalled page's socket
            body = {**HELLO, "messages": [{"role": "user", "content": f"{number} " + "x" * 3000}]}
            assert post(served, body, OFFLINE_API_KEY).status_code == 200
        instructor = PageStream(served)
        try:
            instructor.until(lambda frames: frames and frames[0][0] == "hello")
            assert post(served, {**HELLO, "messages": [{"role": "user", "content": "seen"}]},
                        OFFLINE_API_KEY).status_code == 200
            instructor.until(finished(with_prompt("seen")))
        finally:
            instructor.close()
        assert served.app.wire.viewers <= wire_page.MAX_VIEWERS
    finally:
        for sock in stalled:
            sock.close()


def test_a_pages_queue_is_bounded_in_bytes_as_well_as_in_frames():
    viewer = wire_page.Viewer()
    big = b"x" * (100 * 1024)
    for _ in range(50):  # 50 frames: far under QUEUE_MESSAGES, 5 MB
        viewer.put(big)
    assert viewer.queued_bytes <= wire_page.QUEUE_BYTES
    frames, dropped = viewer.take(0)
    assert (len(frames), dropped) == (wire_page.QUEUE_BYTES // len(big), 50 - len(frames))


def test_a_page_that_stops_reading_is_let_go_and_its_connection_cut(monkeypatch):
    monkeypatch.setattr(wire_page, "STALL_SECONDS", 0)  # waiting at all is waiting too long
    log = wire_page.WireLog()
    cuts = []
    reading, _ = log.subscribe()
    stuck, _ = log.subscribe(cut=lambda: cuts.append("cut"))
    log.publish(1, "request", {"id": 1})
    reading.take(0)
    reading.written()  # this page keeps up; the other never takes its frame
    log.publish(2, "request", {"id": 2})
    assert stuck.closed and cuts == ["cut"] and not reading.closed
    assert log.viewers == 1

"""The attacks of "The room, round two", for instructors/soak_room.py: each one switchable, run
in its own thread(s) against one `serve` process until a deadline, counting what the server
did. Loopback only; every socket has a timeout; each attack is bounded in count.

  stalled-bodies   sockets that declare Content-Length: 1048576 and send nothing
  byte-lines       ~1,000 connections from 127.0.0.1, each sending one byte of a request line
  big-request-ids  async submissions whose request_id is 1,000,000 characters
  deaf-viewers     wire-page viewers that never read
  greedy-attendee  one attendee (127.0.0.1) keeping twice --max-in-flight streams open (the
                   excess is its own 429s; nobody else may notice)
  odd-claims       JWTs whose claims hold a lone surrogate, NaN, or a long run of combining
                   marks, with the instructor's wire page open (it must stay readable)

The instructor's page (a viewer that reads every frame and checks it is UTF-8 and strict
JSON, as the page's JSON.parse would) is opened before the deaf viewers, with any of the
two wire attacks.
"""

import base64
import hashlib
import hmac
import http.client
import json
import selectors
import socket
import threading
import time

ATTACKS = {
    "stalled-bodies": "sockets declaring Content-Length: 1048576 and sending nothing",
    "byte-lines": "connections from one address, each sending one byte of a request line",
    "big-request-ids": "async submissions with a 1,000,000-character request_id",
    "deaf-viewers": "wire-page viewers that never read",
    "greedy-attendee": "one attendee keeping twice --max-in-flight streams open",
    "odd-claims": "JWT claims with a lone surrogate, NaN, combining marks; wire page open",
}
SOCKET_TIMEOUT_S = 20
RECONNECT_PAUSE_S = 0.5
BYTE_LINES_PER_SECOND = 500  # how fast byte-line connections are opened (and reopened)
REQUEST_ID_CHARS = 1_000_000  # under the server's 1 MiB body limit with the rest of the body
ODD_CLAIMS_EVERY_S = 0.1
COMBINING_MARKS = 1400  # as many as fit the server's 4096-character credential limit


class Room:
    """What every attack needs: where the server is, its key and control token, the tally."""

    def __init__(self, host, port, api_path, key, token, tally, deadline, chat_body):
        self.host, self.port, self.api_path = host, port, api_path
        self.key, self.token, self.tally = key, token, tally
        self.deadline, self.chat_body = deadline, chat_body

    def left(self):
        return max(0.0, self.deadline - time.monotonic())

    def head(self, method, path, fields=(), host=None):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host or self.host}:{self.port}",
                 *fields]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_status(sock):
    """The status code of the answer on `sock` (int), reading at most its first line;
    ConnectionError when the server closed without one."""
    data = b""
    while b"\r\n" not in data and len(data) < 8192:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    if not data.startswith(b"HTTP/1.1 ") or len(data) < 12:
        raise ConnectionError(f"no HTTP answer (got {data[:40]!r})")
    return int(data[9:12])


def post_and_count(room, path, data, credential, label):
    """One JSON POST on a new connection, read to its end; the tally counts its status (or
    the error) under `label`."""
    connection = http.client.HTTPConnection(room.host, room.port, timeout=SOCKET_TIMEOUT_S)
    try:
        connection.request("POST", path, data, {"Authorization": f"Bearer {credential}",
                                                "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        room.tally.count(f"{label}: HTTP {response.status}")
    except (OSError, http.client.HTTPException) as exc:
        room.tally.count(f"{label}: {type(exc).__name__}")
    finally:
        connection.close()


# -- (a) bodies declared and never sent ---------------------------------------------------------

def stalled_body(room):
    head = room.head("POST", room.api_path + "/chat/completions",
                     [f"Authorization: Bearer {room.key}", "Content-Type: application/json",
                      "Content-Length: 1048576"])
    while room.left() > 0:
        try:
            with socket.create_connection((room.host, room.port), timeout=SOCKET_TIMEOUT_S) as s:
                s.sendall(head)
                room.tally.count("stalled bodies: heads sent")
                s.settimeout(max(0.1, room.left()))
                try:
                    status = read_status(s)
                except ConnectionError:
                    status = None
            room.tally.count(f"stalled bodies: server answered {status}" if status else
                             "stalled bodies: server closed without an answer")
        except TimeoutError:
            return  # the soak ended while the server still waited for the body
        except OSError as exc:
            room.tally.count(f"stalled bodies: {type(exc).__name__}")
        time.sleep(RECONNECT_PAUSE_S)  # the attacker's own pause, not a wait for the server


# -- (b) a thousand connections, one byte each ----------------------------------------------

def byte_lines(room, count):
    """`count` connections from 127.0.0.1 that each send "P" and nothing more, kept open;
    one the server closes is opened again (at most BYTE_LINES_PER_SECOND a second)."""
    selector = selectors.DefaultSelector()
    opened, held, tried = 0, 0, 0
    started = time.monotonic()
    try:
        while room.left() > 0:
            due = int((time.monotonic() - started) * BYTE_LINES_PER_SECOND) - tried
            for _ in range(min(due, count - held)):
                tried += 1
                try:
                    sock = socket.create_connection((room.host, room.port), timeout=2,
                                                    source_address=("127.0.0.1", 0))
                    sock.sendall(b"P")
                    sock.setblocking(False)
                    selector.register(sock, selectors.EVENT_READ)
                    opened, held = opened + 1, held + 1
                except OSError as exc:
                    room.tally.count(f"byte lines: could not connect ({type(exc).__name__})")
                    break
            for key, _ in selector.select(timeout=min(0.05, room.left())):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                status = data[9:12].decode("ascii", "replace") if data.startswith(
                    b"HTTP/1.1 ") else None
                room.tally.count(f"byte lines: server answered {status}" if status else
                                 "byte lines: server closed without an answer")
                selector.unregister(sock)
                sock.close()
                held -= 1
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()
        selector.close()
        room.tally.count("byte lines: connections opened", opened)


# -- (c) async submissions with a megabyte request_id ---------------------------------------------

def big_request_ids(room, submissions, number):
    body = {k: v for k, v in room.chat_body.items() if k != "stream"}
    path = room.api_path + "/async/chat/completions"
    for index in range(submissions):
        if room.left() <= 0:
            return
        request_id = f"{number}-{index}-" + "r" * REQUEST_ID_CHARS
        data = json.dumps({**body, "request_id": request_id}).encode()
        post_and_count(room, path, data, room.key, "big request_ids")


# -- (d) wire viewers that never read, and (f)'s instructor page --------------------------------

def events_head(room):
    return room.head("GET", f"/_offline/wire/events?token={room.token}",
                     ["Accept: text/event-stream"], host="127.0.0.1")


def deaf_viewers(room, count):
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once
            sock.settimeout(SOCKET_TIMEOUT_S)
            try:
                sock.connect((room.host, room.port))
                sock.sendall(events_head(room))
                socks.append(sock)
                room.tally.count("deaf viewers: opened (never read)")
            except OSError as exc:
                sock.close()
                room.tally.count(f"deaf viewers: {type(exc).__name__}")
        while room.left() > 0:
            time.sleep(min(0.5, room.left()))  # holding them open is the attack
    finally:
        for sock in socks:
            sock.close()


def _strict_constant(name):
    raise ValueError(f"{name} is not JSON")


def instructor_page(room, subscribed):
    """The instructor's page: reads the wire stream to the deadline and checks every frame."""
    connection = http.client.HTTPConnection("127.0.0.1", room.port, timeout=SOCKET_TIMEOUT_S)
    tally = room.tally
    try:
        connection.request("GET", f"/_offline/wire/events?token={room.token}")
        response = connection.getresponse()
        subscribed.set()
        if response.status != 200:
            tally.error(f"wire page: HTTP {response.status} (the instructor could not open it)")
            return
        pending = b""
        while room.left() > 0:  # a keep-alive comment comes at least every 5 s
            chunk = response.read1(65536)
            if not chunk:
                tally.error("wire page: the server ended the instructor's stream early")
                return
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not line.startswith(b"data: "):
                    continue
                try:
                    json.loads(line[6:].decode("utf-8"), parse_constant=_strict_constant)
                    tally.count("wire page: frames read")
                except (UnicodeDecodeError, ValueError) as exc:
                    tally.error(f"wire page: a frame the page cannot parse ({exc})")
    except (OSError, http.client.HTTPException) as exc:
        if room.left() > 0:
            tally.error(f"wire page: {type(exc).__name__}: {exc}")
    finally:
        subscribed.set()
        connection.close()


# -- (e) one attendee holding every in-flight slot --------------------------------------------

def greedy_stream(room, data):
    headers = {"Authorization": f"Bearer {room.key}", "Content-Type": "application/json"}
    while room.left() > 0:
        connection = http.client.HTTPConnection(room.host, room.port, timeout=SOCKET_TIMEOUT_S,
                                                source_address=("127.0.0.1", 0))
        try:
            connection.request("POST", room.api_path + "/chat/completions", data, headers)
            response = connection.getresponse()
            while response.read1(65536):
                pass
            room.tally.count(f"greedy attendee: HTTP {response.status}")
            if response.status == 200:
                continue  # the next stream at once: it holds its slots
        except (OSError, http.client.HTTPException) as exc:
            room.tally.count(f"greedy attendee: {type(exc).__name__}")
        finally:
            connection.close()
        time.sleep(RECONNECT_PAUSE_S)  # refused: a pause before trying again


# -- (f) claims no page expects ---------------------------------------------------------------

def _segment(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def odd_tokens(key):
    """Tokens signed with the offline key (as lesson code signs them), each with one odd claim:
    a lone surrogate, NaN, a long run of combining marks."""
    key_id, secret = key.split(".", 1)
    now_ms = int(time.time() * 1000)
    common = f'"api_key":"{key_id}","exp":{now_ms + 3_600_000},"timestamp":{now_ms}'
    claims = [b"{" + common.encode() + b',"note":"\\ud800"}',
              b"{" + common.encode() + b',"note":NaN}',
              b"{" + common.encode() + b',"note":"a' + "\u0301".encode() * COMBINING_MARKS
              + b'"}']
    head = _segment(b'{"alg":"HS256","sign_type":"SIGN"}')
    tokens = []
    for payload in claims:
        signing = f"{head}.{_segment(payload)}"
        mac = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
        tokens.append(f"{signing}.{_segment(mac)}")
    return tokens


def odd_claims(room, data):
    tokens = odd_tokens(room.key)
    index = 0
    while room.left() > 0:
        token = tokens[index % len(tokens)]
        index += 1
        post_and_count(room, room.api_path + "/chat/completions", data, token, "odd claims")
        time.sleep(ODD_CLAIMS_EVERY_S)  # the attacker's pace, not a wait for the server


def start(room, chosen, options):
    """Start the chosen attacks' threads (daemons); return them."""
    data = json.dumps(room.chat_body, ensure_ascii=False).encode("utf-8")
    plan = []
    if chosen & {"deaf-viewers", "odd-claims"}:
        subscribed = threading.Event()
        viewer = threading.Thread(target=instructor_page, args=(room, subscribed), daemon=True)
        viewer.start()
        subscribed.wait(timeout=10)  # the instructor's page first: deaf viewers take the rest
        plan.append(viewer)
    targets = {
        "stalled-bodies": [(stalled_body, (room,))] * options.stalled_bodies,
        "byte-lines": [(byte_lines, (room, options.byte_lines))],
        "big-request-ids": [(big_request_ids, (room, options.big_request_ids // 2, n))
                            for n in range(2)],
        "deaf-viewers": [(deaf_viewers, (room, options.deaf_viewers))],
        "greedy-attendee": [(greedy_stream, (room, data))] * (2 * options.max_in_flight),
        "odd-claims": [(odd_claims, (room, data))],
    }
    for name in ATTACKS:
        if name in chosen:
            for target, args in targets[name]:
                thread = threading.Thread(target=target, args=args, daemon=True)
                thread.start()
                plan.append(thread)
    return plan

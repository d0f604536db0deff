"""The instructor's control surface: /_offline/faults on a running server, and the client
that `python -m glm_offline fault` uses.

Anything that changes the server needs its control token: a random value made at start and
written to ~/.glm_offline/control-<port> (GLM_OFFLINE_CONTROL_DIR to put it elsewhere),
readable only by the user who started the server, in a folder no one else may write to
(private_file.py: never planted, never redirected), with the address the `fault` command
connects to (so it finds a server listening on ::, 0.0.0.0 or a room address alone). On top
of that the endpoint refuses requests from web pages (an Origin or a cross-site
Sec-Fetch-Site header), a Host header that names a host instead of an address (DNS
rebinding), and peers on other machines. In-process, `server.inject()` needs none of this.
The wire page (wire_page.py) sits behind the same checks, with the token in its URL.
"""

import hmac
import http.client
import ipaddress
import json
import os
import secrets
from pathlib import Path

from .http import log
from .private_file import read_private, write_private
from .wire import http_error

ADMIN_PREFIX = "/_offline"
FAULTS_PATH = ADMIN_PREFIX + "/faults"
CONTROL_HEADER = "X-GLM-Offline-Control"
MAX_ANSWER_BYTES = 1024 * 1024


class ControlError(Exception):
    """What the `fault` command prints (one line) when it cannot control a server."""


def control_dir():
    return Path(os.environ.get("GLM_OFFLINE_CONTROL_DIR") or Path.home() / ".glm_offline")


def token_path(port):
    return control_dir() / f"control-{port}"


def connect_address(host):
    """The address this machine's clients use for a server listening on `host`."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


class ControlToken:
    """The running server's token, and the file the `fault` command reads it (and the address
    to connect to) from."""

    def __init__(self, host, port):
        self.value = secrets.token_urlsafe(32)
        self.path = token_path(port)
        try:
            write_private(self.path, json.dumps({
                "token": self.value, "address": connect_address(host), "pid": os.getpid()}))
        except OSError as exc:
            log(f"cannot write the control token to {self.path} ({exc.strerror or exc}); "
                "the `fault` command will not reach this server")
            self.path = None

    def remove(self):
        """Delete the file if it is still this server's (a later server may own the port)."""
        try:
            if self.path and read_token_file(self.path).get("token") == self.value:
                self.path.unlink()
        except (OSError, ValueError):
            pass

    def matches(self, presented):
        return bool(presented) and hmac.compare_digest(presented.encode(), self.value.encode())


def _address(text):
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address  # ::ffff:127.0.0.1 is 127.0.0.1


def _host_name(host_header):
    """'127.0.0.1:8000' -> '127.0.0.1', '[::1]:8000' -> '::1', 'evil.example' -> same."""
    host = host_header.strip()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def check_machine(handler, page=False):
    """Raise a 403 APIError unless the request comes from the server's own machine, with an
    address in Host, and not from a web page. `page=True` (the wire page and its event
    stream): a request from that page itself is allowed (Sec-Fetch-Site same-origin, and an
    Origin that is this server's own), a cross-site one still not."""
    headers = handler.headers
    origin = headers.get("Origin")
    fetch_site = headers.get("Sec-Fetch-Site", "none")
    own_origin = "http://" + (headers.get("Host") or "").strip()
    if page:
        from_web = fetch_site not in ("none", "same-origin") or origin not in (None, own_origin)
    else:
        from_web = origin is not None or fetch_site != "none"
    if from_web:
        raise http_error(403, "the control endpoint does not accept requests from web pages"
                         + (" other than its own" if page else ""))
    host = _host_name(headers.get("Host") or "")
    if host.lower() != "localhost" and _address(host) is None:
        raise http_error(403, f"the control endpoint needs an IP address in Host, not {host!r}")
    peer = _address(handler.client_address[0])
    local = _address(handler.connection.getsockname()[0])
    if peer is None or not (peer.is_loopback or peer == local):
        raise http_error(403, "only requests from the server's own machine may use the "
                         "control endpoint")


def check(handler, token):
    """Raise a 403 APIError unless the request comes from the instructor, on this machine."""
    check_machine(handler)
    if not token.matches(handler.headers.get(CONTROL_HEADER)):
        raise http_error(403, f"the control endpoint needs the {CONTROL_HEADER} header with the "
                         f"token in {token.path or token_path('<port>')}; the `fault` command "
                         "sends it")


def faults_endpoint(owner, handler, raw):
    """GET: the pending faults; POST {"kind": ..., options}: queue one; DELETE: clear them."""
    check(handler, owner.control)
    if handler.command == "POST":
        try:
            spec = json.loads(raw.decode("utf-8"))
            kind = spec.pop("kind")
            owner.faults.add(kind, **spec)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise http_error(400, f"bad fault: {exc}") from None
    elif handler.command == "DELETE":
        owner.faults.clear()
    handler.send_json(200, {"pending": owner.faults.pending()}, "admin")


def read_token_file(path):
    """{"token": ..., "address": ..., "pid": ...}; OSError or ValueError if unreadable."""
    data = json.loads(read_private(path))
    if not isinstance(data, dict) or not isinstance(data.get("token"), str) or \
            not isinstance(data.get("address"), str):
        raise ValueError(f"{path} is not a control token file")
    return data


def call(host, port, method="GET", spec=None, timeout=10):
    """Ask the server on `port` (at `host`, or None: the address its token file names) for its
    pending faults, after queueing or clearing some; raise ControlError with a one-line
    reason when that fails."""
    path = token_path(port)
    try:
        saved = read_token_file(path)
    except PermissionError as exc:  # planted where others can write, a link: never trusted
        raise ControlError(f"not reading the control token in {path}: "
                           f"{exc.strerror or exc}") from None
    except (OSError, ValueError):
        where = f"{host}:{port}" if host else f"port {port}"
        raise ControlError(f"no recorded GLM server on {where} (no control token in {path}; "
                           "start one with `python -m glm_offline serve` on this machine, as "
                           "this user)") from None
    host = host or saved["address"]
    token = saved["token"]
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}{FAULTS_PATH}"
    data = json.dumps(spec).encode() if spec is not None else None
    # http.client, not urllib: no proxy from the environment and no redirect ever gets the token.
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, FAULTS_PATH, body=data, headers={
            CONTROL_HEADER: token, "Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read(MAX_ANSWER_BYTES + 1)
    except (OSError, http.client.HTTPException) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__  # one line, always
        raise ControlError(f"no recorded GLM server at {url} ({reason})") from None
    finally:
        connection.close()
    try:
        answer = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_ANSWER_BYTES else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        answer = None
    if response.status != 200:
        raise ControlError(_error_message(answer, url, response.status))
    if not isinstance(answer, dict) or not isinstance(answer.get("pending"), list):
        raise ControlError(f"{url} does not answer like a recorded GLM server")
    return answer["pending"]


def _error_message(answer, url, status):
    """The server's own one-line message from a GLM error body, else a plain one."""
    error = answer.get("error") if isinstance(answer, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str) and message.strip():
        return " ".join(message.split())[:500]
    return f"{url} does not answer like a recorded GLM server (HTTP {status})"

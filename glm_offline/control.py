"""The instructor's control surface: /_offline/faults on a running server, and the client
that `python -m glm_offline fault` uses.

Anything that changes the server needs its control token: a random value made at start and
written to ~/.glm_offline/control-<port> (GLM_OFFLINE_CONTROL_DIR to put it elsewhere),
readable only by the user who started the server. On top of that the endpoint refuses
requests from web pages (an Origin or a cross-site Sec-Fetch-Site header), a Host header
that names a host instead of an address (DNS rebinding), and peers on other machines.
In-process, `server.inject()` needs none of this.
"""

import hmac
import http.client
import ipaddress
import json
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from .http import log
from .wire import http_error

ADMIN_PREFIX = "/_offline"
FAULTS_PATH = ADMIN_PREFIX + "/faults"
CONTROL_HEADER = "X-GLM-Offline-Control"


class ControlError(Exception):
    """What the `fault` command prints (one line) when it cannot control a server."""


def control_dir():
    return Path(os.environ.get("GLM_OFFLINE_CONTROL_DIR") or Path.home() / ".glm_offline")


def token_path(port):
    return control_dir() / f"control-{port}"


class ControlToken:
    """The running server's token, and the file the `fault` command reads it from."""

    def __init__(self, port):
        self.value = secrets.token_urlsafe(32)
        self.path = token_path(port)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as file:
                file.write(self.value + "\n")
            os.replace(partial, self.path)
        except OSError as exc:
            log(f"cannot write the control token to {self.path} ({exc.strerror or exc}); "
                "the `fault` command will not reach this server")
            self.path = None

    def remove(self):
        """Delete the file if it is still this server's (a later server may own the port)."""
        try:
            if self.path and self.path.read_text(encoding="ascii").strip() == self.value:
                self.path.unlink()
        except OSError:
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


def check(handler, token):
    """Raise a 403 APIError unless the request comes from the instructor, on this machine."""
    headers = handler.headers
    if headers.get("Origin") is not None or headers.get("Sec-Fetch-Site", "none") != "none":
        raise http_error(403, "the control endpoint does not accept requests from web pages")
    host = _host_name(headers.get("Host") or "")
    if host.lower() != "localhost" and _address(host) is None:
        raise http_error(403, f"the control endpoint needs an IP address in Host, not {host!r}")
    peer = _address(handler.client_address[0])
    local = _address(handler.connection.getsockname()[0])
    if peer is None or not (peer.is_loopback or peer == local):
        raise http_error(403, "faults can only be set from the server's own machine")
    if not token.matches(headers.get(CONTROL_HEADER)):
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


def call(host, port, method="GET", spec=None, timeout=10):
    """Ask the server at host:port for its pending faults, after queueing or clearing some;
    raise ControlError with a one-line reason when that fails."""
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}{FAULTS_PATH}"
    path = token_path(port)
    try:
        token = path.read_text(encoding="ascii").strip()
    except OSError:
        raise ControlError(f"no recorded GLM server at {url} (no control token in {path}; "
                           "start one with `python -m glm_offline serve` on this machine, as "
                           "this user)") from None
    data = json.dumps(spec).encode() if spec is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        CONTROL_HEADER: token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        raise ControlError(_error_message(exc, url)) from None
    except (OSError, http.client.HTTPException) as exc:
        raise ControlError(f"no recorded GLM server at {url} ({exc})") from None
    except ValueError:
        raise ControlError(f"{url} does not answer like a recorded GLM server") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("pending"), list):
        raise ControlError(f"{url} does not answer like a recorded GLM server")
    return answer["pending"]


def _error_message(exc, url):
    try:
        return json.load(exc)["error"]["message"]
    except (ValueError, TypeError, KeyError, OSError):
        return f"{url} does not answer like a recorded GLM server (HTTP {exc.code})"

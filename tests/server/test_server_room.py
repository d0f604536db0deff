"""A server for a whole room: the control surface only the instructor can use, the address
`serve` prints for attendees, and one-line errors for every bad command-line argument."""

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import requests

import glm_offline
import serve_process
from glm_offline import control
from glm_offline.control import CONTROL_HEADER, FAULTS_PATH
from glm_offline.http import Headers
from glm_offline.server import reachable_addresses
from glm_offline.wire import APIError
from helpers import auth, read_response

HELLO = {"model": "glm-4-flash-250414",
         "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}

STREAMED = {"model": "glm-4-flash-250414", "stream": True,  # recorded: "hello-zh-stream"
            "messages": [{"role": "user", "content": "用一句话打个招呼。"}]}


@pytest.fixture(scope="module")
def served():
    with glm_offline.start(pacing="instant") as server:
        yield server


def control_post(server, data, headers=None):
    """POST to the control endpoint with the server's token, plus or minus some headers."""
    return requests.post(f"http://127.0.0.1:{server.port}{FAULTS_PATH}", data=data, timeout=10,
                         headers={CONTROL_HEADER: server.control.value,
                                  "Content-Type": "application/json", **(headers or {})})


def cli(*args, env=None, timeout=30):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GLM_OFFLINE_")}
    return subprocess.run([sys.executable, "-m", "glm_offline", *args], capture_output=True,
                          text=True, timeout=timeout, env={**environment, **(env or {})})


def one_line_error(result):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


# -- the control endpoint -----------------------------------------------------------------------

@pytest.mark.parametrize("headers, words", [
    ({CONTROL_HEADER: None}, "needs the X-GLM-Offline-Control header"),
    ({CONTROL_HEADER: "a-guessed-token"}, "needs the X-GLM-Offline-Control header"),
    ({"Origin": "http://attacker.example"}, "does not accept requests from web pages"),
    ({"Sec-Fetch-Site": "cross-site"}, "does not accept requests from web pages"),
    ({"Sec-Fetch-Site": "same-site"}, "does not accept requests from web pages"),
    ({"Host": "rebound.attacker.example"}, "needs an IP address in Host"),
], ids=["no-token", "wrong-token", "origin", "cross-site", "same-site", "foreign-host"])
def test_the_control_endpoint_refuses_all_but_the_instructor(served, headers, words):
    r = control_post(served, b'{"kind": "rate_limit"}', headers)
    assert r.status_code == 403
    assert words in r.json()["error"]["message"]
    assert served.faults.pending() == []


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "localhost"])
def test_the_control_endpoint_takes_the_token_with_a_local_host(served, host):
    r = control_post(served, b'{"kind": "rate_limit"}', {"Host": host.format(port=served.port)})
    assert (r.status_code, r.json()) == (200, {"pending": [{"kind": "rate_limit", "times": 1}]})
    served.faults.clear()


@pytest.mark.parametrize("data, words", [
    (b'{"kind": "slow_first_byte", "seconds": Infinity}', "finite number from 0 to 600"),
    (b'{"kind": "slow_first_byte", "seconds": NaN}', "finite number from 0 to 600"),
    (b'{"kind": "slow_first_byte", "seconds": 1e12}', "finite number from 0 to 600"),
    (b'{"kind": "rate_limit", "times": 1e400}', "times must be a whole number"),
    (b'{"kind": "drop_mid_stream", "after_events": -1}', "after_events must be a whole"),
], ids=["inf", "nan", "1e12", "times-inf", "negative"])
def test_fault_parameters_are_checked_when_the_fault_is_added(served, data, words):
    r = control_post(served, data)
    assert r.status_code == 400
    assert words in r.json()["error"]["message"]
    assert served.faults.pending() == []
    assert requests.post(served.base_url + "/chat/completions", json=HELLO, headers=auth(),
                         timeout=10).status_code == 200  # the next attendee is unharmed


def fake_handler(peer, local="127.0.0.1", host="127.0.0.1:8000", token="right"):
    headers = Headers([("Host", host), (CONTROL_HEADER, token)])
    return SimpleNamespace(headers=headers, client_address=(peer, 50000),
                           connection=SimpleNamespace(getsockname=lambda: (local, 8000)))


class Token:
    path = None

    def matches(self, presented):
        return presented == "right"


@pytest.mark.parametrize("peer, local, allowed", [
    ("127.0.0.1", "127.0.0.1", True),
    ("::ffff:127.0.0.1", "::ffff:127.0.0.1", True),  # `serve --host ::`, IPv4 client
    ("::1", "::1", True),
    ("192.0.2.2", "192.0.2.2", True),  # the instructor's machine, by its room address
    ("192.0.2.99", "192.0.2.2", False),  # an attendee's machine, even with the token
    ("::ffff:192.0.2.99", "::ffff:192.0.2.2", False),
])
def test_only_peers_on_the_servers_own_machine_may_control_it(peer, local, allowed):
    handler = fake_handler(peer, local, host=f"[{local}]:8000" if ":" in local else local)
    if allowed:
        control.check(handler, Token())
    else:
        with pytest.raises(APIError, match="from the server's own machine"):
            control.check(handler, Token())


# -- max_in_flight in a room ---------------------------------------------------------------------

def post_from(source, port, timeout=10):
    """POST HELLO from a loopback address of the caller's choice (127.0.0.0/8 on Linux);
    returns (status, business code or None)."""
    data = json.dumps(HELLO).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0)) as sock:
        sock.sendall(b"POST /api/paas/v4/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Authorization: Bearer " + glm_offline.OFFLINE_API_KEY.encode()
                     + b"\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
        response = read_response(sock.makefile("rb"))
    error = json.loads(response.body).get("error") if response.status != 200 else None
    return response.status, error and error["code"]


def test_max_in_flight_counts_per_attendee_not_for_the_whole_room():
    """The whole room shares one key: counted per key, one attendee put everyone at 429."""
    with glm_offline.start(pacing="instant", max_in_flight=1) as server:
        server.inject("slow_first_byte", seconds=30)  # cut short by stop()

        def hold():
            with contextlib.suppress(OSError):  # stop() closes it unanswered
                post_from("127.0.0.2", server.port, 40)
        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        deadline = time.monotonic() + 5
        while server.faults.pending() and time.monotonic() < deadline:
            time.sleep(0.01)  # until the holder's request has taken the fault: in flight
        assert server.faults.pending() == []
        assert post_from("127.0.0.2", server.port) == (429, "1302")  # the same attendee
        assert post_from("127.0.0.3", server.port) == (200, None)  # another one
        assert post_from("127.0.0.1", server.port) == (200, None)


# -- the open-file limit ---------------------------------------------------------------------------

def serve_with_file_limit(soft, hard):
    """`serve` started under an open-file limit (as a macOS shell's 256); (process, port,
    what it printed up to its base URL)."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GLM_OFFLINE_")}
    process = subprocess.Popen([sys.executable, "-u", "-m", "glm_offline", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, text=True, env=environment,
                               preexec_fn=limit)
    printed = []
    for line in process.stdout:  # serve prints its address within a second or two
        printed.append(line)
        if "ZHIPUAI_BASE_URL=" in line:
            return process, port_of(line.split("=", 1)[1].strip()), "".join(printed)
    serve_process.stop(process)
    raise AssertionError("serve printed no base URL: " + "".join(printed))


def a_room_at_once(port, attendees=100):
    """Every attendee connected before any sends, then streaming (paced as recorded, a second
    or two): each connection is open and busy at the same time. The statuses they got (a
    connection closed to make room has none)."""
    data = json.dumps(STREAMED, ensure_ascii=False).encode()
    request = (b"POST /api/paas/v4/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Authorization: Bearer " + glm_offline.OFFLINE_API_KEY.encode()
               + b"\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
    room = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(attendees)]
    statuses = []
    try:
        for sock in room:
            sock.sendall(request)
        for sock in room:
            try:
                response = read_response(sock.makefile("rb"))
                statuses.append(response.status if response.ended else None)
            except (OSError, ValueError):
                statuses.append(None)
    finally:
        for sock in room:
            sock.close()
    return statuses


def test_serve_under_a_low_file_limit_serves_a_room_and_says_what_to_run():
    """At a 256 file-descriptor limit 4 of 100 attendees got 503."""
    process, port, printed = serve_with_file_limit(256, 256)  # cannot be raised
    try:
        said = re.search(r"at most (\d+) connections at once: the open-file limit is 256;.* "
                         r"run `ulimit -n 4096`", printed)
        assert said and int(said.group(1)) >= 128  # a room of 100, and some to spare
        assert a_room_at_once(port) == [200] * 100
    finally:
        serve_process.stop(process)


def test_serve_raises_a_low_soft_file_limit_itself():
    process, port, printed = serve_with_file_limit(256, 4096)
    try:
        assert "ulimit" not in printed
        assert a_room_at_once(port) == [200] * 100
    finally:
        serve_process.stop(process)


# -- serve in a room, and the fault command ----------------------------------------------------

def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", 0))
        return True
    except OSError:
        return False


def fault_then_429(base_url, key, port, *fault_args):
    result = cli("fault", "rate_limit", "--port", str(port), *fault_args)
    assert result.returncode == 0, result.stderr
    r = requests.post(base_url + "/chat/completions", json=HELLO, headers=auth(key), timeout=10)
    assert (r.status_code, r.json()["error"]["code"]) == (429, "1302")


def port_of(base_url):
    return int(base_url.rsplit(":", 1)[1].split("/")[0])


@pytest.mark.skipif(not ipv6_available(), reason="no dual-stack IPv6 on this machine")
def test_the_fault_command_reaches_a_server_listening_on_ipv6_any():
    process, base_url, key = serve_process.start(host="::")
    try:
        assert base_url.startswith("http://")
        local_url = f"http://127.0.0.1:{port_of(base_url)}/api/paas/v4"  # arrives as ::ffff:...
        fault_then_429(local_url, key, port_of(base_url))
    finally:
        serve_process.stop(process)


ROOM = reachable_addresses()


@pytest.mark.skipif(not ROOM, reason="this machine has no address besides loopback")
def test_serve_on_a_room_address_and_the_fault_command_finds_it():
    process, base_url, key = serve_process.start(host=ROOM[0])
    try:
        assert base_url == f"http://{ROOM[0]}:{port_of(base_url)}/api/paas/v4"
        fault_then_429(base_url, key, port_of(base_url))  # no --host: the token file says where
    finally:
        serve_process.stop(process)


@pytest.mark.skipif(not ROOM, reason="this machine has no address besides loopback")
def test_serve_on_all_addresses_prints_one_attendees_can_reach():
    process, base_url, key = serve_process.start(host="0.0.0.0")
    try:
        host = base_url.split("//", 1)[1].rsplit(":", 1)[0]
        assert not host.startswith("127.") and host != "0.0.0.0"
        r = requests.post(base_url + "/chat/completions", json=HELLO, headers=auth(key),
                          timeout=10)
        assert r.status_code == 200
    finally:
        serve_process.stop(process)


class RoomNetworkSocket:
    """A UDP socket on a machine in a room network without internet: only 192.168.x.y routes."""

    def __init__(self, family, kind):
        self.address = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def connect(self, target):
        if not target[0].startswith("192.168."):
            raise OSError(101, "Network is unreachable")
        self.address = "192.168.1.23"

    def getsockname(self):
        return (self.address, 40000)


def test_reachable_addresses_without_a_default_route(monkeypatch):
    import glm_offline.server as server_module
    monkeypatch.setattr(server_module.socket, "socket", RoomNetworkSocket)
    monkeypatch.setattr(server_module.socket, "getaddrinfo",
                        lambda *args: [(2, 1, 6, "", ("127.0.1.1", 0))])  # Debian's /etc/hosts
    assert reachable_addresses() == ["192.168.1.23"]
    monkeypatch.setattr(server_module.socket, "gethostname", lambda: "laptop")
    monkeypatch.setattr(server_module.socket, "getaddrinfo",
                        lambda *args: [(2, 1, 6, "", ("10.0.0.5", 0))])
    assert reachable_addresses(probes=()) == ["10.0.0.5"]


class NotGLM(BaseHTTPRequestHandler):
    """Some other web server on the port: HTML errors, or JSON of another shape."""

    protocol_version = "HTTP/1.1"
    answer = (404, "text/html", b"<h1>Not Found</h1>")

    def do_GET(self):  # noqa: N802 (stdlib name)
        status, content_type, data = self.answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET  # noqa: N815 (stdlib name)

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass


@pytest.fixture
def not_glm(tmp_path):
    """(port of another kind of server, env for `fault` with a token file planted for it)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NotGLM)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    port = httpd.server_address[1]
    (tmp_path / f"control-{port}").write_text(json.dumps(
        {"token": "stale", "address": "127.0.0.1", "pid": 1}), encoding="utf-8")
    yield port, {"GLM_OFFLINE_CONTROL_DIR": str(tmp_path)}
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.mark.parametrize("answer, words", [
    ((404, "text/html", b"<h1>Not Found</h1>"), "does not answer like a recorded GLM server "
     "(HTTP 404)"),
    ((200, "application/json", b'{"status": "ok"}'), "does not answer like a recorded GLM"),
    ((200, "application/json", b"[" * 100000), "does not answer like a recorded GLM"),
    ((403, "application/json", b'{"error": {"message": {"not": "text"}}}'), "(HTTP 403)"),
], ids=["html-404", "other-json", "deep-json", "odd-error"])
def test_fault_aimed_at_a_port_that_is_not_a_recorded_server(not_glm, answer, words):
    port, env = not_glm
    NotGLM.answer = answer
    assert words in one_line_error(cli("fault", "rate_limit", "--port", str(port), env=env))


def test_fault_aimed_at_a_port_that_does_not_speak_http(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def greet_and_close():
            sock, _ = listener.accept()
            with sock:
                sock.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

        thread = threading.Thread(target=greet_and_close, daemon=True)
        thread.start()
        (tmp_path / f"control-{port}").write_text(json.dumps(
            {"token": "stale", "address": "127.0.0.1", "pid": 1}), encoding="utf-8")
        result = cli("fault", "--port", str(port), env={"GLM_OFFLINE_CONTROL_DIR": str(tmp_path)})
        thread.join(timeout=10)
    assert f"no recorded GLM server at http://127.0.0.1:{port}/_offline/faults" in \
        one_line_error(result)


def test_fault_with_an_unreadable_token_file(tmp_path):
    (tmp_path / "control-8123").write_text("an old plain-text token\n", encoding="utf-8")
    err = one_line_error(cli("fault", "--port", "8123",
                             env={"GLM_OFFLINE_CONTROL_DIR": str(tmp_path)}))
    assert "no recorded GLM server on port 8123 (no control token in" in err


# -- one line for every bad argument -----------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["serve", "--port", "70000"], "--port: must be a whole number from 0 to 65535"),
    (["serve", "--port", "-1"], "--port: must be a whole number from 0 to 65535"),
    (["serve", "--host", "999.1.1.1", "--port", "0"], "cannot listen on 999.1.1.1:0"),
    (["serve", "--max-connections", "0"], "must be a whole number from 1 to"),
    (["serve", "--chunking", "sideways"], "invalid choice: 'sideways'"),
    (["serve", "--cassettes", "/no/such/folder"], "no such folder"),
    (["fault", "--port", "70000"], "--port: must be a whole number from 0 to 65535"),
    (["fault", "slow_first_byte", "--seconds", "inf", "--port", "8123"],
     "seconds must be a finite number from 0 to 600, not inf"),
    (["fault", "slow_first_byte", "--seconds", "nan", "--port", "8123"], "not nan"),
    (["fault", "rate_limit", "--times", "0", "--port", "8123"], "--times: must be a whole number"),
    (["fault", "rate_limit", "--retry-after", "1.5", "--port", "8123"], "invalid int value"),
    (["fault", "melt_down", "--port", "8123"], "invalid choice: 'melt_down'"),
    (["record", "--output", "x.json", "--port", "99999"], "--port: must be a whole number"),
    (["record", "--output", "x.json", "--timeout", "0"], "--timeout must be a number of seconds"),
    (["record", "--output", "x.json", "--upstream", "ftp://example.org"], "--upstream must be"),
    (["serve", "--no-such-option"], "unrecognized arguments: --no-such-option"),
], ids=["serve-port-big", "serve-port-negative", "serve-host", "serve-max-connections",
        "serve-chunking", "serve-cassettes", "fault-port", "fault-seconds-inf",
        "fault-seconds-nan", "fault-times-0", "fault-retry-after-float", "fault-kind",
        "record-port", "record-timeout", "record-upstream", "unknown-option"])
def test_every_bad_argument_is_one_line(tmp_path, args, words):
    result = subprocess.run([sys.executable, "-m", "glm_offline", *args], capture_output=True,
                            text=True, timeout=30, cwd=tmp_path, env={
                                **{k: v for k, v in os.environ.items()
                                   if not k.startswith("GLM_OFFLINE_")},
                                "GLM_OFFLINE_CONTROL_DIR": str(tmp_path)})
    assert words in one_line_error(result)
    assert not (tmp_path / "x.json").exists()

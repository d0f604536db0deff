"""Starting and stopping the server, and the command line (serve, fault, --help)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
import requests

import glm_offline
from glm_offline.__main__ import main, print_banner
from helpers import auth

HELLO = {"model": "glm-4-flash-250414",
         "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}
HELLO_STREAM = {**HELLO, "stream": True}


def test_start_twice_raises_and_stop_twice_is_a_no_op():
    server = glm_offline.Server(pacing="instant")
    assert not server.running
    server.start()
    try:
        assert server.running
        assert repr(server) == f"<glm_offline.Server running at {server.base_url}>"
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    finally:
        server.stop()
    server.stop()
    assert not server.running
    assert repr(server).startswith("<glm_offline.Server stopped at http://127.0.0.1:")
    with pytest.raises(RuntimeError, match="was stopped"):
        server.start()


def test_context_manager_stops_and_frees_the_port():
    with glm_offline.start(pacing="instant") as server:
        port = server.port
        assert server.base_url == f"http://127.0.0.1:{port}/api/paas/v4"
        assert requests.post(server.base_url + "/chat/completions", json=HELLO, headers=auth(),
                             timeout=10).status_code == 200
    assert not server.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(server.base_url + "/chat/completions", json=HELLO, headers=auth(), timeout=2)
    with glm_offline.start(port=port, pacing="instant") as again:
        assert again.port == port


def test_port_in_use_is_a_clear_oserror(server):
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        glm_offline.start(port=server.port)


def test_stop_is_prompt_with_an_idle_keep_alive_connection():
    server = glm_offline.start(pacing="instant")
    session = requests.Session()
    assert session.post(server.base_url + "/chat/completions", json=HELLO, headers=auth(),
                        timeout=10).status_code == 200
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    session.close()


def test_stop_is_prompt_with_a_stream_in_progress():
    server = glm_offline.start(pacing="realistic")  # about 0.85 s for this recording
    r = requests.post(server.base_url + "/chat/completions", json=HELLO_STREAM, headers=auth(),
                      stream=True, timeout=10)
    chunks = r.iter_content(None)
    assert next(chunks).startswith(b"data: ")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    with pytest.raises((requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ConnectionError)):
        for _ in chunks:
            pass
    r.close()


def test_stop_from_another_thread_while_requests_run():
    server = glm_offline.start(pacing="instant")
    errors = []

    def hammer():
        with requests.Session() as session:
            for _ in range(100_000):
                try:
                    session.post(server.base_url + "/chat/completions", json=HELLO,
                                 headers=auth(), timeout=5)
                except (requests.exceptions.ConnectionError,
                        requests.exceptions.ChunkedEncodingError):  # cut mid-reply by stop()
                    return
                except requests.exceptions.RequestException as exc:  # e.g. a read timeout
                    errors.append(repr(exc))
                    return
        errors.append("the server still answered after stop()")

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    server.wait_for_exchanges(3, timeout=10)  # the requests are under way
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []


# -- command line --------------------------------------------------------------------------------

def cli(*args, **kwargs):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLM_OFFLINE_")}
    return subprocess.run([sys.executable, "-m", "glm_offline", *args], capture_output=True,
                          text=True, timeout=20, env=env, **kwargs)


def test_serve_answers_takes_a_fault_and_stops_on_ctrl_c():
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLM_OFFLINE_")}
    process = subprocess.Popen([sys.executable, "-m", "glm_offline", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        printed = {}
        for line in process.stdout:
            name, _, value = line.strip().partition("=")
            printed[name] = value
            if line.startswith("Press Ctrl-C"):
                break
        base_url, key = printed["ZHIPUAI_BASE_URL"], printed["ZHIPUAI_API_KEY"]
        assert key == glm_offline.OFFLINE_API_KEY
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/paas/v4")
        r = requests.post(base_url + "/chat/completions", json=HELLO, headers=auth(key), timeout=10)
        assert r.json()["choices"][0]["message"]["content"] == "Hello! It's nice to meet you."

        port = base_url.split(":")[2].split("/")[0]
        fault = cli("fault", "rate_limit", "--port", port)
        assert fault.returncode == 0, fault.stderr
        assert fault.stdout == 'pending faults: {"kind": "rate_limit", "times": 1}\n'
        r = requests.post(base_url + "/chat/completions", json=HELLO, headers=auth(key), timeout=10)
        assert (r.status_code, r.json()["error"]["code"]) == (429, "1302")

        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert out.endswith("Recorded GLM server stopped.\n")


def test_fault_command_in_process(server, capsys):
    port = str(server.port)
    assert main(["fault", "overloaded", "--times", "2", "--retry-after", "4", "--port", port]) == 0
    assert main(["fault", "--port", port]) == 0
    assert main(["fault", "--clear", "--port", port]) == 0
    assert main(["fault", "error", "--code", "9999", "--port", port]) == 2
    out, err = capsys.readouterr()
    pending = '{"kind": "overloaded", "times": 2, "retry_after": 4}'
    assert out == f"pending faults: {pending}\npending faults: {pending}\npending faults: none\n"
    assert err.startswith("error: bad fault: unknown business code '9999'")


def test_fault_command_without_a_server(capsys):
    with glm_offline.start(pacing="instant") as server:
        port = str(server.port)
    assert main(["fault", "rate_limit", "--port", port]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: no recorded GLM server on port {port} (no control token in ")


@pytest.mark.parametrize("command, expected", [
    ("serve", ["--port", "--host", "--cassettes", "--strict", "--chunking", "--no-charset"]),
    ("fault", ["--port", "--times", "--retry-after", "--clear", *glm_offline.FAULT_KINDS]),
])
def test_help(capsys, command, expected):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m glm_offline {command}")
    for word in expected:
        assert word in out


def test_top_level_help_as_a_subprocess():
    result = cli("--help")
    assert result.returncode == 0
    assert "ZHIPUAI_BASE_URL=http://<this machine>:<port>/api/paas/v4" in result.stdout
    assert result.stderr == ""


def test_serve_with_a_bad_cassette_dir_exits_2(tmp_path):
    (tmp_path / "broken.json").write_text(json.dumps({"version": 9}), encoding="utf-8")
    result = cli("serve", "--port", "0", "--cassettes", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "broken.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_history_lists_requests_in_arrival_order_whatever_finishes_first(server):
    from glm_offline.history import Exchange
    first, second = Exchange(1, "POST", "/a"), Exchange(2, "POST", "/b")
    server.record(second)  # the later request finished first, on another connection
    server.record(first)
    assert [e.path for e in server.history] == ["/a", "/b"]


class _OtherApp:
    def __init__(self, owner):
        self.owner = owner


@pytest.mark.parametrize("option", [
    {"cassette_dirs": ["."]}, {"strict": True}, {"max_in_flight": 3},
    {"api_keys": ("another.key",)}, {"clock": lambda: 0.0}, {"packaged_cassettes": False},
    {"pacing": "instant"},
])
def test_replay_options_given_with_another_app_are_refused_by_name(option):
    with pytest.raises(ValueError, match=rf"^{next(iter(option))}: replay options, and this "
                       r"server runs another app \(app=\.\.\.\) that would ignore them$"):
        glm_offline.Server(app=_OtherApp, **option)


def test_another_app_alone_is_accepted():
    server = glm_offline.Server(app=_OtherApp, verbose=False, english=True)
    assert isinstance(server.app, _OtherApp) and server.app.owner is server


def test_a_missing_cassette_folder_is_refused(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match=rf"^no such folder: {missing} \(in cassette_dirs; "):
        glm_offline.start(cassette_dirs=[tmp_path, missing])


def test_one_cassette_folder_not_in_a_list_is_refused(tmp_path):
    with pytest.raises(TypeError, match=r"^cassette_dirs must be a list of folders, not one "
                       r"path: cassette_dirs=\["):
        glm_offline.start(cassette_dirs=str(tmp_path))


@pytest.mark.parametrize("call", [lambda s: s.inject("rate_limit"),
                                  lambda s: s.configure(pacing="instant"),
                                  lambda s: s.configured(pacing="instant").__enter__()])
def test_faults_and_stream_options_on_a_recording_server_are_refused(tmp_path, call):
    from glm_offline.record import start_recorder

    with start_recorder("http://127.0.0.1:9/api/paas/v4", tmp_path / "rec.json") as proxy:
        with pytest.raises(TypeError, match=r"^(inject|configure)\(\): this server runs "
                           r"RecordApp, not the replay server"):
            call(proxy)
        assert proxy.faults.pending() == []


def test_stop_waits_for_every_connection_thread_and_stays_quick():
    # STYLE: stop() = shutdown + close + join. A connection still answering (here held by a
    # slow first byte) must be cut and its thread gone when stop() returns, not later.
    server = glm_offline.start(pacing="instant")
    listener = server._httpd
    server.inject("slow_first_byte", seconds=30)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    body = json.dumps({"model": "glm-4-flash-250414",
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    sock.sendall(b"POST /api/paas/v4/chat/completions HTTP/1.1\r\nHost: x\r\n"
                 b"Authorization: Bearer " + server.api_key.encode() +
                 b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                 + body)
    deadline = time.monotonic() + 5  # until the request is read and its fault taken
    while server.faults.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not server.faults.pending()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3  # cut, not waited out (30 s)
    # Its thread has ended: the exchange is in the history the moment stop() returns.
    assert [exchange.path for exchange in server.history] == ["/api/paas/v4/chat/completions"]
    assert not listener._live
    sock.close()


@pytest.mark.parametrize("port, free_port_line", [(0, True), (8000, False)])
def test_the_banner_gives_lines_to_paste_into_another_shell(capsys, port, free_port_line):
    with glm_offline.start() as server:
        print_banner(SimpleNamespace(host="127.0.0.1", port=port, max_connections=None), server)
    lines = capsys.readouterr().out.splitlines()
    assert f"  in another shell: export ZHIPUAI_BASE_URL={server.base_url} " \
           f"ZHIPUAI_API_KEY={server.api_key}" in lines
    assert ("  (a free port, another one next time: --port 8000 keeps one)" in lines) \
        == free_port_line

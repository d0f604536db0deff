"""The in-process transport (glm_offline/inprocess.py): `requests` answered by the recorded
server's own app, with no socket, as in the browser edition."""

import concurrent.futures
import socket
import time

import pytest
import requests

import glm_offline
from glm_lessons import lesson
from glm_offline import inprocess
from glm_offline.options import in_process
from helpers import auth


@pytest.fixture
def no_sockets(monkeypatch):
    """Any socket made during the test fails, as it would in the browser."""
    def refuse(*args, **kwargs):
        raise OSError("no sockets in this test")
    monkeypatch.setattr(socket, "socket", refuse)


@pytest.fixture
def inproc(no_sockets):
    server = inprocess.start(pacing="instant", strict=True)
    yield server
    server.stop()


def post(server, body, **kwargs):
    return requests.post(server.base_url + "/chat/completions", headers=auth(server.api_key),
                         json=body, timeout=kwargs.pop("timeout", 10), **kwargs)


def test_a_recorded_answer_is_the_socket_servers_answer(recordings, monkeypatch):
    body = recordings["hello-en"]["request"]["body"]
    with glm_offline.start(pacing="instant", strict=True) as over_http:
        expected = post(over_http, body)
    server = inprocess.start(pacing="instant", strict=True)
    monkeypatch.setattr(socket, "socket", None)  # no socket from here on
    try:
        answer = post(server, body)
    finally:
        server.stop()
    assert server.base_url == "http://glm-offline.invalid/api/paas/v4"
    assert answer.status_code == expected.status_code == 200
    assert answer.json() == expected.json()
    assert answer.headers["Content-Type"] == expected.headers["Content-Type"]


def test_validation_and_auth_answer_as_glm_does(inproc):
    assert post(inproc, {"model": "glm-4-flash-250414"}).status_code == 400
    refused = requests.post(inproc.base_url + "/chat/completions", json={}, timeout=5)
    assert refused.status_code == 401
    assert requests.get(inproc.base_url + "/nowhere", timeout=5).status_code == 404


def test_a_stream_is_read_lazily_at_the_recorded_pacing(recordings, no_sockets):
    server = inprocess.start(pacing="realistic", strict=True)
    body = recordings["hello-zh-stream"]["request"]["body"]
    try:
        with post(server, body, stream=True) as response:
            arrivals = []
            for piece in response.iter_content(chunk_size=None):
                arrivals.append((time.monotonic(), piece))
    finally:
        server.stop()
    assert len(arrivals) == 8  # one piece per event
    gaps = [later[0] - earlier[0] for earlier, later in zip(arrivals, arrivals[1:])]
    assert all(gap >= 0.05 for gap in gaps[:6]), gaps  # the recorded 60 ms between events
    assert arrivals[-1][0] - arrivals[0][0] >= 0.35
    assert server.history[0].events_sent == 8 and server.history[0].outcome == "complete"


def test_hostile_chunking_reaches_the_client_in_small_pieces(recordings, no_sockets):
    server = inprocess.start(pacing="instant", chunking="hostile", strict=True)
    body = recordings["hello-zh-stream"]["request"]["body"]
    try:
        with post(server, body, stream=True) as response:
            pieces = list(response.iter_content(chunk_size=None))
    finally:
        server.stop()
    assert max(len(piece) for piece in pieces) <= 5
    assert b"".join(pieces).decode("utf-8").count("data: ") == 8


def test_a_dropped_stream_breaks_as_on_a_socket(recordings, inproc):
    inproc.inject("drop_mid_stream", after_events=3)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        post(inproc, recordings["hello-zh-stream"]["request"]["body"])
    assert inproc.history[0].outcome == "dropped"


def test_silence_longer_than_the_read_timeout_times_out(recordings, inproc):
    inproc.inject("slow_first_byte", seconds=2)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        post(inproc, recordings["hello-en"]["request"]["body"], timeout=(5, 0.2))
    assert 0.2 <= time.monotonic() - started < 1.5
    inproc.inject("stall_mid_stream", after_events=2, seconds=2)
    with pytest.raises(requests.ConnectionError):
        post(inproc, recordings["hello-zh-stream"]["request"]["body"], timeout=(5, 0.2))


def test_an_open_stream_counts_against_the_in_flight_limit(recordings, no_sockets):
    server = inprocess.start(pacing="instant", strict=True, max_in_flight=1)
    body = recordings["hello-zh-stream"]["request"]["body"]
    try:
        first = post(server, body, stream=True)
        refused = post(server, body)
        assert first.content  # the stream ends: its count is let go
        again = post(server, body)
    finally:
        server.stop()
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "1302"
    assert again.status_code == 200


def test_a_session_keeps_one_connection(recordings, inproc, caplog):
    body = recordings["hello-en"]["request"]["body"]
    caplog.set_level("DEBUG", logger="urllib3.connectionpool")
    for _ in range(2):
        post(inproc, body)
    with requests.Session() as session:
        for _ in range(2):
            session.post(inproc.base_url + "/chat/completions", headers=auth(inproc.api_key),
                         json=body, timeout=5)
    opened = [r for r in caplog.records if r.getMessage().startswith("Starting new HTTP")]
    assert len(opened) == 3


def test_each_running_server_has_a_host_of_its_own(inproc):
    second = inprocess.start()
    try:
        assert second.base_url == "http://glm-offline-2.invalid/api/paas/v4"
        assert requests.get(second.base_url + "/nowhere", timeout=5).status_code == 404
    finally:
        second.stop()
    assert not second.running and inproc.running


def test_a_stopped_server_is_unreachable(inproc):
    inproc.stop()
    with pytest.raises(requests.ConnectionError, match="no in-process recorded server"):
        requests.get(inproc.base_url + "/nowhere", timeout=5)


def test_in_process_in_the_browser_or_when_asked():
    assert in_process({}, platform="emscripten")
    assert not in_process({}, platform="linux")
    assert in_process({"GLM_OFFLINE_IN_PROCESS": "1"}, platform="linux")
    assert not in_process({"GLM_OFFLINE_IN_PROCESS": "false"}, platform="linux")
    with pytest.raises(ValueError, match="GLM_OFFLINE_IN_PROCESS"):
        in_process({"GLM_OFFLINE_IN_PROCESS": "maybe"}, platform="linux")


def test_connect_in_the_browser_says_in_one_line_that_there_is_no_live_mode(
        monkeypatch, capsys, no_sockets):
    monkeypatch.setattr("sys.platform", "emscripten")
    monkeypatch.setattr(lesson, "_shared", None)
    # connect() makes thread pools run in order there (no threads): not in this process after
    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor",
                        concurrent.futures.ThreadPoolExecutor)
    base_url, api_key, server = lesson.connect("zh", {"ZHIPUAI_API_KEY": "abc.def"})
    try:
        assert capsys.readouterr().out == lesson.LINES["zh"]["browser"] + "\n"
        assert base_url == "http://glm-offline.invalid/api/paas/v4"
        assert api_key == glm_offline.OFFLINE_API_KEY
    finally:
        server.stop()


def test_in_a_web_page_other_hosts_are_refused_without_a_request(inproc, monkeypatch):
    """Lesson 07 calls a port where nothing listens: in the browser that is a ConnectionError,
    as on a desktop, and no request leaves the page (only the in-page server answers)."""
    monkeypatch.setattr("sys.platform", "emscripten")
    session = requests.Session()
    for url in ("http://127.0.0.1:9/chat/completions", "https://open.bigmodel.cn/api/paas/v4"):
        with pytest.raises(requests.ConnectionError, match="no connection to .* browser edition"):
            session.get(url, timeout=5)
    answered = session.get(inproc.base_url + "/nowhere", timeout=5)  # the in-page server's 404
    assert (answered.status_code, answered.headers["Server"]) == (404, "glm-offline")

"""The control token's file (glm_offline/control.py, `serve`): written only where no one else
can plant or redirect it, readable only by its user, and gone however `serve` stops, even at
its very start (Ctrl-C or SIGTERM), with one line and no traceback."""

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glm_offline import control

CONTROL_FILE = re.compile(r"control-\d+")


@pytest.fixture
def control_dir(tmp_path, monkeypatch):
    folder = tmp_path / "control"
    monkeypatch.setenv("GLM_OFFLINE_CONTROL_DIR", str(folder))
    return folder


def token_files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# -- where and how the file is written ----------------------------------------------------------

def test_the_token_file_is_private_in_a_private_folder(control_dir):
    token = control.ControlToken("127.0.0.1", 8123)
    try:
        info = os.lstat(control_dir / "control-8123")
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert stat.S_IMODE(os.stat(control_dir).st_mode) == 0o700
        assert control.read_token_file(token.path)["token"] == token.value
        assert token_files(control_dir) == ["control-8123"]  # no temporary file left
    finally:
        token.remove()
    assert token_files(control_dir) == []


def test_a_folder_others_may_write_to_is_refused_and_nothing_is_written_through_it(
        tmp_path, monkeypatch, capfd):
    """In a shared writable folder anyone could plant the file (or a link where it will be
    written, here the old name of its temporary file) and read or redirect the token."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    victim = tmp_path / "victim.txt"
    victim.write_text("the victim's own text\n")
    (shared / f"control-8124.{os.getpid()}.tmp").symlink_to(victim)
    monkeypatch.setenv("GLM_OFFLINE_CONTROL_DIR", str(shared))
    token = control.ControlToken("127.0.0.1", 8124)
    assert token.path is None
    assert victim.read_text() == "the victim's own text\n"
    assert not (shared / "control-8124").exists()
    err = capfd.readouterr().err
    assert "cannot write the control token" in err and "writable by other users" in err
    assert err.count("\n") == 1


def test_a_folder_of_another_user_is_refused(control_dir, monkeypatch, capfd):
    control_dir.mkdir(mode=0o700)
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(control_dir).st_uid + 1)
    token = control.ControlToken("127.0.0.1", 8125)
    assert token.path is None and token_files(control_dir) == []
    assert "belongs to another user" in capfd.readouterr().err


def test_a_link_planted_where_the_file_goes_is_replaced_never_followed(control_dir, tmp_path):
    control_dir.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    (control_dir / "control-8126").symlink_to(victim)
    token = control.ControlToken("127.0.0.1", 8126)
    try:
        assert victim.read_text() == "untouched\n"
        assert not (control_dir / "control-8126").is_symlink()
    finally:
        token.remove()


@pytest.mark.parametrize("plant", ["symlink", "shared-folder"])
def test_the_fault_command_reads_no_planted_token_file(tmp_path, monkeypatch, plant):
    folder = tmp_path / "control"
    folder.mkdir(mode=0o700)
    real = tmp_path / "elsewhere.json"
    real.write_text('{"token": "planted", "address": "192.0.2.1", "pid": 1}')
    if plant == "symlink":
        (folder / "control-8127").symlink_to(real)
    else:
        (folder / "control-8127").write_text(real.read_text())
        folder.chmod(0o777)
    monkeypatch.setenv("GLM_OFFLINE_CONTROL_DIR", str(folder))
    with pytest.raises(control.ControlError) as caught:
        control.call(None, 8127, timeout=1)
    assert "192.0.2.1" not in str(caught.value)
    assert "\n" not in str(caught.value)


# -- a clean start and stop -------------------------------------------------------------------

def serve(control_folder):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHIPUAI_", "GLM_OFFLINE_"))}
    env["GLM_OFFLINE_CONTROL_DIR"] = str(control_folder)
    return subprocess.Popen([sys.executable, "-m", "glm_offline", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_token_file(folder, process, timeout=30):
    """Wait (looking as often as possible: the moment matters) for the token file."""
    deadline = time.monotonic() + timeout
    while not (folder.is_dir() and any(CONTROL_FILE.fullmatch(n) for n in token_files(folder))):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no token file in {folder} after {timeout} s"
        time.sleep(0.001)  # a look every millisecond: the moment matters, the core is shared


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM],
                         ids=["ctrl-c", "sigterm"])
def test_a_signal_the_moment_the_token_file_appears_leaves_nothing_behind(tmp_path,
                                                                          signal_number):
    folder = tmp_path / "control"
    process = serve(folder)
    try:
        wait_for_token_file(folder, process)
        process.send_signal(signal_number)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert token_files(folder) == []
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert process.returncode == 0, (out, err)
    assert out.endswith("Recorded GLM server stopped.\n")


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM],
                         ids=["ctrl-c", "sigterm"])
def test_a_signal_while_the_banner_is_printed_leaves_nothing_behind(tmp_path, signal_number):
    folder = tmp_path / "control"
    process = serve(folder)
    try:
        assert process.stdout.readline().startswith("Recorded GLM server listening on")
        process.send_signal(signal_number)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert token_files(folder) == []
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert out.endswith("Recorded GLM server stopped.\n")


def test_ctrl_c_before_the_server_starts_is_one_line(tmp_path):
    """The signal arrives while `serve` is still loading (the package is imported): one line."""
    folder = tmp_path / "control"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHIPUAI_", "GLM_OFFLINE_"))}
    env["GLM_OFFLINE_CONTROL_DIR"] = str(folder)
    # Python itself runs this: it imports the CLI, then is interrupted inside main().
    code = ("import os, signal, sys; from glm_offline import __main__ as cli; "
            "cli.raise_file_limit = lambda: os.kill(os.getpid(), signal.SIGINT); "
            "sys.exit(cli.main(['serve', '--port', '0']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=30, env=env, cwd=Path(__file__).resolve().parents[2])
    assert "Traceback" not in result.stderr, result.stderr
    assert token_files(folder) == []
    assert (result.stdout + result.stderr).strip().count("\n") == 0

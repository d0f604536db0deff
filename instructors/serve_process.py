"""Start `python -m glm_offline serve` as a separate process, for the tools that measure
or check a server the way a workshop room uses it."""

import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def start(options=(), python=sys.executable, timeout_s=15, host="127.0.0.1"):
    """Return (process, base_url, api_key) once the server has printed them."""
    command = [python, "-u", "-m", "glm_offline", "serve", "--host", host, "--port", "0",
               *options]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    for name in [name for name in env if name.startswith(("GLM_OFFLINE_", "ZHIPUAI_"))]:
        if name != "GLM_OFFLINE_CONTROL_DIR":  # where the `fault` command finds the token
            env.pop(name)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env, cwd=str(REPO))
    lines = queue.Queue()

    def pump():  # keep reading so the server never blocks on a full stdout pipe
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    found, seen = {}, []
    deadline = time.monotonic() + timeout_s
    while len(found) < 2:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            stop(process)
            raise RuntimeError("server printed no ZHIPUAI_BASE_URL/ZHIPUAI_API_KEY; output:\n"
                               + "".join(seen))
        seen.append(line)
        match = re.search(r"(ZHIPUAI_BASE_URL|ZHIPUAI_API_KEY)=(\S+)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return process, found["ZHIPUAI_BASE_URL"], found["ZHIPUAI_API_KEY"]


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

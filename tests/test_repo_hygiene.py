"""Repository-wide checks: notebook hygiene, and no secrets anywhere."""

import re
import subprocess
import sys
from pathlib import Path

import jwt

import glm_offline

ROOT = Path(__file__).resolve().parent.parent
# Shapes only: a real GLM key is 32 hex + "." + 16 alphanumerics; a JWT starts "eyJ".
REAL_KEY = re.compile(r"[0-9a-f]{32}\.[A-Za-z0-9]{16}")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", "node_modules"}


def repo_files():
    for path in ROOT.rglob("*"):
        if path.is_file() and not SKIP_DIRS & set(path.relative_to(ROOT).parts[:-1]) \
                and ".egg-info" not in str(path):
            yield path


def test_notebooks_pass_the_hygiene_script():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "notebook_hygiene.py")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_real_looking_api_key_in_the_repo():
    leaks = [f"{p.relative_to(ROOT)}: {m.group()[:6]}..." for p in repo_files()
             for m in REAL_KEY.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    assert not leaks


def test_every_jwt_in_the_repo_is_signed_with_the_offline_key():
    secret = glm_offline.split_key(glm_offline.OFFLINE_API_KEY)[1]
    tokens = [(p, m.group()) for p in repo_files()
              for m in JWT.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    for path, token in tokens:
        try:
            jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})
        except jwt.InvalidSignatureError:
            raise AssertionError(f"{path.relative_to(ROOT)} holds a JWT not signed with the "
                                 "offline key") from None


def test_secret_scan_recognises_what_it_looks_for():
    fake_key = "0123456789abcdef" * 2 + "." + "AbCdEfGh12345678"
    assert REAL_KEY.search(f"key = '{fake_key}'")
    foreign = jwt.encode({"api_key": "x"}, "another-secret-that-is-32-bytes-long!",
                         algorithm="HS256")
    assert JWT.search(foreign)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    assert len(commands) >= 2 and "jupyter lab notebooks" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[:2] == re.findall(r"```bash\n(.+?)\n```",
                                      (ROOT / "README_zh.md").read_text(encoding="utf-8"))[:2]

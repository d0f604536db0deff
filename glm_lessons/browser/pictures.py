"""The lessons' pictures for the browser edition, drawn under CPython at build time: each
lesson that draws one runs in-process (run.py) with GLM_LESSONS_PICTURES set, and plots.py
saves every picture it draws there, under a key of its function and arguments. The folder is
cached by a hash of what the pictures depend on (the lessons, plots.py, the recordings)."""

import hashlib
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..plots import PICTURES_ENV
from . import site


def drawing_lessons(root):
    return [path for path in site.edition_lessons(Path(root) / "notebooks")
            if "plots." in path.read_text(encoding="utf-8")]


def inputs_hash(root):
    root = Path(root)
    digest = hashlib.sha256()
    files = [*drawing_lessons(root), root / "glm_lessons" / "plots.py",
             *sorted((root / "glm_offline" / "cassettes").glob("*.json"))]
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def draw_all(root, cache):
    """The folder of pictures (key.png, key.txt), drawn now or taken from the cache."""
    from .run import run_in_process

    folder = Path(cache) / inputs_hash(root)
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = {PICTURES_ENV: str(folder), "GLM_OFFLINE_PACING": "instant"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda path: run_in_process(path, env), drawing_lessons(root)))
    (folder / "done").write_text("", encoding="utf-8")
    return folder

"""What a check compares of a lesson's outputs: what nbval compares (streams, text outputs,
an error's name; not images or HTML), sanitised as tests/nbval_sanitize.cfg says (which also
reads the in-process server's base URL, http://glm-offline.invalid/..., as a local server's
127.0.0.1:PORT, the edition's one deliberate difference), and
verdict(): whether a cell differs, or differs only as the edition's no-threads line explains."""

import configparser
import re
from pathlib import Path

from .threads import LINES as NO_THREADS_LINES

SANITIZE_CFG = Path(__file__).resolve().parents[2] / "tests" / "nbval_sanitize.cfg"
NO_THREADS = re.compile("^(?:" + "|".join(map(re.escape, NO_THREADS_LINES.values())) + ")\n",
                        re.MULTILINE)
NOT_COMPARED = {"image/png", "image/jpeg", "image/svg+xml", "text/html"}  # nbval's default


def sanitisers(cfg=SANITIZE_CFG):
    config = configparser.ConfigParser()
    config.read(cfg)
    return [(re.compile(section["regex"]), section["replace"])
            for name, section in config.items() if name != "DEFAULT"]


def exception_name(ename):
    """ipykernel's ename is the class's name; Pyodide's kernel gives str() of the class:
    "<class 'UnicodeDecodeError'>", "<class 'requests.exceptions.ReadTimeout'>"."""
    match = re.fullmatch(r"<class '(?:[\w.]+\.)?(\w+)'>", ename)
    return match.group(1) if match else ename


def comparable(outputs, rules=None):
    """A cell's outputs (nbformat dicts) as [(kind, text)], consecutive stream pieces of
    the same stream joined, every text sanitised."""
    rules = sanitisers() if rules is None else rules
    merged = []
    for output in outputs:
        if output["output_type"] == "stream":
            shown = [(output["name"], output["text"])]
        elif output["output_type"] == "error":
            shown = [("error", exception_name(output["ename"]))]
        else:
            shown = [(mime, value if isinstance(value, str) else "".join(value))
                     for mime, value in sorted(output.get("data", {}).items())
                     if mime not in NOT_COMPARED and not mime.startswith("application/")]
        for kind, text in shown:
            if merged and kind in ("stdout", "stderr") and merged[-1][0] == kind:
                merged[-1] = (kind, merged[-1][1] + text)
            else:
                merged.append((kind, text))
    result = []
    for kind, text in merged:
        for pattern, replace in rules:
            text = pattern.sub(replace, text)
        result.append((kind, text))
    return result


def verdict(stored, now, rules=None):
    """How a cell's outputs `now` compare with its `stored` ones: "same"; "explained" when the
    cell printed the edition's no-threads line (threads.LINES: its pool ran one call at a
    time, so what overlaps on a desktop did not, lesson 05's eight requests at once); or
    "different"."""
    stored, now = comparable(stored, rules), comparable(now, rules)
    if now == stored:
        return "same"
    said = any(kind == "stdout" and NO_THREADS.search(text) for kind, text in now)
    return "explained" if said else "different"

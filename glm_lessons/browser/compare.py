"""What a check compares of a lesson's outputs: what nbval compares (streams, text outputs,
an error's name; not images or HTML), sanitised as tests/nbval_sanitize.cfg says (which also
reads the in-process server's base URL, http://glm-offline.invalid/..., as a local server's
127.0.0.1:PORT, the edition's one deliberate difference), and
verdict(): whether a cell differs, or differs only as the edition's no-threads line explains
(no error, the same kinds of output in the same order, other text)."""

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
    """How a cell's outputs `now` compare with its `stored` ones: "same"; "explained" when
    they differ only as the edition's no-threads line (threads.LINES, printed in the cell)
    explains; or "different".

    The stand-in pool runs the calls one after the other, so what the cell prints about them
    (counts of refused and answered calls, how long they took, the order they ended in) may
    differ from a desktop's run in any way; what cannot is the shape of the output. So
    "explained" means: the line was printed (on a line of its own), and without it the cell
    shows no error and the same kinds of output in the same order as the stored ones; only
    their text differs."""
    stored, now = comparable(stored, rules), comparable(now, rules)
    if now == stored:
        return "same"
    said, rest = False, []
    for kind, text in now:
        if kind == "stdout":
            text, removed = NO_THREADS.subn("", text)
            said = said or removed > 0
            if not text:
                continue
        rest.append((kind, text))
    kinds = [kind for kind, _ in rest]
    if said and "error" not in kinds and kinds == [kind for kind, _ in stored]:
        return "explained"
    return "different"

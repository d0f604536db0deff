"""What the browser edition holds: which lessons, in which languages, and what opens first."""

from pathlib import Path

LANGUAGES = ("en", "zh")
SHIPPED = ("01", "02", "03", "04", "05", "06", "07", "08", "10")
DESKTOP_ONLY = {"09": {  # a lesson the browser cannot run, and the one line that says why
    "en": "needs the desktop setup: the official SDKs need compiled packages a browser "
          "cannot load",
    "zh": "需要桌面环境：官方 SDK 依赖的编译型软件包无法在浏览器中加载"}}
START_HERE = "00-start-here.ipynb"
# Lesson cells that run another program (subprocess): a browser cannot start one, and an
# in-process server cannot answer one. The lessons' thread pools (05, 08) need threads,
# which the browser lacks too, but run in-process under CPython.
RUNS_A_PROGRAM = {"10": "run_chat("}


def edition_lessons(notebooks):
    """The lesson notebooks the edition ships, English first, in lesson order."""
    notebooks = Path(notebooks)
    return [path for language in LANGUAGES
            for path in sorted((notebooks / language).glob("[0-9][0-9]-*.ipynb"))
            if path.name[:2] in SHIPPED or path.name == START_HERE]

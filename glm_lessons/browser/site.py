"""What the browser edition holds: which lessons, in which languages, and what opens first."""

import re
from pathlib import Path

from ..layout import START_HERE, lesson_paths

LANGUAGES = ("en", "zh")
SHIPPED = ("01", "02", "03", "04", "05", "06", "07", "08", "10")
DESKTOP_ONLY = {"09": {  # a lesson the browser cannot run, and the one line that says why
    "en": "needs the desktop setup: the official SDKs need compiled packages a browser "
          "cannot load",
    "zh": "需要桌面环境：官方 SDK 依赖的编译型软件包无法在浏览器中加载"}}
# Lesson cells that run another program (subprocess): a browser cannot start one, and an
# in-process server cannot answer one. The lessons' thread pools (05, 08) need threads, which
# the browser lacks too: there they run one call at a time and say so (threads.py).
RUNS_A_PROGRAM = {"10": "= run_chat("}  # the cells that run chat.py


def edition_lessons(notebooks):
    """The lesson notebooks the edition ships, English first, in lesson order."""
    notebooks = Path(notebooks)
    return [path for language in LANGUAGES
            for path in sorted((notebooks / language).glob("[0-9][0-9]-*.ipynb"))
            if path.name[:2] in SHIPPED or path.name == START_HERE]
TITLES = {"en": "GLM over HTTP: the browser edition", "zh": "用 HTTP 调用 GLM：浏览器版"}
INTRO = {
    "en": "Every lesson runs here, in your browser, against the recorded GLM server: nothing to "
          "install, no key, no network after this page has loaded.",
    "zh": "每一课都在浏览器里运行，由录制好的 GLM 服务器应答：无需安装，无需密钥，"
          "页面加载后不再需要网络。"}
START = {"en": "Start here", "zh": "从这里开始"}


def lesson_title(path):
    """A notebook's first Markdown heading, without the #."""
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def lesson_list(notebooks, language):
    """[(number, title, relative path or None, note)] for every lesson of a language (the
    start-here notebook is the page's "Start here" link, not a lesson)."""
    rows = []
    for path in lesson_paths(notebooks, language):
        number = path.name[:2]
        if number in DESKTOP_ONLY:
            rows.append((number, lesson_title(path), None, DESKTOP_ONLY[number][language]))
        elif number in SHIPPED:
            rows.append((number, lesson_title(path), f"notebooks/{language}/{path.name}", ""))
    return rows


LESSON_LINK = re.compile(r"\[([^\]]+)\]\((\d\d)-[\w-]*\.ipynb(?:#[^)]*)?\)")


def without_desktop_only_links(markdown, language):
    """A Markdown link to a lesson the edition does not ship becomes its text and the line
    saying it needs the desktop setup (the start-here page lists every lesson)."""
    def replace(match):
        note = DESKTOP_ONLY.get(match.group(2))
        if note is None:
            return match.group(0)
        return f"{match.group(1)} ({note[language]})" if language == "en" \
            else f"{match.group(1)}（{note[language]}）"
    return LESSON_LINK.sub(replace, markdown)


def first_notebook(files):
    """What opens first: the start-here notebook if the course has one, else lesson 01."""
    for name in (START_HERE, "01-"):
        found = sorted((Path(files) / "notebooks" / "en").glob(name + "*"))
        if found:
            return found[0].relative_to(files).as_posix()
    raise FileNotFoundError("no lesson to open first")


def index_markdown(notebooks):
    lines = []
    for language in LANGUAGES:
        lines += [f"# {TITLES[language]}", "", INTRO[language], ""]
        if (Path(notebooks) / language / START_HERE).exists():
            lines += [f"[{START[language]}](notebooks/{language}/{START_HERE})", ""]
        for _number, title, path, note in lesson_list(notebooks, language):
            lines.append(f"- [{title}]({path})" if path else f"- {title}: {note}")
        lines.append("")
    return "\n".join(lines)


def open_url(path):
    return "lab/index.html?path=" + path


def index_html(notebooks, first):
    """The site's front page: both languages' lessons, each a link that opens it."""
    import html

    parts = []
    for language in LANGUAGES:
        first_here = first.replace("/en/", f"/{language}/")
        items = []
        for _number, title, path, note in lesson_list(notebooks, language):
            if path:
                items.append(f'<li><a href="{open_url(path)}">{html.escape(title)}</a></li>')
            else:
                items.append(f"<li>{html.escape(title)}: {html.escape(note)}</li>")
        parts.append(
            f'<section lang="{language}"><h2>{html.escape(TITLES[language])}</h2>'
            f"<p>{html.escape(INTRO[language])}</p>"
            f'<p><a class="start" href="{open_url(first_here)}">{START[language]}</a></p>'
            f"<ol>{''.join(items)}</ol></section>")
    # JupyterLite's pages read the configuration chain up to this page's (empty) config
    # script; without data-jupyter-lite-root this page stays, rather than opening the app.
    config = '<script id="jupyter-config-data" type="application/json">{}</script>'
    return ("<!doctype html><html><head><meta charset=\"utf-8\">" + config + "<title>"
            f"{html.escape(TITLES['en'])}</title><style>body{{font-family:sans-serif;"
            "max-width:46em;margin:2em auto;line-height:1.5}ol{padding-left:1.2em}"
            ".start{font-weight:bold}</style></head><body>" + "".join(parts)
            + "</body></html>\n")

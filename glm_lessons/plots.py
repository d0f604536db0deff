"""Pictures for the lessons, drawn from the lessons' own data: recorded event gaps, injected
clocks and seeded random sources, never the wall clock, so a picture is the same on every run.

    from glm_lessons import plots

    plots.stream_timeline("lesson03-stream-en", language="en")

Each function returns a Picture. Jupyter shows it from one display bundle: text/html, an
<img> with the PNG inline and alt text in the lesson's language that says what the picture
shows (what JupyterLab, GitHub, nbviewer, VS Code and an HTML export render, and a screen
reader reads); image/png, the same PNG (what a viewer without HTML shows; JupyterLab picks it
for a notebook it does not trust yet); and text/plain, the alt text itself, computed from the
same data as the picture, so a fresh run prints the same line. matplotlib is imported on
first use and drawn with its Agg renderer, without pyplot, so the lessons' pictures never
change a learner's own plot settings.
Chinese labels need a font with the glyphs: the noto-cjk-sans-otc package (Noto Sans CJK,
SIL Open Font License 1.1) is registered here; without such a font the labels fall back to
English, and one line says so.

The browser edition has no matplotlib: there each function shows the picture drawn from the
same arguments when the edition was built (glm_lessons/browser/pictures.py runs the lessons
under CPython with GLM_LESSONS_PICTURES set, and every picture drawn is saved under a key made
of its function and arguments: KEY.png, its title in KEY.txt and its alt text in KEY.alt.txt),
in the same display bundle.
"""

import base64
import bisect
import functools
import hashlib
import html
import itertools
import os
import sys
from pathlib import Path

from glm_offline.cassettes import PACKAGE_CASSETTES, Library
from glm_offline.wire import event_chunk

FIGSIZE = (10, 3.5)  # inches: wide and short, readable on a projector
DPI = 90
FONT_SIZE = 13
PNG_COLOURS = 64
MARGINS = {"left": 0.14, "right": 0.98, "bottom": 0.17, "top": 0.89}  # of the figure
# Fonts with Simplified Chinese glyphs, best first: Noto Sans CJK SC is in noto-cjk-sans-otc
# (matplotlib >= 3.11 reads its collection by face); older matplotlib reads only the file's
# first face, Noto Sans CJK JP, which has every glyph but draws a few in Japanese forms.
CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
                "WenQuanYi Zen Hei", "Noto Sans CJK JP")
REASONING, ANSWER, LIMIT = "#8c8c8c", "#1f77b4", "#d62728"
# Printed (once) when a Chinese lesson asks for a picture and no CJK font is there.
NO_CJK_FONT = "（图中的中文需要字体：pip install noto-cjk-sans-otc；这里先用英文标签）"
NO_MATPLOTLIB = "the lessons' pictures need matplotlib: pip install -r requirements.txt"

LABELS = {
    "en": {
        "reasoning": "reasoning", "answer": "answer",
        "stream_title": "When the pieces of an answer arrive",
        "streamed": "stream=True", "whole": "without\nstream=True",
        "first_bytes": "first bytes", "all_at_once": "everything at once",
        "ms": "milliseconds after the request (the recording's gaps)",
        "thinking_title": "A thinking model: first the reasoning, then the answer",
        "characters": "characters so far",
        "seconds_recording": "seconds after the request (the recording's gaps)",
        "first_answer": "first piece of the answer",
        "retry_title": "Retries with full jitter: each lands somewhere in its window",
        "first_try": "first try", "retry": "retry {n}", "window": "jitter window",
        "sent": "retry sent", "not_sent": "not sent (past the deadline)",
        "deadline": "deadline", "cap": "cap {cap:g} s",
        "seconds": "seconds after the first failure",
        "room_title": "{clients} clients fail together, then retry",
        "no_jitter": "no jitter: all at the same moments",
        "full_jitter": "full jitter: spread out",
        "per_bucket": "requests per {bucket:g} s",
        "token_title": "One cached token at a time, renewed before it expires",
        "token": "token {n}", "in_use": "in use", "spare": "still valid, not used",
        "call": "a call", "seconds_clock": "seconds on the injected clock",
    },
    "zh": {
        "reasoning": "推理内容", "answer": "回答",
        "stream_title": "回答的各个片段何时到达",
        "streamed": "stream=True", "whole": "不加\nstream=True",
        "first_bytes": "最先到达的字节", "all_at_once": "全部一次到达",
        "ms": "请求发出后的毫秒数（按录制的间隔）",
        "thinking_title": "思考模型：先是推理内容，然后才是回答",
        "characters": "已到达的字符数",
        "seconds_recording": "请求发出后的秒数（按录制的间隔）",
        "first_answer": "回答的第一个片段",
        "retry_title": "带完全抖动的重试：每次重试落在各自窗口内的某个时刻",
        "first_try": "首次请求", "retry": "第 {n} 次重试", "window": "抖动窗口",
        "sent": "已发出的重试", "not_sent": "未发出（已过截止时间）",
        "deadline": "截止时间", "cap": "上限 {cap:g} 秒",
        "seconds": "首次失败后的秒数",
        "room_title": "{clients} 个客户端同时失败，然后重试",
        "no_jitter": "不加抖动：全都挤在同一时刻",
        "full_jitter": "完全抖动：分散开来",
        "per_bucket": "每 {bucket:g} 秒的请求数",
        "token_title": "同一时间只缓存一个令牌，过期前就换新",
        "token": "令牌 {n}", "in_use": "使用中", "spare": "仍有效，但已不再使用",
        "call": "一次调用", "seconds_clock": "注入时钟上的秒数",
    },
}


# What each picture shows, for a reader who cannot see it (alt text), in the lesson's
# language; filled in from the picture's own data.
ALT = {
    "en": {
        "stream": "Timeline of a recorded streamed answer: {reasoning} pieces of reasoning "
                  "(grey) arrive from {first} ms, then {answer} pieces of the answer (blue) "
                  "until {end} ms. Read without stream=True, the same answer arrives all at "
                  "once, at {end} ms.",
        "thinking": "Step chart of the characters received over time: the reasoning (grey) "
                    "grows to {reasoning} characters first; the answer (blue) starts only at "
                    "{first:.1f} s and grows to {answer} characters by {end:.1f} s.",
        "retry": "Timeline of {count} retries after a failure at 0 s: their jitter windows "
                 "double from {first:g} s up to the cap of {cap:g} s. {sent} retries go out "
                 "before the deadline at {deadline:g} s (at {times} s); not sent, as they would "
                 "go out after it: {late}.",
        "room": "Two histograms of {clients} clients that fail at the same moment and retry "
                "{retries} times each. Without jitter, each round of retries arrives in the same "
                "{bucket:g} s: {peak} requests at once. With full jitter the same {total} requests "
                "are spread out, at most {spread_peak} in any {bucket:g} s.",
        "token": "Timeline of {count} tokens from one cache on an injected clock: each token "
                 "is used until the next one replaces it, at {renewals} s, while it still has "
                 "{left} s left before it expires; each of the {calls} calls gets the newest one.",
    },
    "zh": {
        "stream": "一条录制的流式回答的时间线：{reasoning} 段推理内容（灰色）从第 {first} 毫秒开始"
                  "到达，随后 {answer} 段回答（蓝色）一直到第 {end} 毫秒。不加 stream=True 时，"
                  "同样的回答要到第 {end} 毫秒才一次性全部到达。",
        "thinking": "阶梯图，显示已收到的字符数随时间的变化：推理内容（灰色）先增长到 {reasoning} "
                    "个字符；回答（蓝色）到 {first:.1f} 秒才开始，{end:.1f} 秒时增长到 {answer} "
                    "个字符。",
        "retry": "一次失败（0 秒）之后 {count} 次重试的时间线：抖动窗口从 {first:g} 秒起逐次翻倍，"
                 "最多到上限 {cap:g} 秒。{sent} 次重试在截止时间 {deadline:g} 秒之前发出"
                 "（分别在 {times} 秒）；另外 {late} 次会落在截止时间之后，所以不发。",
        "room": "两张直方图：{clients} 个客户端在同一时刻失败，各重试 {retries} 次。不加抖动时，"
                "每一轮重试都挤在同一个 {bucket:g} 秒里，一下子来 {peak} 个请求；加上完全抖动，"
                "同样的 {total} 个请求被分散开，任何 {bucket:g} 秒内最多 {spread_peak} 个。",
        "token": "同一个缓存在注入时钟上先后给出的 {count} 个令牌的时间线：每个令牌一直用到下一个"
                 "令牌接替它（在第 {renewals} 秒），接替时它离过期还有 {left} 秒；{calls} 次调用"
                 "拿到的都是当时最新的令牌。",
    },
}


def _language(language):
    if language not in LABELS:
        raise ValueError(f"language must be one of {sorted(LABELS)}, not {language!r}")
    return language


def _alt(language, key, **values):
    """The alt text `key` in `language` (always that language: it needs no font)."""
    return ALT[_language(language)][key].format(**values)


def _bin_counts(values, edges):
    """How many values fall in each bin, as matplotlib's hist counts them: [left, right),
    the last bin [left, right]."""
    counts = [0] * (len(edges) - 1)
    for value in values:
        counts[min(bisect.bisect_right(edges, value) - 1, len(counts) - 1)] += 1
    return counts


def _seconds(language, values):
    """A list of seconds as text, "0.5, 1.5" ("0.5、1.5"): the same on every run."""
    return {"en": ", ", "zh": "、"}[_language(language)].join(f"{value:g}" for value in values)


class Picture:
    """A drawn figure: Jupyter shows it from _repr_mimebundle_ (the PNG, with alt text);
    save(path) writes the PNG; .figure is matplotlib's, .alt what the picture shows."""

    def __init__(self, figure, title, png, alt):
        self.figure, self.title, self.png, self.alt = figure, title, png, alt

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = base64.b64encode(self.png).decode("ascii")
        image = f'<img alt="{html.escape(self.alt)}" src="data:image/png;base64,{data}">'
        return {"text/html": image, "image/png": data, "text/plain": self.alt}

    def __repr__(self):
        return f"<plot: {self.title}>"

    def save(self, path):
        with open(path, "wb") as file:
            file.write(self.png)


# -- data ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _library():
    return Library.from_dirs([PACKAGE_CASSETTES])


def recorded_stream(name):
    """The events of the recorded stream `name` (a packaged cassette's interaction), as
    (milliseconds after the request, kind, text): kind is "reasoning", "answer" or "other"
    (the final chunk, [DONE]). The times add up the recording's event_delays_ms: the gap
    before each event, as the server waits it (offline replay shortens a long stream)."""
    found = [i for i in _library().interactions if i.name == name]
    if not found or "sse" not in found[0].response:
        streams = sorted(i.name for i in _library().interactions if "sse" in i.response)
        raise ValueError(f"no recorded stream named {name!r}; streams: {', '.join(streams)}")
    reply = found[0].reply()
    rows = []
    for at_ms, lines in zip(itertools.accumulate(reply.delays_ms), reply.events):
        choices = (event_chunk(lines) or {}).get("choices") or [{}]
        delta = choices[0].get("delta") or {}
        if delta.get("reasoning_content"):
            rows.append((at_ms, "reasoning", delta["reasoning_content"]))
        elif delta.get("content"):
            rows.append((at_ms, "answer", delta["content"]))
        else:
            rows.append((at_ms, "other", ""))
    return rows


# -- drawing helpers -------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _cjk_font():
    """The best of CJK_FAMILIES that matplotlib has (from noto-cjk-sans-otc or the system)."""
    try:
        from matplotlib import font_manager
    except ImportError:
        raise ModuleNotFoundError(NO_MATPLOTLIB) from None
    try:
        import noto_cjk_sans_otc
        font_manager.fontManager.addfont(str(noto_cjk_sans_otc.FONT_PATH))
    except (ImportError, OSError, RuntimeError):
        pass
    names = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in names), None)


_warned = []


def _labels(language):
    """The labels in `language`, or in English (said once) when no CJK font is there."""
    if _language(language) == "zh" and _cjk_font() is None:
        if not _warned:
            print(NO_CJK_FONT)
            _warned.append(True)
        language = "en"
    return language, LABELS[language]


def _draw(language, alt, draw, rows=1, columns=1, margins=None, **options):
    """A figure in the lessons' style, filled by `draw(figure, axes, labels)`, which returns
    the title; the figure is drawn to PNG in the same style (rc values only for it), and
    shown with `alt` as its alt text.
    Fixed margins (MARGINS, or `margins`): a layout engine would draw everything twice."""
    import io

    try:
        import matplotlib
    except ImportError:
        raise ModuleNotFoundError(NO_MATPLOTLIB) from None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    language, labels = _labels(language)
    family = [_cjk_font(), "DejaVu Sans"] if language == "zh" else ["DejaVu Sans"]
    style = {"font.size": FONT_SIZE, "font.family": family, "axes.unicode_minus": False,
             "axes.spines.top": False, "axes.spines.right": False}
    with matplotlib.rc_context(style):
        figure = Figure(figsize=FIGSIZE, dpi=DPI)
        figure.subplots_adjust(**{**MARGINS, **(margins or {})})
        FigureCanvasAgg(figure)
        title = draw(figure, figure.subplots(rows, columns, **options), labels)
        drawn = io.BytesIO()
        figure.savefig(drawn, format="png", dpi=DPI, metadata={"Software": None})
    return Picture(figure, title, _small_png(drawn), alt)


def _small_png(drawn):
    """The PNG with a palette of PNG_COLOURS: a quarter of the bytes in a notebook, and
    plain charts look the same (Pillow comes with matplotlib)."""
    import io

    from PIL import Image

    drawn.seek(0)
    small = io.BytesIO()
    with Image.open(drawn) as image:
        palette = image.convert("RGB").quantize(PNG_COLOURS, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE)
        palette.save(small, format="PNG", optimize=True)
    return small.getvalue()


# -- drawn here, or drawn when the browser edition was built -------------------------------
PICTURES_ENV = "GLM_LESSONS_PICTURES"  # a folder: save every picture drawn there (build time)
SHIPPED = Path(__file__).resolve().parent / "pictures"  # in the browser edition's wheel
NOT_SHIPPED = {  # a picture the browser edition was not given, in the lesson's language
    "en": "(the browser edition has no picture drawn for these values; the desktop setup "
          "draws it)",
    "zh": "（浏览器版没有为这组数值预先画好的图；在电脑上安装的版本会画出来）",
}


def picture_key(name, args, kwargs):
    """The same on CPython and in the browser for the same arguments (their repr)."""
    text = repr((name, args, sorted(kwargs.items())))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class ShippedPicture(Picture):
    """A picture drawn at build time (no matplotlib figure), shown as a drawn one is."""


def _drawn_or_shipped(function):
    @functools.wraps(function)
    def picture(*args, **kwargs):
        key = picture_key(function.__name__, args, kwargs)
        if sys.platform == "emscripten":
            if not (SHIPPED / f"{key}.png").exists():
                print(NOT_SHIPPED.get(kwargs.get("language", "en"), NOT_SHIPPED["en"]))
                return None
            title = (SHIPPED / f"{key}.txt").read_text(encoding="utf-8")
            alt = SHIPPED / f"{key}.alt.txt"
            return ShippedPicture(None, title, (SHIPPED / f"{key}.png").read_bytes(),
                                  alt.read_text(encoding="utf-8") if alt.exists() else title)
        drawn = function(*args, **kwargs)
        folder = os.environ.get(PICTURES_ENV)
        if folder:
            Path(folder, f"{key}.png").write_bytes(drawn.png)
            Path(folder, f"{key}.txt").write_text(drawn.title, encoding="utf-8")
            Path(folder, f"{key}.alt.txt").write_text(drawn.alt, encoding="utf-8")
        return drawn
    return picture


# -- the pictures ----------------------------------------------------------------------------
@_drawn_or_shipped
def stream_timeline(recording, language="en"):
    """Lesson 03: each event of a recorded stream at the moment it is written, against the
    one moment a response read without stream=True hands everything over: the last."""
    events = recorded_stream(recording)
    kinds = [what for _, what, _ in events]
    alt = _alt(language, "stream", reasoning=kinds.count("reasoning"), first=events[0][0],
               answer=kinds.count("answer"), end=events[-1][0])

    def draw(figure, axes, labels):
        end = events[-1][0]
        for kind, colour in (("reasoning", REASONING), ("answer", ANSWER)):
            times = [at for at, what, _ in events if what == kind]
            axes.scatter(times, [1] * len(times), marker="|", s=500, color=colour,
                         label=labels[kind])
        axes.barh(0, end, height=0.35, color="#eeeeee", edgecolor="#bbbbbb")
        axes.scatter([end], [0], marker="s", s=160, color=ANSWER, zorder=3)
        axes.annotate(labels["first_bytes"], (events[0][0], 1), (events[0][0], 1.45),
                      ha="center", arrowprops={"arrowstyle": "->"})
        axes.annotate(labels["all_at_once"], (end, 0), (end * 0.7, -0.6), ha="right",
                      va="center", arrowprops={"arrowstyle": "->"})
        axes.set(yticks=[0, 1], yticklabels=[labels["whole"], labels["streamed"]],
                 ylim=(-0.9, 1.8), xlim=(0, end * 1.05), xlabel=labels["ms"])
        axes.legend(loc="upper right", ncols=2, frameon=False)
        axes.set_title(labels["stream_title"])
        return labels["stream_title"]

    return _draw(language, alt, draw)


@_drawn_or_shipped
def thinking_timeline(recording, language="en"):
    """Lesson 04: how many characters of reasoning and of answer have arrived, over time."""
    events = recorded_stream(recording)
    alt = _alt(language, "thinking",
               reasoning=sum(len(text) for _, what, text in events if what == "reasoning"),
               answer=sum(len(text) for _, what, text in events if what == "answer"),
               first=next(at for at, what, _ in events if what == "answer") / 1000,
               end=events[-1][0] / 1000)

    def draw(figure, axes, labels):
        for kind, colour in (("reasoning", REASONING), ("answer", ANSWER)):
            times = [0] + [at / 1000 for at, _, _ in events]
            counts = [0] + list(itertools.accumulate(
                len(text) if what == kind else 0 for _, what, text in events))
            axes.step(times, counts, where="post", color=colour, linewidth=2.5,
                      label=labels[kind])
        first_answer = next(at / 1000 for at, what, _ in events if what == "answer")
        axes.axvline(first_answer, color=ANSWER, linestyle=":")
        axes.text(first_answer, axes.get_ylim()[1] * 0.5, labels["first_answer"] + " ",
                  ha="right", va="center", color=ANSWER)
        axes.set(xlabel=labels["seconds_recording"], ylabel=labels["characters"], xlim=(0, None),
                 ylim=(0, None))
        axes.legend(loc="upper left", frameon=False)
        axes.set_title(labels["thinking_title"])
        return labels["thinking_title"]

    return _draw(language, alt, draw)


@_drawn_or_shipped
def retry_timeline(delays, ceilings, deadline, language="en"):
    """Lesson 05: a request that keeps failing, and its retries: retry n may land anywhere
    in its window, from the failure before it to that plus its ceiling; `delays` are where
    they did land (from backoff_delays), `ceilings` the windows' widths; retries that
    would go out after `deadline` (seconds after the first failure) are not sent."""
    if len(delays) != len(ceilings):
        raise ValueError(f"one ceiling per delay: {len(delays)} delays, {len(ceilings)} ceilings")
    sent_at = [at for at in itertools.accumulate(delays) if at <= deadline]
    alt = _alt(language, "retry", count=len(delays), first=ceilings[0], cap=max(ceilings),
               sent=len(sent_at), times=_seconds(language, (round(at, 2) for at in sent_at)),
               deadline=deadline, late=len(delays) - len(sent_at))

    def draw(figure, axes, labels):
        starts = [0, *itertools.accumulate(delays)][:-1]
        sends = list(itertools.accumulate(delays))
        axes.scatter([0], [0], s=90, color="black")
        axes.barh(range(1, len(delays) + 1), ceilings, left=starts, height=0.5,
                  color=ANSWER, alpha=0.2, label=labels["window"])
        sent = [(n, at) for n, at in enumerate(sends, 1) if at <= deadline]
        late = [(n, at) for n, at in enumerate(sends, 1) if at > deadline]
        for points, style in ((sent, {"color": ANSWER, "label": labels["sent"]}),
                              (late, {"color": REASONING, "marker": "x",
                                      "label": labels["not_sent"]})):
            if points:
                axes.scatter([at for _, at in points], [n for n, _ in points], s=90, **style)
        axes.axvline(deadline, color=LIMIT, linestyle="--")
        axes.text(deadline, -0.6, " " + labels["deadline"], color=LIMIT, va="top")
        cap = max(ceilings)
        capped = [n for n, ceiling in enumerate(ceilings, 1) if ceiling == cap]
        axes.text(starts[capped[0] - 1] + cap / 2, capped[0] + 0.35, labels["cap"].format(cap=cap),
                  ha="center", va="bottom", color=ANSWER)
        ticks = [labels["first_try"], *(labels["retry"].format(n=n)
                                        for n in range(1, len(delays) + 1))]
        axes.set(yticks=range(len(ticks)), yticklabels=ticks, xlabel=labels["seconds"],
                 xlim=(-0.3, max(deadline, starts[-1] + ceilings[-1]) * 1.05),
                 ylim=(len(delays) + 0.7, -0.7))
        axes.legend(loc="upper right", frameon=False)
        axes.set_title(labels["retry_title"])
        return labels["retry_title"]

    return _draw(language, alt, draw)


@_drawn_or_shipped
def retry_room(without_jitter, with_jitter, bucket=0.25, language="en"):
    """Lesson 05: many clients that failed at the same moment; each list holds, per client,
    the times (seconds after the failure) of its retries. Requests per time bucket."""
    every = [t for times in without_jitter + with_jitter for t in times]
    edges = [bucket * n for n in range(int(max(every) / bucket) + 2)]
    peaks = [max(_bin_counts([t for times in room for t in times], edges))
             for room in (without_jitter, with_jitter)]
    alt = _alt(language, "room", clients=len(with_jitter),
               retries=max(len(times) for times in with_jitter), bucket=bucket, peak=peaks[0],
               total=sum(len(times) for times in with_jitter), spread_peak=peaks[1])

    def draw(figure, axes, labels):
        title = labels["room_title"].format(clients=len(with_jitter))
        for axis, room, name in ((axes[0], without_jitter, "no_jitter"),
                                 (axes[1], with_jitter, "full_jitter")):
            axis.hist([t for times in room for t in times], bins=edges,
                      color=LIMIT if name == "no_jitter" else ANSWER)
            axis.set(title=labels[name], xlabel=labels["seconds"])
        axes[0].set_ylabel(labels["per_bucket"].format(bucket=bucket))
        figure.suptitle(title)
        return title

    return _draw(language, alt, draw, 1, 2, {"left": 0.08, "top": 0.8, "wspace": 0.08}, sharey=True)


@_drawn_or_shipped
def token_renewals(calls, language="en"):
    """Lesson 01: `calls` are (seconds, token) pairs, the token a TokenCache gave at that
    moment of its injected clock. Each token's life is read from its own claims (timestamp
    and exp, in milliseconds): the part while it was in use, the part left unused."""
    import jwt

    if not calls:
        raise ValueError("calls is empty: give (seconds, token) pairs")
    tokens = list(dict.fromkeys(token for _, token in calls))
    lives = [jwt.decode(token, options={"verify_signature": False}) for token in tokens]
    zero = lives[0]["timestamp"] / 1000 - calls[0][0]
    renewed = [claims["timestamp"] / 1000 - zero for claims in lives[1:]]
    left = [claims["exp"] / 1000 - zero - at for claims, at in zip(lives, renewed)]
    alt = _alt(language, "token", count=len(tokens), renewals=_seconds(language, renewed) or "-",
               left=_seconds(language, sorted(set(left))) or "-", calls=len(calls))

    def draw(figure, axes, labels):
        for n, claims in enumerate(lives):
            made, expires = claims["timestamp"] / 1000 - zero, claims["exp"] / 1000 - zero
            replaced = lives[n + 1]["timestamp"] / 1000 - zero if n + 1 < len(lives) else None
            used_until = replaced if replaced is not None else calls[-1][0]
            axes.barh(n, used_until - made, left=made, height=0.5, color=ANSWER,
                      label=labels["in_use"] if n == 0 else None)
            axes.barh(n, expires - used_until, left=used_until, height=0.5, color=ANSWER,
                      alpha=0.25, label=labels["spare"] if n == 0 else None)
        rows = [tokens.index(token) for _, token in calls]
        axes.scatter([at for at, _ in calls], rows, color="black", s=25, zorder=3,
                     label=labels["call"])
        axes.set(yticks=range(len(tokens)),
                 yticklabels=[labels["token"].format(n=n) for n in range(1, len(tokens) + 1)],
                 ylim=(len(tokens) - 0.4, -0.9), xlabel=labels["seconds_clock"])
        axes.legend(loc="upper right", ncols=3, frameon=False)
        axes.set_title(labels["token_title"])
        return labels["token_title"]

    return _draw(language, alt, draw)

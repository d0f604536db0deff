"""The lessons' pictures (glm_lessons/plots.py): drawn from recordings, injected clocks and
seeded random sources, so the same on every run; readable sizes; Chinese labels in a font
that has the glyphs, or English labels and one line when there is none."""

import base64
import configparser
import html
import json
import random
import re
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import glm_offline
from glm_client import TokenCache, backoff_delays
from glm_lessons import plots

CASSETTES = Path(glm_offline.__file__).parent / "cassettes"
ROOT = Path(__file__).resolve().parents[2]


def png_size(png):
    """(width, height) from a PNG's IHDR chunk."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", png[16:24])


def labels_of(picture):
    axes = picture.figure.axes[0]
    return [text.get_text() for text in axes.get_legend().get_texts()]


@pytest.fixture(scope="module")
def stream_pictures():
    return [plots.stream_timeline("lesson03-stream-en") for _ in range(2)]


def test_a_recorded_stream_is_read_with_its_recorded_gaps():
    data = json.loads((CASSETTES / "lesson-03.json").read_text(encoding="utf-8"))
    recording = next(i for i in data["interactions"] if i["name"] == "lesson03-stream-en")
    gaps = recording["response"]["event_delays_ms"]
    events = plots.recorded_stream("lesson03-stream-en")
    assert len(events) == len(gaps)
    assert events[0] == (gaps[0], "reasoning", "The")  # the lesson prints this first delta
    assert events[-1] == (sum(gaps), "other", "")  # data: [DONE]
    answer = [text for _, kind, text in events if kind == "answer"]
    assert "".join(answer).startswith("Streaming shows the first words")
    kinds = [kind for _, kind, _ in events]
    assert kinds.index("answer") > kinds.index("reasoning")  # reasoning first
    assert "reasoning" not in kinds[kinds.index("answer"):]


def test_an_unknown_recording_is_a_clear_error():
    with pytest.raises(ValueError, match="no recorded stream named 'lesson99'.*lesson03-stream-en"):
        plots.recorded_stream("lesson99")


def test_a_json_recording_is_not_a_stream():
    data = json.loads((CASSETTES / "lesson-04.json").read_text(encoding="utf-8"))
    name = next(i["name"] for i in data["interactions"] if "json" in i["response"])
    with pytest.raises(ValueError, match="no recorded stream named"):
        plots.recorded_stream(name)


def test_a_picture_is_a_png_of_projector_size_with_a_stable_text_form(stream_pictures):
    picture = stream_pictures[0]
    assert png_size(picture.png) == (900, 315)  # 10 x 3.5 inches at 90 dpi
    assert len(picture.png) < 20_000  # a palette PNG: small in a notebook
    assert repr(picture) == "<plot: When the pieces of an answer arrive>"
    assert labels_of(picture) == ["reasoning", "answer"]


def test_the_same_data_draws_the_same_bytes(stream_pictures):
    first, second = stream_pictures
    assert first.png == second.png


def test_save_writes_the_png(stream_pictures, tmp_path):
    stream_pictures[0].save(tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes() == stream_pictures[0].png


def test_the_font_from_requirements_is_registered_and_its_chinese_face_chosen():
    import matplotlib
    import noto_cjk_sans_otc as noto  # in requirements.txt: a missing font fails here
    from matplotlib import font_manager

    plots._cjk_font()
    registered = {str(font.fname) for font in font_manager.fontManager.ttflist}
    assert str(noto.FONT_PATH) in registered
    if tuple(int(n) for n in matplotlib.__version__.split(".")[:2]) >= (3, 11):
        assert plots._cjk_font() == "Noto Sans CJK SC"  # its Simplified Chinese face
    else:
        assert plots._cjk_font() in plots.CJK_FAMILIES


def test_chinese_labels_are_drawn_with_a_font_that_has_the_glyphs(capsys):
    assert plots._cjk_font() is not None, "no CJK font: pip install -r requirements.txt"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        picture = plots.thinking_timeline("lesson04-stream-zh", language="zh")
    assert repr(picture) == "<plot: 思考模型：先是推理内容，然后才是回答>"
    assert labels_of(picture) == ["推理内容", "回答"]
    assert capsys.readouterr().out == ""


def test_without_a_cjk_font_the_labels_are_english_and_one_line_says_so(monkeypatch, capsys):
    monkeypatch.setattr(plots, "_cjk_font", lambda: None)
    monkeypatch.setattr(plots, "_warned", [])
    labels = [plots._labels("zh") for _ in range(2)]
    assert labels == [("en", plots.LABELS["en"])] * 2
    assert capsys.readouterr().out == plots.NO_CJK_FONT + "\n"  # once, not per picture


def test_an_unknown_language_is_a_clear_error():
    with pytest.raises(ValueError, match="language must be one of \\['en', 'zh'\\], not 'fr'"):
        plots.stream_timeline("lesson03-stream-en", language="fr")


def test_retries_past_the_deadline_are_drawn_as_not_sent():
    ceilings = list(backoff_delays(attempts=4, rng=lambda: 1.0))  # 0.5, 1, 2, 4
    assert ceilings == [0.5, 1.0, 2.0, 4.0]
    picture = plots.retry_timeline([0.5, 1.0, 2.0, 4.0], ceilings, deadline=3)
    # retries at 0.5, 1.5, 3.5, 7.5 s: two before the deadline, two after it
    sent, late = [c.get_offsets() for c in picture.figure.axes[0].collections[1:3]]
    assert [x for x, _ in sent] == [0.5, 1.5] and [x for x, _ in late] == [3.5, 7.5]
    assert labels_of(picture) == ["retry sent", "not sent (past the deadline)", "jitter window"]


def test_retry_timeline_needs_one_ceiling_per_delay():
    with pytest.raises(ValueError, match="one ceiling per delay: 2 delays, 1 ceilings"):
        plots.retry_timeline([0.1, 0.2], [0.5], deadline=3)


def test_the_room_counts_every_retry_of_every_client():
    rng = random.Random(7).random
    without = [[0.5, 1.5, 3.5] for _ in range(10)]
    spread = [[rng() * 0.5, 1 + rng(), 2 + rng() * 2] for _ in range(10)]
    picture = plots.retry_room(without, spread, bucket=0.25)
    left, right = picture.figure.axes
    assert sum(bar.get_height() for bar in left.patches) == 30
    assert sum(bar.get_height() for bar in right.patches) == 30
    assert max(bar.get_height() for bar in left.patches) == 10  # all ten at the same moment
    assert repr(picture) == "<plot: 10 clients fail together, then retry>"


def token_calls():
    """A call every 20 s for 10 minutes through a cache of 210 s tokens renewed 30 s early."""
    now = [1_795_593_600]
    cache = TokenCache(glm_offline.OFFLINE_API_KEY, ttl_seconds=210, renew_before=30,
                       clock=lambda: now[0])
    calls = []
    for seconds in range(0, 601, 20):
        now[0] = 1_795_593_600 + seconds
        calls.append((seconds, cache.token()))
    return calls


def test_token_renewals_reads_each_token_life_from_its_claims():
    picture = plots.token_renewals(token_calls())
    axes = picture.figure.axes[0]
    # renewed at 180, 360 and 540 s (210 - 30 after each): four tokens
    assert [t.get_text() for t in axes.get_yticklabels()] == [f"token {n}" for n in range(1, 5)]
    in_use = [(bar.get_x(), bar.get_width()) for bar in axes.patches[::2]]
    assert in_use == [(0, 180), (180, 180), (360, 180), (540, 60)]
    unused = [(bar.get_x(), bar.get_width()) for bar in axes.patches[1::2]]
    assert unused == [(180, 30), (360, 30), (540, 30), (600, 150)]


def test_token_renewals_needs_calls():
    with pytest.raises(ValueError, match="calls is empty"):
        plots.token_renewals([])


def test_matplotlib_is_imported_only_when_a_picture_is_drawn():
    code = "import sys, glm_lessons, glm_lessons.plots; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_without_matplotlib_a_picture_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(ModuleNotFoundError, match="^the lessons' pictures need matplotlib: "
                                                  "pip install -r requirements.txt$"):
        plots.stream_timeline("lesson03-stream-en")


# -- alt text: what each picture shows, in the lesson's language -----------------------------

def every_picture(language):
    """One of each picture the lessons draw, in `language`, from fixed data."""
    calls = token_calls()
    return {
        "stream_timeline": plots.stream_timeline(f"lesson03-stream-{language}",
                                                 language=language),
        "thinking_timeline": plots.thinking_timeline(f"lesson04-stream-{language}",
                                                     language=language),
        "retry_timeline": plots.retry_timeline([0.5, 1.0, 2.0, 4.0], [0.5, 1.0, 2.0, 4.0],
                                               deadline=3, language=language),
        "retry_room": plots.retry_room([[0.5, 1.5, 3.5]] * 10,
                                       [[0.1 * n, 1 + 0.1 * n, 2 + 0.2 * n] for n in range(10)],
                                       language=language),
        "token_renewals": plots.token_renewals(calls, language=language),
    }


@pytest.fixture(scope="module")
def pictures():
    return {language: every_picture(language) for language in ("en", "zh")}


PICTURES = ["stream_timeline", "thinking_timeline", "retry_timeline", "retry_room",
            "token_renewals"]
HAN = re.compile(r"[\u4e00-\u9fff]")


def shown(picture):
    """What Jupyter stores for the picture: IPython's display formatter, as a kernel runs it."""
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(picture)
    return data


def test_the_lessons_draw_only_the_pictures_tested_here():
    drawn = set()
    for notebook in sorted((ROOT / "notebooks").glob("*/*.ipynb")):
        drawn |= set(re.findall(r"plots\.(\w+)\(", notebook.read_text(encoding="utf-8")))
    assert drawn <= set(PICTURES), f"a picture without an alt-text test: {drawn - set(PICTURES)}"


@pytest.mark.parametrize("name", PICTURES)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_each_picture_is_shown_as_an_image_with_its_alt_text(pictures, name, language):
    picture = pictures[language][name]
    data = shown(picture)
    assert set(data) == {"text/html", "image/png", "text/plain"}
    assert len(picture.alt) > 40  # a sentence on what it shows, not "a plot"
    assert data["text/plain"] == picture.alt
    assert base64.b64decode(data["image/png"]) == picture.png
    encoded = base64.b64encode(picture.png).decode("ascii")
    assert data["text/html"] == (f'<img alt="{html.escape(picture.alt)}" '
                                 f'src="data:image/png;base64,{encoded}">')


@pytest.mark.parametrize("name", PICTURES)
def test_the_alt_text_is_in_the_lessons_language(pictures, name):
    english, chinese = pictures["en"][name].alt, pictures["zh"][name].alt
    assert english != chinese
    assert not HAN.search(english)
    assert len(HAN.findall(chinese)) > 20


def test_the_stream_timelines_alt_text_gives_the_recordings_counts_and_times():
    data = json.loads((CASSETTES / "lesson-03.json").read_text(encoding="utf-8"))
    recording = next(i for i in data["interactions"] if i["name"] == "lesson03-stream-en")
    end = sum(recording["response"]["event_delays_ms"])
    assert end == 695
    alt = plots.stream_timeline("lesson03-stream-en").alt
    assert alt == ("Timeline of a recorded streamed answer: 14 pieces of reasoning (grey) "
                   "arrive from 150 ms, then 31 pieces of the answer (blue) until 695 ms. Read "
                   "without stream=True, the same answer arrives all at once, at 695 ms.")


def test_the_retry_timelines_alt_text_names_the_retries_sent_and_not_sent(pictures):
    # retries at 0.5, 1.5, 3.5 and 7.5 s; the deadline at 3 s
    assert pictures["en"]["retry_timeline"].alt == (
        "Timeline of 4 retries after a failure at 0 s: their jitter windows double from 0.5 s "
        "up to the cap of 4 s. 2 retries go out before the deadline at 3 s (at 0.5, 1.5 s); "
        "not sent, as they would go out after it: 2.")
    assert pictures["zh"]["retry_timeline"].alt == (
        "一次失败（0 秒）之后 4 次重试的时间线：抖动窗口从 0.5 秒起逐次翻倍，最多到上限 4 秒。"
        "2 次重试在截止时间 3 秒之前发出（分别在 0.5、1.5 秒）；另外 2 次会落在截止时间之后，"
        "所以不发。")


def test_the_rooms_alt_text_gives_the_peaks_with_and_without_jitter(pictures):
    alt = pictures["en"]["retry_room"].alt
    # ten clients at 0.5, 1.5, 3.5 s: ten at once; spread: at most two in a quarter second
    assert "10 clients" in alt and "retry 3 times each" in alt
    assert "10 requests at once" in alt and "the same 30 requests" in alt
    assert "at most 3 in any 0.25 s" in alt


def test_the_token_pictures_alt_text_gives_the_renewals(pictures):
    alt = pictures["en"]["token_renewals"].alt
    assert alt.startswith("Timeline of 4 tokens")
    assert "at 180, 360, 540 s" in alt and "30 s left" in alt and "31 calls" in alt


def test_without_a_cjk_font_the_alt_text_stays_chinese(monkeypatch, capsys):
    monkeypatch.setattr(plots, "_cjk_font", lambda: None)
    monkeypatch.setattr(plots, "_warned", [])
    picture = plots.retry_timeline([0.5], [0.5], deadline=3, language="zh")
    assert picture.alt.startswith("一次失败（0 秒）之后 1 次重试的时间线")
    assert capsys.readouterr().out == plots.NO_CJK_FONT + "\n"


def test_alt_text_is_escaped_in_the_html():
    picture = plots.Picture(None, "title", b"\x89PNG", 'a "quoted" <b> & more')
    assert shown(picture)["text/html"].startswith(
        '<img alt="a &quot;quoted&quot; &lt;b&gt; &amp; more" src="data:image/png;base64,')


def test_the_browser_edition_shows_the_alt_text_saved_at_build_time(tmp_path, monkeypatch):
    monkeypatch.setenv(plots.PICTURES_ENV, str(tmp_path))
    drawn = plots.retry_timeline([0.5], [0.5], deadline=3, language="zh")
    key = plots.picture_key("retry_timeline", ([0.5], [0.5]), {"deadline": 3, "language": "zh"})
    assert (tmp_path / f"{key}.alt.txt").read_text(encoding="utf-8") == drawn.alt
    monkeypatch.delenv(plots.PICTURES_ENV)
    monkeypatch.setattr(plots, "SHIPPED", tmp_path)
    monkeypatch.setattr(sys, "platform", "emscripten")
    shipped = plots.retry_timeline([0.5], [0.5], deadline=3, language="zh")
    assert shown(shipped) == shown(drawn)


def test_the_stored_html_is_compared_without_its_png_bytes():
    """nbval compares text/html; the PNG inside it varies with matplotlib's version."""
    config = configparser.ConfigParser()
    config.read(ROOT / "tests" / "nbval_sanitize.cfg")
    rules = [(re.compile(section["regex"]), section["replace"])
             for name, section in config.items() if name != "DEFAULT"]

    def sanitised(text):
        for pattern, replace in rules:
            text = pattern.sub(replace, text)
        return text
    one = plots.Picture(None, "t", b"\x89PNG one", "alt")._repr_mimebundle_()["text/html"]
    other = plots.Picture(None, "t", b"\x89PNG other", "alt")._repr_mimebundle_()["text/html"]
    assert one != other and sanitised(one) == sanitised(other)
    assert sanitised(one) != sanitised(one.replace('alt="alt"', 'alt="other"'))


def test_the_rooms_alt_text_counts_as_the_histogram_draws():
    rng = random.Random(3).random
    spread = [[rng() * 4 for _ in range(4)] for _ in range(50)]
    picture = plots.retry_room([[0.5, 1.5, 3.5, 7.5]] * 50, spread, bucket=0.25)
    drawn = max(bar.get_height() for bar in picture.figure.axes[1].patches)
    assert f"at most {drawn:g} in any 0.25 s" in picture.alt


def test_jupyter_shows_a_picture_as_one_bundle_of_png_html_and_alt_text():
    """What a notebook stores for a picture: IPython's formatter, as a kernel runs it."""
    from IPython.core.formatters import DisplayFormatter
    picture = plots.Picture(None, "t", b"\x89PNG one", "the alt text")
    data, _ = DisplayFormatter().format(picture)
    encoded = "iVBORyBvbmU="  # base64 of the bytes above, worked out by hand
    assert data == {"image/png": encoded, "text/plain": "the alt text",
                    "text/html": f'<img alt="the alt text" src="data:image/png;base64,{encoded}">'}

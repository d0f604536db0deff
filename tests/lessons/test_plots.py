"""The lessons' pictures (glm_lessons/plots.py): drawn from recordings, injected clocks and
seeded random sources, so the same on every run; readable sizes; Chinese labels in a font
that has the glyphs, or English labels and one line when there is none."""

import json
import random
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
    assert png_size(picture._repr_png_()) == (900, 315)  # 10 x 3.5 inches at 90 dpi
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


def test_token_renewals_reads_each_token_life_from_its_claims():
    now = [1_795_593_600]
    cache = TokenCache(glm_offline.OFFLINE_API_KEY, ttl_seconds=210, renew_before=30,
                       clock=lambda: now[0])
    calls = []
    for seconds in range(0, 601, 20):
        now[0] = 1_795_593_600 + seconds
        calls.append((seconds, cache.token()))
    picture = plots.token_renewals(calls)
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

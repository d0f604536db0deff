"""The browser edition's pieces that need no browser: which lessons it ships and what opens
first, the lock it rewrites, the pictures it ships, and the browser check's verdicts."""

import base64
import json
import sys

import pytest

from glm_lessons import plots
from glm_lessons.browser import build, compare, site


def test_the_edition_ships_start_here_and_lessons_01_to_08_and_10_in_both_languages():
    names = [f"{p.parent.name}/{p.name[:2]}" for p in site.edition_lessons(site_notebooks())]
    expected = [f"{language}/{n}" for language in ("en", "zh")
                for n in ("00", "01", "02", "03", "04", "05", "06", "07", "08", "10")]
    assert names == expected


def site_notebooks():
    return build.ROOT / "notebooks"


def test_the_front_page_lists_lesson_09_with_one_line_and_no_link():
    page = site.index_html(site_notebooks(), "notebooks/en/01-keys-and-tokens.ipynb")
    assert "lab/index.html?path=notebooks/zh/01-keys-and-tokens.ipynb" in page
    assert "09-sdks" not in page
    assert "needs the desktop setup: the official SDKs need compiled packages" in page
    assert "需要桌面环境" in page
    assert '<script id="jupyter-config-data" type="application/json">{}</script>' in page


def test_the_front_page_starts_each_language_on_its_start_here_page():
    first = site.first_notebook(build.ROOT)
    assert first == "notebooks/en/00-start-here.ipynb"
    page = site.index_html(site_notebooks(), first)
    for language in ("en", "zh"):
        assert f'class="start" href="lab/index.html?path=notebooks/{language}/00-start-here' \
            in page
    assert page.count("00-start-here") == 2  # the start link, not a lesson in the list too
    assert "](notebooks/zh/00-start-here.ipynb)" in site.index_markdown(site_notebooks())


def test_the_start_here_page_in_the_edition_says_lesson_09_needs_the_desktop_setup():
    en = ("- [Lesson 09 · From raw HTTP to the SDKs](09-sdks.ipynb)\n"
          "- [Lesson 10](10-capstone.ipynb)")
    assert site.without_desktop_only_links(en, "en") == (
        "- Lesson 09 · From raw HTTP to the SDKs (needs the desktop setup: the official SDKs "
        "need compiled packages a browser cannot load)\n- [Lesson 10](10-capstone.ipynb)")
    zh = site.without_desktop_only_links("[第 09 课](09-sdks.ipynb)", "zh")
    assert zh == "第 09 课（需要桌面环境：官方 SDK 依赖的编译型软件包无法在浏览器中加载）"
    for language in ("en", "zh"):
        start = (site_notebooks() / language / "00-start-here.ipynb").read_text(encoding="utf-8")
        assert "](09-sdks.ipynb)" in start  # what the build rewrites is really there


def test_the_edition_folder_holds_start_here_with_lesson_09_unlinked(tmp_path):
    build.contents(tmp_path)
    for language in ("en", "zh"):
        start = (tmp_path / "notebooks" / language / "00-start-here.ipynb").read_text("utf-8")
        assert "09-sdks.ipynb" not in start and "](10-capstone.ipynb)" in start
        assert site.DESKTOP_ONLY["09"][language] in start
        lesson = tmp_path / "notebooks" / language / "03-streaming.ipynb"
        assert lesson.read_bytes() == (site_notebooks() / language / lesson.name).read_bytes()


def test_start_here_opens_first_when_the_course_has_one(tmp_path):
    lessons = tmp_path / "notebooks" / "en"
    lessons.mkdir(parents=True)
    (lessons / "01-keys-and-tokens.ipynb").write_text("{}")
    assert site.first_notebook(tmp_path) == "notebooks/en/01-keys-and-tokens.ipynb"
    (lessons / "00-start-here.ipynb").write_text("{}")
    assert site.first_notebook(tmp_path) == "notebooks/en/00-start-here.ipynb"


def test_the_lock_keeps_what_the_kernel_and_lessons_need_and_their_dependencies():
    lock = {"packages": {
        "requests": {"depends": ["charset-normalizer", "urllib3"]},
        "charset-normalizer": {"depends": []}, "urllib3": {"depends": []},
        "prompt-toolkit": {"depends": ["wcwidth"]}, "wcwidth": {"depends": []},
        "ipython": {"depends": ["prompt_toolkit"]}, "numpy": {"depends": []}}}
    assert build.closure(lock, ["requests", "ipython"]) == [
        "charset-normalizer", "ipython", "prompt-toolkit", "requests", "urllib3", "wcwidth"]
    with pytest.raises(build.BuildError, match="comm is not in Pyodide's lock"):
        build.closure(lock, ["comm"])


def test_our_wheel_holds_the_packages_the_client_and_the_pictures(tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    (pictures / "abc.png").write_bytes(b"png")
    wheel = build.our_wheel(tmp_path, pictures)
    import zipfile
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        record = archive.read("glm_http_lessons-0.1.0.dist-info/RECORD").decode()
    assert {"glm_client.py", "glm_offline/inprocess.py", "glm_lessons/lesson.py",
            "glm_lessons/pictures/abc.png"} <= names
    assert "glm_client.py,sha256=" in record


def test_a_picture_drawn_at_build_time_is_shown_in_the_browser(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "SHIPPED", tmp_path)
    key = plots.picture_key("stream_timeline", ("lesson03-stream-en",), {"language": "en"})
    (tmp_path / f"{key}.png").write_bytes(b"\x89PNG drawn at build time")
    (tmp_path / f"{key}.txt").write_text("When the pieces arrive", encoding="utf-8")
    monkeypatch.setattr(sys, "platform", "emscripten")
    shown = plots.stream_timeline("lesson03-stream-en", language="en")
    assert repr(shown) == "<plot: When the pieces arrive>"
    bundle = shown._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]) == b"\x89PNG drawn at build time"
    assert 'alt="When the pieces arrive"' in bundle["text/html"]


def test_a_picture_not_drawn_at_build_time_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plots, "SHIPPED", tmp_path)
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert plots.retry_timeline([0.5], [1.0], deadline=5, language="en") is None
    assert capsys.readouterr().out.startswith("(the browser edition has no picture drawn")
    assert plots.retry_timeline([0.5], [1.0], deadline=5, language="zh") is None
    assert capsys.readouterr().out.startswith("（浏览器版没有为这组数值预先画好的图")


def test_build_time_saves_each_picture_under_its_key(tmp_path, monkeypatch):
    monkeypatch.setenv(plots.PICTURES_ENV, str(tmp_path))
    drawn = plots.stream_timeline("lesson03-stream-en", language="en")
    key = plots.picture_key("stream_timeline", ("lesson03-stream-en",), {"language": "en"})
    assert (tmp_path / f"{key}.png").read_bytes() == drawn.png
    assert (tmp_path / f"{key}.txt").read_text(encoding="utf-8") == drawn.title


def test_outputs_compare_as_nbval_does_with_the_in_process_url_and_pyodides_names():
    desktop = [{"output_type": "stream", "name": "stdout",
                "text": "http://127.0.0.1:41075/api/paas/v4\n"},
               {"output_type": "error", "ename": "ReadTimeout", "evalue": "", "traceback": []}]
    browser = [{"output_type": "stream", "name": "stdout", "text": "http://glm-offline"},
               {"output_type": "stream", "name": "stdout", "text": ".invalid/api/paas/v4\n"},
               {"output_type": "error", "ename": "<class 'requests.exceptions.ReadTimeout'>",
                "evalue": "", "traceback": []}]
    assert compare.comparable(browser) == compare.comparable(desktop)
    assert compare.comparable(desktop[:1]) != compare.comparable(
        [{"output_type": "stream", "name": "stdout", "text": "http://example.org/api\n"}])


def test_the_check_finds_requests_to_other_hosts_and_a_stream_that_came_at_once():
    import browser_edition_check as check

    origin = "http://127.0.0.1:8000"
    requests = [("page", origin + "/lab/index.html"), ("worker", "data:text/plain,x"),
                ("worker", "https://cdn.jsdelivr.net/pyodide/v314.0.6/full/pyodide.mjs"),
                ("service_worker", "http://127.0.0.1:9999/other")]
    assert check.foreign(requests, origin) == [
        "service_worker: http://127.0.0.1:9999/other",
        "worker: https://cdn.jsdelivr.net/pyodide/v314.0.6/full/pyodide.mjs"]
    pieces = check.recorded_pieces()
    assert pieces == 10  # hello-en-stream: "Hello", "!", " It", ... "." (its content deltas)
    spread = [[60.0 * n, "x|"] for n in range(pieces)]
    assert check.stream_failures(spread) == []
    at_once = [[5.0, "x|" * pieces]]
    assert "all at once" in " ".join(check.stream_failures(at_once))


def test_the_lite_config_points_the_kernel_at_the_local_pyodide():
    settings = build.lite_config()[
        "jupyter-config-data"]["litePluginSettings"][build.KERNEL_PLUGIN]
    assert settings["pyodideUrl"] == "./static/pyodide/pyodide.mjs"
    assert settings["disablePyPIFallback"] is True
    assert json.dumps(settings).count("http") == 0

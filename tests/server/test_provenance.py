"""Cassette provenance: the schema checks it, transcribe and record write it, lessons show it."""

import json
from datetime import datetime, timezone

import pytest
import requests

import glm_offline
import transcribe
from glm_lessons import connect
from glm_offline import provenance
from glm_offline.cassette_file import read_checked
from glm_offline.cassette_schema import check_cassette
from glm_offline.cassettes import PACKAGE_CASSETTES
from glm_offline.record import start_recorder

CAPTURED = {"made": "captured", "captured_at": "2026-12-01", "model_served": "glm-4.7-flash",
            "last_drift": {"verdict": "benign", "checked_at": "2026-12-07"}}


def cassette(value):
    return {"version": 1, "metadata": {"provenance": value}, "interactions": []}


@pytest.mark.parametrize("value", [provenance.TRANSCRIBED, CAPTURED,
                                   {**CAPTURED, "made": "mixed", "last_drift": None}])
def test_the_schema_accepts_each_way_a_cassette_is_made(value):
    check_cassette(cassette(value), 1)


@pytest.mark.parametrize("value, message", [
    ({"made": "guessed", "last_drift": None}, "provenance.made must be one of transcribed"),
    ({"made": "captured", "last_drift": None}, "provenance.captured_at is missing"),
    ({**CAPTURED, "captured_at": "01/12/2026"}, "captured_at must be a date like"),
    ({**CAPTURED, "captured_at": "2026-02-30"}, "captured_at must be a date like"),
    ({**CAPTURED, "last_drift": {"verdict": "fine", "checked_at": "2026-12-07"}},
     "last_drift.verdict must be one of critical"),
    ({"made": "transcribed"}, "provenance.last_drift is missing"),
    ({"made": "transcribed", "last_drift": None, "captured_at": "2026-12-01"},
     "captured_at is not a field of the format"),
])
def test_the_schema_names_what_is_wrong(value, message):
    with pytest.raises(ValueError, match=message):
        check_cassette(cassette(value), 1)


def test_every_packaged_cassette_says_it_is_transcribed():
    for path in sorted(PACKAGE_CASSETTES.glob("*.json")):
        assert read_checked(path)["metadata"]["provenance"]["made"] == "transcribed", path.name


def test_transcribe_keeps_the_last_drift_check_of_the_file_it_replaces(tmp_path):
    spec = json.loads((transcribe.SPECS / "lesson-01.json").read_text(encoding="utf-8"))
    check = {"verdict": "notable", "checked_at": "2026-12-07"}
    kept = json.loads(transcribe.render(spec, check))["metadata"]["provenance"]
    assert kept == {"made": "transcribed", "last_drift": check}
    old = tmp_path / "lesson-01.json"
    old.write_text(transcribe.render(spec, check), encoding="utf-8")
    assert transcribe.last_drift_of(old) == check
    assert transcribe.last_drift_of(tmp_path / "missing.json") is None


def test_record_mode_writes_captured_with_the_day_and_the_model_served(tmp_path):
    output = tmp_path / "captured.json"
    body = read_checked(PACKAGE_CASSETTES / "server-basics.json")["interactions"][0]
    with glm_offline.start(pacing="instant") as upstream:
        proxy = start_recorder(upstream.base_url, output)
        try:
            answer = requests.post(proxy.base_url + "/chat/completions",
                                   json=body["request"]["body"], timeout=10,
                                   headers={"Authorization": f"Bearer {upstream.api_key}"})
        finally:
            proxy.stop()
    assert answer.status_code == 200
    today = datetime.now(timezone.utc).date().isoformat()
    assert read_checked(output)["metadata"]["provenance"] == {
        "made": "captured", "captured_at": today, "model_served": "glm-4-flash-250414",
        "last_drift": None}


def test_captures_added_to_a_transcribed_file_make_it_mixed():
    mixed = provenance.captured(provenance.TRANSCRIBED, "glm-5.3", "2026-12-07")
    assert mixed == {"made": "mixed", "captured_at": "2026-12-07", "model_served": "glm-5.3",
                     "last_drift": None}
    again = provenance.captured(CAPTURED, "glm-5.3", "2026-12-08")
    assert again["made"] == "captured" and again["model_served"] == "glm-4.7-flash, glm-5.3"
    error_first = provenance.captured(None, None, "2026-12-07")
    assert error_first["model_served"] == "unknown"
    assert provenance.captured(error_first, "glm-5.3", "2026-12-07")["model_served"] == "glm-5.3"


def test_the_served_model_is_read_from_a_body_or_a_streams_first_chunk():
    assert provenance.served_model({"status": 200, "json": {"model": "glm-5.3"}}) == "glm-5.3"
    stream = {"status": 200, "sse": [": hi", "", 'data: {"model":"glm-4.6"}', "", "data: [DONE]"]}
    assert provenance.served_model(stream) == "glm-4.6"
    assert provenance.served_model({"status": 400, "json": {"error": {}}}) is None


def test_a_transcribed_lesson_says_so_after_the_mode_line(capsys):
    connect("en", environ={}, lesson="02")
    connect("zh", environ={}, lesson="02")
    assert capsys.readouterr().out.splitlines() == [
        "Mode: offline (no ZHIPUAI_API_KEY set), recorded GLM responses from a local server",
        "Recordings: transcribed from documented and publicly captured GLM traffic, not "
        "captured live; last drift check: none",
        "模式：离线（未设置 ZHIPUAI_API_KEY），由本地服务器回放录制好的 GLM 响应",
        "录制文件：依据文档与公开流量整理，并非现场抓取；最近一次漂移检查：无"]


def test_a_captured_lesson_gives_its_day_model_and_last_check(tmp_path, monkeypatch, capsys):
    data = {"version": 1, "metadata": {"provenance": CAPTURED}, "interactions": []}
    (tmp_path / "recorded-02.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(provenance, "PACKAGE_CASSETTES", tmp_path)
    connect("en", environ={}, lesson="02")
    connect("zh", environ={}, lesson="02")
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == ("Recordings: captured live on 2026-12-01 from glm-4.7-flash; "
                        "last drift check: benign (2026-12-07)")
    assert lines[3] == ("录制文件：2026-12-01 现场抓取，模型为 glm-4.7-flash；"
                        "最近一次漂移检查：仅数值不同（2026-12-07）")


def test_a_lesson_with_both_kinds_of_cassette_is_mixed_and_checked_only_if_both_were():
    both = provenance.combined([provenance.TRANSCRIBED, CAPTURED])
    assert both == {"made": "mixed", "captured_at": "2026-12-01",
                    "model_served": "glm-4.7-flash", "last_drift": None}
    checked = provenance.with_drift(provenance.TRANSCRIBED, "critical", "2026-12-05")
    assert provenance.combined([checked, CAPTURED])["last_drift"] == {
        "verdict": "critical", "checked_at": "2026-12-05"}


def test_live_mode_prints_no_provenance_line(capsys):
    connect("en", environ={"ZHIPUAI_API_KEY": "abc.def"}, lesson="02")
    assert capsys.readouterr().out == ("Mode: live (ZHIPUAI_API_KEY set; GLM_OFFLINE=1 goes back "
                                       "offline), requests go to open.bigmodel.cn\n")


@pytest.mark.parametrize("lesson", ["2", 2, "lesson-02"])
def test_a_bad_lesson_number_gets_a_one_line_error(lesson):
    with pytest.raises(ValueError, match="two-digit lesson number"):
        connect("en", environ={}, lesson=lesson)


def test_a_lesson_being_recorded_shows_the_provenance_its_journal_holds(tmp_path):
    """The recorder's later exchanges (and the metadata after them) are in the journal until
    it stops: the lesson's provenance line reads the cassette with its journal merged."""
    transcribed = {"version": 1, "metadata": {"provenance": provenance.TRANSCRIBED},
                   "interactions": []}
    (tmp_path / "recorded-02.json").write_text(json.dumps(transcribed), encoding="utf-8")
    interaction = {"name": "x", "request": {"method": "POST", "path": "/api/paas/v4/x"},
                   "response": {"status": 200, "json": {}}}
    entry = {"interaction": interaction, "metadata": {"provenance": CAPTURED}}
    (tmp_path / "recorded-02.json-journal").write_text(json.dumps(entry) + "\n",
                                                       encoding="utf-8")
    assert provenance.lesson_provenance("02", tmp_path) == [CAPTURED]

"""contributors/transcribe.py: the package's transcribed cassettes are what their specs
(contributors/cassette_specs/) make, and `--check` names a stale one without writing it."""

import shutil

import transcribe
from glm_offline.cassettes import PACKAGE_CASSETTES


def test_every_transcribed_cassette_is_fresh(capsys):
    assert transcribe.main(["--check"]) == 0
    assert capsys.readouterr().out == "0 cassette(s) stale\n"


def test_check_names_a_stale_cassette_and_leaves_it_alone(tmp_path, monkeypatch, capsys):
    for spec in transcribe.SPECS.glob("*.json"):
        shutil.copy2(transcribe.PACKAGE_CASSETTES / spec.name, tmp_path / spec.name)
    stale = tmp_path / "lesson-03.json"
    stop, length = 'finish_reason\\":\\"stop', 'finish_reason\\":\\"length'  # in a stream's text
    edited = stale.read_text(encoding="utf-8").replace(stop, length, 1)
    assert edited != stale.read_text(encoding="utf-8")
    stale.write_text(edited, encoding="utf-8")
    monkeypatch.setattr(transcribe, "PACKAGE_CASSETTES", tmp_path)
    assert transcribe.main(["--check"]) == 1
    assert capsys.readouterr().out == "1 cassette(s) stale: lesson-03.json\n"
    assert stale.read_text(encoding="utf-8") == edited
    assert transcribe.main([]) == 0  # without --check: rewritten from its spec
    assert capsys.readouterr().out == "1 cassette(s) rewritten: lesson-03.json\n"
    assert stale.read_bytes() == (PACKAGE_CASSETTES / "lesson-03.json").read_bytes()

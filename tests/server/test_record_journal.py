"""Record mode appends each exchange to a journal next to the cassette; a kill at any moment
leaves files that load every complete exchange, or are refused with one clear line.

The recorder's own CassetteFile writes the files (no HTTP needed), except in the kill test,
which SIGKILLs a real `python -m glm_offline record` in front of glm_offline on 127.0.0.1.
"""

import json
import queue
import shutil
import signal
import subprocess
import sys
import threading

import pytest
import requests

import glm_offline
from glm_offline.cassette_file import CassetteFile
from glm_offline.cassettes import CassetteError, load_file

PATH = "/api/paas/v4/chat/completions"
MODEL = "glm-4-flash-250414"


def ask(text):
    return {"model": MODEL, "messages": [{"role": "user", "content": text}]}


def answer(text):
    return {"status": 200, "json": {"choices": [{"message": {"role": "assistant",
                                                             "content": text}}]}}


def journal_of(path):
    return path.with_name(path.name + "-journal")


@pytest.fixture
def output(tmp_path):
    folder = tmp_path / "recorded"
    folder.mkdir()
    return folder / "rec.json"


def record(output, texts):
    """A recorder that added these exchanges and was then 'killed': never closed (the test
    lets go of its lock and journal, as the system would for a killed process)."""
    cassette = CassetteFile(output)
    for text in texts:
        assert cassette.add("POST", PATH, ask(text), answer(f"About {text}."))[1]
    return cassette


def killed(cassette):
    cassette._writer.release()
    cassette._journal.close()


def names(path):
    return [item.name for item in load_file(path)[1]]


def test_the_first_exchange_writes_the_file_and_later_ones_go_to_the_journal(output):
    cassette = record(output, ["one", "two", "three"])
    assert [item["name"] for item in json.loads(output.read_text("utf-8"))["interactions"]] == \
        ["rec-001-one"]
    lines = journal_of(output).read_bytes().split(b"\n")
    assert [json.loads(line)["interaction"]["name"] for line in lines[:-1]] == \
        ["rec-002-two", "rec-003-three"]
    assert lines[-1] == b""
    assert names(output) == ["rec-001-one", "rec-002-two", "rec-003-three"]
    cassette.close()  # the file written whole, the journal gone
    assert not journal_of(output).exists()
    assert [item["name"] for item in json.loads(output.read_text("utf-8"))["interactions"]] == \
        ["rec-001-one", "rec-002-two", "rec-003-three"]


def test_a_journal_cut_at_any_byte_loads_every_complete_exchange(output, tmp_path):
    record(output, ["one", "two", "three", "四"])
    whole = journal_of(output).read_bytes()
    ends = [index + 1 for index, byte in enumerate(whole) if byte == ord("\n")]
    assert len(ends) == 3
    expected = ["rec-001-one", "rec-002-two", "rec-003-three", "rec-004-四"]
    for cut in range(len(whole) + 1):
        journal_of(output).write_bytes(whole[:cut])
        complete = sum(end <= cut for end in ends)
        assert names(output) == expected[:1 + complete], cut


def test_a_cassette_cut_short_is_refused_with_one_clear_line(output):
    record(output, ["one"]).close()
    whole = output.read_bytes()
    for cut in range(0, len(whole) - 1, 7):  # the recorder replaces it atomically: never cut
        output.write_bytes(whole[:cut])
        with pytest.raises(CassetteError, match=r"rec\.json: not a readable JSON file") as caught:
            load_file(output)
        assert "\n" not in str(caught.value)


def test_a_complete_journal_line_that_is_not_an_entry_is_refused(output):
    record(output, ["one", "two"])
    with journal_of(output).open("ab") as file:
        file.write(b'{"interaction": {"name": "x"}\n')
    with pytest.raises(CassetteError, match=r"rec\.json-journal line 2 is not JSON; move the "
                                            r"journal away"):
        load_file(output)
    journal_of(output).write_bytes(b'["not", "an", "entry"]\n')
    with pytest.raises(CassetteError, match=r"line 1 is not a journal entry"):
        load_file(output)


def test_a_bad_interaction_in_the_journal_is_named_like_one_in_the_file(output):
    record(output, ["one"])
    journal_of(output).write_bytes(b'{"interaction": {"name": "bad", "request": {}, '
                                   b'"response": {}}, "metadata": {}}\n')
    with pytest.raises(CassetteError, match=r"interaction 1 \(bad\): request\.method is missing"):
        load_file(output)


def test_stopped_after_the_rewrite_but_before_removing_the_journal_loads_no_duplicate(output):
    killed(record(output, ["one", "two", "three"]))
    kept = journal_of(output).read_bytes()
    CassetteFile(output).close()  # a later recorder merges the journal into the file
    journal_of(output).write_bytes(kept)  # as if killed just before removing the journal
    assert names(output) == ["rec-001-one", "rec-002-two", "rec-003-three"]


def test_a_later_recorder_merges_a_journal_left_behind_and_records_on(output):
    killed(record(output, ["one", "two"]))
    cassette = CassetteFile(output)
    assert not journal_of(output).exists()
    assert cassette.recorded == 2
    assert cassette.add("POST", PATH, ask("two"), answer("again")) == ("rec-002-two", False)
    assert cassette.add("POST", PATH, ask("three"), answer("new")) == ("rec-003-three", True)
    cassette.close()
    assert names(output) == ["rec-001-one", "rec-002-two", "rec-003-three"]


def test_a_journal_without_its_cassette_is_refused_and_left_alone(output):
    killed(record(output, ["one", "two"]))
    output.unlink()
    kept = journal_of(output).read_bytes()
    with pytest.raises(CassetteError, match=r"a journal of it \(rec\.json-journal\) but no "
                                            "cassette"):
        CassetteFile(output)
    assert journal_of(output).read_bytes() == kept


def test_a_recorder_killed_mid_session_loses_no_complete_exchange(output, tmp_path):
    with glm_offline.start(pacing="instant") as upstream:
        command = [sys.executable, "-m", "glm_offline", "record", "--output", str(output),
                   "--upstream", upstream.base_url, "--port", "0"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True, encoding="utf-8")
        try:
            lines = queue.Queue()
            threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                             daemon=True).start()
            base_url = None
            while base_url is None:
                line = lines.get(timeout=20)
                if "ZHIPUAI_BASE_URL=" in line:
                    base_url = line.strip().split("=", 1)[1]
            for text in ("first", "second", "third"):
                response = requests.post(base_url + "/chat/completions", json=ask(text),
                                         headers={"Authorization":
                                                  f"Bearer {upstream.api_key}"}, timeout=10)
                assert response.status_code == 200
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
    kept = tmp_path / "kept"
    shutil.copytree(output.parent, kept)
    assert names(kept / "rec.json") == ["rec-001-first", "rec-002-second", "rec-003-third"]
    assert journal_of(output).exists()
    with glm_offline.start(cassette_dirs=[output.parent], packaged_cassettes=False, strict=True,
                           pacing="instant") as replay:
        again = requests.post(replay.base_url + "/chat/completions", json=ask("third"),
                              headers={"Authorization": f"Bearer {replay.api_key}"}, timeout=10)
    assert again.status_code == 200


def test_a_cassette_removed_while_recording_is_written_whole_again(output):
    cassette = record(output, ["one", "two"])
    output.unlink()
    assert cassette.add("POST", PATH, ask("three"), answer("About three."))[1]
    assert not journal_of(output).exists()
    assert names(output) == ["rec-001-one", "rec-002-two", "rec-003-three"]
    cassette.close()
    assert names(output) == ["rec-001-one", "rec-002-two", "rec-003-three"]

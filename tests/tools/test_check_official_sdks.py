"""contributors/check_official_sdks.py, with the client the project's own environment has
(zai-sdk, lesson 09's): every check against a strict server it starts gets the recorded
answer, and a check whose recording is missing fails with the server's explanation."""

import check_official_sdks


def test_zai_sdk_gets_every_recorded_answer(capsys):
    assert check_official_sdks.main(["--family", "zai-sdk"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for client in ("ZaiClient", "ZhipuAiClient"):
        for check in ("chat", "thinking", "stream", "stream-thinking", "tool-call",
                      "tool-answer", "json"):
            assert any(line.startswith(f"ok      zai-sdk: {client}, {check}: ")
                       for line in lines), (client, check, lines)
    assert "ok      zai-sdk: ZaiClient, unknown model: the English 1211 message" in lines
    assert lines[-1] == "all checks ok"


def test_a_request_without_a_recording_is_a_failed_line(capsys, monkeypatch):
    real = check_official_sdks.recorded

    def asking_something_else():
        expected = real()
        expected["question"] = [{"role": "user", "content": "A question nobody recorded."}]
        return expected
    monkeypatch.setattr(check_official_sdks, "recorded", asking_something_else)
    assert check_official_sdks.main(["--family", "zai-sdk"]) == 1
    lines = capsys.readouterr().out.splitlines()
    chat = [line for line in lines if line.startswith("FAILED  zai-sdk: ZaiClient, chat: ")]
    assert len(chat) == 1 and "strict mode: no recording matches this request" in chat[0]

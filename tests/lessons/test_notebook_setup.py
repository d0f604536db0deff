"""The lessons' setup cell relies on glm_lessons.shared_server(): one server per kernel."""

import requests

from glm_lessons import shared_server


def test_shared_server_is_started_once_and_replaced_after_a_stop():
    first = shared_server()
    assert shared_server() is first
    first.stop()
    second = shared_server()
    try:
        assert second is not first and second.running
        reply = requests.post(f"{second.base_url}/chat/completions", timeout=10,
                              headers={"Authorization": f"Bearer {second.api_key}"},
                              json={"model": "glm-4-flash-250414",
                                    "messages": [{"role": "user",
                                                  "content": "用一句话打个招呼。"}]})
        assert reply.json()["choices"][0]["message"]["content"] == "你好！很高兴认识你。"
    finally:
        second.stop()

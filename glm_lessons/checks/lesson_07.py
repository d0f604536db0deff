"""Lesson 07's exercise checks: the client."""

import json
import unittest

import glm_client

from .verdicts import Checks as Base
from .verdicts import check


class Checks(Base):
    MESSAGES = {
        "en": {
            "stream_reply": "Stream the question into reply above, then run this cell again.",
            "name": "the call is to {name!r}, not get_weather",
            "city": "Beijing",
            "arguments": "the arguments are {arguments}, not the city of the question",
            "reply": "Correct: the fragments were assembled into one call",
            "make_logged": "Make that client above, name it logged, then run this cell again.",
            "nothing_logged": "logged.sleep() logged nothing: log each wait with the logging "
                              "module",
            "logged": "Correct: {output}",
            "count_connections": "Count the connections into unread_connections above, then "
                                 "run this cell again.",
            "put_back": "put the original _read_to_end back",
            "three": "{count} connections: does each body stay unread after [DONE]?",
            "unread": "Correct: three calls with unread ends, three connections",
        },
        "zh": {
            "stream_reply": "先在上面把问题流式发送、结果存进 reply，再运行这个单元。",
            "name": "调用的是 {name!r}，而不是 get_weather",
            "city": "北京",
            "arguments": "参数是 {arguments}，不是问题里的那个城市",
            "reply": "正确：这些片段拼成了一个调用",
            "make_logged": "先在上面创建这个客户端，命名为 logged，再运行这个单元。",
            "nothing_logged": "logged.sleep() 什么都没有记录：用 logging 模块记录每次等待",
            "logged": "正确：{output}",
            "count_connections": "先在上面把连接数存进 unread_connections，再运行这个单元。",
            "put_back": "把原来的 _read_to_end 换回去",
            "three": "{count} 条连接：每个响应体在 [DONE] 之后真的没有读到底吗？",
            "unread": "正确：三次调用都没读到结尾，用了三条连接",
        },
    }

    @check()
    def reply(self, reply):
        """Exercise 1: the streamed Answer holds one assembled get_weather call."""
        if not isinstance(reply, glm_client.Answer) or not reply.tool_calls:
            self.say("stream_reply")
            return
        function = reply.tool_calls[0]["function"]
        self.expect(function["name"] == "get_weather", "name", name=function["name"])
        self.expect(json.loads(function["arguments"]) == {"city": self.text("city")},
                    "arguments", arguments=function["arguments"])
        self.say("reply")

    @check("make_logged")
    def logged(self, answer):
        """Exercise 2: the client's sleep (its wait before a retry) logs something."""
        try:
            with unittest.TestCase().assertLogs(level="INFO") as logs:
                answer.sleep(0.01)
        except AssertionError:  # assertLogs: nothing was logged
            self.say("nothing_logged")
            return
        self.say("logged", output=logs.output)

    @check("count_connections")
    def unread_connections(self, count):
        """Exercise 3: three connections, and glm_client._read_to_end put back."""
        self.expect(glm_client._read_to_end.__name__ == "_read_to_end", "put_back")
        self.expect(count == 3, "three", count=count)
        self.say("unread")

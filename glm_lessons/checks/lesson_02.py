"""Lesson 02's exercise checks: chat completions."""

import inspect
import logging

import requests

from .verdicts import Checks as Base
from .verdicts import check

EXPECTED_CODES = [(400, "1210"), (400, "1210"), (400, "1214")]


class Checks(Base):
    MESSAGES = {
        "en": {
            "store_codes": "Store the three (status, code) pairs in error_codes above, then run "
                           "this cell again.",
            "pairs": "each answer is a (status, code) pair",
            "three": "{count} pairs: one for each of the three changes",
            "statuses": "{pairs}: GLM refuses all three before the model runs",
            "codes": "{pairs}: a value out of its range gets 1210, two stop words get 1214",
            "ask_third": "Ask the third question above, name its reply third, then run this "
                         "cell again.",
            "three_questions": "{asked}: conversation should hold three questions; append the "
                               "third one to it",
            "whole_conversation": "{turn_3} prompt tokens in turn 3, {turn_2} in turn 2: send "
                                  "the whole conversation",
            "define_complete_text": "Define complete_text() above, then run this cell again.",
            "finished": "a finished answer should come back as its text",
            "cut_short": "complete_text(short) returned: a cut-short answer should raise "
                         "ValueError",
            "add_session": "Give chat() a session parameter above, then run this cell again.",
            "one_connection": "2 calls opened {count} connections: send both through session",
            "correct": "Correct",
        },
        "zh": {
            "store_codes": "先在上面把三组 (状态码, 错误码) 存进 error_codes，再运行这个单元。",
            "pairs": "每个结果都是一组 (状态码, 错误码)",
            "three": "{count} 组：三处改动，每处一组",
            "statuses": "{pairs}：三次请求都在模型运行之前就被 GLM 拒绝了",
            "codes": "{pairs}：超出范围的取值得到 1210，两个停止词得到 1214",
            "ask_third": "先在上面问出第三个问题，把回复命名为 third，再运行这个单元。",
            "three_questions": "{asked}：conversation 里应该有三个问题；把第三个追加进去",
            "whole_conversation": "{turn_3} 个提示 token（第 3 轮），而第 2 轮有 {turn_2} 个："
                                  "要发送整段对话",
            "define_complete_text": "先在上面定义 complete_text()，再运行这个单元。",
            "finished": "完整的回答应该原样返回它的文本",
            "cut_short": "complete_text(short) 正常返回了：被截断的回答应该抛出 ValueError",
            "add_session": "先在上面给 chat() 加一个 session 参数，再运行这个单元。",
            "one_connection": "2 次调用打开了 {count} 条连接：都要通过 session 发送",
            "correct": "正确",
        },
    }

    @check("store_codes")
    def error_codes(self, answer):
        """Exercise 1: the (status, code) of the three refused bodies, in order."""
        self.expect(all(len(pair) == 2 for pair in answer), "pairs")
        pairs = [(status, str(code)) for status, code in answer]  # "1210" and 1210 both count
        self.expect(len(pairs) == 3, "three", count=len(pairs))
        self.expect([status for status, _ in pairs] == [400, 400, 400], "statuses", pairs=pairs)
        self.expect(pairs == EXPECTED_CODES, "codes", pairs=pairs)
        self.say("correct")

    @check("ask_third")
    def third(self, answer, conversation, second):
        """Exercise 2: the reply of a third turn that sent the whole conversation."""
        asked = [message["content"] for message in conversation if message["role"] == "user"]
        self.expect(len(asked) >= 3, "three_questions", asked=asked)
        turn_2, turn_3 = second["usage"]["prompt_tokens"], answer["usage"]["prompt_tokens"]
        self.expect(turn_3 > turn_2, "whole_conversation", turn_2=turn_2, turn_3=turn_3)
        self.say("correct")

    @check("define_complete_text")
    def complete_text(self, answer, data, short):
        """Exercise 3: the text of a finished reply (`data`), ValueError for a cut one."""
        self.expect(answer(data) == data["choices"][0]["message"]["content"], "finished")
        try:
            answer(short)
        except ValueError:
            self.say("correct")
        else:
            self.say("cut_short")

    @check()
    def chat(self, chat, conversation):
        """Exercise 4: chat(..., session=...) sends two calls over one connection, counted
        from urllib3's "Starting new HTTP(S) connection" log records."""
        if "session" not in inspect.signature(chat).parameters:
            self.say("add_session")
            return
        with NewConnections() as new_connections, requests.Session() as session:
            for _ in range(2):
                chat(conversation[:2], session=session)
        self.expect(new_connections.count == 1, "one_connection", count=new_connections.count)
        self.say("correct")


class NewConnections(logging.Handler):
    """Counts the connections urllib3 opens while it is active (a context manager), as
    lesson 02's section 8 does; the logger's level, handlers and propagation are put back
    after. Its records go nowhere else meanwhile: a learner's logging.basicConfig() handler on
    the root logger would otherwise print urllib3's debug lines in the check's output."""

    def __enter__(self):
        self.count = 0
        self.logger = logging.getLogger("urllib3.connectionpool")
        self.level, self.propagate = self.logger.level, self.logger.propagate
        self.logger.addHandler(self)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level)
        self.logger.propagate = self.propagate

    def emit(self, record):
        self.count += record.getMessage().startswith("Starting new HTTP")

"""Lesson 09's exercise checks: the official SDKs (the lesson's client factory, make(), and
its server come in as arguments, so this package does not import the SDKs)."""

from .verdicts import Checks as Base
from .verdicts import check


class Checks(Base):
    MESSAGES = {
        "en": {
            "count": "Count the requests into counted above, then run this cell again.",
            "requests": "{counted} requests: the first one and max_retries ({retries}) retries",
            "counted": "Correct: the first request and {retries} retries",
            "write_ask": "Write ask() above, then run this cell again.",
            "no_answer": "no answer",
            "answered": "an empty account answered?",
            "no_balance": "{error!r} after {waits} waits: 1113 should be raised at once",
            "ask": "Correct: 1302 retried once, 1113 raised at once",
            "write_within": "Write stream_within() above, then run this cell again.",
            "not_the_answer": "not the answer",
            "finished": "a stream with 1 s of silence in it finished within 0.5 s?",
            "within": "Correct: the whole answer within 5 s, a TimeoutError past 0.5 s",
        },
        "zh": {
            "count": "先在上面把请求数存进 counted，再运行这个单元。",
            "requests": "{counted} 个请求：应该是第一次请求，加 max_retries（{retries}）次重试",
            "counted": "正确：第一次请求，加 {retries} 次重试",
            "write_ask": "先在上面写好 ask()，再运行这个单元。",
            "no_answer": "没有回答",
            "answered": "余额为零的账户居然有回答？",
            "no_balance": "{error!r}，等待了 {waits} 次：1113 应该立刻抛出",
            "ask": "正确：1302 重试了一次，1113 立刻抛出",
            "write_within": "先在上面写好 stream_within()，再运行这个单元。",
            "not_the_answer": "不是那个回答",
            "finished": "中途沉默了 1 秒的流，在 0.5 秒内就收完了？",
            "within": "正确：5 秒内收到完整回答，超过 0.5 秒后抛出 TimeoutError",
        },
    }

    @check("count")
    def counted(self, counted, client):
        """Exercise 1: the requests `client` (zai-sdk, default max_retries) sent in all."""
        self.expect(counted == client.max_retries + 1, "requests", counted=counted,
                    retries=client.max_retries)
        self.say("counted", retries=counted - 1)

    @check("write_ask")
    def ask(self, ask, make, server, question):
        """Exercise 2: through an openai client without retries of its own, a 429 (1302) is
        retried once and a 1113 is raised at once."""
        quick, waits = make("openai", max_retries=0), []
        server.inject("rate_limit")
        self.expect(ask(quick, question, sleep=waits.append).choices[0].message.content,
                    "no_answer")
        server.inject("no_balance")
        try:
            ask(quick, question, sleep=waits.append)
        except Exception as error:  # the SDK's own error: openai.OpenAIError
            if getattr(error, "code", None) is None:
                raise  # not GLM's refusal: the learner's code failed, with its traceback
            self.expect(error.code == "1113" and len(waits) == 1, "no_balance", error=error,
                        waits=len(waits))
            self.say("ask")
        else:
            self.say("answered")

    @check("write_within")
    def stream_within(self, stream_within, make, server, counting, answer):
        """Exercise 3: the whole answer (it starts like `answer`) within 5 s; TimeoutError
        within 0.5 s of a stream that the server stalls for 1 s."""
        client = make("openai", timeout=5)
        self.expect(stream_within(client, counting, seconds=5).startswith(answer[:3]),
                    "not_the_answer")
        server.inject("stall_mid_stream", after_events=10, seconds=1)  # 1 s of silence
        try:
            stream_within(client, counting, seconds=0.5)
        except TimeoutError:
            self.say("within")
        else:
            self.say("finished")

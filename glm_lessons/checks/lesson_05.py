"""Lesson 05's exercise checks: errors and retries."""

from glm_client import APIError

from .verdicts import Checks as Base
from .verdicts import check


class Checks(Base):
    MESSAGES = {
        "en": {
            "store_attempts": "Store the attempts in attempts_made above, then run this cell "
                              "again.",
            "a_dict": "attempts_made is a dict: {{1261: ..., 1234: ...}}",
            "too_long": "{got} attempts for 1261: a prompt that is too long stays too long, "
                        "so one",
            "retried": "{got} attempts for 1234: two injected failures, retried, then the answer",
            "define_budget": "Define with_budget() above, then run this cell again.",
            "slept": "slept {slept}; expected [0.5, 1.0]",
            "gave_up": "with_budget() returned: a send that always fails should end in its "
                       "APIError",
            "define_deadline": "Define stream_with_deadline() above, then run this cell again.",
            "no_answer": "no answer came through",
            "past_deadline": "stream_with_deadline() went on past total_seconds: it should "
                             "raise TimeoutError",
            "correct": "Correct",
        },
        "zh": {
            "store_attempts": "先在上面把尝试次数存进 attempts_made，再运行这个单元。",
            "a_dict": "attempts_made 是一个字典：{{1261: ..., 1234: ...}}",
            "too_long": "{got} 次（1261）：提示词超长，下次照样超长，所以只有一次",
            "retried": "{got} 次（1234）：注入的两次失败各重试一次，然后拿到回答",
            "define_budget": "请先在上面定义 with_budget()，再运行这个单元。",
            "slept": "等了 {slept}；应该是 [0.5, 1.0]",
            "gave_up": "with_budget() 正常返回了：一直失败的 send 最后应该抛出它的 APIError",
            "define_deadline": "请先在上面定义 stream_with_deadline()，再运行这个单元。",
            "no_answer": "没有收到回答",
            "past_deadline": "stream_with_deadline() 超过 total_seconds 还在继续："
                             "它应该抛出 TimeoutError",
            "correct": "正确",
        },
    }

    @check("store_attempts")
    def attempts_made(self, answer):
        """Exercise 1: {1261: attempts, 1234: attempts}."""
        self.expect(isinstance(answer, dict), "a_dict")
        self.expect(answer.get(1261) == 1, "too_long", got=answer.get(1261))
        self.expect(answer.get(1234) == 3, "retried", got=answer.get(1234))
        self.say("correct")

    @check("define_budget")
    def with_budget(self, answer):
        """Exercise 3: with a 3-second budget and the largest delays (0.5, 1, 2 s), it waits
        0.5 and 1 s and then raises the last error, on a clock that moves only when it sleeps."""
        now, slept = [0.0], []

        def fake_sleep(seconds):
            slept.append(seconds)
            now[0] += seconds

        def always_fails():
            raise APIError(500, "1200", "failed")

        try:
            answer(always_fails, 3, sleep=fake_sleep, clock=lambda: now[0], rng=lambda: 1.0)
        except APIError:
            self.expect(slept == [0.5, 1.0], "slept", slept=slept)
            self.say("correct")
        else:
            self.say("gave_up")

    @check("define_deadline")
    def stream_with_deadline(self, answer):
        """Exercise 4: an answer within 60 s of a still clock; TimeoutError within 25 s of a
        clock that is 10 s later at each reading."""
        self.expect(answer(60, clock=lambda: 0).content, "no_answer")
        ten_s_steps = iter(range(0, 10_000, 10))
        try:
            answer(25, clock=lambda: next(ten_s_steps))
        except TimeoutError:
            self.say("correct")
        else:
            self.say("past_deadline")

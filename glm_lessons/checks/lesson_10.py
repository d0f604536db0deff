"""Lesson 10's exercise checks: the capstone."""

import json

from glm_client import Answer

from .verdicts import Checks as Base
from .verdicts import check


class Checks(Base):
    MESSAGES = {
        "en": {
            "define_tool": "Define run_tool_call_2() above, then run this cell again.",
            "city": "Beijing",
            "time": "get_time gave {got!r}: expected the time 14:05",
            "unknown": "an unknown tool gave {got!r}: expected an error for call c2",
            "define_budget": "Define over_budget() above, then run this cell again.",
            "over": "over_budget() says {got!r} for 500 prompt tokens and a budget of 400",
            "under": "over_budget() says {got!r} for 300 prompt tokens and a budget of 400",
            "no_usage": "an answer without usage is not over budget",
            "correct": "Correct",
        },
        "zh": {
            "define_tool": "先在上面定义 run_tool_call_2()，再运行这个单元。",
            "city": "北京",
            "time": "get_time 给出 {got!r}：应该是时间 14:05",
            "unknown": "未知的工具给出 {got!r}：应该是调用 c2 的错误",
            "define_budget": "先在上面定义 over_budget()，再运行这个单元。",
            "over": "500 个提示 token、预算 400 时，over_budget() 给出 {got!r}",
            "under": "300 个提示 token、预算 400 时，over_budget() 给出 {got!r}",
            "no_usage": "没有 usage 的回答不算超出预算",
            "correct": "正确",
        },
    }

    @check("define_tool")
    def run_tool_call_2(self, answer):
        """Exercise 1: get_time answers 14:05; an unknown tool gets an error for its call."""
        arguments = json.dumps({"city": self.text("city")}, ensure_ascii=False)
        time_call = {"id": "c1", "function": {"name": "get_time", "arguments": arguments}}
        unknown = {"id": "c2", "function": {"name": "get_date", "arguments": arguments}}
        got = answer(time_call)
        self.expect(json.loads(got["content"]).get("time") == "14:05", "time", got=got)
        got = answer(unknown)
        self.expect(got["tool_call_id"] == "c2" and "error" in got["content"], "unknown",
                    got=got)
        self.say("correct")

    @check("define_budget")
    def over_budget(self, answer):
        """Exercise 2: True over the budget by usage["prompt_tokens"], False under it or
        without usage."""
        got = answer(Answer(usage={"prompt_tokens": 500}), 400)
        self.expect(got is True, "over", got=got)
        got = answer(Answer(usage={"prompt_tokens": 300}), 400)
        self.expect(got is False, "under", got=got)
        self.expect(answer(Answer(), 400) is False, "no_usage")
        self.say("correct")

"""Lesson 03's exercise checks: streaming."""

import contextlib
import inspect
import io

from glm_client import IncompleteAnswer

from .verdicts import Checks as Base
from .verdicts import check

# (event, data, id, retry) of what parse() gives for the exercise's two streams
FIRST_STREAM = [("message", "a", "", None)]
SECOND_STREAM = [("message", "x", "", 3000)]


def fields(events):
    """The events' (event, data, id, retry): the lesson's Event compared by its fields."""
    return [tuple(getattr(event, name, None) for name in ("event", "data", "id", "retry"))
            for event in events]


class Checks(Base):
    MESSAGES = {
        "en": {
            "store_prediction": "Store your prediction in predicted above, then run this cell "
                                "again.",
            "pair": "predicted is a pair: (events of stream 1, events of stream 2)",
            "first": "{got} for stream one: the blank line dispatches 'a'; 'data: b' never ends",
            "second": "{got} for stream two: a block with no data is no event, but its retry "
                      "stays",
            "define_folded": "Define stream_folded() above, then run this cell again.",
            "thinking": "(thinking…)",
            "once": "(thinking…) {count} times: print it once, when the reasoning starts",
            "reasoning_kept": "the Answer has no reasoning: still add every chunk to it",
            "answer_only": "{shown!r}…: print (thinking…) and the answer, not the reasoning",
            "add_timeout": "Give complete() a timeout parameter above, then run this cell again.",
            "returned": "\ncomplete() returned: with the stall injected, it should raise "
                        "IncompleteAnswer",
            "stalled": "\nCorrect: IncompleteAnswer: {error}",
            "correct": "Correct",
        },
        "zh": {
            "store_prediction": "先在上面把你的预测存进 predicted，再运行这个单元。",
            "pair": "predicted 是一对：(第一个流的事件, 第二个流的事件)",
            "first": "{got}（第一个流）：空行分发了 'a'；'data: b' 这一行始终没有结束",
            "second": "{got}（第二个流）：没有数据的一段什么也不分发，但会记住它的 retry",
            "define_folded": "先在上面定义 stream_folded()，再运行这个单元。",
            "thinking": "（思考中…）",
            "once": "（思考中…） {count} 次：只在推理开始时打印一次",
            "reasoning_kept": "Answer 里没有推理内容：每个数据块仍然都要加进去",
            "answer_only": "{shown!r}…：只打印（思考中…）和回答，不打印推理内容",
            "add_timeout": "先在上面给 complete() 加一个 timeout 参数，再运行这个单元。",
            "returned": "\ncomplete() 正常返回了：注入停顿之后，它应该抛出 IncompleteAnswer",
            "stalled": "\n正确：IncompleteAnswer：{error}",
            "correct": "正确",
        },
    }

    @check("store_prediction")
    def predicted(self, answer):
        """Exercise 1: (events of stream 1, events of stream 2) as parse() gives them."""
        self.expect(len(answer) == 2, "pair")
        for_first, for_second = answer
        self.expect(fields(for_first) == FIRST_STREAM, "first", got=for_first)
        self.expect(fields(for_second) == SECOND_STREAM, "second", got=for_second)
        self.say("correct")

    @check("define_folded")
    def stream_folded(self, answer, question):
        """Exercise 2: stream_folded(question) prints the marker once and the answer, and
        returns the whole Answer."""
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            folded = answer(question)
        shown, marker = printed.getvalue(), self.text("thinking")
        self.expect(shown.count(marker) == 1, "once", count=shown.count(marker))
        self.expect(folded.reasoning, "reasoning_kept")
        self.expect(shown.replace(marker, "").strip() == folded.content.strip(), "answer_only",
                    shown=shown[:60])
        self.say("correct")

    @check()
    def complete(self, complete, question, server):
        """Exercise 3: complete(question, timeout=(5, 2)) raises IncompleteAnswer when the
        server stalls for 5 s mid-stream."""
        if "timeout" not in inspect.signature(complete).parameters:
            self.say("add_timeout")
            return
        server.inject("stall_mid_stream", after_events=18, seconds=5)
        try:
            complete(question, timeout=(5, 2))
        except IncompleteAnswer as error:
            self.say("stalled", error=error)
        else:
            self.say("returned")

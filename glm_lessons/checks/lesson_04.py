"""Lesson 04's exercise checks: thinking models."""

import contextlib
import io

from .verdicts import Checks as Base
from .verdicts import check


def chunk_of(finish_reason=None, **delta):
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def delta_chunk(**delta):
    return {"choices": [{"index": 0, "delta": delta}]}


class Checks(Base):
    MESSAGES = {
        "en": {
            "define_answer_of": "Define answer_of() above, then run this cell again.",
            "no_answer": "no answer from a roomy budget",
            "cut_returned": "answer_of() returned {cut!r} for a cut-off reply: it should raise "
                            "ValueError",
            "cut_raised": "Correct: {error}",
            "define_split": "Define split_stream() above, then run this cell again.",
            "split": "split_stream() gave {got!r}; expected {want!r}",
            "define_folded": "Define show_folded() above, then run this cell again.",
            "step": "step {n}. ", "yes": "Yes", "thinking": "Thinking…",
            "odd": "Odd.", "no": "No.",
            "reasoning_printed": "the reasoning itself was printed: fold it away",
            "folded_lines": "{lines}: expected Thinking…, a dot per ten reasoning deltas, the "
                            "answer on its own line",
            "folded_returned": "{returned!r}: show_folded() should return the answer",
            "build_follow_up": "Build follow_up above, then run this cell again.",
            "starts_with_question": "follow_up should start with question, unchanged",
            "roles": "{added}: append the assistant's answer, then the new question",
            "assistant_answer": "the assistant turn carries the answer the model gave in "
                                "section 1",
            "no_reasoning": "leave the reasoning out: with clear_thinking at its default it is "
                            "dropped anyway",
            "new_question": "And 1003?",
            "wrong_question": "{got!r}: the new question is And 1003?",
            "correct": "Correct",
        },
        "zh": {
            "define_answer_of": "先在上面定义 answer_of()，再运行这个单元。",
            "no_answer": "预算充足时却没有得到回答",
            "cut_returned": "answer_of() 对被截断的回复返回了 {cut!r}：它应该抛出 ValueError",
            "cut_raised": "正确：{error}",
            "define_split": "先在上面定义 split_stream()，再运行这个单元。",
            "split": "split_stream() 给出 {got!r}；应该是 {want!r}",
            "define_folded": "先在上面定义 show_folded()，再运行这个单元。",
            "step": "步骤 {n}. ", "yes": "是", "thinking": "思考中…",
            "odd": "奇数。", "no": "不是。",
            "reasoning_printed": "推理内容本身被打印出来了：应该把它折叠起来",
            "folded_lines": "{lines}：应该先打印思考中…，每十个推理增量一个点，"
                            "然后另起一行打印回答",
            "folded_returned": "{returned!r}：show_folded() 应该返回回答",
            "build_follow_up": "先在上面拼好 follow_up，再运行这个单元。",
            "starts_with_question": "follow_up 应该以原样的 question 开头",
            "roles": "{added}：先追加助手的回答，再追加新问题",
            "assistant_answer": "助手这一轮应该带着模型在第 1 节给出的回答",
            "no_reasoning": "不要带推理内容：clear_thinking 为默认值时，它反正会被丢弃",
            "new_question": "那 1003 呢？",
            "wrong_question": "{got!r}：新问题是 那 1003 呢？",
            "correct": "正确",
        },
    }

    @check("define_answer_of")
    def answer_of(self, answer, ask, model, question):
        """Exercise 1: the answer of a roomy reply; ValueError for one cut off at 32 tokens."""
        self.expect(answer(ask(model, question, max_tokens=1024)), "no_answer")
        try:
            cut = answer(ask(model, question, max_tokens=32))
        except ValueError as error:
            self.say("cut_raised", error=error)
        else:
            self.say("cut_returned", cut=cut)

    @check("define_split")
    def split_stream(self, answer):
        """Exercise 2: (reasoning, answer, finish_reason) from chunks as real streams send
        them: an empty first content, a hand-over delta, a null content."""
        odd, no = self.text("odd"), self.text("no")
        sample = [chunk_of(content="", reasoning_content="\n"), chunk_of(reasoning_content=odd),
                  chunk_of(content=".", reasoning_content=""), chunk_of(content=None),
                  chunk_of(content=no), chunk_of("stop", content="")]
        want = ("\n" + odd, "." + no, "stop")
        got = answer(sample)
        self.expect(got == want, "split", got=got, want=want)
        self.say("correct")

    @check("define_folded")
    def show_folded(self, answer):
        """Exercise 3: 25 reasoning deltas print the marker and two dots, then the answer on
        a line of its own, which is returned."""
        sample = [delta_chunk(reasoning_content=self.text("step", n=n)) for n in range(25)]
        sample += [delta_chunk(content=piece) for piece in (self.text("yes"), ".")]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            returned = answer(sample)
        lines = printed.getvalue().strip("\n").split("\n")
        self.expect(self.text("step", n=0).strip() not in printed.getvalue(), "reasoning_printed")
        self.expect(lines == [self.text("thinking") + "..", self.text("yes") + "."],
                    "folded_lines", lines=lines)
        self.expect(returned == self.text("yes") + ".", "folded_returned", returned=returned)
        self.say("correct")

    @check("build_follow_up")
    def follow_up(self, answer, question, reply):
        """Exercise 4: question, then the model's answer from `reply` (no reasoning), then the
        new question."""
        self.expect(answer[:len(question)] == question, "starts_with_question")
        added = answer[len(question):]
        self.expect([turn["role"] for turn in added] == ["assistant", "user"], "roles",
                    added=added)
        self.expect(added[0]["content"] == reply["choices"][0]["message"]["content"],
                    "assistant_answer")
        self.expect("reasoning_content" not in added[0], "no_reasoning")
        self.expect(added[1]["content"] == self.text("new_question"), "wrong_question",
                    got=added[1]["content"])
        self.say("correct")

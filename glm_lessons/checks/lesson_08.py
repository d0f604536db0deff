"""Lesson 08's exercise checks: async chat. The learner's functions take the lesson's
ask_async and poll as parameters, so the checks hand them fakes that submit nothing."""

import threading
from types import SimpleNamespace

from glm_client import APIError

from .verdicts import Checks as Base
from .verdicts import check

# collect's fake tasks: a is done at once, b in round 2, c never
SCRIPT = {"a": ["SUCCESS"], "b": ["PROCESSING", "SUCCESS"], "c": ["PROCESSING"]}


class Checks(Base):
    MESSAGES = {
        "en": {
            "define_retries": "Define with_retries() above, then run this cell again.",
            "gave_up": "with_retries() raised {code} after {waits} waits: a 1302 is retried, "
                       "three times at most",
            "task": "with_retries() returned {got!r}, not the accepted task",
            "two_waits": "{waits}: expected two waits, one before each retry",
            "retries": "Correct: two waits, then the task",
            "define_threads": "Define ask_all_threads() above, then run this cell again.",
            "capped": "there were {most} questions in ask_async at once: cap them",
            "order": "the answers are not in question order",
            "threads": "Correct: at most {cap} at a time, the answers in question order",
            "define_collect": "Define collect() and store the pending question in "
                              "pending_question above, then run this cell again.",
            "done": "done {done}, pending {pending}: expected a and b done, c pending",
            "polled_again": "a finished task is polled again",
            "per_round": "slept {sleeps} times in {rounds} rounds: once per round, not per task",
            "deadline": "slept {seconds:.2f} s, past the deadline of 3 s",
            "pending": "{question!r} is not the pending question",
            "collect": "Correct: one sleep per round, the deadline kept",
        },
        "zh": {
            "define_retries": "先在上面定义 with_retries()，再运行这个单元。",
            "gave_up": "with_retries() 等待 {waits} 次后抛出了 {code}：1302 应该重试，最多三次",
            "task": "with_retries() 返回了 {got!r}，而不是被接受的任务",
            "two_waits": "{waits}：应该等待两次，每次重试之前一次",
            "retries": "正确：等待两次，然后拿到任务",
            "define_threads": "先在上面定义 ask_all_threads()，再运行这个单元。",
            "capped": "同时有 {most} 个问题在 ask_async 里：要限制数量",
            "order": "回答没有按问题的顺序排列",
            "threads": "正确：同一时间最多 {cap} 个，回答按问题的顺序排列",
            "define_collect": "先在上面定义 collect()，并把还没完成的问题存进 pending_question，"
                              "再运行这个单元。",
            "done": "已完成 {done}，未完成 {pending}：应该是 a 和 b 完成、c 未完成",
            "polled_again": "已完成的任务又被轮询了",
            "per_round": "sleep 了 {sleeps} 次，共 {rounds} 轮：每轮 sleep 一次，不是每个任务一次",
            "deadline": "一共 sleep 了 {seconds:.2f} 秒，超过了 3 秒的截止时间",
            "pending": "{question!r} 不是那个还没完成的问题",
            "collect": "正确：每轮只 sleep 一次，也守住了截止时间",
        },
    }

    @check("define_retries")
    def with_retries(self, answer, body):
        """Exercise 1: a send refused twice with 1302 is retried after two waits."""
        refusals = [APIError(429, "1302", "limit"), APIError(429, "1302", "limit")]

        def flaky(body):  # refused twice, then accepted
            if refusals:
                raise refusals.pop()
            return {"task_status": "PROCESSING"}

        waits = []
        try:
            got = answer(flaky, body, sleep=waits.append)
        except APIError as error:
            self.say("gave_up", code=error.code, waits=len(waits))
            return
        self.expect(got == {"task_status": "PROCESSING"}, "task", got=got)
        self.expect(len(waits) == 2, "two_waits", waits=waits)
        self.say("retries")

    @check("define_threads")
    def ask_all_threads(self, answer, questions, max_open):
        """Exercise 2: answer(questions, ask_async=fake) lets at most `max_open` questions into
        the fake at once, and returns the answers in question order although later questions
        finish first."""
        gate, inside, entered, most = threading.Condition(), set(), [], [0]

        def fake_ask_async(question):  # stands in for ask_async: nothing is submitted
            with gate:
                inside.add(question)
                entered.append(question)
                most[0] = max(most[0], len(inside))
                gate.notify_all()
                # stay in while more threads could come in (0.5 s at most), ...
                gate.wait_for(lambda: len(entered) == len(questions) or len(inside) > max_open,
                              timeout=0.5)
                # ... then let later questions finish first: finishing order is not question
                # order
                gate.wait_for(lambda: question == max(inside, key=questions.index), timeout=5)
                inside.discard(question)
                gate.notify_all()
            return SimpleNamespace(content=f"re: {question}")

        answers = answer(questions, ask_async=fake_ask_async)
        self.expect(most[0] <= max_open, "capped", most=most[0])
        self.expect([getattr(one, "content", one) for one in answers]
                    == [f"re: {question}" for question in questions], "order")
        self.say("threads", cap=max_open)

    @check("define_collect")
    def collect(self, answer, pending_question, questions):
        """Exercise 3: answer(..., poll=fake) polls each pending task once per round, sleeps
        once per round, keeps a 3-second deadline; and pending_question is questions[0]."""
        if pending_question is None:
            self.say("define_collect")
            return
        polled, sleeps = [], []

        def fake_poll(task_id):  # stands in for poll
            polled.append(task_id)
            statuses = SCRIPT[task_id]
            status = statuses[min(polled.count(task_id), len(statuses)) - 1]
            return {"id": task_id, "task_status": status}

        done, pending = answer(["a", "b", "c"], deadline_s=3, sleep=sleeps.append,
                               now=lambda: sum(sleeps), rng=lambda: 0.99, poll=fake_poll)
        self.expect(set(done) == {"a", "b"} and set(pending) == {"c"}, "done",
                    done=sorted(done), pending=sorted(pending))
        self.expect(polled.count("a") == 1, "polled_again")
        self.expect(len(sleeps) < polled.count("c"), "per_round", sleeps=len(sleeps),
                    rounds=polled.count("c"))
        self.expect(sum(sleeps) <= 3, "deadline", seconds=sum(sleeps))
        self.expect(pending_question == questions[0], "pending", question=pending_question)
        self.say("collect")

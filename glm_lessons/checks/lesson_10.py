"""Lesson 10's exercise checks: the capstone's seven steps, each one function of the program.

The checks of steps 1, 2, 3, 5 and 7 call the learner's function with the lesson's client, so
its requests go to the kernel's recorded server (or live, with a key); they send the questions
the lesson's recordings answer. Steps 4 and 6 need no server: trim_history is counted by hand,
and take_turn is given a stand-in client that answers, or fails, on cue.
"""

import copy
import inspect
import io

from glm_client import GREY, Answer, APIError, GLMError, IncompleteAnswer

from .verdicts import Checks as Base
from .verdicts import check


class StandIn:
    """A client whose stream() answers `reply` (or raises `error`), keeping what it was sent."""

    def __init__(self, reply="OK.", error=None):
        self.reply, self.error, self.sent = reply, error, []

    def stream(self, messages, *, on_reasoning=None, on_content=None, **options):
        self.sent.append(copy.deepcopy(messages))
        if isinstance(self.error, IncompleteAnswer) and on_content:
            on_content("Half an ans")  # part of it arrived, then the stream broke
        if self.error is not None:
            raise self.error
        if on_content:
            on_content(self.reply)
        return Answer(content=self.reply, finish_reason="stop")


class Watched:
    """A client passed on to the learner's code, keeping each Answer its stream() returns."""

    def __init__(self, client):
        self.client, self.answers = client, []

    def stream(self, messages, **options):
        answer = self.client.stream(messages, **options)
        self.answers.append(answer)
        return answer


class CtrlC:
    """A keyboard whose first line is Ctrl-C."""

    def readline(self):
        raise KeyboardInterrupt


def roles(messages):
    return ", ".join(message.get("role", "?") for message in messages)


def short(value):
    """A value as the check's line shows it: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def message(role, content):
    return {"role": role, "content": content}


class Checks(Base):
    MESSAGES = {
        "en": {
            "hello": "Hello! Who are you?",
            "again": "What did I just ask you?",
            "weather": "What's the weather in Beijing?",
            "define_ask": "Define ask() above, then run this cell again.",
            "ask_text": "ask() gave {got}: expected the answer's text, a non-empty string "
                        "(answer.content)",
            "define_stream": "Define stream_answer() above, then run this cell again.",
            "stream_options": "stream_answer() must take **options and pass them on to "
                              "client.stream() (step 5 passes tools=TOOLS)",
            "stream_answer": "stream_answer() gave {got}: expected the Answer that "
                             "client.stream() returns",
            "stream_grey": "the reasoning did not arrive in grey: pass printer.reasoning as "
                           "on_reasoning, with printer = Printer(out)",
            "stream_line": "the output ends with {got!r}: expected the answer, then a new line",
            "stream_kept": "stream_answer() changed the messages it was given: leave "
                           "the history to step 3",
            "define_turn": "Define answer_turn() above, then run this cell again.",
            "turn_roles": "after two turns the history is [{got}]: expected [system, user, "
                          "assistant, user, assistant]",
            "turn_message": "the history's last message is {got}: expected "
                            "answer.as_message(...) of the answer answer_turn() returned",
            "define_trim": "Define trim_history() above, then run this cell again.",
            "trim_fits": "with room for everything, trim_history() gave [{got}] and dropped "
                         "{dropped}: expected all 8 messages, 0 dropped",
            "trim_oldest": "with room for 6 messages of 10 tokens, trim_history() kept [{got}]:"
                           " expected the system message, then the last two turns (dropped 2)",
            "trim_turns": "with room for 4 messages, trim_history() kept [{got}]: a tool "
                          "result without its call, or half a turn; expected [system, user] "
                          "(whole turns go, oldest first)",
            "trim_newest": "with room for nothing, trim_history() kept [{got}]: expected "
                           "[system, user], the newest turn kept even over budget",
            "define_tools": "Define answer_with_tools() above, then run this cell again.",
            "tools_roles": "after the weather question the history ends [{got}]: expected "
                           "user, assistant (the call), tool (its result), assistant",
            "tools_id": "the tool message answers {got!r}: expected the id of the call before it",
            "tools_printed": "no \"[tool] get_weather(...)\" line was printed for the call",
            "tools_reasoning": "the assistant message with the tool call went back without its "
                               "reasoning_content: in answer_turn(), "
                               "as_message(with_reasoning=bool(answer.tool_calls))",
            "tools_answer": "answer_with_tools() gave {got}: expected the last Answer, "
                            "in text, without tool calls",
            "define_take": "Define take_turn() above, then run this cell again.",
            "take_trimmed": "take_turn() sent [{got}] for a budget of 200: expected the long "
                            "first turn dropped (system, user, assistant, user)",
            "take_said": "take_turn() trimmed without saying so: print \"(history trimmed: ...)\"",
            "take_kept": "take_turn() returned [{got}]: expected the history it sent, with "
                         "the answer appended",
            "take_raised": "take_turn() let {got} through: catch GLMError and print one "
                           "\"error: ...\" line",
            "take_error": "after a failure take_turn() printed {got}: expected one line "
                          "starting \"error:\", naming the error",
            "take_rolled_back": "after a failure take_turn() returned [{got}]: expected the "
                                "history as it was before the question",
            "define_chat": "Define chat() above, then run this cell again.",
            "chat_prompts": "chat() printed \"you> \" {got} times for two lines and the end "
                            "of input: expected 3",
            "chat_tool": "chat() did not run the weather tool for the second line",
            "chat_goodbye": "chat() printed {got!r} last: expected \"goodbye\" and a new line",
            "chat_quit": "after /quit chat() still sent a request: stop at /quit",
            "chat_ctrl_c": "chat() let Ctrl-C (KeyboardInterrupt) through {where}: catch it, "
                           "then say goodbye",
            "at_prompt": "at the prompt",
            "mid_answer": "in the middle of an answer",
            "correct": "Correct",
        },
        "zh": {
            "hello": "你好！你是谁？",
            "again": "我刚才问了你什么？",
            "weather": "北京现在天气怎么样？",
            "define_ask": "先在上面定义 ask()，再运行这个单元。",
            "ask_text": "ask() 返回了 {got}：应该返回回答的文本，"
                        "一个非空字符串（answer.content）",
            "define_stream": "先在上面定义 stream_answer()，再运行这个单元。",
            "stream_options": "stream_answer() 要接收 **options 并原样传给 client.stream()"
                              "（第 5 步会传入 tools=TOOLS）",
            "stream_answer": "stream_answer() 返回了 {got}："
                             "应该返回 client.stream() 给出的 Answer",
            "stream_grey": "推理内容没有显示成灰色：用 printer = Printer(out)，"
                           "把 printer.reasoning 作为 on_reasoning 传入",
            "stream_line": "输出的结尾是 {got!r}：应该是回答，再加一个换行",
            "stream_kept": "stream_answer() 改动了传入的消息列表：对话历史留给第 3 步处理",
            "define_turn": "先在上面定义 answer_turn()，再运行这个单元。",
            "turn_roles": "两轮之后，对话历史是 [{got}]：应该是 [system, user, assistant, user, "
                          "assistant]",
            "turn_message": "对话历史的最后一条消息是 {got}：应该是 answer_turn() 所返回回答的 "
                            "answer.as_message(...)",
            "define_trim": "先在上面定义 trim_history()，再运行这个单元。",
            "trim_fits": "预算足够时，trim_history() 给出 [{got}]，丢掉 {dropped} 条：应该保留全部 "
                         "8 条，丢掉 0 条",
            "trim_oldest": "预算只够 6 条各 10 个 token 的消息时，trim_history() 保留了 [{got}]："
                           "应该是系统消息加最后两轮（丢掉 2 条）",
            "trim_turns": "预算只够 4 条消息时，trim_history() 保留了 [{got}]："
                          "工具结果离开了它的调用，或者留下了半轮；"
                          "应该是 [system, user]（按整轮丢弃，最早的先丢）",
            "trim_newest": "预算什么都放不下时，trim_history() 保留了 [{got}]："
                           "应该是 [system, user]，最新一轮即使超出预算也要保留",
            "define_tools": "先在上面定义 answer_with_tools()，再运行这个单元。",
            "tools_roles": "问完天气后，对话历史的结尾是 [{got}]：应该是 user、assistant（调用）、"
                           "tool（调用结果）、assistant",
            "tools_id": "工具消息回应的是 {got!r}：应该是它前面那个调用的 id",
            "tools_printed": "调用工具时没有打印 \"[tool] get_weather(...)\" 这一行",
            "tools_reasoning": "带工具调用的 assistant 消息发回时丢了 reasoning_content："
                               "在 answer_turn() 里用 "
                               "as_message(with_reasoning=bool(answer.tool_calls))",
            "tools_answer": "answer_with_tools() 返回了 {got}："
                            "应该返回最后那个不含工具调用的文本回答（Answer）",
            "define_take": "先在上面定义 take_turn()，再运行这个单元。",
            "take_trimmed": "预算为 200 时，take_turn() 发送了 [{got}]：应该丢掉很长的第一轮"
                            "（system, user, assistant, user）",
            "take_said": "take_turn() 裁剪了历史却没有提示：打印 \"(history trimmed: ...)\"",
            "take_kept": "take_turn() 返回了 [{got}]：应该是它发送的对话历史，再加上回答",
            "take_raised": "take_turn() 没有拦住 {got}：捕获 GLMError，打印一行 \"error: ...\"",
            "take_error": "出错后 take_turn() 打印了 {got}：应该只有一行以 \"error:\" 开头、"
                          "说明错误的内容",
            "take_rolled_back": "出错后 take_turn() 返回了 [{got}]：应该是提问之前的对话历史",
            "define_chat": "先在上面定义 chat()，再运行这个单元。",
            "chat_prompts": "输入两行后结束输入，chat() 打印了 {got} 次 \"you> \"：应该是 3 次",
            "chat_tool": "第二行输入没有让 chat() 运行天气工具",
            "chat_goodbye": "chat() 最后打印的是 {got!r}：应该是 \"goodbye\" 加换行",
            "chat_quit": "输入 /quit 之后 chat() 还发了请求：遇到 /quit 就应该停止",
            "chat_ctrl_c": "chat() {where}没有拦住 Ctrl-C（KeyboardInterrupt）：捕获它，"
                           "再说 goodbye",
            "at_prompt": "在等待输入时",
            "mid_answer": "在回答中途",
            "correct": "正确",
        },
    }

    def _question(self, key):
        return message("user", self.text(key))

    @check("define_ask")
    def ask(self, answer, client):
        """Step 1: the text of one answer, asked whole."""
        got = answer(client, self.text("hello"))
        self.expect(isinstance(got, str) and got.strip() != "", "ask_text", got=short(got))
        self.say("correct")

    @check("define_stream")
    def stream_answer(self, answer, client, system_prompt):
        """Step 2: streamed through a Printer onto `out`, the reasoning grey, the line ended."""
        messages, out = [message("system", system_prompt), self._question("hello")], io.StringIO()
        try:
            inspect.signature(answer).bind(client, messages, out, tools=[])
        except TypeError:
            self.expect(False, "stream_options")
        got = answer(client, messages, out)
        self.expect(isinstance(got, Answer), "stream_answer", got=short(got))
        printed = out.getvalue()
        self.expect(GREY in printed or not got.reasoning, "stream_grey")
        self.expect(printed.endswith(got.content + "\n"), "stream_line", got=printed[-40:])
        self.expect(len(messages) == 2, "stream_kept")
        self.say("correct")

    @check("define_turn")
    def answer_turn(self, answer, client, system_prompt):
        """Step 3: two turns, one history."""
        history, out = [message("system", system_prompt), self._question("hello")], io.StringIO()
        answer(client, history, out)
        history.append(self._question("again"))
        got = answer(client, history, out)
        self.expect([m.get("role") for m in history] ==
                    ["system", "user", "assistant", "user", "assistant"],
                    "turn_roles", got=roles(history))
        self.expect(isinstance(got, Answer) and history[-1] == got.as_message(),
                    "turn_message", got=short(history[-1]))
        self.say("correct")

    @check("define_trim")
    def trim_history(self, answer):
        """Step 4: whole turns dropped, oldest first; every message counted as 10 tokens."""
        call = {"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Beijing"}'}}
        history = [message("system", "s"), message("user", "u1"), message("assistant", "a1"),
                   message("user", "u2"), {"role": "assistant", "content": None,
                                           "tool_calls": [call]},
                   {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
                   message("assistant", "a2"), message("user", "u3")]

        def ten(_message):
            return 10

        kept, dropped = answer(list(history), 1000, ten)
        self.expect(kept == history and dropped == 0, "trim_fits", got=roles(kept),
                    dropped=dropped)
        got = answer(list(history), 60, ten)
        self.expect(got == ([history[0]] + history[3:], 2), "trim_oldest", got=roles(got[0]))
        got = answer(list(history), 40, ten)
        self.expect(got == ([history[0], history[-1]], 6), "trim_turns", got=roles(got[0]))
        got = answer(list(history), 5, ten)
        self.expect(got == ([history[0], history[-1]], 6), "trim_newest", got=roles(got[0]))
        self.say("correct")

    @check("define_tools")
    def answer_with_tools(self, answer, client, system_prompt):
        """Step 5: the weather question answered through one tool call, after a greeting."""
        history, out = [message("system", system_prompt), self._question("hello")], io.StringIO()
        watched = Watched(client)
        answer(watched, history, out)
        history.append(self._question("weather"))
        got = answer(watched, history, out)
        tail = history[-4:]
        self.expect([m.get("role") for m in tail] == ["user", "assistant", "tool", "assistant"]
                    and tail[1].get("tool_calls"), "tools_roles", got=roles(tail))
        call = tail[1]["tool_calls"][0]
        self.expect(tail[2].get("tool_call_id") == call["id"], "tools_id",
                    got=tail[2].get("tool_call_id"))
        self.expect(f"[tool] {call['function']['name']}(" in out.getvalue(), "tools_printed")
        calling = [a for a in watched.answers if a.tool_calls]
        reasoned = bool(calling and calling[-1].reasoning)  # live, a model may not think first
        self.expect("reasoning_content" in tail[1] or not reasoned, "tools_reasoning")
        self.expect(isinstance(got, Answer) and not got.tool_calls and got.content,
                    "tools_answer", got=short(got))
        self.say("correct")

    @check("define_take")
    def take_turn(self, answer):
        """Step 6: trimmed before sending, said so; a failure is one line and no half-turn."""
        system, long = message("system", "s"), "many words " * 200
        history = [system, message("user", long), message("assistant", long),
                   message("user", "u2"), message("assistant", "a2")]
        client, out = StandIn(), io.StringIO()
        kept = answer(client, list(history), "u3", out, 200)
        sent = client.sent[0] if client.sent else []
        self.expect(sent == [system] + history[3:] + [message("user", "u3")], "take_trimmed",
                    got=roles(sent))
        self.expect("(history trimmed" in out.getvalue(), "take_said")
        self.expect(kept == sent + [message("assistant", "OK.")], "take_kept",
                    got=roles(kept))
        for error in (APIError(429, "1113", "Insufficient balance"),
                      IncompleteAnswer("the stream broke after 3 chunks", Answer())):
            out = io.StringIO()
            try:
                kept = answer(StandIn(error=error), list(history), "u3", out, 100000)
            except GLMError as escaped:
                self.expect(False, "take_raised", got=type(escaped).__name__)
            said = [line for line in out.getvalue().splitlines() if "error:" in line]
            self.expect(len(said) == 1 and said[0].startswith("error:") and str(error) in said[0],
                        "take_error", got=short(out.getvalue()))
            self.expect(kept == history, "take_rolled_back", got=roles(kept))
        self.say("correct")

    @check("define_chat")
    def chat(self, answer, client):
        """Step 7: two lines typed, then the end of input; /quit; Ctrl-C anywhere."""
        typed = io.StringIO(self.text("hello") + "\n" + self.text("weather") + "\n")
        printed = io.StringIO()
        answer(client, typed, printed)
        printed = printed.getvalue()
        self.expect(printed.count("you> ") == 3, "chat_prompts", got=printed.count("you> "))
        self.expect("[tool] get_weather(" in printed, "chat_tool")
        self.expect(printed.endswith("goodbye\n"), "chat_goodbye", got=printed[-20:])
        stand_in, printed = StandIn(), io.StringIO()
        answer(stand_in, io.StringIO("/quit\n" + self.text("hello") + "\n"), printed)
        self.expect(not stand_in.sent, "chat_quit")
        for where, keyboard, client_now in [
                ("at_prompt", CtrlC(), StandIn()),
                ("mid_answer", io.StringIO("u1\n"), StandIn(error=KeyboardInterrupt()))]:
            printed = io.StringIO()
            try:
                answer(client_now, keyboard, printed)
            except KeyboardInterrupt:
                self.expect(False, "chat_ctrl_c", where=self.text(where))
            self.expect(printed.getvalue().endswith("goodbye\n"), "chat_goodbye",
                        got=printed.getvalue()[-20:])
        self.say("correct")

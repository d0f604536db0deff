"""Lesson 06's exercise checks: tool calls."""

from glm_client import merge_tool_call_fragments

from .verdicts import Checks as Base
from .verdicts import check


def call_with(arguments):
    return {"id": "call_1", "function": {"name": "celsius_to_fahrenheit", "arguments": arguments}}


class Checks(Base):
    MESSAGES = {
        "en": {
            "store_paris": "Store what get_weather returns for Paris in paris above, then run "
                           "this cell again.",
            "one_key": "get_weather returns a dict with one key, error; not {paris!r}",
            "city": "Paris",
            "names_city": "the error names the city: {paris!r}",
            "paris": "Correct: a result the model can read, where KeyError would end the "
                     "conversation",
            "let_through": "parse_tool_call() let celsius={wrong} through: add the type check "
                           "above",
            "put_pieces": "Put your fragments in pieces above, then run this cell again.",
            "index": "every fragment has index -1",
            "first_named": "only the first has the id and name",
            "one_character": "each fragment carries one character of the arguments",
            "merged": "the fragments merged into {merged!r}, not the call of section 1",
            "pieces": "Correct: {count} fragments, one call",
            "write_fake": "Write your fake send above as always_calls(), then run this cell "
                          "again.",
            "question": "Is it sunny in Beijing?",
            "returned": "run_conversation() returned: always_calls() should ask for a tool call "
                        "every time",
            "stopped": "Correct: {error}",
            "correct": "Correct",
        },
        "zh": {
            "store_paris": "先在上面把 get_weather 对巴黎返回的结果存进 paris，再运行这个单元。",
            "one_key": "get_weather 返回只有一个键 error 的字典，而不是 {paris!r}",
            "city": "巴黎",
            "names_city": "错误信息里要写出城市：{paris!r}",
            "paris": "正确：模型读得懂这个结果，而 KeyError 会让对话直接结束",
            "let_through": "parse_tool_call() 放过了 celsius={wrong}：先在上面加上类型检查",
            "put_pieces": "先在上面把片段存进 pieces，再运行这个单元。",
            "index": "每个片段的 index 都是 -1",
            "first_named": "只有第一个片段带 id 和函数名",
            "one_character": "每个片段只带参数的一个字符",
            "merged": "这些片段合并成了 {merged!r}，而不是第 1 节的那个调用",
            "pieces": "正确：{count} 个片段，一个调用",
            "write_fake": "先在上面把假的 send 写成 always_calls()，再运行这个单元。",
            "question": "北京现在是晴天吗？",
            "returned": "run_conversation() 正常返回了：always_calls() 应该每次都请求工具调用",
            "stopped": "正确：{error}",
            "correct": "正确",
        },
    }

    @check("store_paris")
    def paris(self, paris):
        """Exercise 1: what get_weather returned for a city it has no data for."""
        self.expect(isinstance(paris, dict) and set(paris) == {"error"}, "one_key", paris=paris)
        self.expect(self.text("city") in paris["error"], "names_city", paris=paris)
        self.say("paris")

    @check()
    def parse_tool_call(self, parse_tool_call, bad_tool_call):
        """Exercise 2: parse_tool_call refuses a string and a bool for a number, with
        `bad_tool_call` (the lesson's BadToolCall), and still passes a number."""
        parse_tool_call(call_with('{"celsius": 26.5}'))  # the right type must still pass
        for wrong in ['"26"', "true"]:
            try:
                parse_tool_call(call_with(f'{{"celsius": {wrong}}}'))
            except bad_tool_call:
                continue
            self.say("let_through", wrong=wrong)
            return
        self.say("correct")

    @check("put_pieces")
    def pieces(self, pieces, call):
        """Exercise 3: one-character fragments of `call` (section 1's), index -1, only the
        first named, that merge_tool_call_fragments rebuilds into that call. It is
        glm_client's, which the lesson's deep dive shows word for word: the exercise does not
        need the deep dive's names."""
        self.expect(all(piece.get("index") == -1 for piece in pieces), "index")
        named = [("id" in piece, "name" in piece["function"]) for piece in pieces]
        self.expect(named == [(True, True)] + [(False, False)] * (len(pieces) - 1),
                    "first_named")
        self.expect(all(len(piece["function"]["arguments"]) == 1 for piece in pieces),
                    "one_character")
        merged = merge_tool_call_fragments([], pieces)
        self.expect(len(merged) == 1 and merged[0]["function"] == call["function"],
                    "merged", merged=merged)
        self.say("pieces", count=len(pieces))

    @check("write_fake")
    def always_calls(self, answer, run_conversation, tools):
        """Exercise 4: run_conversation with this send stops after max_rounds."""
        try:
            run_conversation(self.text("question"), tools, send=answer, max_rounds=3)
        except RuntimeError as error:
            self.say("stopped", error=error)
        else:
            self.say("returned")

"""Lesson 01's exercise checks: API keys and tokens."""

import time

import jwt

from .verdicts import Checks as Base
from .verdicts import check

SAMPLE_EXP_MS = 1_060_000  # a token made at 1 000 s with 60 s to live expires here, in ms


class Checks(Base):
    MESSAGES = {
        "en": {
            "define_seconds_left": "Define token_seconds_left() above, then run this cell again.",
            "seconds_left": "token_seconds_left() gave {got} at {now_ms} ms; expected {want}",
            "whole_seconds": "{got}: whole seconds only",
            "store_times": "Store the times in new_token_times above, then run this cell again.",
            "times": "{got}: renewing 60 s early, the token made at 0 (expiring at 210) is "
                     "replaced from 210 - 60 = 150 on, and the next one lasts until 360",
            "make_forged": "Make that token above, name it forged, then run this cell again.",
            "expired": "forged has expired: only its signature should be wrong",
            "not_a_token": "forged is not a GLM token (a JWT, HS256, with an exp claim): {why}",
            "real_secret": "forged is signed with your real secret: sign it with another one",
            "forged": "Correct: a token that has not expired, with a wrong signature",
            "correct": "Correct",
        },
        "zh": {
            "define_seconds_left": "先在上面定义 token_seconds_left()，再运行这个单元。",
            "seconds_left": "token_seconds_left() 在 {now_ms} 毫秒时给出 {got}；应该是 {want}",
            "whole_seconds": "{got}：只算整秒",
            "store_times": "先在上面把这些时刻存进 new_token_times，再运行这个单元。",
            "times": "{got}：提前 60 秒换新时，第 0 秒生成的令牌（第 210 秒过期）"
                     "从 210 - 60 = 150 秒起被替换，下一个令牌一直用到第 360 秒",
            "make_forged": "先在上面做好这个令牌，命名为 forged，再运行这个单元。",
            "expired": "forged 已经过期：应该只有签名是错的",
            "not_a_token": "forged 不是 GLM 令牌（HS256 签名、带 exp 声明的 JWT）：{why}",
            "real_secret": "forged 是用你真正的 secret 签名的：换一个 secret 签名",
            "forged": "正确：令牌没有过期，签名是错的",
            "correct": "正确",
        },
    }

    @check("define_seconds_left")
    def token_seconds_left(self, answer):
        """Exercise 2: answer(token, now_ms) -> whole seconds left, on a token of the check's."""
        sample = jwt.encode({"api_key": "check", "exp": SAMPLE_EXP_MS, "timestamp": 1_000_000},
                            "x" * 32, algorithm="HS256", headers={"sign_type": "SIGN"})
        got = answer(sample, 1_000_000)
        self.expect(got == 60, "seconds_left", got=got, now_ms=1_000_000, want=60)
        got = answer(sample, 1_030_500)
        self.expect(got == 29, "whole_seconds", got=got)
        self.say("correct")

    @check("store_times")
    def new_token_times(self, answer):
        """Exercise 3: the times a cache renewing 60 s early makes a new token."""
        self.expect(sorted(answer) == [0, 150], "times", got=sorted(answer))
        self.say("correct")

    @check("make_forged")
    def forged(self, answer, secret):
        """Exercise 4: a token that has not expired, signed with another secret than `secret`."""
        try:
            claims = jwt.decode(answer, options={"verify_signature": False})
            self.expect(isinstance(claims.get("exp"), (int, float)), "not_a_token",
                        why="no exp claim")
            self.expect(claims["exp"] > time.time() * 1000, "expired")
            jwt.decode(answer, secret, algorithms=["HS256"])
        except jwt.InvalidSignatureError:
            self.say("forged")
        except jwt.PyJWTError as exc:
            self.expect(False, "not_a_token", why=f"{type(exc).__name__}: {exc}")
        else:
            self.say("real_secret")

"""Lesson 01's forged-token check answers a malformed token with a hint, not a traceback."""

import time
import warnings

import jwt
import pytest

from glm_lessons import exercise_checks

SECRET = "s" * 48


def token(claims, key="another-secret-" * 4, algorithm="HS256"):
    with warnings.catch_warnings():  # short HMAC keys warn; the check is what matters here
        warnings.simplefilter("ignore")
        return jwt.encode(claims, key, algorithm=algorithm)


LATER_MS = int(time.time() * 1000) + 3_600_000
MALFORMED = {
    "not-a-jwt": ("not-a-jwt", "DecodeError"),
    "no-exp": (token({"api_key": "id"}), "no exp claim"),
    "hs384": (token({"exp": LATER_MS}, algorithm="HS384"), "InvalidAlgorithmError"),
}


@pytest.mark.parametrize("answer, why", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_token_gets_a_hint(capsys, answer, why):
    exercise_checks("en", lesson="01").forged(answer, SECRET)
    out = capsys.readouterr().out
    assert out.startswith("forged is not a GLM token") and why in out


def test_the_hint_is_in_the_lessons_language(capsys):
    exercise_checks("zh", lesson="01").forged("not-a-jwt", SECRET)
    assert capsys.readouterr().out.startswith("forged 不是 GLM 令牌")


def test_a_forged_token_still_passes(capsys):
    exercise_checks("en", lesson="01").forged(token({"exp": LATER_MS}), SECRET)
    assert capsys.readouterr().out.startswith("Correct")

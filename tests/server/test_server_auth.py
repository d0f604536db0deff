"""Authorization as the GLM v4 API takes it: a raw key or a millisecond JWT
(docs/sources.md#authentication)."""

import base64

import jwt
import pytest
import requests

import glm_offline

NOW_SECONDS = 1_800_000_000  # the server's clock in these tests
KEY_ID, SECRET = glm_offline.OFFLINE_API_KEY.split(".")
OTHER_SECRET = "a-different-secret-of-more-than-32-bytes"
HELLO = {"model": "glm-4-flash-250414",
         "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}

ERROR_401 = {"error": {"code": "401", "message": "令牌已过期或验证不正确"}}  # UNVERIFIED split
ERROR_1000 = {"error": {"code": "1000", "message": "身份验证失败。"}}
ERROR_1001 = {"error": {"code": "1001",
                        "message": "Header中未收到Authorization参数，无法进行身份验证。"}}
ERROR_1002 = {"error": {"code": "1002",
                        "message": "Authorization Token非法，请确认Authorization Token正确传递。"}}
ERROR_1003 = {"error": {"code": "1003", "message": "Authorization Token已过期，请重新生成/获取。"}}
ERROR_1004 = {"error": {"code": "1004", "message": "通过Authorization Token的验证失败。"}}


def make_jwt(exp, key_id=KEY_ID, secret=SECRET, headers=None):
    payload = {"api_key": key_id, "exp": exp, "timestamp": NOW_SECONDS * 1000}
    return jwt.encode(payload, secret, algorithm="HS256",
                      headers=headers or {"alg": "HS256", "sign_type": "SIGN"})


@pytest.fixture(scope="module")
def clocked():
    with glm_offline.start(pacing="instant", strict=True, clock=lambda: NOW_SECONDS) as running:
        yield running


def post(server, headers):
    return requests.post(server.base_url + "/chat/completions", json=HELLO, headers=headers,
                         timeout=10)


@pytest.mark.parametrize("authorization", [
    f"Bearer {glm_offline.OFFLINE_API_KEY}",
    glm_offline.OFFLINE_API_KEY,
    f"Bearer {make_jwt(NOW_SECONDS * 1000 + 210_000)}",
    make_jwt(NOW_SECONDS * 1000 + 1),
], ids=["raw-key", "raw-key-without-bearer", "jwt-ms", "jwt-without-bearer-1ms-left"])
def test_accepted_credentials(clocked, authorization):
    r = post(clocked, {"Authorization": authorization})
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "Hello! It's nice to meet you."


@pytest.mark.parametrize("authorization, expected", [
    (f"Bearer {make_jwt(NOW_SECONDS * 1000)}", ERROR_1003),
    (f"Bearer {make_jwt(NOW_SECONDS * 1000 - 1)}", ERROR_1003),
    (f"Bearer {make_jwt(NOW_SECONDS + 210)}", ERROR_1003),
    (f"Bearer {make_jwt(NOW_SECONDS * 1000 + 210_000, secret=OTHER_SECRET)}", ERROR_1004),
    (f"Bearer {make_jwt(NOW_SECONDS * 1000 + 210_000, headers={'alg': 'HS256'})}", ERROR_1002),
    ("Bearer not-a-credential", ERROR_1002),
    ("Bearer a.b.c", ERROR_1002),
    ("Bearer one.two.three.four", ERROR_1002),
    ("Bearer glm-offline.wrong-secret", ERROR_401),
    ("Bearer someone-else.this-secret-only-unlocks-the-recorded-server", ERROR_1000),
    (f"Bearer {make_jwt(NOW_SECONDS * 1000 + 210_000, key_id='someone-else')}", ERROR_1000),
    ("Bearer ", ERROR_1002),
], ids=["jwt-exp-now", "jwt-expired", "jwt-exp-in-seconds", "jwt-bad-signature",
        "jwt-without-sign-type", "garbage", "garbage-three-parts", "four-parts", "raw-wrong-secret",
        "raw-unknown-id", "jwt-unknown-id", "empty-after-bearer"])
def test_rejected_credentials(clocked, authorization, expected):
    r = post(clocked, {"Authorization": authorization})
    assert r.status_code == 401
    assert r.json() == expected
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"


def test_missing_header_is_1001(clocked):
    r = post(clocked, {})
    assert (r.status_code, r.json()) == (401, ERROR_1001)


def test_expiry_follows_the_server_clock():
    token = make_jwt(NOW_SECONDS * 1000 + 5_000)
    now = [NOW_SECONDS]
    with glm_offline.start(pacing="instant", strict=True, clock=lambda: now[0]) as server:
        assert post(server, {"Authorization": f"Bearer {token}"}).status_code == 200
        now[0] = NOW_SECONDS + 5
        r = post(server, {"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()) == (401, ERROR_1003)


def test_other_api_keys_option():
    with glm_offline.start(pacing="instant", strict=True,
                           api_keys=("room-a.secret-for-room-a-is-long-enough",)) as server:
        assert server.api_key == "room-a.secret-for-room-a-is-long-enough"
        ok = post(server, {"Authorization": "Bearer room-a.secret-for-room-a-is-long-enough"})
        default_key = post(server, {"Authorization": f"Bearer {glm_offline.OFFLINE_API_KEY}"})
    assert ok.status_code == 200
    assert (default_key.status_code, default_key.json()) == (401, ERROR_1000)


def segment(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


SIGNED_HEADER = segment(b'{"alg":"HS256","sign_type":"SIGN"}')
PAYLOAD = segment(b'{"api_key":"glm-offline","exp":9999999999999,"timestamp":0}')


@pytest.mark.parametrize("where", ["header", "payload"])
@pytest.mark.parametrize("depth", [9, 990, 1400])  # 1400 levels: about the length limit
def test_a_jwt_nested_thousands_of_levels_deep_is_a_clean_1002(clocked, capfd, where, depth):
    nested = b"[" * depth + b"]" * depth
    if where == "header":
        parts = [segment(b'{"alg":"HS256","sign_type":"SIGN","x":' + nested + b"}"), PAYLOAD]
    else:
        parts = [SIGNED_HEADER, segment(b'{"api_key":"glm-offline","x":' + nested + b"}")]
    token = ".".join([*parts, segment(b"not-a-signature")])
    assert len(token) <= 4096  # over that, the length check alone would answer
    r = post(clocked, {"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()) == (401, ERROR_1002)
    assert "Traceback" not in capfd.readouterr().err

"""Authorization exactly as the GLM v4 API accepts it (docs/sources.md#authentication).

Two styles, both sent as ``Authorization: Bearer <credential>``:
  * the raw API key ``<id>.<secret>`` (what the official SDK sends by default today);
  * a JWT signed HS256 with the secret part, header ``sign_type: SIGN``, payload
    ``api_key`` (the id part), ``exp`` and ``timestamp`` in *milliseconds*.

Which business code each bad-credential case yields on the live service is UNVERIFIED.
The choice here: missing header 1001, unreadable credential 1002 (also a JWT whose exp, or
timestamp, is not a finite number: NaN, Infinity, text), expired token 1003,
bad signature 1004, well-formed credential for an unknown key 1000, and a raw key whose id
is known but whose secret is wrong: the body with code "401" and "令牌已过期或验证不正确"
that live traffic showed in 2026 beside 1000 (docs/sources.md#authentication; when each
appears live is UNVERIFIED: this split is the recorded server's guess).
check() returns the key id, so the server can keep each key's requests and tasks apart.
"""

import base64
import ipaddress
import json
import math
import time
from urllib.parse import urlsplit

import jwt

from .wire import api_error

# The one key the recorded server knows. It is deliberately not shaped like a real key
# (32 hex + "." + 16 alphanumerics), and its secret is over 32 bytes so that PyJWT
# signs it without an InsecureKeyLengthWarning.
# Every offline key (key_kinds.py) has this secret; is_offline_key() is the one test for them.
OFFLINE_SECRET = "this-secret-only-unlocks-the-recorded-server"
OFFLINE_API_KEY = f"glm-offline.{OFFLINE_SECRET}"
MAX_CREDENTIAL_CHARS = 4096  # a real key is ~49 characters, a JWT ~200
MAX_JWT_NESTING = 8  # a GLM token's header and payload are flat objects


def split_key(api_key):
    """Return (id, secret) of an API key, or raise ValueError without echoing the secret."""
    parts = api_key.split(".") if isinstance(api_key, str) else []
    if len(parts) != 2 or not all(parts):
        raise ValueError("API key must look like '<id>.<secret>': one '.', text on both sides")
    return parts[0], parts[1]


def is_offline_key(key):
    """Whether a key is an offline one (key_kinds.KEYS): one with the offline secret, which
    the real API never knows. The one test for it, here and in key_kinds."""
    try:
        return split_key(key)[1] == OFFLINE_SECRET
    except ValueError:
        return False


def is_local(url):
    """Whether a URL points at this machine (localhost or a loopback address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def own_key(upstream, environ, needed_for):
    """The user's own key from ZHIPUAI_API_KEY, for a tool that calls `upstream`; ValueError
    (one line, never showing the key) when it is missing, malformed, or the offline key
    sent anywhere but this machine."""
    key = environ.get("ZHIPUAI_API_KEY", "").strip()
    if not key:
        raise ValueError(f"ZHIPUAI_API_KEY is not set. {needed_for} needs your own key "
                         "(https://open.bigmodel.cn); it goes to the API through the local "
                         "proxy and is never printed or written.")
    if is_offline_key(key) and not is_local(upstream):
        raise ValueError("ZHIPUAI_API_KEY is one of the offline server's keys, which the real API "
                         "does not know; set your own key.")
    try:
        split_key(key)
    except ValueError as exc:
        raise ValueError(f"ZHIPUAI_API_KEY: {exc}") from None
    return key


def _nesting(value):
    """How deeply lists and objects nest in a parsed JSON value (a flat object is 1)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value \
            if isinstance(value, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            if deepest > MAX_JWT_NESTING:
                break
            stack.extend((child, depth + 1) for child in children)
    return deepest


def jwt_segment(segment):
    """A JWT segment's JSON; ValueError for anything unreadable or nested deeper than a
    token's claims ever are (PyJWT parses the segments again, at a deeper stack)."""
    padded = segment + "=" * (-len(segment) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if _nesting(value) > MAX_JWT_NESTING:
        raise ValueError("nested too deeply")
    return value


def finite_number(value):
    """A JSON number other than NaN or ±Infinity (a bool is no number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def bearer_credential(header):
    """The credential in an Authorization header: a raw key or a JWT, "" when there is none.

    In 2024 the SDK sent the credential without "Bearer " and the service accepted it (SDK
    history); both forms are taken here. Current behaviour: UNVERIFIED.
    """
    credential = (header or "").strip()
    if credential[:7].lower() == "bearer ":
        credential = credential[7:].strip()
    return credential


class Authenticator:
    """Checks an Authorization header against a set of known API keys."""

    def __init__(self, api_keys=(OFFLINE_API_KEY,), clock=time.time):
        self.secrets = dict(split_key(key) for key in api_keys)
        self.clock = clock

    def key(self, key_id):
        """The whole key of an id check() returned."""
        return f"{key_id}.{self.secrets[key_id]}"

    def check(self, header):
        """Return the key id when the header is accepted, raise APIError otherwise."""
        if header is None or not header.strip():
            raise api_error("1001")
        credential = bearer_credential(header)
        if len(credential) > MAX_CREDENTIAL_CHARS:
            raise api_error("1002")
        dots = credential.count(".")
        if dots == 1:
            return self._check_raw_key(credential)
        if dots == 2:
            return self._check_jwt(credential)
        raise api_error("1002")

    def _check_raw_key(self, credential):
        key_id, secret = credential.split(".")
        if key_id not in self.secrets or not secret:
            raise api_error("1000")
        if self.secrets[key_id] != secret:
            raise api_error("401")  # a known id with the wrong secret (UNVERIFIED, see above)
        return key_id

    def _check_jwt(self, token):
        try:
            header = jwt_segment(token.split(".")[0])
            payload = jwt_segment(token.split(".")[1])
        except (ValueError, UnicodeError):
            raise api_error("1002") from None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise api_error("1002")
        if header.get("alg") != "HS256" or header.get("sign_type") != "SIGN":
            raise api_error("1002")
        key_id = payload.get("api_key")
        if not isinstance(key_id, str) or key_id not in self.secrets:
            raise api_error("1000")
        try:
            # PyJWT would read a millisecond exp as seconds (a date far in the future),
            # so its own exp check is off and the comparison below uses milliseconds.
            jwt.decode(token, self.secrets[key_id], algorithms=["HS256"],
                       options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
        except jwt.InvalidSignatureError:
            raise api_error("1004") from None
        except jwt.PyJWTError:
            raise api_error("1002") from None
        exp_ms = payload.get("exp")
        # exp, and timestamp when sent, are finite numbers: a token whose exp is NaN or
        # Infinity (JSON allows neither; Python's parser reads both, and 1e999) never expires.
        if not finite_number(exp_ms) or not finite_number(payload.get("timestamp", 0)):
            raise api_error("1002")
        # No clock-skew leeway: the service compares against its own clock (UNVERIFIED
        # tolerance). An exp written in seconds is a date in 1970 in milliseconds: expired.
        if exp_ms <= self.clock() * 1000:
            raise api_error("1003")
        return key_id

"""What counts as a secret in what the server stores or shows, in one place: the recorder
keeps these out of cassettes (record.py), the wire page off the projector (wire_frames.py).

A secret is the caller's own credential and its secret part (a raw key's secret, a JWT's
signature), and anything shaped like a real key; the wire page also hides anything shaped
like a JWT (JWT_SHAPE), whoever's it is.
"""

import re

from .auth import bearer_credential

REDACTED = "<redacted>"
# The shape of real keys in public examples (docs/sources.md#authentication): 32 hex, ".",
# 16 alphanumerics.
KEY_SHAPE = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32}\.[A-Za-z0-9]{16}(?![0-9A-Za-z])")
# A JWT: two base64url JSON objects ('{"' encodes as "eyJ") and a signature.
JWT_SHAPE = re.compile(r"(?<![0-9A-Za-z_-])eyJ[0-9A-Za-z_-]*\.eyJ[0-9A-Za-z_-]*\."
                       r"[0-9A-Za-z_-]{16,}")


def credential_secrets(header):
    """What an Authorization header gives away: the credential, and its secret part (a raw
    key's secret, a JWT's signature). Short pieces are left out: they are no secret."""
    credential = bearer_credential(header)
    parts = credential.split(".")
    found = [credential, parts[-1]] if len(parts) in (2, 3) else [credential]
    return sorted({piece for piece in found if len(piece) >= 8}, key=len, reverse=True)


def redact_text(text, secrets, shapes=(KEY_SHAPE,), replacement=REDACTED):
    """(text with each of `secrets` (longest first) and each match of `shapes` replaced;
    how many were replaced)."""
    count = 0
    for secret in secrets:
        count += text.count(secret)
        text = text.replace(secret, replacement)
    for shape in shapes:
        text, found = shape.subn(replacement, text)
        count += found
    return text, count


def redact(value, secrets):
    """(value with every secret, and anything shaped like a real key, replaced by
    "<redacted>" in every string and object key; how many were replaced)."""
    count = 0

    def text(string):
        nonlocal count
        string, found = redact_text(string, secrets)
        count += found
        return string

    def walk(item):
        if isinstance(item, str):
            return text(item)
        if isinstance(item, dict):
            return {text(key): walk(child) for key, child in item.items()}
        if isinstance(item, list):
            return [walk(child) for child in item]
        return item

    return walk(value), count

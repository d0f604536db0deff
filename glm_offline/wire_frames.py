"""The wire page's frames (wire_page.py): one function, frame(), makes every one of them.

A frame is one SSE event whose data is JSON the page's `JSON.parse` always reads and that
always encodes as UTF-8, whatever an attendee sent: nothing in it can cut or stall the page
for everyone, leak a secret onto the projector, or make the page lie. So in every string
(object keys too):
  * secrets are hidden: the known keys' secrets, the request's own credential and its
    signature, and every shape redaction.py knows (a real-shaped key, a JWT);
  * a lone surrogate (JSON "\\ud800" decodes to one) becomes U+FFFD;
  * a bidirectional control (U+202E shows text reversed) is written out as "[U+202E]";
  * a run of more than MAX_MARKS_IN_A_ROW combining marks (one "letter" as tall or as wide
    as the page) is cut to that many, with the count of the rest;
and a number JSON cannot carry (NaN, ±Infinity, an integer too long to print) is shown as
text. Nothing here raises on any JSON value: replace, never fail.
"""

import codecs
import json
import math
import re
import unicodedata

from .redaction import JWT_SHAPE, KEY_SHAPE, redact_text

HIDDEN = "•••"
SHAPES = (KEY_SHAPE, JWT_SHAPE)
MAX_MARKS_IN_A_ROW = 4  # enough for any script's stacked accents (Vietnamese uses 2)
MAX_INTEGER_BITS = 1024  # a longer integer is shown by its size (Python will not print 5000 digits)
MARGIN_BYTES = 512  # text read past a cap, so a secret that straddles the cap is still found
_SURROGATE = re.compile("[\ud800-\udfff]")
# Arabic letter mark, LRM/RLM, embeddings/overrides (LRE RLE PDF LRO RLO), isolates (LRI RLI
# FSI PDI): what reorders text without being seen.
_BIDI_CONTROL = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED_FLOATS = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _cut_mark_runs(text):
    out, run = [], 0
    for char in text:
        if unicodedata.category(char).startswith("M"):
            run += 1
            if run > MAX_MARKS_IN_A_ROW:
                continue
        elif run > MAX_MARKS_IN_A_ROW:
            out.append(f"[+{run - MAX_MARKS_IN_A_ROW} marks]")
            run = 0
        else:
            run = 0
        out.append(char)
    if run > MAX_MARKS_IN_A_ROW:
        out.append(f"[+{run - MAX_MARKS_IN_A_ROW} marks]")
    return "".join(out)


def safe_text(text, secrets=()):
    """A string as the page may show it (see the module's docstring)."""
    text = redact_text(text, secrets, SHAPES, HIDDEN)[0]
    if text.isascii():
        return text
    text = _SURROGATE.sub("\ufffd", text)
    text = _BIDI_CONTROL.sub(lambda found: f"[U+{ord(found.group()):04X}]", text)
    return _cut_mark_runs(text)


def safe_value(value, secrets=()):
    """A parsed JSON value (or the page's own dicts) with every string made safe_text and
    every number JSON can carry; nesting is as deep as the value's (claims: at most 8)."""
    if isinstance(value, str):
        return safe_text(value, secrets)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return _NAMED_FLOATS.get(value, value)
    if isinstance(value, int):
        bits = value.bit_length()
        return value if bits <= MAX_INTEGER_BITS else f"(a number of {bits} bits)"
    if isinstance(value, dict):
        return {safe_text(str(key), secrets): safe_value(child, secrets)
                for key, child in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe_value(child, secrets) for child in value]
    return safe_text(repr(value), secrets)


def frame(kind, data, secrets=()):
    """One SSE event of the page's own stream, as UTF-8 bytes; `secrets` are hidden in it."""
    text = json.dumps(safe_value(data, secrets), ensure_ascii=False, allow_nan=False)
    return f"event: {kind}\ndata: {text}\n\n".encode("utf-8")


def shown_text(data, limit, secrets=()):
    """(text, bytes not shown): at most `limit` bytes of UTF-8 text, never half a character,
    secrets hidden first (a key cut in two by the cap is still a key)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text = decoder.decode(data[:limit + MARGIN_BYTES], final=len(data) <= limit + MARGIN_BYTES)
    text = safe_text(text, secrets)
    encoded = text.encode("utf-8")
    if len(encoded) <= limit and len(data) <= limit:
        return text, 0
    return encoded[:limit].decode("utf-8", "ignore"), max(0, len(data) - limit)

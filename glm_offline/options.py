"""The server's options: one way to set each in code, one in the environment, checked here.

    glm_offline.start(pacing="instant", strict=True)    # in code (also server.configure)
    GLM_OFFLINE_PACING=instant GLM_OFFLINE_STRICT=1     # in the environment

A value given in code wins over the environment; a bad value in either is a ValueError that
names the option and the values it takes. Flags read from the environment take
1/true/yes/on and 0/false/no/off (so GLM_OFFLINE_STRICT=false means off).
"""

import os
import sys

# Stream options: how a stream is written (chunking, line endings, charset, pacing).
STREAM_OPTIONS = {
    "chunking": ("event", "hostile"),
    "line_ending": ("lf", "crlf"),
    "charset": (True, False),
    "pacing": ("realistic", "instant"),
}
STREAM_DEFAULTS = {"chunking": "event", "line_ending": "lf", "charset": True,
                   "pacing": "realistic"}
# Server options: name -> (default, kind). "flag" is a bool; "count" a whole number >= 1 or None.
SERVER_OPTIONS = {
    "strict": (False, "flag"),
    "english": (False, "flag"),
    "max_in_flight": (None, "count"),
    "max_connections": (None, "count"),
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
MAX_COUNT = 100000


IN_PROCESS_ENV = "GLM_OFFLINE_IN_PROCESS"


def in_process(environ=None, platform=None):
    """Whether glm_offline.start() makes an in-process server (inprocess.py) rather than one on
    a socket: always in the browser (sys.platform "emscripten": no sockets there), and where
    GLM_OFFLINE_IN_PROCESS is on (the tests run the browser edition's lessons that way)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    text = environ.get(IN_PROCESS_ENV, "").strip()
    return platform == "emscripten" or (bool(text) and parse_flag(IN_PROCESS_ENV, text))


def env_name(option):
    return "GLM_OFFLINE_" + option.upper()


def parse_flag(name, text):
    """'1'/'true'/'yes'/'on' -> True, '0'/'false'/'no'/'off' -> False, else ValueError."""
    word = text.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(f"{name} must be one of {'/'.join(_TRUE)} or {'/'.join(_FALSE)}, "
                     f"not {text!r}")


def parse_count(name, text):
    word = text.strip()
    if not (word.isascii() and word.isdigit() and len(word) <= 6):
        raise ValueError(f"{name} must be a whole number from 1 to {MAX_COUNT}, not {text!r}")
    return check_count(name, int(word))


def check_count(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise ValueError(f"{name} must be a whole number from 1 to {MAX_COUNT}, not {value!r}")
    return value


def check_stream_options(options):
    """The options unchanged if every name and value is known, else ValueError."""
    for name, value in options.items():
        if name not in STREAM_OPTIONS:
            raise ValueError(f"unknown stream option {name!r}; "
                             f"options: {', '.join(STREAM_OPTIONS)}")
        if value not in STREAM_OPTIONS[name] or type(value) is not type(STREAM_OPTIONS[name][0]):
            raise ValueError(f"{name} must be one of {STREAM_OPTIONS[name]}, not {value!r}")
    return options


def stream_options_from_env(environ=None):
    """Stream options set in GLM_OFFLINE_CHUNKING / _LINE_ENDING / _CHARSET / _PACING."""
    environ = os.environ if environ is None else environ
    options = {}
    for name, values in STREAM_OPTIONS.items():
        text = environ.get(env_name(name), "").strip()
        if text:
            options[name] = parse_flag(env_name(name), text) if values == (True, False) \
                else text.lower()
    try:
        return check_stream_options(options)
    except ValueError as exc:
        raise ValueError(f"environment variable: {exc}") from None


def server_options(given, environ=None):
    """SERVER_OPTIONS resolved: the value given in code (not None), else the environment
    (GLM_OFFLINE_STRICT, _ENGLISH, _MAX_IN_FLIGHT, _MAX_CONNECTIONS), else the default."""
    environ = os.environ if environ is None else environ
    resolved = {}
    for name, (default, kind) in SERVER_OPTIONS.items():
        value = given.get(name)
        if value is not None:
            if kind == "flag" and not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, not {value!r}")
            resolved[name] = value if kind == "flag" else check_count(name, value)
            continue
        text = environ.get(env_name(name), "").strip()
        if not text:
            resolved[name] = default
        elif kind == "flag":
            resolved[name] = parse_flag(env_name(name), text)
        else:
            resolved[name] = parse_count(env_name(name), text)
    return resolved

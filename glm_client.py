"""glm_client.py: a small client for GLM chat completions, on requests and PyJWT only.

Copy this one file into a project, or `pip install` the lessons' package, and:

    from glm_client import GLM_BASE_URL, GLMClient, GLMError
    client = GLMClient(GLM_BASE_URL, api_key)
    answer = client.stream([{"role": "user", "content": "Hello"}],
                           on_content=lambda text: print(text, end="", flush=True))
    answer.content, answer.reasoning, answer.finish_reason, answer.usage

The parts, each taught in a lesson and used here unchanged:

1. Keys and tokens (lesson 01): split_key, sign_token, TokenCache, GLMAuth
2. Errors (lesson 05): GLMError, the base of everything raised here for a failed call, and
   its children APIError, NetworkError, IncompleteAnswer; api_error_from(response)
3. Server-sent events (lesson 03): split_lines (bytes to lines), iter_events (lines to events)
4. GLM's stream (lesson 03): iter_chunks (events to JSON chunks, [DONE], error frames)
5. The answer (lessons 03 and 06): Answer, merge_tool_call_fragments
6. Retries (lesson 05): is_retryable, backoff_delays
7. The client: GLMClient.chat() and GLMClient.stream()
8. On screen (lesson 03): Printer, the reasoning in grey apart from the answer

Each fact about the API has a public source, listed in the course's docs/sources.md; the
official reference is https://docs.bigmodel.cn/cn/api/introduction (in English,
https://docs.z.ai). UNVERIFIED marks a choice no source settles.
"""

import json
import random
import re
import time
from dataclasses import dataclass, field

import jwt
import requests

__all__ = ["Answer", "APIError", "Event", "GLMAuth", "GLMClient", "GLMError", "IncompleteAnswer",
           "NetworkError", "Printer", "TokenCache", "api_error_from", "backoff_delays",
           "is_retryable", "iter_chunks", "iter_events", "merge_tool_call_fragments", "sign_token",
           "split_key", "split_lines"]

GLM_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"  # international: https://api.z.ai/api/paas/v4
DEFAULT_MODEL = "glm-4.7-flash"  # free, and a thinking model (docs/sources.md#models)


# -- 1. Keys and tokens ------------------------------------------------------------------
def split_key(api_key):
    """(key_id, secret) of a GLM API key '<id>.<secret>'; ValueError for anything else.

    The message never repeats the key, which holds the secret."""
    if not isinstance(api_key, str):
        raise ValueError(f"API key must be a string like '<id>.<secret>', "
                         f"not {type(api_key).__name__}")
    parts = api_key.strip().split(".")  # strip: a key pasted with its newline still works
    if len(parts) != 2 or not all(parts) or any(c.isspace() for c in api_key.strip()):
        raise ValueError("API key must look like '<id>.<secret>' (two parts, one dot, no spaces):"
                         " copy it again from the console")
    return parts[0], parts[1]


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return value


def sign_token(api_key, *, ttl_seconds=3600, now=None):
    """A JWT to send as `Authorization: Bearer <token>` instead of the key (HS256).

    GLM wants `exp` and `timestamp` in MILLISECONDS, not the seconds JWT libraries assume.
    `now` is Unix time in seconds, as time.time() gives it; the clock is read once.
    PyJWT warns (InsecureKeyLengthWarning) that GLM's 16-character secrets are short for
    HS256: their length is GLM's choice, not yours."""
    if not ttl_seconds > 0:
        raise ValueError(f"ttl_seconds must be more than 0, not {ttl_seconds!r}")
    key_id, secret = split_key(api_key)
    now_ms = int((time.time() if now is None else now) * 1000)
    exp_ms = now_ms + int(ttl_seconds * 1000)
    claims = {"api_key": key_id, "exp": exp_ms, "timestamp": now_ms}
    return jwt.encode(claims, secret, algorithm="HS256", headers={"sign_type": "SIGN"})


class TokenCache:
    """One signed token, reused until `renew_before` seconds before it expires."""

    def __init__(self, api_key, *, ttl_seconds=3600, renew_before=60, clock=time.time):
        split_key(api_key)  # a malformed key fails now, not at the first call
        if not 0 <= renew_before < _positive("ttl_seconds", ttl_seconds):
            raise ValueError("renew_before must be at least 0 and less than ttl_seconds")
        self._api_key, self._ttl, self._renew_before = api_key, ttl_seconds, renew_before
        self._clock = clock
        self._token, self._renew_at = None, 0.0

    def token(self):
        """The cached token, or a new one when the old one is due to be renewed."""
        now = self._clock()  # read once: the token and its renewal time agree
        if self._token is None or now >= self._renew_at:
            self._token = sign_token(self._api_key, ttl_seconds=self._ttl, now=now)
            self._renew_at = now + self._ttl - self._renew_before
        return self._token


class GLMAuth(requests.auth.AuthBase):
    """`Authorization: Bearer ...` with the raw key (the default, as the official SDK does),
    or with a token from a TokenCache (use_jwt=True): then the secret never travels."""

    def __init__(self, api_key, *, use_jwt=False):
        split_key(api_key)
        self._key = api_key.strip()
        self._tokens = TokenCache(self._key) if use_jwt else None

    def __call__(self, request):
        credential = self._tokens.token() if self._tokens else self._key
        request.headers["Authorization"] = f"Bearer {credential}"
        return request


# -- 2. Errors -----------------------------------------------------------------------------
class GLMError(Exception):
    """A failed call. Everything this module raises for one is a GLMError (bad arguments to
    the functions and classes here are ValueErrors)."""


class APIError(GLMError):
    """GLM refused: the HTTP status (200 for an error frame inside a stream), the business
    code as a string ("1302"; the status when the body is not GLM's), the message, the
    request_id if GLM sent one, and Retry-After in seconds if a header carried it."""

    def __init__(self, status, code, message, request_id=None, retry_after_seconds=None):
        super().__init__(f"HTTP {status}, code {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.request_id, self.retry_after_seconds = request_id, retry_after_seconds


class NetworkError(GLMError):
    """No answer came back: connection refused or reset, a timeout, a stream cut before its
    first event. Nothing of an answer was delivered, so asking again is safe."""


class IncompleteAnswer(GLMError):
    """Part of an answer: the stream broke or ended early after some of it arrived, or GLM
    ended it with a finish_reason other than "stop" or "tool_calls". `.answer` holds what
    arrived (an Answer). Never retried: asking again would deliver the beginning twice."""

    def __init__(self, message, answer):
        super().__init__(message)
        self.answer = answer


NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout,
                  requests.exceptions.ChunkedEncodingError)


def _one_line(text, limit=200):
    return " ".join(str(text).split())[:limit]


def _error_fields(body):
    """(code, message, request_id) from a GLM error body, or Nones for another body."""
    if not isinstance(body, dict):
        return None, None, None
    error = body.get("error")
    if isinstance(error, dict):  # {"error": {"code": "1302", "message": ...}, "request_id": ...}
        return error.get("code"), error.get("message"), body.get("request_id")
    if "code" in body and "message" in body:  # no "error" wrapper: docs/sources.md#error-body
        return body["code"], body["message"], body.get("request_id")
    if isinstance(error, str):  # Spring's 404: docs/sources.md#unknown-path
        return None, f"{error} {body.get('path', '')}".strip(), None
    return None, None, None


def api_error_from(response):
    """The APIError for a response that is not a success, from GLM's error body if it has
    one (a gateway's HTML page or an unknown path's 404 has not)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code, message, request_id = _error_fields(body)
    # GLM sends none: docs/sources.md#rate-limits-and-retries
    after = response.headers.get("Retry-After", "").strip()
    return APIError(response.status_code,
                    str(response.status_code if code is None else code),
                    _one_line(message if message is not None
                              else (response.text or response.reason)),
                    request_id, int(after) if after.isdigit() else None)


# -- 3. Server-sent events: https://html.spec.whatwg.org/multipage/server-sent-events.html --
LINE_END = re.compile(rb"\r\n|\r|\n")  # the only line endings in an event stream


def split_lines(chunks):
    """Byte chunks in, text lines out, without their line endings.

    Splits on CR, LF and CRLF only, and a CRLF cut between two chunks is one line ending.
    Each line is decoded as UTF-8 once it is complete, so a character cut between chunks
    is whole again (bad bytes become U+FFFD, one leading BOM is dropped, as the spec says).
    Each byte is looked at once: the time is linear in the bytes, however they are chunked.
    A last line with no line ending is dropped: it cannot end an event."""
    line, after_cr, first = bytearray(), False, True
    for chunk in chunks:
        if after_cr and chunk[:1] == b"\n":  # the LF of a CRLF whose CR ended the last chunk
            chunk, after_cr = chunk[1:], False
        if not chunk:
            continue
        after_cr, start = chunk.endswith(b"\r"), 0
        for end in LINE_END.finditer(chunk):
            line += chunk[start:end.start()]
            text = line.decode("utf-8", errors="replace")
            yield text.removeprefix("\ufeff") if first else text
            line.clear()
            first, start = False, end.end()
        line += chunk[start:]


@dataclass(frozen=True)
class Event:
    """One server-sent event: its type, its data, the last event ID, the retry time (ms)."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: "int | None" = None


def iter_events(lines):
    """Text lines in, events out, as the spec's "interpret an event stream" says."""
    data, event_type, last_id, retry = [], "", "", None
    for line in lines:
        if not line:  # a blank line dispatches the event, if it has data
            if data:
                yield Event(event_type or "message", "\n".join(data), last_id, retry)
            data, event_type = [], ""
            continue
        if line.startswith(":"):
            continue  # a comment (a keep-alive, for example)
        name, _, value = line.partition(":")  # a line without a colon is a field, empty value
        value = value[1:] if value.startswith(" ") else value  # one space only
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            retry = int(value)
        # any other field is ignored, as the spec says


# -- 4. GLM's stream -------------------------------------------------------------------------
def _chunk_from(event):
    """The JSON chunk an event carries; APIError for an error frame, GLMError for bad data."""
    try:
        chunk = json.loads(event.data)
    except ValueError:
        if event.event == "error":
            raise APIError(200, "", _one_line(event.data)) from None
        raise GLMError(f"a stream event is not JSON: {_one_line(event.data, 100)!r}") from None
    if event.event == "error" or (isinstance(chunk, dict) and "error" in chunk):
        code, message, request_id = _error_fields(chunk)
        raise APIError(200, str(code or ""), _one_line(message or event.data), request_id)
    if not isinstance(chunk, dict):
        raise GLMError(f"a stream event is not a JSON object: {_one_line(event.data, 100)!r}")
    return chunk


def _read_to_end(raw):
    """Read what is left of a body (normally only its end), so the connection is reused;
    if that fails, the answer is still whole and only the connection is lost."""
    try:
        for _ in raw:
            pass
    except NETWORK_ERRORS:
        pass


def iter_chunks(response):
    """The JSON chunks (dicts) of a streaming requests.Response, up to `data: [DONE]`.

    An error frame (`event: error`, or data with a top-level "error") raises APIError. A
    stream that stops before [DONE] raises IncompleteAnswer with what arrived; one cut before
    its first event raises NetworkError. After [DONE] the body is read to its end, so that
    the connection can serve the next call."""
    raw = response.iter_content(chunk_size=None)
    seen = []
    try:
        for event in iter_events(split_lines(raw)):
            if event.data == "[DONE]":
                _read_to_end(raw)
                return
            chunk = _chunk_from(event)
            seen.append(chunk)
            yield chunk
    except NETWORK_ERRORS as error:  # cut, or no byte within the read timeout
        what = f"the stream broke ({type(error).__name__})"
        if not seen:
            raise NetworkError(f"{what} before its first event") from error
        raise IncompleteAnswer(f"{what} after {len(seen)} chunks",
                               Answer.from_chunks(seen)) from error
    except requests.RequestException as error:  # a body that cannot be decoded, for example
        raise GLMError(f"the stream could not be read: {_one_line(error)}") from error
    raise IncompleteAnswer(f"the stream ended after {len(seen)} chunks without data: [DONE]",
                           Answer.from_chunks(seen))


# -- 5. The answer --------------------------------------------------------------------------
def call_for(calls, fragment):
    """The call in `calls` that a streamed tool-call fragment continues, or None."""
    call_id, index = fragment.get("id"), fragment.get("index")
    if call_id:
        return next((call for call in calls if call["id"] == call_id), None)
    if isinstance(index, int) and index >= 0:
        return next((call for call in calls if call.get("index") == index), None)
    # No id, and index -1 (glm-4.5-flash, docs/sources.md#tool-calls) or none. GLM sends
    # each call whole, so one that names a function is a new call. UNVERIFIED: a nameless
    # fragment like this (only more arguments) is not in any capture; it is taken to continue
    # the latest call.
    named = (fragment.get("function") or {}).get("name")
    return calls[-1] if calls and not named else None


def merge_tool_call_fragments(calls, fragments):
    """Fold the fragments of a streamed delta["tool_calls"] into `calls` (changed in place,
    and returned). A fragment continues the call with its id, else the one with its index;
    the name is the first one given, arguments are concatenated."""
    for fragment in fragments:
        call = call_for(calls, fragment)
        if call is None:
            call = {"id": fragment.get("id"), "index": fragment.get("index"),
                    "type": fragment.get("type") or "function",
                    "function": {"name": "", "arguments": ""}}
            calls.append(call)
        function = fragment.get("function") or {}
        call["function"]["name"] = call["function"]["name"] or function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""
    return calls


def _first_choice(container):
    """choices[0] of a body or chunk, or {} (GLM answers with one choice)."""
    choices = container.get("choices") if isinstance(container, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else {}


@dataclass
class Answer:
    """An assistant answer: its text, the reasoning before it (thinking models), tool calls,
    why it ended, and the token counts (on the last chunk of a stream only)."""

    content: str = ""
    reasoning: str = ""
    tool_calls: list = field(default_factory=list)
    finish_reason: "str | None" = None
    usage: "dict | None" = None

    @classmethod
    def from_body(cls, body):
        """From a whole (non-streaming) response body; GLMError if it is not a chat answer."""
        message = _first_choice(body).get("message")
        if not isinstance(message, dict):
            raise GLMError(f"the answer has no choices[0].message: {_one_line(body, 100)}")
        return cls(content=message.get("content") or "",  # absent, null or "" alike
                   reasoning=message.get("reasoning_content") or "",  # absent, null or ""
                   tool_calls=list(message.get("tool_calls") or []),
                   finish_reason=_first_choice(body).get("finish_reason"),
                   usage=body.get("usage"))

    @classmethod
    def from_chunks(cls, chunks):
        """From a stream's JSON chunks."""
        answer = cls()
        for chunk in chunks:
            answer.add_chunk(chunk)
        return answer

    def add_chunk(self, chunk):
        """Fold one stream chunk in; return the (reasoning, content) text it added.

        A delta may hold only reasoning_content, only content, both, tool calls or nothing;
        finish_reason and usage come with the last chunk only."""
        choice = _first_choice(chunk)
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        reasoning, content = delta.get("reasoning_content") or "", delta.get("content") or ""
        self.reasoning += reasoning
        self.content += content
        merge_tool_call_fragments(self.tool_calls, delta.get("tool_calls") or [])
        self.finish_reason = choice.get("finish_reason") or self.finish_reason
        self.usage = chunk.get("usage") or self.usage
        return reasoning, content

    def as_message(self, *, with_reasoning=False):
        """The assistant message to append to the conversation. with_reasoning=True sends the
        reasoning back too, as GLM asks with clear_thinking false or interleaved thinking."""
        message = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["content"] = self.content or None  # null when empty, as glm-4 sent it
            message["tool_calls"] = [{k: v for k, v in call.items() if k != "index"}
                                     for call in self.tool_calls]
        if with_reasoning and self.reasoning:
            message["reasoning_content"] = self.reasoning
        return message


WHY_CUT = {"length": "max_tokens was reached (reasoning counts too)",
           "sensitive": "content moderation stopped it",
           "network_error": "inference failed inside GLM",
           "model_context_window_exceeded": "the conversation no longer fits the context"}


def _whole(answer):
    """The answer if GLM finished it, else IncompleteAnswer saying why it was cut."""
    if answer.finish_reason in ("stop", "tool_calls"):
        return answer
    why = WHY_CUT.get(answer.finish_reason, "GLM did not say why it ended")
    raise IncompleteAnswer(f"finish_reason {answer.finish_reason!r}: {why}", answer)


# -- 6. Retries ------------------------------------------------------------------------------
RETRY_CODES = frozenset({"1302", "1305", "1200", "1230", "1234"})  # limit, overload, GLM failed


def is_retryable(error):
    """Whether sending the same request again, a little later, may succeed.

    Yes: codes 1302 (your concurrency limit) and 1305 (the model is overloaded), also in an
    error frame; HTTP 5xx and codes 1200, 1230, 1234 (a failure inside GLM); a 429 without a
    GLM code (a gateway's); network errors (NetworkError, or requests' own).
    No: 1113 (no balance: waiting will not pay), every other 4xx (1308-1321 quotas reset
    hours later), an IncompleteAnswer ever, and anything else."""
    if isinstance(error, IncompleteAnswer):
        return False
    if isinstance(error, (NetworkError, *NETWORK_ERRORS)):
        return True
    if not isinstance(error, APIError):
        return False
    if error.code in RETRY_CODES or error.status >= 500:
        return True
    # A 429 with any other GLM code is final (1113: no balance; 1308-1321: quotas); a 429
    # without one is a gateway's, and retried.
    glm_code = len(error.code) == 4 and error.code.isdigit()
    return error.status == 429 and not glm_code


def backoff_delays(*, base=0.5, cap=8.0, attempts=3, rng=random.random):
    """The waits before retries 1, 2, ... `attempts`, in seconds: "full jitter", a random
    share rng() in [0, 1) of base * 2**n, capped at cap. Pass rng to make them repeatable."""
    if not (isinstance(attempts, int) and attempts >= 0 and base > 0 and cap > 0):
        raise ValueError("backoff_delays needs a whole number attempts >= 0, base > 0, cap > 0")
    for n in range(attempts):
        yield rng() * min(cap, base * 2 ** n)


# -- 7. The client ---------------------------------------------------------------------------
class GLMClient:
    """chat() and stream() on POST /chat/completions: one Session, a timeout on every call,
    the key (or a token) as Bearer auth, retries with backoff for what is_retryable allows.

    timeout is (connect, read) in seconds. The read timeout applies to each read from the
    socket, not to the whole answer: a stream that keeps sending is never cut, one that goes
    silent for that long is. Inject sleep and rng to test or to show the retries."""

    def __init__(self, base_url, api_key, *, model=DEFAULT_MODEL,
                 use_jwt=False, timeout=(5, 60), max_retries=3, sleep=time.sleep,
                 rng=random.random, session=None):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, not {base_url!r}")
        if base_url.rstrip("/").endswith("/chat/completions"):
            raise ValueError("base_url ends at /api/paas/v4, without /chat/completions")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be a whole number, 0 or more, not {max_retries!r}")
        if isinstance(timeout, tuple) and len(timeout) != 2:
            raise ValueError("timeout must be seconds, or a pair (connect seconds, read seconds)")
        for seconds in timeout if isinstance(timeout, tuple) else (timeout,):
            _positive("timeout", seconds)
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.auth = GLMAuth(api_key, use_jwt=use_jwt)
        self.model, self.timeout, self.max_retries = model, timeout, max_retries
        self.sleep, self.rng = sleep, rng
        self.session = session or requests.Session()  # one connection, reused call after call

    def close(self):
        self.session.close()

    def chat(self, messages, **params):
        """The whole answer at once, as an Answer; any GLM option as a keyword (tools=...)."""
        if "stream" in params:
            raise ValueError("chat() does not stream: call stream() instead")
        body = {"model": self.model, "messages": messages, **params}
        return self._with_retries(lambda: _whole(self._chat_once(body)))

    def stream(self, messages, *, on_reasoning=None, on_content=None, **params):
        """The answer as it is written: on_reasoning(text) gets each piece of reasoning,
        on_content(text) each piece of the answer; returns the whole Answer.

        Retried only while nothing has arrived; once a chunk has, a failure raises
        IncompleteAnswer with what arrived (an error frame's APIError is its __cause__)."""
        if "stream" in params:
            raise ValueError("stream() always streams: leave out stream=")
        body = {"model": self.model, "messages": messages, **params, "stream": True}
        return self._with_retries(lambda: _whole(self._stream_once(body, on_reasoning,
                                                                   on_content)))

    def _with_retries(self, send):
        delays = backoff_delays(attempts=self.max_retries, rng=self.rng)
        while True:
            try:
                return send()
            except GLMError as error:
                delay = next(delays, None) if is_retryable(error) else None
                if delay is None:
                    raise
                after = getattr(error, "retry_after_seconds", None)
                self.sleep(delay if after is None else after)

    def _post(self, body, stream):
        """The response to one POST, if it is a success; else the GLMError it means."""
        try:
            response = self.session.post(self.url, json=body, auth=self.auth, stream=stream,
                                         timeout=self.timeout)
            if not response.ok:
                with response:
                    raise api_error_from(response)
        except NETWORK_ERRORS as error:
            raise NetworkError(f"no answer from {self.url}: {type(error).__name__}") from error
        except requests.RequestException as error:  # an invalid URL or header, for example
            raise GLMError(f"the request could not be sent: {_one_line(error)}") from error
        return response

    def _chat_once(self, body):
        with self._post(body, stream=False) as response:
            try:
                payload = response.json()
            except ValueError:
                text = _one_line(response.text, 100)
                raise GLMError(f"the answer is not JSON: {text!r}") from None
        return Answer.from_body(payload)

    def _stream_once(self, body, on_reasoning, on_content):
        answer, started = Answer(), False
        with self._post(body, stream=True) as response:
            try:
                for chunk in iter_chunks(response):
                    started = True
                    reasoning, content = answer.add_chunk(chunk)
                    if reasoning and on_reasoning:
                        on_reasoning(reasoning)
                    if content and on_content:
                        on_content(content)
            except (IncompleteAnswer, NetworkError):
                raise
            except GLMError as error:  # an error frame, or a chunk that is not JSON
                if started:
                    raise IncompleteAnswer(f"the stream failed after part of the answer: "
                                           f"{error}", answer) from error
                raise
        return answer


# -- 8. On screen --------------------------------------------------------------------------

# A mid grey (xterm colour 245, #8a8a8a): dimmer than the answer on a light screen and on a
# dark one, in a terminal, in JupyterLab and in an HTML export. Plain "dim" (\x1b[2m) and
# "bright black" (\x1b[90m) are drawn almost black in Jupyter's light theme.
GREY, PLAIN = "\x1b[38;5;245m", "\x1b[0m"


class Printer:
    """Shows a streamed answer as it arrives: the reasoning in grey, then the answer on a line
    of its own. client.stream(messages, on_reasoning=p.reasoning, on_content=p.content)."""

    def __init__(self, file=None):
        self.file = file  # None: sys.stdout at the time of printing
        self.reasoned = self.answering = False

    def reasoning(self, text):
        print(GREY + text + PLAIN, end="", flush=True, file=self.file)
        self.reasoned = True

    def content(self, text):
        apart = self.reasoned and not self.answering
        print("\n" + text if apart else text, end="", flush=True, file=self.file)
        self.answering = True

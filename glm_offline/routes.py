"""The replay app: which path does what, and the chat and async endpoints, answered from
cassettes with auth, validation, faults and the per-attendee concurrency limit.

Adding an endpoint is one entry in ReplayApp.api_route() and one method here. Every request
but the wire page's own is shown on that page (wire_page.py) as it arrives. The coding plan's
base URL is served like the general one (coding_plan.py); the documented endpoints this server
does not serve answer that the live API has them (endpoints.py).
"""

import threading

from . import chat, coding_plan, control, endpoints, key_kinds, tasks, wire_page
from .faults import reshape
from .validation import parse_body, validate_chat
from .wire import APIError, api_error, http_error, spring_not_found

API_PREFIX = "/api/paas/v4"
CHAT_PATH = API_PREFIX + "/chat/completions"
ASYNC_PATH = API_PREFIX + "/async/chat/completions"
RESULT_PREFIX = API_PREFIX + "/async-result/"
SERVED = ("/chat/completions", "/async/chat/completions")  # and /async-result/{id}
# The response header that says how a recorded answer matched (history: Exchange.match).
MATCH_HEADER = "X-GLM-Offline-Match"


class InFlight:
    """Requests in progress per attendee, for the live API's concurrency limit (1302)."""

    def __init__(self, limit):
        self.limit = limit
        self._lock = threading.Lock()
        self._counts = {}

    def enter(self, key):
        with self._lock:
            count = self._counts.get(key, 0)
            if self.limit is not None and count >= self.limit:
                return False
            self._counts[key] = count + 1
            return True

    def leave(self, key):
        with self._lock:
            self._counts[key] -= 1
            if not self._counts[key]:
                del self._counts[key]


class ReplayApp:
    """Answers chat requests and async tasks from cassettes, with auth, validation and faults."""

    def __init__(self, owner, library, authenticator, strict, max_in_flight=None):
        self.owner = owner
        self.library = library
        self.auth = authenticator
        self.strict = strict
        self.in_flight = InFlight(max_in_flight)
        self.wire = wire_page.WireLog(hidden=authenticator.secrets.values())

    def route(self, method, path):
        if path == wire_page.WIRE_PATH:  # the page and its stream are not shown on the page
            return allowed(method, ("GET",), self.wire_view)
        if path == wire_page.EVENTS_PATH:
            return allowed(method, ("GET",), self.wire_events)

        def shown_on_the_wire_page(handler, path, raw):
            self.wire.watch(handler.exchange, handler.headers, raw)
            self.api_route(method, path)(handler, path, raw)
        return shown_on_the_wire_page

    def api_route(self, method, path):
        if path == control.FAULTS_PATH:
            return allowed(method, ("GET", "POST", "DELETE"), self.admin_faults)
        coding = path.startswith(coding_plan.CODING_PREFIX + "/")
        if coding:  # the coding plan's base URL: the same endpoints (coding_plan.py)
            path = API_PREFIX + path[len(coding_plan.CODING_PREFIX):]
        if path == CHAT_PATH:
            return allowed(method, ("POST",), self.plan_aware(self.chat, path, coding))
        if path == ASYNC_PATH:
            return allowed(method, ("POST",), self.plan_aware(self.async_chat, path, coding))
        if path.startswith(RESULT_PREFIX):
            return allowed(method, ("GET",), self.async_result)
        names = endpoints.live_only(path[len(API_PREFIX):]) \
            if path.startswith(API_PREFIX + "/") else None
        if names is not None:
            return lambda handler, shown, raw: handler.send_error(
                endpoints.live_only_error(names, shown))
        return self.not_found

    @staticmethod
    def plan_aware(action, general, coding):
        """The action, given the general path (what matching and the recordings use) and
        whether the request came to the coding plan's base URL."""
        return lambda handler, path, raw: action(handler, general, raw, coding)

    def checked_body(self, handler, raw, coding=False):
        """(key id, chat body) once auth, the key's kind on this base URL (key_kinds.py) and
        validation pass (APIError otherwise); on the coding plan, the body as the plan treats it."""
        key_id = self.auth.check(handler.headers.get("Authorization"))
        key_kinds.check(self.auth.key(key_id), coding)
        body = parse_body(raw)
        validate_chat(coding_plan.checked_as(body) if coding else body)
        return key_id, coding_plan.plan_body(body) if coding else body

    def chat(self, handler, path, raw, coding=False):
        key_id, body = self.checked_body(handler, raw, coding)
        # The live limit is on requests in flight per account, i.e. per key
        # (docs/sources.md#rate-limits-and-retries); that it answers 429/1302 at once rather
        # than queueing is what the docs describe. A room shares one offline key, so here it
        # is per key and client address: on one machine (the case it models) the same as per
        # key, and in a room one attendee at the limit does not put everyone at 429.
        attendee = (key_id, handler.attendee)
        if not self.in_flight.enter(attendee):
            return handler.send_error(api_error("1302"))
        try:
            fault = self.take_fault(handler, streaming=body.get("stream") is True)
            if fault and fault.error():
                return self.send_fault_error(handler, fault)
            reply = self.reply_for(handler, "POST", path, body, coding)
            if fault:
                reply = reshape(reply, fault, handler.english())
            self.owner.write_reply(handler, reply)
        finally:
            self.in_flight.leave(attendee)

    def async_chat(self, handler, path, raw, coding=False):
        """Start a task whose polls replay the matching recording; answer its record."""
        key_id, body = self.checked_body(handler, raw, coding)
        # The async API has no "stream" (docs/sources.md#async-tasks); that the service ignores
        # one sent anyway, rather than rejecting it, is UNVERIFIED.
        body.pop("stream", None)
        fault = self.take_fault(handler, streaming=False, task=True)
        if fault and fault.error():
            return self.send_fault_error(handler, fault)
        reply = self.reply_for(handler, "POST", path, body, coding)
        if reply.status != 200:  # a recorded rejection
            return self.owner.write_reply(handler, reply)
        if fault:
            reply = reshape(reply, fault, handler.english())
        final = tasks.task_record(reply.json, "SUCCESS")
        if fault and fault.kind == "task_fail":
            final = tasks.task_record(tasks.task_fields(final), "FAIL")
        polls = tasks.GENERATED_TASK_POLLS if reply.source == "generated" \
            else reply.polls_before_done
        client = (key_id, handler.attendee)  # one client: as the in-flight count has it
        record = self.owner.tasks.submit(final, polls, client)
        handler.send_json(200, record, reply.source, reply.headers or ())

    def async_result(self, handler, path, raw):
        """A task's record: PROCESSING for its first polls, then SUCCESS or FAIL."""
        self.auth.check(handler.headers.get("Authorization"))
        ident = path.split("/async-result/", 1)[1]  # under either base URL
        record = self.owner.tasks.poll(ident)
        if record is None:
            # UNVERIFIED: the live answer for an unknown or expired id is not documented;
            # this server answers HTTP 404 with code "404".
            raise http_error(404, f"no such task: {ident[:100]}")
        handler.send_json(200, record, "task:" + record["task_status"])

    def not_found(self, handler, path, raw):
        """An unknown path gets the gateway's Spring-style 404, not a GLM body
        (docs/sources.md#unknown-path),
        stamped with the server's clock."""
        body = spring_not_found(path, self.auth.clock())
        if v1_is_the_mistake(path):
            # This server's own addition, not in the live body: the classic cause is a client
            # that appends /v1 to a base URL already ending in /v4 (docs/sources.md#unknown-path).
            body["offline_hint"] = (
                "glm_offline's own hint, not part of the live answer: the path has /v1 after "
                "/api/paas/v4. The base URL already ends in /v4; use "
                "https://open.bigmodel.cn/api/paas/v4 as it is, without /v1.")
        handler.send_json(404, body, "error")

    def admin_faults(self, handler, path, raw):
        control.faults_endpoint(self.owner, handler, raw)

    def wire_view(self, handler, path, raw):
        wire_page.page(self.owner, handler)

    def wire_events(self, handler, path, raw):
        wire_page.events(self.owner, handler, self.wire)

    def close(self):
        """The server stops: pages watching the wire are let go."""
        self.wire.close()

    def take_fault(self, handler, streaming, task=False):
        """The next fault for this request (a slow first byte waits here), or None."""
        fault = self.owner.faults.take(streaming, task)
        if fault:
            handler.exchange.fault = fault.kind
            if fault.kind == "slow_first_byte":
                self.owner.wait(fault.params.get("seconds", 5))
        return fault

    def send_fault_error(self, handler, fault):
        retry = fault.params.get("retry_after")
        handler.send_error(fault.error(), [("Retry-After", str(retry))] if retry is not None
                           else [])

    def reply_for(self, handler, method, path, body, coding=False):
        """The recorded reply (exact, or in non-strict mode one that differs only in sampling
        values, said in a header and the history), or a generated one."""
        reply = self._reply_for(handler, method, path, body)
        return coding_plan.substitute(reply) if coding else reply

    def _reply_for(self, handler, method, path, body):
        interaction = self.library.find(method, path, body)
        if interaction:
            handler.exchange.match = "exact"
            return interaction.reply()
        if self.strict:
            miss = self.library.explain_miss(method, path, body)
            near, differ = self.library.find_ignoring_sampling(method, path, body)
            if near is not None:
                miss += (f"; {near.name!r} differs only in {', '.join(differ)}, and "
                         "non-strict mode would replay it")
            raise APIError(400, "offline_no_recording", "strict mode: no recording matches this "
                           "request; " + miss)
        near, differ = self.library.find_ignoring_sampling(method, path, body)
        if near is not None:
            handler.exchange.match = "sampling-ignored"
            reply = near.reply()
            reply.headers = [(MATCH_HEADER, "sampling-ignored; differs in " + ", ".join(differ))]
            return reply
        return chat.generated(body)


def v1_is_the_mistake(path):
    """Whether a path is a served or documented one with /v1 put after /v4: a base URL that
    already ends in /v4 plus a client's own /v1, the classic cause of the gateway's 404 seen
    live in 2026. /v1/agents is a real path (the official SDKs' agents API)."""
    for prefix in (API_PREFIX, coding_plan.CODING_PREFIX):
        if path == prefix + "/v1":
            return True
        if path.startswith(prefix + "/v1/"):
            rest = path[len(prefix) + 3:]  # what follows /v1
            if rest in SERVED or rest.startswith("/async-result/") or \
                    endpoints.live_only(rest) is not None:
                return True
    return False


def allowed(method, methods, action):
    if method not in methods:
        names = ", ".join(methods[:-1]) + " or " + methods[-1] if len(methods) > 1 else methods[0]
        error = http_error(405, f"{method} is not allowed here; use {names}")
        error.headers = [("Allow", ", ".join(methods))]  # a 405 must say (RFC 9110 15.5.6)
        raise error
    return action

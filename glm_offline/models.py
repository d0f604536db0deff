"""The models the recorded server knows, in one table that validation, replies and matching
read: whether and how each thinks, whether it takes images, its max_tokens ceiling, its
reasoning_effort values, what its usage reports, and its sampling defaults.

Facts: glm-api-facts.md 2.4 (defaults), 7.1 (models), 7.2 (thinking), 7.3 (limits). Where the
sources do not settle a value, the choice is marked UNVERIFIED below.

Thinking modes:
  "none"       the model does not think; a `thinking` field is accepted and ignored (UNVERIFIED)
  "switchable" thinks unless the request sends thinking {"type": "disabled"}
  "forced"     always thinks; {"type": "disabled"} is accepted and ignored (UNVERIFIED)
  "forced_rejects_disabled"  always thinks; {"type": "disabled"} is a 400/1210 (captured for
               glm-5.3; UNVERIFIED for glm-5.2)

reasoning_effort: every model takes it. Its values are checked only where they are
documented (glm-5.2 and glm-5.3: low | high | max). Any other thinking model answered 200 to
"high" (glm-4.7-flash, charmbracelet/fantasy go-vcr fixtures, api.z.ai, 2026-03), and its
answer is taken not to change (UNVERIFIED); a model that does not think accepts and ignores
it as it does `thinking` (UNVERIFIED: no capture either way).

The coding plan (`/api/coding/paas/v4`) serves only GLM-5.3 and GLM-5.3-Flash in late 2026
and silently switches older names (docs.bigmodel.cn /cn/api/introduction): the
mapping chosen here is CODING_PLAN_MODELS below.
"""

from dataclasses import dataclass

MAX_TOKENS_LIMIT = 131072  # the largest per-model ceiling (facts 2.4, 7.3)
SENTENCE = "sentence"  # Model.tool_call_content: a short sentence, written per answer


@dataclass(frozen=True)
class Model:
    thinking: str = "none"
    vision: bool = False  # accepts image parts in message content
    max_tokens: int = MAX_TOKENS_LIMIT  # the ceiling of max_tokens' range, [1, max_tokens]
    reasoning_effort: tuple = ()  # documented values; empty: any string, ignored (UNVERIFIED)
    default_effort: str = None
    # usage reports prompt_tokens_details.cached_tokens and
    # completion_tokens_details.reasoning_tokens
    usage_details: bool = False
    # how a stream hands over from reasoning to content: "plain", "dot" or "newline-first"
    # (see chat.thinking_deltas)
    handover: str = "plain"
    default_temperature: float = 1.0
    default_top_p: float = 0.95
    # a named tool_choice with thinking on is a 1210 (seen live for glm-4.5, 4.6 and 4.7;
    # glm-4.5-air and glm-5.3 accepted it)
    named_choice_needs_thinking_off: bool = False
    # message.content beside tool_calls in a non-streamed answer: a string, never null (LangChain's
    # ChatZhipuAI rejects null). SENTENCE: a short sentence on what the model calls, as
    # glm-4.7-flash sent in 2026 (charmbracelet/fantasy fixtures); any other value is sent as is.
    tool_call_content: str = "sentence"

    @property
    def thinks_by_default(self):
        return self.thinking != "none"

    def thinks(self, body):
        """Whether this request's answer carries reasoning."""
        if self.thinking == "none":
            return False
        thinking = body.get("thinking")
        disabled = isinstance(thinking, dict) and thinking.get("type") == "disabled"
        return not (disabled and self.thinking == "switchable")


# The GLM-4 family (2024-25): no thinking. Defaults: temperature 0.75 and top_p 0.9 in the
# current docs for "GLM-4" (the older page said 0.95 and 0.7: UNVERIFIED which applies to
# glm-4-flash-250414). Their usage shows no details: the 2025-09 glm-4-flash SDK repr has
# only the three counts (UNVERIFIED for late 2026). Ceiling: the API's 131072; the older docs
# say the GLM-4 family silently clamps longer requests to 4095 output tokens.
# Beside tool calls glm-4 sent null in 2024; null breaks LangChain, and what the GLM-4 family
# sends in 2026 is not captured, so the recorded server sends "" (UNVERIFIED).
_GLM4 = Model(default_temperature=0.75, default_top_p=0.9, tool_call_content="")
_GLM4_VISION = Model(vision=True, default_temperature=0.75, default_top_p=0.9,
                     tool_call_content="")

# Thinking models report both usage details (every 2025-26 capture has cached_tokens, the
# 2026 ones reasoning_tokens). The per-model ceilings other than glm-4.5-air's 98304 (a live
# 2026 error message) and glm-4.7's 131072 (docs) are plausible guesses: UNVERIFIED.
# glm-4.5 sent "\n\n" beside its tool call (fantasy fixtures, api.z.ai, 2025-09-26); the other
# 4.5 models are assumed to do the same (UNVERIFIED).
_GLM45 = dict(usage_details=True, max_tokens=98304, default_temperature=0.6,
              tool_call_content="\n\n")
_SWITCHABLE = dict(thinking="switchable", usage_details=True)
_FORCED = dict(thinking="forced", usage_details=True)
_EFFORT = dict(thinking="forced_rejects_disabled", usage_details=True,
               reasoning_effort=("low", "high", "max"), default_effort="max")

MODELS = {
    # Not thinking.
    "glm-4-flash-250414": _GLM4,
    "glm-4-flashx-250414": _GLM4,
    "glm-4-flash": _GLM4,
    "glm-4-plus": _GLM4,
    "glm-4-air-250414": _GLM4,
    "glm-4-air": _GLM4,
    "glm-4-airx": _GLM4,
    "glm-4-long": _GLM4,
    "glm-4": _GLM4,  # in 2024 captures
    "glm-4v-flash": _GLM4_VISION,
    # Thinking that the caller can switch off. glm-4.5-flash's first delta was captured as
    # {"content": "", "reasoning_content": "\n"}, glm-4.5's content deltas carry an empty
    # reasoning_content ("dot": its capture's hand-over shows content "." beside it).
    "glm-4.5": Model(handover="dot", thinking="switchable", named_choice_needs_thinking_off=True,
                     **_GLM45),
    "glm-4.5-air": Model(handover="dot", thinking="switchable", **_GLM45),
    "glm-4.5-x": Model(handover="dot", thinking="switchable", **_GLM45),
    "glm-4.5-airx": Model(handover="dot", thinking="switchable", **_GLM45),
    "glm-4.5-flash": Model(handover="newline-first", thinking="switchable", **_GLM45),
    "glm-4.6": Model(named_choice_needs_thinking_off=True, **_SWITCHABLE),
    "glm-4.6v": Model(vision=True, max_tokens=32768, **_SWITCHABLE),
    "glm-4.6v-flash": Model(vision=True, max_tokens=32768, **_SWITCHABLE),
    # UNVERIFIED: facts 7.2 list GLM-4.7 as forced, but zai-sdk's own integration test sends
    # thinking {"type": "disabled"} to glm-4.7 and expects an answer; the lessons switch it off
    # for tool streams, so the recorded server lets the caller switch it off.
    "glm-4.7": Model(named_choice_needs_thinking_off=True, **_SWITCHABLE),
    "glm-4.7-flash": Model(**_SWITCHABLE),
    "glm-4.7-flashx": Model(**_SWITCHABLE),
    # Always thinking; "disabled" is ignored (UNVERIFIED: no capture of it being sent).
    "glm-5": Model(**_FORCED),
    "glm-5-turbo": Model(**_FORCED),
    "glm-5.1": Model(**_FORCED),
    "glm-5v-turbo": Model(vision=True, max_tokens=32768, **_FORCED),
    "glm-4.5v": Model(vision=True, max_tokens=16384, handover="dot", default_temperature=0.6,
                      **_FORCED),
    # Always thinking, "disabled" rejected, reasoning_effort low | high | max (default max).
    # Captured for glm-5.3; glm-5.2 takes reasoning_effort too (facts 7.2), the rest of its
    # behaviour is assumed the same (UNVERIFIED).
    "glm-5.2": Model(**_EFFORT),
    "glm-5.3": Model(**_EFFORT),
    "glm-5.3-flash": Model(**_EFFORT),
    "glm-5.3-flashx": Model(**_EFFORT),
}


def model(name):
    """The Model for an id, or None for an id the service does not know."""
    return MODELS.get(name) if isinstance(name, str) else None


# The coding plan's substitution, shown in the response's `model`: the names it serves stay,
# flash-class names become glm-5.3-flash, every other name glm-5.3. Which older name maps to
# which is this server's choice (UNVERIFIED); that names are switched silently is documented
# (docs.bigmodel.cn /cn/api/introduction, coding endpoint).
CODING_PLAN_SERVES = ("glm-5.3", "glm-5.3-flash")
CODING_PLAN_MODELS = {
    name: name if name in CODING_PLAN_SERVES
    else "glm-5.3-flash" if "flash" in name else "glm-5.3"
    for name in MODELS}

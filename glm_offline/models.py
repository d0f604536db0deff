"""The models the recorded server knows, in one table that validation, replies and matching
read: whether and how each thinks, whether it takes images, its max_tokens ceiling, its
reasoning_effort values, what its usage reports, and its sampling defaults.

Sources: docs/sources.md#request-body (defaults, limits), #models, #thinking. Where the
sources do not settle a value, the choice is marked UNVERIFIED below.

Thinking modes:
  "none"       the model does not think; a `thinking` field is accepted and ignored (UNVERIFIED)
  "switchable" thinks unless the request sends thinking {"type": "disabled"}
  "forced"     always thinks; {"type": "disabled"} is accepted and ignored (UNVERIFIED)
  "forced_rejects_disabled"  always thinks; {"type": "disabled"} is a 400/1210 (captured for
               glm-5.3; UNVERIFIED for glm-5.2)

Each model's life: when it was released and, only where the GLM platform (open.bigmodel.cn /
api.z.ai) announced it, when it is retired and which id serves instead. `python -m glm_offline
models` prints it; `models --retired-by DATE` lists the lessons and recordings that use a model
retired by then (glm_offline/retired.py). Where a source gives only the month, the date is the
first of that month and `released_approximate` is set (the CLI marks it "~").

reasoning_effort: every model takes it. Its values are checked only where they are
documented (glm-5.2 and glm-5.3: low | high | max). Any other thinking model answered 200 to
"high" (glm-4.7-flash, charmbracelet/fantasy go-vcr fixtures, api.z.ai, 2026-03), and its
answer is taken not to change (UNVERIFIED); a model that does not think accepts and ignores
it as it does `thinking` (UNVERIFIED: no capture either way).

The coding plan (`/api/coding/paas/v4`) serves only GLM-5.3 and GLM-5.3-Flash in late 2026
and silently switches older names (docs.bigmodel.cn /cn/api/introduction): the
mapping chosen here is CODING_PLAN_MODELS below.
"""

from dataclasses import dataclass, replace
from datetime import date

MAX_TOKENS_LIMIT = 131072  # the largest per-model ceiling (docs/sources.md#request-body)
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
    # Its life (see the module docstring): released is a datetime.date or None (no public
    # source found); retired is None unless the platform announced a date; retiring marks an
    # announcement that names no date; replacement is the id the announcement names.
    released: date = None
    released_approximate: bool = False
    retired: date = None
    retiring: bool = False
    replacement: str = None

    def retired_by(self, day):
        """Whether an announced retirement date has come by `day` (a datetime.date)."""
        return self.retired is not None and self.retired <= day

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


def lived(model, released, retired=None, replacement=None, retiring=False):
    """`model` with its life. released: "YYYY-MM-DD", or "YYYY-MM" when only the month is known
    (stored as the first of the month, flagged approximate); retired: "YYYY-MM-DD" or None."""
    approximate = len(released) == len("YYYY-MM")
    return replace(model, released=date.fromisoformat(released + "-01" * approximate),
                   released_approximate=approximate,
                   retired=retired and date.fromisoformat(retired), retiring=retiring,
                   replacement=replacement)


# Release dates, and why there are almost no retirements below (checked 2026-12):
# - GLM-4 (2024-01-16): announced at Zhipu's first Technology Open Day (arXiv:2406.12793, the
#   ChatGLM technical report, and https://aiwiki.ai/wiki/glm-4).
# - The -250414 ids: the date in the id; the open GLM-4-0414 series is dated 2025/04/14 in the
#   zai-org/GLM-4 README.
# - GLM-4.5 family (2025-07-28), GLM-4.6 (2025-09-30), GLM-4.7 (2025-12-22), GLM-4.7-Flash
#   (2026-01-19), GLM-5 (2026-02-12), GLM-5-Turbo (2026-03-15): the "released" dates on
#   https://vercel.com/ai-gateway/models/<id>; GLM-4.7-Flash also zai-org/GLM-4.5 pull request
#   #126 "release for GLM-4.7-Flash" (2026-01-19).
# - GLM-5.2 (2026-06-16): "launched 2026-06-16" in BlockRunAI/ClawRouter's v0.12.211 release
#   notes. GLM-5.3-Flash (2026-08-21): the release date on
#   https://docs.venice.ai/models/glm-5-3-flash.
# - Month only (approximate): GLM-4.5V (2025-08), GLM-4.6V and -Flash (2025-12), GLM-4.7-FlashX
#   (2026-01; vercel's page says "January 1, 2025", impossible for a 4.7 model), GLM-5V-Turbo
#   and GLM-5.1 (2026-04), GLM-5.3 and -FlashX (2026-08): the month of the public release
#   announcements; no source found that settles the day (UNVERIFIED to the day).
# - No public date found: glm-4-plus, glm-4-air, glm-4-airx, glm-4-long, glm-4-flash,
#   glm-4v-flash (all 2024); released stays None and the CLI prints "unknown".
# Retirements: the only platform announcement found is docs.bigmodel.cn's model overview
# (https://docs.bigmodel.cn/cn/guide/start/model-overview) listing "GLM-4.5-Flash (即将下线)",
# "to be taken offline soon", with no date and no named replacement: retiring=True. Resellers
# have announced their OWN retirement dates, which are not the GLM API's and are deliberately
# not used here: Tencent CloudBase retires glm-5, glm-5-turbo and glm-5.1 on 2026-10-09 for
# glm-5.3 and glm-5v-turbo on 2026-10-30 for glm-5.3-flash (docs.cloudbase.net/ai/announcement/
# glm-5-offline, .../glm-5v-turbo-offline); Mistral retires zai-glm-5-2 on 2026-10-31 for
# GLM 5.3 (docs.mistral.ai release note 2026-09-29). Add a date here only when open.bigmodel.cn
# or api.z.ai announces one.

MODELS = {
    # Not thinking.
    "glm-4-flash-250414": lived(_GLM4, "2025-04-14"),
    "glm-4-flashx-250414": lived(_GLM4, "2025-04-14"),
    "glm-4-flash": _GLM4,
    "glm-4-plus": _GLM4,
    "glm-4-air-250414": lived(_GLM4, "2025-04-14"),
    "glm-4-air": _GLM4,
    "glm-4-airx": _GLM4,
    "glm-4-long": _GLM4,
    "glm-4": lived(_GLM4, "2024-01-16"),  # in 2024 captures
    "glm-4v-flash": _GLM4_VISION,
    # Thinking that the caller can switch off. glm-4.5-flash's first delta was captured as
    # {"content": "", "reasoning_content": "\n"}, glm-4.5's content deltas carry an empty
    # reasoning_content ("dot": its capture's hand-over shows content "." beside it).
    "glm-4.5": lived(Model(handover="dot", thinking="switchable",
                           named_choice_needs_thinking_off=True, **_GLM45), "2025-07-28"),
    "glm-4.5-air": lived(Model(handover="dot", thinking="switchable", **_GLM45), "2025-07-28"),
    "glm-4.5-x": lived(Model(handover="dot", thinking="switchable", **_GLM45), "2025-07-28"),
    "glm-4.5-airx": lived(Model(handover="dot", thinking="switchable", **_GLM45), "2025-07-28"),
    "glm-4.5-flash": lived(Model(handover="newline-first", thinking="switchable", **_GLM45),
                           "2025-07-28", retiring=True),
    "glm-4.6": lived(Model(named_choice_needs_thinking_off=True, **_SWITCHABLE), "2025-09-30"),
    "glm-4.6v": lived(Model(vision=True, max_tokens=32768, **_SWITCHABLE), "2025-12"),
    "glm-4.6v-flash": lived(Model(vision=True, max_tokens=32768, **_SWITCHABLE), "2025-12"),
    # UNVERIFIED: the docs list GLM-4.7 as forced, but zai-sdk's own integration test sends
    # thinking {"type": "disabled"} to glm-4.7 and expects an answer; the lessons switch it off
    # for tool streams, so the recorded server lets the caller switch it off.
    "glm-4.7": lived(Model(named_choice_needs_thinking_off=True, **_SWITCHABLE), "2025-12-22"),
    "glm-4.7-flash": lived(Model(**_SWITCHABLE), "2026-01-19"),
    "glm-4.7-flashx": lived(Model(**_SWITCHABLE), "2026-01"),
    # Always thinking; "disabled" is ignored (UNVERIFIED: no capture of it being sent).
    "glm-5": lived(Model(**_FORCED), "2026-02-12"),
    "glm-5-turbo": lived(Model(**_FORCED), "2026-03-15"),
    "glm-5.1": lived(Model(**_FORCED), "2026-04"),
    "glm-5v-turbo": lived(Model(vision=True, max_tokens=32768, **_FORCED), "2026-04"),
    "glm-4.5v": lived(Model(vision=True, max_tokens=16384, handover="dot",
                            default_temperature=0.6, **_FORCED), "2025-08"),
    # Always thinking, "disabled" rejected, reasoning_effort low | high | max (default max).
    # Captured for glm-5.3; glm-5.2 takes reasoning_effort too (#thinking), the rest of its
    # behaviour is assumed the same (UNVERIFIED).
    "glm-5.2": lived(Model(**_EFFORT), "2026-06-16"),
    "glm-5.3": lived(Model(**_EFFORT), "2026-08"),
    "glm-5.3-flash": lived(Model(**_EFFORT), "2026-08-21"),
    "glm-5.3-flashx": lived(Model(**_EFFORT), "2026-08"),
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

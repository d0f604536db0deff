"""Keys of the kinds a learner meets in 2026, simulated: which key works on which base URL.

Every offline key has the offline secret; its id says its kind, and no id looks like a real
key (32 hex digits). The recorded server stands in for open.bigmodel.cn, with its general base
URL (/api/paas/v4) and the GLM Coding Plan's (/api/coding/paas/v4, coding_plan.py).

    kind                 /api/paas/v4          /api/coding/paas/v4
    general              answered              answered
    coding_plan          429 / 1113            answered
    coding_plan_expired  429 / 1113            429 / 1309
    no_balance           429 / 1113            429 / 1113
    zai                  401 / 1000            401 / 1000

Sources (docs/sources.md#which-key-which-endpoint), each row's choice marked where it is made:
- general: the offline key, OFFLINE_API_KEY, a pay-as-you-go key with a balance. That the
  coding URL answers it too rests on one third-party report (charmbracelet/crush #1079,
  2025-09: "works with both types of api keys"): UNVERIFIED in 2026.
- coding_plan on the general URL: 429 with 1113, the no-balance code, seen live in 2026
  (zhayujie/CowAgent #2910, agentscope-ai/QwenPaw #202, HKUDS/nanobot #1267, KenKaiii/gg-framework
  #5). One report says free models still answer such a key (anomalyco/opencode #12671, api.z.ai,
  2026-02): UNVERIFIED, and here every model is refused.
- coding_plan_expired: 1309 on the coding URL is the documented "plan expired" code
  (doc-api-code); 1113 on the general URL as for any plan key.
- no_balance: 1113 is the documented no-balance code (doc-api-code). On the coding URL, a key
  with neither balance nor plan: UNVERIFIED (1113 chosen, "no resource package").
- zai: a key made on api.z.ai, sent to open.bigmodel.cn. The reverse (a bigmodel.cn key on
  api.z.ai) was seen live as a 401 (live-2026); this direction and the body are UNVERIFIED:
  here the body of any key the platform does not know, 1000.
Other coding-plan codes (1308 quota window, 1310 weekly limit, 1311 model not in the plan) are
not tied to a key here: `server.inject("error", code="1308")` produces them.
"""

from .auth import OFFLINE_API_KEY, OFFLINE_SECRET, is_offline_key
from .wire import api_error

# kind -> the offline key of that kind (the general one first: the server's own api_key)
KEYS = {
    "general": OFFLINE_API_KEY,
    "coding_plan": f"glm-offline-coding-plan.{OFFLINE_SECRET}",
    "coding_plan_expired": f"glm-offline-coding-plan-expired.{OFFLINE_SECRET}",
    "no_balance": f"glm-offline-no-balance.{OFFLINE_SECRET}",
    "zai": f"glm-offline-zai.{OFFLINE_SECRET}",
}
DEFAULT_KEYS = tuple(KEYS.values())  # the keys a server knows by default
# kind -> (refusal on the general URL, refusal on the coding URL): a business code, or None
REFUSALS = {
    "general": (None, None),  # coding URL: third party, UNVERIFIED in 2026
    "coding_plan": ("1113", None),  # live-2026; free models: UNVERIFIED, refused here too
    "coding_plan_expired": ("1113", "1309"),  # 1309 documented
    "no_balance": ("1113", "1113"),  # coding URL: UNVERIFIED
    "zai": ("1000", "1000"),  # region: UNVERIFIED direction and body
}
_KIND_OF_KEY = {key: kind for kind, key in KEYS.items()}


def kind_of(key):
    """The kind of an offline key (the whole key), or None for any other key."""
    return _KIND_OF_KEY.get(key) if is_offline_key(key) else None


def check(key, coding):
    """Raise the APIError a key (the whole key) of its kind gets on this base URL (coding: the
    coding plan's), or return when it is answered."""
    kind = kind_of(key)
    if kind is None:
        return
    code = REFUSALS[kind][1 if coding else 0]
    if code is not None:
        raise api_error(code)

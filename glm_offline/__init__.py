"""glm_offline: a recorded, offline stand-in for the ZhipuAI GLM v4 HTTP API.

    import glm_offline
    server = glm_offline.start()        # http://127.0.0.1:<free port>/api/paas/v4
    server.base_url, server.api_key
    server.inject("rate_limit")         # the next request gets a 429
    server.stop()
    glm_offline.OFFLINE_KEYS["coding_plan"]   # offline keys of five kinds (key_kinds.py)

Command line: python -m glm_offline --help
"""

from .auth import OFFLINE_API_KEY, split_key
from .cassettes import CassetteError
from .faults import KINDS as FAULT_KINDS
from .key_kinds import KEYS as OFFLINE_KEYS
from .server import Server, start

__all__ = ["OFFLINE_API_KEY", "OFFLINE_KEYS", "FAULT_KINDS", "CassetteError", "Server",
           "split_key", "start"]

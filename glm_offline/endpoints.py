"""The documented GLM endpoints this recorded server does not serve, in one table.

A request to one of them gets a GLM-shaped 404 that says the live API has it, in the
server's message language, instead of the gateway's Spring-style "Not Found" (which would
tell a learner that the URL is wrong). Its code, "offline_live_only", is this server's own,
not a GLM business code. Paths are relative to the base URL (/api/paas/v4 or the coding
plan's /api/coding/paas/v4); a path under one of them (/files/{id}/content) counts too.

Sources: the API reference at docs.bigmodel.cn and docs.z.ai (glm-api-facts.md 2.2); the
agents API is at /v1/agents under the base URL, as the official SDKs (zhipuai, zai-sdk) call it.
"""

from .wire import APIError

LIVE_ONLY_CODE = "offline_live_only"  # this server's own code, not a GLM one

# relative path -> what it is
LIVE_ONLY = {
    "/embeddings": "embeddings",
    "/files": "files",
    "/batches": "batches",
    "/images/generations": "image generation",
    "/videos/generations": "video generation",
    "/audio/speech": "text to speech",
    "/audio/transcriptions": "speech to text",
    "/audio/customization": "voice customization",
    "/web_search": "web search",
    "/tools": "web search tools",
    "/reader": "web reader",
    "/tokenizer": "tokenizer",
    "/rerank": "rerank",
    "/moderations": "moderation",
    "/layout_parsing": "layout parsing",
    "/assistant": "assistant",
    "/v1/agents": "agents",
}


def live_only(relative):
    """The name of the live-only endpoint `relative` (a path after the base URL) belongs
    to, or None."""
    for path, name in LIVE_ONLY.items():
        if relative == path or relative.startswith(path + "/"):
            return name
    return None


def live_only_error(name, path):
    """The 404 for a documented endpoint the recorded server does not serve."""
    shown = path if len(path) <= 200 else path[:197] + "..."
    return APIError(
        404, LIVE_ONLY_CODE,
        f"离线录制服务器没有这个端点（{name}：{shown}），真实的 API 有。"
        "设置 ZHIPUAI_API_KEY，同样的代码就会调用真实的 GLM。",
        f"this endpoint ({name}: {shown}) is not part of the recorded server; the live API has "
        "it. Set ZHIPUAI_API_KEY and the same code calls the real GLM.")

"""The documented GLM endpoints this recorded server does not serve, in one table.

A request to one of them gets a GLM-shaped 404 that says the live API has it, in the
server's message language, instead of the gateway's Spring-style "Not Found" (which would
tell a learner that the URL is wrong). Its code, "offline_live_only", is this server's own,
not a GLM business code. Paths are relative to the base URL (/api/paas/v4 or the coding
plan's /api/coding/paas/v4); a path under one of them (/files/{id}/content) counts too.

Sources: the API reference at docs.bigmodel.cn and docs.z.ai (its OpenAPI paths); the
agents API is at /v1/agents under the base URL, as the official SDKs (zhipuai, zai-sdk) call it.
"""

from .wire import APIError

LIVE_ONLY_CODE = "offline_live_only"  # this server's own code, not a GLM one

# relative path -> what it is, in English and in Chinese
LIVE_ONLY = {
    "/embeddings": ("embeddings", "向量嵌入"),
    "/files": ("files", "文件管理"),
    "/batches": ("batches", "批处理"),
    "/images/generations": ("image generation", "图像生成"),
    "/videos/generations": ("video generation", "视频生成"),
    "/audio/speech": ("text to speech", "语音合成"),
    "/audio/transcriptions": ("speech to text", "语音识别"),
    "/audio/customization": ("voice cloning", "音色复刻"),
    "/web_search": ("web search", "网络搜索"),
    "/tools": ("web search tools", "网络搜索工具"),
    "/reader": ("web reader", "网页读取"),
    "/tokenizer": ("tokenizer", "分词器"),
    "/rerank": ("rerank", "重排序"),
    "/moderations": ("moderation", "内容审核"),
    "/layout_parsing": ("layout parsing", "版面解析"),
    "/assistant": ("assistant", "智能体助手"),
    "/v1/agents": ("agents", "智能体"),
}


def live_only(relative):
    """(English name, Chinese name) of the live-only endpoint `relative` (a path after the
    base URL) belongs to, or None."""
    for path, names in LIVE_ONLY.items():
        if relative == path or relative.startswith(path + "/"):
            return names
    return None


def live_only_error(names, path):
    """The 404 for a documented endpoint the recorded server does not serve."""
    english, chinese = names
    shown = path if len(path) <= 200 else path[:197] + "..."
    return APIError(
        404, LIVE_ONLY_CODE,
        f"录制版 GLM 服务器没有这个端点（{chinese}：{shown}），真实的 API 有。"
        "设置 ZHIPUAI_API_KEY，同样的代码就会调用真实的 GLM。",
        f"this endpoint ({english}: {shown}) is not part of the recorded server; the live API "
        "has it. Set ZHIPUAI_API_KEY and the same code calls the real GLM.")

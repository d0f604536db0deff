"""What goes on the wire: GLM error bodies, JSON and SSE encoding, ids.

Sources: docs/sources.md#responses, #streaming and #errors; where the
sources do not settle a detail, the choice made here is marked UNVERIFIED.
"""

import hashlib
import json
import re
import time

# The HTTP layer writes JSON bodies too; other modules import these from here.
from .http.writer import JSON_CONTENT_TYPE, dumps  # noqa: F401

# The live API this server stands in for (docs/sources.md#endpoints): the default upstream of
# record mode and of the drift check, and where a lesson goes live.
LIVE_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"

# Captured exactly like this (no space before charset) on the Z.ai host of the platform.
SSE_CONTENT_TYPE = "text/event-stream;charset=UTF-8"
SSE_CONTENT_TYPE_NO_CHARSET = "text/event-stream"
DONE_LINE = "data: [DONE]"


class APIError(Exception):
    """An error the server answers with a GLM error body, in Chinese (open.bigmodel.cn) or
    English (api.z.ai) as the request asks."""

    def __init__(self, status, code, message, english=None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = str(code)
        self.message = message
        self.english = english or message

    def body(self, english=False):
        return {"error": {"code": self.code, "message": self.english if english else self.message}}


# Business code -> (HTTP status, message on open.bigmodel.cn, message on api.z.ai).
# Sources: docs/sources.md#status-and-code-table and #texts-seen-live.
# Chinese texts seen live: 1000, 1001, 1002, 1113, 1210, 1211, 1261, 1301, 1302, 1305 and
# "401"; English texts seen live (api.z.ai): 1000, 1113, 1211, 1261, 1302, 1305. The other
# Chinese texts are the documented ones; every other English text, and the texts of codes
# documented only with placeholders (filled with examples), are this server's: UNVERIFIED.
# The HTTP status of the codes the newest table leaves out (1002, 1004, 1100-1121, 1231,
# 1300, 1303, 1304) comes from the older HTTP table: UNVERIFIED per code.
ERRORS = {
    "1000": (401, "身份验证失败。", "Authentication Failed"),
    # The live text says "Authorization" where the docs say "Authentication".
    "1001": (401, "Header中未收到Authorization参数，无法进行身份验证。",
             "Authorization parameter not received in the header; cannot authenticate."),
    "1002": (401, "Authorization Token非法，请确认Authorization Token正确传递。",
             "Invalid Authorization token; check that it is passed correctly."),
    "1003": (401, "Authorization Token已过期，请重新生成/获取。",
             "Authorization token expired; generate or fetch a new one."),
    "1004": (401, "通过Authorization Token的验证失败。",
             "Authorization token verification failed."),
    "1005": (401, "已开启二次认证保护，需要二次认证登录。",
             "Two-factor protection is on; a second-factor login is required."),
    # The gateway's own wrong-key body, code "401" (not a business code), seen in 2024 and 2026.
    "401": (401, "令牌已过期或验证不正确", "Token expired or verification failed"),
    "1100": (429, "账户读写错误。", "Account read/write error."),
    "1110": (429, "您的账户当前处于非活动状态，请检查账户信息。", "Your account is inactive."),
    "1111": (429, "您的账户不存在。", "Your account does not exist."),
    "1112": (429, "您的账户已被锁定，请联系客服解锁。", "Your account is locked; contact support."),
    "1113": (429, "余额不足或无可用资源包,请充值。",
             "Insufficient balance or no resource package. Please recharge."),
    "1120": (429, "无法成功访问您的账户，请稍后重试。",
             "Your account cannot be accessed; retry later."),
    "1121": (429, "账户因违规已被锁定，请联系客服解锁。",
             "Your account is locked for a violation; contact support."),
    "1200": (500, "API 调用失败", "API call failed"),
    "1210": (400, "API 调用参数有误，请检查文档。",
             "Incorrect API call parameters, please check the documentation."),
    "1211": (400, "模型不存在，请检查模型代码。", "Unknown Model, please check the model code."),
    "1212": (400, "当前模型不支持{method}调用方式。",
             "The model does not support the {method} call."),
    "1213": (400, "未正常接收到{field}参数。", "The {field} parameter was not received."),
    "1214": (400, "{field} 参数非法。请检查文档。",
             "Invalid {field} parameter. Check the documentation."),
    "1215": (400, "{field1} 与 {field2} 不能同时设置，请检查文档。",
             "{field1} and {field2} cannot both be set; check the documentation."),
    "1220": (403, "您无权访问{api_name}。", "You have no access to {api_name}."),
    "1221": (400, "API {api_name} 已下线。", "API {api_name} is offline."),
    "1222": (400, "API {api_name} 不存在。", "API {api_name} does not exist."),
    "1230": (500, "API 调用流程出错", "API call flow error"),
    "1231": (400, "您已有请求：{request_id}", "You already have a request: {request_id}"),
    "1234": (500, "网络错误，错误id：{error_id}，请联系客服",
             "Network error, error id: {error_id}, please contact customer service"),
    # 2026: English on open.bigmodel.cn too (the 2024 text was "Prompt 超长").
    "1261": (400, "Prompt exceeds max length", "Prompt exceeds max length"),
    "1300": (400, "API 调用被策略阻止。", "The API call was blocked by policy."),
    "1301": (400, "系统检测到输入或生成内容可能包含不安全或敏感内容，"
                  "请您避免输入易产生敏感内容的提示语，感谢您的配合。",
             "The input or generated content may contain unsafe or sensitive content; please "
             "avoid prompts that produce it."),
    "1302": (429, "您的账户已达到速率限制，请您控制请求频率", "Rate limit reached for requests"),
    "1303": (429, "您当前使用该API的频率过高，请降低频率，或联系客服增加限额。",
             "Your request frequency is too high; lower it or contact support for a higher limit."),
    "1304": (429, "该API已达今日调用次数限额，如有更多需求，请联系客服购买。",
             "The API's daily call limit is reached; contact support to buy more."),
    "1305": (429, "该模型当前访问量过大，请您稍后再试",
             "The service may be temporarily overloaded, please try again later"),
    # Quota windows (coding plan and enterprise): the documented texts have placeholders,
    # filled here with fixed, plausible values.
    "1308": (429, "已达到 5 小时的使用上限。您的限额将在 2026-11-25 18:00:00 重置。",
             "Usage limit reached for 5 hours. Your limit will reset at 2026-11-25 18:00:00."),
    "1309": (429, "您的 GLM Coding Plan 套餐已到期，请续订后再使用。",
             "Your GLM Coding Plan package has expired; renew it to continue."),
    "1310": (429, "您已达到每周使用上限，您的限额将在 2026-11-30 00:00:00 重置。",
             "Weekly usage limit reached. Your limit will reset at 2026-11-30 00:00:00."),
    # 1311: the plan does not include the model asked for (seen for GLM-5 in 2026-03:
    # farion1231/cc-switch #1386; the exact text is UNVERIFIED).
    "1311": (429, "当前订阅套餐暂未开放该模型的权限，请升级套餐。",
             "Your subscription plan does not include this model yet; upgrade the plan."),
    **{str(code): (429, f"您的套餐额度已用完（{code}），请稍后再试或升级套餐。",
                   f"Your plan's quota is used up ({code}); try later or upgrade the plan.")
       for code in (1313, 1314, 1315, 1316, 1317, 1318, 1319, 1320, 1321)},
}
_FIELD_EXAMPLES = {"field": "messages", "field1": "temperature", "field2": "top_p",
                   "method": "同步", "api_name": "/paas/v4/chat/completions",
                   "request_id": "offline-request", "error_id": "offline-error"}

# Messages that a code carries in particular cases: name -> (Chinese, English).
MESSAGES = {
    # Seen live in 2026 (Chinese), e.g. "max_tokens参数非法：限制数值范围[1,98304]".
    "range": ("{field}参数非法：限制数值范围[{low},{high}]",
              "{field} parameter is invalid: allowed range [{low},{high}]"),
    "role": ("角色信息不正确", "Incorrect role information"),
    # Seen live for an image part sent to a text model (allowed "['text']").
    "content_type": ("messages.content.type 参数非法，取值范围 {allowed}",
                     "messages.content.type is invalid, allowed values {allowed}"),
    # Seen live for glm-5.3 (the Chinese text's end after "关闭思考" is UNVERIFIED).
    "always_thinks": ("该模型始终思考，不支持关闭思考，请使用 low、high 或 max",
                      "This model always engages in thinking and cannot be disabled; please use "
                      "low, high, or max"),
    "effort": ("reasoning_effort 参数非法，取值范围 {allowed}",
               "reasoning_effort is invalid, allowed values {allowed}"),
}


class _Examples(dict):
    def __missing__(self, key):
        return _FIELD_EXAMPLES.get(key, key)


def api_error(code, message=None, **fields):
    """The APIError for a documented business code, with its usual text or one of MESSAGES,
    e.g. api_error("1214", field="messages"), api_error("1210", "range", field=..., ...).
    Placeholders not given get a plausible example (a fault injected by code alone)."""
    status, chinese, english = ERRORS[code]
    if message is not None:
        chinese, english = MESSAGES[message]
    values = _Examples(fields)
    return APIError(status, code, chinese.format_map(values), english.format_map(values))


def http_error(status, message):
    """Errors below the GLM layer (wrong method, body too large, no such task).

    The real gateway's bodies for these are UNVERIFIED; we answer in the GLM shape with
    the HTTP status as the code, as seen for 401s from the gateway ('{"code": "401"}').
    """
    return APIError(status, str(status), message)


def spring_not_found(path, now):
    """The gateway's body for an unknown path: Spring Boot's, not a GLM error
    (docs/sources.md#unknown-path).
    `now` is the server clock's time in seconds."""
    millis = int(now * 1000) % 1000
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{millis:03d}+00:00"
    return {"timestamp": stamp, "status": 404, "error": "Not Found", "path": path}


def response_id(seed, created):
    """A 30-character id in the service's current format: YYYYMMDDhhmmss (UTC) + 16 hex."""
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(created)) + digest[:16]


_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z0-9]+|[^\sA-Za-z0-9]")


def count_tokens(text):
    """A rough, deterministic token count: one per CJK character, word or symbol."""
    return sum(1 for _ in _TOKEN.finditer(text or ""))  # not findall: a list per character


def is_chinese(text):
    return bool(re.search(r"[\u3400-\u9fff]", text or ""))


def sse_lines_to_events(lines):
    """Group raw SSE lines into events (each a list of lines); blank lines end events."""
    events, current = [], []
    for line in lines:
        if line == "":
            if current:
                events.append(current)
            current = []
        else:
            current.append(line)
    if current:
        events.append(current)
    return events


def data_value(line):
    """The value of an SSE `data:` line, one space after the colon dropped as the SSE spec
    says (`data: {...}` and `data:{...}` carry the same), or None for any other line."""
    if line == "data":  # a field without a colon: its value is empty
        return ""
    if not line.startswith("data:"):
        return None
    return line[6:] if line[5:6] == " " else line[5:]


def event_data(lines):
    """An SSE event's data: its data lines' values joined with newlines (the SSE spec), or
    None when it has no data line."""
    values = [value for value in map(data_value, lines) if value is not None]
    return "\n".join(values) if values else None


def event_payload(lines):
    """The one reader of a recorded (or replayed) event's payload: its data parsed as JSON,
    the text itself when that is not JSON ("[DONE]"), None when it has no data line."""
    data = event_data(lines)
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return data


def event_chunk(lines):
    """The event's payload when it is a JSON object (a chat chunk, an error frame), else None."""
    payload = event_payload(lines)
    return payload if isinstance(payload, dict) else None


def data_event(payload):
    """One SSE event carrying a JSON payload."""
    return [f"data: {dumps(payload)}"]

"""What goes on the wire: GLM error bodies, JSON and SSE encoding, ids.

Facts come from ../shared/reference/glm-api-facts.md (sections 3-5); where the
sources do not settle a detail, the choice made here is marked UNVERIFIED.
"""

import hashlib
import json
import re
import time

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
# Captured exactly like this (no space before charset) on the Z.ai host of the platform.
SSE_CONTENT_TYPE = "text/event-stream;charset=UTF-8"
SSE_CONTENT_TYPE_NO_CHARSET = "text/event-stream"
DONE_LINE = "data: [DONE]"


class APIError(Exception):
    """An error the server answers with a GLM error body."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = str(code)
        self.message = message

    def body(self):
        return {"error": {"code": self.code, "message": self.message}}


# Business codes with their HTTP status and the official Chinese message.
# The status of 1002 and 1004 comes from the older HTTP table (UNVERIFIED per code).
ERRORS = {
    "1000": (401, "身份验证失败。"),
    # The live text says "Authorization" where the docs say "Authentication".
    "1001": (401, "Header中未收到Authorization参数，无法进行身份验证。"),
    "1002": (401, "Authorization Token非法，请确认Authorization Token正确传递。"),
    "1003": (401, "Authorization Token已过期，请重新生成/获取。"),
    "1004": (401, "通过Authorization Token的验证失败。"),
    "1005": (401, "已开启二次认证保护，需要二次认证登录。"),
    "1113": (429, "您的账户已欠费，请充值后重试。"),
    "1200": (500, "API 调用失败"),
    "1210": (400, "API调用参数有误，请检查文档。"),
    "1211": (400, "模型不存在，请检查模型代码。"),
    "1213": (400, "未正常接收到{field}参数。"),
    "1214": (400, "{field} 参数非法。请检查文档。"),
    "1230": (500, "API 调用流程出错"),
    "1234": (500, "网络错误，请联系客服"),
    "1261": (400, "Prompt 超长"),
    "1301": (400, "系统检测到输入或生成内容可能包含不安全或敏感内容，"
                  "请您避免输入易产生敏感内容的提示语，感谢您的配合。"),
    "1302": (429, "您的账户已达到速率限制，请您控制请求频率"),
    "1305": (429, "该模型当前访问量过大，请您稍后再试"),
}


def api_error(code, **fields):
    """The APIError for a documented business code, e.g. api_error("1214", field="messages")."""
    status, template = ERRORS[code]
    return APIError(status, code, template.format(**fields))


def http_error(status, message):
    """Errors below the GLM layer (unknown path, wrong method, body too large).

    The real gateway's bodies for these are UNVERIFIED; we answer in the GLM shape with
    the HTTP status as the code, as seen for 401s from the gateway ('{"code": "401"}').
    """
    return APIError(status, str(status), message)


def dumps(obj):
    """Compact JSON with Chinese kept as UTF-8, the way the service sends it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def response_id(seed, created):
    """A 30-character id in the service's current format: YYYYMMDDhhmmss (UTC) + 16 hex."""
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(created)) + digest[:16]


def task_id(seed, number):
    """An async task id in the one captured shape, 17 digits, a dash, 19 digits (the format
    beyond that single capture is UNVERIFIED), different for every submission number."""
    digest = int(hashlib.sha256(f"{seed}/{number}".encode("utf-8")).hexdigest(), 16)
    return f"{digest % 10**17:017d}-{digest // 10**17 % 10**19:019d}"


_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z0-9]+|[^\sA-Za-z0-9]")


def count_tokens(text):
    """A rough, deterministic token count: one per CJK character, word or symbol."""
    return len(_TOKEN.findall(text or ""))


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


def data_event(payload):
    """One SSE event carrying a JSON payload."""
    return [f"data: {dumps(payload)}"]

"""`python -m glm_offline doctor`: does my key work at my base URL, and if not, what to change?

One cheap call (a 1-token chat completion with the free model glm-4.7-flash, 15 s timeout) with
the key from ZHIPUAI_API_KEY (never an argument, never printed, not even partly) at the base URL
from --base-url, ZHIPUAI_BASE_URL or the general API's. The answer is explained in one to three
lines, in English or Chinese (--lang). Exit status: 0 the call works, 1 it is refused or the
answer is not GLM's, 2 it could not be made (no key, a key that is no key, a base URL that is no
URL, plain http:// to another machine, no network or DNS).

Which key works where, and what each refusal means: key_kinds.py (its table and sources) and
docs/sources.md#which-key-which-endpoint. Each UNVERIFIED mapping says so in what is printed.
"""

import argparse
import os
import re
from urllib.parse import urlsplit, urlunsplit

import requests

from .auth import is_local, split_key
from .wire import LIVE_BASE_URL

MODEL = "glm-4.7-flash"  # free (docs.z.ai pricing, 2026); any key of the platform may call it
TIMEOUT_SECONDS = 15
GENERAL_PATH, CODING_PATH = "/api/paas/v4", "/api/coding/paas/v4"
HOSTS = {"bigmodel": "open.bigmodel.cn", "zai": "api.z.ai"}
OTHER = {"bigmodel": "zai", "zai": "bigmodel"}

TEXT = {
    "en": {
        "no_key": "ZHIPUAI_API_KEY is not set: set it to your key in this shell "
                  "(doctor never takes the key as an argument).",
        "argument": "doctor takes no key on the command line (it would stay in your shell's "
                    "history): set ZHIPUAI_API_KEY instead.",
        "bad_key": "ZHIPUAI_API_KEY is not a key of the form <id>.<secret>: a key is printable "
                   "ASCII, one '.' with text on both sides, no space or line break (a Chinese "
                   "full stop pasted in breaks it too). Copy it again, whole.",
        "bad_url": "The base URL must look like {general}, not {url}.",
        "plain_http": "Refused to send the key over plain http:// to {host}, which is not this "
                      "machine: anyone on the way could read it. Use {https}.",
        "whole_url": "The base URL stops before /chat/completions: use {fixed}.",
        "network": "No answer from {host}: {why}. Check the network, a proxy, or the host "
                   "in the base URL.",
        "timeout": "timed out after {seconds} s",
        "connect": "cannot connect (DNS or network)",
        "works": "Works: HTTP 200 from {where}; the key is accepted here ({kind}).",
        "kind_general": "a general API key",
        "kind_coding": "a GLM Coding Plan key, or another key this URL takes too: UNVERIFIED",
        "free_note": "This check used the free model {model}: if paid models answer 429/1113, "
                     "the key has no balance or is a Coding Plan key (then use {coding}).",
        "refused": "Refused: HTTP {status}, code {code} (the server says: {message}).",
        "401": "{host} does not know this key: copy it again, whole. If you made it on "
               "{other_host}, set ZHIPUAI_BASE_URL={other} (a key from the other platform "
               "gets a 401 here too; which code is UNVERIFIED).",
        "1113_general": "No balance for this key on the general API. A GLM Coding Plan key "
                        "works only at {coding}: set ZHIPUAI_BASE_URL to it; otherwise "
                        "recharge in the console.",
        "1113_coding": "Neither a balance nor an active GLM Coding Plan for this key (on this "
                       "URL: UNVERIFIED). Check the plan in the console, or use a key with a "
                       "balance at {general}.",
        "1308": "The Coding Plan's usage limit for this period is reached; the message says "
                "when it resets. Wait, or use a key with a balance at {general}.",
        "1309": "The GLM Coding Plan has expired: renew it, or use a key with a balance at "
                "{general}.",
        "1310": "The Coding Plan's weekly or monthly limit is reached; the message says when it "
                "resets. Wait, or use a key with a balance at {general}.",
        "1311": "The plan does not include the model asked for ({model}; reading of 1311 from "
                "one report: UNVERIFIED). Use a model your plan has, or the general API at "
                "{general}.",
        "busy": "The key is accepted, but the API is busy (1302: your concurrency limit; 1305: "
                "overloaded). Try again in a minute.",
        "1211": "The key is accepted, but {where} does not know the model {model}.",
        "other": "See what this code means in the error-code table: "
                 "https://docs.bigmodel.cn/cn/api/api-code",
        "not_found": "Not found: HTTP 404 for {path}, so the base URL is wrong.",
        "v1": "It has /v1 after /v4: set ZHIPUAI_BASE_URL={fixed} (nothing after /v4).",
        "path": "A base URL ends in /api/paas/v4 (or /api/coding/paas/v4 for the Coding Plan), "
                "e.g. {general}.",
        "not_glm": "HTTP {status} from {host}, and not a GLM answer: is {url} the API's base "
                   "URL? The general one is {general}.",
    },
    "zh": {
        "no_key": "没有设置 ZHIPUAI_API_KEY：请在这个终端里把它设成你的密钥"
                  "（doctor 从不接受以参数形式传入的密钥）。",
        "argument": "doctor 不接受写在命令行上的密钥（它会留在终端的历史记录里）："
                    "请改为设置 ZHIPUAI_API_KEY。",
        "bad_key": "ZHIPUAI_API_KEY 不是 <id>.<secret> 形式的密钥：密钥只含可打印的 ASCII "
                   "字符，中间有且只有一个英文句点“.”，两边都不能为空，也不能有空格或换行"
                   "（粘贴时混进一个中文句号“。”也不行）。请重新完整复制一遍。",
        "bad_url": "基础 URL 应该形如 {general}，而不是 {url}。",
        "plain_http": "不会通过明文 http:// 把密钥发给 {host}：它不是本机，传输途中谁都能读到密钥。"
                      "请改用 {https}。",
        "whole_url": "基础 URL 到 /chat/completions 之前为止：请改用 {fixed}。",
        "network": "{host} 没有回应：{why}。请检查网络、代理，或基础 URL 里的主机名。",
        "timeout": "{seconds} 秒内没有响应",
        "connect": "无法连接（DNS 或网络问题）",
        "works": "可用：{where} 返回 HTTP 200，这里接受这个密钥（{kind}）。",
        "kind_general": "通用 API 的密钥",
        "kind_coding": "GLM Coding Plan 的密钥，或这个地址也接受的其他密钥，UNVERIFIED",
        "free_note": "这次检查用的是免费模型 {model}：如果付费模型返回 429/1113，"
                     "说明账户没有余额，或者这是 Coding Plan 的密钥（那就改用 {coding}）。",
        "refused": "被拒绝：HTTP {status}，业务错误码 {code}（服务器的说明：{message}）。",
        "401": "{host} 不认识这个密钥：请重新完整复制一遍。如果密钥是在 {other_host} 上创建的，"
               "请设置 ZHIPUAI_BASE_URL={other}（另一个平台的密钥在这里同样得到 401；"
               "具体是哪个错误码尚未证实，UNVERIFIED）。",
        "1113_general": "这个密钥在通用 API 上没有余额。GLM Coding Plan 的密钥只能用于 {coding}："
                        "把 ZHIPUAI_BASE_URL 设成它；否则请到控制台充值。",
        "1113_coding": "这个密钥既没有余额，也没有有效的 GLM Coding Plan"
                       "（在这个地址上的行为尚未证实，UNVERIFIED）。请到控制台查看套餐，"
                       "或在 {general} 使用有余额的密钥。",
        "1308": "Coding Plan 本周期的用量已达上限，消息里写明了重置时间。"
                "请等到重置，或在 {general} 使用有余额的密钥。",
        "1309": "GLM Coding Plan 套餐已到期：请续订，或在 {general} 使用有余额的密钥。",
        "1310": "Coding Plan 的每周或每月用量已达上限，消息里写明了重置时间。"
                "请等到重置，或在 {general} 使用有余额的密钥。",
        "1311": "当前套餐不包含所请求的模型（{model}；对 1311 的这一解读只来自一份报告，"
                "UNVERIFIED）。请换用套餐包含的模型，或使用 {general} 上的通用 API。",
        "busy": "密钥有效，但 API 正忙（1302：超出你的并发上限；1305：平台负载过高）。"
                "请过一分钟再试。",
        "1211": "密钥有效，但 {where} 不认识模型 {model}。",
        "other": "这个错误码的含义见错误码表：https://docs.bigmodel.cn/cn/api/api-code",
        "not_found": "找不到：{path} 返回 HTTP 404，说明基础 URL 写错了。",
        "v1": "/v4 后面多了 /v1：请设置 ZHIPUAI_BASE_URL={fixed}（/v4 后面什么都不加）。",
        "path": "基础 URL 以 /api/paas/v4 结尾（Coding Plan 则是 /api/coding/paas/v4），"
                "例如 {general}。",
        "not_glm": "{host} 返回了 HTTP {status}，但不是 GLM 的响应：{url} 是 API 的基础 URL 吗？"
                   "通用 API 的基础 URL 是 {general}。",
    },
}


class CannotCall(Exception):
    """The call could not be made (exit status 2); the message is the line to print."""


def platform(host):
    """'bigmodel' or 'zai'; any other host (the recorded server, a proxy) stands in for
    open.bigmodel.cn, as the recorded server does."""
    return "zai" if host == "z.ai" or host.endswith(".z.ai") else "bigmodel"


def with_path(base_url, path):
    """The base URL with its path replaced: the same host's general or coding base URL."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def checked_key(api_key, text):
    """The key; CannotCall, without echoing it, for one that is not <id>.<secret> in printable
    ASCII (a pasted 。 or line break would fail deep inside requests, or pass for a URL error)."""
    try:
        split_key(api_key)
    except ValueError:
        raise CannotCall(text["bad_key"]) from None
    if not all("!" <= char <= "~" for char in api_key):
        raise CannotCall(text["bad_key"])
    return api_key


def checked_base_url(base_url, text):
    """The base URL without a trailing slash; CannotCall for one that is no http(s) URL, or
    plain http:// to another machine (the key would cross the network readable)."""
    url = base_url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise CannotCall(text["bad_url"].format(general=LIVE_BASE_URL, url=repr(url)))
    if url.endswith("/chat/completions"):
        raise CannotCall(text["whole_url"].format(fixed=url[:-len("/chat/completions")]))
    if parts.scheme == "http" and not is_local(url):
        https = urlunsplit(("https", parts.netloc, parts.path, "", ""))
        raise CannotCall(text["plain_http"].format(host=parts.hostname, https=https))
    return url


def call(base_url, api_key, text, post=requests.post):
    """(status, parsed JSON body or None) of the one cheap call; CannotCall when none came."""
    host = urlsplit(base_url).hostname
    try:
        response = post(f"{base_url}/chat/completions",
                        headers={"Authorization": f"Bearer {api_key}"},
                        json={"model": MODEL, "messages": [{"role": "user", "content": "ping"}],
                              "max_tokens": 1},
                        timeout=TIMEOUT_SECONDS)
    except requests.Timeout:
        why = text["timeout"].format(seconds=TIMEOUT_SECONDS)
        raise CannotCall(text["network"].format(host=host, why=why)) from None
    except (requests.ConnectionError, requests.TooManyRedirects):
        raise CannotCall(text["network"].format(host=host, why=text["connect"])) from None
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema):
        raise CannotCall(text["bad_url"].format(general=LIVE_BASE_URL,
                                                url=repr(base_url))) from None
    except requests.RequestException as exc:  # anything else: the key was checked before
        why = type(exc).__name__
        raise CannotCall(text["network"].format(host=host, why=why)) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    return response.status_code, body


def explain(status, body, base_url, text):
    """(exit status, lines) for the call's answer."""
    parts = urlsplit(base_url)
    host, coding = parts.hostname, parts.path.startswith(CODING_PATH)
    where = f"{parts.netloc}{parts.path}"
    general, coding_url = with_path(base_url, GENERAL_PATH), with_path(base_url, CODING_PATH)
    if status == 200 and isinstance(body, dict) and isinstance(body.get("choices"), list):
        kind = text["kind_coding" if coding else "kind_general"]
        lines = [text["works"].format(where=where, kind=kind)]
        if not coding:
            lines.append(text["free_note"].format(model=MODEL, coding=coding_url))
        return 0, lines
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        if status == 404 and isinstance(body, dict) and "path" in body:  # the gateway's 404
            path = str(body["path"])
            fix = re.sub(r"/v1(?=/|$)", "", parts.path, count=1) if "/v4/v1" in path else None
            second = text["v1"].format(fixed=with_path(base_url, fix)) if fix \
                else text["path"].format(general=LIVE_BASE_URL)
            return 1, [text["not_found"].format(path=path[:200]), second]
        return 1, [text["not_glm"].format(status=status, host=host, url=base_url,
                                          general=LIVE_BASE_URL)]
    code = str(error.get("code", ""))
    message = str(error.get("message", ""))[:200]
    first = text["refused"].format(status=status, code=code, message=message)
    if status == 401:
        other = OTHER[platform(host)]
        other_url = f"https://{HOSTS[other]}{CODING_PATH if coding else GENERAL_PATH}"
        return 1, [first, text["401"].format(host=host, other_host=HOSTS[other], other=other_url)]
    if code == "1113":
        key = "1113_coding" if coding else "1113_general"
        return 1, [first, text[key].format(coding=coding_url, general=general)]
    if code in ("1308", "1309", "1310", "1311"):
        return 1, [first, text[code].format(general=general, model=MODEL)]
    if code in ("1302", "1305"):
        return 1, [first, text["busy"]]
    if code == "1211":
        return 1, [first, text["1211"].format(where=where, model=MODEL)]
    return 1, [first, text["other"]]


def secret_free(line, api_key):
    """The line with the key, and each of its parts, blotted out (a base URL could hold it)."""
    for piece in (api_key, *api_key.split(".")):
        if len(piece) >= 4:
            line = line.replace(piece, "***")
    return line


def run(base_url=None, lang="en", environ=None, post=requests.post, out=print):
    """Check the key in ZHIPUAI_API_KEY at the base URL; print the verdict; return the exit
    status (0 works, 1 refused, 2 no call made)."""
    environ = os.environ if environ is None else environ
    text = TEXT[lang]
    api_key = environ.get("ZHIPUAI_API_KEY", "").strip()
    try:
        if not api_key:
            raise CannotCall(text["no_key"])
        checked_key(api_key, text)
        url = checked_base_url(base_url or environ.get("ZHIPUAI_BASE_URL", "").strip()
                               or LIVE_BASE_URL, text)
        status, body = call(url, api_key, text, post)
        code, lines = explain(status, body, url, text)
    except CannotCall as exc:
        code, lines = 2, [str(exc)]
    for line in lines:
        out(secret_free(line, api_key) if api_key else line)
    return code


def add_command(commands):
    """The `doctor` subcommand of python -m glm_offline."""
    doctor = commands.add_parser(
        "doctor", help="check your key at your base URL with one cheap call",
        description="Make one cheap call (a 1-token chat completion with the free model "
        f"{MODEL}, {TIMEOUT_SECONDS} s timeout) with the key in ZHIPUAI_API_KEY, which is "
        "never printed, and explain the answer: does the key work here, which kind it seems "
        "to be, what to change (the base URL or the key). Exit status 0: it works; 1: "
        "refused; 2: no call could be made (no key, no URL, no network).")
    doctor.add_argument("--base-url",
                        help="the base URL to check (default: ZHIPUAI_BASE_URL, else "
                        f"{LIVE_BASE_URL}); the Coding Plan's ends in {CODING_PATH}, "
                        "the international one is https://api.z.ai/api/paas/v4")
    doctor.add_argument("--lang", choices=sorted(TEXT), default="en",
                        help="the language of the verdict (default en)")
    # A key given on the command line anyway is taken here, so that no error message echoes it.
    doctor.add_argument("--api-key", "--key", dest="given", action="append", help=argparse.SUPPRESS)
    doctor.add_argument("stray", nargs="*", help=argparse.SUPPRESS)
    doctor.set_defaults(func=lambda args: refuse_argument(args.lang) if args.given or args.stray
                        else run(args.base_url, args.lang))


def refuse_argument(lang, out=print):
    out(TEXT[lang]["argument"])
    return 2

"""Live mode: a failed call says what happened in one line, not a 160-line traceback.

With ZHIPUAI_API_KEY set (the official SDK's variable, so many learners have it already) and no
network, or with a key the API refuses, the first lesson call would end in a long traceback from
deep inside urllib3. In live mode connect() calls watch(); from then on, inside IPython (Jupyter),
an uncaught requests ConnectionError, or an HTTPError for a 401 from the live base URL, shows one
line in the lesson's language: what happened, and that GLM_OFFLINE=1 goes back offline. The cell
still fails (Run All stops there); any other exception keeps its usual traceback. Outside IPython
nothing changes. Lesson cells do not change.
"""

import requests

LINES = {
    "en": {"unreachable": "Live mode: could not connect to {host}. Check the network, or go "
                          "back offline: run %env GLM_OFFLINE=1, then the first cell again.",
           "refused": "Live mode: {host} refused ZHIPUAI_API_KEY (401). Check the key, or go "
                      "back offline: run %env GLM_OFFLINE=1, then the first cell again."},
    "zh": {"unreachable": "在线模式：无法连接 {host}。请检查网络，或回到离线模式："
                          "运行 %env GLM_OFFLINE=1，再重新运行第一个代码单元。",
           "refused": "在线模式：{host} 拒绝了 ZHIPUAI_API_KEY（401）。请检查密钥，或回到离线模式："
                      "运行 %env GLM_OFFLINE=1，再重新运行第一个代码单元。"},
}
EXCEPTIONS = (requests.exceptions.ConnectionError, requests.exceptions.HTTPError)
_watching = {"base_url": None, "language": "en"}


def watch(base_url, language="en"):
    """Inside IPython, show live-mode connection failures and refused keys in one line from now
    on; outside IPython do nothing. Idempotent."""
    if language not in LINES:
        raise ValueError(f"language must be one of {sorted(LINES)}, not {language!r}")
    _watching.update(base_url=base_url.rstrip("/") + "/", language=language)
    shell = _shell()
    if shell is not None:
        shell.set_custom_exc(EXCEPTIONS, _handler)


def unwatch():
    """Offline mode: give IPython its usual tracebacks back (if this module had changed them)."""
    _watching["base_url"] = None
    shell = _shell()
    if shell is not None and shell.custom_exceptions == EXCEPTIONS:
        shell.set_custom_exc((), None)


def line_for(error):
    """The one line for this exception, or None when it keeps its usual traceback."""
    base_url, language = _watching["base_url"], _watching["language"]
    if base_url is None:
        return None
    url = getattr(getattr(error, "request", None), "url", None) or base_url
    if not url.startswith(base_url):
        return None
    host = base_url.split("/")[2]
    if isinstance(error, requests.exceptions.ConnectionError):
        return LINES[language]["unreachable"].format(host=host)
    response = getattr(error, "response", None)
    if isinstance(error, requests.exceptions.HTTPError) and response is not None \
            and response.status_code == 401:
        return LINES[language]["refused"].format(host=host)
    return None


def _handler(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler: one line, or the usual traceback."""
    line = line_for(value)
    if line is None:
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    else:
        stb = [line]
    shell._showtraceback(etype, value, stb)  # what showtraceback() itself ends with
    return None  # IPython does not show what a handler returns; None is accepted


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:  # no IPython: a plain script
        return None
    return get_ipython()

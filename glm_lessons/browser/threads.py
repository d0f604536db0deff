"""Thread pools where no thread can start: the browser edition's kernel (Pyodide: a web page's
Python has no threads, and `Thread.start()` raises "can't start new thread").

connect() calls use_in_order_pools(language) there: from then on
`concurrent.futures.ThreadPoolExecutor` is InOrderExecutor, which runs each submitted call at
once, in the caller, one after the other, and says so in one line (in the lesson's language)
when a pool is made. So a lesson cell with a thread pool (lessons 05 and 08) runs to its end
unchanged, and whatever its output shows differently from a desktop run (eight requests that
no longer overlap, for one) is explained by that line. Standard library only: it runs in the
kernel, not at build time.
"""

import concurrent.futures
import sys
import threading

LINES = {  # printed once per pool, the only text a pool adds to a cell's output
    "en": "(The browser edition runs this pool's work one call at a time: Python in a web page "
          "has no threads, so nothing here runs at the same time as it would on a desktop.)",
    "zh": "（浏览器版会逐个运行这个线程池里的任务：网页里的 Python 没有线程，"
          "所以这里不会像在桌面上那样同时运行。）",
}


def threads_available():
    """Whether this Python can start a thread: never in a web page (sys.platform
    "emscripten"); elsewhere, whether starting one works (the CPython runs that play the
    edition take the threads away, tests/lessons/test_browser_threads.py)."""
    if sys.platform == "emscripten":
        return False
    probe = threading.Thread(target=int, name="glm-lessons-thread-probe", daemon=True)
    try:
        probe.start()
    except RuntimeError:  # "can't start new thread"
        return False
    probe.join(timeout=5)
    return True


class InOrderExecutor(concurrent.futures.Executor):
    """ThreadPoolExecutor's stand-in where no thread can start: submit() runs the call at once
    and returns its Future already done (its result, or the exception it raised, which
    result() raises in the caller, as a pool's would); map() gives the results in order.
    Making one prints LINES[language] (use_in_order_pools() sets the language)."""

    language = "en"

    def __init__(self, max_workers=None, thread_name_prefix="", initializer=None, initargs=()):
        if max_workers is not None and max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._initializer, self._initargs = initializer, initargs
        self._shut = False
        print(LINES[self.language], flush=True)

    def submit(self, fn, /, *args, **kwargs):
        if self._shut:
            raise RuntimeError("cannot schedule new futures after shutdown")
        if self._initializer is not None:  # a pool's workers each run it once before work
            initializer, self._initializer = self._initializer, None
            initializer(*self._initargs)
        future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        try:
            result = fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 (the Future carries it, as a worker's would)
            future.set_exception(error)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._shut = True  # every call has already run: nothing to wait for or cancel


def use_in_order_pools(language):
    """From now on `concurrent.futures.ThreadPoolExecutor` is InOrderExecutor, saying its line
    in `language`. Running it again (a setup cell run twice) changes only the language."""
    if language not in LINES:
        raise ValueError(f"language must be one of {sorted(LINES)}, not {language!r}")
    InOrderExecutor.language = language
    concurrent.futures.ThreadPoolExecutor = InOrderExecutor

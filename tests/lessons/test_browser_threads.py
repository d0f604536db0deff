"""The browser edition's thread pools: a web page's Python has no threads, so connect() makes
concurrent.futures.ThreadPoolExecutor a stand-in that runs the work one call at a time and
says so in one line (glm_lessons/browser/threads.py). Here: the stand-in alone, connect()
choosing it only where no thread can start, the check's verdict on a cell that printed the
line. Lesson 05 run in-process with threads taken away: tests/lessons/test_browser_lessons.py."""

import concurrent.futures
import sys
import threading
from pathlib import Path

import pytest

from glm_lessons import shared_server
from glm_lessons.browser import threads
from glm_lessons.browser.compare import verdict
from glm_lessons.lesson import connect

ROOT = Path(__file__).resolve().parents[2]
LINE = {"en": "(The browser edition runs this pool's work one call at a time: Python in a web "
              "page has no threads, so nothing here runs at the same time as it would on a "
              "desktop.)\n",
        "zh": "（浏览器版会逐个运行这个线程池里的任务：网页里的 Python 没有线程，"
              "所以这里不会像在桌面上那样同时运行。）\n"}
REAL_POOL = concurrent.futures.ThreadPoolExecutor


@pytest.fixture(autouse=True)
def pools_put_back(monkeypatch):
    """use_in_order_pools() changes the process's concurrent.futures: undo it after each test."""
    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", REAL_POOL)
    monkeypatch.setattr(threads.InOrderExecutor, "language", "en")


@pytest.fixture
def no_threads(monkeypatch):
    """Threads taken away, as in Pyodide."""
    def refuse(self):
        raise RuntimeError("can't start new thread")
    monkeypatch.setattr(threading.Thread, "start", refuse)


# -- the stand-in ------------------------------------------------------------------------
def test_the_pool_runs_each_call_at_once_in_order_and_says_so_once(capsys):
    ran = []

    def work(n):
        ran.append(n)
        return n * n

    with threads.InOrderExecutor(max_workers=2) as pool:
        assert capsys.readouterr().out == LINE["en"]
        assert list(pool.map(work, [3, 1, 2])) == [9, 1, 4]
        future = pool.submit(work, 5)
        assert ran == [3, 1, 2, 5] and future.done() and future.result() == 25
    assert capsys.readouterr().out == ""


def test_an_error_reaches_the_caller_through_result_as_a_pools_would():
    def fails(n):
        if n == 2:
            raise KeyError(n)
        return n

    pool = threads.InOrderExecutor()
    future = pool.submit(fails, 2)
    assert isinstance(future.exception(), KeyError)
    results = pool.map(fails, [1, 2, 3])
    assert next(results) == 1
    with pytest.raises(KeyError):
        next(results)


def test_after_shutdown_nothing_more_is_accepted_and_a_bad_size_is_refused():
    pool = threads.InOrderExecutor(max_workers=1)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(print)
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        threads.InOrderExecutor(max_workers=0)


def test_the_initializer_runs_once_before_the_first_call():
    seen = []
    pool = threads.InOrderExecutor(initializer=seen.append, initargs=("init",))
    assert seen == []
    pool.map(seen.append, ["a", "b"])
    assert seen == ["init", "a", "b"]


def test_the_line_is_in_the_lessons_language_and_a_lesson_imports_the_stand_in(capsys):
    threads.use_in_order_pools("zh")
    from concurrent.futures import ThreadPoolExecutor  # as lessons 05 and 08 do
    assert ThreadPoolExecutor is threads.InOrderExecutor
    ThreadPoolExecutor(max_workers=8)
    assert capsys.readouterr().out == LINE["zh"]
    with pytest.raises(ValueError, match="language must be one of"):
        threads.use_in_order_pools("fr")


# -- when connect() uses it ----------------------------------------------------------------
def test_threads_are_available_here_but_not_in_a_web_page(monkeypatch):
    assert threads.threads_available()
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert not threads.threads_available()


def test_threads_are_missing_where_starting_one_fails(no_threads):
    assert not threads.threads_available()


def test_connect_keeps_the_real_pool_where_threads_start(capsys):
    connect("en", environ={})
    assert concurrent.futures.ThreadPoolExecutor is REAL_POOL


def test_connect_runs_pools_in_order_where_no_thread_can_start(no_threads, capsys):
    shared_server()  # the kernel's server, started before the threads go (its own needs none)
    connect("zh", environ={})
    capsys.readouterr()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(str.upper, ["a", "b"])) == ["A", "B"]
    assert capsys.readouterr().out == LINE["zh"]


# -- what the edition's check makes of a cell that printed the line ------------------------
def stdout(text):
    return [{"output_type": "stream", "name": "stdout", "text": text}]


def test_a_difference_counts_as_explained_only_where_the_cell_printed_the_line():
    desktop = stdout("Counter({'1302': 5, 'stop': 3})\n")
    assert verdict(desktop, stdout("Counter({'1302': 5, 'stop': 3})\n")) == "same"
    assert verdict(desktop, stdout(LINE["en"] + "Counter({'stop': 8})\n")) == "explained"
    assert verdict(desktop, stdout(LINE["zh"] + "Counter({'stop': 8})\n")) == "explained"
    assert verdict(desktop, stdout("Counter({'stop': 8})\n")) == "different"
    assert verdict(desktop, stdout("x " + LINE["en"])) == "different"  # not a line of its own


def test_a_cell_that_printed_the_line_and_then_failed_is_different():
    desktop = stdout("Counter({'1302': 5, 'stop': 3})\n")
    failed = stdout(LINE["en"]) + [{"output_type": "error", "ename": "KeyError",
                                    "evalue": "'stop'", "traceback": []}]
    assert verdict(desktop, failed) == "different"
    pyodide = stdout(LINE["en"] + "Counter({'stop': 8})\n") + [
        {"output_type": "error", "ename": "<class 'RuntimeError'>", "evalue": "", "traceback": []}]
    assert verdict(desktop, pyodide) == "different"


def test_the_line_explains_other_text_not_other_or_missing_outputs():
    desktop = stdout("8 answers\n")
    shown = {"output_type": "execute_result", "execution_count": 1, "metadata": {},
             "data": {"text/plain": "8"}}
    assert verdict(desktop, stdout(LINE["en"])) == "different"  # the line alone: output lost
    assert verdict(desktop, stdout(LINE["en"] + "8 answers\n") + [shown]) == "different"
    assert verdict(desktop + [shown], stdout(LINE["zh"] + "7 answers\n") + [shown]) == "explained"
    assert verdict(desktop + [shown], [shown] + stdout(LINE["en"] + "8 answers\n")) == "different"

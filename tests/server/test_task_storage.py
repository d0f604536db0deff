"""Async task storage (glm_offline/tasks.py) is bounded in bytes as well as in tasks: one
client submitting huge fields cannot grow the server's memory, nor push out others' tasks
before its own."""

import tracemalloc

from glm_offline import tasks

MB = 1024 * 1024


def record(request_id):
    return {"id": "", "model": "glm-4-flash", "request_id": request_id, "created": 1,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Hello!"}}],
            "task_status": "SUCCESS"}


def test_huge_fields_from_one_client_stay_within_its_byte_budget():
    """100 submissions of 1 MB each would hold 100 MB; the table keeps the newest that fit
    in TASK_BYTES_PER_CLIENT, 4 MB (and polls them as before)."""
    table = tasks.TaskTable()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(100):
            # a new string each time, as each request's body is
            answer = table.submit(record(f"{number:04d}" + "r" * MB), 0, "glm-offline@10.0.0.7")
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 6 * MB, f"{held / MB:.0f} MB held"
    assert table.poll(answer["id"])["request_id"].startswith("0099")
    assert 1 <= len(table) <= tasks.TASK_BYTES_PER_CLIENT // MB


def test_one_task_over_the_budget_is_still_kept_until_the_next():
    table = tasks.TaskTable(per_client_bytes=MB)
    first = table.submit(record("a" * 2 * MB), 0, "someone@10.0.0.7")
    assert table.poll(first["id"])["request_id"] == "a" * 2 * MB
    second = table.submit(record("b"), 0, "someone@10.0.0.7")
    assert table.poll(first["id"]) is None and table.poll(second["id"])["request_id"] == "b"


def test_a_client_over_its_budget_never_pushes_out_anyone_elses_tasks():
    table = tasks.TaskTable(per_client_bytes=4 * MB, max_bytes=100 * MB)
    theirs = table.submit(record("lesson"), 1, "glm-offline@10.0.0.8")
    for _ in range(50):
        table.submit(record("x" * MB), 0, "glm-offline@10.0.0.7")
    assert table.poll(theirs["id"])["task_status"] == "PROCESSING"


def test_all_clients_together_stay_within_the_total_byte_budget():
    table = tasks.TaskTable(per_client_bytes=4 * MB, max_bytes=10 * MB)
    for client in range(20):  # 20 addresses, 2 MB each: 40 MB asked, 10 MB kept
        for _ in range(2):
            newest = table.submit(record("y" * MB), 0, f"glm-offline@10.0.1.{client}")
    assert table.bytes <= 10 * MB
    assert table.poll(newest["id"]) is not None


def test_an_ordinary_lessons_tasks_are_bounded_by_count_first():
    """A lesson's record is ~1 kB: the count quota (TASKS_PER_CLIENT) binds long before the
    byte budget does, so nothing a lesson does changes."""
    assert tasks.task_bytes(record("lesson-1")) * tasks.TASKS_PER_CLIENT < \
        tasks.TASK_BYTES_PER_CLIENT
    assert tasks.task_bytes(record("lesson-1")) * tasks.MAX_TASKS < tasks.MAX_TASK_BYTES

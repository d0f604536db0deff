"""Async chat tasks (POST /async/chat/completions, GET /async-result/{id}).

A task answers PROCESSING for its first polls, then its final record on every poll after
that. The live service finishes a task after some time; here a task finishes after a number
of polls, so a lesson prints the same states however fast it polls.

A room shares one server, so tasks are kept apart: ids are random (as unguessable as a
token, in the captured id shape), and each client (API key and address) has a quota of its
own: its own oldest task is forgotten when it goes over, never someone else's.
"""

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

TASKS_PER_CLIENT = 500
MAX_TASKS = 20000  # all clients together; past it the oldest task of all is forgotten
GENERATED_TASK_POLLS = 1  # a task with a generated answer polls PROCESSING once


def new_task_id():
    """A random task id in the one captured shape: 17 digits, a dash, 19 digits (the format
    beyond that single capture is UNVERIFIED). About 119 random bits."""
    return f"{secrets.randbelow(10**17):017d}-{secrets.randbelow(10**19):019d}"


def task_record(completion, task_status):
    """A task as GET /async-result/{id} returns it: the completion plus task_status.

    Keys are alphabetical, as in other non-streaming bodies. While PROCESSING, and after a
    FAIL, the record has only id, model, request_id and task_status; the docs show no failed
    record, so that a FAIL carries no error detail is UNVERIFIED.
    """
    return dict(sorted({**completion, "task_status": task_status}.items()))


def task_fields(record):
    return {key: record.get(key) for key in ("id", "model", "request_id")}


@dataclass
class Task:
    final: dict  # the record once done: SUCCESS with the answer, or FAIL
    polls_left: int  # polls that still answer PROCESSING
    client: str


class TaskTable:
    """Async chat tasks by id, with a quota per client."""

    def __init__(self, per_client=TASKS_PER_CLIENT, max_tasks=MAX_TASKS):
        self._lock = threading.Lock()
        self._tasks = OrderedDict()  # id -> Task, oldest first
        self._by_client = {}  # client -> OrderedDict of its ids, oldest first
        self.per_client, self.max_tasks = per_client, max_tasks

    def submit(self, final, polls_before_done, client):
        """Store a task for `client`; return its record as POST /async/chat/completions
        answers it."""
        ident = new_task_id()
        with self._lock:
            self._tasks[ident] = Task({**final, "id": ident}, polls_before_done, client)
            own = self._by_client.setdefault(client, OrderedDict())
            own[ident] = None
            if len(own) > self.per_client:
                self._forget(next(iter(own)))
            if len(self._tasks) > self.max_tasks:
                self._forget(next(iter(self._tasks)))
        return task_record(task_fields({**final, "id": ident}), "PROCESSING")

    def _forget(self, ident):
        task = self._tasks.pop(ident)
        own = self._by_client[task.client]
        del own[ident]
        if not own:
            del self._by_client[task.client]

    def poll(self, ident):
        """The task's record now, or None for an unknown id."""
        with self._lock:
            task = self._tasks.get(ident)
            if task is None:
                return None
            if task.polls_left:
                task.polls_left -= 1
                return task_record(task_fields(task.final), "PROCESSING")
            return task.final

    def __len__(self):
        return len(self._tasks)

"""Async chat tasks (POST /async/chat/completions, GET /async-result/{id}).

A task answers PROCESSING for its first polls, then its final record on every poll after
that. The live service finishes a task after some time; here a task finishes after a number
of polls, so a lesson prints the same states however fast it polls.

A room shares one server, so tasks are kept apart: ids are random (as unguessable as a
token, in the captured id shape), and each client (API key and address) has a quota of its
own: its own oldest task is forgotten when it goes over, never someone else's.

The quotas count tasks and bytes (task_bytes: an upper bound of what a task holds, whatever
field is large). A lesson's task counts about 2 kB, so for lessons the counts bind first
(500 tasks of a client are ~1 MB, under its 4 MiB; 20,000 in all ~36 MB, under 64 MiB); the
bytes bound a client that sends large fields (a request body may be 1 MiB: a client keeps
its newest few of those), and the room: 64 MiB in all, whatever is sent, well within what
the instructor's laptop can spare beside the server's other bounded parts.
"""

import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

TASKS_PER_CLIENT = 500
MAX_TASKS = 20000  # all clients together; past it the oldest task of all is forgotten
TASK_BYTES_PER_CLIENT = 4 * 1024 * 1024
MAX_TASK_BYTES = 64 * 1024 * 1024  # all clients together, as MAX_TASKS
TASK_OVERHEAD_BYTES = 1024  # the Task, its dicts, the id in two tables, roughly
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


def task_bytes(final):
    """What storing a task's final record costs, at most: its JSON with every non-ASCII
    character escaped (6 or 12 bytes, never fewer than Python keeps), plus the overhead."""
    return TASK_OVERHEAD_BYTES + len(json.dumps(final))


def task_fields(record):
    return {key: record.get(key) for key in ("id", "model", "request_id")}


@dataclass
class Task:
    final: dict  # the record once done: SUCCESS with the answer, or FAIL
    polls_left: int  # polls that still answer PROCESSING
    client: tuple  # (API key id, client address group): routes.py's one client
    size: int  # task_bytes(final)


class TaskTable:
    """Async chat tasks by id, with a quota per client, in tasks and in bytes. The newest
    task is always kept, even alone over a byte quota, until the next one comes."""

    def __init__(self, per_client=TASKS_PER_CLIENT, max_tasks=MAX_TASKS,
                 per_client_bytes=TASK_BYTES_PER_CLIENT, max_bytes=MAX_TASK_BYTES):
        self._lock = threading.Lock()
        self._tasks = OrderedDict()  # id -> Task, oldest first
        self._by_client = {}  # client -> OrderedDict of its ids, oldest first
        self._client_bytes = {}  # client -> bytes its tasks hold
        self.bytes = 0
        self.per_client, self.max_tasks = per_client, max_tasks
        self.per_client_bytes, self.max_bytes = per_client_bytes, max_bytes

    def submit(self, final, polls_before_done, client):
        """Store a task for `client`; return its record as POST /async/chat/completions
        answers it."""
        ident = new_task_id()
        stored = {**final, "id": ident}
        size = task_bytes(stored)
        with self._lock:
            self._tasks[ident] = Task(stored, polls_before_done, client, size)
            own = self._by_client.setdefault(client, OrderedDict())
            own[ident] = None
            self._client_bytes[client] = self._client_bytes.get(client, 0) + size
            self.bytes += size
            while len(own) > 1 and (len(own) > self.per_client or
                                    self._client_bytes[client] > self.per_client_bytes):
                self._forget(next(iter(own)))
            while len(self._tasks) > 1 and (len(self._tasks) > self.max_tasks or
                                            self.bytes > self.max_bytes):
                self._forget(next(iter(self._tasks)))
        return task_record(task_fields(stored), "PROCESSING")

    def _forget(self, ident):
        task = self._tasks.pop(ident)
        own = self._by_client[task.client]
        del own[ident]
        self._client_bytes[task.client] -= task.size
        self.bytes -= task.size
        if not own:
            del self._by_client[task.client]
            del self._client_bytes[task.client]

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

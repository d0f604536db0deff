"""Cassettes: recorded interactions as readable JSON files, and matching requests to them.

Format (version 1)::

    {"version": 1,
     "metadata": {"recorded_at": "...", "model": "...", "how": "...", "source": "..."},
     "interactions": [
        {"name": "hello-en",
         "request": {"method": "POST", "path": "/api/paas/v4/chat/completions", "body": {...}},
         "response": {"status": 200, "json": {...}}},                      # or, streaming:
         "response": {"status": 200, "sse": ["data: {...}", "", ...], "event_delays_ms": [...]}}
     ]}

An async chat task is one interaction: the request is the POST to
/api/paas/v4/async/chat/completions, and the response holds the task's final record (what
GET /async-result/{id} returns once it says SUCCESS) plus how many polls answer PROCESSING
before that: {"status": 200, "json": {..., "task_status": "SUCCESS"}, "polls_before_done": 2}.

A request matches an interaction when method, path and parsed body are equal, once
explicit nulls and spelled-out defaults are dropped (glm_offline.matching).

The file is read and written by cassette_file.py alone (its journal and lock too); each
field is checked by cassette_schema.py.
"""

from dataclasses import dataclass
from pathlib import Path

from . import matching
from .cassette_file import CassetteError, read_checked
from .wire import sse_lines_to_events

PACKAGE_CASSETTES = Path(__file__).parent / "cassettes"


@dataclass
class Reply:
    """A response before it is written: JSON body or SSE events (each a list of lines)."""

    status: int
    source: str
    json: object = None
    events: list = None
    delays_ms: list = None
    drop: bool = False  # cut the connection after the events (a fault)
    stall: tuple = None  # (event index, seconds): stop sending there for a while (a fault)
    polls_before_done: int = 0  # async tasks: polls that answer PROCESSING first
    headers: list = None  # extra response headers, (name, value) pairs


@dataclass
class Interaction:
    name: str
    method: str
    path: str
    body: object
    response: dict

    def reply(self):
        response = self.response
        source = f"recorded:{self.name}"
        if "sse" in response:
            events = sse_lines_to_events(response["sse"])
            delays = response.get("event_delays_ms") or [0] * len(events)
            return Reply(response["status"], source, events=events, delays_ms=list(delays))
        return Reply(response["status"], source, json=response["json"],
                     polls_before_done=response.get("polls_before_done", 0))


def load_file(path):
    """Read and check one cassette file; return (metadata, [Interaction]).

    Every field is checked first, so what follows can trust the shapes."""
    data = read_checked(Path(path))  # every field, its journal merged, or CassetteError
    interactions = [Interaction(item["name"], item["request"]["method"].upper(),
                                item["request"]["path"],
                                matching.canonical(item["request"].get("body")),
                                item["response"])
                    for item in data["interactions"]]
    return data["metadata"], interactions


class Library:
    """All interactions from a set of cassette files, searchable by request."""

    def __init__(self, paths):
        self.interactions = []
        seen = {}
        for path in paths:
            for interaction in load_file(path)[1]:
                if interaction.name in seen:
                    raise CassetteError(f"interaction name {interaction.name!r} appears in both "
                                        f"{seen[interaction.name]} and {path}")
                seen[interaction.name] = path
                self.interactions.append(interaction)

    @classmethod
    def from_dirs(cls, dirs):
        return cls([p for d in dirs for p in sorted(Path(d).glob("*.json"))])

    def find(self, method, path, body):
        return matching.find(self.interactions, method, path, body)

    def find_ignoring_sampling(self, method, path, body):
        return matching.find_ignoring_sampling(self.interactions, method, path, body)

    def explain_miss(self, method, path, body):
        """Name the nearest recording and what differed from it."""
        return matching.explain_miss(self.interactions, method, path, body)

"""Where a cassette's recordings come from (the one line a lesson shows about it is
glm_lessons.recordings).

A cassette's metadata holds (checked by cassette_schema):

    "provenance": {"made": "transcribed", "last_drift": null}
    "provenance": {"made": "captured", "captured_at": "2026-12-07", "model_served": "glm-4.7-flash",
                   "last_drift": {"verdict": "benign", "checked_at": "2026-12-08"}}

"transcribed": written by contributors/transcribe.py from a spec, not captured; "captured": by
`python -m glm_offline record`, with the day and the model the API answered as; "mixed":
captures added to a transcribed file. "last_drift" is null until `python -m glm_offline drift
--update-cassettes` writes the worst verdict of its last run (glm_offline.drift) and the day.
"""

from .cassette_file import read_checked
from .cassette_schema import PROVENANCE_MADE as MADE  # noqa: F401 (the names, in one place)
from .cassettes import PACKAGE_CASSETTES
from .drift import worst
from .wire import event_chunk, sse_lines_to_events

TRANSCRIBED = {"made": "transcribed", "last_drift": None}
UNKNOWN = "unknown"  # model_served of captures that named no model (error answers)


def captured(old, model_served, day):
    """The provenance after a capture on `day` (ISO date) answered as `model_served`."""
    old = old or {}
    made = "mixed" if old.get("made") in ("transcribed", "mixed") else "captured"
    models = [m for m in str(old.get("model_served") or "").split(", ") if m and m != UNKNOWN]
    if model_served and model_served not in models:
        models.append(model_served)
    return {"made": made, "captured_at": day, "model_served": ", ".join(models) or UNKNOWN,
            "last_drift": old.get("last_drift")}


def served_model(response):
    """The model a recorded response says answered it (JSON body, or a stream's first chunk)."""
    if "json" in response and isinstance(response["json"], dict):
        model = response["json"].get("model")
        return model if isinstance(model, str) else None
    for event in sse_lines_to_events(response.get("sse", [])):
        chunk = event_chunk(event)
        if chunk is not None and isinstance(chunk.get("model"), str):
            return chunk["model"]
    return None


def with_drift(old, verdict, day):
    return {**(old or TRANSCRIBED), "last_drift": {"verdict": verdict, "checked_at": day}}


def lesson_provenance(lesson, folder=None):
    """The provenances of a lesson's cassettes (lesson-NN.json, recorded-NN.json) in `folder`
    (default: the packaged ones), in that order; CassetteError for one that does not load."""
    folder = PACKAGE_CASSETTES if folder is None else folder
    found = []
    for name in (f"lesson-{lesson}.json", f"recorded-{lesson}.json"):
        path = folder / name
        if path.exists():
            metadata = read_checked(path)["metadata"]  # a recorder's journal merged
            found.append(metadata.get("provenance") or TRANSCRIBED)
    return found


def combined(provenances):
    """One provenance for several cassettes: how they were made together, the latest
    capture, and the oldest drift check (or none, if any cassette was never checked)."""
    made = {p["made"] for p in provenances}
    result = {"made": made.pop() if len(made) == 1 else "mixed", "last_drift": None}
    captures = [p for p in provenances if p["made"] != "transcribed"]
    if captures:
        latest = max(captures, key=lambda p: p["captured_at"])
        result.update(captured_at=latest["captured_at"], model_served=latest["model_served"])
    checks = [p["last_drift"] for p in provenances]
    if checks and all(checks):
        result["last_drift"] = {"verdict": worst(c["verdict"] for c in checks),
                                "checked_at": min(c["checked_at"] for c in checks)}
    return result


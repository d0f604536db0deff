"""The two variables a lesson's recipe reads, ZHIPUAI_API_KEY and ZHIPUAI_BASE_URL, pointed at
the recorded server offline (connect() does it, so the recipe cell runs unchanged in the
notebook) and put back afterwards.

    export(environ, api_key, base_url)  # what each held before is kept aside
    restore(environ)                    # undone, one variable at a time
    with pointed_at(server): ...        # both, around a block (the tests use it)

Each variable is put back on its own, and only while it still holds the value exported: a key
the learner sets after going offline (%env ZHIPUAI_API_KEY=...) stays, while the base URL, still
the local server's, goes back to what it was (or away), so a live key never goes to the local
server."""

import contextlib
import os

NAMES = ("ZHIPUAI_API_KEY", "ZHIPUAI_BASE_URL")
EXPORTED = {name: name.replace("ZHIPUAI_", "GLM_LESSONS_EXPORTED_") for name in NAMES}  # the
SAVED = {name: name.replace("ZHIPUAI_", "GLM_LESSONS_SAVED_") for name in NAMES}  # value set,
# and the learner's own value, waiting while the variable points offline


def export(environ, api_key, base_url):
    """Point the two variables at api_key and base_url, keeping what they held."""
    for name, value in zip(NAMES, (api_key, base_url)):
        if name in environ:
            environ[SAVED[name]] = environ[name]
        environ[name] = environ[EXPORTED[name]] = value


def restore(environ):
    """Undo export() for each variable that still holds the value it exported."""
    for name in NAMES:
        exported, kept = environ.pop(EXPORTED[name], None), environ.pop(SAVED[name], None)
        if exported is not None and environ.get(name) == exported:
            del environ[name]
            if kept is not None:
                environ[name] = kept


@contextlib.contextmanager
def pointed_at(server, environ=None):
    """The two variables pointed at `server` (anything with api_key and base_url) for a block."""
    environ = os.environ if environ is None else environ
    export(environ, server.api_key, server.base_url)
    try:
        yield environ
    finally:
        restore(environ)

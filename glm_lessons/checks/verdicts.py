"""What every lesson's checks share: the language, the one printed line, the hint.

A lesson's module subclasses Checks with its MESSAGES ({"en": {key: text}, "zh": {...}}, the
same keys in both) and writes one method per exercise, decorated with @check("hint key"):

    @check("define")
    def complete_text(self, answer, data, short):
        self.expect(answer(data) == ..., "finished")   # prints that line and stops if False
        self.say("correct")
"""

import functools

LANGUAGES = ("en", "zh")


class Wrong(Exception):
    """A check's verdict that the answer is not right yet: its message is the line printed."""


def check(hint=None):
    """Decorate a check method: while its first argument (the answer) is None, print the
    `hint` line; a Wrong raised inside prints its line. The method returns nothing, so a
    notebook shows only the printed line."""
    def decorate(method):
        @functools.wraps(method)
        def run(self, answer, *context, **options):
            if hint is not None and answer is None:
                self.say(hint)
                return
            try:
                method(self, answer, *context, **options)
            except Wrong as wrong:
                print(wrong)
        return run
    return decorate


class Checks:
    """A lesson's checks in one language. Subclasses set MESSAGES."""

    MESSAGES = {"en": {}, "zh": {}}

    def __init__(self, language="en"):
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {list(LANGUAGES)}, not {language!r}")
        self.language = language

    def __repr__(self):
        return f"<exercise checks of {type(self).__module__.rsplit('.', 1)[-1]}, {self.language}>"

    def text(self, key, **fields):
        """The message `key` in this language, with its {fields} filled in."""
        return self.MESSAGES[self.language][key].format(**fields)

    def say(self, key, **fields):
        print(self.text(key, **fields), flush=True)

    def expect(self, condition, key, **fields):
        """Stop the check with message `key` unless `condition` holds."""
        if not condition:
            raise Wrong(self.text(key, **fields))

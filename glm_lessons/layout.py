"""Where the course's notebooks are, in one place: notebooks/<language>/NN-name.ipynb, the
numbered files, of which 00-start-here.ipynb is the course's first page (no lesson frame, setup
cell, exercises or quiz) and the others are the lessons."""

from pathlib import Path

START_HERE = "00-start-here.ipynb"  # the course's first page, not a numbered lesson
NUMBERED = "[0-9][0-9]-*.ipynb"  # start-here and the lessons


def lesson_paths(notebooks, language):
    """The lessons of a language (01, 02, ...) under the folder `notebooks`, in order, without
    the start-here page."""
    return sorted(path for path in (Path(notebooks) / language).glob(NUMBERED)
                  if path.name != START_HERE)

"""Which lessons and recordings use a model that is retired by a given day.

A lesson uses a model when a string literal in one of its code cells is that model's id
(`MODEL = "glm-4.7-flash"`); a recording uses it when an interaction's request body names it.
Retirement dates and replacements come from the model table (glm_offline.models): only dates
the platform announced, so most models have none.

The lessons are the repository's notebooks/en|zh/*.ipynb. An installed package has no
notebooks beside it; then only the recordings are scanned, and `notebooks_folder()` is None.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .cassettes import PACKAGE_CASSETTES, load_file
from .models import MODELS

REPOSITORY = Path(__file__).resolve().parent.parent
LESSON_LANGUAGES = ("en", "zh")
# a quoted string without whitespace or quotes: every model id a lesson could name
QUOTED = re.compile(r"""["']([^"'\s]{1,80})["']""")


@dataclass(frozen=True)
class Use:
    """One place that uses a retired model: where, which id, when it retires, what instead."""

    where: str  # "notebooks/en/04-thinking-models.ipynb cell 7" or "<file> interaction NAME"
    model: str
    retired: object  # datetime.date
    replacement: str = None


def notebooks_folder(repository=REPOSITORY):
    """The lessons' folder when the package runs from the repository, else None."""
    folder = repository / "notebooks"
    return folder if any((folder / lang).is_dir() for lang in LESSON_LANGUAGES) else None


def retired_models(day, table=None):
    """{id: Model} of the models whose announced retirement date is on or before `day`."""
    table = MODELS if table is None else table
    return {name: model for name, model in table.items() if model.retired_by(day)}


def lesson_uses(folder, retired, shown_from=REPOSITORY):
    """Uses of a retired model in the code cells of folder/en|zh/*.ipynb (cells counted from
    1, as Jupyter shows them, markdown cells included)."""
    for notebook in sorted(p for lang in LESSON_LANGUAGES for p in (folder / lang).glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
        for number, cell in enumerate(cells, 1):
            if cell.get("cell_type") != "code":
                continue
            source = "".join(cell.get("source", ""))
            for name in sorted({m for m in QUOTED.findall(source) if m in retired}):
                yield _use(f"{_shown(notebook, shown_from)} cell {number}", name, retired)


def recording_uses(files, retired, shown_from=REPOSITORY):
    """Uses of a retired model in the request bodies of these cassette files."""
    for path in files:
        _, interactions = load_file(path)  # CassetteError for a file that is not a cassette
        for interaction in interactions:
            body = interaction.body
            name = body.get("model") if isinstance(body, dict) else None
            if isinstance(name, str) and name in retired:
                yield _use(f"{_shown(Path(path), shown_from)} interaction {interaction.name!r}",
                           name, retired)


def cassette_files(folders=()):
    """The packaged cassettes, then each given folder's *.json."""
    return [p for folder in (PACKAGE_CASSETTES, *map(Path, folders))
            for p in sorted(folder.glob("*.json"))]


def scan(day, lessons, cassette_folders=(), table=None):
    """[Use] for every lesson cell and recorded request that names a model retired by `day`.
    lessons: the notebooks folder, or None to scan the recordings only."""
    retired = retired_models(day, table)
    uses = list(lesson_uses(lessons, retired)) if lessons else []
    return uses + list(recording_uses(cassette_files(cassette_folders), retired))


def _use(where, name, retired):
    return Use(where, name, retired[name].retired, retired[name].replacement)


def _shown(path, root):
    """A path relative to the repository when it is inside it (shorter, and the same on every
    machine), else as given."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)

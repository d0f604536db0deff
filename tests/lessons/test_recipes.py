"""Every lesson's recipe: the code cell tagged "recipe", second in the lesson after its setup
cell, is one standalone script. Copied into a file beside glm_client.py (the one file a recipe
may import besides requests and PyJWT) it runs against the recorded server, exactly as it
would against the live API with ZHIPUAI_API_KEY and ZHIPUAI_BASE_URL set, and prints what the
lesson's stored output shows."""

import shutil
import subprocess
import sys

import nbformat
import pytest

import glm_offline
from glm_lessons.browser.compare import comparable
from helpers import NOTEBOOKS, ROOT, lesson_paths, script_env

LESSONS = sorted(path.relative_to(NOTEBOOKS).as_posix()
                 for language in ("en", "zh") for path in lesson_paths(language))
ALLOWED_IMPORTS = {"concurrent", "glm_client", "json", "jwt", "openai", "os", "random", "re",
                   "requests", "sys", "threading", "time", "typing", "zai"}  # and their modules


def recipe_cell(relative):
    cells = nbformat.read(NOTEBOOKS / relative, as_version=4).cells
    code = [cell for cell in cells if cell.cell_type == "code"]
    tagged = [cell for cell in code if "recipe" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{relative}: {len(tagged)} cells tagged recipe, not 1"
    assert code.index(tagged[0]) == 1, f"{relative}: the recipe is not the code cell after setup"
    return tagged[0]


@pytest.fixture(scope="module")
def server():
    with glm_offline.start(pacing="instant") as running:  # what a stream prints, not when
        yield running


@pytest.mark.parametrize("relative", LESSONS)
def test_the_recipe_reads_only_the_two_variables_and_imports_what_a_script_has(relative):
    source = recipe_cell(relative).source
    assert 'os.environ["ZHIPUAI_API_KEY"]' in source, "the key comes from the environment"
    assert "ZHIPUAI_BASE_URL" in source, "the base URL comes from the environment"
    assert not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()), \
        "no notebook magic: the recipe is a file"
    imported = {word for line in source.splitlines()
                if line.startswith(("import ", "from "))
                for word in [line.split()[1].rstrip(",").split(".")[0]]}
    assert imported <= ALLOWED_IMPORTS, f"a recipe imports only {sorted(ALLOWED_IMPORTS)}"


@pytest.mark.parametrize("relative", LESSONS)
def test_the_recipe_runs_as_a_file_and_prints_what_the_lesson_shows(relative, server,
                                                                      tmp_path):
    cell = recipe_cell(relative)
    (tmp_path / "recipe.py").write_text(cell.source + "\n", encoding="utf-8")
    shutil.copy(ROOT / "glm_client.py", tmp_path / "glm_client.py")
    ran = subprocess.run([sys.executable, "recipe.py"], cwd=tmp_path,
                         env=script_env(server.api_key, server.base_url),
                         capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""
    printed = comparable([{"output_type": "stream", "name": "stdout", "text": ran.stdout}])
    stored = comparable(cell.outputs)
    assert printed == stored

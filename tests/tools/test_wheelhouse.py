"""The offline room kit (instructors/build_wheelhouse.py).

Building the kit needs the package index and takes minutes, and installing it takes about a
minute, so the suite checks what the script asks pip to do and what it writes; the install
itself is the pre-workshop check, run by hand (docs/instructor-guide.md):

    python instructors/build_wheelhouse.py --dest wheelhouse --this-platform-only
    python instructors/build_wheelhouse.py --check wheelhouse

With GLM_WHEELHOUSE=<a built kit>, test_the_kit_installs_with_no_index runs that check here.
"""

import importlib.metadata
from pathlib import Path

import pytest

import build_wheelhouse as kit

ROOT = Path(__file__).resolve().parents[2]


def test_requirement_lines_leave_out_comments_blanks_and_the_editable_install():
    text = "# a comment\nrequests>=2.31,<3\n\n  PyJWT>=2.10  # inline comment\n-e .\nruff\n"
    assert kit.requirement_lines(text) == ["requests>=2.31,<3", "PyJWT>=2.10", "ruff"]


def test_offline_requirements_pin_the_project_wheel_in_place_of_the_folder():
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    version = importlib.metadata.version("glm-http-lessons")  # as installed, not as parsed
    lines = [line for line in kit.offline_requirements(text, version).splitlines()
             if line and not line.startswith("#")]
    assert lines[-1] == f"glm-http-lessons=={version}"
    assert not any(line.startswith("-e") for line in lines)
    assert "requests>=2.31,<3" in lines and "jupyterlab>=4.2,<5" in lines
    assert kit.project_version() == version


@pytest.mark.parametrize("platform", kit.PLATFORMS, ids=lambda p: p.name)
def test_each_platform_is_downloaded_as_binary_wheels_for_its_own_tags(platform, tmp_path):
    command = kit.download_command(tmp_path, tmp_path / "r.txt", platform, "3.9")
    assert "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == "3.9"
    tags = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert tags == list(platform.tags) and tags


def test_the_platforms_cover_linux_macos_on_both_chips_and_windows():
    tags = {p.name: p.tags for p in kit.PLATFORMS}
    assert "manylinux2014_x86_64" in tags["linux-x86_64"]
    assert "macosx_11_0_arm64" in tags["macos-arm64"]
    assert "macosx_10_9_x86_64" in tags["macos-x86_64"]
    assert "macosx_10_9_universal2" in tags["macos-x86_64"]  # one wheel for both chips
    assert tags["windows-x64"] == ("win_amd64",)


def test_the_pythons_start_at_the_oldest_the_project_supports():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'requires-python = ">={kit.PYTHONS[0]}"' in pyproject
    assert set(kit.DEFAULT_PYTHONS) <= set(kit.PYTHONS)


def test_check_without_a_kit_says_so_in_one_line(tmp_path, capsys):
    assert kit.main(["--check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "build the kit first" in err


# Installing a whole kit with the index unreachable takes about a minute, too long for the
# suite: it is the pre-workshop check `python instructors/build_wheelhouse.py --check DIR`
# (docs/instructor-guide.md), whose refusal without a kit is tested above.

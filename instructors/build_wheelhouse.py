"""Build the offline room kit: a folder of wheels that installs the lessons with no network.

    python instructors/build_wheelhouse.py --dest wheelhouse          # every platform, every Python
    python instructors/build_wheelhouse.py --dest wheelhouse --this-platform-only
    python instructors/build_wheelhouse.py --check wheelhouse         # install it with no index

Run it where the package index is reachable, a few days before the workshop. It downloads,
with `pip download --only-binary=:all: --platform ... --python-version ...`, the wheels that
requirements.txt needs (its `-e .` line left out) for Linux (x86_64), macOS (Apple silicon
and Intel) and Windows (x64) and Pythons 3.11-3.14 (--python for others), builds its own
wheel, and writes DEST/requirements-offline.txt: requirements.txt with the project's wheel in
place of `-e .`. Attendees then install from the folder (a USB stick, a shared drive) with
the one command in docs/instructor-guide.md ("The offline room kit"); on macOS and Linux:

    python3 -m venv .venv && .venv/bin/pip install --no-index --find-links wheelhouse \\
        -r wheelhouse/requirements-offline.txt

`--check DEST` does that in a throwaway virtual environment with PIP_INDEX_URL pointing at an
unreachable address, then imports the lessons' modules: the pre-workshop proof that the kit
is complete for this machine.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
OFFLINE_REQUIREMENTS = "requirements-offline.txt"
PROJECT = "glm-http-lessons"
PYTHONS = ("3.11", "3.12", "3.13", "3.14")  # requires-python = ">=3.11"
# The default: matplotlib>=3.11 (requirements.txt) has no wheels for 3.9 and 3.10 (2026-12).
DEFAULT_PYTHONS = ("3.11", "3.12", "3.13", "3.14")
UNREACHABLE_INDEX = "http://127.0.0.1:9/simple"  # port 9 (discard): nothing answers there
CHECK_IMPORTS = "import glm_client, glm_offline, jupyterlab, nbformat, requests, jwt"


@dataclass(frozen=True)
class Platform:
    """One kind of attendee machine: a name and the wheel platform tags it can install."""

    name: str
    tags: tuple


def _mac_tags(arch, majors):
    tags = [f"macosx_{major}_0_{arch}" for major in majors]
    tags += [f"macosx_{major}_0_universal2" for major in majors]
    tags += [f"macosx_10_{minor}_{kind}" for minor in range(9, 17)
             for kind in (arch, "universal2") if arch == "x86_64" or kind == "universal2"]
    return tuple(tags)


PLATFORMS = (
    Platform("linux-x86_64", tuple(f"manylinux_2_{minor}_x86_64" for minor in (17, 28, 34))
             + ("manylinux2014_x86_64", "manylinux1_x86_64", "linux_x86_64")),
    Platform("macos-arm64", _mac_tags("arm64", range(11, 16))),
    Platform("macos-x86_64", _mac_tags("x86_64", range(11, 16))),
    Platform("windows-x64", ("win_amd64",)),
)


def requirement_lines(text):
    """The requirement lines of a requirements file, without comments, blanks and `-e .`
    (or `-e .[extra]`)."""
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if re.match(r"^(-e|--editable)\s+\.(\[[\w,-]+\])?$", line):
            continue
        lines.append(line)
    return lines


def project_version():
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text("utf-8"),
                      re.M)
    return match.group(1)


def offline_requirements(text, version):
    """requirements-offline.txt: the requirements, with the project's wheel pinned instead of
    the editable install from the repository folder."""
    return ("# Install with no network (see docs/instructor-guide.md, 'The offline room kit'):\n"
            "#   pip install --no-index --find-links wheelhouse -r "
            f"wheelhouse/{OFFLINE_REQUIREMENTS}\n"
            + "".join(line + "\n" for line in requirement_lines(text))
            + f"{PROJECT}=={version}\n")


def download_command(dest, requirements_file, platform, python):
    """The pip command that fetches the wheels of one platform and one Python."""
    command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest",
               str(dest), "--python-version", python, "--implementation", "cp",
               "--requirement", str(requirements_file), "--quiet"]
    for tag in platform.tags:
        command += ["--platform", tag]
    return command


def this_machine():
    """The Platform of the machine running this script, from pip's own view of it."""
    from pip._internal.utils.compatibility_tags import get_supported  # pip's, no extra install

    tags = tuple(dict.fromkeys(t.platform for t in get_supported() if t.platform != "any"))
    return Platform("this-machine", tags)


def build(dest, platforms, pythons, requirements=REQUIREMENTS):
    """Download every wheel and build the project's; return the list of failed combinations."""
    dest.mkdir(parents=True, exist_ok=True)
    text = requirements.read_text(encoding="utf-8")
    offline = dest / OFFLINE_REQUIREMENTS
    plain = dest / "requirements-download.txt"  # without the project, which is built below
    plain.write_text("".join(line + "\n" for line in requirement_lines(text)), encoding="utf-8")
    failed = []
    for platform in platforms:
        for python in pythons:
            print(f"{platform.name}, Python {python} ...", flush=True)
            done = subprocess.run(download_command(dest, plain, platform, python),
                                  capture_output=True, text=True)
            if done.returncode:
                reason = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
                print(f"  FAILED: {reason}", flush=True)
                failed.append(f"{platform.name} / Python {python}: {reason}")
    plain.unlink()
    print("the project's own wheel ...", flush=True)
    wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                            "--wheel-dir", str(dest), str(ROOT)], capture_output=True, text=True)
    if wheel.returncode:
        failed.append("the project's wheel: " + (wheel.stderr.strip().splitlines() or ["?"])[-1])
    offline.write_text(offline_requirements(text, project_version()), encoding="utf-8")
    return failed


def folder_size(folder):
    files = [p for p in folder.iterdir() if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def check(dest):
    """Install from the wheelhouse into a new venv with the index unreachable; 0 if it worked."""
    requirements = dest / OFFLINE_REQUIREMENTS
    if not requirements.is_file():
        print(f"error: {requirements} is missing: build the kit first with --dest {dest}",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="wheelhouse-check-") as folder:
        env_dir = Path(folder) / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        env = dict(os.environ, PIP_INDEX_URL=UNREACHABLE_INDEX, PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.pop("PIP_EXTRA_INDEX_URL", None)
        install = subprocess.run([str(python), "-m", "pip", "install", "--no-index",
                                  "--find-links", str(dest), "-r", str(requirements), "--quiet"],
                                 env=env, capture_output=True, text=True)
        if install.returncode:
            print("error: the kit does not install on this machine: "
                  + (install.stderr.strip().splitlines() or ["pip failed"])[-1], file=sys.stderr)
            return 1
        imports = subprocess.run([str(python), "-c", CHECK_IMPORTS], capture_output=True,
                                 text=True, cwd=folder)
        if imports.returncode:
            print("error: installed, but " + imports.stderr.strip().splitlines()[-1],
                  file=sys.stderr)
            return 1
    print(f"OK: {dest} installs with no index on this machine, and the lessons' modules import")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--dest", type=Path, help="the folder to fill with wheels")
    what.add_argument("--check", type=Path, metavar="DEST",
                      help="install DEST's kit in a throwaway venv with no index")
    parser.add_argument("--python", action="append", choices=PYTHONS,
                        help="a Python version (repeatable; default: "
                        f"{', '.join(DEFAULT_PYTHONS)})")
    parser.add_argument("--platform", action="append", choices=[p.name for p in PLATFORMS],
                        help="a platform (repeatable; default: all)")
    parser.add_argument("--this-platform-only", action="store_true",
                        help="only this machine's platform and Python (a quick kit to try)")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.check)
    if args.this_platform_only:
        platforms, pythons = [this_machine()], [f"{sys.version_info[0]}.{sys.version_info[1]}"]
    else:
        platforms = [p for p in PLATFORMS if not args.platform or p.name in args.platform]
        pythons = args.python or list(DEFAULT_PYTHONS)
    failed = build(args.dest, platforms, pythons)
    count, size = folder_size(args.dest)
    print(f"{args.dest}: {count} files, {size / 1e6:.0f} MB")
    if failed:
        print("Not available (attendees with these need another Python, or the network):")
        for line in failed:
            print(f"  {line}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

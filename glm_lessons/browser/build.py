"""Build the browser edition: a JupyterLite site with the Pyodide kernel, the lessons in both
languages, and every Python package the lessons import, served from the site's own folder.

Nothing is fetched when the site runs. At build time: Pyodide's core from its npm package
(`npm pack pyodide@<the version the kernel pins>`), pure-Python wheels from PyPI at the
versions Pyodide's lock names (its own builds are on a CDN the site must not use), and our
own packages as one wheel made here. The lock is rewritten to list only those local files,
with their sha256. Downloads are cached (CACHE), so a rebuild takes seconds.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from . import pictures, site

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("GLM_BROWSER_CACHE") or Path.home() / ".cache" / "glm-browser-edition")
# What the kernel loads at start (jupyterlite-pyodide-kernel's worker: piplite, ipykernel,
# comm, pyodide-kernel, jedi, ipython) and what the lessons import, by Pyodide lock name;
# their dependencies follow from the lock.
KERNEL_PACKAGES = ("micropip", "ipython", "jedi")
LESSON_PACKAGES = ("requests", "urllib3", "idna", "certifi", "charset-normalizer")
# Not in Pyodide's lock: from PyPI at these versions (PyJWT's HS256 needs only hmac).
EXTRA_WHEELS = {"pyjwt": ("PyJWT", "2.15.1", ["jwt"]), "comm": ("comm", "0.2.3", ["comm"])}
OUR_WHEEL = {"name": "glm-http-lessons", "version": "0.1.0",
             "imports": ["glm_offline", "glm_lessons", "glm_client"],
             "depends": ["requests", "pyjwt"]}
KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"


class BuildError(Exception):
    """A build step failed: one line saying which and why."""


def run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise BuildError(f"{' '.join(map(str, command[:4]))} failed: {' / '.join(tail)}")
    return done.stdout


def pyodide_version():
    from jupyterlite_pyodide_kernel.constants import PYODIDE_VERSION
    return PYODIDE_VERSION


def npm_package(name, version, cache):
    """The folder of an npm package (`npm pack`, unpacked), cached."""
    folder = cache / f"{name}-{version}" / "package"
    if (folder / "package.json").exists():
        return folder
    npm = cache / "npm"
    npm.mkdir(parents=True, exist_ok=True)
    tarball = npm / f"{name}-{version}.tgz"
    if not tarball.exists():
        if shutil.which("npm") is None:
            raise BuildError(f"npm is needed once to fetch {name} (apt-get install npm)")
        run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=npm)
    with tarfile.open(tarball) as archive:
        archive.extractall(folder.parent, filter="data")
    return folder


def pyodide_core(version, cache):
    """Pyodide's npm package: pyodide.mjs, the wasm, the stdlib and the lock."""
    return npm_package("pyodide", version, cache)


def normal(name):
    """PEP 503's normalised name: the lock's keys and its `depends` spell names both ways."""
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(lock, names):
    """The lock's packages `names` need, themselves included."""
    packages = {normal(key): value for key, value in lock["packages"].items()}
    seen, todo = set(), [normal(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in packages:
            raise BuildError(f"{name} is not in Pyodide's lock")
        seen.add(name)
        todo += [normal(d) for d in packages[name]["depends"]]
    return sorted(seen)


def pypi_wheel(project, version, cache):
    """A pure-Python wheel from PyPI (cached): pip download, any platform, Python 3 only."""
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    stem = project.lower().replace("-", "_")
    found = [p for p in wheels.glob("*.whl")
             if p.name.lower().startswith(f"{stem}-{version}-")]
    if found:
        return found[0]
    run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--platform", "any", "--python-version", "3.14", "--implementation", "py",
         "--abi", "none", "--dest", str(wheels), f"{project}=={version}"])
    found = [p for p in wheels.glob("*.whl")
             if p.name.lower().startswith(f"{stem}-{version}-")]
    if not found:
        raise BuildError(f"no pure-Python wheel of {project} {version} on PyPI")
    return found[0]


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def our_wheel(folder, picture_folder):
    """glm_offline, glm_lessons (its pictures drawn beforehand, no plotting at run time) and
    glm_client.py as one wheel, written directly (a wheel is a zip with three metadata files)."""
    name = f"glm_http_lessons-{OUR_WHEEL['version']}-py3-none-any.whl"
    path = folder / name
    files = [p for package in ("glm_offline", "glm_lessons") for p in (ROOT / package).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    entries = [(p.relative_to(ROOT).as_posix(), p.read_bytes()) for p in sorted(files)]
    entries.append(("glm_client.py", (ROOT / "glm_client.py").read_bytes()))
    entries += [(f"glm_lessons/pictures/{p.name}", p.read_bytes())
                for p in sorted(picture_folder.glob("*"))]
    info = f"glm_http_lessons-{OUR_WHEEL['version']}.dist-info"
    entries += [
        (f"{info}/METADATA", b"Metadata-Version: 2.1\nName: glm-http-lessons\nVersion: "
         + OUR_WHEEL["version"].encode() + b"\nRequires-Dist: requests\nRequires-Dist: PyJWT\n"),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: glm_lessons.browser\n"
         b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{info}/top_level.txt", b"glm_client\nglm_lessons\nglm_offline\n")]
    record = [f"{n},sha256={record_hash(d)},{len(d)}" for n, d in entries]
    record.append(f"{info}/RECORD,,")
    entries.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry_name, data in entries:
            info_entry = zipfile.ZipInfo(entry_name, date_time=(2026, 1, 1, 0, 0, 0))
            info_entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info_entry, data)
    return path


def record_hash(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def lock_entry(name, version, path, imports, depends):
    return {"name": name, "version": version, "file_name": path.name, "install_dir": "site",
            "sha256": sha256(path), "package_type": "package", "imports": imports,
            "depends": depends, "unvendored_tests": False}


def pyodide_folder(static, cache, picture_folder):
    """static/pyodide: the core, the wheels, and a lock that lists only them."""
    core = pyodide_core(pyodide_version(), cache)
    static.mkdir(parents=True)
    for file in ("pyodide.mjs", "pyodide.js", "pyodide.asm.mjs", "pyodide.asm.wasm",
                 "python_stdlib.zip", "package.json"):
        shutil.copy2(core / file, static / file)
    lock = json.loads((core / "pyodide-lock.json").read_text(encoding="utf-8"))
    by_name = {normal(key): value for key, value in lock["packages"].items()}
    packages = {}
    for name in closure(lock, KERNEL_PACKAGES + LESSON_PACKAGES):
        entry = by_name[name]
        if not entry["file_name"].endswith("-none-any.whl"):
            raise BuildError(f"{name} is a compiled package: the edition cannot ship it")
        wheel = pypi_wheel(entry["name"], entry["version"], cache)
        shutil.copy2(wheel, static / wheel.name)
        packages[name] = {**entry, "file_name": wheel.name, "sha256": sha256(wheel)}
    for name, (project, version, imports) in EXTRA_WHEELS.items():
        wheel = pypi_wheel(project, version, cache)
        shutil.copy2(wheel, static / wheel.name)
        packages[name] = lock_entry(name, version, wheel, imports, [])
    ours = our_wheel(static, picture_folder)
    packages[OUR_WHEEL["name"]] = lock_entry(OUR_WHEEL["name"], OUR_WHEEL["version"], ours,
                                             OUR_WHEEL["imports"], OUR_WHEEL["depends"])
    lock["packages"] = dict(sorted(packages.items()))
    (static / "pyodide-lock.json").write_text(json.dumps(lock, indent=1), encoding="utf-8")
    return next(static.glob("comm-*.whl"))  # piplite's index lists it too


def contents(folder):
    """The files a learner sees: the lessons, the capstone's programs, an index."""
    import nbformat

    for path in site.edition_lessons(ROOT / "notebooks"):
        target = folder / "notebooks" / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        notebook = nbformat.read(path, as_version=4)
        changed = False
        for cell in notebook.cells:  # a link to lesson 09 says it needs the desktop setup
            if cell.cell_type == "markdown":
                source = site.without_desktop_only_links(cell.source, path.parent.name)
                changed, cell.source = changed or source != cell.source, source
        if changed:
            nbformat.write(notebook, target)
        else:
            shutil.copy2(path, target)
        for svg in path.parent.glob(path.stem + "-*.svg"):  # the lesson's diagrams
            shutil.copy2(svg, target.parent / svg.name)
    shutil.copytree(ROOT / "capstone", folder / "capstone",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "README.md").write_text(site.index_markdown(ROOT / "notebooks"), encoding="utf-8")


def lite_config():
    return {"jupyter-lite-schema-version": 0, "jupyter-config-data": {
        "appName": "GLM over HTTP (browser edition)",
        "exposeAppInBrowser": True,  # the checks drive the app through window.jupyterapp
        "disabledExtensions": [],
        "litePluginSettings": {KERNEL_PLUGIN: {
            "pyodideUrl": "./static/pyodide/pyodide.mjs",
            "disablePyPIFallback": True,
            "loadPyodideOptions": {"lockFileURL": "./static/pyodide/pyodide-lock.json"}}},
        "defaultKernelName": "python"}}


def build(dest, cache=CACHE, log=print):
    """Build the edition into `dest` (replaced). Returns the site's size in bytes."""
    dest, cache = Path(dest).resolve(), Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="glm-browser-") as work:
        source = Path(work)
        log("pictures: drawing the lessons' pictures under CPython (cached)")
        picture_folder = pictures.draw_all(ROOT, cache / "pictures")
        log(f"pyodide {pyodide_version()}: core, wheels and lock")
        comm = pyodide_folder(source / "static" / "pyodide", cache, picture_folder)
        contents(source / "files")
        first = site.first_notebook(source / "files")
        (source / "jupyter-lite.json").write_text(json.dumps(lite_config(), indent=1),
                                                  encoding="utf-8")
        (source / ".jupyterlite.doit.db").unlink(missing_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        log("jupyter lite build")
        run([sys.executable, "-m", "jupyter", "lite", "build", "--lite-dir", str(source),
             "--output-dir", str(dest), "--contents", str(source / "files"),
             "--apps", "lab", "--no-sourcemaps", "--no-unused-shared-packages",
             "--piplite-wheels", str(comm)], cwd=source)
        (dest / "index.html").write_text(site.index_html(ROOT / "notebooks", first),
                                         encoding="utf-8")
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    log(f"built {dest} ({size / 2**20:.1f} MB)")
    return size

"""python -m glm_lessons.browser build --dest DIR: build the browser edition into DIR."""

import argparse
import sys
from pathlib import Path

from .build import CACHE, BuildError, build


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m glm_lessons.browser",
        description="The browser edition: the lessons in JupyterLite, offline, in one folder.")
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser(
        "build", help="build the edition into a folder (replaced if it exists)")
    build_command.add_argument("--dest", required=True, type=Path, help="the folder to build")
    build_command.add_argument("--cache", type=Path, default=CACHE,
                               help=f"where downloads are kept between builds ({CACHE})")
    args = parser.parse_args(argv)
    try:
        build(args.dest, args.cache)
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"serve it: python -m http.server --directory {args.dest} 8000, "
          "then open http://127.0.0.1:8000/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

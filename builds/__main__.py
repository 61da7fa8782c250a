"""python -m builds BOX [--salt VERSION] [--defect NAME] [--list-defects] [--keep-box]"""

from __future__ import annotations

import argparse
import sys

from harness import progress, session
from harness.errors import HarnessError

from . import defects
from .locks import DEFAULT_SALT


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m builds", description="Build BOX's Salt packages into dist/."
    )
    ap.add_argument("box", nargs="?", metavar="BOX")
    ap.add_argument(
        "--salt",
        default=DEFAULT_SALT,
        metavar="VERSION",
        help=f"Salt version (default {DEFAULT_SALT})",
    )
    ap.add_argument(
        "--defect", metavar="NAME", help="build a deliberately broken variant (see --list-defects)"
    )
    ap.add_argument("--list-defects", action="store_true", help="list the defect variants and exit")
    ap.add_argument("--keep-box", action="store_true", help="leave the build box up afterwards")
    args = ap.parse_args(argv)
    if args.list_defects:
        print(defects.listing())
        return 0
    if not args.box:
        ap.error("BOX is required (see harness boxes)")
    from .build import build_packages

    progress.enable()
    session.terminate_as_interrupt()
    try:
        out = build_packages(args.box, args.salt, args.defect, keep_box=args.keep_box)
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the build box was removed", file=sys.stderr)
        return 130
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Parser and entry point: ``main(argv) -> int``.

Exit status: 0 success, 1 a known error (one line on stderr), 2 a usage error,
130 interrupted. ``--debug`` (or ``SKDIGITS_DEBUG=1``) shows the traceback.
Heavy imports happen inside the command that needs them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .._errors import SkdigitsError
from .._version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skdigits",
        description="Train, evaluate and deploy a handwritten-digit (MNIST) classifier.",
    )
    parser.add_argument("--version", action="version", version=f"skdigits {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        default=os.environ.get("SKDIGITS_DEBUG", "") not in ("", "0"),
        help="show full tracebacks for errors (also: SKDIGITS_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from . import evaluate, export, info, predict, report, search, serve, train

    for command in (train, search, export, predict, evaluate, info, serve, report):
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("skdigits: interrupted", file=sys.stderr)
        return 130
    except SkdigitsError as err:
        if args.debug:
            raise
        print(f"skdigits: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

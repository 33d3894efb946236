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

from .._core.errors import SkdigitsError, on_command_line
from .._version import __version__

_EXAMPLES = [
    "skdigits train -o model.skdigits && skdigits export model.skdigits",
    "skdigits predict model.onnx seven.png digits.npy",
    "skdigits predict --help     # each command's options and examples",
]


def build_parser() -> argparse.ArgumentParser:
    from ._common import HelpFormatter, add_command

    parser = argparse.ArgumentParser(
        prog="skdigits",
        description="Train, evaluate and deploy a handwritten-digit (MNIST) classifier.",
        epilog="examples:\n" + "".join(f"  {line}\n" for line in _EXAMPLES),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"skdigits {__version__}")
    debug = os.environ.get("SKDIGITS_DEBUG", "") not in ("", "0")
    parser.add_argument(
        "--debug",
        action="store_true",
        default=debug,
        help="show full tracebacks for errors (also: SKDIGITS_DEBUG=1; may follow the command)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from . import evaluate, export, info, predict, read, report, search, serve, train

    for command in (train, search, export, predict, read, evaluate, info, serve, report):
        add_command(sub, command.COMMAND, command.run)
    for command_parser in sub.choices.values():
        # Accepted after the command too; SUPPRESS keeps the top-level value if absent.
        command_parser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's exit
        return status
    except KeyboardInterrupt:
        print("skdigits: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _broken_pipe()
    except SkdigitsError as err:  # MissingDependencyError included: it is one
        if args.debug:
            raise
        print(f"skdigits: error: {on_command_line(err)}", file=sys.stderr)
        return 1
    except ImportError as err:  # an optional module imported without require()
        from .._core.deps import as_missing_dependency

        missing = as_missing_dependency(err, feature=f"`skdigits {args.command}`")
        if missing is None or args.debug:
            raise
        print(f"skdigits: error: {missing}", file=sys.stderr)
        return 1


def _broken_pipe() -> int:
    """The reader of stdout went away (``| head``): stop quietly, as Unix tools do.

    Python would report the broken pipe again when it flushes stdout at exit, so
    stdout is pointed at /dev/null first. The status is 128 + SIGPIPE, what a shell
    reports for a tool killed by the signal.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass
    return 128 + 13


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

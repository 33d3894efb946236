"""Helpers shared by the commands: one vocabulary of options, validators, output checks.

Each command module declares a :class:`Command` (its help, description, examples,
MODEL argument and option adders) beside its ``run``; :func:`add_command` builds
every subparser from them the same way: help text wrapped to the terminal, an
epilog of examples. :func:`add_common_options` gives ``-o/--output``, ``--force``,
``--json`` and ``-q/--quiet`` the same spelling and meaning everywhere, and
``type=`` validators such as :func:`positive_int` make a malformed option a usage
error (exit 2) from argparse itself.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from .._core.errors import SkdigitsError
from .._core.values import quoted


class HelpFormatter(argparse.HelpFormatter):
    """Wraps the description; keeps the epilog's lines (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "examples:\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
        return "\n\n".join(
            textwrap.fill(p, width, initial_indent=indent, subsequent_indent=indent)
            for p in paragraphs
        )


#: Adds some of a command's options to its parser, in ``--help`` order.
OptionAdder = Callable[[Any], None]


@dataclass(frozen=True)
class Command:
    """One subcommand, declared: what ``--help`` says and which options it takes.

    Parameters
    ----------
    name : str
        The subcommand, as typed after ``skdigits``.
    help : str
        Its line in ``skdigits --help``.
    description : str
        Its ``--help`` text; whitespace is rewrapped to the terminal.
    examples : tuple of str
        Command lines shown under ``examples:``, as written.
    model : str or None, default=None
        The help of a first argument MODEL (a model file); None: no such argument.
    options : tuple of callables, default=()
        Each adds some options to the parser, in order (the order of ``--help``).
    notes : str, default=""
        Text shown as written before the examples.
    """

    name: str
    help: str
    description: str
    examples: tuple[str, ...]
    model: str | None = None
    options: tuple[OptionAdder, ...] = ()
    notes: str = ""

    @property
    def epilog(self) -> str:
        """The notes, if any, then ``examples:`` and one indented line per example."""
        lines = "".join(f"  {line}\n" for line in self.examples)
        return (f"{self.notes}\n" if self.notes else "") + "examples:\n" + lines


def add_command(sub: Any, command: Command, run: Callable[[argparse.Namespace], int]) -> Any:
    """Add ``command``'s parser to the subparsers ``sub``; parsing it selects ``run``."""
    parser = sub.add_parser(
        command.name,
        help=command.help,
        description=command.description,
        epilog=command.epilog,
        formatter_class=HelpFormatter,
    )
    if command.model is not None:
        parser.add_argument("model", type=Path, metavar="MODEL", help=command.model)
    for add_options in command.options:
        add_options(parser)
    parser.set_defaults(run=run)
    return parser


def common_options(**texts: Any) -> OptionAdder:
    """:func:`add_common_options` with these texts, as an entry of ``Command.options``."""
    return partial(add_common_options, **texts)


def option_group(
    title: str, add_options: OptionAdder, description: str | None = None
) -> OptionAdder:
    """An entry of ``Command.options``: ``add_options`` fills a ``--help`` section of its own."""

    def add_group(parser: argparse.ArgumentParser) -> None:
        add_options(parser.add_argument_group(title, description))

    return add_group


def add_common_options(
    parser: argparse.ArgumentParser | Any,
    *,
    output: str | None = None,
    output_default: Path | None = None,
    output_metavar: str = "PATH",
    force: str | None = None,
    json: str | None = None,
    quiet: bool = False,
) -> None:
    """The options several commands share, spelt and explained the same way.

    Each is added only when its help text (or flag) is given; ``output`` is the
    help of ``-o/--output`` (the default, if any, is appended).
    """
    if output is not None:
        text = output if output_default is None else f"{output} (default: %(default)s)"
        parser.add_argument(
            "-o",
            "--output",
            type=Path,
            default=output_default,
            metavar=output_metavar,
            help=text,
        )
    if force is not None:
        parser.add_argument("--force", action="store_true", help=force)
    if json is not None:
        parser.add_argument("--json", action="store_true", help=json)
    if quiet:
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def positive_int(text: str) -> int:
    """argparse ``type=``: a whole number of at least 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse ``type=``: a whole number of at least 0."""
    return _int_at_least(text, 0)


def port_number(text: str) -> int:
    """argparse ``type=``: a TCP port, 0-65535 (0: any free port)."""
    value = _int_at_least(text, 0)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, got {value}")
    return value


def _int_at_least(text: str, lowest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {quoted(text, 20)}"
        ) from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"must be at least {lowest}, got {value}")
    return value


def fraction(text: str) -> float:
    """argparse ``type=``: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {quoted(text, 20)}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {value:g}")
    return value


def unit_interval(text: str) -> float:
    """argparse ``type=``: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {quoted(text, 20)}") from None
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value:g}")
    return value


def printable(text: object) -> str:
    """``text`` with control characters escaped as Python writes them (``\\x1b``, ``\\n``).

    For what a terminal shows: a file name or a model's metadata may hold escape
    sequences that would clear the screen or forge lines. JSON and CSV output is
    quoted by its writer and keeps the text as it is.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def note(message: str) -> None:
    """A one-line note for the user on stderr (stdout stays the command's result)."""
    print(f"skdigits: {message}", file=sys.stderr, flush=True)


def quiet_tensorflow() -> None:
    """Silence TensorFlow's and Keras' log noise for a command-line user."""
    from ..nn._tf import import_keras

    import_keras(feature="this command")
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    for module in ("tensorflow", "keras", "scikeras", "tf2onnx", "absl"):
        warnings.filterwarnings("ignore", module=module)
        logging.getLogger(module).setLevel(logging.ERROR)


def add_pickle_option(parser: argparse.ArgumentParser) -> None:
    """``--allow-pickle``, for the commands that open any model file."""
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help=(
            "also load a pickle/joblib MODEL (loading a pickle runs code: use only files "
            "you trust; .onnx and .skdigits files never run code)"
        ),
    )


def open_model(
    path: Path, *, allow_pickle: bool, hint: str = "pass an .onnx or .skdigits model file"
) -> Any:
    """:func:`skdigits.models.load_predictor`, with TensorFlow's log noise silenced if it loads.

    ``hint`` is what the error says when MODEL is an input file (an image, an
    array): the command's usage, with the model first.
    """
    from ..models import check_not_input_file, load_predictor, model_kind

    check_not_input_file(path, hint=hint)
    kind = model_kind(path)
    if kind == "skdigits" or (kind == "pickle" and allow_pickle):
        quiet_tensorflow()
    return load_predictor(path, allow_pickle=allow_pickle, allow_hint="--allow-pickle")


def check_not_overwriting(source: Path, outputs: list[Path], *, what: str) -> None:
    """Refuse an output that is the input ``source`` itself, even with --force.

    Compared by identity, so a symlink or a hard link to the input counts: replacing
    it would lose the only copy of a trained model.
    """
    for output in outputs:
        try:
            same = os.path.samefile(output, source)
        except OSError:  # either does not exist (yet): not the same file
            continue
        if same:
            raise SkdigitsError(
                f"output {output} is the input {what} {source}; writing it would destroy "
                f"the {what}, also with --force: choose another output (-o)"
            )


def check_output_path(path: Path, *, force: bool) -> None:
    """Refuse to overwrite an existing file without ``--force``, before any work is done."""
    from .._core.atomic import refuse_existing

    refuse_existing(path, force=force, fix="pass --force to overwrite it", label="output ")
    parent = path.parent
    if not parent.exists():
        # A typo in a folder name must not silently create a tree of folders.
        nearest = parent
        while not nearest.exists() and nearest != nearest.parent:
            nearest = nearest.parent
        if nearest.is_dir():
            raise SkdigitsError(
                f"cannot write {path}: directory {parent} does not exist; create it first "
                f"(mkdir -p {parent}) or choose another output"
            )
        raise SkdigitsError(f"cannot write {path}: {nearest} is not a directory")
    if not parent.is_dir():
        raise SkdigitsError(f"cannot write {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SkdigitsError(
            f"cannot write {path}: directory {parent} is not writable; choose another output"
        )


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """Where MNIST comes from, for the commands that read it."""
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data-home",
        type=Path,
        help="where MNIST is cached (default: $SKDIGITS_DATA or ~/.cache/skdigits)",
    )
    group.add_argument(
        "--mnist-dir",
        type=Path,
        help="a directory that already holds the four MNIST IDX files (raw or .gz); "
        "nothing is downloaded when they are there",
    )
    group.add_argument(
        "--offline",
        action="store_true",
        help="never download; use only the cache and --mnist-dir",
    )


def load_mnist(args: argparse.Namespace, subset: str):
    """MNIST for a command: downloads said on stderr, errors in the command line's words."""
    from .._core.errors import FetchError
    from ..datasets import _mnist, fetch_mnist

    log = logging.getLogger("skdigits.datasets")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("skdigits: %(message)s"))
    quiet = getattr(args, "quiet", False)
    if not quiet:
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        return fetch_mnist(
            data_home=args.data_home,
            local_dir=args.mnist_dir,
            subset=subset,
            download_if_missing=not args.offline,
            return_X_y=True,
        )
    except FetchError as err:
        message = (
            str(err)
            .replace(_mnist.OFFLINE_REASON, "--offline, so nothing was downloaded")
            .replace(
                _mnist.LOCAL_DIR_HINT, "pass --mnist-dir DIR (a folder holding them, raw or .gz)"
            )
        )
        raise FetchError(message) from err
    finally:
        log.removeHandler(handler)

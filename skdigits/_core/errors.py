"""The exceptions skdigits raises.

Every error the package raises on purpose derives from :class:`SkdigitsError`, so a
caller (and the command line) can tell a known failure from a bug.

A message speaks Python (``pass force=True``); where its fix names a parameter the
command line spells otherwise, the error carries the command line's words
(``cli_words={"force=True": "--force"}``) and :func:`on_command_line` renders them,
so neither audience reads the other's spelling.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType


class SkdigitsError(Exception):
    """Base class of every error skdigits raises on purpose.

    Parameters
    ----------
    *args
        The message, as for any exception.
    cli_words : mapping of str to str, default=None
        Phrases of the message to replace when it is shown on the command line,
        e.g. ``{"force=True": "--force"}``; see :func:`on_command_line`.
    """

    #: Python's wording in the message → the command line's (none by default).
    cli_words: Mapping[str, str] = MappingProxyType({})

    def __init__(self, *args: object, cli_words: Mapping[str, str] | None = None) -> None:
        super().__init__(*args)
        if cli_words:
            self.cli_words = dict(cli_words)


class DataError(SkdigitsError, ValueError):
    """A data file or array is malformed: wrong format, shape, dtype or values."""


class FetchError(SkdigitsError, OSError):
    """A data set could not be obtained from any source."""


class MissingDependencyError(SkdigitsError, ImportError):
    """An optional dependency needed for this feature is not installed."""


class ModelFileError(SkdigitsError, ValueError):
    """A saved model or ONNX file is missing, malformed or not one of ours."""


class ParameterError(SkdigitsError, ValueError):
    """A DigitClassifier parameter is outside what skdigits trains, saves and loads.

    The bounds are one table (:data:`skdigits.model_io.PARAMETER_BOUNDS`) that
    ``fit``, ``skdigits train`` and loading a saved model all apply.
    """


class WriteError(SkdigitsError, OSError):
    """A file or folder could not be written (disk full, read-only, not allowed).

    The destination keeps what it held before: every write goes through a
    temporary beside it (:mod:`skdigits._core.atomic`). ``path`` is the destination.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = path


def one_line(err: object) -> str:
    """An exception's message on one line (its type's name if it has none), for our messages."""
    return " ".join(str(err).split()) or type(err).__name__


def on_command_line(err: BaseException) -> str:
    """``err``'s message on one line, in the command line's words (its ``cli_words``).

    Examples
    --------
    >>> err = SkdigitsError("out/ exists; pass force=True", cli_words={"force=True": "--force"})
    >>> on_command_line(err)
    'out/ exists; pass --force'
    """
    text = one_line(err)
    for python, command_line in getattr(err, "cli_words", {}).items():
        text = text.replace(python, command_line)
    return text

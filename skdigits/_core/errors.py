"""The exceptions skdigits raises.

Every error the package raises on purpose derives from :class:`SkdigitsError`, so a
caller (and the command line) can tell a known failure from a bug.
"""

from __future__ import annotations


class SkdigitsError(Exception):
    """Base class of every error skdigits raises on purpose."""


class DataError(SkdigitsError, ValueError):
    """A data file or array is malformed: wrong format, shape, dtype or values."""


class FetchError(SkdigitsError, OSError):
    """A data set could not be obtained from any source."""


class MissingDependencyError(SkdigitsError, ImportError):
    """An optional dependency needed for this feature is not installed."""


class ModelFileError(SkdigitsError, ValueError):
    """A saved model or ONNX file is missing, malformed or not one of ours."""


def one_line(err: object) -> str:
    """An exception's message on one line (its type's name if it has none), for our messages."""
    return " ".join(str(err).split()) or type(err).__name__

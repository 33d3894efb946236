"""What kind of value this is: the number checks the parameter rules and the file
readers share, and NumPy scalars turned into Python ones for JSON and CSV.

A bool is never a number here, though Python counts it as an ``int``: ``True``
hidden units or a ``false`` in a manifest is a mistake to report, not a 1 or a 0.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def is_integer(value: Any) -> bool:
    """Whether ``value`` is a Python or NumPy integer (not a bool)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a Python or NumPy integer or float (not a bool); NaN and inf count."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a number (as :func:`is_number`) that is neither NaN nor infinite."""
    return is_number(value) and math.isfinite(value)


def python_scalar(value: Any) -> Any:
    """A NumPy scalar as the Python one (``np.int64(3)`` → ``3``); anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def strict_json(value: Any) -> Any:
    """``value`` made fit for strict JSON: NaN and ±inf become ``None`` (``null``).

    Python's :func:`json.dumps` writes ``NaN`` and ``Infinity`` by default, which no
    JSON parser (a browser's ``JSON.parse``, ``jq``) accepts. Dicts, lists, tuples
    and NumPy arrays and scalars are converted throughout; other values are
    returned as they are.
    """
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(item) for item in value]
    if isinstance(value, np.ndarray):
        return strict_json(value.tolist())
    value = python_scalar(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_json(value: Any, **kwargs: Any) -> str:
    """:func:`json.dumps` of :func:`strict_json` ``(value)``: never ``NaN`` in the text."""
    return json.dumps(strict_json(value), allow_nan=False, **kwargs)


def quoted(text: str, limit: int = 40) -> str:
    """User input as a message may show it: quoted, escaped, at most ``limit`` characters.

    Examples
    --------
    >>> quoted("x" * 100, 5)
    "'xxxxx...' (100 characters)"
    >>> print(quoted("\x1b[31m"))
    '\\x1b[31m'
    """
    escaped = text[:limit].encode("unicode_escape").decode("ascii").replace("'", "\\'")
    if len(text) <= limit:
        return f"'{escaped}'"
    return f"'{escaped}...' ({len(text)} characters)"

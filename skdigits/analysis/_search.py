"""Model selection: the default grid, typed grids from text, progress, and the Dask backend.

The pipeline is an ordinary scikit-learn estimator, so ``GridSearchCV``,
``RandomizedSearchCV`` and ``cross_validate`` work on it as they are, with its
parameters routed as ``clf__<name>`` (``clf__hidden_units``,
``clf__optimizer__learning_rate`` ...). This module adds what a search needs
around them:

- :func:`default_param_grid`, a sensible first grid;
- :func:`parse_value`, :func:`parse_param` and :func:`load_grid_toml`, which turn
  ``name=v1,v2`` strings and TOML files into typed grids, and
  :func:`build_param_grid` and :func:`check_param_grid`, which combine and check them;
- :func:`count_candidates` and :func:`check_search_size`, which bound a search
  (:data:`MAX_CANDIDATES`, :data:`MAX_FITS`) before any candidate is built;
- :class:`SearchProgress`, a scikit-learn fit callback (``search.set_callbacks``)
  that prints a line for every finished fit;
- :func:`dask_backend`, which runs any joblib-parallel search on a Dask cluster;
- :func:`format_results` and :func:`write_results_csv` for ``cv_results_``.

Parallel fits and threads: joblib's process workers set ``OMP_NUM_THREADS`` to
``cpu_count // n_jobs``; skdigits applies that limit to TensorFlow's own thread
pools (see :func:`skdigits.nn._tf.size_thread_pools_from_env`), so ``n_jobs=-1``
does not oversubscribe the cores. :func:`dask_backend` sets the same limit in the
workers of the local cluster it starts.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import logging
import math
import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from .._core.atomic import write_bytes_atomic
from .._core.errors import DataError, MissingDependencyError, SkdigitsError, one_line
from .._core.files import read_regular
from .._core.values import python_scalar

#: The step names of :func:`skdigits.make_pipeline`; a bare parameter name means ``clf__``.
STEP_PREFIXES = ("clf__", "scale__")


class ParamGridError(DataError):
    """A parameter grid (``--param`` value, TOML file or dict) is malformed or invalid."""


def default_param_grid() -> dict[str, list[Any]]:
    """A first grid over the reference net: width, learning rate and batch size.

    Twelve candidates around the reference recipe (``hidden_units=100``, Adam at
    ``1e-3``, batches of 32): half and double the width, a three times larger
    learning rate, and batches of 128, which fit faster and often generalise as
    well. Epochs are not searched: set them on the pipeline (more is better up to
    about 10 on MNIST), or add ``"clf__epochs"`` to the grid.

    Returns
    -------
    dict of str to list
        A new dict each call, for :class:`~sklearn.model_selection.GridSearchCV`
        over :func:`skdigits.make_pipeline`.

    Examples
    --------
    >>> from skdigits import default_param_grid
    >>> grid = default_param_grid()
    >>> sorted(grid)
    ['clf__batch_size', 'clf__hidden_units', 'clf__optimizer__learning_rate']
    >>> from sklearn.model_selection import ParameterGrid
    >>> len(ParameterGrid(grid))
    12
    """
    return {
        "clf__hidden_units": [50, 100, 200],
        "clf__optimizer__learning_rate": [1e-3, 3e-3],
        "clf__batch_size": [32, 128],
    }


# --- typed values from text -------------------------------------------------------------

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_WORDS: dict[str, Any] = {"none": None, "null": None, "true": True, "false": False}


def parse_value(text: str) -> Any:
    """Turn one value written on the command line into an int, float, bool, None or str.

    ``"100"`` → 100, ``"1e-3"`` and ``"0.001"`` → 0.001, ``"none"``/``"null"``
    → None, ``"true"``/``"false"`` → True/False (any case); anything else stays a
    string. Quotes force a string: ``'"100"'`` → ``"100"``. ``nan`` and ``inf``
    are strings, not floats.

    Examples
    --------
    >>> [parse_value(v) for v in ["64", "3e-3", "None", "TRUE", "sigmoid", "'7'"]]
    [64, 0.003, None, True, 'sigmoid', '7']
    """
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if _INT.fullmatch(value):
        digits = len(value.lstrip("+-"))
        if digits > 19:  # past 64 bits; past 4,300 digits int() itself refuses
            raise ParamGridError(
                f"value {_shorten(value, 24)!r} is an integer of {digits:,} digits; "
                "parameters take integers of at most 19 digits (64 bits)"
            )
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    return _WORDS.get(value.lower(), value)


def normalize_param_name(name: str) -> str:
    """``hidden-units`` → ``clf__hidden_units``: dashes become underscores, bare names mean
    the classifier step."""
    key = name.strip().replace("-", "_")
    if not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise ParamGridError(
            f"parameter name {name!r} is not valid; use a name such as hidden_units or "
            "clf__optimizer__learning_rate"
        )
    return key if key.startswith(STEP_PREFIXES) else f"clf__{key}"


def parse_param(spec: str) -> tuple[str, list[Any]]:
    """Parse ``"name=v1,v2,..."`` into ``("clf__name", [v1, v2, ...])`` with typed values.

    Parameters
    ----------
    spec : str
        A parameter name (``clf__`` may be left out) and its comma-separated values.

    Returns
    -------
    name : str
        The routed name, e.g. ``"clf__optimizer__learning_rate"``.
    values : list
        The values, typed by :func:`parse_value`.

    Examples
    --------
    >>> parse_param("optimizer__learning_rate=1e-3,3e-3")
    ('clf__optimizer__learning_rate', [0.001, 0.003])
    """
    name, sep, values = spec.partition("=")
    if not sep:
        raise ParamGridError(
            f"--param {spec!r} has no '='; write it as name=value1,value2 "
            "(e.g. hidden_units=50,100)"
        )
    items = values.split(",")
    if any(not item.strip() for item in items):
        raise ParamGridError(
            f"--param {spec!r} has an empty value; separate values with single commas"
        )
    return normalize_param_name(name), [parse_value(item) for item in items]


# --- bounds -----------------------------------------------------------------------------------

#: The most candidates a grid may hold. One fit of the reference net (10 epochs on
#: the 40,000 images of a 3-fold split) takes about 25 s on two cores, so 10,000
#: candidates of 3 folds are about nine days of fitting.
MAX_CANDIDATES = 10_000
#: The most folds of a cross-validation: each fold is one more fit of every candidate.
MAX_FOLDS = 100
#: The most fits one search may make: candidates times folds.
MAX_FITS = 100_000
#: The most parameters a grid may name (DigitClassifier has about forty).
MAX_GRID_PARAMS = 100
#: The largest grid file read: a grid is a few lines, and 1 MiB holds thousands.
MAX_GRID_FILE_BYTES = 1 << 20
#: The deepest nesting in a grid file: of tables, of arrays within a value, and of
#: parts of a dotted key (which Python's TOML reader handles in quadratic time).
MAX_GRID_DEPTH = 16
#: The longest string in a grid file (a path, the longest value a parameter takes).
MAX_GRID_STRING = 4096

_BOUNDS_FIX = "search fewer values per parameter, or a few parameters at a time"


def _shorten(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters, so that no message echoes a huge value."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _format_count(n: int) -> str:
    # Past 10^15 the order of magnitude says enough (and str() of a huge int is slow).
    return f"{n:,}" if n < 10**15 else f"about 10^{int(n.bit_length() * math.log10(2))}"


def _n_values(name: Any, values: Any) -> int:
    """How many values ``name`` searches; refused unless they are a non-empty list."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.size:
        return int(values.size)
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        empty = "an empty " if isinstance(values, Sequence) and not values else ""
        raise ParamGridError(
            f"`{_shorten(str(name))}` must map to a non-empty list of values, got "
            f"{empty}{type(values).__name__}; write it as [value] or [value1, value2]"
        )
    return len(values)


def count_candidates(param_grid: Any) -> int:
    """How many candidates ``param_grid`` holds, counted without building any.

    The product of the list lengths of a dict, summed over a list of dicts (the
    two forms :class:`~sklearn.model_selection.GridSearchCV` takes). Counting stops
    as soon as the total passes :data:`MAX_CANDIDATES`.

    Raises
    ------
    ParamGridError
        When the grid is no dict of non-empty lists (or list of such dicts), names
        more than :data:`MAX_GRID_PARAMS` parameters, or holds more than
        :data:`MAX_CANDIDATES` candidates; the message gives the count and the fix.

    Examples
    --------
    >>> count_candidates({"clf__hidden_units": [50, 100], "clf__epochs": [1, 2, 3]})
    6
    """
    grids = [param_grid] if isinstance(param_grid, Mapping) else param_grid
    if isinstance(grids, str | bytes) or not isinstance(grids, Sequence | np.ndarray):
        raise ParamGridError(
            f"a parameter grid is a dict of lists or a list of such dicts, got "
            f"{type(param_grid).__name__}"
        )
    names: set[str] = set()
    total = 0
    for grid in grids:
        if not isinstance(grid, Mapping):
            raise ParamGridError(
                f"a parameter grid is a dict of lists or a list of such dicts, got a list "
                f"holding {type(grid).__name__}"
            )
        names.update(map(str, grid))
        if len(names) > MAX_GRID_PARAMS:
            raise ParamGridError(
                f"the grid names more than the {MAX_GRID_PARAMS} parameters a grid may "
                "name; DigitClassifier has about forty (see get_params())"
            )
        total += math.prod(_n_values(name, values) for name, values in grid.items())
        if total > MAX_CANDIDATES:
            break
    check_search_size(total)
    return total


def check_search_size(n_candidates: int, n_splits: int | None = None) -> None:
    """Refuse a search of more than :data:`MAX_CANDIDATES` candidates or :data:`MAX_FITS` fits.

    Parameters
    ----------
    n_candidates : int
        From :func:`count_candidates`.
    n_splits : int, optional
        The folds of the cross-validation: at most :data:`MAX_FOLDS`, and each a fit
        of every candidate.
    """
    if n_candidates > MAX_CANDIDATES:
        raise ParamGridError(
            f"the grid holds {_format_count(n_candidates)} candidates, more than the "
            f"{MAX_CANDIDATES:,} a search may try (one fit per fold each, about 25 s apiece "
            f"for the reference net on two cores); {_BOUNDS_FIX}"
        )
    if n_splits is None:
        return
    if n_splits > MAX_FOLDS:
        raise ParamGridError(
            f"cv={_format_count(n_splits)} folds is more than the {MAX_FOLDS} a search may "
            "use (each fold is one more fit of every candidate); use 3 to 10 folds"
        )
    n_fits = n_candidates * n_splits
    if n_fits > MAX_FITS:
        raise ParamGridError(
            f"{_format_count(n_candidates)} candidates x {n_splits} folds = "
            f"{_format_count(n_fits)} fits, more than the {MAX_FITS:,} a search may make "
            f"(about 25 s a fit of the reference net on two cores); use fewer folds, or "
            f"{_BOUNDS_FIX}"
        )


# --- grids from TOML --------------------------------------------------------------------------

# A dotted key is a run of bare or quoted parts joined by dots, outside strings and
# comments. Strings (to their end, or to the end of the line when unterminated, so
# no text is scanned twice) become one bare character, so "a"."b" counts too; the
# run pattern starts only where a bare part starts and never backtracks into one,
# so both passes take linear time on any text.
_TOML_STRING_OR_COMMENT = re.compile(
    r'"(?:[^"\\\n]|\\.)*+(?:"|$)' r"|'[^'\n]*+(?:'|$)" r"|#[^\n]*+", re.MULTILINE
)
_TOML_DOTTED = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]++(?:[ \t]*+\.[ \t]*+[A-Za-z0-9_-]++)+")


def _check_dotted_keys(text: str, path: Path) -> None:
    """Refuse keys of more than :data:`MAX_GRID_DEPTH` dotted parts before TOML reads them.

    ``tomllib`` spends time quadratic in the parts of a dotted key (10,000 parts:
    2 s; the 500,000 a 1 MiB file holds: hours). Runs of dots in numbers and dates
    are short, so the count over everything outside strings is a safe bound.
    """
    bare = _TOML_STRING_OR_COMMENT.sub(lambda m: "" if m[0][0] == "#" else "s", text)
    # Multi-line strings read as strings of their first line and code after: a key
    # is never missed, and a dotted run inside such a string is only counted too.
    deepest = max((m[0].count(".") + 1 for m in _TOML_DOTTED.finditer(bare)), default=1)
    if deepest > MAX_GRID_DEPTH:
        raise ParamGridError(
            f"grid file {path} has a dotted key of {deepest:,} parts, more than the "
            f"{MAX_GRID_DEPTH} a grid may nest; name parameters like "
            "clf.optimizer.learning_rate"
        )


def _value_problem(value: Any) -> str | None:
    """What is wrong with one TOML value of a grid (walked without recursion), or None."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_GRID_DEPTH:
            return f"nests arrays or tables more than {MAX_GRID_DEPTH} deep"
        if isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and not -(2**63) <= item < 2**63:
            return f"holds an integer outside TOML's 64-bit range ({item.bit_length()} bits)"
        elif isinstance(item, float) and not math.isfinite(item):
            return f"holds {item}; grid values must be finite numbers"
        elif isinstance(item, str) and len(item) > MAX_GRID_STRING:
            return f"holds a string of {len(item):,} characters, more than {MAX_GRID_STRING:,}"
    return None


def _toml_value(value: Any) -> Any:
    # TOML is typed already, but has no null: the strings "none" and "null" stand for None.
    # Recursion is safe here: _value_problem bounded the depth first.
    if isinstance(value, str) and value.strip().lower() in ("none", "null"):
        return None
    if isinstance(value, list):
        return [_toml_value(v) for v in value]
    return value


def _toml_params(doc: Mapping[str, Any], path: Path) -> Iterator[tuple[str, Any]]:
    """``(name, value)`` for each key of ``doc``, tables joined with ``__``, in file order.

    Walked with a stack of iterators rather than recursion, so depth is checked, not
    met as a RecursionError.
    """
    stack: list[tuple[str, Iterator[tuple[str, Any]]]] = [("", iter(doc.items()))]
    while stack:
        prefix, items = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
        elif isinstance(item[1], dict):
            if len(stack) >= MAX_GRID_DEPTH:
                raise ParamGridError(
                    f"grid file {path} nests tables more than {MAX_GRID_DEPTH} deep (at "
                    f"`{_shorten(prefix + item[0])}`); a grid needs two or three levels"
                )
            stack.append((f"{prefix}{item[0]}__", iter(item[1].items())))
        else:
            yield f"{prefix}{item[0]}", item[1]


def _parse_toml(path: Path) -> dict[str, Any]:
    """The TOML document in ``path``: a regular file of at most :data:`MAX_GRID_FILE_BYTES`."""
    data = read_regular(
        path,
        "grid file",
        max_bytes=MAX_GRID_FILE_BYTES,
        example="grid.toml",
        error=ParamGridError,
    )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ParamGridError(
            f"grid file {path} is not UTF-8 text (byte {err.start}); save it as UTF-8 TOML"
        ) from err
    _check_dotted_keys(text, path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ParamGridError(
            f"grid file {path} is not valid TOML: {_shorten(one_line(err), 200)}"
        ) from err
    except RecursionError as err:
        raise ParamGridError(
            f"grid file {path} nests arrays or inline tables too deeply to read; a grid "
            f"needs at most {MAX_GRID_DEPTH} levels"
        ) from err
    except ValueError as err:  # an integer longer than Python converts (4,300 digits)
        raise ParamGridError(
            f"grid file {path} holds a value TOML cannot hold ({_shorten(one_line(err))}); "
            "TOML integers have 64 bits"
        ) from err


def load_grid_toml(path: str | Path) -> dict[str, list[Any]]:
    """Read a parameter grid from a TOML file.

    Each key is a parameter; a list is the values to search, a single value is
    fixed. Tables nest with ``__``, so ``[clf]`` then ``hidden_units = [50, 100]``,
    ``optimizer.learning_rate = [1e-3, 3e-3]`` or ``"optimizer__learning_rate" =
    [...]`` all work; bare names mean the ``clf`` step. TOML has no null: the
    strings ``"none"`` and ``"null"`` stand for None.

    The file must be a regular file of at most :data:`MAX_GRID_FILE_BYTES` (1 MiB),
    nest at most :data:`MAX_GRID_DEPTH` (16) levels, name at most
    :data:`MAX_GRID_PARAMS` parameters and hold finite numbers, 64-bit integers and
    strings of at most :data:`MAX_GRID_STRING` characters; anything else is a
    one-line :class:`ParamGridError`. The number of candidates is checked by
    :func:`count_candidates`.

    Examples
    --------
    A file ``grid.toml``::

        hidden_units = [50, 100, 200]
        optimizer.learning_rate = [1e-3, 3e-3]
        output_activation = ["softmax", "sigmoid"]
        epochs = 5
    """
    path = Path(path)
    doc = _parse_toml(path)
    grid: dict[str, list[Any]] = {}
    for name, value in _toml_params(doc, path):
        problem = _value_problem(value)
        if problem is not None:
            raise ParamGridError(f"grid file {path}: `{_shorten(name)}` {problem}")
        value = _toml_value(value)
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ParamGridError(
                f"grid file {path}: `{_shorten(name)}` has no values; give at least one"
            )
        grid[normalize_param_name(name)] = values
        if len(grid) > MAX_GRID_PARAMS:
            raise ParamGridError(
                f"grid file {path} names more than the {MAX_GRID_PARAMS} parameters a grid "
                "may name; DigitClassifier has about forty (see get_params())"
            )
    return grid


def build_param_grid(
    params: Iterable[str] = (), toml_path: str | Path | None = None
) -> dict[str, list[Any]]:
    """Combine a TOML grid and ``name=v1,v2`` specs (which win) into one grid.

    A parameter with one value is a fixed setting; one with several is searched.
    When nothing is searched, the fixed settings apply on top of
    :func:`default_param_grid`: ``["epochs=2"]`` searches the default grid with
    two epochs per fit, ``["hidden_units=50,100"]`` searches only the width.
    Its candidates are counted (:func:`count_candidates`) before it is returned.

    Returns
    -------
    dict of str to list
    """
    grid: dict[str, list[Any]] = {}
    if toml_path is not None:
        grid.update(load_grid_toml(toml_path))
    for spec in params:
        name, values = parse_param(spec)
        grid[name] = values
    if all(len(values) == 1 for values in grid.values()):
        grid = {**default_param_grid(), **grid}
    count_candidates(grid)
    return grid


# --- checking candidates before any fit ---------------------------------------------------


def _final_step(estimator: Any) -> tuple[Any, str]:
    """The estimator a pipeline ends in and the prefix routing parameters to it."""
    if hasattr(estimator, "steps"):
        name, step = estimator.steps[-1]
        return step, f"{name}__"
    return estimator, ""


def _table_check(estimator: Any) -> Callable[[Mapping[str, Any]], None] | None:
    """A check of one candidate by DigitClassifier's parameter table, building no estimator.

    The final step's parameters with the candidate's on top are judged as a dict:
    no clone per candidate (0.35 ms each). None when the final step is no
    DigitClassifier.
    """
    if "skdigits.estimator._classifier" not in sys.modules:
        return None  # never imported: no DigitClassifier exists (and TensorFlow stays unloaded)
    from ..estimator._classifier import _CONSTRAINTS, DigitClassifier
    from ..estimator._params import check_param_values

    step, prefix = _final_step(estimator)
    if not isinstance(step, DigitClassifier):
        return None
    base = step.get_params(deep=False)

    def check(candidate: Mapping[str, Any]) -> None:
        own = {k[len(prefix) :]: v for k, v in candidate.items() if k.startswith(prefix)}
        check_param_values({**base, **own}, _CONSTRAINTS)

    return check


def _clone_check(estimator: Any, candidate: Mapping[str, Any]) -> None:
    trial = clone(estimator).set_params(**candidate)
    step, _ = _final_step(trial)
    check = getattr(step, "_validate_params", None)  # scikit-learn's own check, too
    if check is not None:
        check()


def _check_names(estimator: Any, grids: Sequence[Mapping[str, Any]]) -> None:
    names = {name: values[0] for grid in grids for name, values in grid.items()}
    for name, value in names.items():
        try:
            clone(estimator).set_params(**{name: value})
        except (ValueError, AttributeError) as err:  # AttributeError: a name below a value
            known = ", ".join(k for k in sorted(estimator.get_params()) if "__" in k)
            raise ParamGridError(
                f"unknown parameter `{_shorten(name)}`; parameters are routed like "
                f"clf__hidden_units or clf__optimizer__learning_rate; known: {known}"
            ) from err


def check_param_grid(estimator: Any, param_grid: Any, *, n_splits: int | None = None) -> int:
    """Check every candidate of ``param_grid`` on ``estimator`` before any fit; return their count.

    The candidates are counted first, without building any, and a grid of more
    than :data:`MAX_CANDIDATES` (or, with ``n_splits`` folds, more than
    :data:`MAX_FITS` fits) is refused (:func:`check_search_size`). Unknown names,
    then values the classifier refuses (``hidden_units=0``,
    ``output_activation="tanh"``, a learning rate its table refuses ...) are reported
    with the candidate at fault, instead of as failed fits minutes into the search.
    A DigitClassifier's candidates are judged by its parameter table alone, other
    estimators' on a clone (scikit-learn's ``_validate_params``).

    Parameters
    ----------
    estimator : estimator
        The estimator (or pipeline) to search.
    param_grid : dict of str to list, or list of such dicts
    n_splits : int, optional
        The folds of the cross-validation, to bound the number of fits.

    Returns
    -------
    int
        The number of candidates.
    """
    n = count_candidates(param_grid)
    check_search_size(n, n_splits)
    grids = [param_grid] if isinstance(param_grid, Mapping) else list(param_grid)
    _check_names(estimator, grids)
    table = _table_check(estimator)
    _, prefix = _final_step(estimator)
    if table is not None:
        # The table judges the final step's values; another step's are checked once each.
        for grid in grids:
            for name, values in grid.items():
                for value in values if not name.startswith(prefix) else ():
                    _checked(functools.partial(_clone_check, estimator), {name: value})
    check = table or functools.partial(_clone_check, estimator)
    for candidate in ParameterGrid(grids):
        _checked(check, candidate)
    return n


def _checked(check: Callable[[Mapping[str, Any]], None], candidate: Mapping[str, Any]) -> None:
    try:
        check(candidate)
    except (ValueError, TypeError) as err:
        shown = ", ".join(f"{_short_name(k)}={_shorten(repr(v), 40)}" for k, v in candidate.items())
        raise ParamGridError(
            f"invalid candidate {{{_shorten(shown)}}}: {_shorten(one_line(err), 300)}"
        ) from err


# --- progress ------------------------------------------------------------------------------


def short_params(params: Mapping[str, Any]) -> str:
    """``{"clf__hidden_units": 100}`` → ``"hidden_units=100"``, for people to read."""
    return ", ".join(f"{_short_name(k)}={format_value(v)}" for k, v in params.items())


def _short_name(name: str) -> str:
    return name.removeprefix("clf__")


def format_value(value: Any) -> str:
    """A parameter value as a person (and :func:`parse_value`) reads it: ``none``, ``0.003``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def _format_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class SearchProgress:
    """A scikit-learn fit callback that prints one line for every finished fit of a search.

    Register it with ``search.set_callbacks(SearchProgress())`` on a ``GridSearchCV``
    (scikit-learn >= 1.9's callback API; ``sklearn.callback.ProgressBar`` is the
    rich, in-place alternative). scikit-learn calls it in the process that ran the
    fit, a joblib or Dask worker too, so each line is written to that process's
    standard output, which local workers share with the main process.

    Each line names the fit, its parameters and fold, and the time since the search
    began: ``[fit 3/4] learning_rate=0.01, fold 1/2 done, 0:12 elapsed``. The
    callback API tells a callback nothing of scores, so the best score is reported
    once the search has finished (by :func:`format_results`).

    Parameters
    ----------
    stream : {"stdout", "stderr"}, default="stdout"
        Named rather than given as a file object: a worker writes to its own.
    """

    def __init__(self, stream: str = "stdout") -> None:
        self.stream = stream

    def _write(self, line: str) -> None:
        print(line, file=sys.stderr if self.stream == "stderr" else sys.stdout, flush=True)

    def setup(self, estimator: Any, context: Any) -> None:
        """Nothing to prepare: every line carries its own count and time."""

    def teardown(self, estimator: Any, context: Any) -> None:
        """Nothing to close."""

    def on_fit_task_begin(self, estimator: Any, context: Any) -> None:
        """Print nothing when a fit starts; its end says what it was."""

    def on_fit_task_end(self, estimator: Any, context: Any) -> None:
        """Print the line of a finished cross-validation fit or of the final refit."""
        root = context
        while root.parent is not None:
            root = root.parent
        elapsed = _format_elapsed((datetime.now(UTC) - root.init_time).total_seconds())
        if context.task_name == "refit-with-best-params":
            self._write(f"refitted the best candidate, {elapsed} elapsed")
        if context.task_name != "candidate-split-evaluation":
            return
        total = context.parent.max_subtasks if context.parent is not None else None
        line = f"[fit {context.task_id + 1}/{total or '?'}]"
        n_splits = getattr(estimator, "n_splits_", None)
        grid = getattr(estimator, "param_grid", None)
        if n_splits and grid is not None:
            candidate, split = divmod(context.task_id, n_splits)
            params = ParameterGrid(grid)[candidate]
            line += f" {short_params(params)}, fold {split + 1}/{n_splits}"
        self._write(f"{line} done, {elapsed} elapsed")


# --- results -------------------------------------------------------------------------------


def _csv_value(value: Any) -> str:
    if value is np.ma.masked:
        return ""
    if isinstance(value, dict):
        return json.dumps({k: python_scalar(v) for k, v in value.items()}, sort_keys=True)
    return _format_csv_scalar(python_scalar(value))


def _format_csv_scalar(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return format_value(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def results_to_csv(cv_results: Mapping[str, Any]) -> str:
    """``cv_results_`` as CSV text: one row per candidate, in the search's order.

    The columns are those of ``pandas.DataFrame(cv_results_)``; ``params`` is
    written as JSON, None and booleans as ``none``/``true``/``false`` (what
    :func:`parse_value` reads back), a parameter a candidate does not have as an
    empty cell.
    """
    columns = list(cv_results)
    n = len(cv_results["params"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for i in range(n):
        writer.writerow([_csv_value(cv_results[col][i]) for col in columns])
    return buffer.getvalue()


def write_results_csv(cv_results: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``cv_results_`` to ``path`` as CSV (see :func:`results_to_csv`), atomically."""
    path = Path(path)
    write_bytes_atomic(path, results_to_csv(cv_results).encode("utf-8"))
    return path


def format_results(
    cv_results: Mapping[str, Any], *, top: int | None = None, score_name: str = "score"
) -> str:
    """A table of the candidates sorted by mean test score, best first.

    Columns: rank, mean and standard deviation of the test score, mean fit time,
    then one column per searched parameter (``clf__`` left out).
    """
    ranks = np.asarray(cv_results["rank_test_score"])
    order = np.argsort(ranks, kind="stable")
    if top is not None:
        order = order[:top]
    params = [p for p in cv_results if p.startswith("param_")]
    searched = [
        p for p in params if len({_csv_value(v) for v in cv_results[p]}) > 1 or len(params) == 1
    ] or params
    header = ["rank", f"mean {score_name}", "std", "fit s"] + [
        _short_name(p.removeprefix("param_")) for p in searched
    ]
    rows = [
        [
            str(int(ranks[i])),
            f"{cv_results['mean_test_score'][i]:.4f}",
            f"{cv_results['std_test_score'][i]:.4f}",
            f"{cv_results['mean_fit_time'][i]:.1f}",
        ]
        + [format_value(python_scalar(cv_results[p][i])) for p in searched]
        for i in order
    ]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    numeric = 4  # right-align the numbers, left-align the parameters
    lines = [
        "  ".join(
            cell.rjust(w) if c < numeric else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


# --- the Dask backend -------------------------------------------------------------------


def worker_thread_env(n_workers: int, *, cpu_count: int | None = None) -> dict[str, str]:
    """Thread limits for one of ``n_workers`` worker processes sharing this machine's cores.

    Each process gets ``cpu_count // n_workers`` threads (at least 1) for OpenMP,
    BLAS and TensorFlow's intra-op pool, and at most 2 inter-op threads: the
    limit joblib gives its own workers. Variables already set here are passed on.
    """
    import os

    from joblib import cpu_count as joblib_cpu_count

    n = max(1, (cpu_count or joblib_cpu_count()) // max(1, n_workers))
    env = {
        "OMP_NUM_THREADS": str(n),
        "MKL_NUM_THREADS": str(n),
        "OPENBLAS_NUM_THREADS": str(n),
        "TF_NUM_INTRAOP_THREADS": str(n),
        "TF_NUM_INTEROP_THREADS": str(min(n, 2)),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    return {key: os.environ.get(key, value) for key, value in env.items()}


@contextlib.contextmanager
def dask_backend(
    scheduler: str | None = None,
    *,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    silence_logs: int = logging.ERROR,
    timeout: float = 30.0,
) -> Iterator[Any]:
    """Run joblib-parallel work (``GridSearchCV(n_jobs=...)``) on a Dask cluster.

    Inside the ``with`` block joblib's ``"dask"`` backend is active, so every
    scikit-learn search or ``cross_validate`` sends its fits to the cluster's
    workers (use ``n_jobs=-1`` to use all of their threads).

    Parameters
    ----------
    scheduler : str or None, default=None
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``. Its workers
        need skdigits with the ``train`` extra installed; the data are sent to them.
        None starts a ``LocalCluster`` of worker processes on 127.0.0.1 (nothing
        listens on other interfaces) and closes it on exit.
    n_workers : int, default=2
        Worker processes of the local cluster (ignored with ``scheduler``).
    threads_per_worker : int, default=1
        Fits each local worker runs at once. Each worker's TensorFlow gets
        ``cpu_count // n_workers`` threads (:func:`worker_thread_env`).
    silence_logs : int, default=logging.ERROR
        Level below which Dask's log messages are dropped.
    timeout : float, default=30
        Seconds to wait for the scheduler at ``scheduler``.

    Yields
    ------
    distributed.Client
        The client, connected; closed on exit.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skdigits import make_pipeline
    >>> from skdigits.analysis._search import dask_backend
    >>> search = GridSearchCV(make_pipeline(epochs=2), {"clf__hidden_units": [50, 100]}, n_jobs=-1)
    >>> with dask_backend():  # doctest: +SKIP
    ...     search.fit(X, y)
    """
    try:
        import distributed  # noqa: F401  (refused here, with the extra to install)
        import joblib
    except ImportError as err:
        raise MissingDependencyError(
            "the Dask backend needs dask.distributed, which is not installed; "
            'install it with: pip install "skdigits[search]"'
        ) from err

    with contextlib.ExitStack() as stack:
        # Dask logs through "distributed"; the level also covers the client side here.
        log = logging.getLogger("distributed")
        old_level = log.level
        log.setLevel(silence_logs)
        stack.callback(log.setLevel, old_level)
        client = _dask_client(
            stack,
            scheduler,
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            silence_logs=silence_logs,
            timeout=timeout,
        )
        stack.enter_context(joblib.parallel_config(backend="dask", client=client))
        yield client


def _dask_client(
    stack: contextlib.ExitStack,
    scheduler: str | None,
    *,
    n_workers: int,
    threads_per_worker: int,
    silence_logs: int,
    timeout: float,
) -> Any:
    """A client of the scheduler at ``scheduler``, or of a new local cluster.

    ``stack`` closes the client (and the cluster) on exit.
    """
    from distributed import Client, LocalCluster

    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=silence_logs,
            env=worker_thread_env(n_workers),
        )
        stack.callback(cluster.close)
        client = Client(cluster, set_as_default=False)
    else:
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise SkdigitsError(
                f"cannot connect to the Dask scheduler at {scheduler!r} ({err}); check "
                "the address (tcp://host:8786) and that `dask scheduler` runs there, or "
                "leave out the address to start a local cluster"
            ) from err
    stack.callback(client.close)
    return client

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
import io
import json
import logging
import numbers
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from .._core.atomic import write_bytes_atomic
from .._core.errors import MissingDependencyError, SkdigitsError
from .._core.values import python_scalar

#: The step names of :func:`skdigits.make_pipeline`; a bare parameter name means ``clf__``.
STEP_PREFIXES = ("clf__", "scale__")


class ParamGridError(SkdigitsError, ValueError):
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


def _toml_value(value: Any) -> Any:
    # TOML is typed already, but has no null: the strings "none" and "null" stand for None.
    if isinstance(value, str) and value.strip().lower() in ("none", "null"):
        return None
    if isinstance(value, list):
        return [_toml_value(v) for v in value]
    return value


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}__")
        else:
            yield f"{prefix}{key}", value


def load_grid_toml(path: str | Path) -> dict[str, list[Any]]:
    """Read a parameter grid from a TOML file.

    Each key is a parameter; a list is the values to search, a single value is
    fixed. Tables nest with ``__``, so ``[clf]`` then ``hidden_units = [50, 100]``,
    ``optimizer.learning_rate = [1e-3, 3e-3]`` or ``"optimizer__learning_rate" =
    [...]`` all work; bare names mean the ``clf`` step. TOML has no null: the
    strings ``"none"`` and ``"null"`` stand for None.

    Examples
    --------
    A file ``grid.toml``::

        hidden_units = [50, 100, 200]
        optimizer.learning_rate = [1e-3, 3e-3]
        output_activation = ["softmax", "sigmoid"]
        epochs = 5
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ParamGridError(f"grid file {path} does not exist") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ParamGridError(f"cannot read grid file {path}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ParamGridError(f"grid file {path} is not valid TOML: {err}") from err
    grid: dict[str, list[Any]] = {}
    for name, value in _flatten(doc):
        value = _toml_value(value)
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ParamGridError(f"grid file {path}: `{name}` has no values; give at least one")
        grid[normalize_param_name(name)] = values
    return grid


def build_param_grid(
    params: Iterable[str] = (), toml_path: str | Path | None = None
) -> dict[str, list[Any]]:
    """Combine a TOML grid and ``name=v1,v2`` specs (which win) into one grid.

    A parameter with one value is a fixed setting; one with several is searched.
    When nothing is searched, the fixed settings apply on top of
    :func:`default_param_grid`: ``["epochs=2"]`` searches the default grid with
    two epochs per fit, ``["hidden_units=50,100"]`` searches only the width.

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
    return grid


def check_param_grid(estimator: Any, param_grid: Mapping[str, Sequence[Any]]) -> int:
    """Check every candidate of ``param_grid`` on ``estimator`` before any fit; return their count.

    Unknown names and values the classifier refuses (``hidden_units=0``,
    ``output_activation="tanh"`` ...) are reported with the candidate at fault,
    instead of as failed fits minutes into the search.
    """
    for name, values in param_grid.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ParamGridError(f"`{name}` must map to a non-empty list of values, got {values!r}")
        try:
            clone(estimator).set_params(**{name: values[0]})
        except ValueError as err:
            known = ", ".join(k for k in sorted(estimator.get_params()) if "__" in k)
            raise ParamGridError(
                f"unknown parameter `{name}`; parameters are routed like clf__hidden_units "
                f"or clf__optimizer__learning_rate; known: {known}"
            ) from err
    n = 0
    for candidate in ParameterGrid(dict(param_grid)):
        trial = clone(estimator).set_params(**candidate)
        step = trial[-1] if hasattr(trial, "steps") else trial
        check = getattr(step, "_validate_params", None)  # scikit-learn's own check, too
        if check is not None:
            try:
                check()
            except ValueError as err:
                raise ParamGridError(f"invalid candidate {candidate}: {err}") from err
        for key in ("epochs", "batch_size"):
            value = getattr(step, key, 1)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ParamGridError(
                    f"invalid candidate {candidate}: `{key}` must be a positive integer, "
                    f"got {value!r}"
                )
        n += 1
    return n


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

"""``skdigits search``: grid search with cross-validation, locally or on a Dask cluster."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from ._common import (
    Command,
    add_common_options,
    add_data_options,
    check_output_path,
    load_mnist,
    non_negative_int,
    option_group,
    positive_int,
    quiet_tensorflow,
)


def _add_grid_options(group: Any) -> None:
    group.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="values of one parameter; repeat for more parameters",
    )
    group.add_argument("--grid", type=Path, metavar="FILE", help="a TOML file holding a grid")


def _seed(text: str) -> int:
    """argparse ``type=``: 0 to 2**32 - 1, the seeds NumPy and scikit-learn's folds take."""
    digits = text.strip()
    value = int(digits) if digits.isdigit() and len(digits) <= 10 else -1
    if not 0 <= value < 2**32:
        shown = text if len(text) <= 20 else f"{text[:19]}…"
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 0 to {2**32 - 1}, got {shown!r}"
        )
    return value


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cv",
        type=positive_int,
        default=3,
        metavar="K",
        help="stratified folds, 2 to 100 (default: %(default)s)",
    )
    parser.add_argument(
        "--scoring",
        default="accuracy",
        help="a scikit-learn scorer name (default: %(default)s)",
    )
    parser.add_argument(
        "--subset",
        type=positive_int,
        default=None,
        metavar="N",
        help="search on the first N training images only (for a quick search)",
    )
    parser.add_argument(
        "--random-state",
        type=_seed,
        default=0,
        help="seed of the folds and of every fit; the same seed gives the same results "
        "(default: %(default)s)",
    )


def _add_backend_options(group: Any) -> None:
    group.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="fits at once; -1 means one per core (default: 1, or every Dask worker thread)",
    )
    group.add_argument(
        "--backend",
        choices=("local", "dask"),
        default="local",
        help="local processes, or joblib's Dask backend (default: %(default)s)",
    )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a running Dask scheduler (tcp://host:8786); without it "
        "--backend dask starts a local cluster on 127.0.0.1",
    )
    group.add_argument(
        "--dask-workers",
        type=positive_int,
        default=2,
        metavar="N",
        help="worker processes of the local Dask cluster (default: %(default)s)",
    )


def _add_output_options(group: Any) -> None:
    add_common_options(
        group,
        output="where to save the refitted best pipeline",
        output_default=Path("best.skdigits"),
        force="overwrite existing outputs",
    )
    group.add_argument(
        "--results",
        type=Path,
        metavar="CSV",
        help="where to save cv_results_ (default: the output's name + .cv_results.csv)",
    )
    group.add_argument(
        "--top",
        type=non_negative_int,
        default=10,
        metavar="N",
        help="rows of the results table; 0 shows all (default: %(default)s)",
    )
    add_common_options(group, json="print a JSON summary at the end", quiet=True)


COMMAND = Command(
    "search",
    help="grid search with cross-validation; save the results and the best pipeline",
    description="""
        Cross-validate every candidate of a parameter grid on MNIST's training images,
        print the results sorted by mean score, save cv_results_ as CSV, refit the best
        candidate on all the images and save it (ready for `skdigits export`).
    """,
    notes="""\
The grid: each --param NAME=V1,V2,... searches those values; a single value fixes
the setting. Names are the classifier's (hidden_units, optimizer__learning_rate,
batch_size, epochs, output_activation ...; the clf__ prefix may be left out).
Values become ints, floats, none, true/false or strings. --grid FILE.toml gives
the same as TOML (NAME = [V1, V2] or NAME = V); --param entries win. When no
parameter has two or more values, the default grid (skdigits.default_param_grid:
hidden_units 50,100,200 x learning rate 1e-3,3e-3 x batch_size 32,128) is
searched with the fixed settings on top. A search may try at most 10,000
candidates and make at most 100,000 fits (candidates x folds); a grid file is a
regular file of at most 1 MiB. Both are judged before MNIST or TensorFlow load.
""",
    examples=(
        "skdigits search --subset 5000 --param epochs=2",
        "skdigits search --param hidden_units=50,100 --param optimizer__learning_rate=1e-3,3e-3 \\",
        "    --param epochs=3 --cv 3 --n-jobs -1 -o best.skdigits",
        "skdigits search --grid grid.toml --backend dask --scheduler tcp://10.0.0.5:8786",
    ),
    options=(
        option_group("grid", _add_grid_options),
        _add_fit_options,
        option_group("where the fits run", _add_backend_options),
        option_group("output", _add_output_options),
        add_data_options,
    ),
)


def _results_path(args: argparse.Namespace) -> Path:
    if args.results is not None:
        return args.results
    return args.output.with_name(f"{args.output.stem}.cv_results.csv")


def _check_args(args: argparse.Namespace) -> None:
    from .._core.errors import SkdigitsError
    from ..analysis._search import MAX_FOLDS

    if not 2 <= args.cv <= MAX_FOLDS:
        raise SkdigitsError(
            f"--cv must be 2 to {MAX_FOLDS} folds (each is one more fit of every "
            f"candidate), got {_shown(args.cv)}; use 3 to 10"
        )
    if args.subset is not None and args.subset < 10 * args.cv:
        raise SkdigitsError(f"--subset must be at least {10 * args.cv} images for --cv {args.cv}")
    if args.scheduler and args.backend != "dask":
        raise SkdigitsError("--scheduler needs --backend dask")
    if args.backend == "dask" and importlib.util.find_spec("distributed") is None:
        raise SkdigitsError(
            '--backend dask needs dask.distributed; install it with: pip install "skdigits[search]"'
        )
    _check_workers(args)


def _shown(number: int) -> str:
    # argparse takes any length of digits: never echo thousands of them.
    text = str(number)
    return text if len(text) <= 20 else f"a number of {len(text)} digits"


def _check_workers(args: argparse.Namespace) -> None:
    """Worker processes on this machine: at most one per core (each loads TensorFlow)."""
    from .._core.errors import SkdigitsError

    cores = os.cpu_count() or 1
    if args.n_jobs == 0:
        raise SkdigitsError("--n-jobs must not be 0; use a positive count or -1 for every core")
    if args.backend == "local" and args.n_jobs is not None and args.n_jobs > cores:
        raise SkdigitsError(
            f"--n-jobs {_shown(args.n_jobs)} would start that many worker processes, each "
            f"loading TensorFlow (about 0.4 GB); this machine has {cores} cores: use at most "
            f"{cores}, or -1 for one per core"
        )
    if args.backend == "dask" and not args.scheduler and args.dask_workers > cores:
        raise SkdigitsError(
            f"--dask-workers {_shown(args.dask_workers)} would start that many worker "
            f"processes here, each loading TensorFlow (about 0.4 GB); this machine has "
            f"{cores} cores: use at most {cores}, or --scheduler for a larger cluster"
        )


def run(args: argparse.Namespace) -> int:
    param_grid, results_path, pipeline, n_candidates = _check_request(args)
    X, y = load_mnist(args, "train")
    if args.subset is not None:
        X, y = X[: args.subset], y[: args.subset]
    X_test, y_test = load_mnist(args, "test")

    quiet_tensorflow()
    search, n_jobs = _make_search(args, pipeline, param_grid)
    if not args.quiet:
        _print_plan(args, param_grid, n_candidates, n_jobs, len(X))
    _fit(search, args, X, y)

    summary = _summarize(search, args, X_test, y_test)
    summary.update(n_candidates=n_candidates, n_splits=args.cv)
    _save(search, args, param_grid, results_path, summary, n_images=len(X))
    if args.json:
        print(json.dumps({**summary, "results": str(results_path), "model": str(args.output)}))
    return 0


def _check_request(args: argparse.Namespace) -> tuple[dict[str, list], Path, Any, int]:
    """Everything that can be refused before MNIST is read: the grid, its size and both outputs.

    The grid's size is judged from its lists alone, before TensorFlow is imported;
    then each candidate by the classifier's parameter table.
    """
    from sklearn.metrics import get_scorer_names

    from .._core.errors import SkdigitsError
    from ..analysis._search import build_param_grid, check_search_size, count_candidates

    _check_args(args)
    results_path = _results_path(args)
    for option, path in (("--output", args.output), ("--results", results_path)):
        try:
            check_output_path(path, force=args.force)
        except OSError as err:  # a name too long for the file system, a loop of links
            shown = str(path) if len(str(path)) <= 80 else f"{str(path)[:79]}…"
            raise SkdigitsError(
                f"{option} '{shown}' cannot be written ({err.strerror}); choose another path"
            ) from err
    if results_path.resolve() == args.output.resolve():
        raise SkdigitsError("--results and --output name the same file; choose two paths")
    if args.scoring not in get_scorer_names():
        shown = args.scoring if len(args.scoring) <= 40 else f"{args.scoring[:39]}…"
        raise SkdigitsError(
            f"--scoring {shown!r} is not a scikit-learn scorer; try accuracy, "
            "balanced_accuracy, f1_macro or neg_log_loss"
        )
    param_grid = build_param_grid(args.param, args.grid)
    check_search_size(count_candidates(param_grid), args.cv)
    pipeline, n_candidates = _checked_pipeline(args, param_grid)
    return param_grid, results_path, pipeline, n_candidates


def _checked_pipeline(args: argparse.Namespace, param_grid: dict[str, list]) -> tuple[Any, int]:
    """The pipeline to search, with every candidate of ``param_grid`` judged on it."""
    from ..analysis._search import check_param_grid
    from ..estimator._pipeline import make_pipeline

    # Each candidate and fold is a new clone: let later fits take earlier ones' traced
    # Keras models (bit-identical scores, about a second less per fit).
    pipeline = make_pipeline(random_state=args.random_state, verbose=0, reuse_models=True)
    return pipeline, check_param_grid(pipeline, param_grid, n_splits=args.cv)


def _make_search(
    args: argparse.Namespace, pipeline: Any, param_grid: dict[str, list]
) -> tuple[Any, int]:
    """The GridSearchCV to run and its n_jobs."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from ..analysis._search import SearchProgress

    cv = StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=args.random_state)
    n_jobs = args.n_jobs if args.n_jobs is not None else (-1 if args.backend == "dask" else 1)
    search = GridSearchCV(
        pipeline,
        param_grid,
        scoring=args.scoring,
        cv=cv,
        n_jobs=n_jobs,
        refit=True,
        error_score="raise",
    )
    if not args.quiet:
        search.set_callbacks(SearchProgress())  # scikit-learn's callback API
    return search, n_jobs


def _print_plan(
    args: argparse.Namespace,
    param_grid: dict[str, list],
    n_candidates: int,
    n_jobs: int,
    n_images: int,
) -> None:
    from ..analysis._search import format_value

    if args.scheduler:
        where = f"Dask scheduler {args.scheduler}"
    elif args.backend == "dask":
        where = f"a local Dask cluster of {args.dask_workers} workers"
    else:
        where = f"n_jobs={n_jobs}"
    print(
        f"searching {n_candidates} candidates x {args.cv} folds = {n_candidates * args.cv} "
        f"fits on {n_images} MNIST images ({where}), then refitting the best on all of them"
    )
    for label, keep in (("searched", True), ("fixed", False)):
        names = {k: v for k, v in param_grid.items() if (len(v) > 1) == keep}
        if names:
            shown = "; ".join(
                f"{k.removeprefix('clf__')} = {', '.join(map(format_value, v))}"
                for k, v in names.items()
            )
            print(f"  {label}: {shown}")
    sys.stdout.flush()


def _fit(search: Any, args: argparse.Namespace, X: Any, y: Any) -> None:
    from .._core.errors import SkdigitsError
    from ..analysis._search import dask_backend

    try:
        with warnings.catch_warnings():
            # Dask's and Keras' warnings are for developers, not for this command's users.
            for module in ("distributed", "dask", "joblib", "keras", "tensorflow"):
                warnings.filterwarnings("ignore", module=module)
            if args.backend == "dask":
                with dask_backend(args.scheduler, n_workers=args.dask_workers):
                    search.fit(X, y)
            else:
                search.fit(X, y)
    except (ValueError, TypeError) as err:
        raise SkdigitsError(f"the search failed: {err}") from err


def _summarize(search: Any, args: argparse.Namespace, X_test: Any, y_test: Any) -> dict[str, Any]:
    """Print the results table and the best candidate; return the figures for --json."""
    from ..analysis._search import format_results, short_params

    best = search.best_index_
    mean = float(search.cv_results_["mean_test_score"][best])
    std = float(search.cv_results_["std_test_score"][best])
    test_accuracy = float(search.best_estimator_.score(X_test, y_test))
    top = None if args.top == 0 else args.top
    print()
    print(format_results(search.cv_results_, top=top, score_name=args.scoring))
    print(
        f"\nbest: {short_params(search.best_params_)} "
        f"(mean {args.scoring} {mean:.4f} ± {std:.4f} over {args.cv} folds)"
    )
    print(
        f"test accuracy of the refitted best: {test_accuracy:.4f} ({len(X_test)} MNIST test images)"
    )
    return {
        "best_params": search.best_params_,
        "best_score": mean,
        "best_score_std": std,
        "scoring": args.scoring,
        "test_accuracy": test_accuracy,
    }


def _save(
    search: Any,
    args: argparse.Namespace,
    param_grid: dict[str, list],
    results_path: Path,
    summary: dict[str, Any],
    *,
    n_images: int,
) -> None:
    """Write cv_results_ and the refitted best pipeline, with the search in its metadata."""
    from ..analysis._search import write_results_csv
    from ..estimator._saving import save_model

    write_results_csv(search.cv_results_, results_path)
    metadata = {
        "metrics": {
            "test_accuracy": summary["test_accuracy"],
            f"cv_mean_{args.scoring}": summary["best_score"],
        },
        "search": {
            "best_params": search.best_params_,
            "param_grid": param_grid,
            "scoring": args.scoring,
            "cv": args.cv,
            "random_state": args.random_state,
            "n_candidates": summary["n_candidates"],
            "n_images": n_images,
        },
        "training_data": "MNIST",
    }
    save_model(search.best_estimator_, args.output, metadata=metadata)
    print(f"saved cv_results_ to {results_path}")
    print(
        f"saved the refitted best pipeline to {args.output} "
        f"(next: skdigits export {args.output} -o {args.output.with_suffix('.onnx')})"
    )

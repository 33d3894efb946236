"""How many fits a minute does a grid search run, on one process, two, and on Dask?

Times one fixed search, ``GridSearchCV`` over the pipeline (hidden_units 50, 100
x learning rate 1e-3, 3e-3 x batch size 32, 64: 8 candidates, seeded, stratified
folds, no refit), three ways: ``n_jobs=1`` in this process, ``n_jobs=2`` on
joblib's process workers, and joblib's Dask backend on a ``LocalCluster`` of 2
workers x 1 thread (127.0.0.1); each "before" (``steps_per_execution=1``, how
skdigits fitted until it had the parameter), with the defaults ("now"), and with
``reuse_models=True`` ("reused": each worker's later fits take the traced Keras
model of its earlier ones). Starting the
workers (processes, TensorFlow's import) is timed apart by a warm-up, and each
variant on ``n_jobs=2`` and Dask gets fresh workers. Prints
fits per minute, each as a ratio to "before" on the same backend, and whether
all searches found the same best parameters.

    python benchmarks/bench_search.py [--images 12000] [--epochs 1] [--cv 3]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

GRID = {
    "clf__hidden_units": [50, 100],
    "clf__optimizer__learning_rate": [1e-3, 3e-3],
    "clf__batch_size": [32, 64],
}
N_CANDIDATES = 8
#: How each backend fits: the first is the baseline of its ratios.
VARIANTS = (
    ("before", {"steps_per_execution": 1}),
    ("now", {}),
    ("reused", {"reuse_models": True}),
)


def _load_tensorflow(pause: float = 0.5) -> int:
    """Import TensorFlow the way a fit does (the pause lets each worker take one call)."""
    import skdigits.estimator._classifier  # noqa: F401 - the import is the work

    time.sleep(pause)
    return os.getpid()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--cv", type=int, default=3)
    args = parser.parse_args()

    from joblib import Parallel, cpu_count, delayed
    from joblib.externals.loky import get_reusable_executor
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skdigits import fetch_mnist, make_pipeline
    from skdigits.analysis._search import dask_backend
    from skdigits.cli._common import quiet_tensorflow

    quiet_tensorflow()
    X, y = fetch_mnist(subset="train", return_X_y=True)
    X, y = X[: args.images], y[: args.images]

    def search(n_jobs: int, extra: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        gs = GridSearchCV(
            make_pipeline(epochs=args.epochs, random_state=0, **extra),
            GRID,
            cv=StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=0),
            n_jobs=n_jobs,
            refit=False,
        )
        start = time.perf_counter()
        gs.fit(X, y)
        return time.perf_counter() - start, gs.best_params_

    n_fits = N_CANDIDATES * args.cv
    print(
        f"search: {N_CANDIDATES} candidates x {args.cv} folds = {n_fits} fits on {len(X)} "
        f"MNIST images, {args.epochs} epoch(s) each; {cpu_count()} CPU cores, "
        f"load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    rows = []

    def run(mode: str, n_jobs: int, label: str, extra: dict[str, Any], startup: float) -> None:
        seconds, best = search(n_jobs, extra)
        rows.append((mode, label, startup, seconds, best))
        print(f"  {mode} {label}: {seconds:.1f} s", flush=True)

    start = time.perf_counter()
    _load_tensorflow(0.0)
    startup = time.perf_counter() - start
    for label, extra in VARIANTS:  # one process: each variant after the last
        run("n_jobs=1", 1, label, extra, startup)
    # Fresh workers for each variant, so that none inherits the last one's memory:
    # loky restarts a worker that has grown by 300 MB, mid-search.
    for label, extra in VARIANTS:
        get_reusable_executor().shutdown(wait=True)
        start = time.perf_counter()
        Parallel(n_jobs=2)(delayed(_load_tensorflow)() for _ in range(2))
        run("n_jobs=2", 2, label, extra, time.perf_counter() - start)
    for label, extra in VARIANTS:
        start = time.perf_counter()
        with dask_backend(n_workers=2, threads_per_worker=1) as client:
            client.run(_load_tensorflow, 0.0)
            run("dask, 2 workers", -1, label, extra, time.perf_counter() - start)

    print(
        f"\n{'mode':<16} {'fitting':<8} {'start-up s':>10} {'search s':>9} "
        f"{'fits/min':>9} {'x before':>9}"
    )
    for i, (mode, label, up, secs, _) in enumerate(rows):
        before = rows[i - (i % len(VARIANTS))][3]
        print(
            f"{mode:<16} {label:<8} {up:>10.1f} {secs:>9.1f} {n_fits * 60 / secs:>9.1f} "
            f"{before / secs:>9.2f}"
        )
    same = all(r[4] == rows[0][4] for r in rows)
    print(f"best parameters: {rows[0][4]} ({'the same' if same else 'NOT the same'} in all)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

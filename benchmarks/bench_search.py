"""How much faster does a grid search run on two processes, locally and on Dask?

Times one fixed search, ``GridSearchCV`` over the pipeline (hidden_units 50, 100
x learning rate 1e-3, 3e-3, seeded, stratified folds, no refit), three ways in
one run: ``n_jobs=1`` in this process, ``n_jobs=2`` on joblib's process workers,
and joblib's Dask backend on a ``LocalCluster`` of 2 workers x 1 thread
(127.0.0.1). Starting the workers (processes, TensorFlow's import) is timed
apart by a warm-up, so the ratios compare the searches themselves. Prints the
wall times, each as a ratio to ``n_jobs=1`` (below 1 is faster), and whether
all three found the same best parameters.

    python benchmarks/bench_search.py [--images 2000] [--epochs 1] [--cv 2]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

GRID = {"clf__hidden_units": [50, 100], "clf__optimizer__learning_rate": [1e-3, 3e-3]}


def _load_tensorflow(pause: float = 0.5) -> int:
    """Import TensorFlow the way a fit does (the pause lets each worker take one call)."""
    import skdigits.classifier  # noqa: F401 - the import is the work

    time.sleep(pause)
    return os.getpid()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--cv", type=int, default=2)
    args = parser.parse_args()

    from joblib import Parallel, cpu_count, delayed
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skdigits import fetch_mnist, make_pipeline
    from skdigits.cli._common import quiet_tensorflow
    from skdigits.search import dask_backend

    quiet_tensorflow()
    X, y = fetch_mnist(subset="train", return_X_y=True)
    X, y = X[: args.images], y[: args.images]

    def search(n_jobs: int) -> tuple[float, dict[str, Any]]:
        gs = GridSearchCV(
            make_pipeline(epochs=args.epochs, random_state=0),
            GRID,
            cv=StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=0),
            n_jobs=n_jobs,
            refit=False,
        )
        start = time.perf_counter()
        gs.fit(X, y)
        return time.perf_counter() - start, gs.best_params_

    def timed(warm_up: Callable[[], object]) -> float:
        start = time.perf_counter()
        warm_up()
        return time.perf_counter() - start

    n_fits = 4 * args.cv
    print(
        f"search: 4 candidates x {args.cv} folds = {n_fits} fits on {len(X)} MNIST images, "
        f"{args.epochs} epoch(s) each; {cpu_count()} CPU cores, "
        f"load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    rows = []
    startup = timed(lambda: _load_tensorflow(0.0))  # already imported: ~0
    seconds, best = search(1)
    rows.append(("n_jobs=1", startup, seconds, best))
    print(f"  n_jobs=1 done in {seconds:.1f} s", flush=True)

    startup = timed(lambda: Parallel(n_jobs=2)(delayed(_load_tensorflow)() for _ in range(2)))
    seconds, best = search(2)  # the same two workers, reused
    rows.append(("n_jobs=2", startup, seconds, best))
    print(f"  n_jobs=2 done in {seconds:.1f} s", flush=True)

    start = time.perf_counter()
    with dask_backend(n_workers=2, threads_per_worker=1) as client:
        client.run(_load_tensorflow, 0.0)
        startup = time.perf_counter() - start
        seconds, best = search(-1)
    rows.append(("dask, 2 workers", startup, seconds, best))
    print(f"  dask done in {seconds:.1f} s", flush=True)

    base = rows[0][2]
    print(f"\n{'mode':<16} {'start-up s':>10} {'search s':>9} {'ratio to n_jobs=1':>18}")
    for name, up, secs, _ in rows:
        print(f"{name:<16} {up:>10.1f} {secs:>9.1f} {secs / base:>18.2f}")
    same = all(r[3] == rows[0][3] for r in rows)
    print(f"best parameters: {rows[0][3]} ({'the same' if same else 'NOT the same'} on all three)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""What outlier exposure costs a fit: the fast preset with and without it, beside the seed's Keras.

One run, in turn: the seed's own Keras code (10 epochs, Keras' defaults), the
``fast`` preset as it is (``outlier_exposure=1.0``, ``digit_variants=0.5``) and
the same preset with both at 0, each on MNIST's 60,000 training images (80/20
split) and scored on the 10,000 test images. Prints each fit's seconds, its
ratio to the seed's Keras code in this run, and the test accuracy.

    python benchmarks/bench_outlier_cost.py [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from seed_keras import fit_seed_keras

    from skdigits import make_pipeline
    from skdigits.datasets import fetch_mnist

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    print(f"load average {os.getloadavg()[0]:.2f}; seed {args.seed}", flush=True)

    start = time.perf_counter()
    seed_model = fit_seed_keras(X, y, epochs=10)
    seed_time = time.perf_counter() - start
    rows = X_test.reshape(len(X_test), -1).astype(np.float32) / np.float32(255)
    seed_accuracy = float(np.mean(seed_model.predict(rows, verbose=0).argmax(axis=1) == y_test))

    print("| fit | seconds | ÷ seed's Keras | test accuracy |")
    print("|---|---:|---:|---:|")
    print(f"| seed's Keras code | {seed_time:.0f} | 1.00 | {100 * seed_accuracy:.2f} % |")
    for name, params in (
        ("fast (outliers and digit variants)", {}),
        ("fast without them", {"outlier_exposure": 0.0, "digit_variants": 0.0}),
    ):
        pipe = make_pipeline(preset="fast", random_state=args.seed, **params)
        start = time.perf_counter()
        pipe.fit(X, y)
        seconds = time.perf_counter() - start
        accuracy = pipe.score(X_test, y_test)
        print(
            f"| {name} | {seconds:.0f} | {seconds / seed_time:.2f} | {100 * accuracy:.2f} % |",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

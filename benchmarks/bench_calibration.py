"""Expected calibration error of every preset on MNIST's test set, before and after a temperature.

Each recipe trains once on MNIST's 60,000 training images, of which Keras holds
out the last 20 % for validation; the temperature is fitted on those held-out
images at the end of ``fit`` (``calibration="temperature"``, the default). Both
columns come from that one fit: "before" is the net's own probabilities
(temperature 1), "after" is ``predict_proba``. The labels, so the accuracy, are
the same for both. ECE: 15 equal-width bins of the top probability (Guo et al.
2017), as a percentage.

    python benchmarks/bench_calibration.py                          # every preset
    python benchmarks/bench_calibration.py --presets default fast   # some rows
    python benchmarks/bench_calibration.py --presets default --subset 6000   # a smoke run

``default`` is ``make_pipeline()``'s (and ``skdigits train``'s) net: the MLP
with a softmax output, 10 epochs. CNN presets take minutes each on two cores;
they run one after the other.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

#: The number of equal-width confidence bins of the ECE.
N_BINS = 15


def expected_calibration_error(
    proba: np.ndarray, y_index: np.ndarray, n_bins: int = N_BINS
) -> float:
    """ECE of the top probability: the bins' mean |accuracy - confidence|, weighted by size."""
    confidence = proba.max(axis=1).astype(np.float64)
    correct = proba.argmax(axis=1) == y_index
    # Bin b holds confidences in (b/n, (b+1)/n]; the top probability is at least 1/k > 0.
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        members = bins == b
        if members.any():
            gap = abs(correct[members].mean() - confidence[members].mean())
            total += members.mean() * gap
    return total


def measure(preset: str, X, y, X_test, y_test, seed: int) -> dict[str, float]:
    """Fit one recipe; its test accuracy, temperature and ECE before and after."""
    from skdigits import make_pipeline

    pipe = make_pipeline(None if preset == "default" else preset, random_state=seed)
    start = time.perf_counter()
    pipe.fit(X, y)
    seconds = time.perf_counter() - start
    clf = pipe[-1]
    y_index = np.searchsorted(clf.classes_, y_test)
    after = pipe.predict_proba(X_test)
    # The same net at temperature 1: its normalised outputs.
    outputs = clf._net_outputs(pipe[0].transform(X_test))
    before = outputs / outputs.sum(axis=1, keepdims=True)
    return {
        "accuracy": float(np.mean(pipe.predict(X_test) == y_test)),
        "temperature": float(clf.temperature_),
        "ece_before": expected_calibration_error(before, y_index),
        "ece_after": expected_calibration_error(after, y_index),
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    from skdigits.estimator import PRESETS

    choices = ["default", *PRESETS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", choices=choices, default=choices)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subset", type=int, default=None, help="first N training images")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from skdigits.datasets import fetch_mnist

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    if args.subset is not None:
        X, y = X[: args.subset], y[: args.subset]
    print(f"load average {os.getloadavg()[0]:.2f}; seed {args.seed}; {len(X)} training images")
    print("| preset | test accuracy | T | ECE before | ECE after | fit |")
    print("|---|---:|---:|---:|---:|---:|")
    for preset in args.presets:
        r = measure(preset, X, y, X_test, y_test, args.seed)
        print(
            f"| {preset} | {100 * r['accuracy']:.2f} % | {r['temperature']:.3f} "
            f"| {100 * r['ece_before']:.2f} % | {100 * r['ece_after']:.2f} % "
            f"| {r['seconds']:.0f} s |",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How much does the scikit-learn wrapping cost at fit time?

Fits the same network (784-100-10, Adam, sparse categorical cross-entropy,
batch 32, 80/20 validation split) on the same MNIST images twice over: once
through ``skdigits.make_pipeline`` and once in raw Keras with the same
preprocessing done by hand. Runs alternate so that machine load affects both
alike; the printed ratio is pipeline time ÷ raw Keras time (target ≤ 1.05).
Two comparisons, like for like: unseeded, and seeded (``random_state`` on the
pipeline; ``keras.utils.set_random_seed`` plus TensorFlow's op determinism in raw
Keras, which is what ``random_state`` switches on). Then the pipeline with
Keras' progress bar (``verbose=1``) written into a pipe against a silent fit.
Both run the same ``steps_per_execution`` (the classifier's default), so the
ratio is the wrapper's cost alone; ``bench_fit_speed.py`` compares against Keras' own defaults.

    python benchmarks/bench_fit_overhead.py [--images 60000] [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps-per-execution", type=int, default=None)
    args = parser.parse_args()

    from seed_keras import fit_seed_keras

    from skdigits import DigitClassifier, fetch_mnist, make_pipeline
    from skdigits.cli._common import quiet_tensorflow
    from skdigits.nn._tf import seeded

    quiet_tensorflow()

    spe = args.steps_per_execution or DigitClassifier().steps_per_execution
    spe_kwarg = {"steps_per_execution": spe}

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X, y = X[: args.images], y[: args.images]

    def fit_pipeline(seed: int | None, verbose: int = 0) -> float:
        pipe = make_pipeline(
            epochs=args.epochs, random_state=seed, steps_per_execution=spe, verbose=verbose
        )
        start = time.perf_counter()
        if verbose:  # Keras' progress bar into a pipe, as under a CI log or `| tee`
            with contextlib.redirect_stdout(io.StringIO()):
                pipe.fit(X, y)
        else:
            pipe.fit(X, y)
        return time.perf_counter() - start

    def fit_keras(seed: int | None) -> float:
        # What random_state switches on: Keras' seeds and TensorFlow's op determinism.
        with seeded(seed):
            start = time.perf_counter()
            fit_seed_keras(X, y, epochs=args.epochs, output_activation="softmax", **spe_kwarg)
            return time.perf_counter() - start

    fit_keras(None)  # warm-up: first TensorFlow use pays one-off start-up costs
    print(f"images={len(X)} epochs={args.epochs} repeats={args.repeats} steps_per_execution={spe}")
    for with_seed in (False, True):
        pipeline_times, keras_times = [], []
        for rep in range(args.repeats):
            seed = rep if with_seed else None
            keras_times.append(fit_keras(seed))
            pipeline_times.append(fit_pipeline(seed))
        p, k = statistics.median(pipeline_times), statistics.median(keras_times)
        kind = "seeded  " if with_seed else "unseeded"
        print(
            f"{kind} raw Keras fit:         median {k:7.2f} s  {[round(t, 2) for t in keras_times]}"
        )
        print(
            f"{kind} skdigits pipeline fit: median {p:7.2f} s  "
            f"{[round(t, 2) for t in pipeline_times]}"
        )
        print(f"{kind} ratio pipeline / raw Keras: {p / k:.3f}  (target <= 1.05)")

    # Issue: printing progress must cost nothing measurable when it is not a terminal.
    silent, progress = [], []
    for _ in range(args.repeats):
        silent.append(fit_pipeline(None))
        progress.append(fit_pipeline(None, verbose=1))
    for label, times in (("progress into a pipe", progress), ("silent", silent)):
        median = statistics.median(times)
        print(f"{label:<20} fit: median {median:7.2f} s  {[round(t, 2) for t in times]}")
    ratio = statistics.median(progress) / statistics.median(silent)
    print(f"ratio progress (verbose=1, not a terminal) / silent: {ratio:.3f}")


if __name__ == "__main__":
    main()

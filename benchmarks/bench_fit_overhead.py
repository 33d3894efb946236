"""How much does the scikit-learn wrapping cost at fit time?

Fits the same network (784-100-10, Adam, sparse categorical cross-entropy,
batch 32, 80/20 validation split) on the same MNIST images twice over: once
through ``skdigits.make_pipeline`` and once in raw Keras with the same
preprocessing done by hand. Runs alternate so that machine load affects both
alike; the printed ratio is pipeline time ÷ raw Keras time (target ≤ 1.05).

    python benchmarks/bench_fit_overhead.py [--images 60000] [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from skdigits._tf import import_keras

    keras = import_keras()
    from skdigits import fetch_mnist, make_pipeline

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X, y = X[: args.images], y[: args.images]

    def fit_pipeline(seed: int) -> float:
        pipe = make_pipeline(epochs=args.epochs, random_state=seed)
        start = time.perf_counter()
        pipe.fit(X, y)
        return time.perf_counter() - start

    def fit_keras(seed: int) -> float:
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        Xs = X.reshape(len(X), -1).astype(np.float32) / np.float32(255)
        model = keras.Sequential(
            [
                keras.Input(shape=(784,)),
                keras.layers.Flatten(),
                keras.layers.Dense(100, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=0.001),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(Xs, y, epochs=args.epochs, batch_size=32, validation_split=0.2, verbose=0)
        return time.perf_counter() - start

    fit_keras(0)  # warm-up: first TensorFlow use pays one-off start-up costs
    pipeline_times, keras_times = [], []
    for seed in range(args.repeats):
        keras_times.append(fit_keras(seed))
        pipeline_times.append(fit_pipeline(seed))

    p, k = statistics.median(pipeline_times), statistics.median(keras_times)
    print(f"images={len(X)} epochs={args.epochs} repeats={args.repeats}")
    print(f"raw Keras fit:        median {k:7.2f} s  {[round(t, 2) for t in keras_times]}")
    print(f"skdigits pipeline fit: median {p:7.2f} s  {[round(t, 2) for t in pipeline_times]}")
    print(f"ratio pipeline / raw Keras: {p / k:.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()

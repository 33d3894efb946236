"""How fast does skdigits fit, next to the seed's own Keras code and scikit-learn's MLP?

One run, alternating, the same data and epochs on each side (48,000 MNIST training
images after the 80/20 split, scored on the 10,000 test images):

- the seed recipe through ``make_pipeline(preset="seed")`` against the seed's own
  Keras code with Keras' defaults (``compile`` without ``steps_per_execution``),
  target ratio <= 0.5, with both test accuracies;
- the tuned MLP and the tuned CNN presets as they are (one batch a call, so their
  learning-rate schedule steps every batch) against the same preset with the
  default ``steps_per_execution`` (the schedule then steps once per call);
- ``sklearn.neural_network.MLPClassifier((100,))`` for 10 iterations, for reference.

Every fit is seeded (``random_state`` / ``keras.utils.set_random_seed`` with op
determinism on both sides).

    python benchmarks/bench_fit_speed.py [--epochs N] [--repeats 1] [--skip tuned cnn sklearn]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="override every recipe's epochs")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], choices=("tuned", "cnn", "sklearn"))
    args = parser.parse_args()

    import tensorflow as tf
    from seed_keras import fit_seed_keras as seed_keras_model

    from skdigits.cli._common import quiet_tensorflow
    from skdigits.nn._tf import seeded

    quiet_tensorflow()
    from skdigits import DigitClassifier, fetch_mnist, make_pipeline

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    default_spe = DigitClassifier().steps_per_execution

    def epochs_of(params: dict) -> dict:
        return params if args.epochs is None else {**params, "epochs": args.epochs}

    def fit_skdigits(params: dict) -> tuple[float, float]:
        pipe = make_pipeline(**epochs_of(params), random_state=0)
        start = time.perf_counter()
        pipe.fit(X, y)
        seconds = time.perf_counter() - start
        return seconds, float(pipe.score(X_test, y_test))

    def fit_seed_keras() -> tuple[float, float]:
        """The seed's code: its net, Adam, sparse CE, Keras' defaults for the rest."""
        epochs = args.epochs or 10
        with seeded(0):
            start = time.perf_counter()
            model = seed_keras_model(X, y, epochs=epochs)
            seconds = time.perf_counter() - start
            Xt = X_test.reshape(len(X_test), -1).astype(np.float32) / np.float32(255)
            accuracy = float((model.predict(Xt, verbose=0).argmax(1) == y_test).mean())
        return seconds, accuracy

    def compare(name: str, before, after, target: str = "") -> None:
        b, a = [], []
        for _ in range(args.repeats):  # alternating, so load hits both alike
            b.append(before())
            a.append(after())
        tb, ta = statistics.median(t for t, _ in b), statistics.median(t for t, _ in a)
        accb, acca = statistics.mean(s for _, s in b), statistics.mean(s for _, s in a)
        print(
            f"{name:<34} {tb:8.1f} s  {ta:8.1f} s  {ta / tb:6.2f}{target:<8} "
            f"{accb:8.2%}  {acca:8.2%}",
            flush=True,
        )

    fit_seed_keras()  # warm-up: TensorFlow's one-off start-up costs
    print(
        f"{len(X)} training images (80/20 split), {len(X_test)} test images; "
        f"steps_per_execution={default_spe}; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start; TensorFlow {tf.__version__}"
    )
    print(
        f"{'fit':<34} {'before':>10}  {'skdigits':>10}  {'ratio':>6}{'':<8} "
        f"{'acc before':>9} {'acc':>8}"
    )
    compare(
        "seed recipe: seed's Keras code",
        fit_seed_keras,
        lambda: fit_skdigits({"preset": "seed"}),
        " (<=0.5)",
    )
    # The tuned presets keep one batch a call (their schedule steps every batch);
    # "skdigits" here is the same preset with the default steps_per_execution.
    for key, label, params in (
        ("tuned", "tuned MLP: preset / spe default", {"preset": "tuned"}),
        ("cnn", "tuned CNN: preset / spe default", {"preset": "tuned", "architecture": "cnn"}),
    ):
        if key not in args.skip:
            compare(
                label,
                lambda p=params: fit_skdigits(p),
                lambda p=params: fit_skdigits({**p, "steps_per_execution": default_spe}),
            )
    if "sklearn" not in args.skip:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        cut = int(len(X) * 0.8)
        mlp = MLPClassifier((100,), max_iter=args.epochs or 10, random_state=0)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X[:cut].reshape(cut, -1) / 255.0, y[:cut])
        seconds = time.perf_counter() - start
        accuracy = mlp.score(X_test.reshape(len(X_test), -1) / 255.0, y_test)
        print(
            f"{'sklearn MLPClassifier((100,))':<34} {'':>10}  {seconds:8.1f} s  {'':>14} "
            f"{'':>9} {accuracy:8.2%}"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

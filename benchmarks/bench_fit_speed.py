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
from dataclasses import dataclass

import numpy as np


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="override every recipe's epochs")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], choices=("tuned", "cnn", "sklearn"))
    return parser


@dataclass(frozen=True)
class Fits:
    """The data and settings every timed fit of one run shares."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    epochs: int | None
    repeats: int

    def skdigits(self, params: dict) -> tuple[float, float]:
        """Seconds to fit ``make_pipeline(**params)``, and its test accuracy."""
        from skdigits import make_pipeline

        if self.epochs is not None:
            params = {**params, "epochs": self.epochs}
        pipe = make_pipeline(**params, random_state=0)
        start = time.perf_counter()
        pipe.fit(self.X, self.y)
        seconds = time.perf_counter() - start
        return seconds, float(pipe.score(self.X_test, self.y_test))

    def seed_keras(self) -> tuple[float, float]:
        """The seed's code: its net, Adam, sparse CE, Keras' defaults for the rest."""
        from seed_keras import fit_seed_keras

        from skdigits.nn._tf import seeded

        with seeded(0):
            start = time.perf_counter()
            model = fit_seed_keras(self.X, self.y, epochs=self.epochs or 10)
            seconds = time.perf_counter() - start
            Xt = self.X_test.reshape(len(self.X_test), -1).astype(np.float32) / np.float32(255)
            accuracy = float((model.predict(Xt, verbose=0).argmax(1) == self.y_test).mean())
        return seconds, accuracy

    def compare(self, name: str, before, after, target: str = "") -> None:
        """Print the median seconds of each side, their ratio and mean accuracies."""
        b, a = [], []
        for _ in range(self.repeats):  # alternating, so load hits both alike
            b.append(before())
            a.append(after())
        tb, ta = statistics.median(t for t, _ in b), statistics.median(t for t, _ in a)
        accb, acca = statistics.mean(s for _, s in b), statistics.mean(s for _, s in a)
        print(
            f"{name:<34} {tb:8.1f} s  {ta:8.1f} s  {ta / tb:6.2f}{target:<8} "
            f"{accb:8.2%}  {acca:8.2%}",
            flush=True,
        )

    def sklearn_mlp(self) -> None:
        """Print scikit-learn's MLPClassifier((100,)) on the same 80 %, for reference."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        cut = int(len(self.X) * 0.8)
        mlp = MLPClassifier((100,), max_iter=self.epochs or 10, random_state=0)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(self.X[:cut].reshape(cut, -1) / 255.0, self.y[:cut])
        seconds = time.perf_counter() - start
        accuracy = mlp.score(self.X_test.reshape(len(self.X_test), -1) / 255.0, self.y_test)
        print(
            f"{'sklearn MLPClassifier((100,))':<34} {'':>10}  {seconds:8.1f} s  {'':>14} "
            f"{'':>9} {accuracy:8.2%}"
        )


def main() -> None:
    args = _parser().parse_args()

    import tensorflow as tf

    from skdigits.cli._common import quiet_tensorflow

    quiet_tensorflow()
    from skdigits import DigitClassifier, fetch_mnist

    fits = Fits(
        *fetch_mnist(subset="train", return_X_y=True),
        *fetch_mnist(subset="test", return_X_y=True),
        epochs=args.epochs,
        repeats=args.repeats,
    )
    default_spe = DigitClassifier().steps_per_execution

    fits.seed_keras()  # warm-up: TensorFlow's one-off start-up costs
    print(
        f"{len(fits.X)} training images (80/20 split), {len(fits.X_test)} test images; "
        f"steps_per_execution={default_spe}; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start; TensorFlow {tf.__version__}"
    )
    print(
        f"{'fit':<34} {'before':>10}  {'skdigits':>10}  {'ratio':>6}{'':<8} "
        f"{'acc before':>9} {'acc':>8}"
    )
    fits.compare(
        "seed recipe: seed's Keras code",
        fits.seed_keras,
        lambda: fits.skdigits({"preset": "seed"}),
        " (<=0.5)",
    )
    # The tuned presets keep one batch a call (their schedule steps every batch);
    # "skdigits" here is the same preset with the default steps_per_execution.
    for key, label, params in (
        ("tuned", "tuned MLP: preset / spe default", {"preset": "tuned"}),
        ("cnn", "tuned CNN: preset / spe default", {"preset": "tuned", "architecture": "cnn"}),
    ):
        if key not in args.skip:
            fits.compare(
                label,
                lambda p=params: fits.skdigits(p),
                lambda p=params: fits.skdigits({**p, "steps_per_execution": default_spe}),
            )
    if "sklearn" not in args.skip:
        fits.sklearn_mlp()
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

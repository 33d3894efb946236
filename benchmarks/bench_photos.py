"""Accuracy on generated photos of MNIST test digits, per condition, in one run.

The photos come from ``tests/photos.py``: MNIST test digits inked onto paper and
put through uneven lighting, vignetting, shadows, grey and ruled paper, JPEG at
quality 30, blur and a 12 MP phone picture. Each is read by
``skdigits.io._images.load_digit_image`` exactly as ``skdigits predict`` reads an
image file. Next to each condition the script prints the same model's accuracy
on the same digits given as MNIST arrays: the difference is what the photo and
its preparation cost.

    python benchmarks/bench_photos.py --model models/mnist.onnx   # an exported model
    python benchmarks/bench_photos.py                  # trains a quick reference net first
    python benchmarks/bench_photos.py --preset seed --train-subset 60000   # the seed model
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from photos import CONDITIONS, make_photos


def _model(args: argparse.Namespace, X: np.ndarray, y: np.ndarray):
    if args.model is not None:
        from skdigits.cli.predict import load_predictor

        return load_predictor(args.model), str(args.model)
    from skdigits import make_pipeline

    start = time.perf_counter()
    if args.preset is not None:  # the preset decides the epochs
        pipe = make_pipeline(preset=args.preset, random_state=0, verbose=0)
        recipe = f"preset={args.preset!r}"
    else:
        pipe = make_pipeline(epochs=args.epochs, random_state=0, verbose=0)
        recipe = f"the reference net for {args.epochs} epochs"
    pipe.fit(X[: args.train_subset], y[: args.train_subset])
    what = (
        f"{recipe}, trained here on {min(args.train_subset, len(X))} MNIST images "
        f"({time.perf_counter() - start:.0f} s)"
    )

    class _Pipe:
        def predict_with_proba(self, images):
            proba = pipe.predict_proba(images)
            return pipe.classes_[proba.argmax(axis=1)], proba

    return _Pipe(), what


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an .onnx or .skdigits model")
    parser.add_argument("--per-condition", type=int, default=30)
    parser.add_argument("--train-subset", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--preset",
        choices=("seed", "tuned"),
        help="train this named recipe instead (with --train-subset 60000: the real one)",
    )
    args = parser.parse_args()

    from skdigits.datasets import fetch_mnist
    from skdigits.io._images import load_digit_image

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    model, what = _model(args, X, y)

    start = time.perf_counter()
    photos = list(make_photos(X_test, y_test, per_condition=args.per_condition))
    made = time.perf_counter() - start
    start = time.perf_counter()
    read, blank = [], 0
    for photo in photos:
        try:
            read.append(load_digit_image(io.BytesIO(photo.data)))
        except Exception:  # counted as wrong, and as unreadable
            read.append(np.zeros((28, 28), np.float32))
            blank += 1
    took = time.perf_counter() - start
    labels = np.array([p.label for p in photos])
    conditions = np.array([p.condition for p in photos])
    on_photos, _ = model.predict_with_proba(np.stack(read))
    on_arrays, _ = model.predict_with_proba(X_test[: len(photos)].astype(np.float32))

    print(f"model: {what}")
    print(
        f"{len(photos)} photos ({args.per_condition} per condition), made in {made:.1f} s, "
        f"read in {took:.1f} s; unreadable: {blank}\n"
    )
    print("| condition | photos read correctly | same digits as MNIST arrays |")
    print("|---|---|---|")
    for name in CONDITIONS:
        m = conditions == name
        print(
            f"| {name} | {np.mean(on_photos[m] == labels[m]):.1%} | "
            f"{np.mean(on_arrays[m] == labels[m]):.1%} |"
        )
    print(
        f"| **all** | **{np.mean(on_photos == labels):.1%}** | {np.mean(on_arrays == labels):.1%} |"
    )


if __name__ == "__main__":
    main()

"""Accuracy on generated photos of MNIST test digits, per condition, in one run.

The photos are a folder of image files with a ``photos.csv`` naming each one's
condition, true label and the index of its digit in the MNIST test set, as the
tests' generator writes them (MNIST test digits inked onto paper and put through
uneven lighting, vignetting, shadows, grey and ruled paper, JPEG at quality 30,
blur and a 12 MP phone picture). Each is read by
``skdigits.io._images.load_digit_image`` exactly as ``skdigits predict`` reads an
image file. Next to each condition the script prints the same model's accuracy
on the same digits given as MNIST arrays: the difference is what the photo and
its preparation cost.

    python tests/_support/photos.py /tmp/photos --per-condition 30   # write the photos
    python benchmarks/bench_photos.py /tmp/photos --model models/mnist.onnx   # an exported model
    python benchmarks/bench_photos.py /tmp/photos      # trains a quick reference net first
    python benchmarks/bench_photos.py /tmp/photos --preset seed --train-subset 60000
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

MANIFEST = "photos.csv"


def _model(args: argparse.Namespace, X: np.ndarray, y: np.ndarray):
    if args.model is not None:
        from skdigits.models import load_predictor

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


def read_photo_folder(folder: Path) -> list[dict[str, str]]:
    """The rows of ``folder/photos.csv``: file, condition, label, mnist_test_index."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise SystemExit(
            f"{manifest} does not exist; write the photos first: "
            f"python tests/_support/photos.py {folder} --per-condition 30"
        )
    with open(manifest, newline="") as fh:
        return list(csv.DictReader(fh))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path, help="a folder of photos with its photos.csv")
    parser.add_argument("--model", type=Path, help="an .onnx or .skdigits model")
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

    photos = read_photo_folder(args.photos)
    X, y = fetch_mnist(subset="train", return_X_y=True)
    X_test, _ = fetch_mnist(subset="test", return_X_y=True)
    model, what = _model(args, X, y)

    start = time.perf_counter()
    read, blank = [], 0
    for photo in photos:
        try:
            read.append(load_digit_image(args.photos / photo["file"]))
        except Exception:  # counted as wrong, and as unreadable
            read.append(np.zeros((28, 28), np.float32))
            blank += 1
    took = time.perf_counter() - start
    labels = np.array([int(p["label"]) for p in photos])
    conditions = np.array([p["condition"] for p in photos])
    digits = X_test[[int(p["mnist_test_index"]) for p in photos]]
    on_photos, _ = model.predict_with_proba(np.stack(read))
    on_arrays, _ = model.predict_with_proba(digits.astype(np.float32))

    print(f"model: {what}")
    print(f"{len(photos)} photos from {args.photos}, read in {took:.1f} s; unreadable: {blank}\n")
    print("| condition | photos read correctly | same digits as MNIST arrays |")
    print("|---|---|---|")
    for name in dict.fromkeys(conditions):  # in the order of the manifest
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

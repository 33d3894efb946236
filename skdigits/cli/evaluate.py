"""``skdigits evaluate``: accuracy and confusions of a model on the MNIST test set."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._core.errors import ModelFileError
from .._core.values import dumps_json, python_scalar
from ._common import (
    Command,
    add_data_options,
    add_pickle_option,
    common_options,
    load_mnist,
    open_model,
    printable,
)

#: What the error says when MODEL is an image or an array.
USAGE_HINT = "skdigits evaluate MODEL scores an .onnx or .skdigits model file on MNIST"

COMMAND = Command(
    "evaluate",
    help="score an ONNX or .skdigits model on the MNIST test set",
    description="""
        Predict MNIST's 10,000 test images and print the accuracy, the confusion matrix
        and the most-confused pairs. An ONNX model runs on onnxruntime alone. MNIST is
        downloaded into the cache the first time (said on stderr).
    """,
    examples=(
        "skdigits evaluate model.onnx",
        "skdigits evaluate model.skdigits --json",
        "skdigits evaluate model.onnx --mnist-dir ~/mnist --offline   # no download",
    ),
    model="an .onnx file or a .skdigits pipeline",
    options=(common_options(json="print the results as JSON"), add_data_options, add_pickle_option),
)


def run(args: argparse.Namespace) -> int:
    from ..analysis._evaluation import evaluate_predictions

    predictor = open_model(args.model, allow_pickle=args.allow_pickle, hint=USAGE_HINT)
    _check_digit_classes(args.model, predictor.classes_)
    X_test, y_test = load_mnist(args, "test")
    labels, _ = predictor.predict_with_proba(X_test)
    ev = evaluate_predictions(y_test, labels, labels=predictor.classes_)
    if args.json:
        print(
            dumps_json(
                {
                    "model": str(args.model),
                    "n_samples": ev.n_samples,
                    "accuracy": ev.accuracy,
                    "labels": ev.labels.tolist(),
                    "confusion_matrix": ev.confusion.tolist(),
                    "most_confused": [list(map(python_scalar, p)) for p in ev.most_confused(5)],
                }
            )
        )
    else:
        print(
            ev.format(
                title=f"{printable(args.model)} on the MNIST test set ({ev.n_samples} images)"
            )
        )
    return 0


def _check_digit_classes(path: Path, classes: Any) -> None:
    """Refuse, before MNIST loads, a model that cannot predict every digit 0-9."""
    missing = sorted(set(range(10)) - {python_scalar(c) for c in classes})
    if missing:
        shown = ", ".join(map(str, missing))
        raise ModelFileError(
            f"{printable(path)} predicts {len(classes)} classes without digit(s) {shown}, "
            "so it cannot be scored on MNIST's labels 0-9; evaluate a model trained on all "
            "ten digits"
        )

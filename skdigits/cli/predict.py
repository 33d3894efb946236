"""``skdigits predict``: labels for .npy arrays, IDX files or image files.

On an ONNX model this imports numpy and onnxruntime (and Pillow for image
files) only; TensorFlow is loaded just for a saved ``.skdigits`` pipeline.
"""

from __future__ import annotations

import argparse
import csv
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._core.errors import DataError, SkdigitsError
from .._core.values import dumps_json, python_scalar
from ..io._inputs import INVERT_CHOICES, SCALE_CHOICES
from ._common import (
    Command,
    add_common_options,
    add_pickle_option,
    note,
    open_model,
    option_group,
    positive_int,
    printable,
    unit_interval,
)

#: What the error says when MODEL is an image or an array: the arguments swapped.
USAGE_HINT = "the model comes first: skdigits predict MODEL INPUT..."


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        type=Path,
        nargs="+",
        metavar="INPUT",
        help="a .npy array ((28, 28), (N, 28, 28) or (N, 784) pixels), an IDX image file "
        "(raw or gzip, as MNIST ships), or an image file (PNG, JPEG, GIF, BMP, TIFF, WebP, "
        "PNM), which is prepared as MNIST was: greyscale, white on black, cropped, fitted "
        "into 20x20 and centred in 28x28",
    )
    fmt = parser.add_mutually_exclusive_group()
    add_common_options(fmt, json="one JSON document on stdout")
    fmt.add_argument("--csv", action="store_true", help="CSV on stdout")
    parser.add_argument(
        "--labels",
        type=Path,
        help="true labels (.npy or IDX) for a single array INPUT: adds a column and accuracy",
    )
    parser.add_argument(
        "--limit", type=positive_int, metavar="N", help="use only the first N images"
    )
    refuse = parser.add_mutually_exclusive_group()
    refuse.add_argument(
        "--digit-threshold",
        type=unit_interval,
        metavar="T",
        help="the digit score (0-1) below which an image is 'not a digit' (default: the "
        "threshold stored in the model, which keeps 99 %% of its validation digits)",
    )
    refuse.add_argument(
        "--accept-all",
        action="store_true",
        help="take every image for a digit (is_digit true everywhere; the digit score is "
        "still reported)",
    )


def _add_array_options(group: Any) -> None:
    group.add_argument(
        "--scale",
        choices=SCALE_CHOICES,
        default="auto",
        help="'255': raw intensities 0-255 (MNIST's); '1': values in [0, 1], multiplied "
        "by 255; 'auto': float values all within [0, 1] are multiplied by 255, with a note "
        "on stderr (default: %(default)s)",
    )
    group.add_argument(
        "--invert",
        choices=INVERT_CHOICES,
        default="auto",
        help="'auto': an image whose border is mostly bright (dark digit on light) is "
        "inverted to white on black, with a note on stderr; 'yes': every image; 'no': none "
        "(default: %(default)s)",
    )


COMMAND = Command(
    "predict",
    help="predict digits in .npy arrays, IDX files or images",
    description="""
        Predict the digit in each input. The format of each INPUT is read from its
        content, not its name. Every readable input is predicted; each unreadable one is
        reported on stderr (and as a row with an `error` field in --json/--csv), and the
        exit status is then 1. An image whose digit score is below the model's threshold
        is shown as "not a digit" (is_digit false), with its best label still given.
    """,
    examples=(
        "skdigits predict model.onnx seven.png three.jpg     # image files, any size",
        "skdigits predict model.onnx digits.npy --scale 1 --json   # a [0, 1] array",
        "skdigits predict model.onnx t10k-images-idx3-ubyte --labels t10k-labels-idx1-ubyte "
        "--limit 20",
    ),
    model="an .onnx file (fast) or a .skdigits pipeline",
    options=(
        _add_input_options,
        option_group("array conventions (.npy and IDX inputs)", _add_array_options),
        add_pickle_option,
    ),
)


def run(args: argparse.Namespace) -> int:
    from ..io._inputs import read_inputs

    predictor = open_model(args.model, allow_pickle=args.allow_pickle, hint=USAGE_HINT)
    if args.labels is not None and len(args.inputs) != 1:
        raise SkdigitsError("--labels needs exactly one INPUT array to line up with")
    results = read_inputs(args.inputs, scale=args.scale, invert=args.invert)
    failed = [r for r in results if r.error is not None]
    if args.labels is not None and failed:
        raise DataError(failed[0].error or "")
    for r in results:
        for text in r.notes:
            note(f"note: {printable(r.source)}: {text}")
    stacks = [(r.source, r.images) for r in results if r.images is not None]
    names = [(source, i) for source, images in stacks for i in range(len(images))]
    X = (
        np.concatenate([images for _, images in stacks])
        if stacks
        else np.zeros((0, 28, 28), np.float32)
    )
    truth = None if args.labels is None else _true_labels(args, predictor, len(X))
    if args.limit is not None:
        X, names = X[: args.limit], names[: args.limit]
        truth = truth[: args.limit] if truth is not None else None

    with warnings.catch_warnings():
        # The conventions were settled by --scale/--invert: no second guess from the model.
        warnings.simplefilter("ignore", UserWarning)
        labels, proba, scores = predictor.predict_with_score(X)
    threshold = _threshold(args, predictor)
    classes = [python_scalar(c) for c in predictor.classes_]
    predicted = _prediction_rows(names, labels, proba, truth)
    for row, score in zip(predicted, scores, strict=True):
        row["is_digit"] = bool(score >= threshold)
        row["digit_score"] = round(float(score), 6)
    for r in failed:
        print(f"skdigits: error: {printable(r.error)}", file=sys.stderr)
    # Every input in the order given: its predictions, or one row saying why it has none.
    rows: list[dict[str, Any]] = []
    taken = 0
    for r in results:
        if r.images is None:
            rows.append(
                {
                    "input": r.source,
                    "index": None,
                    "label": None,
                    "probability": None,
                    "is_digit": None,
                    "digit_score": None,
                    "error": r.error,
                }
            )
        else:  # predicted rows follow the readable inputs in order (--limit cuts the tail)
            rows.extend(predicted[taken : taken + len(r.images)])
            taken += len(r.images)

    _print_results(args, rows, predicted, classes, threshold, truth)
    return 1 if failed else 0


def _print_results(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    predicted: list[dict[str, Any]],
    classes: list[Any],
    threshold: float,
    truth: np.ndarray | None,
) -> None:
    """Every row as --json, --csv or (predicted rows only) the text table."""
    if args.json:
        doc: dict[str, Any] = {
            "model": str(args.model),
            "classes": classes,
            "digit_threshold": threshold,
            "predictions": rows,
        }
        if truth is not None:
            doc["accuracy"] = float(np.mean([r["label"] == r["true"] for r in predicted]))
        print(dumps_json(doc, indent=2))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        head = ["input", "index", "label", "probability", "is_digit", "digit_score"]
        head += ["true"] if truth is not None else []
        writer.writerow([*head, *(f"p_{c}" for c in classes), "error"])
        for row in rows:
            cells = [_csv_cell(row.get(h)) for h in head]
            probabilities = row.get("probabilities", [""] * len(classes))
            writer.writerow([*cells, *probabilities, row.get("error", "")])
    elif predicted:
        _print_table(predicted, truth is not None)
        if truth is not None:
            correct = sum(r["label"] == r["true"] for r in predicted)
            print(f"\n{correct}/{len(predicted)} correct ({correct / len(predicted):.2%})")


def _threshold(args: argparse.Namespace, predictor: Any) -> float:
    """The digit threshold applied: 0.0 with --accept-all, --digit-threshold, or the model's."""
    if args.accept_all:
        return 0.0  # every score is at least 0: every image is a digit
    if args.digit_threshold is not None:
        return float(args.digit_threshold)
    return float(predictor.digit_threshold_)


def _csv_cell(value: Any) -> Any:
    """A CSV cell: empty for None, JSON's spelling for a truth value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _true_labels(args: argparse.Namespace, predictor: Any, n_images: int) -> np.ndarray:
    """The --labels file's labels, one per image, checked against the model's classes."""
    from ..io._inputs import read_labels
    from ..runtime._checks import check_true_labels

    truth = read_labels(args.labels).ravel()
    if len(truth) != n_images:
        raise DataError(
            f"{args.labels} has {len(truth)} labels but {args.inputs[0]} has {n_images} "
            "images; pass the matching label file"
        )
    return check_true_labels(
        truth,
        np.asarray(predictor.classes_),
        what=str(args.labels),
        fix="pass the matching label file",
    )


def _prediction_rows(
    names: list[tuple[str, int]], labels: np.ndarray, proba: np.ndarray, truth: np.ndarray | None
) -> list[dict[str, Any]]:
    rows = []
    for i, ((source, index), label) in enumerate(zip(names, labels, strict=True)):
        row: dict[str, Any] = {
            "input": source,
            "index": index,
            "label": label.item(),
            "probability": float(proba[i].max()),
        }
        if truth is not None:
            row["true"] = truth[i].item()
        row["probabilities"] = [round(float(p), 6) for p in proba[i]]
        rows.append(row)
    return rows


def _print_table(rows: list[dict[str, Any]], with_truth: bool) -> None:
    # A file name may hold terminal escapes: the table shows them escaped.
    shown = [printable(Path(r["input"]).name) for r in rows]
    source_width = max(map(len, shown))
    head = f"{'input':<{source_width}}  {'index':>5}  {'label':>5}  {'prob':>6}  {'score':>6}"
    if with_truth:
        head += f"  {'true':>5}"
    print(head)
    for name, r in zip(shown, rows, strict=True):
        line = (
            f"{name:<{source_width}}  {r['index']:>5}  {r['label']!s:>5}  "
            f"{r['probability']:>6.3f}  {r['digit_score']:>6.3f}"
        )
        if with_truth:
            mark = "" if r["label"] == r["true"] else "  ✗"
            line += f"  {r['true']!s:>5}{mark}"
        if not r["is_digit"]:  # the best label stays in its column, for who wants it
            line += "  not a digit"
        print(line)

"""``skdigits read``: the whole number written in each image.

On an ONNX model this imports numpy, onnxruntime and Pillow only; TensorFlow is
loaded just for a saved ``.skdigits`` pipeline.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from .._core.errors import DataError
from .._core.values import dumps_json
from ._common import Command, add_common_options, add_pickle_option, open_model, printable

#: What the error says when MODEL is an image: the arguments swapped.
USAGE_HINT = "the model comes first: skdigits read MODEL INPUT..."


def digit_count(text: str) -> tuple[int, int]:
    """argparse ``type=``: ``N`` or ``N-M`` digits, as (fewest, most)."""
    from ..reading._read import parse_length

    try:
        return parse_length(text)
    except DataError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        type=Path,
        nargs="+",
        metavar="INPUT",
        help="an image file (PNG, JPEG, GIF, BMP, TIFF, WebP, PNM) of one number, written "
        "on a line: dark on light or light on dark, drawn, scanned or photographed",
    )
    fmt = parser.add_mutually_exclusive_group()
    add_common_options(fmt, json="one JSON document on stdout, with each digit's box")
    fmt.add_argument("--csv", action="store_true", help="CSV on stdout: one row per input")
    parser.add_argument(
        "--length",
        type=digit_count,
        metavar="N or N-M",
        help="the number of digits each input holds, or the fewest and most (a form field)",
    )


COMMAND = Command(
    "read",
    help="read whole handwritten numbers (several digits) in images",
    description="""
        Read the number written in each INPUT: its ink is cut into candidate
        digits (where digits touch, and keeping apart strokes of one digit
        together), every candidate is classified, and the reading is the
        sequence the model is surest of. A mark standing apart that the
        model's digit score puts far under its threshold is left out as noise;
        an input whose marks are all left out is an error. Each unreadable input is reported on
        stderr (and as a row with an `error` field in --json/--csv) while the
        others are read, and the exit status is then 1.
    """,
    examples=(
        "skdigits read model.onnx year.png                 # prints e.g. 2026",
        "skdigits read model.onnx meter*.jpg --length 5 --json",
        "skdigits read model.onnx code.png --length 4-6 --csv",
    ),
    model="an .onnx file (fast) or a .skdigits pipeline",
    options=(_add_options, add_pickle_option),
)


def run(args: argparse.Namespace) -> int:
    from ..reading import read_numbers

    predictor = open_model(args.model, allow_pickle=args.allow_pickle, hint=USAGE_HINT)
    rows: list[dict[str, Any]] = []
    for path in args.inputs:
        source = str(path)
        try:
            (reading,) = read_numbers(predictor, path, length=args.length)
        except DataError as err:
            print(f"skdigits: error: {err}", file=sys.stderr)
            rows.append({"input": source, "text": None, "probability": None, "error": str(err)})
            continue
        rows.append({"input": source, **reading.to_dict()})
    if args.json:
        print(dumps_json({"model": str(args.model), "readings": rows}, indent=2))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["input", "text", "probability", "digit_probabilities", "error"])
        for row in rows:
            each = " ".join(f"{d['probability']:.4f}" for d in row.get("digits", []))
            probability = "" if row["probability"] is None else f"{row['probability']:.6f}"
            writer.writerow(
                [row["input"], row["text"] or "", probability, each, row.get("error", "")]
            )
    else:
        _print_table([row for row in rows if "error" not in row])
    return 1 if any("error" in row for row in rows) else 0


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = [printable(Path(row["input"]).name) for row in rows]
    width = max(len(name) for name in names)
    print(f"{'input':<{width}}  {'number':>12}  {'prob':>6}")
    for name, row in zip(names, rows, strict=True):
        print(f"{name:<{width}}  {row['text']:>12}  {row['probability']:>6.3f}")

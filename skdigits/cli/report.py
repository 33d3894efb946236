"""``skdigits report``: figures and an HTML page that show what a saved model learnt."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._core.errors import SkdigitsError
from ._common import (
    Command,
    add_common_options,
    add_data_options,
    load_mnist,
    quiet_tensorflow,
)


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    add_common_options(
        parser,
        output="directory to write into (default: the model's path without its suffix, plus "
        "'-report'); other files in it are left alone",
        output_metavar="DIR",
        force="replace the files of an earlier report in DIR",
    )
    # The spelling of earlier versions, kept working but no longer shown.
    parser.add_argument("--out", dest="output", type=Path, help=argparse.SUPPRESS)


COMMAND = Command(
    "report",
    help="write figures and an HTML report for a saved .skdigits model",
    description="""
        Score a saved pipeline on MNIST's 10,000 test images and write PNG figures
        (confusion matrix, the most confidently wrong digits, precision and recall per
        digit, learning curves, first-layer weights, mean hidden activations per digit),
        the confusion matrix as JSON and CSV, and one self-contained HTML page. Needs
        matplotlib: pip install "skdigits[plot]".
    """,
    examples=(
        "skdigits report model.skdigits              # writes model-report/",
        "skdigits report model.skdigits -o report/ --force",
        "skdigits train --subset 10000 --epochs 3 --report report/",
    ),
    model="a .skdigits pipeline written by `skdigits train`",
    options=(_add_output_options, add_data_options),
)


def run(args: argparse.Namespace) -> int:
    from ..analysis._report import check_report_dir

    if args.model.suffix.lower() == ".onnx":
        raise SkdigitsError(
            f"{args.model} is an ONNX model; the report reads the weights, training history "
            "and hidden activations of the saved .skdigits pipeline, so pass that file instead"
        )
    out_dir = args.output if args.output is not None else default_report_dir(args.model)
    check_report_dir(out_dir, overwrite=args.force)
    from ..model_io._format import load_metadata

    load_metadata(args.model)  # a bad file is refused before MNIST and TensorFlow load
    X_test, y_test = load_mnist(args, "test")

    quiet_tensorflow()
    from ..analysis._report import write_report
    from ..estimator._saving import load_model

    pipeline = load_model(args.model)
    result = write_report(
        pipeline,
        X_test,
        y_test,
        out_dir,
        title=f"skdigits report: {args.model.name}",
        overwrite=args.force,
    )
    print(format_written(result))
    return 0


def default_report_dir(model: Path) -> Path:
    """``models/mnist.skdigits`` → ``models/mnist-report``."""
    return model.with_name(f"{model.stem}-report")


def format_written(result) -> str:
    """The files a report wrote, one per line, the HTML page first."""
    lines = [
        f"wrote the report ({result.evaluation.n_samples:,} test images, "
        f"accuracy {result.evaluation.accuracy:.4f}) to {result.out_dir}:"
    ]
    lines += [f"  {path}" for path in result.paths]
    return "\n".join(lines)

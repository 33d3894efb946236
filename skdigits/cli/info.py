"""``skdigits info``: what a model file is, without loading TensorFlow."""

from __future__ import annotations

import argparse

from .._core.values import dumps_json
from ._common import Command, common_options, printable

#: What the error says when MODEL is an image or an array.
USAGE_HINT = "skdigits info MODEL reads an .onnx or .skdigits model file"

COMMAND = Command(
    "info",
    help="print the metadata of an ONNX or .skdigits model file",
    description="""
        Print what a deployer needs to know about a model file: classes, accuracy
        measured at training, hyper-parameters, versions. TensorFlow is never loaded.
    """,
    examples=("skdigits info model.onnx", "skdigits info model.skdigits --json"),
    model="an .onnx file or a .skdigits file",
    options=(common_options(json="print the metadata as JSON"),),
)


def run(args: argparse.Namespace) -> int:
    from ..models import check_not_input_file, model_kind, refuse_pickle

    check_not_input_file(args.model, hint=USAGE_HINT)
    kind = model_kind(args.model)
    if kind == "pickle":
        refuse_pickle(args.model, allow_hint=None)  # info never unpickles: it only reads metadata
    if kind == "skdigits":
        from ..model_io._format import load_metadata

        manifest = load_metadata(args.model)
        info = {
            "format": manifest["format"],
            "skdigits_version": manifest.get("skdigits_version"),
            "classes": manifest.get("classes"),
            "hyperparameters": manifest["steps"][1]["params"],
            # Checked by load_metadata; a file from before them has neither.
            "temperature": manifest.get("temperature", 1.0),
            "digit_threshold": manifest.get("digit_threshold", 0.0),
            **manifest.get("metadata", {}),
        }
    else:
        from ..runtime._predictor import OnnxDigitClassifier

        info = dict(OnnxDigitClassifier(args.model).metadata)
    if args.json:
        print(dumps_json(info, indent=2, sort_keys=True, default=str))
        return 0
    # Keys and values come from the file: a terminal escape in them is shown escaped.
    shown = {printable(key): value for key, value in info.items()}
    width = max(map(len, shown), default=0)
    for key in sorted(shown):
        value = shown[key]
        if isinstance(value, dict | list):
            value = dumps_json(value, sort_keys=True, default=str)
        print(f"{key:<{width}}  {printable(value)}")
    return 0

"""``skdigits info``: what a model file is, without loading TensorFlow."""

from __future__ import annotations

import argparse
import json

from ._common import Command, common_options

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
    from ..models import model_kind, refuse_pickle

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
            **manifest.get("metadata", {}),
        }
    else:
        from ..runtime._predictor import OnnxDigitClassifier

        info = dict(OnnxDigitClassifier(args.model).metadata)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True, default=str))
        return 0
    width = max(map(len, info), default=0)
    for key in sorted(info):
        value = info[key]
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True, default=str)
        print(f"{key:<{width}}  {value}")
    return 0

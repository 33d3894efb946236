"""``skdigits export``: a saved pipeline → one ONNX file, checked against the pipeline.

``--format ort`` writes onnxruntime's ORT format instead (gated on the ``.ort`` file),
and ``--web DIR`` a static site that runs the model in the browser.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._common import (
    Command,
    add_common_options,
    add_data_options,
    check_not_overwriting,
    check_output_path,
    load_mnist,
    option_group,
    positive_int,
    quiet_tensorflow,
)


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    add_common_options(
        where,
        output="the .onnx (or .ort) file to write (default: MODEL with the suffix .onnx, or "
        ".ort with --format ort)",
    )
    add_common_options(
        parser, force="overwrite --output, or replace the site in --web DIR, if it exists"
    )
    where.add_argument(
        "--web",
        type=Path,
        metavar="DIR",
        help="write a folder that runs the model in the browser (drawing page, model.onnx, "
        "onnxruntime-web); serve it with any static file server",
    )


def _add_graph_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("onnx", "ort"),
        default="onnx",
        help="onnx, or ort: onnxruntime's format for mobile and minimal builds, parity-checked "
        "on the .ort file, with OUTPUT's required_operators.config beside it (default: onnx)",
    )
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, 13-18 (default: 17)")
    parser.add_argument(
        "--check-images",
        type=positive_int,
        default=1000,
        metavar="N",
        help="MNIST test images used by the parity check (default: %(default)s)",
    )
    parser.add_argument(
        "--ort-web-dir",
        type=Path,
        metavar="DIR",
        help="with --web: a folder holding onnxruntime-web (its dist files, the unpacked "
        "package or its .tgz) instead of fetching it with npm or from the npm registry",
    )


def _add_int8_options(group: Any) -> None:
    group.add_argument(
        "--quantize",
        choices=("int8",),
        default=None,
        help="write an int8 model (onnxruntime's quantisation tools); the parity gate on "
        "the int8 graph is replaced by an accuracy gate on the full MNIST test set",
    )
    group.add_argument(
        "--quantize-method",
        choices=("static", "dynamic"),
        default="static",
        help="static: onnxruntime's recommended QDQ int8 for x86, per-channel weights, "
        "activation ranges calibrated on 500 training images; dynamic: int8 weights, "
        "activations quantised at run time (default: %(default)s)",
    )
    group.add_argument(
        "--allow-slower",
        action="store_true",
        help="write the int8 model even if it ran slower than fp32 here (it is still "
        "about a quarter of the size)",
    )
    group.add_argument(
        "--max-accuracy-loss",
        type=float,
        default=0.3,
        metavar="POINTS",
        help="refuse to write the int8 model if it loses more than this many percentage "
        "points of test accuracy against fp32 (default: %(default)s)",
    )


COMMAND = Command(
    "export",
    help="export a saved pipeline to ONNX (parity-checked)",
    description="""
        Convert a pipeline saved by `skdigits train` into one ONNX file that takes raw
        pixels (N x 28 x 28 float32, 0-255) and outputs `label` and `probabilities`. The
        file is written only if onnxruntime reproduces the pipeline's labels exactly and
        its probabilities within 1e-5 on MNIST test images. --format ort writes
        onnxruntime's mobile format instead (the check runs on the .ort file); --web DIR
        writes a static site that runs the model in the browser.
    """,
    examples=(
        "skdigits export model.skdigits                 # writes model.onnx beside it",
        "skdigits export model.skdigits -o deploy/digits.onnx --force",
        "skdigits export model.skdigits -o model-int8.onnx --quantize int8",
    ),
    model="a .skdigits file written by `skdigits train` (with --web also an exported .onnx)",
    options=(
        _add_output_options,
        _add_graph_options,
        option_group("int8 quantisation", _add_int8_options),
        add_data_options,
    ),
)


def run(args: argparse.Namespace) -> int:
    from .._core.errors import SkdigitsError

    if args.web is not None and (args.quantize is not None or args.format != "onnx"):
        raise SkdigitsError("--web writes an fp32 ONNX site: drop --quantize and --format")
    if args.format == "ort" and args.quantize is not None:
        raise SkdigitsError("--format ort exports the fp32 model: drop --quantize")
    kind = _model_kind(args.model)
    if args.web is not None:
        from ..export._web import check_site_folder

        check_site_folder(args.web, force=args.force, inputs=[args.model])
        if kind != "pipeline" and not (kind == "unknown" and args.model.suffix == ".skdigits"):
            return _run_web(args, args.model)
    elif kind in ("onnx", "ort"):
        _refuse_exported(args.model, kind)
    if args.web is None and args.output is None:
        args.output = args.model.with_suffix(f".{args.format}")
    if args.output is not None:
        check_not_overwriting(args.model, _outputs(args), what="model")
        check_output_path(args.output, force=args.force)
    from ..model_io._format import load_metadata

    saved = load_metadata(args.model)  # fails fast, before TensorFlow loads, on a bad file
    X_test, _ = load_mnist(args, "test")

    quiet_tensorflow()
    from ..estimator._saving import load_model
    from ..export import export_onnx, read_metadata

    pipeline = load_model(args.model)
    metrics = saved.get("metadata", {}).get("metrics", {})
    extra = {k: v for k, v in metrics.items() if v is not None}
    if args.quantize is not None:
        return _run_int8(args, pipeline, extra, X_test)
    if args.format == "ort":
        return _run_ort(args, pipeline, extra, X_test)
    if args.web is not None:
        return _run_web_from_pipeline(args, pipeline, extra, X_test)
    export_onnx(
        pipeline,
        args.output,
        opset=args.opset,
        metadata=extra,
        check_samples=X_test[: args.check_images],
        force=args.force,
    )
    meta = read_metadata(args.output)
    print(
        f"exported {args.model} to {args.output} (opset {meta.get('opset')}); parity on "
        f"{meta.get('parity_n_samples')} MNIST test images: labels identical, "
        f"max |Δp| = {float(meta.get('parity_max_abs_diff', 'nan')):.2e}"
    )
    return 0


_ONNX_FIRST_BYTE = 0x08  # an ONNX file opens with its ir_version (field 1, a varint)


def _model_kind(path: Path) -> str:
    """``"pipeline"``, ``"onnx"``, ``"ort"`` or ``"unknown"``, by the file's first bytes.

    By content, not by name: a renamed file still goes the right way, and whatever
    is not a zip is left to the loader that names its problem.
    """
    from .._core.errors import ModelFileError
    from .._core.files import open_regular
    from ..runtime._checks import ZIP_MAGIC, is_ort_format

    hint = "train one with `skdigits train -o model.skdigits`"
    with open_regular(path, "model file", missing_hint=hint, error=ModelFileError) as fh:
        head = fh.read(8)
    if head.startswith(ZIP_MAGIC):  # a .skdigits file is a zip
        return "pipeline"
    if is_ort_format(head):
        return "ort"
    if head[:1] == bytes([_ONNX_FIRST_BYTE]) or path.suffix.lower() == ".onnx":
        return "onnx"
    return "unknown"


def _refuse_exported(model: Path, kind: str) -> None:
    from .._core.errors import ModelFileError

    what = "an ORT-format model" if kind == "ort" else "an ONNX model"
    site = "" if kind == "ort" else ", or build the browser site from it with --web DIR"
    raise ModelFileError(
        f"{model} is {what}, already exported; export converts a saved pipeline (a "
        f".skdigits file from `skdigits train`). Use {model} as it is (skdigits predict "
        f"{model} IMAGE, skdigits info {model}){site}"
    )


def _outputs(args: argparse.Namespace) -> list[Path]:
    """Every file the command will write for ``--output``."""
    if args.format == "ort":
        from ..export._ort import required_operators_path

        return [args.output, required_operators_path(args.output)]
    return [args.output]


def _run_int8(args: argparse.Namespace, pipeline, extra: dict, X_test) -> int:
    from .._core.errors import SkdigitsError
    from ..export.quantize import export_int8_onnx

    if not 0.0 <= args.max_accuracy_loss < 100.0:
        raise SkdigitsError("--max-accuracy-loss is in percentage points, from 0 to 100")
    _, y_test = load_mnist(args, "test")
    X_train, _ = load_mnist(args, "train")
    report = export_int8_onnx(
        pipeline,
        args.output,
        test_images=X_test,
        test_labels=y_test,
        method=args.quantize_method,
        calibration_images=X_train[:500],
        max_accuracy_loss=args.max_accuracy_loss / 100.0,
        allow_slower=args.allow_slower,
        opset=args.opset,
        metadata=extra,
        check_samples=X_test[: args.check_images],
        force=args.force,
    )
    print(
        f"exported {args.model} to {args.output} as int8 ({args.quantize_method}); fp32 "
        f"passed the parity gate on {min(args.check_images, len(X_test))} test images\n"
        f"test accuracy on {report.n_samples} MNIST test images: fp32 "
        f"{report.fp32_accuracy:.2%}, int8 {report.int8_accuracy:.2%}, cost "
        f"{100 * report.accuracy_loss:+.2f} points (allowed {args.max_accuracy_loss:.2f})\n"
        f"batch throughput while testing: int8 {report.speedup:.2f}x fp32 "
        f"({report.int8_images_per_s:,.0f} vs {report.fp32_images_per_s:,.0f} images/s)\n"
        f"file size: int8 {report.int8_bytes:,} bytes, fp32 {report.fp32_bytes:,} bytes "
        f"({1 - report.size_ratio:.0%} smaller)"
        + (f"\nkept in fp32: {', '.join(report.fp32_nodes)}" if report.fp32_nodes else "")
    )
    if report.speedup < 1.0:
        print(
            "note: the int8 model ran slower than fp32 here (written because of "
            "--allow-slower); keep the fp32 model unless size matters",
            file=sys.stderr,
        )
    return 0


def _gated(args: argparse.Namespace, extra: dict, X_test) -> dict:
    """The export's graph settings and the parity gate's images, from the command line."""
    return {"opset": args.opset, "metadata": extra, "check_samples": X_test[: args.check_images]}


def _run_ort(args: argparse.Namespace, pipeline, extra: dict, X_test) -> int:
    from ..export import export_ort

    result = export_ort(pipeline, args.output, force=args.force, **_gated(args, extra, X_test))
    print(
        f"exported {args.model} to {result.path} (ORT format, opset {args.opset}); parity of "
        f"the .ort file on {result.parity.n_samples} MNIST test images: labels identical, "
        f"max |Δp| = {result.parity.max_abs_diff:.2e}\n"
        f"operators for a minimal onnxruntime build: {result.required_operators}"
    )
    return 0


def _run_web_from_pipeline(args: argparse.Namespace, pipeline, extra: dict, X_test) -> int:
    from .._core.atomic import temporary_dir_beside
    from ..export import export_onnx, read_metadata

    # Beside the site, so a full disk names the site and a kill leaves a .part to clean.
    with temporary_dir_beside(args.web) as scratch:
        model = export_onnx(pipeline, scratch / "model.onnx", **_gated(args, extra, X_test))
        meta = read_metadata(model)
        print(
            f"parity of the site's model.onnx on {meta.get('parity_n_samples')} MNIST test "
            f"images: labels identical, max |Δp| = {meta.get('parity_max_abs_diff', 0.0):.2e}"
        )
        return _run_web(args, model)


def _run_web(args: argparse.Namespace, model: Path) -> int:
    from ..export import export_web

    out = export_web(
        model,
        args.web,
        ort_web_dir=args.ort_web_dir,
        data_home=args.data_home,
        download_if_missing=not args.offline,
        force=args.force,
    )
    print(
        f"wrote the in-browser site for {args.model} to {out}/; serve it with any static "
        f"file server, e.g. python -m http.server -d {out} 8000, and open "
        "http://127.0.0.1:8000/"
    )
    return 0

"""The ORT format: onnxruntime's flatbuffer model file for its mobile and minimal builds.

onnxruntime's own converter (``onnxruntime.tools.convert_onnx_models_to_ort``) turns
the exported ONNX graph into ``.ort``, optimised ahead of time ("Fixed" style, so a
minimal build needs no optimiser), and lists the operators the file uses in a
``required_operators.config``, from which a reduced onnxruntime can be built. The
ORT file keeps the ONNX model's ``metadata_props``, so ``OnnxDigitClassifier`` and
``skdigits info`` read it as they read ``.onnx``.

The parity gate runs on the ``.ort`` bytes themselves, through onnxruntime: labels
identical, probabilities within 1e-5 of the pipeline's, or nothing is written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from .._atomic import write_bytes_atomic
from ._gate import ExportError, ParityReport, check_opset, check_parity, default_check_samples

__all__ = ["OrtExport", "export_ort", "required_operators_path"]

#: The optimisation the converter bakes in; "Fixed" suits a minimal build (no optimiser).
OPTIMIZATION_STYLE = "Fixed"


class OrtExport(NamedTuple):
    """What :func:`export_ort` wrote and measured."""

    path: Path
    required_operators: Path
    parity: ParityReport


def required_operators_path(path: str | Path) -> Path:
    """Where the operator list of ``model.ort`` goes: ``model.required_operators.config``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.required_operators.config")


def export_ort(
    pipeline: Any,
    path: str | Path,
    *,
    opset: int = 17,
    metadata: Mapping[str, Any] | None = None,
    check_samples: Any = None,
    n_check: int = 256,
    force: bool = False,
) -> OrtExport:
    """Export a fitted pipeline as an ORT-format model, parity-checked, written atomically.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted ``Pipeline(PixelScaler, DigitClassifier)``.
    path : str or path-like
        Destination, conventionally ``*.ort``; the operator list is written
        beside it (:func:`required_operators_path`).
    opset, metadata, check_samples, n_check, force
        As for :func:`~skdigits.export.export_onnx`.

    Returns
    -------
    OrtExport
        The two paths written and the parity measured on the ``.ort`` file (also in
        its ``parity_max_abs_diff`` and ``parity_n_samples`` metadata).

    Raises
    ------
    ExportError
        As :func:`~skdigits.export.export_onnx`, or if onnxruntime's converter fails.
    ParityError
        If the ONNX graph, or the ORT file made from it, differs from the pipeline.

    Examples
    --------
    >>> from skdigits.export import export_ort
    >>> export_ort(pipe, "mnist.ort", check_samples=X_test[:1000])  # doctest: +SKIP
    """
    from . import _refuse_existing, to_onnx_model
    from ._metadata import set_metadata

    path = Path(path)
    check_opset(opset)
    config_path = required_operators_path(path)
    for target in (path, config_path):
        _refuse_existing(target, force)
    if check_samples is None:
        check_samples = default_check_samples(n_check)

    model = to_onnx_model(pipeline, opset=opset, metadata=metadata)
    check_parity(model.SerializeToString(), pipeline, check_samples)  # the ONNX graph first
    set_metadata(model, {"model_format": "ort", "ort_optimization_style": OPTIMIZATION_STYLE})
    ort_bytes, _ = _convert(model)
    report = check_parity(ort_bytes, pipeline, check_samples)
    # Record the gate's result in the file, convert again, and gate the final bytes.
    set_metadata(
        model,
        {
            "parity_max_abs_diff": repr(report.max_abs_diff),
            "parity_n_samples": str(report.n_samples),
        },
    )
    ort_bytes, config = _convert(model)
    report = check_parity(ort_bytes, pipeline, check_samples)

    config = config.replace("# - model.ort", f"# - {path.name}")
    for target in (path, config_path):
        _refuse_existing(target, force)  # it may have appeared while converting
    write_bytes_atomic(path, ort_bytes)
    write_bytes_atomic(config_path, config.encode("utf-8"))
    return OrtExport(path, config_path, report)


def _convert(model: Any) -> tuple[bytes, str]:
    """``model`` (an onnx.ModelProto) as ORT-format bytes and its required-operators list."""
    import onnx
    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

    with tempfile.TemporaryDirectory(prefix="skdigits-ort-") as scratch:
        source = Path(scratch) / "model.onnx"
        onnx.save_model(model, source)
        out = Path(scratch) / "out"
        # The converter prints progress and logs at INFO; a command line shows neither.
        logger = logging.getLogger("ort_format_model.utils")
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            with contextlib.redirect_stdout(io.StringIO()) as chatter:
                convert_onnx_models_to_ort(
                    source,
                    output_dir=out,
                    optimization_styles=[OptimizationStyle[OPTIMIZATION_STYLE]],
                )
        except Exception as err:  # the converter raises whatever onnxruntime raised
            raise ExportError(
                f"onnxruntime's ORT converter failed ({' '.join(str(err).split())}); "
                "export to .onnx instead, or report it with your onnxruntime version"
            ) from err
        finally:
            logger.setLevel(level)
        ort_file = out / "model.ort"
        config_file = out / "model.required_operators.config"
        if not ort_file.is_file() or not config_file.is_file():
            said = " ".join(chatter.getvalue().split())[-300:]
            raise ExportError(f"onnxruntime's ORT converter wrote no model ({said})")
        # Its header names the temporary file; the caller names the real one.
        config = config_file.read_text(encoding="utf-8").replace(str(ort_file), "model.ort")
        return ort_file.read_bytes(), config

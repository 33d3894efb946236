"""The ORT format: onnxruntime's flatbuffer model file for its mobile and minimal builds.

onnxruntime's own converter (``onnxruntime.tools.convert_onnx_models_to_ort``) turns
the exported ONNX graph into ``.ort``, optimised ahead of time ("Fixed" style, so a
minimal build needs no optimiser), and lists the operators the file uses in a
``required_operators.config``, from which a reduced onnxruntime can be built. The
ORT file keeps the ONNX model's ``metadata_props``, so ``OnnxDigitClassifier`` and
``skdigits info`` read it as they read ``.onnx``.

The ONNX graph is written and gated by :func:`~skdigits.export.export_onnx` (into a
scratch folder), then the parity gate runs again on the ``.ort`` bytes themselves,
through onnxruntime: labels identical, probabilities within 1e-5 of the pipeline's,
or nothing is written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from .._core.atomic import WRITE_FAILURES, temporary_dir_beside
from ._gate import N_CHECK, ExportError, ParityReport, check_parity, default_check_samples
from ._metadata import set_metadata
from ._onnx import export_onnx, record_parity, refuse_existing, write_new_files

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
    pipeline: Any, path: str | Path, *, force: bool = False, **options: Any
) -> OrtExport:
    """Export a fitted pipeline as an ORT-format model, parity-checked, written atomically.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted ``Pipeline(PixelScaler, DigitClassifier)``.
    path : str or path-like
        Destination, conventionally ``*.ort``; the operator list is written
        beside it (:func:`required_operators_path`).
    force : bool, default=False
        Replace ``path`` and its operator list if they exist.
    **options
        ``opset``, ``metadata``, ``check_samples`` and ``n_check``, passed to
        :func:`~skdigits.export.export_onnx`, which writes the gated ONNX graph that
        is then converted; the ``.ort`` file is gated on the same images.

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
    import onnx

    path = Path(path)
    config_path = required_operators_path(path)
    for target in (path, config_path):
        refuse_existing(target, force)
    if options.get("check_samples") is None:  # both gates see the same images
        options["check_samples"] = default_check_samples(options.get("n_check", N_CHECK))
    images = options["check_samples"]
    # The scratch files live beside the destination (a killed export leaves a hidden
    # .part folder there, removed by the next export once stale).
    with temporary_dir_beside(path) as scratch:
        gated = export_onnx(pipeline, scratch / "gated.onnx", **options)
        model = onnx.load(gated)
        set_metadata(model, {"model_format": "ort", "ort_optimization_style": OPTIMIZATION_STYLE})
        ort_bytes, _ = _convert(model, scratch)
        # Record the gate's result in the file, convert again, and gate the final bytes.
        record_parity(model, check_parity(ort_bytes, pipeline, images))
        ort_bytes, config = _convert(model, scratch)
    report = check_parity(ort_bytes, pipeline, images)
    config = config.replace("# - model.ort", f"# - {path.name}")
    write_new_files({path: ort_bytes, config_path: config.encode("utf-8")}, force=force)
    return OrtExport(path, config_path, report)


def _convert(model: Any, scratch_dir: Path | None = None) -> tuple[bytes, str]:
    """``model`` (an onnx.ModelProto) as ORT-format bytes and its required-operators list.

    The converter's files go in a fresh folder inside ``scratch_dir`` (None: the
    system's temporary folder).
    """
    import onnx
    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

    with tempfile.TemporaryDirectory(prefix="skdigits-ort-", dir=scratch_dir) as scratch:
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
        except OSError as err:
            if err.errno not in WRITE_FAILURES:
                raise _converter_failed(err) from err
            raise  # a full disk, not the converter: the scratch folder names the destination
        except Exception as err:  # the converter raises whatever onnxruntime raised
            raise _converter_failed(err) from err
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


def _converter_failed(err: Exception) -> ExportError:
    return ExportError(
        f"onnxruntime's ORT converter failed ({' '.join(str(err).split())}); "
        "export to .onnx instead, or report it with your onnxruntime version"
    )

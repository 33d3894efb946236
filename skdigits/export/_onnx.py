"""The fp32 ONNX export, the route every other export starts from: convert, gate, write.

The ORT and int8 exports call :func:`export_onnx` into a scratch folder beside
their destination, so their ONNX graph is converted and parity-gated exactly as
here; then they add their own step and gate, and write with :func:`write_new_files`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core.atomic import atomic_path
from .._core.atomic import refuse_existing as _refuse
from ._gate import (
    N_CHECK,
    ExportError,
    ParityReport,
    check_opset,
    check_parity,
    default_check_samples,
)
from ._metadata import set_metadata

if TYPE_CHECKING:  # pragma: no cover
    import onnx


def to_onnx_model(
    pipeline: Any, *, opset: int = 17, metadata: Mapping[str, Any] | None = None
) -> onnx.ModelProto:
    """Convert a fitted ``Pipeline(PixelScaler, DigitClassifier)`` to an ONNX model in memory.

    ``skl2onnx.to_onnx`` converts it through skdigits' registered converters:
    tf2onnx converts the Keras net; the ÷255, reshape, row normalisation and
    label lookup are ONNX nodes around it (see :mod:`skdigits.export` for
    why). The model passes ``onnx.checker.check_model(full_check=True)``; no
    parity check is run (:func:`export_onnx` runs one).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted, on 28 x 28 images, with integer class labels.
    opset : int, default=17
        ONNX opset, from 13 to 18.
    metadata : mapping, default=None
        Extra ``metadata_props``, e.g. ``{"test_accuracy": 0.97}``.

    Returns
    -------
    onnx.ModelProto
    """
    from ._skl2onnx import pipeline_to_onnx

    return pipeline_to_onnx(pipeline, opset=opset, metadata=metadata)


def export_onnx(
    pipeline: Any,
    path: str | Path,
    *,
    opset: int = 17,
    metadata: Mapping[str, Any] | None = None,
    check_samples: Any = None,
    n_check: int = N_CHECK,
    force: bool = False,
) -> Path:
    """Convert a fitted pipeline to ONNX, check it against the pipeline, and write it atomically.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted ``Pipeline(PixelScaler, DigitClassifier)`` (e.g. from
        :func:`skdigits.make_pipeline`), fitted on 28 x 28 images with integer labels.
    path : str or path-like
        Destination, conventionally ``*.onnx``.
    opset : int, default=17
        ONNX opset, from 13 to 18.
    metadata : mapping, default=None
        Extra ``metadata_props``; ``{"test_accuracy": 0.97}`` fills the
        ``test_accuracy`` field (otherwise ``"unknown"``).
    check_samples : array-like of shape (n, 28, 28) or (n, 784), default=None
        Raw images (0–255) for the parity gate. Pass real images when you have
        them (e.g. some test images); all of them are used. None uses
        ``n_check`` deterministic synthetic images (black, white, noise).
    n_check : int, default=256
        Number of synthetic images when ``check_samples`` is None.
    force : bool, default=False
        Replace ``path`` if it exists.

    Returns
    -------
    Path
        The path written. Its ``parity_max_abs_diff`` metadata records the gate's result.

    Raises
    ------
    ExportError
        For an unfitted or non-skdigits pipeline, non-integer class labels, an
        opset outside 13–18, or an existing ``path`` without ``force``.
    ParityError
        If the ONNX model's labels or probabilities differ from the pipeline's;
        nothing is written then.

    Examples
    --------
    >>> from skdigits.export import export_onnx, read_metadata
    >>> export_onnx(pipe, "mnist.onnx", check_samples=X_test[:500])  # doctest: +SKIP
    >>> read_metadata("mnist.onnx")["parity_max_abs_diff"]  # doctest: +SKIP
    """
    path = Path(path)
    check_opset(opset)
    refuse_existing(path, force)
    images = default_check_samples(n_check) if check_samples is None else check_samples
    model = to_onnx_model(pipeline, opset=opset, metadata=metadata)
    record_parity(model, check_parity(model.SerializeToString(), pipeline, images))
    write_new_files({path: model.SerializeToString()}, force=force)
    return path


def record_parity(model: Any, report: ParityReport) -> None:
    """Store the gate's result in the model's ``parity_*`` metadata."""
    set_metadata(
        model,
        {
            "parity_max_abs_diff": repr(report.max_abs_diff),
            "parity_n_samples": str(report.n_samples),
        },
    )


def write_new_files(files: Mapping[Path, bytes], *, force: bool) -> None:
    """Write the files atomically, refusing again any that appeared while converting.

    Every file is written to its temporary before any is renamed into place, so a
    full disk leaves all the old files, never a new ``.ort`` beside an old operator list.
    """
    for path in files:
        refuse_existing(path, force)
    with contextlib.ExitStack() as stack:
        for path, data in files.items():
            stack.enter_context(atomic_path(path)).write_bytes(data)


def refuse_existing(path: Path, force: bool) -> None:
    _refuse(path, force=force, example="model.onnx", error=ExportError)

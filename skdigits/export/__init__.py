"""ONNX export: a fitted skdigits pipeline as one ONNX file that onnxruntime can serve.

The contract every exported model honours:

- one input ``pixels``: float32 ``[N, 28, 28]``, raw pixel intensities 0–255,
  white digit on black (the MNIST layout). The ÷255 scaling is inside the graph.
  The graph takes float32 only; skdigits' predictor also accepts uint8 and casts.
- output ``label``: int64 ``[N]``, the predicted class label;
- output ``probabilities``: float32 ``[N, n_classes]``, rows summing to 1 (the
  Keras output activations divided by their row sum, as ``predict_proba`` does);
- ``metadata_props`` describing the model (see :func:`read_metadata`).

Before anything is written, a parity gate runs the ONNX model in onnxruntime and
the pipeline on the same images: labels must be identical and probabilities
within 1e-5, or :class:`ParityError` is raised and no file is written.

Two more deployment forms start from the same graph: :func:`export_ort` writes the
ORT format for onnxruntime's mobile builds (parity-checked on the ``.ort`` file), and
:func:`export_web` writes a static site that runs the model in the browser on
onnxruntime-web.

Importing this package is cheap; TensorFlow and tf2onnx load when a conversion runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import write_bytes_atomic
from ._gate import (
    PARITY_TOLERANCE,
    ExportError,
    ParityError,
    ParityReport,
    check_opset,
    check_parity,
    default_check_samples,
    measure_parity,
)
from ._metadata import read_metadata
from ._ort import export_ort
from ._ortweb import fetch_onnxruntime_web
from ._web import export_web

if TYPE_CHECKING:  # pragma: no cover
    import onnx

__all__ = [
    "PARITY_TOLERANCE",
    "ExportError",
    "ParityError",
    "ParityReport",
    "check_parity",
    "default_check_samples",
    "export_onnx",
    "export_ort",
    "export_web",
    "fetch_onnxruntime_web",
    "measure_parity",
    "read_metadata",
    "register_converters",
    "to_onnx_model",
]


def to_onnx_model(
    pipeline: Any, *, opset: int = 17, metadata: Mapping[str, Any] | None = None
) -> onnx.ModelProto:
    """Convert a fitted ``Pipeline(PixelScaler, DigitClassifier)`` to an ONNX model in memory.

    ``skl2onnx.to_onnx`` converts it through skdigits' registered converters:
    tf2onnx converts the Keras net; the ÷255, reshape, row normalisation and
    label lookup are ONNX nodes around it (see :mod:`skdigits.export._keras` for
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
    n_check: int = 256,
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
    _refuse_existing(path, force)
    if check_samples is None:
        check_samples = default_check_samples(n_check)

    model = to_onnx_model(pipeline, opset=opset, metadata=metadata)
    report = check_parity(model.SerializeToString(), pipeline, check_samples)

    from ._metadata import set_metadata

    set_metadata(
        model,
        {
            "parity_max_abs_diff": repr(report.max_abs_diff),
            "parity_n_samples": str(report.n_samples),
        },
    )
    data = model.SerializeToString()
    _refuse_existing(path, force)  # it may have appeared while converting
    write_bytes_atomic(path, data)
    return path


def _refuse_existing(path: Path, force: bool) -> None:
    if path.is_dir():
        raise ExportError(f"{path} is a directory; pass a file path such as {path / 'model.onnx'}")
    if path.exists() and not force:
        raise ExportError(
            f"{path} already exists; pass force=True (or --force on the command line) to replace it"
        )


def register_converters() -> None:
    """Register skl2onnx converters for ``PixelScaler`` and ``DigitClassifier``.

    Afterwards ``skl2onnx.to_onnx`` converts skdigits pipelines, also inside
    larger scikit-learn pipelines. ``DigitClassifier`` is a classifier to
    skl2onnx: outputs ``label`` and ``probabilities``, option ``zipmap``
    (True by default; ``{"zipmap": False}`` gives plain tensors). Calling it
    again is harmless.

    Examples
    --------
    >>> import numpy as np, skl2onnx
    >>> from skdigits import DigitClassifier
    >>> from skdigits.export import register_converters
    >>> register_converters()
    >>> onx = skl2onnx.to_onnx(  # doctest: +SKIP
    ...     pipe,
    ...     X[:1].astype(np.float32),
    ...     options={DigitClassifier: {"zipmap": False}},
    ...     target_opset=17,
    ... )
    """
    from ._skl2onnx import register_converters as _register

    _register()

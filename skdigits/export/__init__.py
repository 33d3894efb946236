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

from ._gate import (
    PARITY_TOLERANCE,
    ExportError,
    ParityError,
    ParityReport,
    check_parity,
    default_check_samples,
    measure_parity,
)
from ._metadata import read_metadata
from ._onnx import export_onnx, to_onnx_model
from ._ort import export_ort
from ._ortweb import fetch_onnxruntime_web
from ._web import export_web

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

"""Predicting with an exported model: onnxruntime and numpy only, never TensorFlow.

:class:`OnnxDigitClassifier` runs an ``.onnx`` or ``.ort`` file that
``skdigits export`` wrote; the file is checked first (:func:`inspect_onnx`:
operators, external data, metadata) so that onnxruntime only ever sees a graph
skdigits could have written.
"""

from __future__ import annotations

from ._checks import (
    ALLOWED_OPERATORS,
    METADATA_DECODERS,
    OnnxModelInfo,
    decode_metadata,
    inspect_onnx,
    looks_like_pickle,
    read_model_bytes,
)
from ._predictor import OnnxDigitClassifier

__all__ = [
    "ALLOWED_OPERATORS",
    "METADATA_DECODERS",
    "OnnxDigitClassifier",
    "OnnxModelInfo",
    "decode_metadata",
    "inspect_onnx",
    "looks_like_pickle",
    "read_model_bytes",
]

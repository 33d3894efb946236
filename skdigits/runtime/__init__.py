"""Predicting with an exported model: onnxruntime and numpy only, never TensorFlow.

:class:`OnnxDigitClassifier` runs an ``.onnx`` or ``.ort`` file that
``skdigits export`` wrote; the file is checked first (:func:`inspect_onnx`:
operators, external data, metadata) so that onnxruntime only ever sees a graph
skdigits could have written. :class:`ScaledInputWarning` is what it (and the
fitted pipeline) draws for pixels that look scaled to [0, 1] already.
:func:`digit_score_from_proba` is the digit score every side computes, and
:func:`fit_digit_threshold` the threshold a fit chooses from it.

The predictor loads on first use: the pipeline imports the warning without
loading onnxruntime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.lazy import lazy_exports
from ._checks import (
    ALLOWED_OPERATORS,
    METADATA_DECODERS,
    OnnxModelInfo,
    ScaledInputWarning,
    decode_metadata,
    inspect_onnx,
    looks_like_pickle,
    read_model_bytes,
)
from ._digit_score import (
    DIGIT_SCORE_KIND,
    DIGIT_SCORE_KINDS,
    digit_score_from_proba,
    fit_digit_threshold,
)

if TYPE_CHECKING:  # pragma: no cover
    from ._predictor import OnnxDigitClassifier, quiet_session

__all__ = [
    "ALLOWED_OPERATORS",
    "DIGIT_SCORE_KIND",
    "DIGIT_SCORE_KINDS",
    "METADATA_DECODERS",
    "OnnxDigitClassifier",
    "OnnxModelInfo",
    "ScaledInputWarning",
    "decode_metadata",
    "digit_score_from_proba",
    "fit_digit_threshold",
    "inspect_onnx",
    "looks_like_pickle",
    "quiet_session",
    "read_model_bytes",
]

# The checks are numpy and the standard library; the predictor loads onnxruntime.
__getattr__, _lazy_dir = lazy_exports(
    __name__, {"._predictor": ["OnnxDigitClassifier", "quiet_session"]}
)


def __dir__() -> list[str]:
    return list(__all__)

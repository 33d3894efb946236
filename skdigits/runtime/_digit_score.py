"""The digit score: one number per image, higher when the image looks more like a digit.

One definition for every side: :class:`~skdigits.DigitClassifier`, the ONNX graph
that :mod:`skdigits.export` builds (the ``digit_score`` output), and
:class:`~skdigits.runtime.OnnxDigitClassifier` for a model without that output.
The score is named in a model's metadata (``digit_score_kind``), so a later score
(a maximum logit, an energy) can sit beside this one. Numpy only.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DIGIT_SCORE_KIND",
    "DIGIT_SCORE_OUTPUT",
    "KEPT_SHARE",
    "MIN_THRESHOLD_SAMPLES",
    "digit_score_from_proba",
    "fit_digit_threshold",
]

#: What the score is: the largest calibrated probability of a row (Hendrycks &
#: Gimpel 2017's baseline). It lies in [0, 1].
DIGIT_SCORE_KIND = "max_probability"

#: The name of the score's output in an exported ONNX graph, float32 ``[N]``.
DIGIT_SCORE_OUTPUT = "digit_score"

#: The share of validation digits the fitted threshold keeps.
KEPT_SHARE = 0.99

#: The fewest validation images a threshold is fitted on; with fewer it is 0.0.
MIN_THRESHOLD_SAMPLES = 50


def digit_score_from_proba(proba: np.ndarray) -> np.ndarray:
    """The digit score of each row of class probabilities (float32, shape (n,)).

    The ONNX export computes the same with ``ReduceMax`` over the classes, which
    picks the same float32 value.
    """
    proba = np.asarray(proba, dtype=np.float32)
    if proba.shape[0] == 0:
        return np.empty(0, dtype=np.float32)
    return proba.max(axis=1)


def fit_digit_threshold(scores: np.ndarray) -> float:
    """The score that :data:`KEPT_SHARE` of ``scores`` (validation digits) reach.

    The 1 % quantile, taken as one of the scores themselves (``method="lower"``),
    so ``score >= threshold`` keeps at least 99 % of them. With fewer than
    :data:`MIN_THRESHOLD_SAMPLES` scores it is 0.0: every image is a digit.
    """
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    scores = scores[np.isfinite(scores)]
    if scores.size < MIN_THRESHOLD_SAMPLES:
        return 0.0
    threshold = float(np.quantile(scores, 1.0 - KEPT_SHARE, method="lower"))
    return min(max(threshold, 0.0), 1.0)

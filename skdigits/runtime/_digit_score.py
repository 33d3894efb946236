"""The digit score: one number per image, higher when the image looks more like a digit.

One definition for every side: :class:`~skdigits.DigitClassifier`, the ONNX graph
that :mod:`skdigits.export` builds (the ``digit_score`` output), and
:class:`~skdigits.runtime.OnnxDigitClassifier` for a model without that output.
The score is named in a model's metadata (``digit_score_kind``); models whose
metadata names the earlier ``max_probability`` keep it. Numpy only.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DIGIT_SCORE_KIND",
    "DIGIT_SCORE_KINDS",
    "DIGIT_SCORE_OUTPUT",
    "KEPT_SHARE",
    "MIN_THRESHOLD_SAMPLES",
    "digit_score_from_proba",
    "fit_digit_threshold",
]

#: What the score is: the probability of the two likeliest classes of a row (of
#: the likeliest one, for a model of two classes). A net trained with outliers
#: spreads its probability over every class for what is no digit, while a digit
#: it cannot tell from another (a 4 or a 9) keeps its probability on those two:
#: measured on held-out non-digits, this rejects 4-7 points more of them than the
#: top probability alone at the same share of digits kept (docs, "Confidence").
#: It lies in [0, 1].
DIGIT_SCORE_KIND = "top2_probability"

#: Every score a model may name: the current one, and the top probability (Hendrycks
#: & Gimpel 2017's baseline) that models exported before it use.
DIGIT_SCORE_KINDS = (DIGIT_SCORE_KIND, "max_probability")

#: The name of the score's output in an exported ONNX graph, float32 ``[N]``.
DIGIT_SCORE_OUTPUT = "digit_score"

#: The share of validation digits the fitted threshold keeps.
KEPT_SHARE = 0.99

#: The fewest validation images a threshold is fitted on; with fewer it is 0.0.
MIN_THRESHOLD_SAMPLES = 50


def score_terms(n_classes: int, kind: str = DIGIT_SCORE_KIND) -> int:
    """How many of a row's largest probabilities the score named ``kind`` adds up."""
    return 2 if kind == DIGIT_SCORE_KIND and n_classes > 2 else 1


def digit_score_from_proba(proba: np.ndarray, kind: str = DIGIT_SCORE_KIND) -> np.ndarray:
    """The digit score of each row of class probabilities (float32, shape (n,)).

    The ONNX export computes the same with ``TopK`` and ``ReduceSum`` over the
    classes: the largest probability plus the second, the very float32 sum.
    ``kind="max_probability"`` gives the largest probability alone.
    """
    proba = np.asarray(proba, dtype=np.float32)
    if proba.shape[0] == 0:
        return np.empty(0, dtype=np.float32)
    if score_terms(proba.shape[1], kind) == 1:
        return proba.max(axis=1)
    top = np.sort(proba, axis=1)
    return top[:, -1] + top[:, -2]


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

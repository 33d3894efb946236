"""Hostile input to the estimators: PixelScaler and the pipeline refuse it in one line.

Predicting before fit; NaN, inf, negative, above 255, strings and objects; no
samples, one image without its batch axis, X and y of different lengths, the
wrong feature count. The check is in ``tests/_support/hostile.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

from skdigits import DataError
from tests._support.hostile import X10, Y10, Case, refusal_test


def make_pipeline(**params: Any) -> Any:
    from skdigits import make_pipeline as make

    return make(epochs=1, random_state=0, **params)


def scaler() -> Any:
    from skdigits.estimator._scaler import PixelScaler

    return PixelScaler()


CASES: list[Case] = [
    Case(
        "estimators",
        "predict-before-fit",
        lambda e: make_pipeline().predict(X10),
        NotFittedError,
        r"not fitted yet\. Call 'fit'",
    ),
    Case(
        "estimators",
        "nan",
        lambda e: make_pipeline().fit(np.full((10, 784), np.nan), Y10),
        DataError,
        r"X contains NaN or infinity; pixels must be finite values in \[0, 255\]",
    ),
    Case(
        "estimators",
        "inf",
        lambda e: scaler().fit_transform(np.full((2, 784), np.inf)),
        DataError,
        r"X contains NaN or infinity",
    ),
    Case(
        "estimators",
        "negative-pixels",
        lambda e: scaler().fit_transform(np.full((2, 784), -1.0)),
        DataError,
        r"X min is -1\.0\); pixels must be raw intensities in \[0, 255\]",
    ),
    Case(
        "estimators",
        "pixels-above-255",
        lambda e: make_pipeline().fit(np.full((10, 784), 256.0), Y10),
        DataError,
        r"X has values up to 256\.0, above 255.*multiply by 255",
    ),
    Case(
        "estimators",
        "strings",
        lambda e: make_pipeline().fit(np.full((10, 784), "x"), Y10),
        ValueError,
        r"not compatible with arrays of bytes/strings",
    ),
    Case(
        "estimators",
        "objects",
        lambda e: scaler().fit_transform(np.array([[object()] * 784] * 2)),
        TypeError,
        r"float\(\) argument must be a string or a( real)? number, not 'object'",
    ),
    Case(
        "estimators",
        "zero-samples",
        lambda e: make_pipeline().fit(np.zeros((0, 28, 28)), np.zeros(0)),
        ValueError,
        r"Found array with 0 sample\(s\) \(shape=\(0, 28, 28\)\) while a minimum of 1",
    ),
    Case(
        "estimators",
        "one-image-without-batch-axis",
        lambda e: scaler().fit_transform(np.zeros(784)),
        DataError,
        r"X has shape \(784,\), but a batch of images is needed.*X\[np\.newaxis\]",
    ),
    Case(
        "estimators",
        "x-y-length-mismatch",
        lambda e: make_pipeline().fit(X10, Y10[:5]),
        ValueError,
        r"inconsistent numbers of samples: \[10, 5\]",
    ),
    Case(
        "estimators",
        "scaler-transform-before-fit",
        lambda e: scaler().transform(X10),
        NotFittedError,
        r"PixelScaler instance is not fitted yet",
    ),
    Case(
        "estimators",
        "wrong-feature-count-after-fit",
        lambda e: scaler().fit(np.zeros((2, 784))).transform(np.zeros((2, 100))),
        ValueError,
        r"X has 100 features, but PixelScaler is expecting 784 features",
    ),
]


test_hostile_input_is_refused_with_a_clear_message = refusal_test(CASES)

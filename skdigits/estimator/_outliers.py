"""Outlier exposure: training on pictures that are no digit, with uniform targets.

A net trained on digits alone gives a letter or a scribble a digit, often with a
high probability. Outlier exposure (Hendrycks, Mazeika & Dietterich 2019) adds
an auxiliary set of outliers to training, whose target is the uniform
distribution: the net learns to spread its probability over the classes for
what is no digit, so the top probability (the digit score) separates digits
from the rest, on kinds of outliers never trained on too.

The outliers are drawn by :func:`skdigits.io.make_nondigits` (letters and
symbols in the training fonts, some redrawn with a pen, scribbles, textures,
fragments of the training digits, specks). A net so trained also learns the
look of MNIST's pen as part of what a digit is, and doubts digits typeset in a
font or drawn with a pen of one width; ``digit_variants`` adds such digits,
with their labels (:func:`skdigits.io.make_digit_variants`). All are scaled as
the classifier's input is (``[0, 1]``, the output of
:class:`~skdigits.estimator.PixelScaler`) and mixed into the training rows only:
the validation rows Keras holds out stay MNIST's, so early stopping, the
temperature and the digit threshold see what they saw before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..io import make_digit_variants, make_nondigits
from ..nn._tf import seed_from

#: The loss weight of an outlier row against a digit row's (Hendrycks et al.'s lambda).
OUTLIER_WEIGHT = 0.5


def with_exposure(
    estimator: Any, X: np.ndarray, y: np.ndarray, sample_weight: Any, initial_epoch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, Any]]:
    """The training rows with outliers and digit variants mixed in, and Keras' validation.

    ``X`` and ``y`` are the rows and one-hot targets exactly as Keras would see
    them; the last ``validation_split`` of them is passed as ``validation_data``
    instead, unchanged, and the new rows join those before it.

    Returns
    -------
    X, y, sample_weight, fit_kwargs
    """
    n_train = int(np.floor(len(X) * (1.0 - float(estimator.validation_split))))
    fit_kwargs: dict[str, Any] = {}
    if n_train < len(X):
        held_out: tuple[Any, ...] = (X[n_train:], y[n_train:])
        if sample_weight is not None:
            held_out += (np.asarray(sample_weight)[n_train:],)
        fit_kwargs = {"validation_data": held_out, "validation_split": 0.0}
    rows, targets = X[:n_train], y[:n_train]
    weights = np.ones(n_train) if sample_weight is None else np.asarray(sample_weight)[:n_train]
    rng = _rng(estimator, initial_epoch)
    n_outliers = round(float(estimator.outlier_exposure) * n_train)
    n_variants = round(float(estimator.digit_variants) * n_train)
    parts = [(rows, targets, weights)]
    if n_variants:
        variants, indices = draw_variants(estimator, rows, targets.argmax(axis=1), n_variants, rng)
        one_hot = np.eye(y.shape[1], dtype=y.dtype)[indices]
        parts.append((variants.astype(X.dtype), one_hot, np.full(n_variants, weights.mean())))
    if n_outliers:
        outliers = draw_outliers(rows, n_outliers, rng).astype(X.dtype)
        uniform = np.full((n_outliers, y.shape[1]), 1.0 / y.shape[1], dtype=y.dtype)
        parts.append((outliers, uniform, np.full(n_outliers, OUTLIER_WEIGHT * weights.mean())))
    X_fit, y_fit, w_fit = (np.concatenate(columns) for columns in zip(*parts, strict=True))
    return X_fit, y_fit, w_fit, fit_kwargs


def _rng(estimator: Any, initial_epoch: int) -> np.random.Generator:
    # Seeded from random_state (and the epoch a partial_fit starts at): a seeded fit
    # trains on the same pictures every time.
    seed = seed_from(estimator.random_state)
    return np.random.default_rng(None if seed is None else [seed, int(initial_epoch)])


def _as_images(rows: np.ndarray) -> np.ndarray:
    """Rows in ``[0, 1]`` as MNIST-layout images in 0-255 (uint8)."""
    images = np.rint(rows.reshape(len(rows), 28, 28) * 255.0)
    return np.clip(images, 0, 255).astype(np.uint8)


def _as_rows(images: np.ndarray, like: np.ndarray) -> np.ndarray:
    return (images.reshape(len(images), *like.shape[1:]) / np.float32(255.0)).astype(np.float32)


def draw_outliers(rows: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` non-digits in the layout and scale of the training ``rows`` (cut for fragments)."""
    return _as_rows(make_nondigits(n, digits=_as_images(rows), random_state=rng), rows)


def draw_variants(
    estimator: Any, rows: np.ndarray, indices: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` variants of the training ``rows`` (of class ``indices``), and their class indices."""
    classes = np.asarray(estimator.classes_)
    images, labels = make_digit_variants(
        n, digits=_as_images(rows), labels=classes[indices], random_state=rng
    )
    return _as_rows(images, rows), np.searchsorted(classes, labels)

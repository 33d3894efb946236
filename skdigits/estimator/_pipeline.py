"""make_pipeline: the scaler and the classifier as one scikit-learn Pipeline."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from .._core.errors import SkdigitsError
from ..runtime._digit_score import digit_score_from_proba
from ._classifier import DigitClassifier
from ._presets import PRESETS, preset_params
from ._scaler import PixelScaler

__all__ = [
    "PRESETS",
    "check_skdigits_pipeline",
    "digit_score",
    "is_digit",
    "make_pipeline",
    "preset_params",
]


def make_pipeline(preset: str | None = None, **params: Any) -> Pipeline:
    """Return ``Pipeline([("scale", PixelScaler()), ("clf", DigitClassifier(**params))])``.

    Parameters
    ----------
    preset : {"seed", "tuned"} or None, default=None
        A named recipe (:data:`PRESETS`): its parameters are the starting point and
        every parameter in ``params`` replaces the preset's value. The result holds
        ordinary parameters only, so ``get_params()`` says exactly what is trained.
    **params
        Parameters of :class:`DigitClassifier` (``hidden_units``, ``epochs``,
        ``batch_size``, ``optimizer__learning_rate``, ``random_state`` ...).
        In a search they are addressed as ``clf__<name>``.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Takes raw images, shape (n, 28, 28) or (n, 784), uint8 or float in [0, 255].
        Once fitted, ``predict`` and ``predict_proba`` also take one image, (28, 28)
        or (784,), and answer for it as a batch of one: the fitted pipeline reads
        784 pixels per row, so a (28, 28) array cannot be 28 rows. Float pixels that
        all lie in [0, 1] draw a :class:`~skdigits.runtime.ScaledInputWarning`.

    Examples
    --------
    >>> from skdigits import make_pipeline
    >>> pipe = make_pipeline(epochs=2, random_state=0)
    >>> [name for name, _ in pipe.steps]
    ['scale', 'clf']
    >>> tuned = make_pipeline(preset="tuned", epochs=3)
    >>> tuned.get_params()["clf__epochs"], tuned.get_params()["clf__batch_size"]
    (3, 256)
    """
    if preset is not None:
        params = {**preset_params(preset, params.get("architecture")), **params}
    return Pipeline([("scale", PixelScaler()), ("clf", DigitClassifier(**params))])


def check_skdigits_pipeline(
    pipeline: Any,
    *,
    purpose: str = "skdigits",
    action: str = "using it",
    source: str | None = None,
    error: type[SkdigitsError] = SkdigitsError,
) -> tuple[PixelScaler, DigitClassifier]:
    """Return ``(scaler, classifier)`` of a fitted ``Pipeline(PixelScaler, DigitClassifier)``.

    Parameters
    ----------
    pipeline : object
        What to check.
    purpose : str, default="skdigits"
        Who expects the pipeline, for the message (e.g. ``"ONNX export"``).
    action : str, default="using it"
        What needs it fitted, for the message (e.g. ``"exporting"``).
    source : str, default=None
        The file it was read from, if any: the message then names the file.
    error : type, default=SkdigitsError
        The exception raised otherwise.
    """
    steps = pipeline.steps if isinstance(pipeline, Pipeline) else None
    if (
        steps is None
        or len(steps) != 2
        or not (isinstance(steps[0][1], PixelScaler) and isinstance(steps[1][1], DigitClassifier))
    ):
        got = type(pipeline).__name__
        if steps is not None and len(steps) == 2:
            got = f"Pipeline of {type(steps[0][1]).__name__} then {type(steps[1][1]).__name__}"
        if source is not None:
            raise error(
                f"{source} holds a {got}, not a skdigits Pipeline of PixelScaler and "
                "DigitClassifier; pass a pipeline from skdigits.make_pipeline()"
            )
        raise error(
            f"{purpose} expects a skdigits Pipeline of PixelScaler and DigitClassifier, got "
            f"{got}; build one with skdigits.make_pipeline()"
        )
    (_, scaler), (_, clf) = steps
    if not hasattr(clf, "model_") or not hasattr(scaler, "n_features_in_"):
        where = f"{source} holds a pipeline that" if source else "the pipeline"
        raise error(f"{where} is not fitted yet; call fit(X, y) before {action}")
    return scaler, clf


def digit_score(model: Any, X: Any) -> np.ndarray:
    """How much each image looks like a digit, higher for more (float32, shape (n,)).

    A scikit-learn ``Pipeline`` has no such method, so this function takes what
    :func:`make_pipeline` and :func:`~skdigits.estimator.load_model` return.

    Parameters
    ----------
    model : Pipeline or DigitClassifier
        A fitted skdigits pipeline (raw images) or a fitted classifier (scaled rows).
    X : array-like
        Images, as ``model.predict`` takes them.

    Returns
    -------
    ndarray of shape (n_samples,), dtype float32
        The largest calibrated probability of each image, the number the
        exported ONNX graph gives as ``digit_score``.

    Examples
    --------
    >>> from skdigits.estimator import digit_score, is_digit
    >>> digit_score(pipe, X_test[:2])  # doctest: +SKIP
    array([0.998, 0.991], dtype=float32)
    >>> is_digit(pipe, X_test[:2])  # doctest: +SKIP
    array([ True,  True])
    """
    if isinstance(model, DigitClassifier):
        return model.digit_score(X)
    check_skdigits_pipeline(model, purpose="digit_score", action="scoring images")
    return digit_score_from_proba(model.predict_proba(X))


def is_digit(model: Any, X: Any) -> np.ndarray:
    """Whether each image is taken for a digit: its :func:`digit_score` reaches the threshold.

    The threshold is the classifier's ``digit_threshold`` when set, else its
    ``digit_threshold_``, fitted to keep 99 % of the validation digits
    (:class:`DigitClassifier`). ``model.predict`` still labels every image.

    Parameters
    ----------
    model : Pipeline or DigitClassifier
        As for :func:`digit_score`.
    X : array-like

    Returns
    -------
    ndarray of bool, shape (n_samples,)
    """
    clf = model if isinstance(model, DigitClassifier) else None
    if clf is None:
        _, clf = check_skdigits_pipeline(model, purpose="is_digit", action="scoring images")
    return digit_score(model, X) >= clf._threshold_in_use()

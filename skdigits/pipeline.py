"""make_pipeline: the scaler and the classifier as one scikit-learn Pipeline."""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline

from .classifier import PRESETS, DigitClassifier
from .preprocessing import PixelScaler

__all__ = ["PRESETS", "make_pipeline"]


def make_pipeline(**params: Any) -> Pipeline:
    """Return ``Pipeline([("scale", PixelScaler()), ("clf", DigitClassifier(**params))])``.

    Parameters
    ----------
    **params
        Parameters of :class:`DigitClassifier` (``hidden_units``, ``epochs``,
        ``batch_size``, ``optimizer__learning_rate``, ``random_state`` ...).
        In a search they are addressed as ``clf__<name>``. Named recipes:
        ``preset="seed"`` (the original recipe) and ``preset="tuned"`` (the
        searched one, with shift augmentation and label smoothing), for
        ``architecture="mlp"`` or ``"cnn"``; the settings each preset fixes are
        in :data:`PRESETS` and are applied at fit time.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Takes raw images, shape (n, 28, 28) or (n, 784), uint8 or float in [0, 255].

    Examples
    --------
    >>> from skdigits import make_pipeline
    >>> pipe = make_pipeline(epochs=2, random_state=0)
    >>> [name for name, _ in pipe.steps]
    ['scale', 'clf']
    >>> cnn = make_pipeline(preset="tuned", architecture="cnn")
    >>> sorted(PRESETS)
    ['seed', 'tuned']
    """
    return Pipeline([("scale", PixelScaler()), ("clf", DigitClassifier(**params))])

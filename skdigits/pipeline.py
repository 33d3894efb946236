"""make_pipeline: the scaler and the classifier as one scikit-learn Pipeline."""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline

from .classifier import DigitClassifier
from .preprocessing import PixelScaler
from .presets import PRESETS, preset_params

__all__ = ["PRESETS", "make_pipeline", "preset_params"]


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

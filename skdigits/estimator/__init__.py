"""The scikit-learn estimators: ``PixelScaler``, ``DigitClassifier``, presets, pipelines.

``make_pipeline`` builds ``Pipeline(PixelScaler, DigitClassifier)``; a preset is
a named set of ordinary parameters (:func:`preset_params`); ``save_model`` and
``load_model`` keep a fitted pipeline in the ``.skdigits`` format. Importing the
package is cheap (``PRESETS`` needs no TensorFlow); ``DigitClassifier`` loads
TensorFlow on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.lazy import lazy_exports

if TYPE_CHECKING:  # pragma: no cover
    from ._classifier import DigitClassifier
    from ._params import PARAMETER_CONSTRAINTS
    from ._pipeline import check_skdigits_pipeline, digit_score, is_digit, make_pipeline
    from ._presets import PRESETS, preset_params
    from ._saving import load_metadata, load_model, save_model
    from ._scaler import PixelScaler
    from ._teacher import TEACHER_LABEL_SMOOTHING

__all__ = [
    "PARAMETER_CONSTRAINTS",
    "PRESETS",
    "TEACHER_LABEL_SMOOTHING",
    "DigitClassifier",
    "PixelScaler",
    "check_skdigits_pipeline",
    "digit_score",
    "is_digit",
    "load_metadata",
    "load_model",
    "make_pipeline",
    "preset_params",
    "save_model",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._classifier": ["DigitClassifier"],
        "._params": ["PARAMETER_CONSTRAINTS"],
        "._pipeline": ["check_skdigits_pipeline", "digit_score", "is_digit", "make_pipeline"],
        "._presets": ["PRESETS", "preset_params"],
        "._saving": ["load_metadata", "load_model", "save_model"],
        "._scaler": ["PixelScaler"],
        "._teacher": ["TEACHER_LABEL_SMOOTHING"],
    },
)

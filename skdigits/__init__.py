"""skdigits: handwritten digit recognition as a scikit-learn estimator, shipped as ONNX.

Importing the package is cheap: public names load their module (and TensorFlow,
where they need it) on first use. The subpackages, from files to a served
prediction: ``datasets`` → ``io`` → ``runtime`` → ``nn`` → ``model_io`` →
``estimator`` → ``models`` → ``export`` → ``analysis`` → ``serve`` → ``cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._core.errors import (
    DataError,
    FetchError,
    MissingDependencyError,
    ModelFileError,
    ParameterError,
    SkdigitsError,
    WriteError,
)
from ._core.lazy import lazy_exports
from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .analysis import default_param_grid, evaluate_predictions
    from .datasets import fetch_mnist, load_idx
    from .estimator import (
        DigitClassifier,
        PixelScaler,
        load_model,
        make_pipeline,
        preset_params,
        save_model,
    )
    from .export import export_onnx
    from .models import load_predictor
    from .reading import DigitReading, NumberReading, read_numbers
    from .runtime import ScaledInputWarning

__all__ = [
    "DataError",
    "DigitClassifier",
    "DigitReading",
    "FetchError",
    "MissingDependencyError",
    "ModelFileError",
    "NumberReading",
    "ParameterError",
    "PixelScaler",
    "ScaledInputWarning",
    "SkdigitsError",
    "WriteError",
    "__version__",
    "default_param_grid",
    "evaluate_predictions",
    "export_onnx",
    "fetch_mnist",
    "load_idx",
    "load_model",
    "load_predictor",
    "make_pipeline",
    "preset_params",
    "read_numbers",
    "save_model",
]

__getattr__ = lazy_exports(
    __name__,
    {
        ".analysis": ["default_param_grid", "evaluate_predictions"],
        ".datasets": ["fetch_mnist", "load_idx"],
        ".estimator": [
            "DigitClassifier",
            "PixelScaler",
            "load_model",
            "make_pipeline",
            "preset_params",
            "save_model",
        ],
        ".export": ["export_onnx"],
        ".models": ["load_predictor"],
        ".reading": ["DigitReading", "NumberReading", "read_numbers"],
        ".runtime": ["ScaledInputWarning"],
    },
)[0]


def __dir__() -> list[str]:
    return __all__

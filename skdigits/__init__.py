"""skdigits: handwritten digit recognition as a scikit-learn estimator, shipped as ONNX.

Importing the package is cheap: public names load their module (and TensorFlow,
where they need it) on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    DataError,
    FetchError,
    MissingDependencyError,
    ModelFileError,
    SkdigitsError,
)
from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .classifier import DigitClassifier
    from .datasets import fetch_mnist, load_idx
    from .evaluation import evaluate_predictions
    from .export import export_onnx
    from .models import load_predictor
    from .persistence import load_model, save_model
    from .pipeline import make_pipeline
    from .preprocessing import PixelScaler
    from .presets import preset_params
    from .search import default_param_grid

_LAZY = {
    "DigitClassifier": "skdigits.classifier",
    "PixelScaler": "skdigits.preprocessing",
    "make_pipeline": "skdigits.pipeline",
    "default_param_grid": "skdigits.search",
    "fetch_mnist": "skdigits.datasets",
    "load_idx": "skdigits.datasets",
    "evaluate_predictions": "skdigits.evaluation",
    "export_onnx": "skdigits.export",
    "preset_params": "skdigits.presets",
    "save_model": "skdigits.persistence",
    "load_model": "skdigits.persistence",
    "load_predictor": "skdigits.models",
}

__all__ = [
    "DataError",
    "DigitClassifier",
    "FetchError",
    "MissingDependencyError",
    "ModelFileError",
    "PixelScaler",
    "SkdigitsError",
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
    "save_model",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'skdigits' has no attribute {name!r}")
    try:
        imported = importlib.import_module(module)
    except ImportError as err:
        from ._deps import as_missing_dependency

        missing = as_missing_dependency(err, feature=f"skdigits.{name}")
        if missing is None:
            raise
        raise missing from err
    value = getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""Save and load a fitted skdigits pipeline in the ``.skdigits`` format, which runs no code.

The format itself (a zip of a JSON manifest and a Keras archive, bounded and
checked before anything is built) is :mod:`skdigits.model_io`; this module
names the classes its steps may be. Loading a file imports TensorFlow only once
the whole file has been bounded and checked, so a hostile file is refused
without that cost: the classifier's module (which imports TensorFlow) is
imported when the first step is built, not when this module is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sklearn.pipeline import Pipeline

from .._core.errors import ModelFileError
from ..model_io._format import load_metadata, read_pipeline, write_pipeline
from ._presets import spelled_out
from ._scaler import PixelScaler

if TYPE_CHECKING:  # pragma: no cover
    from ._classifier import DigitClassifier

__all__ = ["load_metadata", "load_model", "save_model"]


def _saved_classifier(**params: Any) -> DigitClassifier:
    # TensorFlow loads here, after read_pipeline has checked the whole file.
    from ._classifier import DigitClassifier

    return DigitClassifier(**spelled_out(params))


#: The classes a saved pipeline's steps may be, by the name its manifest stores.
STEP_CLASSES: dict[str, Any] = {"PixelScaler": PixelScaler, "DigitClassifier": _saved_classifier}


def save_model(pipeline: Pipeline, path: Any, *, metadata: dict[str, Any] | None = None) -> Path:
    """Save a fitted skdigits pipeline to ``path`` atomically.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted ``Pipeline([("scale", PixelScaler()), ("clf", DigitClassifier())])``.
    path : str or path-like
        Destination; ``.skdigits`` is the conventional suffix.
    metadata : dict, default=None
        Extras kept in the manifest (e.g. test accuracy): numbers, strings,
        booleans, lists and dicts with string keys. NumPy values are stored as
        Python ones, NaN and infinities as ``null`` (strict JSON).

    Raises
    ------
    ModelFileError
        The pipeline is not a fitted skdigits pipeline, or holds what a model file
        cannot (labels that are neither integers nor short strings, a parameter that
        is an object or not finite, metadata JSON cannot hold), or ``path`` is a
        directory, device or pipe. Nothing is written then.

    Returns
    -------
    Path
        The path written.
    """
    from ._pipeline import check_skdigits_pipeline  # a fitted pipeline has TensorFlow loaded

    check_skdigits_pipeline(pipeline, purpose="save_model", action="saving", error=ModelFileError)
    return write_pipeline(pipeline, path, metadata=metadata)


def load_model(path: Any) -> Pipeline:
    """Load a pipeline saved by :func:`save_model`; nothing in the file is executed.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    sklearn.pipeline.Pipeline
        The fitted pipeline, ready for ``predict``.
    """
    return read_pipeline(path, STEP_CLASSES)

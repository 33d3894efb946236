"""Open a model file of any kind, and decide whether a pickle may be loaded.

One route for the command line and for Python: an ``.onnx`` file becomes an
:class:`~skdigits.runtime.OnnxDigitClassifier` (numpy and onnxruntime only),
a ``.skdigits`` file a pipeline loaded by :func:`skdigits.estimator.load_model`
(nothing in it runs), and a pickle or joblib file, recognised by its suffix or
its first bytes, is refused unless the caller trusts it (``allow_pickle=True``),
because unpickling runs any code the file holds.

Every predictor returned has ``classes_``, ``predict_with_proba(X)`` and
``predict_proba(X)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._core.errors import ModelFileError, one_line

__all__ = ["PICKLE_SUFFIXES", "is_pickle_file", "load_predictor", "model_kind", "refuse_pickle"]

PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".jl"})
_ALLOW_HINT = "allow_pickle=True"


def is_pickle_file(path: str | Path) -> bool:
    """Whether ``path`` is a pickle, by its suffix or by its first bytes (``\\x80`` protocol)."""
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return True
    from .runtime._checks import looks_like_pickle

    try:
        with open(path, "rb") as fh:
            return looks_like_pickle(fh.read(2))
    except OSError:
        return False  # the loader that runs next names the problem


def model_kind(path: str | Path) -> Literal["onnx", "skdigits", "pickle"]:
    """How :func:`load_predictor` opens ``path``: only ``"onnx"`` stays free of TensorFlow."""
    if is_pickle_file(path):
        return "pickle"
    return "skdigits" if Path(path).suffix == ".skdigits" else "onnx"


def refuse_pickle(path: str | Path, *, allow_hint: str | None = _ALLOW_HINT) -> None:
    """Raise the one-line error for a pickle model that was not explicitly allowed.

    ``allow_hint`` names how the caller allows pickles (``--allow-pickle`` on the
    command line); ``None`` where they never can be.
    """
    how = f"pass {allow_hint} only if you trust the file, or " if allow_hint else ""
    raise ModelFileError(
        f"{path} is a pickle/joblib file, and loading a pickle runs any code it holds; "
        f"{how}re-save the model with skdigits.save_model (.skdigits) or export it to ONNX"
    )


def load_predictor(
    path: str | Path, *, allow_pickle: bool = False, allow_hint: str = _ALLOW_HINT
) -> Any:
    """The predictor for a model file of any kind skdigits writes.

    Parameters
    ----------
    path : str or path-like
        An ``.onnx`` file, a ``.skdigits`` pipeline, or (with ``allow_pickle``) a
        pickle/joblib file of a fitted skdigits pipeline.
    allow_pickle : bool, default=False
        Load a pickle/joblib file; unpickling runs code, so only for trusted files.
    allow_hint : str, default="allow_pickle=True"
        How the refusal of a pickle tells the user to allow it.

    Returns
    -------
    OnnxDigitClassifier or PipelinePredictor
        With ``classes_`` and ``predict_with_proba(X) -> (labels, probabilities)``.
    """
    path = Path(path)
    kind = model_kind(path)
    if kind == "pickle":
        if not allow_pickle:
            refuse_pickle(path, allow_hint=allow_hint)
        return PipelinePredictor(_load_pickle(path))
    if kind == "skdigits":
        from .estimator._saving import load_model

        return PipelinePredictor(load_model(path))
    from .runtime._predictor import OnnxDigitClassifier

    return OnnxDigitClassifier(path)


class PipelinePredictor:
    """A fitted skdigits pipeline behind the ONNX predictor's interface."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.classes_ = pipeline.classes_

    def predict_proba(self, X: Any) -> np.ndarray:
        from .estimator._scaler import check_pixel_range

        check_pixel_range(np.asarray(X).reshape(len(X), -1))
        return self.pipeline.predict_proba(X)

    def predict_with_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)], proba


def _load_pickle(path: Path) -> Any:
    """A pickled/joblib skdigits pipeline, checked to be one before it is used."""
    from ._core.deps import require

    joblib = require("joblib", feature="loading a pickled model")
    from .estimator._pipeline import check_skdigits_pipeline

    try:
        pipeline = joblib.load(path)
    except Exception as err:  # unpickling raises anything
        raise ModelFileError(
            f"{path} could not be unpickled ({type(err).__name__}: {one_line(err)}); "
            "pass a model saved by this skdigits"
        ) from err
    check_skdigits_pipeline(pipeline, source=str(path), error=ModelFileError)
    return pipeline

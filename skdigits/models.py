"""Open a model file of any kind, and decide whether a pickle may be loaded.

One route for the command line and for Python: an ``.onnx`` file becomes an
:class:`~skdigits.runtime.OnnxDigitClassifier` (numpy and onnxruntime only),
a ``.skdigits`` file a pipeline loaded by :func:`skdigits.estimator.load_model`
(nothing in it runs), and a pickle or joblib file, recognised by its suffix or
its first bytes, is refused unless the caller trusts it (``allow_pickle=True``),
because unpickling runs any code the file holds. An input file given where the
model belongs (an image, an array: the arguments swapped) is named for what it is.

Every predictor returned has ``classes_``, ``digit_threshold_``,
``predict_with_proba(X)``, ``predict_with_score(X)`` and ``predict_proba(X)``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._core.errors import ModelFileError, one_line
from .io._images import _source_name
from .runtime._checks import (
    ZIP_MAGIC,
    check_finite_outputs,
    input_file_kind,
    looks_like_pickle,
)
from .runtime._digit_score import digit_score_from_proba

__all__ = [
    "PICKLE_SUFFIXES",
    "check_not_input_file",
    "is_pickle_file",
    "load_predictor",
    "model_kind",
    "refuse_pickle",
]

PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".jl"})
_ALLOW_HINT = "allow_pickle=True"


def is_pickle_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a pickle, by its suffix or by its first bytes (``\\x80`` protocol)."""
    path = Path(path)
    return path.suffix.lower() in PICKLE_SUFFIXES or looks_like_pickle(_file_head(path))


def _file_head(path: str | os.PathLike[str]) -> bytes:
    """The first 64 bytes of a regular file; nothing for anything else.

    A FIFO or a device is never opened here (opening a FIFO waits for a writer):
    the loader that runs next names the problem, as it does for a missing file.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return b""
        with open(path, "rb") as fh:
            return fh.read(64)
    except OSError:
        return b""


def check_not_input_file(path: str | os.PathLike[str], *, hint: str) -> None:
    """Raise :class:`ModelFileError` if ``path`` holds input data (an image, an array).

    ``hint`` says what to pass instead, in the caller's words (Python or the
    command line).
    """
    kind = input_file_kind(_file_head(path))
    if kind is not None:
        raise ModelFileError(f"{_source_name(path)} is {kind}, not a model; {hint}")


def model_kind(path: str | os.PathLike[str]) -> Literal["onnx", "skdigits", "pickle"]:
    """How :func:`load_predictor` opens ``path``: only ``"onnx"`` stays free of TensorFlow.

    A pickle by its suffix or first bytes; a ``.skdigits`` pipeline by its suffix
    or, under any other name, by being a zip archive (the ONNX reader would only
    say to convert it); anything else is read as ONNX.
    """
    if is_pickle_file(path):
        return "pickle"
    if Path(path).suffix == ".skdigits" or _file_head(path).startswith(ZIP_MAGIC):
        return "skdigits"
    return "onnx"


def refuse_pickle(path: str | Path, *, allow_hint: str | None = _ALLOW_HINT) -> None:
    """Raise the one-line error for a pickle model that was not explicitly allowed.

    ``allow_hint`` names how the caller allows pickles (``--allow-pickle`` on the
    command line); ``None`` where they never can be.
    """
    how = f"pass {allow_hint} only if you trust the file, or " if allow_hint else ""
    raise ModelFileError(
        f"{_plain_name(path)} is a pickle/joblib file, and loading a pickle runs any code "
        f"it holds; {how}re-save the model with skdigits.save_model (.skdigits) or export "
        "it to ONNX"
    )


def load_predictor(
    path: str | os.PathLike[str], *, allow_pickle: bool = False, allow_hint: str = _ALLOW_HINT
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
    check_not_input_file(
        path, hint="pass a model file, .onnx or .skdigits (images go to predict())"
    )
    kind = model_kind(path)
    if kind == "pickle":
        if not allow_pickle:
            refuse_pickle(path, allow_hint=allow_hint)
        return PipelinePredictor(_load_pickle(path), _source_name(path))
    if kind == "skdigits":
        from .estimator._saving import load_model

        return PipelinePredictor(load_model(path), _source_name(path))
    from .runtime._predictor import OnnxDigitClassifier

    return OnnxDigitClassifier(path)


class PipelinePredictor:
    """A fitted skdigits pipeline behind the ONNX predictor's interface.

    Parameters
    ----------
    pipeline : Pipeline
        A fitted ``Pipeline(PixelScaler, DigitClassifier)``.
    name : str, default="the pipeline"
        How messages name it (its file, quoted).
    """

    def __init__(self, pipeline: Any, name: str = "the pipeline") -> None:
        self.pipeline = pipeline
        self.name = name
        self.classes_ = pipeline.classes_

    @property
    def digit_threshold_(self) -> float:
        """The threshold the pipeline's own ``is_digit`` uses (its override, else fitted)."""
        return float(self.pipeline[-1]._threshold_in_use())

    def predict_proba(self, X: Any) -> np.ndarray:
        if isinstance(X, np.ndarray) and X.ndim >= 2 and X.shape[0] == 0:
            # As the ONNX predictor answers an empty batch (every input unreadable).
            return np.empty((0, len(self.classes_)), dtype=np.float32)
        # The PixelScaler checks the pixels (and takes a single image).
        proba = self.pipeline.predict_proba(X)
        check_finite_outputs(proba, self.name)
        return proba

    def predict_with_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)], proba

    def predict_with_score(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Labels, probabilities and digit scores, as the ONNX predictor's method."""
        labels, proba = self.predict_with_proba(X)
        return labels, proba, digit_score_from_proba(proba)


def _plain_name(path: str | os.PathLike[str]) -> str:
    """A path for messages: as it is, or escaped (repr) if it holds control characters."""
    text = os.fsdecode(path)
    return text if text.isprintable() else repr(text)


def _load_pickle(path: Path) -> Any:
    """A pickled/joblib skdigits pipeline, checked to be one before it is used."""
    from ._core.deps import require

    joblib = require("joblib", feature="loading a pickled model")
    from .estimator._pipeline import check_skdigits_pipeline

    try:
        pipeline = joblib.load(path)
    except Exception as err:  # unpickling raises anything
        raise ModelFileError(
            f"{_plain_name(path)} could not be unpickled ({type(err).__name__}: {one_line(err)}); "
            "pass a model saved by this skdigits"
        ) from err
    check_skdigits_pipeline(pipeline, source=_plain_name(path), error=ModelFileError)
    return pipeline

"""The export gate: what may be exported, and proof that the ONNX graph matches the pipeline.

Nothing here imports TensorFlow, scikit-learn or onnx at import time; onnxruntime
is imported when a parity check runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.errors import SkdigitsError
from ..runtime._digit_score import DIGIT_SCORE_OUTPUT, digit_score_from_proba

#: The largest |Δp| allowed between ONNX and ``pipeline.predict_proba``.
PARITY_TOLERANCE = 1e-5

#: Opsets the export accepts: ReduceSum takes its axes as an input from 13 on,
#: and tf2onnx 1.17 converts up to 18.
MIN_OPSET, MAX_OPSET = 13, 18

#: How many synthetic images the parity gate uses when it is given none.
N_CHECK = 256

#: The image layout of the ONNX contract.
IMAGE_SHAPE = (28, 28)


class ExportError(SkdigitsError, ValueError):
    """A pipeline, an argument or a destination that the ONNX export cannot accept."""


class ParityError(ExportError):
    """The converted ONNX graph does not reproduce the pipeline's predictions."""


@dataclass(frozen=True)
class ParityReport:
    """How closely an ONNX model reproduces a pipeline on a set of images.

    Attributes
    ----------
    n_samples : int
        Number of images compared.
    n_label_mismatches : int
        Images whose ONNX ``label`` differs from ``pipeline.predict``.
    max_abs_diff : float
        Largest absolute difference between ONNX ``probabilities`` and
        ``pipeline.predict_proba``, and between ONNX ``digit_score`` (when the
        model has it) and the score of those probabilities (``inf`` if shapes
        differ or values are not finite).
    tolerance : float
        The largest ``max_abs_diff`` that passes.
    """

    n_samples: int
    n_label_mismatches: int
    max_abs_diff: float
    tolerance: float = PARITY_TOLERANCE

    @property
    def passed(self) -> bool:
        """True when every label agrees and ``max_abs_diff <= tolerance``."""
        # Written so that a NaN difference fails.
        return self.n_label_mismatches == 0 and self.max_abs_diff <= self.tolerance

    def __str__(self) -> str:
        return (
            f"{self.n_label_mismatches} of {self.n_samples} labels differ, "
            f"max |Δp| = {self.max_abs_diff:.3g} (allowed {self.tolerance:g})"
        )


def check_opset(opset: Any) -> int:
    """Return ``opset`` as an int, or raise :class:`ExportError` if it is out of range."""
    if isinstance(opset, bool) or not isinstance(opset, int | np.integer):
        raise ExportError(
            f"`opset` must be an integer from {MIN_OPSET} to {MAX_OPSET}, got {opset!r}"
        )
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(
            f"`opset` must be from {MIN_OPSET} to {MAX_OPSET}, got {opset}: tf2onnx converts "
            f"the Keras net up to opset {MAX_OPSET}, and ReduceSum needs at least {MIN_OPSET}; "
            "opset 17 is the default and runs on every recent onnxruntime"
        )
    return int(opset)


def check_exportable(pipeline: Any) -> tuple[Any, Any]:
    """Return ``(scaler, classifier)`` of a fitted, exportable skdigits pipeline.

    Raises
    ------
    ExportError
        If ``pipeline`` is not ``Pipeline(PixelScaler, DigitClassifier)``, is not
        fitted, was fitted on images other than 28 x 28, or has class labels that
        are not integers (the ONNX ``label`` output is int64).
    """
    from ..estimator._pipeline import check_skdigits_pipeline

    scaler, clf = check_skdigits_pipeline(
        pipeline, purpose="ONNX export", action="exporting", error=ExportError
    )
    n_pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if scaler.n_features_in_ != n_pixels or clf.n_features_in_ != n_pixels:
        raise ExportError(
            f"the pipeline was fitted on images of {scaler.n_features_in_} pixels, but the "
            f"ONNX contract is {IMAGE_SHAPE[0]} x {IMAGE_SHAPE[1]} = {n_pixels} pixels; "
            "fit it on MNIST-shaped images"
        )
    class_labels(clf)
    return scaler, clf


def class_labels(clf: Any) -> np.ndarray:
    """The classifier's ``classes_`` as int64, or :class:`ExportError` if they are not integers."""
    classes = np.asarray(clf.classes_)
    if classes.ndim != 1 or classes.dtype.kind not in "iu":
        shown = ", ".join(repr(c) for c in classes.ravel()[:3].tolist())
        raise ExportError(
            f"the ONNX `label` output is int64, but this pipeline's class labels are "
            f"{classes.dtype} ({shown}, ...); refit it with integer labels (e.g. "
            "sklearn.preprocessing.LabelEncoder) and map them back after prediction"
        )
    as_int64 = classes.astype(np.int64)
    if not np.array_equal(as_int64, classes):
        raise ExportError(f"class labels {classes.tolist()} do not fit in int64")
    return as_int64


def default_check_samples(n: int = N_CHECK, *, seed: int = 0) -> np.ndarray:
    """Deterministic raw images for the parity check when no real images are given.

    An all-black and an all-white image, then alternately uniform noise and
    sparse, MNIST-like noise (most pixels 0). Real images are a better check;
    pass some to :func:`~skdigits.export.export_onnx` as ``check_samples``.

    Returns
    -------
    ndarray of shape (n, 28, 28), dtype uint8
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ExportError(f"`n_check` must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(int(n), *IMAGE_SHAPE), dtype=np.uint8)
    sparse = np.arange(n) % 2 == 1
    images[sparse] *= rng.random((int(sparse.sum()), *IMAGE_SHAPE)) < 0.2
    images[0] = 0
    if n > 1:
        images[1] = 255
    return images


def as_check_images(images: Any) -> np.ndarray:
    """Raw images as float32 ``(n, 28, 28)``, the ONNX input layout."""
    arr = np.asarray(images)
    n_pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if arr.ndim == 2 and arr.shape[1] == n_pixels:
        arr = arr.reshape(-1, *IMAGE_SHAPE)
    if arr.ndim != 3 or arr.shape[1:] != IMAGE_SHAPE or arr.shape[0] == 0:
        raise ExportError(
            f"`check_samples` must be raw images of shape (n, 28, 28) or (n, 784) with "
            f"n >= 1, got shape {arr.shape}"
        )
    if arr.dtype.kind not in "uif":
        raise ExportError(f"`check_samples` must be numeric pixel values, got dtype {arr.dtype}")
    return arr.astype(np.float32)


def measure_parity(
    model: bytes | str | os.PathLike[str],
    pipeline: Any,
    images: Any,
    *,
    tolerance: float = PARITY_TOLERANCE,
) -> ParityReport:
    """Run ``model`` in onnxruntime and ``pipeline`` on the same raw images and compare.

    Parameters
    ----------
    model : bytes or path-like
        A serialised ONNX model, or the path of one, honouring the skdigits contract.
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline the model was converted from.
    images : array-like of shape (n, 28, 28) or (n, 784)
        Raw pixel intensities in [0, 255].
    tolerance : float, default=1e-5
        The largest absolute difference in probabilities that passes.

    Returns
    -------
    ParityReport
    """
    from ..runtime._predictor import quiet_session

    x = as_check_images(images)
    source = model if isinstance(model, bytes) else os.fspath(model)
    session = quiet_session(source)
    names = ["label", "probabilities"]
    if DIGIT_SCORE_OUTPUT in {o.name for o in session.get_outputs()}:
        names.append(DIGIT_SCORE_OUTPUT)
    onnx_label, onnx_proba, *onnx_score = session.run(names, {"pixels": x})
    # The same float32 images go to both sides; PixelScaler casts to float32 anyway.
    expected_proba = np.asarray(pipeline.predict_proba(x))
    expected_label = np.asarray(pipeline.predict(x))

    max_abs_diff = _max_abs_diff(onnx_proba, expected_proba)
    if onnx_score:  # the digit score, as the Python side computes it from its probabilities
        expected_score = digit_score_from_proba(expected_proba)
        max_abs_diff = max(max_abs_diff, _max_abs_diff(onnx_score[0], expected_score))
    if onnx_label.shape == expected_label.shape:
        n_mismatches = int(np.count_nonzero(onnx_label != expected_label))
    else:
        n_mismatches = len(x)
    return ParityReport(len(x), n_mismatches, max_abs_diff, tolerance)


def _max_abs_diff(got: np.ndarray, expected: np.ndarray) -> float:
    """The largest absolute difference of two arrays; infinite if their shapes differ."""
    if got.shape != expected.shape:
        return float("inf")
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    return float(diff.max(initial=0.0)) if np.isfinite(diff).all() else float("inf")


def check_parity(
    model: bytes | str | os.PathLike[str],
    pipeline: Any,
    images: Any,
    *,
    tolerance: float = PARITY_TOLERANCE,
) -> ParityReport:
    """Like :func:`measure_parity`, but raise :class:`ParityError` unless it passes."""
    report = measure_parity(model, pipeline, images, tolerance=tolerance)
    if not report.passed:
        raise ParityError(
            f"the ONNX graph does not reproduce the pipeline: {report}; no file was "
            "written. The conversion is wrong for this model: please report it with your "
            "skdigits, tensorflow, tf2onnx and onnxruntime versions"
        )
    return report

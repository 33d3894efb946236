"""``read_numbers``: pictures of handwritten numbers → their digits, each with its box."""

from __future__ import annotations

import os
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.errors import DataError
from ..io._segment import Segmentation, segment_number
from ..runtime._digit_score import digit_score_from_proba
from ._paths import (
    best_path,
    digit_scores,
    join_scores,
    lone_widths,
    noise_scores,
    width_scores,
)

__all__ = ["DigitReading", "NumberReading", "parse_length", "read_numbers"]

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number read.

    Attributes
    ----------
    label : int
        The digit.
    probability : float
        The classifier's probability of ``label`` for this digit's ink.
    box : (int, int, int, int)
        The digit's ink in the input's pixels: x0, y0, x1, y1, the ends exclusive
        (as ``PIL.Image.crop`` takes them).
    """

    label: int
    probability: float
    box: Box


@dataclass(frozen=True)
class NumberReading:
    """A number read from one picture.

    Attributes
    ----------
    text : str
        The digits, left to right (``"2026"``).
    probability : float
        Of the whole reading: the product of its digits' probabilities.
    digits : tuple of DigitReading
        Each digit, left to right.
    """

    text: str
    probability: float
    digits: tuple[DigitReading, ...]

    def to_dict(self) -> dict[str, Any]:
        """The reading as JSON values, as ``skdigits read --json`` and the service's
        ``POST /read`` print it.

        Returns
        -------
        dict
            ``text``, ``probability`` and ``digits``: a list of ``label``,
            ``probability`` and ``box`` (a list x0, y0, x1, y1), left to right.
        """
        digits = [
            {"label": d.label, "probability": d.probability, "box": list(d.box)}
            for d in self.digits
        ]
        return {"text": self.text, "probability": self.probability, "digits": digits}


def read_numbers(
    model: Any, inputs: Any, *, length: int | tuple[int, int] | None = None
) -> list[NumberReading]:
    """Read the handwritten number in each picture.

    Each picture is cut into more pieces than it has digits; every run of pieces
    that may be one digit is classified, all of them in one batch, and the
    reading is the path through the pieces whose digits the classifier is
    surest of (see :mod:`skdigits.io._segment` and the guide's "Reading numbers").
    A mark standing apart whose digit score is under the model's
    ``digit_threshold_`` is left out (a blot, a scribble) when its reading as a
    digit is less likely than a digit scored at the threshold / e**1.25 (or, for
    a mark several digit heights wide, than as many such digits).

    Parameters
    ----------
    model : str, path-like or predictor
        A model file, opened by :func:`skdigits.load_predictor` (an ``.onnx``
        file needs onnxruntime only), or a loaded predictor: an
        :class:`~skdigits.runtime.OnnxDigitClassifier`, a fitted pipeline, or
        anything whose ``predict_proba`` takes (n, 28, 28) MNIST-style images
        and that has ``classes_``.
    inputs : path, bytes, binary file, PIL image or array, or a list of them
        The pictures: image files (by path, contents or open file), PIL images,
        or pixel arrays ((H, W) greyscale, (H, W, 3) RGB, (H, W, 4) RGBA); one
        number each, dark on light or light on dark, a drawing or a photo.
    length : int or (int, int), default=None
        The number of digits expected, or the fewest and most (a form field);
        None: any.

    Returns
    -------
    list of NumberReading
        One per picture, in order (a list of one for a single picture).

    Raises
    ------
    DataError
        If a picture cannot be read, shows no ink (a blank page) or no mark the
        model takes for a digit, or cannot be read as a number of ``length``
        digits; or ``length`` is not a count.
    ModelFileError
        If ``model`` is a file that cannot be opened as a model.

    Examples
    --------
    >>> from skdigits import read_numbers
    >>> reading, = read_numbers("models/mnist.onnx", "year.png")  # doctest: +SKIP
    >>> reading.text, [d.box for d in reading.digits]  # doctest: +SKIP
    ('2026', [(12, 8, 40, 52), (47, 10, 77, 50), (86, 9, 118, 51), (125, 6, 151, 50)])
    """
    lengths = _check_length(length)
    predictor = _predictor(model)
    pictures = _as_list(inputs)
    segmentations = [segment_number(picture) for picture in pictures]
    if not segmentations:
        return []
    proba, digit_score = _classify(predictor, np.concatenate([s.images for s in segmentations]))
    model = _Model(np.asarray(predictor.classes_), _threshold(predictor))
    readings, first = [], 0
    for segmentation in segmentations:
        rows = slice(first, first + len(segmentation.spans))
        readings.append(_best_reading(segmentation, proba[rows], digit_score[rows], model, lengths))
        first = rows.stop
    return readings


@dataclass(frozen=True)
class _Model:
    """What the reader needs of the model besides its outputs."""

    classes: np.ndarray
    threshold: float


def _classify(predictor: Any, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The candidates' probabilities and digit scores, from one run of the model."""
    with warnings.catch_warnings():
        # The candidates are prepared as MNIST is: no second guess from the model.
        warnings.simplefilter("ignore", UserWarning)
        with_score = getattr(predictor, "predict_with_score", None)
        if callable(with_score):
            _, proba, score = with_score(images)
        else:
            proba = predictor.predict_proba(images)
            # A fitted pipeline: the score its classifier computes (skdigits.estimator).
            score = digit_score_from_proba(np.asarray(proba).reshape(len(images), -1))
    return np.asarray(proba, np.float64), np.asarray(score, np.float64)


def _threshold(predictor: Any) -> float:
    """The model's digit threshold: under it a candidate is no digit (0: all are).

    A predictor's ``digit_threshold_``; for a fitted pipeline, its classifier's
    ``digit_threshold`` when set, else its fitted ``digit_threshold_``.
    """
    value = getattr(predictor, "digit_threshold_", None)
    steps = getattr(predictor, "steps", None)
    if value is None and isinstance(steps, list) and steps:
        last = steps[-1][1]
        value = getattr(last, "digit_threshold", None)
        value = getattr(last, "digit_threshold_", 0.0) if value is None else value
    try:
        threshold = float(0.0 if value is None else value)
    except (TypeError, ValueError):
        return 0.0
    return min(max(threshold, 0.0), 1.0) if np.isfinite(threshold) else 0.0


def _best_reading(
    segmentation: Segmentation,
    proba: np.ndarray,
    digit_score: np.ndarray,
    model: _Model,
    lengths: tuple[int, int],
) -> NumberReading:
    best, scores = digit_scores(proba, digit_score)
    labels = model.classes[best]
    widths = lone_widths(segmentation, labels)
    scores = scores + width_scores(widths, labels) + join_scores(segmentation)
    skips = noise_scores(segmentation, digit_score, model.threshold)
    n, spans = segmentation.n_pieces, segmentation.spans
    if np.isfinite(skips).any() and best_path(n, spans, scores, (0, lengths[1]), skips) == []:
        raise DataError(
            f"image {segmentation.name} shows no digit: the model takes each of its "
            f"{int(segmentation.marks.max()) + 1} marks for no digit (digit scores up to "
            f"{float(digit_score.max()):.2f}, its threshold {model.threshold:.2f}); pass a "
            "picture of a number"
        )
    path = best_path(n, spans, scores, lengths, skips)
    if path is None:
        low, high = lengths
        wanted = str(low) if low == high else f"{low} to {high}"
        if high == sys.maxsize:
            wanted = f"at least {low}"
        raise DataError(
            f"image {segmentation.name} cannot be read as a number of {wanted} digits: no "
            f"way through its {segmentation.n_pieces} pieces of writing has that many; check "
            "the picture, or pass the length it holds"
        )
    digits = tuple(
        DigitReading(
            label=int(model.classes[best[k]]),
            probability=float(proba[k, best[k]]),
            box=(
                int(segmentation.boxes[k, 0]),
                int(segmentation.boxes[k, 1]),
                int(segmentation.boxes[k, 2]),
                int(segmentation.boxes[k, 3]),
            ),
        )
        for k in path
    )
    probability = float(np.prod([d.probability for d in digits]))
    return NumberReading("".join(str(d.label) for d in digits), probability, digits)


def parse_length(text: str) -> tuple[int, int]:
    """A length as a person writes it, ``N`` or ``N-M`` digits, as (fewest, most).

    What ``skdigits read --length`` and the service's ``?length=`` take.

    Raises
    ------
    DataError
        If ``text`` is not a count of 1 to 999999 digits or a range from fewer to more.
    """
    match = re.fullmatch(r"\s*(\d{1,6})\s*(?:-\s*(\d{1,6})\s*)?", text)
    if match is None:
        raise DataError(f"expected a number of digits (4) or a range (4-6), got {text[:40]!r}")
    low = int(match[1])
    high = int(match[2]) if match[2] is not None else low
    if not 1 <= low <= high:
        raise DataError(
            f"a length is at least 1 and a range runs from fewer to more digits, got {text!r}"
        )
    return low, high


def _check_length(length: Any) -> tuple[int, int]:
    """``length`` as (fewest, most) digits."""
    if length is None:
        return 1, sys.maxsize
    pair = (length, length) if isinstance(length, int | np.integer) else length
    try:
        low, high = pair
        valid = all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in pair)
    except (TypeError, ValueError):
        valid = False
    if not valid or isinstance(length, bool) or not 1 <= low <= high:
        raise DataError(
            f"`length` must be a number of digits (at least 1) or a (fewest, most) pair, "
            f"got {str(length)[:50]!r}; e.g. length=4 or length=(4, 6)"
        )
    return int(low), int(high)


def _predictor(model: Any) -> Any:
    if isinstance(model, str | os.PathLike):
        from ..models import load_predictor

        return load_predictor(model)
    if not callable(getattr(model, "predict_proba", None)) or not hasattr(model, "classes_"):
        raise TypeError(
            f"`model` must be a model file or a fitted predictor with predict_proba and "
            f"classes_, got {type(model).__name__}"
        )
    return model


def _as_list(inputs: Any) -> list[Any]:
    """One picture becomes a list of one; a list or tuple of pictures stays as it is."""
    pil_image = sys.modules.get("PIL.Image")
    single = isinstance(inputs, str | os.PathLike | bytes | bytearray | memoryview | np.ndarray)
    if single or hasattr(inputs, "read"):
        return [inputs]
    if pil_image is not None and isinstance(inputs, pil_image.Image):
        return [inputs]
    return list(inputs)

"""Digits in other hands than MNIST's: typeset in the training fonts, or redrawn with a pen.

A net trained on MNIST alone, and above all one trained with outliers, learns
MNIST's pen as part of what a digit is: a digit typeset in a font, or drawn on a
screen with a stroke of one width, then scores like a letter. Training on these
variants too, with their labels, keeps what a digit is about its shape:

- ``typeset``: the digits 0-9 in the training fonts
  (:data:`~skdigits.io._nondigits.TRAINING_FONT_FAMILIES`), at random sizes,
  weights, slants and small rotations;
- ``pen``: the caller's digits redrawn along their skeletons with a round pen
  from a hair to a marker (:func:`~skdigits.io._pen.redraw_with_pen`).

Every picture goes through :func:`preprocess_digit`, as a user's file does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.deps import require
from .._core.errors import DataError
from ._images import preprocess_digit
from ._nondigits import _Sources, find_fonts
from ._pen import PEN_WIDTHS, redraw_with_pen

#: The kinds of variant :func:`make_digit_variants` draws, in turn.
VARIANT_KINDS: tuple[str, ...] = ("typeset", "pen")


def make_digit_variants(
    n: int,
    *,
    digits: Any,
    labels: Any,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` digits in other hands, MNIST-style (28×28 uint8, white on black), with labels.

    Variants alternate between the kinds of :data:`VARIANT_KINDS`. A ``typeset``
    digit is drawn for a label that is a digit 0-9 (an int, or a one-character
    string); with no such label, every variant is a ``pen`` one.

    Parameters
    ----------
    n : int
        How many images.
    digits : array-like of shape (m, 28, 28), 0-255
        MNIST-layout training digits, white on black, for the ``pen`` kind.
    labels : array-like of shape (m,)
        Their labels; the variants' labels are drawn from these.
    random_state : int, numpy Generator or None, default=None

    Returns
    -------
    images : ndarray of shape (n, 28, 28), dtype uint8
    labels : ndarray of shape (n,), the dtype of ``labels``
    """
    digits = np.asarray(digits)
    labels = np.asarray(labels)
    if digits.ndim != 3 or digits.shape[1:] != (28, 28) or len(digits) != len(labels):
        raise DataError(
            f"`digits` must be MNIST-layout images (m, 28, 28) with one label each, got "
            f"shape {digits.shape} and {len(labels)} labels; pass X_train and y_train"
        )
    rng = np.random.default_rng(random_state)
    typeset = [k for k, label in enumerate(np.unique(labels)) if _digit_of(label) is not None]
    classes = np.unique(labels)
    n_typeset = n // 2 if typeset else 0
    out_images = np.zeros((n, 28, 28), dtype=np.uint8)
    out_labels = np.empty(n, dtype=labels.dtype)
    sources = _Sources(find_fonts(), None)
    for i in range(n_typeset):
        label = classes[typeset[rng.integers(len(typeset))]]
        out_images[i] = _typeset(_digit_of(label) or "0", rng, sources)
        out_labels[i] = label
    chosen = rng.integers(len(digits), size=n - n_typeset)
    pens = rng.uniform(*PEN_WIDTHS, size=len(chosen))
    for i, image in enumerate(redraw_with_pen(digits[chosen], pens), start=n_typeset):
        out_images[i] = _mnist_layout(image)
    out_labels[n_typeset:] = labels[chosen]
    order = rng.permutation(n)
    return out_images[order], out_labels[order]


def _digit_of(label: Any) -> str | None:
    """The character a label is typeset as: "0"-"9", or None for a label no digit."""
    text = str(label.item() if isinstance(label, np.generic) else label)
    return text if len(text) == 1 and text in "0123456789" else None


def _typeset(char: str, rng: np.random.Generator, sources: _Sources) -> np.ndarray:
    """One digit in a training font, at a random size, weight, slant and small rotation."""
    pil = require("PIL.Image", feature="drawing digits")
    draw_module = require("PIL.ImageDraw", feature="drawing digits")
    size = int(rng.integers(28, 72))
    canvas = 3 * size
    image = pil.new("L", (canvas, canvas), 0)
    weight = int(rng.choice([0, 0, 1, 2, 3]))
    draw = draw_module.Draw(image)
    draw.text(
        (canvas / 2, canvas / 2),
        char,
        255,
        sources.font(rng, size),
        "mm",
        stroke_width=weight,
        stroke_fill=255,
    )
    slant = rng.uniform(-0.25, 0.25)
    image = image.transform(
        image.size, pil.Transform.AFFINE, (1, slant, -slant * canvas / 2, 0, 1, 0), fillcolor=0
    )
    return _mnist_layout(np.asarray(image.rotate(rng.uniform(-10, 10), fillcolor=0)))


def _mnist_layout(picture: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(preprocess_digit(picture)), 0, 255).astype(np.uint8)

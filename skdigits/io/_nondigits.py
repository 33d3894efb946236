"""Pictures that are not digits, in MNIST's layout: auxiliary outliers to train on.

A classifier trained on digits alone gives every picture a digit. Outlier
exposure (Hendrycks, Mazeika & Dietterich 2019) trains it on an auxiliary set of
non-digits too, pushing their probabilities towards uniform. This module makes
that set: each kind is one small function drawing a picture (white ink on
black), and every picture then goes through :func:`preprocess_digit`, the steps
a user's file takes, so the model trains on non-digits as it will see them; half
the textures stay whole-frame 28 × 28 arrays, as a Python caller may pass them.

Kinds (:data:`TRAINING_KINDS`):

- ``letters``: letters and symbols typeset in the training fonts
  (:data:`TRAINING_FONT_FAMILIES`), never those in :data:`DIGIT_LOOKALIKES`;
  some redrawn along their skeletons with a pen of one width;
- ``scribbles``: random smooth pen curves, neither straight nor closed;
- ``textures``: stripes, checkerboards, gaussian blobs and salt noise (specks to grey noise);
- ``fragments``: pieces (a half, a quarter, a corner) of digits passed in by
  the caller, who decides which digits may be cut (training digits only);
- ``specks``: a blank page with dust and specks.

Rendering needs Pillow (the ``images`` extra), as reading image files does; that
is why this lives in :mod:`skdigits.io`, beside the preprocessing it reuses.
"""

from __future__ import annotations

import glob
import math
import os
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core.deps import require
from .._core.errors import DataError
from ._images import preprocess_digit
from ._pen import PEN_WIDTHS, redraw_with_pen

#: What :func:`make_nondigits` draws unless told otherwise.
TRAINING_KINDS: tuple[str, ...] = ("letters", "scribbles", "textures", "fragments", "specks")

#: Font families typeset for training; evaluation holds other families out.
TRAINING_FONT_FAMILIES: tuple[str, ...] = ("DejaVu",)

#: Characters a reader could take for a digit, so never drawn as non-digits:
#: 0 (O o Q D θ Θ), 1 (I l i j J | ! / \\ brackets), 2 (Z z),
#: 5 (S s $ §), 6 (b G δ), 8 (B), 9 (g q). Training on them as "not a digit" would teach
#: the model to doubt real digits written that way.
DIGIT_LOOKALIKES = "OoQDθΘIlijJ|!/\\()[]{}ZzSs$§bGδBgq"

_GREEK = "αβγεζηκλμνξπρστφχψωΓΔΛΞΠΣΦΨΩ"
_SYMBOLS = "+-*#@%&?=<>~^€£¥§¶©®÷×±∞√≠≈←→↑↓♠♣♥♦★☆✓"

#: Every character the ``letters`` kind may draw.
NONDIGIT_CHARACTERS = "".join(
    c for c in string.ascii_letters + _GREEK + _SYMBOLS if c not in DIGIT_LOOKALIKES
)

_LATIN = "".join(c for c in string.ascii_letters if c not in DIGIT_LOOKALIKES)
_MAX_TRIES = 50

#: The share of ``letters`` redrawn along their skeletons with a round pen.
PEN_LETTERS = 0.4

#: The most images one call draws (784 MB, about half an hour on one core).
MAX_NONDIGITS = 1_000_000  # pictures drawn per image before giving up (a blank one is redrawn)

_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.fonts",
    "~/.local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)


def find_fonts(families: Sequence[str] = TRAINING_FONT_FAMILIES) -> list[str]:
    """TrueType files under the usual font folders whose name starts with a family.

    Parameters
    ----------
    families : sequence of str, default=TRAINING_FONT_FAMILIES
        File-name prefixes, e.g. ``("DejaVu",)`` or ``("Liberation",)``.

    Returns
    -------
    list of str
        Sorted paths; empty when no such font is installed.
    """
    found: set[str] = set()
    for folder in _FONT_DIRS:
        root = os.path.expanduser(folder)
        for path in glob.glob(os.path.join(root, "**", "*.ttf"), recursive=True):
            if os.path.basename(path).startswith(tuple(families)):
                found.add(path)
    return sorted(found)


@dataclass
class _Sources:
    """What the kinds draw from: font files (may be empty) and digits to cut."""

    fonts: list[str]
    digits: np.ndarray | None
    _loaded: dict[tuple[str, int], Any] = field(default_factory=dict)
    _glyphs: dict[tuple[int, str], bool] = field(default_factory=dict)

    def font(self, rng: np.random.Generator, size: int) -> Any:
        """A random training font at ``size`` px, or Pillow's built-in one if none is found."""
        font_module = require("PIL.ImageFont", feature="drawing non-digits")
        path = self.fonts[rng.integers(len(self.fonts))] if self.fonts else ""
        key = (path, size)
        if key not in self._loaded:
            self._loaded[key] = (
                font_module.truetype(path, size) if path else font_module.load_default(size)
            )
        return self._loaded[key]

    def has_glyph(self, font: Any, char: str) -> bool:
        """Whether ``font`` draws ``char`` (a missing glyph is a box, which reads as 0)."""
        key = (id(font), char)
        if key not in self._glyphs:
            missing = font.getmask("\ue000")  # a private-use code point no font draws
            mask = font.getmask(char)
            self._glyphs[key] = mask.size != missing.size or bytes(mask) != bytes(missing)
        return self._glyphs[key]


def make_nondigits(
    n: int,
    *,
    kinds: Sequence[str] = TRAINING_KINDS,
    digits: Any = None,
    random_state: int | np.random.Generator | None = None,
    return_kinds: bool = False,
) -> Any:
    """Draw ``n`` pictures that are not digits, MNIST-style (28×28 uint8, white on black).

    Image ``i`` is of kind ``kinds[i % len(kinds)]``, so every kind gets an equal
    share. Each picture goes through :func:`preprocess_digit` (20×20 box, centre
    of mass at the middle); one it finds blank is drawn again.

    Parameters
    ----------
    n : int
        How many images.
    kinds : sequence of str, default=TRAINING_KINDS
        Which kinds to draw, from :data:`TRAINING_KINDS`.
    digits : array-like of shape (m, 28, 28), default=None
        MNIST-layout digits the ``fragments`` kind cuts up; required when it is in
        ``kinds``. Pass training digits only, never those you evaluate on.
    random_state : int, numpy Generator or None, default=None
        Seed for a reproducible set.
    return_kinds : bool, default=False
        Also return each image's kind.

    Returns
    -------
    images : ndarray of shape (n, 28, 28), dtype uint8
    kinds : ndarray of shape (n,), dtype str
        Only if ``return_kinds``.

    Raises
    ------
    DataError
        If ``n`` is negative or over :data:`MAX_NONDIGITS`, a kind is unknown, or
        ``fragments`` has no digits, or none in MNIST's layout and range.

    Examples
    --------
    >>> from skdigits.io import make_nondigits
    >>> X = make_nondigits(4, kinds=("scribbles", "specks"), random_state=0)
    >>> X.shape, X.dtype.name
    ((4, 28, 28), 'uint8')
    """
    kinds = _check_kinds(n, kinds)
    sources = _Sources(find_fonts(), _check_digits(digits) if "fragments" in kinds else None)
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError) as err:
        raise DataError(
            "`random_state` must be None, a whole number >= 0 or a numpy Generator, got "
            f"{random_state!r:.50}; e.g. random_state=0"
        ) from err
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    drawn = np.array([kinds[i % len(kinds)] for i in range(n)], dtype=str)
    for i, kind in enumerate(drawn):
        images[i] = _draw_one(kind, rng, sources)
    return (images, drawn) if return_kinds else images


def _check_kinds(n: int, kinds: Sequence[str]) -> tuple[str, ...]:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 0 <= n <= MAX_NONDIGITS:
        raise DataError(
            f"`n` must be a whole number from 0 to {MAX_NONDIGITS:,}, got {n!r:.50}; e.g. "
            "n=10000 (draw a larger set in batches with different random_state)"
        )
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    unknown = [k for k in kinds if k not in _KINDS]
    if unknown or not kinds:
        raise DataError(
            f"`kinds` must be a non-empty subset of {TRAINING_KINDS}, got {kinds!r:.200}; "
            "drop the unknown names"
        )
    return kinds


def _check_digits(digits: Any) -> np.ndarray:
    """The caller's digits with ink, refused unless MNIST-layout (m, 28, 28) in 0-255."""
    if digits is None:
        raise DataError(
            "`kinds` holds 'fragments' but no `digits` were given to cut; pass MNIST "
            "training digits (never test digits) as digits=, or leave 'fragments' out"
        )
    array = np.asarray(digits)
    if array.ndim != 3 or array.shape[1:] != (28, 28) or array.dtype.kind not in "uif":
        raise DataError(
            f"`digits` must be MNIST-layout images of shape (m, 28, 28), got shape "
            f"{array.shape} of {array.dtype}; pass X_train from fetch_mnist"
        )
    peaks = array.reshape(len(array), -1).max(axis=1) if len(array) else array.ravel()
    if not len(peaks) or not np.isfinite(peaks).all() or peaks.max() <= 1 or array.min() < 0:
        raise DataError(
            f"`digits` must hold white ink on black in 0-255 (got {len(array)} images, "
            f"values {array.min() if array.size else 0} to {peaks.max() if len(peaks) else 0}); "
            "pass X_train from fetch_mnist, not scaled to [0, 1]"
        )
    return array[peaks > 0]


def _draw_one(kind: str, rng: np.random.Generator, sources: _Sources) -> np.ndarray:
    """One picture of ``kind`` through the preprocessing; blank ones are redrawn."""
    for _ in range(_MAX_TRIES):
        picture = _KINDS[kind](rng, sources)
        if kind == "textures" and rng.random() < 0.5:
            # As a Python caller may hand a picture in, unprocessed: the whole
            # 28 x 28 frame patterned (preprocessing would find grey noise blank).
            return picture.reshape(28, 2, 28, 2).mean(axis=(1, 3)).astype(np.uint8)
        try:
            image = preprocess_digit(picture)
            if kind == "letters" and rng.random() < PEN_LETTERS:
                # Written with a pen, not typeset: the stroke says nothing of digit-ness.
                pen = rng.uniform(*PEN_WIDTHS, size=1)
                image = preprocess_digit(redraw_with_pen(image[None], pen)[0])
        except DataError:  # blank after preprocessing: nothing a model would be shown
            continue
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)
    raise DataError(
        f"kind {kind!r} drew {_MAX_TRIES} pictures in a row that preprocessing finds "
        "blank; for 'fragments', pass digits with visible ink (white on black, 0-255)"
    )


# ---------------------------------------------------------------- the kinds


def _letter(rng: np.random.Generator, sources: _Sources) -> np.ndarray:
    """A letter or symbol in a training font, at a random size, weight and slant."""
    pil = require("PIL.Image", feature="drawing non-digits")
    draw_module = require("PIL.ImageDraw", feature="drawing non-digits")
    size = int(rng.integers(28, 56))
    canvas = 3 * size
    image = pil.new("L", (canvas, canvas), 0)
    font = sources.font(rng, size)
    char = NONDIGIT_CHARACTERS[rng.integers(len(NONDIGIT_CHARACTERS))]
    while not sources.has_glyph(font, char):
        char = _LATIN[rng.integers(len(_LATIN))]  # every font draws these
    weight = int(rng.choice([0, 0, 1, 2, 3]))
    centre = (canvas / 2, canvas / 2)
    draw = draw_module.Draw(image)
    draw.text(centre, char, 255, font, "mm", stroke_width=weight, stroke_fill=255)
    slant = rng.uniform(-0.25, 0.25)
    image = image.transform(
        image.size, pil.Transform.AFFINE, (1, slant, -slant * canvas / 2, 0, 1, 0), fillcolor=0
    )
    return np.asarray(image.rotate(rng.uniform(-15, 15), fillcolor=0))


def smooth_curve(points: np.ndarray, per_segment: int = 12) -> np.ndarray:
    """A Catmull-Rom curve through ``points`` (k, 2): a hand draws no corners between them."""
    if len(points) < 3:
        return np.asarray(points, dtype=float)
    padded = np.vstack([points[0], points, points[-1]])
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    pieces = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    return np.vstack([*pieces, points[-1:]])


def draw_strokes(
    strokes: Sequence[np.ndarray], pen: float, canvas: int = 84, *, dark_on_light: bool = False
) -> np.ndarray:
    """Strokes (point lists in canvas pixels) drawn with a round pen of width ``pen``."""
    pil = require("PIL.Image", feature="drawing non-digits")
    draw_module = require("PIL.ImageDraw", feature="drawing non-digits")
    ink, paper = (0, 255) if dark_on_light else (255, 0)
    image = pil.new("L", (canvas, canvas), paper)
    draw = draw_module.Draw(image)
    width, r = max(round(pen), 1), pen / 2
    for stroke in strokes:
        line = [(float(x), float(y)) for x, y in stroke]
        if len(line) > 1:
            draw.line(line, fill=ink, width=width, joint="curve")
        for x, y in (line[0], line[-1]):  # round pen ends
            draw.ellipse([x - r, y - r, x + r, y + r], fill=ink)
    return np.asarray(image)


def _scribble(rng: np.random.Generator, sources: _Sources) -> np.ndarray:
    """One to three random smooth strokes, redrawn while one is near straight or closed.

    A straight stroke reads as 1 and a closed loop as 0, so neither is kept.
    """
    canvas = 84
    strokes = []
    for _ in range(int(rng.integers(1, 4))):
        while True:
            points = rng.uniform(0.1, 0.9, (int(rng.integers(4, 9)), 2))
            span = np.ptp(points, axis=0).min()
            closed = np.linalg.norm(points[0] - points[-1]) < 0.2
            if span > 0.25 and not closed:
                break
        strokes.append(smooth_curve(points) * canvas)
    return draw_strokes(strokes, rng.uniform(2, 10), canvas)


def _texture(rng: np.random.Generator, sources: _Sources) -> np.ndarray:
    """Stripes, a checkerboard, gaussian blobs or salt noise over the whole picture."""
    side = 56
    y, x = np.mgrid[0:side, 0:side].astype(float)
    pattern = int(rng.integers(4))
    if pattern == 0:  # stripes at any angle and period
        angle = rng.uniform(0, np.pi)
        phase = (x * np.cos(angle) + y * np.sin(angle)) / rng.uniform(4, 14)
        image = (np.sin(2 * np.pi * phase) > rng.uniform(-0.5, 0.5)) * 255.0
    elif pattern == 1:  # checkerboard
        cell = rng.uniform(4, 14)
        image = ((np.floor(x / cell) + np.floor(y / cell)) % 2) * 255.0
    elif pattern == 2:  # gaussian blobs
        image = np.zeros((side, side))
        for _ in range(int(rng.integers(2, 9))):
            cx, cy = rng.uniform(0, side, 2)
            sigma = rng.uniform(2, 8)
            image += np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
        image = 255.0 * image / image.max()
    else:  # salt noise, from a few specks to grey noise over every pixel
        density = rng.uniform(0.02, 1.0)
        image = (rng.random((side, side)) < density) * rng.uniform(40, 255, (side, side))
    return image.astype(np.uint8)


def _fragment(rng: np.random.Generator, sources: _Sources) -> np.ndarray:
    """A half, a quarter or a corner of one of the caller's digits, with 15-50 % of its ink.

    A long thin piece (a stroke) reads as 1, so one 2.5 times as long as it is wide
    along its principal axes is cut again.
    """
    assert sources.digits is not None  # _check_digits saw to it
    for _ in range(_MAX_TRIES):
        digit = sources.digits[rng.integers(len(sources.digits))].astype(np.float32)
        top, bottom, left, right = _cut(rng, digit)
        piece = np.zeros((40, 40), dtype=np.float32)
        piece[6:34, 6:34][top:bottom, left:right] = digit[top:bottom, left:right]
        if 0.15 <= piece.sum() / digit.sum() <= 0.5 and _elongation(piece) < 2.5:
            return piece.astype(np.uint8)
    raise DataError(
        f"no piece of the `digits` given held 15-50 % of a digit's ink in {_MAX_TRIES} cuts; "
        "pass MNIST-layout digits (white ink on black, 0-255), e.g. X_train from fetch_mnist"
    )


def _cut(rng: np.random.Generator, digit: np.ndarray) -> tuple[int, int, int, int]:
    """Rows and columns (top, bottom, left, right) of a half, a quarter or a corner."""
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    mid_y, mid_x = (top + bottom) // 2, (left + right) // 2
    upper = (top, mid_y) if rng.random() < 0.5 else (mid_y, bottom)
    side = (left, mid_x) if rng.random() < 0.5 else (mid_x, right)
    cut = int(rng.integers(3))
    if cut == 0:  # a half: top or bottom, left or right
        return (*upper, left, right) if rng.random() < 0.5 else (top, bottom, *side)
    if cut == 1:  # a quarter
        return (*upper, *side)
    # a corner window of 40-60 % of the height and width
    h = max(1, int((bottom - top) * rng.uniform(0.4, 0.6)))
    w = max(1, int((right - left) * rng.uniform(0.4, 0.6)))
    y0 = top if rng.random() < 0.5 else bottom - h
    x0 = left if rng.random() < 0.5 else right - w
    return y0, y0 + h, x0, x0 + w


def _elongation(image: np.ndarray) -> float:
    """Ratio of the ink's spread along its principal axes (1 for a disc, large for a stroke)."""
    y, x = np.nonzero(image)
    if len(x) < 3:
        return math.inf
    weights = image[y, x].astype(float)
    low, high = np.linalg.eigvalsh(np.cov(np.vstack([x, y]), aweights=weights))
    return math.sqrt(high / low) if low > 1e-9 else math.inf


def _specks(rng: np.random.Generator, sources: _Sources) -> np.ndarray:
    """A blank page with a few specks of dust and, sometimes, a short hair."""
    side = 84
    image = np.zeros((side, side), dtype=np.float32)
    y, x = np.mgrid[0:side, 0:side]
    for _ in range(int(rng.integers(1, 12))):
        cx, cy = rng.uniform(4, side - 4, 2)
        radius = rng.uniform(0.6, 3.5)
        image[(x - cx) ** 2 + (y - cy) ** 2 <= radius**2] = rng.uniform(120, 255)
    if rng.random() < 0.3:
        start = rng.uniform(10, side - 10, 2)
        hair = start + np.cumsum(rng.normal(0, 1.5, (8, 2)), axis=0)
        image = np.maximum(image, draw_strokes([hair], 1.0, side).astype(np.float32))
    return image.astype(np.uint8)


_KINDS: dict[str, Callable[[np.random.Generator, _Sources], np.ndarray]] = {
    "letters": _letter,
    "scribbles": _scribble,
    "textures": _texture,
    "fragments": _fragment,
    "specks": _specks,
}

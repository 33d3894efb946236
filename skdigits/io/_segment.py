"""Pictures of whole numbers → candidate digits, each MNIST-style, for a reader to choose from.

A number is over-segmented, as LeCun et al. (1998) read cheque amounts: the
picture is cut into more pieces than it has digits, and every run of consecutive
pieces that could be one digit becomes a candidate. A classifier then scores the
candidates and the reader (:func:`skdigits.read_numbers`) picks the best path
through them. This module only proposes; it never decides what is a digit.

1. The picture becomes an ink map (white ink on black, 0-255) by the steps
   :func:`~skdigits.io.preprocess_digit` takes before cropping: polarity from the
   border, lighting and ruled lines taken away in a photo, background noise
   subtracted, ink stretched to 255.
2. Ink at least a quarter as strong as the strongest is split into 8-connected
   components. Specks (a component whose longer side is under a quarter of the
   tallest component's height) are dropped, and so, in a photo, is whatever
   never reaches half the strongest ink (lighting left over).
3. A component wide enough to hold two digits is cut, along the slant of the
   writing, where its upper contour dips or its lower contour rises and few
   pixels cross (two digits that touch, "00", a 2 running into a 3); one over 1.3
   digit heights wide is also cut at up to three of its cheapest columns. Each
   cut is bent, within a band about its column, along the path down that
   crosses the least ink (digits whose strokes overlap); a component at least
   1.3 digit heights wide is also cut wherever such a path crosses at most two
   strokes, a quarter of a digit height from the other cuts.
4. The pieces, ordered left to right, form candidates: each piece at least 60 %
   of the digit height tall, each whole component, and each run of up to six
   consecutive pieces that may be one digit (pieces of one component, or a
   small component beside the piece it overlaps, as the flag of a 5 or the bar
   of a 4 or a 7 drawn apart) and is at most 1.3 digit heights wide.
5. Each candidate is drawn alone (its ink, the rest cleared) and prepared as
   MNIST was, as :func:`~skdigits.io.preprocess_digit` prepares clean ink on
   black: 20 × 20 box, centre of mass at the centre of 28 × 28. A one-digit
   picture gives exactly the image ``predict`` sees, specks aside.

numpy, Pillow and the standard library only: this is on the deployment path.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.errors import DataError
from ._images import _INK_THRESHOLD, _PHOTO_BOX_LEVEL, _any_grey, _centred, _ink_map

__all__ = ["MAX_PIECES", "Segmentation", "segment_number"]

#: The most pieces a picture may be cut into (a 60-digit number, cut in all its
#: touching places, stays well under it): beyond, it is a page of writing or of
#: noise, not a number, and is refused before a classifier sees thousands of images.
MAX_PIECES = 256

_CORE_LEVEL = 64.0  # a quarter of the strongest ink: faint rims do not join neighbours
_RIM_STEPS = 2  # fainter ink within this many pixels of a component belongs to it
_SPECK = 0.25  # of the tallest component's height: a shorter longest side is a speck
_MAX_SPAN = 6  # pieces in one candidate digit
_MAX_WIDTH = 1.3  # of the digit height: the widest candidate made of several pieces
_MAX_SLANT = 0.7  # horizontal pixels per row; steeper estimates are clipped
_CUT_COST = 1.5  # strokes: the most a cut may cross, net of the contours' valleys
_FORCED_CUTS = 3  # cuts proposed in a piece too wide for one digit
_CUT_DEPTH = 0.25  # of the digit height: a valley this deep marks two digits
_CUT_MARGIN = 0.1  # of the digit height: no piece narrower than this (or a stroke)
_SHORT = 0.6  # of the digit height: a shorter piece is part of a digit, not one alone
_SMALL = 0.6  # of the digit height: a shorter component may join a neighbour it touches
_BEND = 0.25  # of the digit height: how far a cut may stray from its column
_STEP = 0.1  # pixels of ink: the cost of a cut's step sideways
_STRAY = 0.5  # pixels of ink per row and column a cut strays from where it was placed
_PATH_COST = 2.0  # strokes: the most ink a bent cut may cross
_APART = 0.25  # of the digit height: the least distance between two cuts
_PATH_CELLS = 1 << 20  # the most cells (rows x columns x band) bent cuts are sought in
_TWO = 1.3  # of the digit height: a narrower component gets no bent cuts of its own


@dataclass(frozen=True)
class Segmentation:
    """A picture of a number cut into pieces, and the candidate digits made of them.

    Attributes
    ----------
    name : str
        How the picture is named in messages (quoted).
    n_pieces : int
        The pieces, numbered left to right.
    spans : ndarray of shape (n_candidates, 2), dtype int64
        Each candidate's first piece and one past its last.
    images : ndarray of shape (n_candidates, 28, 28), dtype float32
        Each candidate MNIST-style: white on black, 0-255.
    boxes : ndarray of shape (n_candidates, 4), dtype int64
        Each candidate's ink box in the picture's pixels: x0, y0, x1, y1, the
        ends exclusive (as ``PIL.Image.crop`` takes them).
    widths : ndarray of shape (n_candidates,), dtype float64
        Each candidate's width in digit heights (the height of the writing's
        tall marks): two digits side by side are wider than one.
    joins : ndarray of shape (n_pieces - 1,), dtype float64
        Between each piece and the next, the ink a cut parted, in tenths of the
        digit height (0 between pieces of different marks).
    marks : ndarray of shape (n_pieces,), dtype int64
        The mark (connected component of ink) each piece was cut from, numbered
        0, 1, ... in the order of their first pieces.
    """

    name: str
    n_pieces: int
    spans: np.ndarray
    images: np.ndarray
    boxes: np.ndarray
    widths: np.ndarray
    joins: np.ndarray
    marks: np.ndarray


def segment_number(image: Any) -> Segmentation:
    """Cut a picture of a handwritten number into candidate digits.

    Parameters
    ----------
    image : str, path-like, bytes, binary file, PIL image or array
        An image file (by path, contents or open file) or pixels, in any form
        :func:`~skdigits.io.load_digit_image` or
        :func:`~skdigits.io.preprocess_digit` takes; dark on light or light on
        dark, any size, a drawing or a photo.

    Returns
    -------
    Segmentation
        The candidates, each a run of consecutive pieces rendered MNIST-style.

    Raises
    ------
    DataError
        If the picture cannot be read, shows no ink (a blank page), or breaks
        into more than :data:`MAX_PIECES` pieces.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits.io._segment import segment_number
    >>> page = np.full((60, 120), 255, np.uint8)
    >>> page[10:50, 20:26] = 0  # a "1"
    >>> page[10:50, 70:76] = 0  # another, apart
    >>> seg = segment_number(page)
    >>> seg.n_pieces, seg.spans.tolist(), seg.boxes.tolist()
    (2, [[0, 1], [1, 2]], [[20, 10, 26, 50], [70, 10, 76, 50]])
    """
    ink, photo, name, (width, height) = _number_ink(image)
    labels, runs = _label(ink >= _CORE_LEVEL)
    keep = _marks(labels, runs, ink, photo)
    pieces = _Pieces.cut(ink, labels, runs, keep, name)
    spans = pieces.spans()
    images = np.empty((len(spans), 28, 28), np.float32)
    boxes = np.empty((len(spans), 4), np.int64)
    for k, (start, stop) in enumerate(spans):
        images[k], boxes[k] = pieces.render(ink, start, stop)
    spans_array = np.asarray(spans, np.int64).reshape(-1, 2)
    widths = (boxes[:, 2] - boxes[:, 0]) / pieces.height
    return Segmentation(
        name,
        pieces.count,
        spans_array,
        images,
        _in_input(boxes, ink, width, height),
        widths,
        pieces.joins(),
        pieces.marks(),
    )


def _in_input(boxes: np.ndarray, ink: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes in the picture's own pixels, where it was read smaller than it is."""
    if ink.shape == (height, width):
        return boxes
    scale = np.array([width / ink.shape[1], height / ink.shape[0]] * 2)
    limit = np.array([width, height] * 2)
    scaled = np.concatenate(
        [np.floor(boxes[:, :2] * scale[:2]), np.ceil(boxes[:, 2:] * scale[2:])], 1
    )
    return np.minimum(scaled.astype(np.int64), limit)


# ---------------------------------------------------------------- the ink


def _number_ink(image: Any) -> tuple[np.ndarray, bool, str, tuple[int, int]]:
    """White ink on black (0-255, the faintest cleared), whether the picture was taken as
    a photo, its name for messages and its size as seen (width, height), which the
    ink map may be a whole factor smaller than.

    The steps of ``preprocess_digit`` up to its crop, on the whole picture.
    """
    grey, name, size = _any_grey(image)
    ink, photo = _ink_map(grey, name)
    np.minimum(ink, 255.0, out=ink)  # rounding may overshoot in float32
    ink[ink < _INK_THRESHOLD] = 0.0
    return ink, photo, name, size


# ---------------------------------------------------------------- components


@dataclass(frozen=True)
class _Runs:
    """Horizontal runs of a mask: row, first column, one past the last, and component."""

    row: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    label: np.ndarray


def _label(mask: np.ndarray) -> tuple[np.ndarray, _Runs]:
    """8-connected components of ``mask``: a label image (0 is background, then 1, 2, ...).

    Each row's runs of ink are nodes; runs in neighbouring rows that touch,
    diagonally included, are joined by a union-find whose passes are numpy
    operations. The work grows with the number of runs, not of pixels.
    """
    height, width = mask.shape
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    row, start = np.nonzero(edges == 1)
    stop = np.nonzero(edges == -1)[1]
    # Run b (row r) touches run a (row r - 1) if a.start <= b.stop and b.start <= a.stop;
    # a key of row * stride + column keeps all runs in one sorted order.
    stride = width + 2
    first = np.searchsorted(row * stride + stop, (row - 1) * stride + start, "left")
    last = np.searchsorted(row * stride + start, (row - 1) * stride + stop, "right")
    counts = np.maximum(last - first, 0)
    below = np.repeat(np.arange(len(start)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    above = np.repeat(first, counts) + offsets
    parent = np.arange(len(start))
    while True:
        root_a, root_b = parent[above], parent[below]
        apart = root_a != root_b
        if not apart.any():
            break
        low = np.minimum(root_a[apart], root_b[apart])
        np.minimum.at(parent, root_a[apart], low)  # hook the larger root under the smaller
        np.minimum.at(parent, root_b[apart], low)
        while not np.array_equal(parent[parent], parent):
            parent = parent[parent]
    label = (np.unique(parent, return_inverse=True)[1] + 1).astype(np.int32)
    image = np.zeros((height, width + 1), np.int32)
    image[row, start] = label
    image[row, stop] -= label
    return np.cumsum(image, axis=1)[:, :width], _Runs(row, start, stop, label)


def _marks(labels: np.ndarray, runs: _Runs, ink: np.ndarray, photo: bool) -> np.ndarray:
    """Which component labels are marks of writing (index 0, the background, is False)."""
    n = int(runs.label.max()) if len(runs.label) else 0
    y0, y1, x0, x1 = _run_boxes(runs, n)
    height, width = y1 - y0, x1 - x0
    keep = np.maximum(height, width) >= _SPECK * height[1:].max()
    keep[0] = False
    if photo:  # lighting left over is fainter than the pen
        peak = np.zeros(n + 1, np.float32)
        inked = labels > 0
        np.maximum.at(peak, labels[inked], ink[inked])
        keep &= peak >= _PHOTO_BOX_LEVEL
    return keep


def _run_boxes(runs: _Runs, n: int) -> tuple[np.ndarray, ...]:
    """Bounding boxes (y0, y1, x0, x1; ends exclusive) of components 1..n, from their runs."""
    y0 = np.full(n + 1, np.iinfo(np.int64).max)
    x0 = y0.copy()
    y1 = np.zeros(n + 1, np.int64)
    x1 = y1.copy()
    np.minimum.at(y0, runs.label, runs.row)
    np.maximum.at(y1, runs.label, runs.row + 1)
    np.minimum.at(x0, runs.label, runs.start)
    np.maximum.at(x1, runs.label, runs.stop)
    y0[0] = x0[0] = 0
    return y0, y1, x0, x1


def _digit_height(runs: _Runs, keep: np.ndarray) -> float:
    """The upper quartile of the heights of the components at least half as tall as the
    tallest (a piece of a digit, a 1 cut short or two digits stacked do not count)."""
    y0, y1, _, _ = _run_boxes(runs, len(keep) - 1)
    tall = (y1 - y0)[keep]
    return float(np.percentile(tall[tall >= 0.5 * tall.max()], 75))


def _slant(ys: np.ndarray, xs: np.ndarray) -> tuple[float, float]:
    """The slant of the writing and its centre row: column x of row y stands upright at
    ``x - slant * (y - centre)``.

    The slant is the shear (to 0.05, up to ``_MAX_SLANT`` either way) under which
    the ink's column counts are most peaked, by the sum of their squares: upright
    strokes pile into few columns. Steps of 0.1 first, then 0.05 either side of
    the best; ties go to the smaller shear.
    """
    centre = float(ys.mean())
    rows = ys - centre

    def peaked(shear: float) -> float:
        u = np.floor(xs - shear * rows).astype(np.int64)
        return float(np.square(np.bincount(u - u.min()).astype(np.float64)).sum())

    coarse = sorted(np.round(np.arange(-_MAX_SLANT, _MAX_SLANT + 1e-9, 0.1), 2), key=abs)
    slant = max(coarse, key=peaked)  # max keeps the first of equals: the smaller shear
    slant = max([slant, slant - 0.05, slant + 0.05], key=peaked)
    return float(slant), centre


def _stroke_width(core: np.ndarray) -> float:
    """The pen's width: twice the ink's area over its edge (a stroke of width w and
    length L has area wL and about 2L edge pixels)."""
    inner = core.copy()
    inner[1:] &= core[:-1]
    inner[:-1] &= core[1:]
    inner[:, 1:] &= core[:, :-1]
    inner[:, :-1] &= core[:, 1:]
    area = int(core.sum())
    return 2.0 * area / max(area - int(inner.sum()), 1)


def _cuts(u: np.ndarray, y: np.ndarray, height: float, stroke: float) -> np.ndarray:
    """Where to cut one component (upright columns ``u`` and rows ``y`` of its pixels).

    A column is a cut where the upper contour dips (a valley between two digits'
    tops) or the lower contour rises, by a quarter of the digit height together, and
    few pixels cross it: its cost is the pixels crossing less the two depths.
    Each valley is cut once, at its cheapest column if that costs at most one
    and a half strokes, not closer to either end than the narrowest piece allowed.
    """
    low = math.floor(float(u.min()))
    col = (u - low).astype(np.int64)
    width = int(col.max()) + 1
    margin = max(stroke, _CUT_MARGIN * height)
    if width < 2 * margin or y.max() - y.min() + 1 < _SHORT * height:
        return np.zeros(0)  # too narrow for two digits, or too short for one
    crossing = np.bincount(col, minlength=width).astype(np.float64)
    top = np.full(width, np.inf)
    bottom = np.full(width, -np.inf)
    np.minimum.at(top, col, y)
    np.maximum.at(bottom, col, y)
    empty = crossing == 0  # a gap the shear opened: as deep as a valley goes
    top[empty], bottom[empty] = y.max(), y.min()
    rise = np.maximum(np.minimum.accumulate(top), np.minimum.accumulate(top[::-1])[::-1])
    fall = np.minimum(np.maximum.accumulate(bottom), np.maximum.accumulate(bottom[::-1])[::-1])
    depth = (top - rise) + (fall - bottom)
    cost = crossing - depth
    # Between two digits a contour dips; through one digit (the waist of a 3, a
    # bar) neither does.
    columns = np.arange(width)
    apart = (depth >= _CUT_DEPTH * height) & (columns >= margin) & (columns <= width - margin)
    chosen: list[int] = []
    # One cut per valley: at its cheapest column, if that is cheap enough.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], apart.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        x = a + int(np.argmin(cost[a:b]))
        if cost[x] <= _CUT_COST * stroke:
            chosen.append(int(x))
    # A piece too wide for one digit holds two, however they touch: it is cut at
    # its cheapest columns (a few, apart), and the reader picks among them.
    ends = [0, *sorted(chosen), width]
    for a, b in itertools.pairwise(ends):
        if b - a <= _MAX_WIDTH * height:
            continue
        inner = np.arange(math.ceil(a + margin), math.floor(b - margin) + 1)
        forced: list[int] = []
        for x in inner[np.argsort(cost[inner], kind="stable")]:
            if len(forced) == _FORCED_CUTS:
                break
            if all(abs(x - c) >= margin for c in forced):
                forced.append(int(x))
        chosen.extend(forced)
    return np.sort(np.asarray(chosen, np.float64)) + low


def _sides(
    cuts: np.ndarray,
    u: np.ndarray,
    y: np.ndarray,
    u_all: np.ndarray,
    y_all: np.ndarray,
    height: float,
    stroke: float,
) -> np.ndarray:
    """How many cuts lie left of each pixel (``u_all``, ``y_all``) of one component,
    each cut bent to cross as little of the core ink (``u``, ``y``) as it can.

    A cut from column x is the cheapest path from the top row to the bottom one,
    a column at most either way per row, within a band about x: it goes round a
    stroke where a straight cut would go through it, as where two digits' strokes
    overlap. Besides the ``cuts`` placed by the contours, every column whose path
    is cheapest among its neighbours and crosses at most ``_PATH_COST`` strokes is
    cut, apart from the others: the reader chooses among the pieces.
    """
    low, top = math.floor(float(u.min())), int(y.min())
    col = np.floor(u - low).astype(np.int64)
    rows, width = int(y.max()) - top + 1, int(col.max()) + 1
    margin = max(stroke, _CUT_MARGIN * height)
    if width < 2 * margin or rows < _SHORT * height or (not len(cuts) and width < _TWO * height):
        return np.zeros(len(u_all), np.int64)  # a digit, or part of one, kept whole
    reach = max(1, round(_BEND * height))
    if rows * (width + 1) * (2 * reach + 1) > _PATH_CELLS:  # straight cuts cost less
        return np.searchsorted(np.asarray(cuts, np.float64), u_all, "right")
    grid = np.zeros((rows, width + 1))
    np.add.at(grid, (y - top, col), 1.0)
    chosen = [round(x - low) for x in cuts]
    edge = max(margin, _APART * height)
    inner = np.arange(math.ceil(edge), math.floor(width - edge) + 1)
    if width < _TWO * height:
        inner = inner[:0]
    starts = np.unique(np.concatenate([np.asarray(chosen, np.int64), inner]))
    paths, costs = _bent_paths(grid, reach, starts)
    path_of = dict(zip(starts.tolist(), paths, strict=True))
    cost_of = dict(zip(starts.tolist(), costs.tolist(), strict=True))
    inner = inner[[cost_of[x] <= _PATH_COST * stroke for x in inner.tolist()]]
    for x in sorted(inner.tolist(), key=cost_of.__getitem__):
        if all(abs(x - c) >= _APART * height for c in chosen):
            chosen.append(x)
    if not chosen:
        return np.zeros(len(u_all), np.int64)
    bent = np.maximum.accumulate(np.stack([path_of[x] for x in sorted(chosen)]), axis=0)
    r = np.clip(y_all - top, 0, rows - 1)
    c = np.floor(u_all - low).astype(np.int64)
    return (c[:, None] >= bent[:, r].T).sum(axis=1)


def _bent_paths(grid: np.ndarray, reach: int, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From each of the ``starts`` columns of ``grid`` (ink per row and column), the
    cheapest path down.

    Each path steps at most one column a row and keeps within ``reach`` columns
    of its start; each step sideways and each column strayed costs a little, so
    that of equal paths the straightest wins.

    Returns
    -------
    paths : ndarray of shape (n_starts, n_rows)
        The column each path takes in each row.
    costs : ndarray of shape (n_starts,)
        The ink each crosses.
    """
    rows = grid.shape[0]
    if not len(starts):
        return np.zeros((0, rows), np.int64), np.zeros(0)
    band = 2 * reach + 1
    padded = np.pad(grid, ((0, 0), (reach, reach)), constant_values=np.inf)
    cost = padded[:, starts[:, None] + np.arange(band)]  # (rows, starts, band)
    stray = _STRAY * np.abs(np.arange(band) - reach)
    total = cost[0] + stray
    came = np.zeros((rows, len(starts), band), np.int8)
    for r in range(1, rows):
        best = total.copy()
        left = total[:, :-1] + _STEP
        take = left < best[:, 1:]
        best[:, 1:][take] = left[take]
        came[r, :, 1:][take] = -1
        right = total[:, 1:] + _STEP
        take = right < best[:, :-1]
        best[:, :-1][take] = right[take]
        came[r, :, :-1][take] = 1
        total = best + cost[r] + stray
    j = total.argmin(axis=1)
    index = np.arange(len(starts))
    costs = total[index, j]
    path = np.empty((rows, len(starts)), np.int64)
    path[-1] = j
    for r in range(rows - 1, 0, -1):
        path[r - 1] = path[r] + came[r, index, path[r]]
    return (path + starts - reach).T, costs


# ---------------------------------------------------------------- pieces


@dataclass(frozen=True)
class _Pieces:
    """The ink's pixels grouped by piece, pieces numbered left to right (upright).

    ``ys``, ``xs`` list the pixels sorted by piece; piece k owns
    ``offsets[k]:offsets[k + 1]``. ``left``, ``right`` are upright extents,
    ``x0``, ``x1`` those in the picture (ends exclusive), ``tall`` heights,
    ``component`` the component each piece was cut from.
    """

    ys: np.ndarray
    xs: np.ndarray
    offsets: np.ndarray
    left: np.ndarray
    right: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    tall: np.ndarray
    component: np.ndarray
    height: float

    @property
    def count(self) -> int:
        return len(self.left)

    @classmethod
    def cut(
        cls, ink: np.ndarray, labels: np.ndarray, runs: _Runs, keep: np.ndarray, name: str
    ) -> _Pieces:
        """Cut the kept components into pieces; each owns its core and nearby faint rim."""
        height = _digit_height(runs, keep)
        # The box of the marks kept, and their rims: all the rest is left alone.
        y0, y1, x0, x1 = _run_boxes(runs, len(keep) - 1)
        area = (
            slice(max(int(y0[keep].min()) - _RIM_STEPS, 0), int(y1[keep].max()) + _RIM_STEPS),
            slice(max(int(x0[keep].min()) - _RIM_STEPS, 0), int(x1[keep].max()) + _RIM_STEPS),
        )
        owner = np.where(keep[labels[area]], labels[area], 0)
        core = owner > 0
        stroke = _stroke_width(core)
        owner = _grow(owner, ink[area] > 0)
        ys, xs = np.nonzero(owner)
        component, in_core = owner[ys, xs], core[ys, xs]
        ys += area[0].start
        xs += area[1].start
        slant, centre = _slant(ys[in_core], xs[in_core])
        u = xs - slant * (ys - centre)
        piece = np.zeros(len(ys), np.int64)
        by_component = np.argsort(component, kind="stable")
        bounds = np.searchsorted(component[by_component], np.arange(len(keep) + 1))
        first = 0
        for c in np.flatnonzero(keep):
            mine = by_component[bounds[c] : bounds[c + 1]]
            inner = mine[in_core[mine]]
            cuts = _cuts(u[inner], ys[inner].astype(np.float64), height, stroke)
            side = _sides(cuts, u[inner], ys[inner], u[mine], ys[mine], height, stroke)
            _, dense = np.unique(side, return_inverse=True)  # bent cuts may meet
            piece[mine] = first + dense
            first += int(dense.max()) + 1
        if first > MAX_PIECES:
            raise DataError(
                f"image {name} breaks into {first} pieces of writing, over the limit of "
                f"{MAX_PIECES}; pass a picture of one number (crop it to the number)"
            )
        return cls._ordered(ys, xs, piece, u, component, first, height)

    @classmethod
    def _ordered(
        cls,
        ys: np.ndarray,
        xs: np.ndarray,
        piece: np.ndarray,
        u: np.ndarray,
        component: np.ndarray,
        n: int,
        height: float,
    ) -> _Pieces:
        """Renumber pieces left to right (by their upright centre) and sort pixels by piece."""
        sizes = np.bincount(piece, minlength=n)
        middle = np.bincount(piece, weights=u, minlength=n) / np.maximum(sizes, 1)
        rank = np.empty(n, np.int64)
        rank[np.argsort(middle, kind="stable")] = np.arange(n)
        piece = rank[piece]
        order = np.argsort(piece, kind="stable")
        ys, xs, piece, u, component = ys[order], xs[order], piece[order], u[order], component[order]
        offsets = np.searchsorted(piece, np.arange(n + 1))
        starts = offsets[:-1]
        return cls(
            ys=ys,
            xs=xs,
            offsets=offsets,
            left=np.minimum.reduceat(u, starts),
            right=np.maximum.reduceat(u, starts),
            x0=np.minimum.reduceat(xs, starts),
            x1=np.maximum.reduceat(xs, starts) + 1,
            tall=np.maximum.reduceat(ys, starts) - np.minimum.reduceat(ys, starts) + 1,
            component=component[starts],
            height=height,
        )

    def _joinable(self, k: int) -> bool:
        """Whether pieces k and k + 1 may belong to one digit."""
        if self.component[k] == self.component[k + 1]:
            return True
        overlap = min(self.right[k], self.right[k + 1]) - max(self.left[k], self.left[k + 1])
        small = min(self.tall[k], self.tall[k + 1]) < _SMALL * self.height
        return bool(small and overlap >= -_CUT_MARGIN * self.height)

    def spans(self) -> list[tuple[int, int]]:
        """Every candidate digit: runs of joinable pieces not too wide, nor too short alone.

        A piece under 60 % of the digit height (a bar, a flag, a stroke cut off) is
        no candidate by itself while it can be part of one; if that leaves some
        piece in no reading, every piece is a candidate alone again.
        """
        runs = []
        for start in range(self.count):
            for stop in range(start + 2, min(start + _MAX_SPAN, self.count) + 1):
                wide = self.x1[start:stop].max() - self.x0[start:stop].min()
                if not self._joinable(stop - 2) or wide > _MAX_WIDTH * self.height:
                    break
                runs.append((start, stop))
        # A component as it was before any cut, whatever its width: it may be one
        # wide digit (a 0, a 5) as well as several.
        for c in np.unique(self.component):
            members = np.flatnonzero(self.component == c)
            whole = (int(members[0]), int(members[-1]) + 1)
            if len(members) > 1 and whole[1] - whole[0] == len(members) and whole not in runs:
                runs.append(whole)
        joined = np.zeros(self.count, bool)
        for start, stop in runs:
            joined[start:stop] = True
        tall = self.tall >= _SHORT * self.height
        alone = [(k, k + 1) for k in range(self.count) if tall[k] or not joined[k]]
        if not _covers(alone + runs, self.count):
            alone = [(k, k + 1) for k in range(self.count)]
        return sorted(alone + runs)

    def marks(self) -> np.ndarray:
        """The mark each piece was cut from, numbered in the order of their first pieces."""
        _, first, dense = np.unique(self.component, return_index=True, return_inverse=True)
        rank = np.empty(len(first), np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        return rank[dense.reshape(-1)]

    def joins(self) -> np.ndarray:
        """Between each piece and the next, the ink a cut parted: pixels of the one
        touching pixels of the other (4-neighbours), in tenths of the digit height."""
        piece = np.repeat(np.arange(self.count), np.diff(self.offsets))
        y0, x0 = int(self.ys.min()), int(self.xs.min())
        image = np.full((int(self.ys.max()) - y0 + 2, int(self.xs.max()) - x0 + 2), -1)
        image[self.ys - y0, self.xs - x0] = piece
        contacts = np.zeros(max(self.count - 1, 0))
        for a, b in ((image[:, :-1], image[:, 1:]), (image[:-1], image[1:])):
            low, high = np.minimum(a, b), np.maximum(a, b)
            next_to = (low >= 0) & (high == low + 1)
            np.add.at(contacts, low[next_to], 1.0)
        return contacts / (0.1 * self.height)

    def render(self, ink: np.ndarray, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Pieces ``start:stop`` alone, MNIST-style, and their box (x0, y0, x1, y1)."""
        rows = self.ys[self.offsets[start] : self.offsets[stop]]
        cols = self.xs[self.offsets[start] : self.offsets[stop]]
        y0, x0 = int(rows.min()), int(cols.min())
        y1, x1 = int(rows.max()) + 1, int(cols.max()) + 1
        alone = np.zeros((y1 - y0, x1 - x0), np.float32)
        alone[rows - y0, cols - x0] = ink[rows, cols]
        # What preprocess_digit does to clean ink on black (its peak, core ink, is
        # over 64): stretched to 255, the faintest cleared, boxed and centred.
        alone *= np.float32(255.0 / float(alone.max()))
        alone[alone < _INK_THRESHOLD] = 0.0
        return _centred(alone), np.array([x0, y0, x1, y1])


def _covers(spans: list[tuple[int, int]], count: int) -> bool:
    """Whether consecutive ``spans`` lead from piece 0 past the last piece."""
    reached = np.zeros(count + 1, bool)
    reached[0] = True
    for start, stop in sorted(spans):
        reached[stop] |= reached[start]
    return bool(reached[count])


def _grow(owner: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Labels spread into unlabelled ink up to ``_RIM_STEPS`` pixels away (8-neighbours)."""
    owner = owner.copy()
    for _ in range(_RIM_STEPS):
        rows, cols = np.nonzero(ink & (owner == 0))
        if not len(rows):
            break
        padded = np.pad(owner, 1)
        near = np.zeros(len(rows), owner.dtype)
        for dy in range(3):
            for dx in range(3):
                np.maximum(near, padded[rows + dy, cols + dx], out=near)
        owner[rows, cols] = near
    return owner

"""The best reading through a number's candidate digits, by dynamic programming.

Each candidate (a run of consecutive pieces) gets a score, the log of how likely
it is to be the digit the classifier names, less a cost for a shape no digit has
(wider than tall) and for the ink the cut after it parts; a reading is a path of candidates
covering every piece once, in order, and its score is the sum of theirs. A mark
standing apart that the model takes for no digit may instead be left out as noise,
at a cost per digit height of its width. Among the paths with an allowed number of
digits, the best is found exactly, in time proportional to candidates × digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "best_path",
    "digit_scores",
    "join_scores",
    "lone_widths",
    "noise_scores",
    "width_scores",
]

_FLOOR = 1e-12  # probabilities are clipped here before their log: never -inf
# Measured on MNIST digits set side by side: 4 takes touching pairs read as one
# digit from 82 % to 86 % of numbers right and leaves single digits as they were;
# 16 reads a few more numbers, but a single digit wider than tall (a 2, a 5) as two.
_WIDE = 4.0
# Per stroke a cut parts after a candidate. Measured on 2,000 MNIST test digits read
# alone and 300 MNIST-composed numbers: 0.05 brings single digits back to 99.0 %
# (98.8 % without; predict reads 99.3 %) for 89.7 % of numbers (90.0 % without);
# 0.1 gives 99.0 % and 89.0 %, 0.3 99.1 % and 86.3 %.
_JOIN = 0.05
# Leaving a mark out as noise costs, per digit height of its width, as much as reading
# a digit whose probability and digit score are both the threshold / e**1.25.
# Measured on the benchmark's 1,200 numbers with a calibrated fast model (threshold
# 0.81): at the threshold itself (margin 0), real digits the model is unsure of are
# dropped and 3 to 6 points of numbers are lost; at a margin of 1, 1 point of the
# stroke numbers; at 2, none. Per digit height: overlapping MNIST digits read
# 85.6 % of their digits instead of 82.8 % (none of a whole number dropped).
_NOISE = 2.5
# A picture of one mark has no other digit to take the digit height from, and a
# wide digit is less tall than the others (MNIST scales a digit's longer side to 20
# pixels): the mark read whole is judged by its own shape, by how wide the digit it
# is read as may be. The widest 1 % of MNIST's training digits of each class are
# at least this many times as wide as tall (0 to 9).
# The aspect (width / height) 90 % of MNIST's training digits of each label stay
# within (0 to 9); as widths in digit heights, at most 1.
_USUAL_ASPECT = np.array([1.11, 0.7, 1.25, 1.0, 1.0, 1.25, 0.95, 1.0, 1.0, 0.9])
_NARROW = 8.0
_LONE_ASPECT = np.array([1.43, 1.0, 1.67, 1.25, 1.25, 1.67, 1.11, 1.25, 1.25, 1.05])


def digit_scores(
    proba: np.ndarray, digit_score: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's most probable class and the log-score of taking it as that digit.

    The score is log P(class) plus the log of the model's digit score (how much
    the candidate looks like a digit at all; for today's models the top
    calibrated probability again), so an unsure candidate (a digit's half, two
    digits squeezed into one) costs twice what a sure one does.

    Parameters
    ----------
    proba : ndarray of shape (n_candidates, n_classes)
        The classifier's probabilities.
    digit_score : ndarray of shape (n_candidates,), default=None
        The model's digit scores, in [0, 1]; None: the top probabilities.

    Returns
    -------
    best : ndarray of shape (n_candidates,), dtype int64
        The index of each candidate's most probable class.
    scores : ndarray of shape (n_candidates,), dtype float64
        Log-scores, at most 0.
    """
    proba = np.asarray(proba, np.float64)
    best = proba.argmax(axis=1)
    top = np.clip(proba[np.arange(len(proba)), best], _FLOOR, 1.0)
    score = top if digit_score is None else np.asarray(digit_score, np.float64)
    return best, np.log(top) + np.log(np.clip(score, _FLOOR, 1.0))


def width_scores(widths: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Log-scores of the candidates' widths (in digit heights): a candidate wider than
    a digit is tall is as unlikely as it is wide, squared, whatever the classifier
    says of it (a model reads two touching digits squeezed together confidently as one);
    and one read as a narrow digit (a 1, a 6, a 9) wider than most of those are, too.

    Parameters
    ----------
    widths : ndarray of shape (n_candidates,)
        Each candidate's width divided by the digit height.
    labels : ndarray of shape (n_candidates,), default=None
        The label each candidate is read as; None: no label's own width counts.

    Returns
    -------
    ndarray of shape (n_candidates,)
        ``-4 * (width - 1)**2`` beyond a width of 1, else 0; less
        ``8 * (width - usual)**2`` beyond the label's usual width.
    """
    widths = np.asarray(widths, np.float64)
    scores = -_WIDE * np.maximum(widths - 1.0, 0.0) ** 2
    if labels is not None and _NARROW > 0:
        scores -= _NARROW * np.maximum(widths - _usual_width(labels), 0.0) ** 2
    return scores


def _usual_width(labels: np.ndarray) -> np.ndarray:
    """The width (in digit heights) 90 % of MNIST's digits of each label stay within,
    at most 1; 1 for a label other than 0 to 9."""
    labels = np.asarray(labels)
    digit = (labels >= 0) & (labels < len(_USUAL_ASPECT))
    return np.where(digit, np.minimum(_USUAL_ASPECT[np.where(digit, labels, 0)], 1.0), 1.0)


def join_scores(segmentation: Any) -> np.ndarray:
    """Log-scores of ending a candidate where a cut parted ink: a digit cut off from
    the ink it touches is less likely the more strokes the cut crossed (a wide 2 or
    5 cut in two crosses several, two touching digits one or two).

    Parameters
    ----------
    segmentation : Segmentation
        Its ``spans``, ``n_pieces`` and ``joins``.

    Returns
    -------
    ndarray of shape (n_candidates,)
        ``-0.05`` per stroke (a tenth of the digit height) of ink the cut after
        each candidate parted; 0 for a candidate ending the number.
    """
    stops = np.asarray(segmentation.spans)[:, 1]
    inner = stops < segmentation.n_pieces
    scores = np.zeros(len(stops))
    scores[inner] = -_JOIN * np.asarray(segmentation.joins, np.float64)[stops[inner] - 1]
    return scores


def lone_widths(segmentation: Any, labels: np.ndarray) -> np.ndarray:
    """The widths to judge the candidates by: ``segmentation.widths``, except in a
    picture of one mark, where the mark read whole counts as 1 digit height wide
    up to as wide as the widest 1 % of MNIST's digits of its label (relative to
    their height: 1.67 for a 2 or a 5, 1.0 for a 1) and one more per height beyond.

    Parameters
    ----------
    segmentation : Segmentation
        Its ``widths``, ``boxes``, ``spans``, ``n_pieces`` and ``marks``.
    labels : ndarray of shape (n_candidates,)
        The label each candidate is read as; a label other than 0 to 9 may be as
        wide as tall.

    Returns
    -------
    ndarray of shape (n_candidates,)
        Widths in digit heights, for :func:`width_scores`.
    """
    widths = np.asarray(segmentation.widths, np.float64).copy()
    if int(np.max(segmentation.marks)) > 0:
        return widths
    spans, boxes = np.asarray(segmentation.spans), np.asarray(segmentation.boxes)
    whole = (spans[:, 0] == 0) & (spans[:, 1] == segmentation.n_pieces)
    aspect = (boxes[:, 2] - boxes[:, 0]) / np.maximum(boxes[:, 3] - boxes[:, 1], 1)
    labels = np.asarray(labels)
    digit = (labels >= 0) & (labels < len(_LONE_ASPECT))
    widest = np.where(digit, _LONE_ASPECT[np.where(digit, labels, 0)], 1.0)
    usual = _usual_width(labels)
    widths[whole] = usual[whole] + np.maximum(aspect[whole] - widest[whole], 0.0)
    return widths


def noise_scores(segmentation: Any, digit_score: np.ndarray, threshold: float) -> np.ndarray:
    """Log-scores of leaving each candidate out of the reading as noise (a letter, a
    scribble, a blot beside the number), or -inf where it may not be left out.

    A candidate may be left out if it is one whole mark (all the pieces of one
    connected stroke of ink, touching no other) whose digit score is under the
    model's ``threshold``; doing so costs ``2 log(threshold) - 2.5`` for each
    digit height of the mark's width (at least one), as much as that many digits
    read with probability and digit score threshold / e**1.25. So a mark is left
    out only when the model's reading of it is less likely than that (with a
    threshold of 0.81, a top probability under about 0.23): a digit the model is
    merely unsure of is still read, and a mark as wide as several digits (digits
    that touch or overlap) is left out only when its digits together read worse
    than as many unsure ones, not as soon as they read worse than one.

    Parameters
    ----------
    segmentation : Segmentation
        Its ``spans``, ``widths`` and ``marks``.
    digit_score : ndarray of shape (n_candidates,)
        The model's digit score of each candidate.
    threshold : float
        The model's digit threshold; 0 leaves nothing out.

    Returns
    -------
    ndarray of shape (n_candidates,)
    """
    spans = np.asarray(segmentation.spans)
    marks = np.asarray(segmentation.marks)
    pieces = np.arange(len(marks))
    count = np.bincount(marks)
    first = np.full(len(count), len(marks))
    last = np.zeros(len(count), np.int64)
    np.minimum.at(first, marks, pieces)
    np.maximum.at(last, marks, pieces)
    mark = marks[spans[:, 0]]
    # The span holds every piece of its mark and nothing else: from the mark's first
    # piece to its last, with as many pieces as the mark has.
    whole = (
        (first[mark] == spans[:, 0])
        & (last[mark] == spans[:, 1] - 1)
        & (spans[:, 1] - spans[:, 0] == count[mark])
    )
    noise = whole & (np.asarray(digit_score, np.float64) < threshold)
    cost = 2.0 * np.log(max(float(threshold), _FLOOR)) - _NOISE
    digits_wide = np.maximum(np.asarray(segmentation.widths, np.float64), 1.0)
    return np.where(noise, cost * digits_wide, -np.inf)


def best_path(
    n_pieces: int,
    spans: np.ndarray,
    scores: np.ndarray,
    lengths: tuple[int, int],
    skips: np.ndarray | None = None,
) -> list[int] | None:
    """The candidates of the best reading of ``lengths[0]`` to ``lengths[1]`` digits.

    Parameters
    ----------
    n_pieces : int
        The pieces to cover, 0 .. n_pieces - 1.
    spans : ndarray of shape (n_candidates, 2)
        Each candidate's first piece and one past its last.
    scores : ndarray of shape (n_candidates,)
        Each candidate's log-score as a digit.
    lengths : (int, int)
        The fewest and most digits a reading may have (the fewest may be 0).
    skips : ndarray of shape (n_candidates,), default=None
        Each candidate's log-score of being left out as noise, -inf where it may
        not be (:func:`noise_scores`); None: none may.

    Returns
    -------
    list of int or None
        The candidates read as digits, left to right (those left out are not
        listed); None if no path has an allowed length.
    """
    starts, stops = spans[:, 0], spans[:, 1]
    most = min(lengths[1], n_pieces)
    # best[k][j]: the best score of k digits covering pieces 0 .. j - 1; came[k][j]
    # the candidate ending that path, left[k][j] whether it was left out.
    best = np.full((most + 1, n_pieces + 1), -np.inf)
    came = np.full((most + 1, n_pieces + 1), -1, np.int64)
    left = np.zeros((most + 1, n_pieces + 1), bool)
    best[0, 0] = 0.0
    noise = np.zeros(0, np.int64) if skips is None else np.flatnonzero(np.isfinite(skips))
    noise = noise[np.argsort(starts[noise], kind="stable")]  # left to right: chains of noise
    for k in range(most + 1):
        if k > 0:
            reach = best[k - 1, starts] + scores
            np.maximum.at(best[k], stops, reach)
            hit = np.isfinite(reach) & (reach == best[k, stops])
            came[k, stops[hit]] = np.flatnonzero(hit)
        for c in noise.tolist():  # a mark left out adds no digit; only a strict gain counts
            value = best[k, starts[c]] + float(skips[c])  # type: ignore[index]
            if value > best[k, stops[c]]:
                best[k, stops[c]], came[k, stops[c]], left[k, stops[c]] = value, c, True
    allowed = np.arange(most + 1) >= lengths[0]
    totals = np.where(allowed, best[:, n_pieces], -np.inf)
    k = int(totals.argmax())
    if not np.isfinite(totals[k]):
        return None
    path, j = [], n_pieces
    while j > 0:
        candidate = int(came[k, j])
        if not left[k, j]:
            path.append(candidate)
            k -= 1
        j = int(starts[candidate])
    return path[::-1]

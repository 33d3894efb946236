"""Accuracy, confusion matrix and the most-confused classes, as numbers and as text.

numpy only, so ONNX-side evaluation does not pull in training dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Evaluation:
    """Predictions scored against the truth.

    Attributes
    ----------
    accuracy : float
        Fraction of correct predictions.
    confusion : ndarray of shape (n_labels, n_labels)
        ``confusion[i, j]`` counts samples of true label ``labels[i]``
        predicted as ``labels[j]`` (scikit-learn's convention).
    labels : ndarray of shape (n_labels,)
        Row and column labels of ``confusion``.
    n_samples : int
        Number of samples scored.
    """

    accuracy: float
    confusion: np.ndarray
    labels: np.ndarray
    n_samples: int = field(default=0)

    def most_confused(self, k: int = 5) -> list[tuple[object, object, int, int]]:
        """The ``k`` label pairs most often mistaken for each other, in either direction.

        Returns
        -------
        list of (a, b, a_as_b, b_as_a)
            Sorted by ``a_as_b + b_as_a``, largest first; pairs never confused are left out.
        """
        c = self.confusion
        pairs = []
        for i in range(len(self.labels)):
            for j in range(i + 1, len(self.labels)):
                if c[i, j] + c[j, i] > 0:
                    a, b = self.labels[i].item(), self.labels[j].item()
                    pairs.append((a, b, int(c[i, j]), int(c[j, i])))
        pairs.sort(key=lambda p: (-(p[2] + p[3]), str(p[0]), str(p[1])))
        return pairs[:k]

    def format(self, *, title: str = "", top: int = 5) -> str:
        """Render accuracy, the confusion matrix and the most-confused pairs as text."""
        lines = []
        if title:
            lines.append(title)
        lines.append(
            f"accuracy: {self.accuracy:.4f} "
            f"({round(self.accuracy * self.n_samples)}/{self.n_samples})"
        )
        lines.append("confusion matrix (rows: true label, columns: predicted label):")
        lines.extend(format_confusion(self.confusion, self.labels).splitlines())
        pairs = self.most_confused(top)
        if pairs:
            lines.append("most-confused pairs (a↔b: a taken for b + b taken for a):")
            for a, b, ab, ba in pairs:
                lines.append(f"  {a}↔{b}: {ab + ba:4d}  ({a}→{b} {ab}, {b}→{a} {ba})")
        return "\n".join(lines)


def evaluate_predictions(y_true, y_pred, *, labels=None) -> Evaluation:
    """Score predicted labels against true labels.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    labels : array-like, default=None
        Labels to index the confusion matrix; default: every label seen in either.

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> from skdigits import evaluate_predictions
    >>> ev = evaluate_predictions([3, 8, 8, 1], [8, 8, 3, 1])
    >>> ev.accuracy, ev.most_confused(1)
    (0.5, [(3, 8, 1, 1)])
    """
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true has {y_true.size} labels but y_pred has {y_pred.size}; "
            "pass one prediction per sample"
        )
    if labels is None:
        labels = np.union1d(y_true, y_pred)
    labels = np.asarray(labels)
    index = {label: i for i, label in enumerate(labels.tolist())}
    try:
        t = np.fromiter((index[v] for v in y_true.tolist()), dtype=np.intp, count=y_true.size)
        p = np.fromiter((index[v] for v in y_pred.tolist()), dtype=np.intp, count=y_pred.size)
    except KeyError as err:
        raise ValueError(f"label {err.args[0]!r} is not in `labels` {labels.tolist()}") from err
    n = len(labels)
    confusion = np.bincount(t * n + p, minlength=n * n).reshape(n, n)
    accuracy = float(np.mean(t == p)) if t.size else float("nan")
    return Evaluation(accuracy=accuracy, confusion=confusion, labels=labels, n_samples=t.size)


def format_confusion(confusion: np.ndarray, labels) -> str:
    """A fixed-width text table of a confusion matrix with its labels."""
    labels = [str(v) for v in np.asarray(labels).tolist()]
    width = max(len(str(int(confusion.max()))) if confusion.size else 1, *map(len, labels)) + 1
    header = " " * (max(map(len, labels)) + 2) + "".join(f"{lab:>{width}}" for lab in labels)
    rows = [header]
    for lab, row in zip(labels, confusion, strict=True):
        cells = "".join(f"{int(v):>{width}}" for v in row)
        rows.append(f"{lab:>{max(map(len, labels)) + 1}} {cells}")
    return "\n".join(rows)

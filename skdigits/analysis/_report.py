"""Seeing inside a fitted model: PNG figures and one self-contained HTML page.

:func:`write_report` scores a fitted ``Pipeline(PixelScaler, DigitClassifier)`` on
test images and writes, into one directory,

- ``confusion_matrix.png``: scikit-learn's ``ConfusionMatrixDisplay`` of the test
  confusion matrix, computed with :func:`skdigits.analysis.evaluate_predictions`
  exactly as ``skdigits evaluate`` computes it (also saved as
  ``confusion_matrix.json`` and ``confusion_matrix.csv``);
- ``misclassified.png``: the test digits the model got wrong with the highest
  confidence, with true and predicted labels;
- ``precision_recall.png``: per-class precision and recall (the numbers, with F1
  and support, are in ``per_class_metrics.csv``);
- ``learning_curves.png``: training and validation loss and accuracy per epoch,
  from the history saved with the model at fit time;
- ``first_layer_weights.png``: the first weighted layer's weights as images: the
  hidden Dense layer's weight vectors as 28×28 tiles, or a Conv2D layer's filters;
- ``hidden_activations.png``: the mean activation of every hidden unit for each
  true digit;
- ``report.html``: one page holding all of it, every figure embedded as a data URI
  (the page can be mailed or archived alone), with the file names listed.

matplotlib (the ``plot`` extra) is imported only when a report is written, and
figures are drawn on ``matplotlib.figure.Figure`` objects saved through the Agg
renderer: pyplot's global state and the session's backend are never touched.

An existing directory is written into: only the report's own files (the names
above, :data:`REPORT_FILES`) are replaced, and only with ``overwrite=True``;
other files in it are left alone. Every file is written atomically.
"""

from __future__ import annotations

import base64
import csv
import html
import importlib.util
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from .._core.atomic import write_files_atomic
from .._core.deps import require
from .._core.errors import DataError, SkdigitsError
from .._core.values import dumps_json
from ._evaluation import Evaluation, evaluate_predictions

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "FIGURES",
    "REPORT_FILES",
    "ReportResult",
    "check_report_dir",
    "first_layer_tiles",
    "hidden_layer",
    "most_confident_errors",
    "write_report",
]

# Figure file name → (section heading, what the reader is looking at). Order = page order.
FIGURES: dict[str, tuple[str, str]] = {
    "confusion_matrix.png": (
        "Confusion matrix",
        "Rows are the true digits, columns the predicted ones; everything off the "
        "diagonal is a mistake.",
    ),
    "misclassified.png": (
        "Most confidently wrong digits",
        "The test digits the model got wrong while most sure of itself, most confident "
        "first: some are genuinely ambiguous, some show what the model has not learnt.",
    ),
    "precision_recall.png": (
        "Precision and recall per digit",
        "Precision: of the images predicted as this digit, the fraction that are. "
        "Recall: of the images of this digit, the fraction found.",
    ),
    "learning_curves.png": (
        "Learning curves",
        "Loss and accuracy per epoch on the training data (averaged over the epoch, "
        "while the weights change) and on the held-out validation data (measured at the "
        "end of the epoch); a widening gap means over-fitting.",
    ),
    "first_layer_weights.png": (
        "First-layer weights",
        "What each unit of the first layer looks for: red pixels push its activation "
        "up, blue pixels push it down. Pixels that are black in every training image "
        "(much of the outer frame) never receive a gradient: their weights keep their "
        "random initial values, the speckle around the edges.",
    ),
    "hidden_activations.png": (
        "Mean hidden activations per digit",
        "How strongly each hidden unit fires, on average, for the test images of "
        "each digit; units are grouped by the digit that excites them most.",
    ),
}
_DATA_FILES = ("confusion_matrix.json", "confusion_matrix.csv", "per_class_metrics.csv")
HTML_FILE = "report.html"
# Every file write_report writes; the only files it may replace.
REPORT_FILES: tuple[str, ...] = (*FIGURES, *_DATA_FILES, HTML_FILE)

_SIDE = 28
_DPI = 100
_N_GALLERY = 24
_MAX_TILES = 100
_HIDDEN_NAME = "hidden"


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    out_dir : Path
        The report directory.
    html : Path
        The self-contained HTML page.
    figures : dict of str to Path
        Each figure's file name to its path, in page order.
    data_files : dict of str to Path
        The confusion matrix (JSON and CSV) and the per-class metrics (CSV).
    evaluation : Evaluation
        Accuracy and confusion matrix on the test data.
    """

    out_dir: Path
    html: Path
    figures: dict[str, Path]
    data_files: dict[str, Path]
    evaluation: Evaluation

    @property
    def paths(self) -> list[Path]:
        """Every file written: the HTML page first, then the figures and the data."""
        return [self.html, *self.figures.values(), *self.data_files.values()]


def check_report_dir(out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Refuse, before any work, a report that could not or should not be written.

    Checks that matplotlib (the ``plot`` extra) is installed, without importing
    it, and that ``out_dir`` is a directory (or can become one) holding no
    earlier report, unless ``overwrite``.

    Parameters
    ----------
    out_dir : str or path-like
        The directory; it need not exist.
    overwrite : bool, default=False
        Whether an earlier report's files in it may be replaced.

    Returns
    -------
    Path
    """
    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        require("matplotlib", feature="the model report")  # raises, naming the extra
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SkdigitsError(f"report directory {out_dir} is a file; pass a directory path")
    if not overwrite and out_dir.is_dir():
        existing = [name for name in REPORT_FILES if (out_dir / name).exists()]
        if existing:
            raise SkdigitsError(
                f"{out_dir} already holds a report ({', '.join(existing[:3])}"
                f"{', ...' if len(existing) > 3 else ''}); pass overwrite=True "
                "to replace its files, or choose another directory",
                cli_words={"overwrite=True": "--force"},
            )
    return out_dir


def write_report(
    pipeline,
    X_test,
    y_test,
    out_dir: str | Path,
    *,
    history: Mapping[str, Sequence[float]] | None = None,
    title: str | None = None,
    overwrite: bool = False,
) -> ReportResult:
    """Write figures, data files and an HTML page that show what a fitted model does.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted ``Pipeline(PixelScaler, DigitClassifier)`` (a fitted
        ``DigitClassifier`` alone is accepted too, with ``X_test`` already scaled).
    X_test : array-like of shape (n_samples, 28, 28) or (n_samples, 784)
        Test images, raw pixels as the pipeline takes them.
    y_test : array-like of shape (n_samples,)
        Their true labels.
    out_dir : str or path-like
        Directory to write into; created if needed. Only the report's own files
        (:data:`REPORT_FILES`) are written.
    history : mapping of str to list of float, default=None
        Per-epoch ``loss``, ``accuracy``, ``val_loss`` and ``val_accuracy``;
        default: the classifier's ``history_`` (saved with the model by
        :func:`skdigits.save_model`).
    title : str, default=None
        Heading of the HTML page; default ``"skdigits model report"``.
    overwrite : bool, default=False
        Replace the files of an earlier report in ``out_dir``; without it an
        earlier report is refused.

    Returns
    -------
    ReportResult
        The paths written and the test evaluation.

    Examples
    --------
    >>> from skdigits import fetch_mnist, load_model  # doctest: +SKIP
    >>> from skdigits.analysis._report import write_report  # doctest: +SKIP
    >>> X, y = fetch_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> write_report(load_model("model.skdigits"), X, y, "report").html  # doctest: +SKIP
    PosixPath('report/report.html')
    """
    out_dir = check_report_dir(out_dir, overwrite=overwrite)
    require("matplotlib", feature="the model report")
    from sklearn.utils.validation import check_is_fitted

    clf = pipeline[-1] if hasattr(pipeline, "steps") else pipeline
    check_is_fitted(clf, "model_")
    X_test, y_test = _check_test_set(X_test, y_test)
    if history is None:
        history = dict(getattr(clf, "history_", None) or {})

    drawing = _draw(pipeline, clf, X_test, y_test, history)
    title = title or "skdigits model report"
    return _write_files(out_dir, drawing, title=title, n_epochs=len(history.get("loss", [])))


class _Drawing(NamedTuple):
    """What the report shows, scored and drawn, before anything is written."""

    evaluation: Evaluation
    per_class: dict[str, np.ndarray]
    pngs: dict[str, bytes]  # the figures, by file name
    model_description: str


def _draw(
    pipeline: Any, clf: Any, X_test: np.ndarray, y_test: np.ndarray, history: Mapping
) -> _Drawing:
    """Score the test set and draw the report's figures as PNG bytes."""
    # Predict as `skdigits evaluate` does, so the two confusion matrices agree.
    classes = np.asarray(pipeline.classes_)
    proba = np.asarray(pipeline.predict_proba(X_test))
    y_pred = classes[proba.argmax(axis=1)]
    evaluation = evaluate_predictions(y_test, y_pred, labels=classes)
    per_class = _per_class_scores(y_test, y_pred, classes)

    X_model = pipeline[:-1].transform(X_test) if hasattr(pipeline, "steps") else X_test
    from ..nn._ensemble import members

    nets = members(clf.model_)  # an ensemble's figures show its first net
    description = _describe_model(nets[0])
    if len(nets) > 1:
        description = f"the average of {len(nets)} nets, each {description} (figures: the first)"
    figures = _figures(
        nets[0],
        X_test,
        X_model,
        y_test,
        proba,
        classes=classes,
        evaluation=evaluation,
        per_class=per_class,
        history=history,
    )
    pngs = {name: _png_bytes(fig) for name, fig in figures.items()}
    return _Drawing(evaluation, per_class, pngs, description)


def _write_files(out_dir: Path, drawing: _Drawing, *, title: str, n_epochs: int) -> ReportResult:
    """Write the figures, the data files and, last, the HTML page into ``out_dir``.

    All are staged before any is renamed into place (:func:`write_files_atomic`):
    a full disk leaves an earlier report whole, never half old and half new.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    data_files = _data_files(drawing.evaluation, drawing.per_class)
    page = _html_page(
        title=title, n_epochs=n_epochs, data_files=list(data_files), **drawing._asdict()
    )
    # The page comes last: its presence marks a complete report.
    write_files_atomic(out_dir, {**drawing.pngs, **data_files, HTML_FILE: page.encode("utf-8")})
    figure_paths = {name: out_dir / name for name in drawing.pngs}
    data_paths = {name: out_dir / name for name in data_files}
    return ReportResult(out_dir, out_dir / HTML_FILE, figure_paths, data_paths, drawing.evaluation)


def _check_test_set(X_test: Any, y_test: Any) -> tuple[np.ndarray, np.ndarray]:
    """The test images and labels as arrays, one label per 28 x 28 image."""
    X_test = np.asarray(X_test)
    y_test = np.asarray(y_test).ravel()
    if len(X_test) != len(y_test):
        raise DataError(
            f"X_test has {len(X_test)} images but y_test has {len(y_test)} labels; "
            "pass one label per image"
        )
    if len(X_test) == 0:
        raise DataError("X_test is empty; pass at least one test image")
    if X_test[0].size != _SIDE * _SIDE:
        raise DataError(
            f"X_test holds images of shape {X_test.shape[1:]}; expected (28, 28) or (784,)"
        )
    return X_test, y_test


def _per_class_scores(y_test: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> dict:
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        y_test, y_pred, labels=classes, zero_division=0
    )
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def _figures(
    model: Any,
    X_test: np.ndarray,
    X_model: np.ndarray,
    y_test: np.ndarray,
    proba: np.ndarray,
    *,
    classes: np.ndarray,
    evaluation: Any,
    per_class: dict[str, np.ndarray],
    history: Mapping[str, Sequence[float]],
) -> dict[str, Any]:
    """The report's figures by file name: what the model gets wrong, and what it holds."""
    y_pred = classes[proba.argmax(axis=1)]
    tiles, tiles_source = first_layer_tiles(model)
    activation_layer = hidden_layer(model)
    activations = _layer_activations(model, activation_layer, X_model)
    mean_activations = np.stack(
        [
            activations[y_test == c].mean(axis=0)
            if np.any(y_test == c)
            else np.zeros(activations.shape[1])
            for c in classes
        ]
    )
    images = X_test.reshape(len(X_test), _SIDE, _SIDE)
    errors = most_confident_errors(proba, y_test, classes, k=_N_GALLERY)
    return {
        "confusion_matrix.png": _plot_confusion(evaluation),
        "misclassified.png": _plot_errors(images, y_test, y_pred, proba, errors),
        "precision_recall.png": _plot_precision_recall(
            classes, per_class["precision"], per_class["recall"]
        ),
        "learning_curves.png": _plot_learning_curves(history),
        "first_layer_weights.png": _plot_tiles(tiles, tiles_source),
        "hidden_activations.png": _plot_activations(
            mean_activations, classes, activation_layer.name
        ),
    }


# --- what the model holds -------------------------------------------------------------


def most_confident_errors(proba, y_true, classes, *, k: int = _N_GALLERY) -> np.ndarray:
    """Indices of the ``k`` wrong predictions made with the highest probability.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Predicted class probabilities, columns in the order of ``classes``.
    y_true : array-like of shape (n_samples,)
    classes : array-like of shape (n_classes,)
    k : int, default=24

    Returns
    -------
    ndarray of int
        At most ``k`` indices into the samples, most confident mistake first.
    """
    proba = np.asarray(proba)
    y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    wrong = np.flatnonzero(y_pred != np.asarray(y_true))
    confidence = proba[wrong].max(axis=1)
    return wrong[np.argsort(-confidence, kind="stable")[:k]]


def first_layer_tiles(model) -> tuple[np.ndarray, str]:
    """The first layer's weights as a stack of 2-D images, and what they are.

    For the MLP: the kernel of the Dense layer named ``"hidden"`` (784 × units)
    becomes ``units`` tiles of 28×28. If the first layer with weights is a
    Conv2D, its filters (kernel height × width, averaged over input channels)
    are returned instead.

    Returns
    -------
    tiles : ndarray of shape (n_tiles, height, width)
    source : str
        A description for the figure title.
    """
    weighted = [layer for layer in model.layers if layer.weights]
    if not weighted:
        raise SkdigitsError("the model has no layer with weights to draw")
    first = weighted[0]
    if first.__class__.__name__ == "Conv2D":
        kernel = np.asarray(first.get_weights()[0])  # (height, width, channels_in, filters)
        tiles = kernel.mean(axis=2).transpose(2, 0, 1)
        height, width = tiles.shape[1:]
        return tiles, f"{len(tiles)} filters ({height}×{width}) of Conv2D layer {first.name!r}"
    named = [layer for layer in model.layers if layer.name == _HIDDEN_NAME]
    layer = named[0] if named else first
    kernel = np.asarray(layer.get_weights()[0])  # (n_inputs, units)
    side = math.isqrt(kernel.shape[0])
    if kernel.ndim != 2 or side * side != kernel.shape[0]:
        raise SkdigitsError(
            f"cannot draw layer {layer.name!r}: its kernel of shape {kernel.shape} does not "
            "take square images as input"
        )
    tiles = kernel.T.reshape(kernel.shape[1], side, side)
    return tiles, f"{len(tiles)} units of Dense layer {layer.name!r}, each as {side}×{side}"


def hidden_layer(model):
    """The layer whose activations the report shows.

    The Dense layer named ``"hidden"`` in the MLP; for any other model (a CNN),
    the last layer before the output layer that is not a Dropout (dropout
    passes its input through at inference, so the layer before it says more).
    """
    for layer in model.layers:
        if layer.name == _HIDDEN_NAME:
            return layer
    before_output = [layer for layer in model.layers[:-1] if layer.__class__.__name__ != "Dropout"]
    if not before_output:
        raise SkdigitsError("the model has no hidden layer to show")
    return before_output[-1]


def _layer_activations(model, layer, X) -> np.ndarray:
    """``layer``'s output for every row of ``X``, flattened per sample."""
    from ..nn._tf import import_keras

    keras = import_keras(feature="the model report")
    sub_model = keras.Model(inputs=model.inputs, outputs=layer.output)
    out = np.asarray(sub_model.predict(np.asarray(X), batch_size=256, verbose=0))
    return out.reshape(len(out), -1)


def _describe_model(model) -> str:
    parts = []
    for layer in model.layers:
        kind = layer.__class__.__name__
        config = layer.get_config()
        activation = config.get("activation")
        if "units" in config:
            parts.append(f"{kind}({config['units']}, {activation})")
        elif "filters" in config:
            size = "×".join(map(str, config.get("kernel_size", ())))
            parts.append(f"{kind}({config['filters']}, {size}, {activation})")
        else:
            parts.append(kind)
    return " → ".join(parts)


# --- figures ----------------------------------------------------------------------------


def _new_figure(
    width: float, height: float, *, layout: Literal["constrained"] | None = "constrained"
) -> Figure:
    # A bare Figure: not registered with pyplot, so nothing global changes and
    # nothing is left open; savefig renders it with Agg.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout=layout)


def _png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return buffer.getvalue()


def _plot_confusion(evaluation: Evaluation) -> Figure:
    from sklearn.metrics import ConfusionMatrixDisplay

    fig = _new_figure(7.0, 6.0)
    ax = fig.add_subplot()
    ConfusionMatrixDisplay(evaluation.confusion, display_labels=evaluation.labels).plot(
        ax=ax, cmap="Blues", values_format="d", colorbar=True
    )
    ax.set_title(
        f"Test confusion matrix: accuracy {evaluation.accuracy:.2%} "
        f"on {evaluation.n_samples:,} images"
    )
    ax.set_xlabel("Predicted digit")
    ax.set_ylabel("True digit")
    return fig


def _plot_errors(images, y_true, y_pred, proba, indices) -> Figure:
    n_cols = 8
    n_rows = max(1, math.ceil(len(indices) / n_cols))
    width, height = n_cols * 1.15, max(2.5, n_rows * 1.4 + 0.55)
    # A fixed grid: the constrained layout of 24 axes costs more than the drawing.
    fig = _new_figure(width, height, layout=None)
    fig.subplots_adjust(
        left=0.01, right=0.99, bottom=0.02, top=1 - 0.75 / height, wspace=0.1, hspace=0.35
    )
    n_wrong = int(np.sum(np.asarray(y_true) != np.asarray(y_pred)))
    if len(indices) == 0:
        fig.suptitle("Misclassified test digits", y=1 - 0.08 / height)
        fig.text(0.5, 0.5, "no test digit was misclassified", ha="center", va="center")
        return fig
    if len(indices) < n_wrong:
        heading = (
            f"The {len(indices)} most confidently wrong of {n_wrong:,} misclassified test digits"
        )
    else:
        heading = f"All {n_wrong} misclassified test digits, most confidently wrong first"
    fig.suptitle(f"{heading}\ntrue → predicted digit, predicted probability", y=1 - 0.08 / height)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), indices, strict=False):
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        ax.set_title(
            f"{y_true[i]} → {y_pred[i]}, {proba[i].max():.1%}", fontsize=10, color="firebrick"
        )
    return fig


def _plot_precision_recall(classes, precision, recall) -> Figure:
    fig = _new_figure(8.0, 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    width = 0.4
    ax.bar(x - width / 2, precision, width, label="precision", color="tab:blue")
    ax.bar(x + width / 2, recall, width, label="recall", color="tab:orange")
    low = float(min(np.min(precision), np.min(recall)))
    # Zoom in on the interesting range: a good model sits between 0.9 and 1.
    ax.set_ylim(max(0.0, math.floor(low * 20) / 20 - 0.05), 1.0)
    ax.set_xticks(x, [str(c) for c in classes])
    ax.set_xlabel("Digit")
    ax.set_ylabel("Score (note the axis starts above 0)" if low > 0.1 else "Score")
    ax.set_title("Precision and recall per digit on the test set")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _plot_learning_curves(history: Mapping[str, Sequence[float]]) -> Figure:
    fig = _new_figure(10.0, 4.0)
    axes = fig.subplots(1, 2)
    fig.suptitle("Learning curves")
    if not history.get("loss"):
        for ax in axes:
            ax.axis("off")
        fig.text(0.5, 0.5, "no training history was saved with this model", ha="center")
        return fig
    for ax, metric, label in zip(axes, ("loss", "accuracy"), ("Loss", "Accuracy"), strict=True):
        curves = ((metric, "training", "o-"), (f"val_{metric}", "validation", "s--"))
        for key, name, style in curves:
            values = history.get(key)
            if values:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, style, label=name)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def _plot_tiles(tiles: np.ndarray, source: str) -> Figure:
    shown = tiles[:_MAX_TILES]
    n, height, width = shown.shape
    n_cols = math.ceil(math.sqrt(n))
    n_rows = math.ceil(n / n_cols)
    # One mosaic image with a blank pixel between tiles: one imshow instead of
    # a hundred axes draws in a fraction of the time.
    gap = 1 if max(height, width) < 10 else 2
    mosaic = np.full(
        (n_rows * (height + gap) - gap, n_cols * (width + gap) - gap), np.nan, dtype=np.float64
    )
    for i, tile in enumerate(shown):
        row, col = divmod(i, n_cols)
        y0, x0 = row * (height + gap), col * (width + gap)
        mosaic[y0 : y0 + height, x0 : x0 + width] = tile
    # One symmetric scale for every tile, so tiles compare; a few extreme
    # weights should not wash out the rest.
    limit = float(np.percentile(np.abs(shown), 99.5)) or 1.0
    # Lay the figure out in pixels so every weight is an exact square of
    # `scale` × `scale` pixels: no resampling artefacts, and a small PNG.
    scale = max(1, 600 // max(mosaic.shape))
    img_h, img_w = mosaic.shape[0] * scale, mosaic.shape[1] * scale
    left, right, top, bottom = 10, 150, 60, 10
    fig_w, fig_h = left + img_w + right, top + img_h + bottom
    fig = _new_figure(fig_w / _DPI, fig_h / _DPI, layout=None)
    ax = fig.add_axes((left / fig_w, bottom / fig_h, img_w / fig_w, img_h / fig_h))
    ax.set_axis_off()
    cmap = _colormap("RdBu_r", bad="white")
    image = ax.imshow(mosaic, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    more = f" (first {n} of {len(tiles)})" if n < len(tiles) else ""
    fig.text(
        (left + img_w / 2) / fig_w,
        1 - 8 / fig_h,
        f"First-layer weights\n{source}{more}",
        ha="center",
        va="top",
        fontsize="large",
    )
    cax = fig.add_axes(
        ((left + img_w + 20) / fig_w, bottom / fig_h + 0.1, 18 / fig_w, img_h / fig_h - 0.2)
    )
    fig.colorbar(image, cax=cax, label="weight (red: excites, blue: inhibits)")
    return fig


def _colormap(name: str, *, bad: str):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad=bad)


def _plot_activations(mean_activations: np.ndarray, classes, layer_name: str) -> Figure:
    n_classes, n_units = mean_activations.shape
    # Group units by the digit that excites them most (strongest first within a
    # group) so the map reads as blocks; never-active units go to the far right.
    preferred = mean_activations.argmax(axis=0)
    strength = mean_activations.max(axis=0)
    dead = strength <= 0
    group = np.where(dead, n_classes, preferred)
    order = np.lexsort((-strength, group))
    group = group[order]
    fig = _new_figure(min(16.0, 4.5 + n_units * 0.07), 4.4)
    ax = fig.add_subplot()
    image = ax.imshow(
        mean_activations[:, order], aspect="auto", cmap="viridis", interpolation="nearest"
    )
    ax.set_yticks(np.arange(n_classes), [str(c) for c in classes])
    ax.set_ylabel("True digit")
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], n_units]
    for boundary in starts[1:]:
        ax.axvline(boundary - 0.5, color="white", linewidth=1.5)
    names = [str(classes[g]) if g < n_classes else "off" for g in group[starts]]
    ax.set_xticks((starts + ends - 1) / 2, names)
    ax.tick_params(axis="x", length=0)
    ax.set_xlabel(
        f"The {n_units} units of layer {layer_name!r}, grouped by the digit that excites "
        "them most (off: never active)"
        if dead.any()
        else f"The {n_units} units of layer {layer_name!r}, grouped by the digit that "
        "excites them most"
    )
    ax.set_title(f"Mean activation of each hidden unit per true digit ({layer_name!r} layer)")
    fig.colorbar(image, ax=ax, label="mean activation")
    return fig


# --- files ------------------------------------------------------------------------------


def _data_files(evaluation: Evaluation, per_class: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The confusion matrix (JSON and CSV) and the per-class metrics (CSV), by file name."""
    labels = evaluation.labels.tolist()
    matrix = evaluation.confusion.tolist()
    doc = {
        "n_samples": evaluation.n_samples,
        "accuracy": evaluation.accuracy,
        "labels": labels,
        "confusion_matrix": matrix,
    }
    files = {"confusion_matrix.json": (dumps_json(doc) + "\n").encode()}

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["true\\predicted", *labels])
    for label, row in zip(labels, matrix, strict=True):
        writer.writerow([label, *row])
    files["confusion_matrix.csv"] = text.getvalue().encode()

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["label", "precision", "recall", "f1", "support"])
    for i, label in enumerate(labels):
        writer.writerow(
            [
                label,
                f"{per_class['precision'][i]:.6f}",
                f"{per_class['recall'][i]:.6f}",
                f"{per_class['f1'][i]:.6f}",
                int(per_class["support"][i]),
            ]
        )
    files["per_class_metrics.csv"] = text.getvalue().encode()
    return files


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
section { margin: 2.2em 0; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
p.caption { color: #555; margin-top: 0.2em; }
table { border-collapse: collapse; }
th, td { padding: 0.25em 0.8em; text-align: right; border-bottom: 1px solid #ddd; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _html_page(
    *,
    title: str,
    evaluation: Evaluation,
    per_class: dict[str, np.ndarray],
    pngs: dict[str, bytes],
    model_description: str,
    n_epochs: int,
    data_files: list[str],
) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style></head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>Test accuracy <strong>{evaluation.accuracy:.2%}</strong> on "
        f"{evaluation.n_samples:,} images. Model: <code>{esc(model_description)}</code>"
        + (f", trained for {n_epochs} epoch{'s' if n_epochs != 1 else ''}." if n_epochs else ".")
        + "</p>",
    ]
    for name, (heading, caption) in FIGURES.items():
        data = base64.b64encode(pngs[name]).decode("ascii")
        parts += [
            f'<section id="{esc(name.removesuffix(".png"))}">',
            f"<h2>{esc(heading)}</h2>",
            f'<p class="caption">{esc(caption)} (<a href="{esc(name)}">{esc(name)}</a>)</p>',
            f'<img src="data:image/png;base64,{data}" alt="{esc(heading)}">',
        ]
        if name == "precision_recall.png":
            parts.append(_per_class_table(evaluation.labels, per_class))
        if name == "confusion_matrix.png":
            parts.append(_confused_pairs(evaluation))
        parts.append("</section>")
    parts += [
        '<section id="files">',
        "<h2>Files</h2>",
        "<p>This page embeds every figure; the same figures and the numbers behind "
        "them are in the report directory:</p>",
        "<ul>",
        *(f'<li><a href="{esc(n)}">{esc(n)}</a></li>' for n in [*FIGURES, *data_files]),
        "</ul>",
        "</section>",
        "</body></html>",
        "",
    ]
    return "\n".join(parts)


def _per_class_table(labels: np.ndarray, per_class: dict[str, np.ndarray]) -> str:
    rows = [
        "<table>",
        "<tr><th>digit</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>",
    ]
    for i, label in enumerate(labels.tolist()):
        rows.append(
            f"<tr><td>{html.escape(str(label))}</td>"
            f"<td>{per_class['precision'][i]:.3f}</td><td>{per_class['recall'][i]:.3f}</td>"
            f"<td>{per_class['f1'][i]:.3f}</td><td>{int(per_class['support'][i])}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _confused_pairs(evaluation: Evaluation) -> str:
    pairs = evaluation.most_confused(5)
    if not pairs:
        return "<p>No digit was confused with another.</p>"
    items = "".join(
        f"<li>{a} ↔ {b}: {ab + ba} ({a} taken for {b} {ab}×, {b} taken for {a} {ba}×)</li>"
        for a, b, ab, ba in pairs
    )
    return f"<p>Most-confused pairs:</p><ul>{items}</ul>"

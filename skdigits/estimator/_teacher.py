"""Teachers for distillation: what ``teacher`` may be, and the fitted net it names.

A ``teacher`` is a preset name (that recipe, fitted here without its label
smoothing), the path of a saved ``.skdigits`` model, or a skdigits estimator. The
Keras side of distillation (the student trained on the teacher's soft targets) is
:mod:`skdigits.nn`'s ``Distiller``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from .._core.errors import DataError, ModelFileError
from ..model_io._bounds import describe
from ..model_io._format import load_metadata, read_pipeline
from ..nn._tf import seed_from
from ._presets import PRESETS, preset_params, spelled_out
from ._scaler import PixelScaler

#: The label smoothing of a teacher named by a preset: none, whatever the preset's.
TEACHER_LABEL_SMOOTHING = 0.0


def fit_teacher(student: Any, X: Any, y: Any) -> Any:
    """The fitted ``DigitClassifier`` that ``student.teacher`` names (fitted here if need be).

    Parameters
    ----------
    student : DigitClassifier
        Its ``teacher`` is a preset name (that recipe without its label smoothing,
        fitted here with the student's ``random_state``, ``verbose`` and
        ``validation_split``, so it holds out the same images), the path of a saved
        ``.skdigits`` model, or an estimator:
        used as it is when fitted, else a clone of it is fitted here (so ``clone``
        and a grid search refit it, as scikit-learn's meta-estimators do).
    X : array-like
        The student's training images, already scaled (what the student's
        ``fit`` receives); a pipeline teacher contributes its classifier only.
    y : array-like
        The labels.

    Returns
    -------
    DigitClassifier
        Fitted, with the same ``classes_`` as the labels.
    """
    teacher = student.teacher
    if not sp.issparse(X):
        X = np.asarray(X)
    if isinstance(teacher, str) and teacher in PRESETS:
        params = {
            **preset_params(teacher, _teacher_architecture(teacher)),
            # Smoothing pulls every wrong class towards the same probability, and
            # those probabilities are what the student learns from (Mueller,
            # Kornblith and Hinton 2019).
            "label_smoothing": TEACHER_LABEL_SMOOTHING,
            "random_state": seed_from(student.random_state),
            "verbose": student.verbose,
            "validation_split": float(student.validation_split),
            # The student learns from the teacher's net, never its predict_proba:
            # a temperature would be fitted for nothing.
            "calibration": None,
            # Outliers would teach the student uniform soft targets it has not asked for.
            "outlier_exposure": 0.0,
            "digit_variants": 0.0,
        }
        fitted = type(student)(**params).fit(X, y)
    elif isinstance(teacher, str):
        check_teacher_file(teacher, np.unique(np.asarray(y)))
        fitted = _load_teacher(teacher, type(student))
    else:
        clf = teacher.steps[-1][1] if isinstance(teacher, Pipeline) else teacher
        if not hasattr(clf, "model_"):
            clf = clone(clf).fit(X, y)
        fitted = clf
    _check_teacher_classes(fitted.classes_, np.unique(np.asarray(y)), "the `teacher`")
    return fitted


def check_teacher_file(path: str, classes: Any) -> None:
    """Refuse a saved teacher that cannot teach these ``classes``, from its manifest alone.

    Reads no weights and needs no TensorFlow, so the command line calls it before
    loading MNIST. A missing path may be a misspelt preset, and is named as one.

    Raises
    ------
    ModelFileError
        ``path`` is missing, not a regular file, or not a valid model file.
    DataError
        The teacher was fitted on other classes.
    """
    if not os.path.lexists(path):
        raise ModelFileError(
            f"`teacher`={describe(path, 200)} is neither a preset {tuple(PRESETS)} nor an existing "
            "file; pass a preset name or the path of a .skdigits model"
        )
    manifest = load_metadata(path)
    _check_teacher_classes(manifest["classes"], classes, f"the `teacher` {describe(path, 200)}")


def _check_teacher_classes(known: Any, classes: Any, teacher: str) -> None:
    known, classes = np.asarray(known), np.asarray(classes)
    if known.shape != classes.shape or not np.array_equal(known, classes):
        raise DataError(
            f"{teacher} knows the classes {describe(known.tolist())}, but the student learns "
            f"{describe(classes.tolist())}; distil from a teacher fitted on the same labels"
        )


def _teacher_architecture(preset: str) -> str:
    """A teacher preset's net: its residual net, else its CNN, else its only net (a
    teacher should be the stronger net)."""
    recipes = PRESETS[preset]
    return next((net for net in ("resnet", "cnn") if net in recipes), next(iter(recipes)))


def _load_teacher(path: str, classifier: type) -> Any:
    """The classifier of the model saved at ``path``, built as a ``classifier``."""
    steps = {
        "PixelScaler": PixelScaler,
        "DigitClassifier": lambda **params: classifier(**spelled_out(params)),
    }
    return read_pipeline(path, steps).steps[-1][1]

"""What DigitClassifier accepts: its parameters (one declarative table), inputs and targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d, validate_data

from .._core.values import is_integer, is_number
from ..nn._augment import augmentation_kinds

OUTPUT_ACTIVATIONS = ("softmax", "sigmoid")
ARCHITECTURES = ("mlp", "cnn")
LR_SCHEDULES = ("constant", "cosine", "exponential", "onecycle")


def _is_filters(value: Any) -> bool:
    return (
        isinstance(value, tuple | list)
        and len(value) >= 1
        and all(is_integer(v) and v >= 1 for v in value)
    )


def _is_augmentations(value: Any) -> bool:
    try:
        augmentation_kinds(value)
    except ValueError:
        return False
    return True


#: What each parameter may be, checked once at the start of ``fit``: a test and
#: the words of the error, which names the parameter in backticks.
PARAMETER_CONSTRAINTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "hidden_units": (lambda v: is_integer(v) and v >= 1, "a positive integer"),
    "output_activation": (lambda v: v in OUTPUT_ACTIVATIONS, f"one of {OUTPUT_ACTIVATIONS}"),
    "architecture": (lambda v: v in ARCHITECTURES, f"one of {ARCHITECTURES}"),
    "conv_filters": (_is_filters, "a tuple of positive integers, one per convolution block"),
    "dense_units": (
        lambda v: is_integer(v) and v >= 0,
        "a non-negative integer (0: no dense layer)",
    ),
    "ensemble_size": (lambda v: is_integer(v) and v >= 1, "a positive integer (1: a single net)"),
    "batch_size": (lambda v: is_integer(v) and v >= 1, "a positive integer"),
    "epochs": (lambda v: is_integer(v) and v >= 1, "a positive integer"),
    "validation_split": (lambda v: is_number(v) and 0.0 <= v < 1.0, "in [0, 1)"),
    "lr_schedule": (lambda v: v in LR_SCHEDULES, f"one of {LR_SCHEDULES}"),
    "augment": (
        lambda v: v is None or (is_number(v) and 0.0 <= v <= 3.0),
        "None or a strength between 0 and 3 (1.0: shifts and zoom up to 10 %, "
        "rotations up to 10 degrees)",
    ),
    "augmentations": (
        _is_augmentations,
        "one or more of ('shift', 'rotate', 'zoom', 'shear', 'elastic', 'thickness'), as a "
        "tuple or a string such as 'shift+zoom'",
    ),
    "early_stopping": (lambda v: isinstance(v, bool | np.bool_), "True or False"),
    "patience": (lambda v: is_integer(v) and v >= 1, "a positive integer"),
    "steps_per_execution": (lambda v: is_integer(v) and v >= 1, "a positive integer"),
    "reuse_models": (lambda v: isinstance(v, bool | np.bool_), "True or False"),
    "label_smoothing": (
        lambda v: is_number(v) and 0.0 <= v < 1.0,
        "a number in [0, 1) (e.g. 0.1)",
    ),
    "distill_temperature": (lambda v: is_number(v) and v > 0.0, "a positive number (e.g. 4)"),
    "distill_alpha": (lambda v: is_number(v) and 0.0 <= v <= 1.0, "a number in [0, 1]"),
}


#: The words of the error for a ``teacher`` that is none of what it may be.
TEACHER_EXPECTED = (
    "None, a preset name such as 'fast', the path of a saved .skdigits model, or a "
    "fitted skdigits Pipeline or DigitClassifier"
)


def check_params(estimator: Any, constraints: dict[str, tuple[Callable[[Any], bool], str]]) -> None:
    """Check a DigitClassifier's parameters against ``constraints``, then the rules between them.

    ``constraints`` is :data:`PARAMETER_CONSTRAINTS` with the ``teacher`` rule,
    which needs the classifier's class (``DigitClassifier`` passes its own table).
    """
    for name, (is_valid, expected) in constraints.items():
        value = getattr(estimator, name)
        if not is_valid(value):
            raise ValueError(f"`{name}` must be {expected}, got {value!r}")
    if estimator.early_stopping and not estimator.validation_split > 0.0:
        raise ValueError(
            "`early_stopping` watches the validation accuracy, but `validation_split` "
            "is 0; set validation_split (e.g. 0.2) or early_stopping=False"
        )
    if estimator.ensemble_size > 1 and estimator.teacher is not None:
        raise ValueError(
            f"`teacher` distils into a single net, got ensemble_size={estimator.ensemble_size}; "
            "set ensemble_size=1 (an ensemble can be the teacher)"
        )
    if estimator.label_smoothing > 0.0 and estimator.loss != "sparse_categorical_crossentropy":
        raise ValueError(
            f"`label_smoothing` works with the default loss only, got loss={estimator.loss!r}; "
            "set label_smoothing=0 or pass a smoothing loss yourself"
        )


def check_labels(y: Any, *, min_classes: int = 2) -> np.ndarray:
    """Refuse targets a single-output classifier cannot learn, with the reason."""
    if y is None:
        raise ValueError(
            "DigitClassifier requires y to be passed, but the target y is None; "
            "pass the class label of each sample"
        )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)  # scikit-learn's DataConversionWarning
    target_type = type_of_target(y)
    if target_type not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {target_type!r}. DigitClassifier needs one class "
            "label per sample (integers or strings), e.g. y of shape (n_samples,)"
        )
    classes = np.unique(y)
    if classes.size < min_classes:
        raise ValueError(
            f"DigitClassifier needs samples of at least 2 classes, got 1 class: {classes.tolist()}"
        )
    return y


def check_known_labels(y: np.ndarray, classes: np.ndarray, where: str) -> None:
    unknown = np.setdiff1d(np.unique(y), classes)
    if unknown.size:
        raise ValueError(
            f"y holds labels {unknown.tolist()} that are not in {where}: "
            f"{np.asarray(classes).tolist()}"
        )


def check_X(estimator: Any, X: Any, *, reset: bool) -> Any:
    """Feature names (scikit-learn's own check), then dense input of the fitted width.

    Returns ``X`` as an array, for SciKeras' own checks that follow.
    """
    validate_data(estimator, X, reset=reset, skip_check_array=True, ensure_2d=False)
    if sp.issparse(X):
        raise TypeError(
            "Sparse data was passed to DigitClassifier, but dense data is required; "
            "use X.toarray() to convert to a dense numpy array"
        )
    X = np.asarray(X)
    n_expected = getattr(estimator, "n_features_in_", None)
    if not reset and n_expected is not None and X.ndim >= 2 and X.shape[1] != n_expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but DigitClassifier is expecting "
            f"{n_expected} features as input; pass images of the shape used in fit"
        )
    return X


def check_partial_fit_classes(classes: Any, fitted: np.ndarray | None) -> np.ndarray:
    """The classes of a ``partial_fit`` call: required first, the same ones afterwards."""
    if fitted is None:
        if classes is None:
            raise ValueError(
                "`classes` must be passed on the first call to partial_fit, e.g. "
                "classes=np.arange(10) for digits"
            )
        return np.unique(classes)
    if classes is not None and not np.array_equal(np.unique(classes), fitted):
        raise ValueError(
            f"`classes`={np.unique(classes).tolist()} is not the same as on the first "
            f"call to partial_fit, was {fitted.tolist()}"
        )
    return fitted

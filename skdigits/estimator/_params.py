"""What DigitClassifier accepts: its parameters (one declarative table), inputs and targets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d, validate_data

from .._core.errors import DataError
from .._core.values import is_finite_number
from ..model_io._bounds import (
    MAX_CLASSES,
    ParameterError,
    bound_words,
    check_network_size,
    describe,
    is_calibration,
    within_bounds,
)
from ..nn._augment import augmentation_kinds

OUTPUT_ACTIVATIONS = ("softmax", "sigmoid")
ARCHITECTURES = ("mlp", "cnn", "resnet")
LR_SCHEDULES = ("constant", "cosine", "exponential", "onecycle")


def _is_augmentations(value: Any) -> bool:
    try:
        augmentation_kinds(value)
    except ValueError:
        return False
    return True


def _bounded(name: str, hint: str = "") -> tuple[Callable[[Any], bool], str]:
    """The rule of a parameter in the bounds table that loading a saved model applies."""
    return (lambda v: within_bounds(name, v), bound_words(name) + hint)


def _is_random_state(value: Any) -> bool:
    return isinstance(value, np.random.RandomState) or within_bounds("random_state", value)


def _is_class_weight(value: Any) -> bool:
    if value is None or value == "balanced":
        return True
    return isinstance(value, dict) and all(is_finite_number(w) and w >= 0 for w in value.values())


#: What each parameter may be, checked once at the start of ``fit``: a test and
#: the words of the error, which names the parameter in backticks. Sizes, counts
#: and rates are the bounds table that loading a saved model applies too
#: (:data:`skdigits.model_io.PARAMETER_BOUNDS`).
PARAMETER_CONSTRAINTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "hidden_units": _bounded("hidden_units"),
    "output_activation": (lambda v: v in OUTPUT_ACTIVATIONS, f"one of {OUTPUT_ACTIVATIONS}"),
    "architecture": (lambda v: v in ARCHITECTURES, f"one of {ARCHITECTURES}"),
    "conv_filters": _bounded("conv_filters"),
    "dense_units": _bounded("dense_units", " (0: no dense layer)"),
    "residual_blocks": _bounded("residual_blocks", " (blocks per stage of the ResNet)"),
    "ensemble_size": _bounded("ensemble_size", " (1: a single net)"),
    "batch_size": _bounded("batch_size"),
    "validation_batch_size": _bounded("validation_batch_size"),
    "epochs": _bounded("epochs"),
    "optimizer__learning_rate": _bounded("optimizer__learning_rate", " (e.g. 0.001)"),
    "validation_split": _bounded("validation_split"),
    "lr_schedule": (lambda v: v in LR_SCHEDULES, f"one of {LR_SCHEDULES}"),
    "augment": _bounded(
        "augment",
        " (1.0: shifts and zoom up to 10 %, rotations up to 10 degrees)",
    ),
    "augmentations": (
        _is_augmentations,
        "one or more of ('shift', 'rotate', 'zoom', 'shear', 'elastic', 'thickness'), as a "
        "tuple or a string such as 'shift+zoom'",
    ),
    "early_stopping": (lambda v: isinstance(v, bool | np.bool_), "True or False"),
    "calibration": (is_calibration, "'temperature' or None"),
    "digit_threshold": _bounded(
        "digit_threshold", " (None: the threshold fitted on the validation digits)"
    ),
    "patience": _bounded("patience"),
    "steps_per_execution": _bounded("steps_per_execution"),
    "reuse_models": (lambda v: isinstance(v, bool | np.bool_), "True or False"),
    "label_smoothing": _bounded("label_smoothing", " (e.g. 0.1)"),
    "outlier_exposure": _bounded("outlier_exposure", " (e.g. 0.5; 0: digits only)"),
    "digit_variants": _bounded("digit_variants", " (e.g. 0.25; 0: the given digits only)"),
    "distill_temperature": _bounded("distill_temperature", " (e.g. 4)"),
    "distill_alpha": _bounded("distill_alpha"),
    "random_state": (
        _is_random_state,
        f"{bound_words('random_state')}, or a numpy RandomState",
    ),
    "class_weight": (
        _is_class_weight,
        "None, 'balanced' or a dict of finite non-negative weights per class",
    ),
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
    check_param_values(estimator.get_params(deep=False), constraints)


def check_param_values(
    params: Mapping[str, Any], constraints: dict[str, tuple[Callable[[Any], bool], str]]
) -> None:
    """Judge a dict of DigitClassifier parameters without building anything.

    Parameters
    ----------
    params : mapping
        Parameter names as ``DigitClassifier`` takes them (``hidden_units``,
        ``optimizer__learning_rate``); a name left out is not judged, nor is a
        rule between parameters that needs it.
    constraints : dict
        The table to apply (see :func:`check_params`).

    Raises
    ------
    ParameterError
        One line naming the parameter, what it must be, and the value.
    """
    for name in constraints.keys() & params.keys():
        is_valid, expected = constraints[name]
        value = params[name]
        if not is_valid(value):
            raise ParameterError(f"`{name}` must be {expected}, got {describe(value)}")
    get = params.get
    if get("early_stopping") and get("validation_split", 1.0) == 0.0:
        raise ParameterError(
            "`early_stopping` watches the validation accuracy, but `validation_split` "
            "is 0; set validation_split (e.g. 0.2) or early_stopping=False"
        )
    if get("ensemble_size", 1) > 1 and get("teacher") is not None:
        raise ParameterError(
            f"`teacher` distils into a single net, got ensemble_size={get('ensemble_size')}; "
            "set ensemble_size=1 (an ensemble can be the teacher)"
        )
    loss = get("loss", "sparse_categorical_crossentropy")
    if get("label_smoothing", 0.0) > 0.0 and loss != "sparse_categorical_crossentropy":
        raise ParameterError(
            f"`label_smoothing` works with the default loss only, got loss={describe(loss)}; "
            "set label_smoothing=0 or pass a smoothing loss yourself"
        )
    for name in ("outlier_exposure", "digit_variants"):
        if get(name, 0.0) > 0.0 and loss != "sparse_categorical_crossentropy":
            raise ParameterError(
                f"`{name}` works with the default loss only, got loss={describe(loss)}; "
                f"set {name}=0 or leave loss at its default"
            )
        if get(name, 0.0) > 0.0 and get("teacher") is not None:
            raise ParameterError(
                f"`{name}` adds training images with targets of their own, but a `teacher` "
                f"was given; set {name}=0 (a teacher trained with them can still teach)"
            )


def check_network(estimator: Any, n_features: int, n_classes: int) -> None:
    """Refuse, before training, a net or a class count that a saved model could not hold."""
    if n_classes > MAX_CLASSES:
        raise DataError(
            f"y holds {n_classes} classes, more than the {MAX_CLASSES} a DigitClassifier "
            "learns (and a .skdigits file holds); pass fewer distinct labels"
        )
    check_network_size(estimator.get_params(deep=False), n_features=n_features, n_classes=n_classes)


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

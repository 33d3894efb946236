"""One table of parameter bounds: fit refuses what loading a saved model refuses.

Every bounded parameter is tried at its limit (accepted by the load check) and
just past it (refused by ``fit`` before any training, and by the load check);
the weight count the table bounds is checked against the nets Keras builds.
"""

from __future__ import annotations

import json
import math
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skdigits import DigitClassifier, ModelFileError, make_pipeline, save_model
from skdigits.estimator._classifier import check_classifier_params
from skdigits.model_io import MAX_WEIGHTS, PARAMETER_BOUNDS, ParameterError, count_weights
from skdigits.model_io._bounds import Range, bound_words, check_bounds
from skdigits.model_io._format import load_metadata

#: For each bounded parameter: a value at its limit, and one just past it.
LIMITS: dict[str, tuple[Any, Any]] = {
    "hidden_units": (10_000, 10_001),
    "dense_units": (10_000, 10_001),
    "residual_blocks": (8, 9),
    "conv_filters": ((1024, 8, 8, 8), (8, 8, 8, 8, 8)),
    "ensemble_size": (16, 17),
    "batch_size": (1_000_000, 1_000_001),
    "validation_batch_size": (1_000_000, 1_000_001),
    "epochs": (10_000, 10_001),
    "patience": (10_000, 10_001),
    "steps_per_execution": (10_000, 10_001),
    "optimizer__learning_rate": (10.0, 10.5),
    "validation_split": (0.99, 1.0),
    "augment": (3.0, 3.5),
    "label_smoothing": (0.99, 1.0),
    "distill_temperature": (100.0, 100.5),
    "distill_alpha": (1.0, 1.5),
    "random_state": (2**32 - 1, 2**32),
    "digit_threshold": (1.0, 1.01),
    "outlier_exposure": (4.0, 4.5),
    "digit_variants": (4.0, 4.5),
}

#: Values that are refused wherever they appear: not finite, below the range, not numbers.
NEVER = [
    ("optimizer__learning_rate", math.nan),
    ("optimizer__learning_rate", math.inf),
    ("optimizer__learning_rate", -1.0),
    ("optimizer__learning_rate", 0.0),
    ("hidden_units", 10**8),
    ("hidden_units", 2**63 - 1),
    ("hidden_units", 100.0),
    ("hidden_units", True),
    ("batch_size", 2**63),
    ("epochs", 10**12),
    ("label_smoothing", math.nan),
    ("augment", math.inf),
    ("distill_temperature", 0.0),
    ("distill_alpha", -0.1),
    ("validation_split", math.nan),
    ("conv_filters", (0,)),
    ("conv_filters", ()),
    ("residual_blocks", 0),
    ("random_state", -1),
    ("digit_threshold", -0.01),
    ("digit_threshold", math.nan),
    ("outlier_exposure", -0.5),
    ("digit_variants", math.nan),
]

X_TINY = np.random.default_rng(0).random((20, 784))
Y_TINY = np.arange(20) % 10


def test_every_bounded_parameter_is_tried():
    assert set(LIMITS) == set(PARAMETER_BOUNDS)


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, beyond) for name, (_, beyond) in LIMITS.items()] + NEVER,
    ids=lambda v: repr(v)[:30],
)
def test_fit_refuses_a_value_past_the_bounds_before_training(name, value):
    clf = DigitClassifier(**{name: value})
    with pytest.raises(ParameterError) as info:
        clf.fit(X_TINY, Y_TINY)
    message = str(info.value)
    assert message.startswith(f"`{name}` must be "), message
    assert bound_words(name) in message, message  # the range is named
    assert "\n" not in message
    assert not hasattr(clf, "model_")  # nothing was built


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A tiny fitted pipeline saved once: its manifest is what the load cases change."""
    pipe = make_pipeline(hidden_units=8, epochs=1, random_state=0)
    pipe.fit(np.random.default_rng(0).integers(0, 256, (20, 784)), Y_TINY)
    return save_model(pipe, tmp_path_factory.mktemp("bounds") / "m.skdigits")


def with_param(saved: Path, path: Path, name: str, value: Any) -> Path:
    """``saved`` with one classifier parameter changed in its manifest."""
    manifest = load_metadata(saved)
    manifest["steps"][1]["params"][name] = value
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
        dst.writestr("manifest.json", json.dumps(manifest))
        dst.writestr("model.keras", src.read("model.keras"))
    return path


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_the_load_check_accepts_the_limit_and_refuses_past_it(saved, tmp_path, name):
    at_limit, beyond = LIMITS[name]
    manifest = load_metadata(with_param(saved, tmp_path / "at.skdigits", name, at_limit))
    assert manifest["steps"][1]["params"][name] == json.loads(json.dumps(at_limit))
    with pytest.raises(
        ModelFileError, match=rf"`{name}` is .*, expected {re.escape(bound_words(name))}"
    ):
        load_metadata(with_param(saved, tmp_path / "past.skdigits", name, beyond))


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_check_bounds_accepts_each_limit(name):
    check_bounds({name: LIMITS[name][0]})  # no error: at the limit is allowed


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_units": 100},
        {"hidden_units": 37, "ensemble_size": 2},
        {"architecture": "cnn"},
        {"architecture": "cnn", "conv_filters": (4, 8), "dense_units": 0},
        {"architecture": "cnn", "conv_filters": (2, 3, 4, 5), "dense_units": 16},
        {"architecture": "cnn", "conv_filters": (6,), "dense_units": 8, "ensemble_size": 3},
        {"architecture": "resnet"},
        {"architecture": "resnet", "conv_filters": (4, 8, 16, 8), "residual_blocks": 3},
        {"architecture": "resnet", "conv_filters": (5,), "ensemble_size": 2},
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()),
)
def test_the_weight_count_is_what_keras_builds(params):
    X, y = X_TINY[:12], np.arange(12) % 3
    clf = DigitClassifier(**params).initialize(X, y)
    assert count_weights(params, n_features=784, n_classes=3) == clf.model_.count_params()


def test_a_net_over_the_weight_limit_is_refused_at_fit_naming_its_sizes():
    params = {"architecture": "cnn", "conv_filters": (1024, 1024), "dense_units": 10_000}
    assert count_weights(params) > MAX_WEIGHTS
    with pytest.raises(
        ParameterError,
        match=r"the net of conv_filters=\(1024, 1024\), dense_units=10000, ensemble_size=1 "
        r"for 10 classes has 265,594,602 weights, more than the 15,000,000",
    ):
        DigitClassifier(**params).fit(X_TINY, Y_TINY)
    # Each size alone is within its bound: only the whole net is too large.
    check_bounds({k: v for k, v in params.items() if k != "architecture"} | {"architecture": "mlp"})


def test_more_classes_than_a_model_file_holds_are_refused_at_fit():
    from skdigits import DataError

    y = np.arange(1001)
    with pytest.raises(DataError, match=r"y holds 1001 classes, more than the 1000"):
        DigitClassifier(hidden_units=1).fit(np.zeros((1001, 4)), y)


def test_a_class_weight_that_is_not_finite_is_refused():
    with pytest.raises(ParameterError, match=r"`class_weight` must be None, 'balanced' or a dict"):
        DigitClassifier(class_weight={0: math.nan}).fit(X_TINY, Y_TINY)


def test_a_candidate_dict_is_judged_in_microseconds_as_fit_judges_it():
    base = DigitClassifier().get_params(deep=False)
    for name, value in NEVER:
        with pytest.raises(ParameterError, match=f"`{re.escape(name)}` must be"):
            check_classifier_params({**base, name: value})
    with pytest.raises(ParameterError, match="`teacher` distils into a single net"):
        check_classifier_params({**base, "ensemble_size": 2, "teacher": "fast"})
    start = time.perf_counter()
    for units in range(1, 5001):
        check_classifier_params({**base, "hidden_units": units})
    seconds = time.perf_counter() - start
    assert seconds < 2.0, seconds  # about 15 us each on a shared two-core machine


@pytest.mark.parametrize(
    ("bound", "value", "accepted"),
    [
        (Range(1, 10), 10, True),
        (Range(1, 10), np.int64(10), True),
        (Range(1, 10), 11, False),
        (Range(1, 10), 10**400, False),
        (Range(1, 10), True, False),
        (Range(1, 10), 5.0, False),
        (Range(0.0, 1.0, integer=False), 1, True),
        (Range(0.0, 1.0, integer=False), 10**400, False),
        (Range(0.0, 1.0, integer=False), np.float32("nan"), False),
        (Range(0.0, 1.0, integer=False, high_open=True), 1.0, False),
        (Range(0.0, 1.0, integer=False, low_open=True), 0.0, False),
        (Range(0.0, 1.0, integer=False), "0.5", False),
    ],
)
def test_a_range_takes_finite_numbers_of_its_kind_only(bound, value, accepted):
    assert bound.accepts(value) is accepted

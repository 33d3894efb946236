"""The digit score and its threshold: fitted on the validation digits, overridden, kept."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV

from skdigits import DigitClassifier, make_pipeline
from skdigits.estimator import digit_score, is_digit
from skdigits.estimator._classifier import check_classifier_params
from skdigits.model_io import ParameterError
from skdigits.runtime import digit_score_from_proba, fit_digit_threshold
from tests._support.nondigits import constructed_non_digits


@pytest.fixture(scope="module")
def few_validation_images(small_mnist):
    """200 images, so Keras holds out 40 for validation: too few for a threshold."""
    X, y, _, _ = small_mnist
    return make_pipeline(epochs=1, random_state=0).fit(X[:200], y[:200])


def test_the_threshold_keeps_99_percent_of_the_validation_digits(fitted_pipeline, small_mnist):
    X, _, _, _ = small_mnist
    clf = fitted_pipeline[-1]
    X_val = X[int(len(X) * 0.8) :]  # the rows Keras held out
    scores = digit_score(fitted_pipeline, X_val)
    assert 0.0 < clf.digit_threshold_ < 1.0
    assert clf.digit_threshold_ == fit_digit_threshold(scores)
    kept = is_digit(fitted_pipeline, X_val)
    assert 0.99 <= kept.mean() < 0.995


def test_test_digits_are_digits(fitted_pipeline, small_mnist):
    _, _, X_test, _ = small_mnist
    assert is_digit(fitted_pipeline, X_test).mean() >= 0.98  # 98.3 % of these 1,000
    scores = digit_score(fitted_pipeline, X_test)
    np.testing.assert_array_equal(
        scores, digit_score_from_proba(fitted_pipeline.predict_proba(X_test))
    )
    # The classifier's own methods, on scaled rows, say the same.
    rows = fitted_pipeline[0].transform(X_test)
    np.testing.assert_array_equal(fitted_pipeline[-1].digit_score(rows), scores)
    np.testing.assert_array_equal(
        fitted_pipeline[-1].is_digit(rows), is_digit(fitted_pipeline, X_test)
    )


def test_a_blank_image_is_not_a_digit_but_still_gets_a_label(fitted_pipeline):
    blank = np.zeros((1, 28, 28), np.uint8)
    assert not is_digit(fitted_pipeline, blank)[0]
    assert fitted_pipeline.predict(blank)[0] in fitted_pipeline.classes_


def test_non_digits_score_lower_than_digits_on_the_whole(fitted_pipeline, small_mnist):
    from skdigits.io import make_nondigits

    X, _, X_test, _ = small_mnist
    others = make_nondigits(500, digits=X[:300], random_state=0)
    scores = np.concatenate(
        [digit_score(fitted_pipeline, X_test), digit_score(fitted_pipeline, others)]
    )
    truth = np.r_[np.ones(len(X_test)), np.zeros(len(others))]
    assert roc_auc_score(truth, scores) > 0.7  # 0.77 measured: no outliers in training


def test_too_few_validation_images_take_every_image_for_a_digit(few_validation_images):
    clf = few_validation_images[-1]
    assert clf.digit_threshold_ == 0.0
    assert is_digit(few_validation_images, np.stack(list(constructed_non_digits().values()))).all()


def test_the_parameter_overrides_the_fitted_threshold(few_validation_images, small_mnist):
    _, _, X_test, _ = small_mnist
    scores = digit_score(few_validation_images, X_test)
    median = float(np.median(scores))
    few_validation_images.set_params(clf__digit_threshold=median)
    try:  # no refit: the parameter acts at once
        kept = is_digit(few_validation_images, X_test)
        np.testing.assert_array_equal(kept, scores >= median)
        assert 0.4 < kept.mean() < 0.6
        assert few_validation_images[-1].digit_threshold_ == 0.0  # the fitted one stays
    finally:
        few_validation_images.set_params(clf__digit_threshold=None)
    assert clone(make_pipeline(digit_threshold=0.5)).get_params()["clf__digit_threshold"] == 0.5


@pytest.mark.parametrize("value", [1.5, -0.1, float("nan"), "high", True])
def test_a_threshold_outside_0_1_is_refused_before_training(value):
    message = r"`digit_threshold` must be None or a finite number in \[0, 1\]"
    with pytest.raises(ParameterError, match=message):
        check_classifier_params({"digit_threshold": value})
    with pytest.raises(ParameterError, match=message):
        DigitClassifier(digit_threshold=value).fit(np.zeros((60, 784)), np.arange(60) % 2)


def test_the_threshold_is_a_parameter_of_grids(small_mnist):
    X, y, X_test, _ = small_mnist
    grid = GridSearchCV(
        make_pipeline(epochs=1, random_state=0), {"clf__digit_threshold": [None, 0.9]}, cv=2
    )
    grid.fit(X[:600], y[:600])
    assert grid.cv_results_["param_clf__digit_threshold"].tolist() == [None, 0.9]
    best = grid.best_estimator_
    threshold = best[-1]._threshold_in_use()
    np.testing.assert_array_equal(is_digit(best, X_test), digit_score(best, X_test) >= threshold)


def test_what_is_not_a_skdigits_model_is_refused():
    from skdigits import SkdigitsError

    with pytest.raises(SkdigitsError, match="digit_score expects a skdigits Pipeline"):
        digit_score(object(), np.zeros((1, 28, 28)))
    with pytest.raises(SkdigitsError, match="is not fitted yet; call fit"):
        is_digit(make_pipeline(), np.zeros((1, 28, 28)))

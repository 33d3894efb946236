"""Outlier exposure: a net trained with non-digits refuses what is no digit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from skdigits import make_pipeline
from skdigits.estimator import digit_score, is_digit
from skdigits.estimator._outliers import draw_outliers, with_exposure
from skdigits.io import make_nondigits
from skdigits.model_io import ParameterError
from skdigits.runtime import fit_digit_threshold
from tests._support.nondigits import constructed_non_digits


@pytest.fixture(scope="module")
def exposed_pipeline(small_mnist):
    """``fitted_pipeline``'s recipe (3 epochs, seeded) with one non-digit per training image."""
    X, y, _, _ = small_mnist
    return make_pipeline(epochs=3, outlier_exposure=1.0, random_state=0).fit(X, y)


@pytest.mark.xdist_group("fast_pipeline")
def test_the_fast_preset_refuses_constructed_non_digits(fast_pipeline, mnist):
    # The fast preset trains with outliers and digit variants: a letter, a scribble,
    # a filled square and noise are no digit, and test digits stay digits.
    pictures = constructed_non_digits()
    refused = ~is_digit(fast_pipeline, np.stack(list(pictures.values())))
    assert refused.all(), dict(zip(pictures, refused, strict=True))
    _, _, X_test, _ = mnist
    assert is_digit(fast_pipeline, X_test).mean() >= 0.985


def test_the_score_separates_better_than_training_on_digits_alone(
    exposed_pipeline, fitted_pipeline, small_mnist
):
    _, _, X_test, _ = small_mnist
    # Kinds and a seed the training draws never used: textures, specks and letters
    # of another draw (the fragments kind needs training digits: left out).
    others = make_nondigits(600, kinds=("letters", "scribbles", "textures"), random_state=99)
    truth = np.r_[np.ones(len(X_test)), np.zeros(len(others))]

    def auroc(pipeline):
        return roc_auc_score(
            truth, np.r_[digit_score(pipeline, X_test), digit_score(pipeline, others)]
        )

    plain, exposed = auroc(fitted_pipeline), auroc(exposed_pipeline)
    # Measured: 0.78 for digits alone, 0.92 with outliers (3 epochs of the MLP).
    assert exposed > 0.9, (plain, exposed)
    assert exposed > plain + 0.1, (plain, exposed)


def test_accuracy_is_kept(exposed_pipeline, fitted_pipeline, small_mnist):
    _, _, X_test, y_test = small_mnist
    plain = fitted_pipeline.score(X_test, y_test)
    assert exposed_pipeline.score(X_test, y_test) >= plain - 0.02


def test_the_validation_rows_stay_digits(exposed_pipeline, small_mnist):
    # The threshold is fitted on the held-out 20 %, all of them digits: the
    # outliers joined the training rows only.
    X, _, _, _ = small_mnist
    clf = exposed_pipeline[-1]
    scores = digit_score(exposed_pipeline, X[int(len(X) * 0.8) :])
    assert clf.digit_threshold_ == fit_digit_threshold(scores)
    assert len(clf.history_["val_accuracy"]) == 3
    assert clf.history_["val_accuracy"][-1] > 0.85


def test_the_outliers_are_scaled_as_the_rows(small_mnist):
    X, _, _, _ = small_mnist
    rows = X[:100].reshape(100, -1).astype(np.float32) / 255
    outliers = draw_outliers(rows, 20, np.random.default_rng(0))
    assert outliers.shape == (20, 784)
    assert outliers.dtype == np.float32
    assert outliers.min() >= 0.0
    assert 0.5 < outliers.max() <= 1.0


def test_added_rows_join_training_only_and_are_seeded(small_mnist):
    X, y, _, _ = small_mnist
    rows = X[:500].reshape(500, -1).astype(np.float32) / 255
    one_hot = np.eye(10, dtype=np.float32)[y[:500]]
    estimator = make_pipeline(outlier_exposure=0.5, digit_variants=0.25, random_state=3)[-1]
    estimator.classes_ = np.arange(10)
    X_fit, y_fit, w_fit, kwargs = with_exposure(estimator, rows, one_hot, None, 0)
    # 400 training rows, 100 variants with their labels, 200 uniform outliers
    assert (X_fit.shape, y_fit.shape, w_fit.shape) == ((700, 784), (700, 10), (700,))
    np.testing.assert_array_equal(X_fit[:400], rows[:400])
    assert (y_fit[400:500].max(axis=1) == 1.0).all()
    np.testing.assert_allclose(y_fit[500:], 0.1)
    np.testing.assert_array_equal(w_fit, np.r_[np.ones(500), np.full(200, 0.5)])
    np.testing.assert_array_equal(kwargs["validation_data"][0], rows[400:])
    assert kwargs["validation_split"] == 0.0
    again = with_exposure(estimator, rows, one_hot, None, 0)[0]
    np.testing.assert_array_equal(again, X_fit)
    assert not np.array_equal(with_exposure(estimator, rows, one_hot, None, 1)[0], X_fit)


def test_the_parameter_survives_clone_and_is_judged_at_fit(small_mnist):
    X, y, _, _ = small_mnist
    pipeline = make_pipeline(outlier_exposure=0.25)
    assert clone(pipeline).get_params()["clf__outlier_exposure"] == 0.25
    for params, words in (
        ({"outlier_exposure": -1.0}, "`outlier_exposure` must be"),
        ({"outlier_exposure": 5.0}, "`outlier_exposure` must be"),
        ({"outlier_exposure": 0.5, "teacher": "fast"}, "set outlier_exposure=0"),
        ({"outlier_exposure": 0.5, "loss": "categorical_hinge"}, "default loss only"),
        ({"digit_variants": -0.5}, "`digit_variants` must be"),
        ({"digit_variants": 0.5, "teacher": "fast"}, "set digit_variants=0"),
    ):
        with pytest.raises(ParameterError, match=words):
            make_pipeline(epochs=1, **params).fit(X[:100], y[:100])

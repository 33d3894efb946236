"""scikit-learn's own estimator checks, run on every estimator skdigits ships."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from skdigits.estimator._classifier import DigitClassifier
from skdigits.estimator._scaler import PixelScaler

# Checks DigitClassifier cannot pass, each with the reason. Nothing else may fail.
DIGIT_CLASSIFIER_XFAIL = {
    "check_mixin_order": (
        "SciKeras declares KerasClassifier(BaseWrapper, ClassifierMixin), so in every "
        "subclass ClassifierMixin follows BaseEstimator and only a metaclass could reorder "
        "it; DigitClassifier's __sklearn_tags__ makes it a classifier (is_classifier() is "
        "True, test_classifier.py) and SciKeras' own score() is the mixin's accuracy"
    ),
    "check_estimator_tags_renamed": (
        "SciKeras' BaseWrapper, a parent class we do not own, still defines the "
        "pre-1.6 `_more_tags`; scikit-learn ignores it, and DigitClassifier's "
        "__sklearn_tags__ gives the real tags (test_classifier.py checks them)"
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch stochastic training: weighting a sample by 2 equals repeating "
        "it only in expectation, not exactly (scikit-learn marks SGDClassifier the same)"
    ),
    "check_methods_sample_order_invariance": (
        "float32 matrix products are blocked by batch layout, so reordering samples "
        "can change a probability in the last bit (~1e-7 relative, intermittently), "
        "above the check's rtol=1e-7; labels do not change"
    ),
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, DigitClassifier):
        return DIGIT_CLASSIFIER_XFAIL
    return {}


# Small and quick, yet accurate enough for the checks that demand a decent fit.
FAST_CLASSIFIER = DigitClassifier(
    hidden_units=16,
    epochs=8,
    batch_size=16,
    validation_split=0.0,
    optimizer__learning_rate=0.03,
    random_state=0,
)


@parametrize_with_checks(
    [PixelScaler(), FAST_CLASSIFIER], expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

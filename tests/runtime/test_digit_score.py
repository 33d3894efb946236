"""The digit score and its threshold: the definition, and the ONNX predictor's answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skdigits import ModelFileError
from skdigits.runtime import DIGIT_SCORE_KIND, digit_score_from_proba, fit_digit_threshold
from skdigits.runtime._predictor import OnnxDigitClassifier
from tests._support.onnx_models import METADATA, B, W, build_model


def _softmax_max(X: np.ndarray) -> np.ndarray:
    z = X.reshape(len(X), -1).astype(np.float32) / np.float32(255) @ W + B
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).max(axis=1)


def test_the_score_is_the_probability_of_the_two_likeliest_classes():
    proba = np.array([[0.1, 0.45, 0.45], [0.8, 0.1, 0.1], [1 / 3, 1 / 3, 1 / 3]], np.float32)
    assert DIGIT_SCORE_KIND == "top2_probability"
    # A 4 that may be a 9 is a digit; probability spread over every class is not.
    assert digit_score_from_proba(proba).tolist() == pytest.approx([0.9, 0.9, 2 / 3])
    assert digit_score_from_proba(proba, "max_probability").tolist() == pytest.approx(
        [0.45, 0.8, 1 / 3]
    )
    # With two classes the two likeliest hold everything: the likeliest one alone counts.
    two = np.array([[0.1, 0.9], [0.5, 0.5]], dtype=np.float32)
    assert digit_score_from_proba(two).tolist() == pytest.approx([0.9, 0.5])
    assert digit_score_from_proba(np.empty((0, 10))).shape == (0,)


def test_the_threshold_keeps_99_percent_of_the_scores_it_is_fitted_on():
    scores = np.random.default_rng(0).uniform(0.2, 1.0, 1000).astype(np.float32)
    threshold = fit_digit_threshold(scores)
    assert np.mean(scores >= threshold) >= 0.99
    assert np.mean(scores >= threshold) < 0.995  # the 1 % quantile, not a lower bound
    assert threshold in scores  # one of the scores: `>=` keeps it exactly


def test_fewer_than_50_scores_give_a_threshold_of_zero():
    assert fit_digit_threshold(np.full(49, 0.9)) == 0.0
    assert fit_digit_threshold(np.full(50, 0.9)) == pytest.approx(0.9)


@pytest.fixture
def images():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (20, 28, 28)).astype(np.uint8)


def test_a_model_with_the_score_output_gives_it_and_its_threshold(tmp_path, images):
    metadata = {**METADATA, "digit_score_kind": "max_probability", "digit_threshold": "0.5"}
    path = build_model(tmp_path / "m.onnx", metadata=metadata, score_output="digit_score")
    clf = OnnxDigitClassifier(path)
    assert clf.digit_threshold_ == 0.5
    _labels, proba, scores = clf.predict_with_score(images)
    assert scores.dtype == np.float32
    assert scores.shape == (20,)
    np.testing.assert_array_equal(scores, proba.max(axis=1))
    np.testing.assert_allclose(scores, _softmax_max(images), atol=1e-6)
    np.testing.assert_array_equal(clf.is_digit(images), scores >= 0.5)
    assert clf.predict(images).shape == (20,)  # still a label for every image
    assert clf.digit_score(images[0]).shape == (1,)
    empty = clf.predict_with_score(np.zeros((0, 28, 28), np.uint8))
    assert [a.shape for a in empty] == [(0,), (0, 10), (0,)]


def test_a_model_exported_before_the_score_takes_every_image_for_a_digit(tmp_path, images):
    clf = OnnxDigitClassifier(build_model(tmp_path / "old.onnx"))
    assert clf.digit_threshold_ == 0.0
    np.testing.assert_allclose(clf.digit_score(images), _softmax_max(images), atol=1e-6)
    assert clf.is_digit(images).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"score_output": "confidence"}, "its outputs are"),
        ({"score_output": "digit_score", "score_keepdims": True}, "its outputs are"),
        (
            {"metadata": {**METADATA, "digit_threshold": "1.5"}},
            r"malformed `digit_threshold` metadata '1\.5'",
        ),
        (
            {"metadata": {**METADATA, "digit_threshold": "nan"}},
            "malformed `digit_threshold` metadata 'nan'",
        ),
        (
            {"metadata": {**METADATA, "digit_score_kind": "energy"}},
            r"names the digit score 'energy' but has no 'digit_score' output",
        ),
    ],
    ids=["other-extra-output", "score-of-rank-2", "threshold-above-1", "threshold-nan", "kind"],
)
def test_a_score_the_predictor_cannot_trust_is_refused(tmp_path, kwargs, message):
    path = build_model(tmp_path / "m.onnx", **kwargs)
    with pytest.raises(ModelFileError, match=message) as info:
        OnnxDigitClassifier(path)
    assert "skdigits export" in str(info.value)
    assert "\n" not in str(info.value)


def test_the_metadata_decodes_the_threshold_as_a_number(tmp_path):
    metadata = {**METADATA, "digit_threshold": "0.25", "classes": json.dumps(list(range(10)))}
    clf = OnnxDigitClassifier(build_model(tmp_path / "m.onnx", metadata=metadata))
    assert clf.metadata["digit_threshold"] == 0.25

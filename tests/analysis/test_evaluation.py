"""The evaluation numbers agree with scikit-learn's and read well."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix

from skdigits import evaluate_predictions


def test_matches_scikit_learn(rng):
    y_true = rng.integers(0, 10, 500)
    y_pred = np.where(rng.random(500) < 0.8, y_true, rng.integers(0, 10, 500))
    ev = evaluate_predictions(y_true, y_pred, labels=np.arange(10))
    np.testing.assert_array_equal(ev.confusion, confusion_matrix(y_true, y_pred, labels=range(10)))
    assert ev.accuracy == accuracy_score(y_true, y_pred)
    assert ev.n_samples == 500


def test_most_confused_pairs_count_both_directions():
    y_true = [3, 3, 3, 8, 8, 4, 9, 1]
    y_pred = [8, 8, 3, 3, 8, 9, 9, 1]
    ev = evaluate_predictions(y_true, y_pred)
    assert ev.most_confused(2) == [(3, 8, 2, 1), (4, 9, 1, 0)]
    text = ev.format(title="test set")
    assert "3↔8:    3  (3→8 2, 8→3 1)" in text
    assert "accuracy: 0.5000 (4/8)" in text


def test_labels_missing_from_predictions_still_get_a_row():
    ev = evaluate_predictions([0, 1, 2], [0, 0, 0], labels=[0, 1, 2])
    assert ev.confusion.shape == (3, 3)
    assert ev.confusion[:, 0].tolist() == [1, 1, 1]

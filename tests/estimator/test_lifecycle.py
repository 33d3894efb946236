"""Every path of an estimator's life, as scikit-learn users take it.

warm_start, partial_fit, DataFrames and feature names, log-probabilities, sample
and class weights, pandas output from the scaler, and the readable repr.
"""

from __future__ import annotations

import numpy as np
import pytest

from skdigits import DigitClassifier, PixelScaler, export_onnx, make_pipeline

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def rows(small_mnist):
    """1,000 scaled training rows and 300 test rows: quick to fit for one or two epochs."""
    X, y, X_test, y_test = small_mnist
    scale = PixelScaler().fit(X)
    return scale.transform(X[:1000]), y[:1000], scale.transform(X_test[:300]), y_test[:300]


def test_warm_start_continues_and_keeps_every_method_working(rows, tmp_path, small_mnist):
    X, y, X_test, y_test = rows
    clf = DigitClassifier(epochs=1, warm_start=True, random_state=0).fit(X, y)
    model, first = clf.model_, clf.score(X_test, y_test)
    clf.fit(X, y)  # SciKeras 0.13 lost classes_ here: predict then raised TypeError
    assert clf.model_ is model  # the same net, trained on
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.predict(X_test).shape == (300,)
    assert clf.predict_proba(X_test).shape == (300, 10)
    assert clf.score(X_test, y_test) >= first - 0.02
    pipe = make_pipeline(epochs=1, warm_start=True, random_state=0)
    X_raw, y_raw, X_test_raw, _ = small_mnist
    pipe.fit(X_raw[:500], y_raw[:500]).fit(X_raw[:500], y_raw[:500])
    path = export_onnx(pipe, tmp_path / "warm.onnx", check_samples=X_test_raw[:100])
    assert path.stat().st_size > 0


def test_warm_start_refuses_labels_the_first_fit_never_saw(rows):
    X, y, _, _ = rows
    keep = y < 9
    clf = DigitClassifier(epochs=1, warm_start=True).fit(X[keep], y[keep])
    with pytest.raises(ValueError, match=r"labels \[9\].*first fit"):
        clf.fit(X, y)


def test_partial_fit_trains_one_epoch_a_call_with_classes_fixed_first(rows):
    X, y, X_test, y_test = rows
    clf = DigitClassifier(random_state=0)
    with pytest.raises(ValueError, match="`classes` must be passed on the first call"):
        clf.partial_fit(X[:100], y[:100])
    clf.partial_fit(X[:500], y[:500], classes=np.arange(10))
    assert len(clf.history_["loss"]) == 1
    only_ones = y[500:] == 1  # a later batch may hold a subset of the classes
    clf.partial_fit(X[500:][only_ones], y[500:][only_ones])
    clf.partial_fit(X[500:], y[500:])
    assert len(clf.history_["loss"]) == 3
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.score(X_test, y_test) > 0.6
    with pytest.raises(ValueError, match="not the same as on the first call"):
        clf.partial_fit(X[:10], y[:10], classes=np.arange(5))
    with pytest.raises(ValueError, match=r"labels \[42\]"):
        clf.partial_fit(X[:2], np.array([1, 42]))


def test_dataframes_set_feature_names_and_mismatches_are_caught(rows, small_mnist):
    X, y, X_test, _ = rows
    columns = [f"px{i}" for i in range(X.shape[1])]
    clf = DigitClassifier(epochs=1, random_state=0).fit(pd.DataFrame(X, columns=columns), y)
    np.testing.assert_array_equal(clf.feature_names_in_, columns)
    clf.predict(pd.DataFrame(X_test, columns=columns))  # same names: fine
    renamed = pd.DataFrame(X_test, columns=[f"pixel{i}" for i in range(X.shape[1])])
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(renamed)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X_test)
    # The pipeline takes its names from its first step, the scaler.
    X_raw, y_raw, _, _ = small_mnist
    frame = pd.DataFrame(X_raw[:300].reshape(300, -1), columns=columns)
    pipe = make_pipeline(epochs=1, random_state=0).fit(frame, y_raw[:300])
    np.testing.assert_array_equal(pipe.feature_names_in_, columns)
    with pytest.raises(ValueError, match="feature names should match"):
        pipe.predict(frame.set_axis([f"c{i}" for i in range(784)], axis=1))


def test_predict_log_proba_is_the_log_of_predict_proba(fitted_pipeline, small_mnist):
    _, _, X_test, _ = small_mnist
    with np.errstate(divide="ignore"):
        expected = np.log(fitted_pipeline.predict_proba(X_test[:50]))
    np.testing.assert_allclose(fitted_pipeline.predict_log_proba(X_test[:50]), expected)


@pytest.mark.parametrize("how", ["sample_weight", "class_weight"])
def test_weights_steer_what_the_net_learns(rows, how):
    """Weight zero on every 3 leaves the net no reason to predict 3."""
    X, y, X_test, _ = rows
    plain = DigitClassifier(epochs=2, random_state=0).fit(X, y)
    if how == "sample_weight":
        weighted = DigitClassifier(epochs=2, random_state=0).fit(
            X, y, sample_weight=np.where(y == 3, 0.0, 1.0)
        )
    else:
        weights = {label: (0.0 if label == 3 else 1.0) for label in range(10)}
        weighted = DigitClassifier(epochs=2, random_state=0, class_weight=weights).fit(X, y)
    assert (plain.predict(X_test) == 3).sum() >= 10
    assert (weighted.predict(X_test) == 3).sum() <= 3


def test_scaler_output_as_pandas_has_pixel_names(small_mnist):
    X, _, _, _ = small_mnist
    out = PixelScaler().set_output(transform="pandas").fit_transform(X[:5])
    assert isinstance(out, pd.DataFrame)
    assert out.shape == (5, 784)
    assert list(out.columns[:2]) == ["x0", "x1"]
    assert float(out.to_numpy().max()) <= 1.0


def test_repr_shows_only_what_differs_from_the_defaults():
    assert repr(DigitClassifier()) == "DigitClassifier()"
    assert repr(make_pipeline()) == (
        "Pipeline(steps=[('scale', PixelScaler()), ('clf', DigitClassifier())])"
    )
    text = repr(make_pipeline(preset="seed", epochs=3))
    assert "epochs=3" in text
    assert "output_activation='sigmoid'" in text
    assert "batch_size" not in text  # the seed recipe's 32 is the default
    assert "optimizer__beta_1=0.8" in repr(DigitClassifier(optimizer__beta_1=0.8))
    html = make_pipeline(epochs=3)._repr_html_()  # what a notebook shows
    assert "DigitClassifier" in html
    assert "epochs" in html


# Run in a fresh interpreter: TensorFlow warns at most twice per traced function's
# code in a process, so earlier tests could have used up the warnings this looks for.
_SEARCH_LOG = r"""
import json, logging
import numpy as np
import tensorflow as tf
from sklearn.model_selection import GridSearchCV, cross_val_score
from skdigits import make_pipeline

records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger("tensorflow").addHandler(Keep())

rng = np.random.default_rng(0)
X = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
y = np.arange(300) % 10
pipe = make_pipeline(epochs=1, hidden_units=8, random_state=0)
cross_val_score(pipe, X, y, cv=5)
GridSearchCV(pipe, {"clf__hidden_units": [8, 16]}, cv=2).fit(X, y)
during = list(records)
filters = list(logging.getLogger("tensorflow").filters)

@tf.function
def own(x):
    return x + 1

for n in range(1, 8):
    own(tf.zeros((n,)))
print(json.dumps({"during": during, "filters": len(filters), "after": records[len(during):]}))
"""


def test_searches_log_no_retracing_warning_and_own_functions_still_do():
    """cross_val_score (5 folds) and a GridSearchCV of 2 candidates: no "retracing" log.

    Each new model's training, evaluation and prediction functions are traced once;
    TensorFlow used to count those first traces of distinct models as one function
    retracing, and logged three or four long warnings. A function of the caller's
    own that does retrace is still reported: nothing is silenced beyond the fits.
    """
    import json
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _SEARCH_LOG], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [m for m in report["during"] if "retracing" in m], report["during"]
    assert report["filters"] == 0, "a filter outlived the fits"
    assert any("own" in m and "retracing" in m for m in report["after"]), report["after"]

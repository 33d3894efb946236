"""Temperature scaling: fitted on the validation split, kept by clone, grids, files and ONNX."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skdigits import load_model, make_pipeline, save_model
from skdigits.estimator._calibration import apply_temperature, calibration_logits
from skdigits.model_io import ParameterError
from skdigits.runtime import digit_score_from_proba


@pytest.fixture(scope="module")
def uncalibrated(small_mnist):
    """The shared fixture's fit again, with calibration=None."""
    X, y, _, _ = small_mnist
    return make_pipeline(epochs=3, random_state=0, calibration=None).fit(X, y)


def _nll(clf, X_val, y_val, temperature):
    proba = apply_temperature(clf._net_outputs(X_val), temperature).astype(np.float64)
    return -np.mean(np.log(proba[np.arange(len(y_val)), y_val]))


def test_the_temperature_is_fitted_on_the_validation_split(fitted_pipeline, small_mnist):
    X, y, _, _ = small_mnist
    clf = fitted_pipeline[-1]
    assert clf.calibration == "temperature"
    assert clf.temperature_ != 1.0
    assert 0.01 <= clf.temperature_ <= 100
    # Keras holds out the last 20 %: T minimises their negative log-likelihood.
    start = int(len(X) * 0.8)
    X_val, y_val = fitted_pipeline[0].transform(X[start:]), y[start:]
    best = _nll(clf, X_val, y_val, clf.temperature_)
    for other in (1.0, clf.temperature_ * 1.05, clf.temperature_ / 1.05):
        assert best < _nll(clf, X_val, y_val, other)


def test_labels_are_those_of_the_uncalibrated_net(fitted_pipeline, uncalibrated, small_mnist):
    _, _, X_test, _ = small_mnist
    assert uncalibrated[-1].temperature_ == 1.0
    np.testing.assert_array_equal(fitted_pipeline.predict(X_test), uncalibrated.predict(X_test))
    calibrated = fitted_pipeline.predict_proba(X_test)
    plain = uncalibrated.predict_proba(X_test)
    assert np.abs(calibrated - plain).max() > 0.01  # the probabilities did move
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(calibrated.argmax(axis=1), plain.argmax(axis=1))
    # softmax(log(p) / T) of the same net's probabilities
    outputs = uncalibrated[-1]._net_outputs(uncalibrated[0].transform(X_test))
    expected = apply_temperature(outputs, fitted_pipeline[-1].temperature_)
    np.testing.assert_allclose(calibrated, expected, atol=1e-6)


def test_no_validation_split_means_no_temperature(small_mnist):
    X, y, X_test, _ = small_mnist
    pipe = make_pipeline(epochs=1, validation_split=0.0, random_state=0).fit(X[:500], y[:500])
    assert pipe[-1].temperature_ == 1.0
    outputs = pipe[-1]._net_outputs(pipe[0].transform(X_test[:50]))
    np.testing.assert_array_equal(
        pipe.predict_proba(X_test[:50]), outputs / outputs.sum(axis=1, keepdims=True)
    )


def test_a_softmax_net_is_tempered_in_its_logits():
    logits = np.array([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]], dtype=np.float32)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    tempered = np.exp(logits / 2.5) / np.exp(logits / 2.5).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(apply_temperature(proba, 2.5), tempered, atol=1e-6)
    shift = calibration_logits(proba) - logits  # the logits, less a constant per row
    np.testing.assert_allclose(shift, shift[:, :1].repeat(3, axis=1), atol=1e-5)


def test_calibration_is_a_parameter_of_clone_and_grids(small_mnist):
    X, y, _, _ = small_mnist
    pipe = make_pipeline(epochs=1, random_state=0, calibration=None)
    assert clone(pipe).get_params()["clf__calibration"] is None
    grid = GridSearchCV(pipe, {"clf__calibration": ["temperature", None]}, cv=2)
    grid.fit(X[:600], y[:600])
    assert grid.cv_results_["param_clf__calibration"].tolist() == ["temperature", None]
    best = grid.best_estimator_[-1]
    assert (best.temperature_ == 1.0) == (best.calibration is None)
    with pytest.raises(
        ParameterError, match=r"`calibration` must be 'temperature' or None, got 'platt'"
    ):
        make_pipeline(calibration="platt").fit(X[:100], y[:100])


def test_a_saved_model_keeps_its_temperature(fitted_pipeline, small_mnist, tmp_path):
    _, _, X_test, _ = small_mnist
    path = save_model(fitted_pipeline, tmp_path / "m.skdigits")
    loaded = load_model(path)
    assert loaded[-1].temperature_ == fitted_pipeline[-1].temperature_
    assert loaded[-1].calibration == "temperature"
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), fitted_pipeline.predict_proba(X_test)
    )


def test_onnx_carries_the_temperature_before_its_softmax(
    exported_model, fitted_pipeline, small_mnist
):
    onnx = pytest.importorskip("onnx")
    from skdigits.export import read_metadata
    from skdigits.runtime import OnnxDigitClassifier

    _, _, X_test, _ = small_mnist
    meta = read_metadata(exported_model)
    assert meta["temperature"] == fitted_pipeline[-1].temperature_
    assert meta["parity_max_abs_diff"] <= 1e-5
    graph = onnx.load(exported_model).graph
    producer = {out: node for node in graph.node for out in node.output}
    last = producer[graph.output[1].name]  # probabilities, through skl2onnx's Identity nodes
    while last.op_type == "Identity":
        last = producer[last.input[0]]
    mul = producer[last.input[0]]
    assert [last.op_type, mul.op_type, producer[mul.input[0]].op_type] == ["Softmax", "Mul", "Log"]
    model = OnnxDigitClassifier(exported_model)
    np.testing.assert_allclose(
        model.predict_proba(X_test), fitted_pipeline.predict_proba(X_test), atol=1e-5
    )
    np.testing.assert_array_equal(model.predict(X_test), fitted_pipeline.predict(X_test))


def test_an_uncalibrated_export_has_no_temperature_nodes(uncalibrated, small_mnist, tmp_path):
    onnx = pytest.importorskip("onnx")
    from skdigits.export import export_onnx

    _, _, X_test, _ = small_mnist
    path = export_onnx(uncalibrated, tmp_path / "m.onnx", check_samples=X_test[:100])
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert "Log" not in ops


def test_distillation_learns_from_the_teachers_own_probabilities(fitted_pipeline, small_mnist):
    X, y, X_test, _ = small_mnist
    teacher = fitted_pipeline[-1]
    students = []
    for temperature in (teacher.temperature_, 1.0):
        flat = clone(teacher)
        flat.__dict__.update({k: v for k, v in teacher.__dict__.items() if k.endswith("_")})
        flat.temperature_ = temperature
        student = make_pipeline(epochs=1, random_state=0, teacher=flat)
        students.append(student.fit(X[:600], y[:600]).predict_proba(X_test[:100]))
    np.testing.assert_array_equal(*students)
    assert math.isfinite(teacher.temperature_)


def test_calibrated_classifier_cv_around_a_fitted_pipeline_exports(
    fitted_pipeline, small_mnist, tmp_path
):
    pytest.importorskip("onnx")
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from skdigits.export import export_onnx, read_metadata
    from skdigits.runtime import OnnxDigitClassifier

    _, _, X_test, y_test = small_mnist
    calibrated = CalibratedClassifierCV(FrozenEstimator(fitted_pipeline))
    calibrated.fit(X_test[:500], y_test[:500])
    path = export_onnx(calibrated, tmp_path / "c.onnx", check_samples=X_test[500:])
    assert read_metadata(path)["parity_max_abs_diff"] <= 1e-5
    model = OnnxDigitClassifier(path)
    np.testing.assert_array_equal(model.predict(X_test[500:]), calibrated.predict(X_test[500:]))
    np.testing.assert_allclose(
        model.predict_proba(X_test[500:]), calibrated.predict_proba(X_test[500:]), atol=1e-5
    )
    # Its own probabilities give the score; no fold's threshold fits them.
    _, proba, score = model.predict_with_score(X_test[500:])
    np.testing.assert_array_equal(score, digit_score_from_proba(proba))
    assert model.digit_threshold_ == 0.0


def test_calibrated_classifier_cv_with_folds_fits_and_exports(small_mnist, tmp_path):
    pytest.importorskip("onnx")
    from sklearn.calibration import CalibratedClassifierCV

    from skdigits.export import ExportError, export_onnx, read_metadata

    X, y, X_test, _ = small_mnist
    calibrated = CalibratedClassifierCV(make_pipeline(epochs=1, random_state=0), cv=3)
    calibrated.fit(X[:900], y[:900])
    assert len(calibrated.calibrated_classifiers_) == 3
    path = export_onnx(calibrated, tmp_path / "c.onnx", check_samples=X_test[:300])
    assert read_metadata(path)["parity_max_abs_diff"] <= 1e-5
    calibrated.method = "isotonic"  # fitted as sigmoid; refused before any conversion
    with pytest.raises(ExportError, match=r"method='isotonic'.* use method='sigmoid'"):
        export_onnx(calibrated, tmp_path / "i.onnx")
    assert not (tmp_path / "i.onnx").exists()


def test_other_calibrated_models_keep_skl2onnx_s_converter(rng):
    pytest.importorskip("onnx")
    from skl2onnx import to_onnx
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    from skdigits.export import register_converters

    register_converters()
    X = rng.random((60, 4)).astype(np.float32)
    model = CalibratedClassifierCV(LogisticRegression(), cv=2).fit(X, np.arange(60) % 2)
    onx = to_onnx(model, X[:1], options={"zipmap": False})
    assert "ArrayFeatureExtractor" in {node.op_type for node in onx.graph.node}


def test_an_ensemble_gets_one_temperature_on_its_average(small_mnist, tmp_path):
    pytest.importorskip("onnx")
    from skdigits.export import export_onnx, read_metadata

    X, y, X_test, _ = small_mnist
    pipe = make_pipeline(ensemble_size=2, hidden_units=32, epochs=2, random_state=0)
    pipe.fit(X[:1500], y[:1500])
    clf = pipe[-1]
    assert clf.temperature_ != 1.0
    averaged = clf._net_outputs(pipe[0].transform(X_test))  # the Average layer's output
    np.testing.assert_allclose(
        pipe.predict_proba(X_test), apply_temperature(averaged, clf.temperature_), atol=1e-6
    )
    path = export_onnx(pipe, tmp_path / "e.onnx", check_samples=X_test[:300])
    assert read_metadata(path)["parity_max_abs_diff"] <= 1e-5

"""ensemble_size: several nets in one model, each trained on its own loss, one ONNX graph."""

from __future__ import annotations

import pickle

import numpy as np
import onnx
import pytest
from sklearn.base import clone

from skdigits import DigitClassifier, load_model, make_pipeline, save_model
from skdigits.estimator._calibration import apply_temperature
from skdigits.export import export_onnx, read_metadata
from skdigits.nn._ensemble import is_ensemble, members
from skdigits.runtime._predictor import OnnxDigitClassifier

SMALL_CNN = {"architecture": "cnn", "conv_filters": (8, 16), "dense_units": 32, "augment": 0.5}


@pytest.fixture(scope="module")
def ensemble(small_mnist):
    """Three small CNNs with augmentation, fitted together on 1,500 images."""
    X, y, _, _ = small_mnist
    pipe = make_pipeline(
        ensemble_size=3,
        epochs=3,
        batch_size=64,
        optimizer__learning_rate=3e-3,
        random_state=0,
        **SMALL_CNN,
    )
    return pipe.fit(X[:1500], y[:1500])


def test_the_model_averages_its_members_which_differ(ensemble, small_mnist):
    _, _, X_test, y_test = small_mnist
    model = ensemble[-1].model_
    assert is_ensemble(model)
    nets = members(model)
    assert [net.name for net in nets] == ["member1", "member2", "member3"]
    x = ensemble[:-1].transform(X_test[:300]).astype(np.float32)
    each = [np.asarray(net.predict_on_batch(x)) for net in nets]
    assert not np.allclose(each[0], each[1])  # each from its own seeds
    average = np.mean(each, 0)
    np.testing.assert_allclose(np.asarray(model.predict_on_batch(x)), average, atol=1e-6)
    # predict_proba is that average, calibrated by one temperature
    calibrated = apply_temperature(average, ensemble[-1].temperature_)
    np.testing.assert_allclose(ensemble.predict_proba(X_test[:300]), calibrated, atol=1e-5)
    assert ensemble.score(X_test, y_test) > 0.7


def test_each_member_learns_on_its_own(ensemble, small_mnist):
    """Trained on their own losses, not the average's, each member is a classifier."""
    _, _, X_test, y_test = small_mnist
    x = ensemble[:-1].transform(X_test).astype(np.float32)
    for net in members(ensemble[-1].model_):
        accuracy = float(np.mean(np.asarray(net.predict_on_batch(x)).argmax(1) == y_test))
        assert accuracy > 0.6, net.name


def test_the_ensemble_exports_as_one_graph_with_the_pipelines_probabilities(
    ensemble, small_mnist, tmp_path
):
    _, _, X_test, _ = small_mnist
    path = export_onnx(ensemble, tmp_path / "ensemble.onnx", check_samples=X_test[:200])
    assert read_metadata(path)["parity_max_abs_diff"] <= 1e-5
    ops = [node.op_type for node in onnx.load(path).graph.node]
    assert ops.count("Conv") == 2 * 3  # every member's convolutions, in one graph
    assert not {op for op in ops if op.startswith("Random")}  # no augmentation
    onnx_proba = OnnxDigitClassifier(path).predict_proba(X_test[:500])
    np.testing.assert_allclose(onnx_proba, ensemble.predict_proba(X_test[:500]), atol=1e-5)


def test_the_ensemble_survives_clone_pickle_and_save(ensemble, small_mnist, tmp_path):
    _, _, X_test, _ = small_mnist
    assert clone(ensemble)[-1].get_params()["ensemble_size"] == 3
    expected = ensemble.predict_proba(X_test[:100])
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(ensemble)).predict_proba(X_test[:100]), expected
    )
    save_model(ensemble, tmp_path / "ensemble.skdigits")
    loaded = load_model(tmp_path / "ensemble.skdigits")
    assert len(members(loaded[-1].model_)) == 3
    np.testing.assert_allclose(loaded.predict_proba(X_test[:100]), expected, atol=1e-6)


def test_an_ensemble_can_teach_but_not_be_distilled_into(ensemble, small_mnist):
    X, y, X_test, y_test = small_mnist
    student = make_pipeline(teacher=ensemble, epochs=2, random_state=0).fit(X[:1500], y[:1500])
    assert not is_ensemble(student[-1].model_)
    assert student.score(X_test, y_test) > 0.7
    with pytest.raises(ValueError, match="`teacher` distils into a single net"):
        DigitClassifier(ensemble_size=2, teacher="fast").fit(
            np.zeros((20, 784)), np.arange(20) % 10
        )


@pytest.mark.parametrize("value", [0, 1.5, "3"])
def test_ensemble_size_is_validated_naming_the_parameter(rng, value):
    X, y = rng.random((50, 784)), np.arange(50) % 10
    with pytest.raises(ValueError, match="`ensemble_size` must be a positive integer"):
        DigitClassifier(ensemble_size=value).fit(X, y)

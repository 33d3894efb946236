"""Presets, the CNN, augmentation and int8: each trains, exports and passes its gate."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from sklearn.base import clone

from skdigits import DigitClassifier, load_model, make_pipeline, save_model
from skdigits.classifier import PRESETS
from skdigits.export import export_onnx, read_metadata, to_onnx_model
from skdigits.export.quantize import (
    AccuracyGateError,
    check_accuracy,
    export_int8_onnx,
    onnx_accuracy,
    quantize_int8,
)

#: ONNX operators that would mean augmentation leaked into the inference graph.
RANDOM_OPS = {"RandomUniform", "RandomUniformLike", "RandomNormal", "RandomNormalLike"}
AUGMENT_OPS = RANDOM_OPS | {"Multinomial", "Bernoulli", "GridSample", "AffineGrid"}


@pytest.fixture(scope="module")
def cnn_pipeline(small_mnist):
    """The CNN with augmentation, fitted once on 2,000 images (2 epochs)."""
    X, y, _, _ = small_mnist
    params = dict(architecture="cnn", augment=1.0, epochs=2, batch_size=64, random_state=0)
    return make_pipeline(**params).fit(X[:2000], y[:2000])


def test_presets_resolve_at_fit_time_and_leave_parameters_untouched(small_mnist):
    clf = DigitClassifier(preset="tuned", batch_size=32)
    before = clf.get_params()
    assert clf.training_settings()["batch_size"] == PRESETS["tuned"]["mlp"]["batch_size"]
    X, y, _, _ = small_mnist
    make_pipeline(preset="tuned", random_state=0).fit(X[:1000], y[:1000])
    clone(clf)  # sklearn's clone checks that __init__ stored every parameter as given
    assert clf.get_params() == before
    assert DigitClassifier().training_settings()["architecture"] == "mlp"  # reference stays


def test_seed_preset_is_the_original_recipe():
    settings = DigitClassifier(preset="seed").training_settings()
    assert settings["output_activation"] == "sigmoid"
    assert (settings["batch_size"], settings["epochs"]) == (32, 10)
    assert settings["optimizer__learning_rate"] == 0.001
    assert settings["lr_schedule"] == "constant"
    assert not settings["early_stopping"]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"preset": "fast"}, "`preset`"),
        ({"architecture": "rnn"}, "`architecture`"),
        ({"augment": -1.0}, "`augment`"),
        ({"augment": "yes"}, "`augment`"),
        ({"lr_schedule": "step"}, "`lr_schedule`"),
        ({"patience": 0}, "`patience`"),
        ({"augment": 0.5, "augmentations": ("flip",)}, "`augmentations`"),
        ({"augment": 0.5, "augmentations": "shift+flip"}, "`augmentations`"),
        ({"augment": 0.5, "augmentations": ("shift", 3)}, "`augmentations`"),
        ({"augment": 0.5, "augmentations": ()}, "`augmentations`"),
        ({"label_smoothing": 1.0}, "`label_smoothing`"),
        ({"label_smoothing": "a bit"}, "`label_smoothing`"),
        ({"early_stopping": True, "validation_split": 0.0}, "validation_split"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter(small_mnist, params, match):
    X, y, _, _ = small_mnist
    with pytest.raises(ValueError, match=match):
        DigitClassifier(**params).fit(X[:50].reshape(50, -1) / 255.0, y[:50])


@pytest.mark.parametrize("preset", ["seed", "tuned"])
def test_each_mlp_preset_trains_exports_and_passes_parity(small_mnist, tmp_path, preset):
    X, y, X_test, y_test = small_mnist
    pipe = make_pipeline(preset=preset, random_state=0).fit(X[:1500], y[:1500])
    clf = pipe[-1]
    assert clf.model_.get_layer("output").activation.__name__ == (
        "sigmoid" if preset == "seed" else "softmax"
    )
    kinds = [type(layer).__name__ for layer in clf.model_.layers]
    if preset == "tuned":  # early stopping restored the best epoch's weights
        assert len(clf.history_["loss"]) <= PRESETS["tuned"]["mlp"]["epochs"]
        assert "RandomTranslation" in kinds  # shifts only: the cheap augmentation
        assert not {"RandomRotation", "RandomZoom"} & set(kinds)
    else:
        assert not [kind for kind in kinds if kind.startswith("Random")]
    assert [kind for kind in kinds if kind == "Dense"] == ["Dense", "Dense"]  # 784-100-10
    assert clf.model_.get_layer("hidden").units == 100
    assert pipe.score(X_test, y_test) > 0.85
    path = export_onnx(pipe, tmp_path / "m.onnx", check_samples=X_test[:200])
    assert read_metadata(path)["parity_max_abs_diff"] <= 1e-5
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert not ops & AUGMENT_OPS, ops & AUGMENT_OPS


def test_augmentations_chooses_the_transformations(small_mnist):
    X, y, _, _ = small_mnist
    clf = DigitClassifier(augment=1.0, augmentations="zoom+shift", epochs=1)
    clf.fit(X[:100].reshape(100, -1) / 255.0, y[:100])
    kinds = [type(layer).__name__ for layer in clf.model_.layers]
    assert [kind for kind in kinds if kind.startswith("Random")] == [
        "RandomTranslation",
        "RandomZoom",
    ]


def test_tuned_schedule_decays_the_learning_rate(small_mnist):
    X, y, _, _ = small_mnist
    pipe = make_pipeline(
        lr_schedule="cosine", optimizer__learning_rate=0.01, epochs=2, random_state=0
    ).fit(X[:500], y[:500])
    assert float(pipe[-1].model_.optimizer.learning_rate.numpy()) < 1e-4  # cosine → 0


def test_cnn_with_augmentation_learns_and_its_onnx_has_no_augmentation(
    cnn_pipeline, small_mnist, tmp_path
):
    _, _, X_test, y_test = small_mnist
    kinds = [type(layer).__name__ for layer in cnn_pipeline[-1].model_.layers]
    assert kinds[:4] == ["Reshape", "RandomTranslation", "RandomRotation", "RandomZoom"]
    assert "Conv2D" in kinds
    assert cnn_pipeline.score(X_test, y_test) > 0.8  # 2 epochs on 1,600 augmented images
    # Augmentation is off at inference: repeated predictions are identical.
    np.testing.assert_array_equal(
        cnn_pipeline.predict_proba(X_test[:50]), cnn_pipeline.predict_proba(X_test[:50])
    )
    path = export_onnx(cnn_pipeline, tmp_path / "cnn.onnx", check_samples=X_test[:300])
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert "Conv" in ops
    assert not ops & AUGMENT_OPS, ops & AUGMENT_OPS
    assert read_metadata(path)["parity_max_abs_diff"] <= 1e-5


def test_cnn_with_augmentation_survives_the_safe_format(cnn_pipeline, small_mnist, tmp_path):
    _, _, X_test, _ = small_mnist
    save_model(cnn_pipeline, tmp_path / "cnn.skdigits")
    loaded = load_model(tmp_path / "cnn.skdigits")  # safe_mode=True inside
    assert loaded[-1].get_params()["architecture"] == "cnn"
    assert loaded[-1].get_params()["augment"] == 1.0
    np.testing.assert_allclose(
        loaded.predict_proba(X_test[:100]), cnn_pipeline.predict_proba(X_test[:100]), atol=1e-6
    )


@pytest.mark.parametrize("method", ["dynamic", "static"])
def test_int8_export_reports_its_accuracy_cost(fitted_pipeline, small_mnist, tmp_path, method):
    X, _, X_test, y_test = small_mnist
    path = tmp_path / "int8.onnx"
    report = export_int8_onnx(
        fitted_pipeline,
        path,
        test_images=X_test,
        test_labels=y_test,
        method=method,
        calibration_images=X[:300],
        max_accuracy_loss=0.02,
    )
    assert report.passed
    assert report.n_samples == len(y_test)
    meta = read_metadata(path)
    assert meta["quantization"] == "int8"
    assert meta["quantization_method"] == method
    assert float(meta["int8_test_accuracy"]) == pytest.approx(report.int8_accuracy)
    assert onnx_accuracy(path.read_bytes(), X_test, y_test) == pytest.approx(report.int8_accuracy)
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLinear", "QuantizeLinear"}


def test_accuracy_gate_refuses_a_model_that_loses_too_much(fitted_pipeline, small_mnist):
    X, y, X_test, y_test = small_mnist
    good = to_onnx_model(fitted_pipeline)
    weak = to_onnx_model(make_pipeline(epochs=1, random_state=0).fit(X[:30], y[:30]))
    with pytest.raises(AccuracyGateError, match="not written"):
        check_accuracy(good, weak, X_test, y_test, max_accuracy_loss=0.003)
    assert quantize_int8(good).graph.node  # dynamic needs no calibration images


def test_exported_metadata_names_what_fit_used(tmp_path, small_mnist):
    """A preset overrides parameters at fit time; the ONNX metadata must say so."""
    from skdigits.export import export_onnx, read_metadata

    X, y, X_test, _ = small_mnist
    pipe = make_pipeline(preset="seed", epochs=1, random_state=0).fit(X[:300], y[:300])
    path = export_onnx(pipe, tmp_path / "seed.onnx", check_samples=X_test[:50])
    meta = read_metadata(path)
    assert meta["output_activation"] == "sigmoid"  # the seed recipe's, not the default
    assert meta["architecture"] == "mlp"
    assert meta["training_settings"]["epochs"] == 10


def test_label_smoothing_trains_on_soft_targets_and_saves(small_mnist, tmp_path):
    X, y, X_test, y_test = small_mnist
    pipe = make_pipeline(label_smoothing=0.2, epochs=3, random_state=0).fit(X[:1000], y[:1000])
    loss = pipe[-1].model_.loss
    assert type(loss).__name__ == "CategoricalCrossentropy"
    assert loss.get_config()["label_smoothing"] == pytest.approx(0.2)
    assert pipe.score(X_test, y_test) > 0.8
    assert set(pipe.predict(X_test[:200])) <= set(range(10))
    # Smoothed targets make the net less sure of itself than plain one-hot ones.
    plain = make_pipeline(epochs=3, random_state=0).fit(X[:1000], y[:1000])
    assert (
        pipe.predict_proba(X_test).max(axis=1).mean()
        < plain.predict_proba(X_test).max(axis=1).mean()
    )
    save_model(pipe, tmp_path / "ls.skdigits")
    loaded = load_model(tmp_path / "ls.skdigits")
    np.testing.assert_array_equal(loaded.predict(X_test[:300]), pipe.predict(X_test[:300]))


def test_label_smoothing_refuses_a_loss_it_cannot_smooth(small_mnist):
    X, y, _, _ = small_mnist
    clf = DigitClassifier(label_smoothing=0.1, loss="mse", epochs=1)
    with pytest.raises(ValueError, match="default loss only"):
        clf.fit(X[:50].reshape(50, -1) / 255.0, y[:50])


@pytest.mark.slow
def test_tuned_preset_on_full_mnist_reaches_98_percent(mnist):
    """The tuned preset on all 60,000 images (80/20 split), same 784-100-10 net.

    Measured here: 98.45 / 98.48 / 98.53 % for random_state 0 / 1 / 2, each
    fit faster than the seed recipe's; one seed keeps the suite short.
    """
    from skdigits.training import fit_and_evaluate

    X_train, y_train, X_test, y_test = mnist
    pipe = make_pipeline(preset="tuned", random_state=1)
    result = fit_and_evaluate(pipe, X_train, y_train, X_test, y_test)
    print(result.format())
    assert result.train.n_samples == 48_000
    assert pipe[-1].model_.get_layer("hidden").units == 100
    assert result.test.accuracy >= 0.98

"""Presets, the CNN, augmentation and int8: each trains, exports and passes its gate."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skdigits import DigitClassifier, load_model, make_pipeline, save_model
from skdigits.estimator._presets import PRESETS, preset_params
from skdigits.export import export_onnx, read_metadata, to_onnx_model
from skdigits.export.quantize import (
    AccuracyGateError,
    check_accuracy,
    export_int8_onnx,
    onnx_accuracy,
    quantize_int8,
)
from skdigits.nn._ensemble import members

#: ONNX operators that would mean augmentation leaked into the inference graph.
RANDOM_OPS = {"RandomUniform", "RandomUniformLike", "RandomNormal", "RandomNormalLike"}
AUGMENT_OPS = RANDOM_OPS | {"Multinomial", "Bernoulli", "GridSample", "AffineGrid"}


@pytest.fixture(scope="module")
def cnn_pipeline(small_mnist):
    """The CNN with augmentation, fitted once on 2,000 images (2 epochs)."""
    X, y, _, _ = small_mnist
    params = dict(architecture="cnn", augment=1.0, epochs=2, batch_size=64, random_state=0)
    return make_pipeline(**params).fit(X[:2000], y[:2000])


def test_a_preset_expands_into_ordinary_parameters_and_explicit_ones_win():
    pipe = make_pipeline(preset="tuned", batch_size=32, epochs=3)
    params = pipe.get_params()
    assert (params["clf__batch_size"], params["clf__epochs"]) == (32, 3)  # explicit wins
    assert params["clf__lr_schedule"] == "cosine"  # the rest is the preset's
    tuned_rate = PRESETS["tuned"]["mlp"]["optimizer__learning_rate"]
    assert params["clf__optimizer__learning_rate"] == tuned_rate
    assert "clf__preset" not in params  # not a parameter: nothing resolves behind get_params
    assert clone(pipe).get_params()["clf__epochs"] == 3
    assert make_pipeline(preset="tuned", architecture="cnn").get_params()["clf__batch_size"] == 128
    assert preset_params("tuned") == {"architecture": "mlp", **PRESETS["tuned"]["mlp"]}


def test_seed_preset_is_the_original_recipe():
    params = preset_params("seed")
    assert params["output_activation"] == "sigmoid"
    assert (params["batch_size"], params["epochs"]) == (32, 10)
    assert params["optimizer__learning_rate"] == 0.001
    assert params["lr_schedule"] == "constant"
    assert not params["early_stopping"]


@pytest.mark.parametrize(
    ("args", "match"), [(("nonexistent",), "`preset`"), (("seed", "rnn"), "`architecture`")]
)
def test_unknown_presets_are_refused_naming_the_parameter(args, match):
    with pytest.raises(ValueError, match=match):
        preset_params(*args)


def test_what_is_set_after_a_preset_is_what_trains(small_mnist):
    """set_params and a grid over any parameter change what is trained, preset or not."""
    X, y, _, _ = small_mnist
    X, y = X[:400], y[:400]
    pipe = make_pipeline(preset="tuned", random_state=0).set_params(clf__epochs=2)
    assert len(pipe.fit(X, y)[-1].history_["loss"]) == 2

    def epochs_trained(estimator, X, y):
        return len(estimator[-1].history_["loss"])

    search = GridSearchCV(
        make_pipeline(preset="tuned", random_state=0),
        {"clf__epochs": [1, 3]},
        cv=2,
        scoring=epochs_trained,
        refit=False,
    ).fit(X, y)
    assert search.cv_results_["mean_test_score"].tolist() == [1.0, 3.0]


@pytest.mark.parametrize(
    ("params", "match"),
    [
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
def test_bad_parameters_are_refused_naming_the_parameter(rng, params, match):
    X, y = rng.random((50, 784)), np.arange(50) % 10  # refused before any data is looked at
    with pytest.raises(ValueError, match=match):
        DigitClassifier(**params).fit(X, y)


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
    params = dict(lr_schedule="cosine", optimizer__learning_rate=0.01, epochs=2, random_state=0)
    exact = make_pipeline(**params, steps_per_execution=1).fit(X[:500], y[:500])
    assert float(exact[-1].model_.optimizer.learning_rate.numpy()) < 1e-4  # cosine → 0
    # With all 13 batches of an epoch in one call the rate steps once per call:
    # the second epoch runs at the rate of its first batch, half way down.
    coarse = make_pipeline(**params, steps_per_execution=128).fit(X[:500], y[:500])
    rate = float(coarse[-1].model_.optimizer.learning_rate.numpy())
    assert rate == pytest.approx(0.005, rel=1e-3)


def test_presets_with_a_schedule_step_it_every_batch():
    for preset, architecture in (("tuned", "mlp"), ("tuned", "cnn")):
        assert preset_params(preset, architecture)["steps_per_execution"] == 1


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
        allow_slower=True,  # the speed of a tiny model on a shared machine is noise
    )
    assert report.passed
    assert report.int8_bytes < 0.4 * report.fp32_bytes  # int8 weights: about a quarter
    assert report.n_samples == len(y_test)
    meta = read_metadata(path)
    assert meta["quantization"] == "int8"
    assert meta["quantization_method"] == method
    assert float(meta["int8_test_accuracy"]) == pytest.approx(report.int8_accuracy)
    assert onnx_accuracy(path.read_bytes(), X_test, y_test) == pytest.approx(report.int8_accuracy)
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLinear", "QuantizeLinear"}


def test_static_int8_is_qdq_with_per_channel_signed_weights(fitted_pipeline, small_mnist):
    X, _, _, _ = small_mnist
    int8 = quantize_int8(to_onnx_model(fitted_pipeline), calibration_images=X[:200])
    quantize = [n for n in int8.graph.node if n.op_type == "QuantizeLinear"]
    assert quantize
    assert any(n.op_type == "DequantizeLinear" for n in int8.graph.node)
    zero_points = {t.name: t for t in int8.graph.initializer}
    assert all(zero_points[n.input[2]].data_type == onnx.TensorProto.INT8 for n in quantize)
    weight_scales = [
        t for t in int8.graph.initializer if t.name.endswith("_scale") and len(t.dims) == 1
    ]
    assert weight_scales  # per-channel: one scale per output unit


def test_int8_slower_than_fp32_is_refused_unless_allowed(
    fitted_pipeline, small_mnist, tmp_path, monkeypatch
):
    import skdigits.export.quantize as quantize

    X, _, X_test, y_test = small_mnist
    real = quantize.check_accuracy

    def slow(*args, **kwargs):
        report = real(*args, **kwargs)
        return dataclasses.replace(report, int8_images_per_s=report.fp32_images_per_s / 2)

    monkeypatch.setattr(quantize, "check_accuracy", slow)
    common = dict(
        test_images=X_test, test_labels=y_test, calibration_images=X[:200], max_accuracy_loss=0.05
    )
    path = tmp_path / "slow.onnx"
    with pytest.raises(quantize.SlowerThanFp32Error, match="allow_slower"):
        export_int8_onnx(fitted_pipeline, path, **common)
    assert not path.exists()
    report = export_int8_onnx(fitted_pipeline, path, allow_slower=True, **common)
    assert report.speedup == pytest.approx(0.5)
    assert path.exists()


def test_accuracy_gate_refuses_a_model_that_loses_too_much(fitted_pipeline, small_mnist):
    X, y, X_test, y_test = small_mnist
    good = to_onnx_model(fitted_pipeline)
    weak = to_onnx_model(make_pipeline(epochs=1, random_state=0).fit(X[:30], y[:30]))
    with pytest.raises(AccuracyGateError, match="not written"):
        check_accuracy(good, weak, X_test, y_test, max_accuracy_loss=0.003)
    assert quantize_int8(good, method="dynamic").graph.node  # needs no calibration images


def test_exported_metadata_names_what_fit_used(tmp_path, small_mnist):
    """The metadata's hyper-parameters are the parameters: a preset's, then explicit ones."""
    from skdigits.export import export_onnx, read_metadata

    X, y, X_test, _ = small_mnist
    pipe = make_pipeline(preset="seed", epochs=1, random_state=0).fit(X[:300], y[:300])
    assert len(pipe[-1].history_["loss"]) == 1
    path = export_onnx(pipe, tmp_path / "seed.onnx", check_samples=X_test[:50])
    meta = read_metadata(path)
    assert meta["output_activation"] == "sigmoid"  # the seed recipe's, not the default
    assert meta["architecture"] == "mlp"
    assert meta["hyperparameters"]["epochs"] == 1
    assert "training_settings" not in meta


def test_label_smoothing_trains_on_soft_targets_and_saves(small_mnist, tmp_path):
    X, y, X_test, y_test = small_mnist
    # The net's own probabilities: a fitted temperature would undo the effect (its job).
    pipe = make_pipeline(label_smoothing=0.2, epochs=3, random_state=0, calibration=None)
    pipe.fit(X[:1000], y[:1000])
    loss = pipe[-1].model_.loss
    assert type(loss).__name__ == "CategoricalCrossentropy"
    assert loss.get_config()["label_smoothing"] == pytest.approx(0.2)
    assert pipe.score(X_test, y_test) > 0.8
    assert set(pipe.predict(X_test[:200])) <= set(range(10))
    # Smoothed targets make the net less sure of itself than plain one-hot ones.
    plain = make_pipeline(epochs=3, random_state=0, calibration=None).fit(X[:1000], y[:1000])
    assert (
        pipe.predict_proba(X_test).max(axis=1).mean()
        < plain.predict_proba(X_test).max(axis=1).mean()
    )
    save_model(pipe, tmp_path / "ls.skdigits")
    loaded = load_model(tmp_path / "ls.skdigits")
    np.testing.assert_array_equal(loaded.predict(X_test[:300]), pipe.predict(X_test[:300]))


def test_label_smoothing_refuses_a_loss_it_cannot_smooth(rng):
    clf = DigitClassifier(label_smoothing=0.1, loss="mse", epochs=1)
    with pytest.raises(ValueError, match="default loss only"):
        clf.fit(rng.random((50, 784)), np.arange(50) % 10)


@pytest.mark.slow
def test_tuned_preset_on_full_mnist_reaches_98_percent(mnist):
    """The tuned preset on all 60,000 images (80/20 split), same 784-100-10 net.

    Measured here: 98.45 / 98.48 / 98.53 % for random_state 0 / 1 / 2, each
    fit faster than the seed recipe's; one seed keeps the suite short.
    """
    from skdigits.analysis._training import fit_and_evaluate

    X_train, y_train, X_test, y_test = mnist
    pipe = make_pipeline(preset="tuned", random_state=1)
    result = fit_and_evaluate(pipe, X_train, y_train, X_test, y_test)
    print(result.format())
    assert result.train.n_samples == 48_000
    assert pipe[-1].model_.get_layer("hidden").units == 100
    assert result.test.accuracy >= 0.98


@pytest.fixture(scope="module")
def handwriting_cnn(small_mnist):
    """The robust preset's CNN (every augmentation), fitted once on 1,500 images."""
    X, y, _, _ = small_mnist
    params = {
        **preset_params("robust", "cnn"),
        "augmentations": "thickness+elastic+shear+shift+rotate+zoom",
        "epochs": 2,
        "batch_size": 64,
        "random_state": 0,
    }
    return make_pipeline(**params).fit(X[:1500], y[:1500])


def test_new_presets_are_ordinary_parameters_for_their_nets():
    assert preset_params("fast")["architecture"] == "cnn"  # no MLP recipe: its CNN
    assert preset_params("best")["architecture"] == "resnet"
    assert preset_params("best", "cnn")["ensemble_size"] == 3  # its CNN recipe stays
    assert preset_params("distilled")["architecture"] == "mlp"
    assert preset_params("distilled")["teacher"] == "fast"
    # The robust recipe's whole point: pen width, wobble and slant as well as placement.
    robust = preset_params("robust", "cnn")
    assert set(robust["augmentations"].split("+")) == {"thickness", "elastic", "shear", "shift"}
    assert robust["augment"] == 0.5
    fast = make_pipeline(preset="fast").get_params()
    assert fast["clf__lr_schedule"] == "onecycle"
    assert tuple(fast["clf__conv_filters"]) == PRESETS["fast"]["cnn"]["conv_filters"]
    with pytest.raises(ValueError, match="`architecture`"):
        preset_params("fast", "mlp")


@pytest.mark.parametrize("preset", ["fast", "best", "robust"])
def test_each_cnn_preset_trains_exports_and_survives_clone_and_save(small_mnist, tmp_path, preset):
    X, y, X_test, y_test = small_mnist
    # Enough steps for batch normalisation to settle on a small subset.
    pipe = make_pipeline(preset=preset, epochs=2, batch_size=64, random_state=0)
    assert clone(pipe)[-1].get_params() == pipe[-1].get_params()
    pipe.fit(X[:1500], y[:1500])
    nets = members(pipe[-1].model_)
    assert len(nets) == pipe[-1].ensemble_size
    if pipe[-1].architecture == "resnet":  # the best preset: stages as wide as conv_filters
        body = nets[-1].get_layer("residual")
        convs = [layer for layer in body.layers if type(layer).__name__ == "Conv2D"]
        assert sorted({c.filters for c in convs}) == sorted(pipe[-1].conv_filters)
        stages = len(pipe[-1].conv_filters)  # a stem, two per block, a shortcut per stage
        assert len(convs) == 1 + 2 * pipe[-1].residual_blocks * stages + stages
    else:
        convs = [layer for layer in nets[-1].layers if type(layer).__name__ == "Conv2D"]
        assert [c.filters for c in convs] == list(pipe[-1].conv_filters)
    assert pipe.score(X_test, y_test) > 0.5  # learning: 2 short epochs, chance is 0.1
    path = export_onnx(pipe, tmp_path / f"{preset}.onnx", check_samples=X_test[:200])
    assert read_metadata(path)["parity_max_abs_diff"] <= 1e-5
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert not ops & AUGMENT_OPS, ops & AUGMENT_OPS
    save_model(pipe, tmp_path / f"{preset}.skdigits")
    loaded = load_model(tmp_path / f"{preset}.skdigits")
    assert tuple(loaded[-1].get_params()["conv_filters"]) == tuple(pipe[-1].conv_filters)
    np.testing.assert_allclose(
        loaded.predict_proba(X_test[:100]), pipe.predict_proba(X_test[:100]), atol=1e-6
    )


def test_handwriting_augmentation_is_training_only_and_loads_safely(
    handwriting_cnn, small_mnist, tmp_path
):
    _, _, X_test, y_test = small_mnist
    names = [layer.name for layer in handwriting_cnn[-1].model_.layers]
    assert names[1:7] == [
        "augment_thickness",
        "augment_elastic",
        "augment_shear",
        "augment_shift",
        "augment_rotate",
        "augment_zoom",
    ]
    assert handwriting_cnn.score(X_test, y_test) > 0.7
    np.testing.assert_array_equal(
        handwriting_cnn.predict_proba(X_test[:50]), handwriting_cnn.predict_proba(X_test[:50])
    )
    path = export_onnx(handwriting_cnn, tmp_path / "robust.onnx", check_samples=X_test[:200])
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert not ops & AUGMENT_OPS, ops & AUGMENT_OPS
    assert "Floor" not in ops  # nor the bilinear resampling of the warps
    save_model(handwriting_cnn, tmp_path / "robust.skdigits")
    loaded = load_model(tmp_path / "robust.skdigits")  # safe_mode=True: registered layers
    kinds = [type(layer).__name__ for layer in loaded[-1].model_.layers]
    assert {"RandomStrokeWidth", "RandomElastic", "RandomSlant"} <= set(kinds)


def test_handwriting_augmentation_changes_images_only_while_training():
    from skdigits.nn._augment import RandomElastic, RandomSlant, RandomStrokeWidth

    rng = np.random.default_rng(0)
    images = np.zeros((4, 28, 28, 1), np.float32)
    images[:, 8:20, 12:16] = 1.0  # a vertical stroke four pixels wide
    images += rng.random(images.shape, dtype=np.float32) * 0.01
    every = {"probability": 1.0}
    layers = (
        RandomStrokeWidth(1.0, **every),
        RandomElastic(1.5, **every),
        RandomSlant(0.3, **every),
    )
    for layer in layers:
        np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
        out = np.asarray(layer(images, training=True))
        assert out.shape == images.shape
        assert not np.allclose(out, images)
        assert out.max() <= images.max() + 1e-5  # ink stays in range
    wider = np.asarray(RandomStrokeWidth(2.0, seed=1, **every)(images, training=True))
    ink = images.sum(axis=(1, 2, 3))
    assert (np.abs(wider.sum(axis=(1, 2, 3)) - ink) > 1).all()  # each pen changed width
    with pytest.raises(ValueError, match="`factor`"):
        RandomStrokeWidth(5.0)
    # By default half the images stay clean, so batch norm keeps clean statistics.
    many = np.repeat(images, 50, axis=0)
    out = np.asarray(RandomSlant(0.3, seed=0)(many, training=True))
    unchanged = np.all(np.isclose(out, many), axis=(1, 2, 3)).mean()
    assert 0.3 < unchanged < 0.7


def test_onecycle_warms_up_then_decays():
    from skdigits.nn._callbacks import LearningRateSchedule

    schedule = LearningRateSchedule(0.01, "onecycle")
    schedule.total_steps = 100
    rates = [schedule.rate(step) for step in range(101)]
    assert rates[0] == pytest.approx(0.0004)
    assert max(rates) == pytest.approx(0.01)
    assert int(np.argmax(rates)) == 20
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.slow
def test_best_preset_on_full_mnist_reaches_99_6_percent(mnist):
    """The best preset (two residual nets) on all 60,000 images (80/20 split), one seed.

    The target is the mean of three seeds (docs/benchmarks.md: 99.65 / 99.66 /
    99.62 % for random_state 0 / 1 / 2); one fit keeps the suite's time, and this
    one is random_state 1. Machines round differently (oneDNN's AVX2 and AVX-512
    kernels): two nets averaged keep the result clear of the target, where one
    net alone came within a test image or two of it.
    """
    X_train, y_train, X_test, y_test = mnist
    pipe = make_pipeline(preset="best", random_state=1).fit(X_train, y_train)
    assert (pipe[-1].architecture, pipe[-1].ensemble_size) == ("resnet", 2)
    assert pipe.score(X_test, y_test) >= 0.996


@pytest.mark.slow
@pytest.mark.xdist_group("fast_pipeline")
def test_fast_preset_on_full_mnist_reaches_99_4_percent(fast_pipeline, mnist):
    """The fast CNN on all 60,000 images (80/20 split), one seed.

    The target is the mean of three seeds (docs/benchmarks.md); one fit keeps the
    suite's time, and this one is random_state 1.
    """
    _, _, X_test, y_test = mnist
    assert fast_pipeline.score(X_test, y_test) >= 0.994

"""Distillation: the 784-100-10 student learns from a teacher; it is saved and exported alone."""

from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import onnx
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skdigits import DigitClassifier, load_model, make_pipeline, save_model
from skdigits.estimator._presets import PRESETS, preset_params
from skdigits.export import export_onnx, read_metadata


@pytest.fixture(scope="module")
def teacher(small_mnist):
    """A small CNN teacher, fitted once on 2,000 images."""
    X, y, _, _ = small_mnist
    params = {**preset_params("fast"), "epochs": 3, "batch_size": 64, "random_state": 0}
    return make_pipeline(**params).fit(X[:2000], y[:2000])


@pytest.fixture(scope="module")
def student(small_mnist, teacher):
    X, y, _, _ = small_mnist
    params = {
        **preset_params("distilled"),
        **{"teacher": teacher, "epochs": 4, "batch_size": 64, "random_state": 0},
    }
    return make_pipeline(**params).fit(X[:2000], y[:2000])


def test_the_student_is_the_reference_net_alone(student, teacher, small_mnist):
    _, _, X_test, y_test = small_mnist
    clf = student[-1]
    assert type(clf.model_).__name__ == "Sequential"  # not the training wrapper
    dense = [layer for layer in clf.model_.layers if type(layer).__name__ == "Dense"]
    assert [layer.units for layer in dense] == [100, 10]  # 784-100-10
    assert not any(type(layer).__name__ == "Conv2D" for layer in clf.model_.layers)
    assert clf.teacher_ is teacher[-1]  # a fitted teacher is used as it is
    assert student.score(X_test, y_test) > 0.8
    assert set(clf.history_) >= {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_a_fitted_student_pickles_without_the_training_wrapper(student, small_mnist):
    """Its schedule callback pointed at the wrapper of both nets, which Keras cannot save."""
    _, _, X_test, _ = small_mnist
    copy = pickle.loads(pickle.dumps(student))
    np.testing.assert_array_equal(
        copy.predict_proba(X_test[:50]), student.predict_proba(X_test[:50])
    )


def test_the_student_learns_from_the_teacher_not_only_the_labels(small_mnist, teacher):
    """With alpha=1 only the soft targets count: shuffled labels cannot spoil the student."""
    X, y, X_test, y_test = small_mnist
    shuffled = np.random.default_rng(0).permutation(y[:2000])
    common = dict(epochs=4, batch_size=64, random_state=0)
    pupil = make_pipeline(teacher=teacher, distill_alpha=1.0, **common).fit(X[:2000], shuffled)
    assert pupil.score(X_test, y_test) > 0.8
    assert (pupil.predict(X_test) == teacher.predict(X_test)).mean() > 0.8
    no_teacher = make_pipeline(**common).fit(X[:2000], shuffled)
    assert no_teacher.score(X_test, y_test) < 0.3


def test_the_exported_student_is_the_tiny_onnx_model(student, small_mnist, tmp_path):
    _, _, X_test, _ = small_mnist
    path = export_onnx(student, tmp_path / "student.onnx", check_samples=X_test[:300])
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert "Conv" not in ops  # the teacher is not in the graph
    assert read_metadata(path)["parity_max_abs_diff"] <= 1e-5
    expected = PRESETS["distilled"]["mlp"]["distill_alpha"]
    assert read_metadata(path)["hyperparameters"]["distill_alpha"] == expected  # the preset's
    plain = make_pipeline(epochs=1, random_state=0).fit(X_test[:100], np.arange(100) % 10)
    plain_path = export_onnx(plain, tmp_path / "plain.onnx", check_samples=X_test[:20])
    # Same graph size as the undistilled net, to within the metadata.
    assert abs(path.stat().st_size - plain_path.stat().st_size) < 4096


def test_a_student_saved_with_an_in_memory_teacher_loads_without_it(student, small_mnist, tmp_path):
    _, _, X_test, _ = small_mnist
    path = save_model(student, tmp_path / "student.skdigits")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert [n for n in zf.namelist() if n.endswith(".keras")] == ["model.keras"]
    assert "not saved" in manifest["teacher"]
    loaded = load_model(path)
    assert loaded[-1].get_params()["teacher"] is None
    assert (
        loaded[-1].get_params()["distill_temperature"]
        == PRESETS["distilled"]["mlp"]["distill_temperature"]
    )
    np.testing.assert_allclose(
        loaded.predict_proba(X_test[:100]), student.predict_proba(X_test[:100]), atol=1e-6
    )


def test_a_teacher_path_is_a_parameter_that_saves_clones_and_searches(
    teacher, small_mnist, tmp_path
):
    X, y, X_test, _ = small_mnist
    teacher_path = str(save_model(teacher, tmp_path / "teacher.skdigits"))
    pipe = make_pipeline(teacher=teacher_path, epochs=2, random_state=0)
    assert clone(pipe).get_params()["clf__teacher"] == teacher_path
    pipe.fit(X[:1000], y[:1000])
    np.testing.assert_allclose(
        pipe[-1].teacher_.predict_proba(X_test[:20].reshape(20, -1) / np.float32(255)),
        teacher.predict_proba(X_test[:20]),
        atol=1e-6,
    )
    saved = save_model(pipe, tmp_path / "student.skdigits")
    (tmp_path / "teacher.skdigits").unlink()  # the student needs no teacher to load
    loaded = load_model(saved)
    assert loaded[-1].get_params()["teacher"] == teacher_path
    np.testing.assert_array_equal(loaded.predict(X_test[:100]), pipe.predict(X_test[:100]))

    search = GridSearchCV(
        make_pipeline(teacher=str(saved), epochs=1, random_state=0),
        {"clf__distill_temperature": [2.0, 4.0]},
        cv=2,
    ).fit(X[:400], y[:400])
    assert search.best_params_["clf__distill_temperature"] in (2.0, 4.0)


def test_a_seeded_distillation_is_repeatable(small_mnist, teacher):
    X, y, X_test, _ = small_mnist
    make = lambda: make_pipeline(teacher=teacher, epochs=2, augment=0.5, random_state=3)  # noqa: E731
    first = make().fit(X[:600], y[:600]).predict_proba(X_test[:100])
    np.testing.assert_array_equal(first, make().fit(X[:600], y[:600]).predict_proba(X_test[:100]))


def test_a_preset_teacher_is_fitted_first_on_the_same_data(small_mnist):
    X, y, _, _ = small_mnist
    clf = DigitClassifier(teacher="fast", epochs=1, random_state=0)
    clf.fit(X[:300].reshape(300, -1) / 255.0, y[:300])
    assert clf.teacher_.get_params()["architecture"] == "cnn"
    assert clf.teacher_.get_params()["conv_filters"] == PRESETS["fast"]["cnn"]["conv_filters"]
    assert clf.teacher_.get_params()["random_state"] == 0
    # Without the preset's label smoothing, whose flattened wrong-class
    # probabilities would be the student's soft targets.
    assert PRESETS["fast"]["cnn"]["label_smoothing"] > 0
    assert clf.teacher_.get_params()["label_smoothing"] == 0.0
    assert clf.get_params()["teacher"] == "fast"  # the parameter is left as given


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"teacher": 3}, "`teacher`"),
        ({"teacher": "no-such-file.skdigits"}, "neither a preset"),
        ({"distill_temperature": 0.0}, "`distill_temperature`"),
        ({"distill_alpha": 1.5}, "`distill_alpha`"),
    ],
)
def test_bad_distillation_parameters_are_refused(small_mnist, params, match):
    X, y, _, _ = small_mnist
    with pytest.raises(ValueError, match=match):
        DigitClassifier(epochs=1, **params).fit(X[:50].reshape(50, -1) / 255.0, y[:50])


def test_a_teacher_of_other_classes_is_refused(small_mnist, teacher):
    X, y, _, _ = small_mnist
    keep = y[:500] < 5
    with pytest.raises(ValueError, match="same labels"):
        make_pipeline(teacher=teacher, epochs=1).fit(X[:500][keep], y[:500][keep])


@pytest.mark.slow
def test_distilled_preset_on_full_mnist_reaches_98_8_percent(mnist):
    """The distilled 784-100-10 net on all 60,000 images (80/20 split), one seed."""
    X_train, y_train, X_test, y_test = mnist
    pipe = make_pipeline(preset="distilled", random_state=0).fit(X_train, y_train)
    assert pipe[-1].model_.get_layer("hidden").units == 100
    assert pipe.score(X_test, y_test) >= 0.988

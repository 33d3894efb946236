"""architecture="resnet": a pre-activation residual net, through every route a CNN takes."""

from __future__ import annotations

import pickle

import numpy as np
import onnx
import pytest
from sklearn.base import clone

from skdigits import DigitClassifier, load_model, make_pipeline, save_model
from skdigits.cli.main import main
from skdigits.export import PARITY_TOLERANCE, export_onnx, export_ort, measure_parity, read_metadata
from skdigits.export.quantize import export_int8_onnx
from skdigits.model_io import ParameterError, count_weights
from skdigits.runtime._predictor import OnnxDigitClassifier


def test_the_residual_net_learns_digits(resnet_pipeline, small_mnist):
    _, _, X_test, y_test = small_mnist
    net = resnet_pipeline[-1].model_
    assert net.name == "digit_resnet"
    body = net.get_layer("residual")
    adds = [layer for layer in body.layers if layer.__class__.__name__ == "Add"]
    assert len(adds) == 2  # one block in each of the two stages
    # Shapes: 28 x 28 → stem → 14 x 14 (8 filters) → 7 x 7 (16) → pooled to 16 features.
    assert body.get_layer("s1b1_add").output.shape[1:] == (14, 14, 8)
    assert body.output.shape[1:] == (16,)
    assert resnet_pipeline.score(X_test, y_test) > 0.85


def test_depth_and_width_are_ordinary_parameters(small_mnist):
    X, y, _, _ = small_mnist
    params = {"architecture": "resnet", "conv_filters": (4, 8, 8), "residual_blocks": 2}
    clf = DigitClassifier(**params).initialize(X[:20], y[:20])
    body = clf.model_.get_layer("residual")
    convs = [layer for layer in body.layers if layer.__class__.__name__ == "Conv2D"]
    # The stem, two convolutions per block, and one projection per stage.
    assert len(convs) == 1 + 2 * 2 * 3 + 3
    assert body.output.shape[1:] == (8,)
    assert count_weights(params) == clf.model_.count_params()
    assert clone(clf).get_params()["residual_blocks"] == 2
    with pytest.raises(ParameterError, match="`residual_blocks` must be a positive integer up"):
        DigitClassifier(architecture="resnet", residual_blocks=9).fit(X[:20], y[:20])


def test_it_exports_through_the_parity_gate_without_its_augmentation(
    resnet_pipeline, small_mnist, tmp_path
):
    _, _, X_test, _ = small_mnist
    path = export_onnx(resnet_pipeline, tmp_path / "resnet.onnx", check_samples=X_test[:200])
    assert float(read_metadata(path)["parity_max_abs_diff"]) <= PARITY_TOLERANCE
    ops = [node.op_type for node in onnx.load(path).graph.node]
    assert ops.count("Conv") == 1 + 2 * 2 + 2
    assert not {op for op in ops if op.startswith("Random")}  # no augmentation
    onnx_proba = OnnxDigitClassifier(path).predict_proba(X_test)
    np.testing.assert_allclose(onnx_proba, resnet_pipeline.predict_proba(X_test), atol=1e-5)


def test_it_survives_clone_pickle_and_save(resnet_pipeline, small_mnist, tmp_path):
    _, _, X_test, _ = small_mnist
    params = clone(resnet_pipeline)[-1].get_params()
    assert (params["architecture"], params["conv_filters"]) == ("resnet", (8, 16))
    expected = resnet_pipeline.predict_proba(X_test[:100])
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(resnet_pipeline)).predict_proba(X_test[:100]), expected
    )
    save_model(resnet_pipeline, tmp_path / "resnet.skdigits")
    loaded = load_model(tmp_path / "resnet.skdigits")  # safe_mode=True inside
    np.testing.assert_allclose(loaded.predict_proba(X_test[:100]), expected, atol=1e-6)


def test_it_exports_to_int8_and_to_the_ort_format(resnet_pipeline, small_mnist, tmp_path):
    X, _, X_test, y_test = small_mnist
    report = export_int8_onnx(
        resnet_pipeline,
        tmp_path / "int8.onnx",
        test_images=X_test,
        test_labels=y_test,
        calibration_images=X[:300],
        max_accuracy_loss=0.02,
        allow_slower=True,  # the speed of a tiny model on a shared machine is noise
    )
    assert report.passed
    ort = export_ort(resnet_pipeline, tmp_path / "resnet.ort", check_samples=X_test[:200])
    parity = measure_parity(ort.path.read_bytes(), resnet_pipeline, X_test[200:500])
    assert parity.n_label_mismatches == 0
    assert parity.max_abs_diff <= PARITY_TOLERANCE


def test_it_teaches_the_reference_net_and_trains_as_an_ensemble(resnet_pipeline, small_mnist):
    X, y, X_test, y_test = small_mnist
    student = make_pipeline(teacher=resnet_pipeline, epochs=5, random_state=0).fit(X, y)
    assert student[-1].model_.name == "digit_mlp"
    assert student.score(X_test, y_test) > 0.8
    params = {**resnet_pipeline[-1].get_params(), "ensemble_size": 2, "epochs": 1}
    pair = make_pipeline(**{k: v for k, v in params.items() if k in _NET_AND_FIT}).fit(
        X[:500], y[:500]
    )
    assert [m.name for m in pair[-1].model_.layers if m.name.startswith("member")] == [
        "member1",
        "member2",
    ]


_NET_AND_FIT = ("architecture", "conv_filters", "ensemble_size", "epochs", "random_state")


def test_the_command_line_trains_a_resnet(tmp_path, capsys):
    out = tmp_path / "r.skdigits"
    argv = ["train", "--architecture", "resnet", "--conv-filters", "4", "8"]
    argv += ["--residual-blocks", "2", "--subset", "200", "--epochs", "1", "-q", "-o", str(out)]
    assert main(argv) == 0
    params = load_model(out)[-1].get_params()
    assert (params["architecture"], params["conv_filters"], params["residual_blocks"]) == (
        "resnet",
        (4, 8),
        2,
    )
    assert main([*argv[:-2], "--residual-blocks", "0", "-o", str(tmp_path / "x")]) == 1
    assert "--residual-blocks must be a positive integer up to 8, got 0" in capsys.readouterr().err

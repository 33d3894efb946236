"""ONNX export: the file matches the pipeline and honours the contract, or is not written."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from skdigits import ModelFileError, __version__, make_pipeline
from skdigits.export import (
    ExportError,
    ParityError,
    export_onnx,
    read_metadata,
    register_converters,
    to_onnx_model,
)
from skdigits.runtime import digit_score_from_proba

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def exported(exported_model):
    """The shared pipeline exported once, gated on 200 real test images."""
    return exported_model


@pytest.fixture(scope="module")
def session(exported):
    return ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])


def _run(session, images):
    label, proba = session.run(["label", "probabilities"], {"pixels": images.astype(np.float32)})
    return label, proba


def _assert_parity(label, proba, pipeline, images):
    np.testing.assert_array_equal(label, pipeline.predict(images))
    assert np.abs(proba - pipeline.predict_proba(images)).max() <= TOLERANCE
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=TOLERANCE)


def test_onnx_reproduces_the_pipeline_on_real_images(session, fitted_pipeline, small_mnist):
    _, _, X_test, y_test = small_mnist  # uint8 for the pipeline, float32 for ONNX
    label, proba = _run(session, X_test)
    _assert_parity(label, proba, fitted_pipeline, X_test)
    assert (label == y_test).mean() > 0.8  # a real model, not a constant


def test_the_graph_honours_the_contract(session, small_mnist):
    (pixels,) = session.get_inputs()
    assert (pixels.name, pixels.type, pixels.shape) == ("pixels", "tensor(float)", ["N", 28, 28])
    outputs = {o.name: (o.type, o.shape) for o in session.get_outputs()}
    assert outputs == {
        "label": ("tensor(int64)", ["N"]),
        "probabilities": ("tensor(float)", ["N", 10]),
        "digit_score": ("tensor(float)", ["N"]),
    }
    _, _, X_test, _ = small_mnist
    for n in (1, 1000):
        label, proba = _run(session, X_test[:n])
        assert (label.dtype, label.shape) == (np.int64, (n,))
        assert (proba.dtype, proba.shape) == (np.float32, (n, 10))


def test_the_graph_scales_pixels_exactly_as_pixel_scaler(exported):
    from skdigits import PixelScaler

    model = onnx.load(exported)
    (scale,) = [node for node in model.graph.node if "pixels" in node.input]
    # Expose the scaling node's result as an extra output.
    model.graph.output.append(onnx.ValueInfoProto(name=scale.output[0]))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    images = (np.arange(2 * 784) % 256).astype(np.uint8).reshape(2, 28, 28)  # every intensity
    (scaled,) = session.run([scale.output[0]], {"pixels": images.astype(np.float32)})
    expected = PixelScaler().fit_transform(images)
    np.testing.assert_array_equal(scaled.reshape(2, -1), expected)  # bit for bit


def test_metadata_carries_the_digit_threshold(exported, fitted_pipeline):
    from skdigits.runtime import OnnxDigitClassifier

    meta = read_metadata(exported)
    assert meta["digit_score_kind"] == "top2_probability"
    assert meta["digit_threshold"] == fitted_pipeline[-1].digit_threshold_ > 0.0
    assert OnnxDigitClassifier(exported).digit_threshold_ == meta["digit_threshold"]


def test_metadata_describes_the_model(exported, fitted_pipeline, small_mnist):
    meta = read_metadata(exported)
    _, _, X_test, y_test = small_mnist
    assert meta["classes"] == list(range(10))
    assert meta["input_name"] == "pixels"
    assert "28 x 28 float32 raw pixel intensities in [0, 255]" in meta["input_layout"]
    assert meta["scaling"] == "x / 255 inside the graph"
    assert meta["opset"] == 17
    assert meta["test_accuracy"] == round(fitted_pipeline.score(X_test, y_test), 4)
    assert meta["hyperparameters"]["epochs"] == 3
    assert meta["hyperparameters"]["hidden_units"] == 100
    assert meta["output_activation"] == "softmax"
    assert meta["architecture"] == "mlp"
    assert meta["skdigits_version"] == __version__
    assert 0 <= meta["parity_max_abs_diff"] <= TOLERANCE
    assert meta["parity_n_samples"] == 200
    assert meta["producer_name"] == "skdigits"

    model = onnx.load(exported)
    onnx.checker.check_model(model, full_check=True)
    assert (model.producer_name, model.producer_version) == ("skdigits", __version__)
    assert "pixels" in model.doc_string
    assert {o.domain for o in model.opset_import} == {""}


def test_reading_metadata_needs_neither_tensorflow_nor_onnx(exported):
    blocked = ["tensorflow", "keras", "scikeras", "sklearn", "tf2onnx", "onnx", "skl2onnx"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "from skdigits.export import read_metadata\n"
        f"print(read_metadata({str(exported)!r})['opset'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "17"


def test_read_metadata_refuses_files_that_are_not_skdigits_models(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")  # text: named as such
    with pytest.raises(ModelFileError, match="is a text file, not a model"):
        read_metadata(garbage)
    garbage.write_bytes(bytes(range(7, 64)))  # binary, but no protobuf onnxruntime reads
    with pytest.raises(ModelFileError, match="not a valid ONNX model"):
        read_metadata(garbage)

    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])],
        "other",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    other = tmp_path / "other.onnx"
    opset = onnx.helper.make_opsetid("", 17)
    onnx.save(onnx.helper.make_model(graph, opset_imports=[opset], ir_version=8), other)
    with pytest.raises(ModelFileError, match="not exported by skdigits"):
        read_metadata(other)
    with pytest.raises(ModelFileError, match="does not exist"):
        read_metadata(tmp_path / "missing.onnx")


def test_a_sigmoid_pipeline_exports_normalised_probabilities(small_mnist, tmp_path):
    X, y, X_test, _ = small_mnist
    pipe = make_pipeline(
        output_activation="sigmoid", hidden_units=32, epochs=1, random_state=0
    ).fit(X[:300], y[:300])
    raw = pipe[-1].model_.predict(X_test[:100].reshape(100, -1) / np.float32(255), verbose=0)
    assert not np.allclose(raw.sum(axis=1), 1.0, atol=1e-2)  # normalising matters here

    path = export_onnx(pipe, tmp_path / "sigmoid.onnx", check_samples=X_test[:200])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, proba = _run(session, X_test)
    _assert_parity(label, proba, pipe, X_test)
    assert read_metadata(path)["output_activation"] == "sigmoid"


def test_skl2onnx_converts_the_pipeline_after_registration(fitted_pipeline, small_mnist):
    import skl2onnx

    _, _, X_test, _ = small_mnist
    register_converters()
    model = skl2onnx.to_onnx(
        fitted_pipeline,
        X_test[:1].astype(np.float32),
        options={id(fitted_pipeline[-1]): {"zipmap": False}},
        target_opset=17,
    )
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = {o.name: o.type for o in session.get_outputs()}
    assert outputs == {"label": "tensor(int64)", "probabilities": "tensor(float)"}
    (x,) = session.get_inputs()
    label, proba = session.run(["label", "probabilities"], {x.name: X_test.astype(np.float32)})
    _assert_parity(label, proba, fitted_pipeline, X_test)


def test_skl2onnx_zipmap_maps_class_labels_to_probabilities(fitted_pipeline, small_mnist):
    import skl2onnx

    _, _, X_test, _ = small_mnist
    register_converters()
    model = skl2onnx.to_onnx(fitted_pipeline, X_test[:1])  # uint8 input, default zipmap
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (x,) = session.get_inputs()
    label, zipped = session.run(None, {x.name: X_test[:5]})
    np.testing.assert_array_equal(label, fitted_pipeline.predict(X_test[:5]))
    expected = fitted_pipeline.predict_proba(X_test[:5])
    for row, probabilities in zip(expected, zipped, strict=True):
        assert sorted(probabilities) == list(range(10))
        np.testing.assert_allclose([probabilities[c] for c in range(10)], row, atol=TOLERANCE)


@pytest.mark.parametrize(
    ("method", "change", "message"),
    [
        # The digit score adds the two largest probabilities: it is off by 0.002.
        ("predict_proba", lambda out: out + 1e-3, r"0 of 256 labels differ, max \|Δp\| = 0\.002"),
        ("predict", lambda out: (out + 1) % 10, r"256 of 256 labels differ"),
    ],
    ids=["probabilities", "labels"],
)
def test_the_gate_refuses_a_model_that_disagrees(
    fitted_pipeline, tmp_path, monkeypatch, method, change, message
):
    original = getattr(fitted_pipeline, method)
    # An instance attribute shadows the method; setitem removes it again afterwards.
    monkeypatch.setitem(vars(fitted_pipeline), method, lambda X: change(original(X)))
    with pytest.raises(ParityError, match=message):
        export_onnx(fitted_pipeline, tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


def test_an_existing_file_is_kept_unless_forced(fitted_pipeline, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    with pytest.raises(ExportError, match=rf"{path} already exists; pass force=True"):
        export_onnx(fitted_pipeline, path)
    assert path.read_bytes() == b"old"

    assert export_onnx(fitted_pipeline, path, force=True) == path
    meta = read_metadata(path)
    assert meta["test_accuracy"] is None  # not given
    assert meta["parity_n_samples"] == 256  # the synthetic default images
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


@pytest.mark.parametrize("opset", [12, 19, "17"])
def test_an_unsupported_opset_is_refused(fitted_pipeline, tmp_path, opset):
    with pytest.raises(ExportError, match="`opset` must be"):
        export_onnx(fitted_pipeline, tmp_path / "model.onnx", opset=opset)
    assert list(tmp_path.iterdir()) == []


def test_opset_18_is_the_highest_accepted(fitted_pipeline, small_mnist):
    model = to_onnx_model(fitted_pipeline, opset=18)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 18)]
    # Reductions take their axes as an input from opset 13 on: the digit score still runs.
    _, _, X_test, _ = small_mnist
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    proba, score = sess.run(["probabilities", "digit_score"], {"pixels": X_test[:50].astype("f")})
    np.testing.assert_array_equal(score, digit_score_from_proba(proba))


def test_the_digit_score_output_is_the_python_score(session, fitted_pipeline, small_mnist):
    from skdigits.estimator import digit_score

    _, _, X_test, _ = small_mnist
    proba, score = session.run(["probabilities", "digit_score"], {"pixels": X_test.astype("f")})
    assert (score.dtype, score.shape) == (np.float32, (len(X_test),))
    # TopK and ReduceSum add the same two float32 values NumPy adds.
    np.testing.assert_array_equal(score, digit_score_from_proba(proba))
    assert np.abs(score - digit_score(fitted_pipeline, X_test)).max() <= TOLERANCE


def test_the_gate_compares_the_digit_score_too(fitted_pipeline, small_mnist, monkeypatch):
    from skdigits.export import _gate

    _, _, X_test, _ = small_mnist
    model = to_onnx_model(fitted_pipeline).SerializeToString()
    assert _gate.measure_parity(model, fitted_pipeline, X_test[:50]).passed
    # A Python score that disagrees with the graph's fails the gate.
    monkeypatch.setattr(_gate, "digit_score_from_proba", lambda p: digit_score_from_proba(p) - 1e-3)
    report = _gate.measure_parity(model, fitted_pipeline, X_test[:50])
    assert not report.passed
    assert report.max_abs_diff == pytest.approx(1e-3, rel=1e-2)


def test_what_cannot_be_exported_is_refused_with_the_reason(fitted_pipeline, tmp_path):
    path = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match="not fitted yet"):
        export_onnx(make_pipeline(), path)
    with pytest.raises(ExportError, match="expects a skdigits Pipeline"):
        export_onnx(fitted_pipeline[-1], path)
    with pytest.raises(ExportError, match="metadata key 'classes' is not allowed"):
        export_onnx(fitted_pipeline, path, metadata={"classes": "cats"})
    assert list(tmp_path.iterdir()) == []


def test_string_class_labels_are_refused(small_mnist, tmp_path):
    import skl2onnx

    X, y, _, _ = small_mnist
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    pipe = make_pipeline(hidden_units=8, epochs=1, random_state=0).fit(X[:200], names[y[:200]])
    with pytest.raises(ExportError, match=r"`label` output is int64.*<U5"):
        export_onnx(pipe, tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []

    register_converters()
    with pytest.raises(ExportError, match="`label` output is int64"):
        skl2onnx.to_onnx(pipe, X[:1].astype(np.float32), target_opset=17)


@pytest.mark.parametrize("accuracy", [float("nan"), float("inf"), "nan"])
def test_a_test_accuracy_that_is_not_finite_is_refused(fitted_pipeline, accuracy):
    """Stored, it would reach model.json and `info --json` as NaN, which is not JSON."""
    from skdigits.export._metadata import build_metadata

    clf = fitted_pipeline.steps[-1][1]
    with pytest.raises(ExportError, match=r"`test_accuracy` must be a finite number, got"):
        build_metadata(clf, clf.classes_, opset=17, extra={"test_accuracy": accuracy})

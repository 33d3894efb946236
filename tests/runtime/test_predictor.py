"""Tests for skdigits.runtime._predictor: ONNX models run through onnxruntime alone.

The models are tiny ones built here with ``onnx.helper`` that honour the export
contract (``pixels`` float32 [N, 28, 28] of raw 0-255 values in; ``label`` and
``probabilities`` out), so every output can be checked against the same
computation in numpy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from skdigits import DataError, ModelFileError  # noqa: E402
from skdigits.runtime import ScaledInputWarning  # noqa: E402
from skdigits.runtime._predictor import OnnxDigitClassifier  # noqa: E402
from tests._support.hostile import idx, png_bytes  # noqa: E402
from tests._support.nan_models import build_nan_for_blank_model  # noqa: E402
from tests._support.onnx_models import METADATA, B, W, build_model, numpy_helper  # noqa: E402


def reference_proba(X: np.ndarray) -> np.ndarray:
    """What the model computes, in numpy."""
    rows = np.asarray(X, dtype=np.float32).reshape(-1, 784) / np.float32(255)
    logits = rows.astype(np.float64) @ W.astype(np.float64) + B
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return build_model(tmp_path_factory.mktemp("onnx") / "digits.onnx")


@pytest.fixture(scope="module")
def clf(model_path) -> OnnxDigitClassifier:
    return OnnxDigitClassifier(model_path)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Twenty uint8 'images': sparse bright strokes on black, like MNIST."""
    rng = np.random.default_rng(7)
    X = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    X[rng.random(X.shape) < 0.8] = 0
    return X


def check_outputs(clf, X, X_ref) -> None:
    expected = reference_proba(X_ref)
    labels, proba = clf.predict_with_proba(X)
    assert proba.dtype == np.float32
    assert labels.dtype == np.int64
    np.testing.assert_allclose(proba, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(labels, expected.argmax(axis=1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------- predictions


def test_one_image_gives_one_prediction(clf, images):
    assert clf.predict(images[3]).shape == (1,)
    assert clf.predict_proba(images[3]).shape == (1, 10)
    check_outputs(clf, images[3], images[3:4])


def test_batch_matches_numpy(clf, images):
    check_outputs(clf, images, images)
    np.testing.assert_array_equal(clf.predict(images), reference_proba(images).argmax(axis=1))
    np.testing.assert_allclose(clf.predict_proba(images), reference_proba(images), rtol=1e-4)


def test_large_batch_matches_numpy(clf):
    # Large batches run on the multi-threaded session: same answers.
    X = np.random.default_rng(3).uniform(0, 255, size=(300, 28, 28)).astype(np.float32)
    check_outputs(clf, X, X)


def test_flat_input_gives_the_same_answers(clf, images):
    flat = images.reshape(len(images), 784)
    check_outputs(clf, flat, images)
    check_outputs(clf, flat[5], images[5:6])


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64, np.float16, np.float64])
def test_any_numeric_dtype_gives_the_same_answers(clf, images, dtype):
    np.testing.assert_allclose(
        clf.predict_proba(images.astype(dtype)), clf.predict_proba(images.astype(np.float32))
    )


def test_list_input(clf, images):
    check_outputs(clf, images[:4].tolist(), images[:4])
    check_outputs(clf, images[0].tolist(), images[:1])


def test_non_contiguous_input(clf, images):
    wide = np.zeros((20, 28, 56), dtype=np.float32)
    wide[:, :, ::2] = images
    check_outputs(clf, wide[:, :, ::2], images)
    check_outputs(clf, images.transpose(0, 2, 1), images.transpose(0, 2, 1).copy())


def test_input_is_left_unchanged(clf, images):
    X = images.astype(np.float32)
    before = X.copy()
    clf.predict(X)
    np.testing.assert_array_equal(X, before)


def test_float32_input_reaches_onnxruntime_without_a_copy(clf, images):
    # A copy of 10,000 images would cost a tenth of the model's own time.
    X = images.astype(np.float32)
    for view in (X, X[0], X.reshape(20, 784), X[3:9]):
        assert np.shares_memory(clf._as_pixels(view), X)
    assert not np.shares_memory(clf._as_pixels(X[:, :, ::-1]), X)  # needs one: not C order


def test_predict_with_proba_agrees_with_the_single_methods(clf, images):
    labels, proba = clf.predict_with_proba(images)
    np.testing.assert_array_equal(labels, clf.predict(images))
    np.testing.assert_array_equal(proba, clf.predict_proba(images))


@pytest.mark.parametrize("shape", [(0, 28, 28), (0, 784)])
def test_empty_batch_gives_empty_results(clf, shape):
    labels, proba = clf.predict_with_proba(np.zeros(shape, dtype=np.uint8))
    assert labels.shape == (0,)
    assert labels.dtype == np.int64
    assert proba.shape == (0, 10)
    assert proba.dtype == np.float32


@pytest.mark.parametrize("threads", [1, 2, 0])
def test_explicit_thread_settings_give_the_same_answers(model_path, images, threads):
    clf = OnnxDigitClassifier(model_path, intra_op_num_threads=threads, inter_op_num_threads=1)
    X = np.concatenate([images] * 5)  # 100: past the large-batch threshold
    check_outputs(clf, X, X)


def test_one_instance_serves_many_threads(clf, images):
    batch = np.concatenate([images] * 5)  # 100 images: the multi-threaded session
    expected_one, expected_batch = clf.predict_proba(images[:1]), clf.predict_proba(batch)

    def work(i: int) -> bool:
        X = images[i % 20] if i % 2 else batch
        expected = expected_batch if X is batch else clf.predict_proba(X)
        return bool(np.array_equal(clf.predict_proba(X), expected))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(40)))
    np.testing.assert_array_equal(clf.predict_proba(images[:1]), expected_one)


def test_flat_input_model(tmp_path, images):
    path = build_model(tmp_path / "flat.onnx", input_shape=["N", 784])
    clf = OnnxDigitClassifier(path)
    check_outputs(clf, images, images)
    check_outputs(clf, images.reshape(20, 784), images)


def test_score_is_accuracy(clf, images):
    truth = reference_proba(images).argmax(axis=1)
    assert clf.score(images, truth) == 1.0
    wrong = truth.copy()
    wrong[:5] = (wrong[:5] + 1) % 10
    assert clf.score(images, wrong) == pytest.approx(0.75)


def test_score_refuses_mismatched_or_empty_labels(clf, images):
    with pytest.raises(DataError, match="20 images but y has 19 labels"):
        clf.score(images, np.zeros(19))
    with pytest.raises(DataError, match="at least one image"):
        clf.score(np.zeros((0, 784)), [])


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (
            list("0123456789" * 2),
            r"y holds <U1 values; true labels must be integers among the "
            r"model's classes \(0-9\)",
        ),
        (np.full(20, np.nan), "y holds float64 values"),
        (np.full(20, 7.5), "y holds float64 values"),
        (
            np.arange(1, 21),
            r"y has label 10 at index 9, which the model does not predict \(its classes are 0-9\)",
        ),
    ],
    ids=["strings", "nan", "fractions", "one-based"],
)
def test_score_refuses_labels_no_prediction_can_equal(clf, images, y, message):
    # Each used to score 0 (or a little more) without a word.
    with pytest.raises(DataError, match=message):
        clf.score(images, y)


def test_score_takes_whole_float_labels(clf, images):
    truth = reference_proba(images).argmax(axis=1)
    assert clf.score(images, truth.astype(np.float64)) == 1.0


# ---------------------------------------------------------------- attributes


def test_classes_metadata_and_features(clf, model_path):
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.classes_.dtype == np.int64
    assert clf.n_features_in_ == 784
    assert clf.metadata["classes"] == list(range(10))
    assert clf.metadata["hyperparameters"] == {"hidden_units": 100, "epochs": 10}
    assert clf.metadata["test_accuracy"] == pytest.approx(0.9765)
    assert clf.metadata["opset"] == 17
    assert clf.metadata["architecture"] == "mlp"
    assert clf.metadata["skdigits_version"] == "0.1.0"
    assert str(model_path) in repr(clf)


def test_classes_from_metadata_label_the_columns(tmp_path):
    classes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 90]
    path = build_model(tmp_path / "m.onnx", metadata={"classes": json.dumps(classes)})
    np.testing.assert_array_equal(OnnxDigitClassifier(path).classes_, classes)


def test_a_label_output_that_does_not_follow_the_classes_is_refused(tmp_path):
    # The graph's label is the column's index; these classes say column 3 is digit 4.
    path = build_model(tmp_path / "m.onnx", metadata={"classes": json.dumps(list(range(1, 11)))})
    with pytest.raises(
        ModelFileError,
        match=r"m\.onnx' labels a blank image 3 where its probabilities point to class 4: its "
        r"`label` output does not follow its `classes` metadata",
    ):
        OnnxDigitClassifier(path)


def test_missing_metadata_defaults(tmp_path):
    clf = OnnxDigitClassifier(build_model(tmp_path / "bare.onnx", metadata={}))
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.metadata == {}


def test_unknown_test_accuracy_is_none(tmp_path):
    path = build_model(tmp_path / "m.onnx", metadata={**METADATA, "test_accuracy": "unknown"})
    assert OnnxDigitClassifier(path).metadata["test_accuracy"] is None


def test_unparsable_informational_metadata_is_kept_as_text(tmp_path):
    path = build_model(
        tmp_path / "m.onnx", metadata={"test_accuracy": "n/a", "hyperparameters": "{oops"}
    )
    assert OnnxDigitClassifier(path).metadata == {
        "test_accuracy": "n/a",
        "hyperparameters": "{oops",
    }


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "shape",
    [(27, 28), (1, 28, 27), (2, 28, 28, 1), (785,), (3, 783), (), (2, 1, 28, 28), (10,)],
)
def test_wrong_shapes_are_refused_with_the_accepted_ones(clf, shape):
    with pytest.raises(DataError, match="expected one image \\(28, 28\\)") as info:
        clf.predict(np.zeros(shape, dtype=np.uint8))
    assert f"X has shape {shape}" in str(info.value)


@pytest.mark.parametrize(
    "X",
    [
        np.full((28, 28), "1"),
        np.full((28, 28), b"1"),
        np.full((28, 28), None, dtype=object),
        np.zeros((28, 28), dtype=bool),
        np.zeros((28, 28), dtype=np.complex64),
    ],
    ids=["str", "bytes", "object", "bool", "complex"],
)
def test_non_numeric_dtypes_are_refused(clf, X):
    with pytest.raises(DataError, match=f"dtype {X.dtype}; pixels must be numbers"):
        clf.predict(X)


def test_ragged_lists_are_refused(clf):
    with pytest.raises(DataError, match="cannot be read as an array of pixels"):
        clf.predict([[0] * 28, [0] * 27])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.nan, r"X contains NaN \(first at index \(1, 2, 3\)\)"),
        (np.inf, r"X contains infinity \(first at index \(1, 2, 3\)\)"),
        (-np.inf, r"X contains infinity"),
        (-1.5, r"X has negative values, down to -1.5 \(first at index \(1, 2, 3\)\)"),
        (256.0, r"X has values above 255, up to 256.0 \(first at index \(1, 2, 3\)\)"),
    ],
)
def test_non_finite_and_out_of_range_values_are_refused(clf, value, message):
    X = np.zeros((2, 28, 28), dtype=np.float64)
    X[1, 2, 3] = value
    with pytest.raises(DataError, match=message) as info:
        clf.predict(X)
    assert "pixels must be raw intensities in [0, 255]" in str(info.value)
    assert "multiply them by 255" in str(info.value)


@pytest.mark.parametrize("dtype", [">f4", ">f8", np.float16, np.float32, np.longdouble])
def test_every_float_layout_is_checked(clf, images, dtype):
    X = images.astype(dtype)
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(images), rtol=1e-6)
    X[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        clf.predict(X)
    X[0, 0, 0] = -0.5
    with pytest.raises(DataError, match="negative"):
        clf.predict(X)
    X[0, 0, 0] = 255.5
    with pytest.raises(DataError, match="above 255"):
        clf.predict(X)


def test_negative_zero_is_zero(clf, images):
    X = images.astype(np.float32)
    X[X == 0] = -0.0
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(images))


def test_out_of_range_integers_are_refused(clf):
    with pytest.raises(DataError, match="above 255, up to 300"):
        clf.predict(np.full((28, 28), 300, dtype=np.int32))
    with pytest.raises(DataError, match="negative values, down to -7"):
        clf.predict(np.full((784,), -7, dtype=np.int8))
    with pytest.raises(DataError, match="negative values, down to -1"):
        clf.predict(np.full((1, 784), -1, dtype=np.int64))
    with pytest.raises(DataError, match="above 255, up to 256"):
        clf.predict(np.full((1, 784), 256, dtype=np.uint16))
    with warnings.catch_warnings():  # no RuntimeWarning about the float32 overflow
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="above 255, up to 1e"):
            clf.predict(np.full((1, 784), 1e39))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, ">f4"])
def test_already_scaled_images_draw_a_warning(clf, images, dtype):
    with pytest.warns(ScaledInputWarning, match="at most 1: are the images already scaled") as w:
        clf.predict((images / 255.0).astype(dtype))
    assert len(w) == 1
    assert issubclass(w[0].category, UserWarning)  # filtered as any UserWarning is, too
    assert "multiply them by 255" in str(w[0].message)
    assert w[0].filename == __file__  # points at the caller's line


def test_dark_raw_images_draw_no_warning(clf, images):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(np.zeros((3, 28, 28), dtype=np.float32))
        clf.predict(images.astype(np.float32))


# ---------------------------------------------------------------- bad model files


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d, good: d / "missing.onnx", "does not exist"),
        (lambda d, good: d, "is a directory"),
        (lambda d, good: _write(d / "empty.onnx", b""), "is empty"),
        (
            lambda d, good: _write(d / "noise.onnx", np.random.default_rng(0).bytes(5000)),
            "is not a valid ONNX model",
        ),
        (
            lambda d, good: _write(d / "cut.onnx", good.read_bytes()[: good.stat().st_size // 2]),
            "is not a valid ONNX model",
        ),
        (lambda d, good: _write(d / "text.onnx", b"hello, world\n"), "is a text file, not a model"),
        (lambda d, good: _write(d / "seven.png", png_bytes()), "is a PNG image, not a model"),
        (
            lambda d, good: _write(d / "x.onnx", idx(np.zeros((2, 28, 28)))),
            "is an IDX data file, not a model",
        ),
        (
            lambda d, good: _write(d / "x.npy", b"\x93NUMPY\x01\x00" + b" " * 100),
            r"is a NumPy \.npy array, not a model; pass an \.onnx model file \(images go to",
        ),
    ],
    ids=["missing", "directory", "empty", "random-bytes", "truncated", "text", "png", "idx", "npy"],
)
def test_unusable_files_are_refused_naming_the_file(tmp_path, model_path, make, message):
    path = make(tmp_path, model_path)
    with pytest.raises(ModelFileError, match=message) as info:
        OnnxDigitClassifier(path)
    text = str(info.value)
    assert str(path) in text
    assert "skdigits export" in text
    assert "\n" not in text


def test_non_finite_probabilities_are_refused_naming_the_rows(tmp_path, images):
    clf = OnnxDigitClassifier(build_nan_for_blank_model(tmp_path / "nan.onnx"))
    X = images.copy()
    X[[3, 7]] = 0  # blank: this model divides by their ink, zero
    with pytest.raises(ModelFileError) as info:
        clf.predict(X)
    message = str(info.value)
    assert "nan.onnx' gave probabilities that are not finite (NaN or infinity)" in message
    assert "for 2 of 20 images (rows 3, 7): the model is broken, not the input" in message
    assert "\n" not in message
    with pytest.raises(ModelFileError, match=r"for 1 of 1 images \(rows 0\)"):
        clf.predict_proba(X[3])  # no argmax of NaN handed back as label 0
    assert clf.predict(np.delete(X, [3, 7], axis=0)).shape == (18,)  # ink: finite


ORT_LOG_SCRIPT = """
import sys
import numpy as np
from skdigits.runtime import OnnxDigitClassifier, quiet_session
clf = OnnxDigitClassifier(sys.argv[1])
print(clf.predict(np.zeros((1, 28, 28), np.uint8)).tolist())
print(clf.predict(np.zeros((100, 28, 28), np.uint8)).shape)  # the multi-threaded session
quiet_session(sys.argv[1])  # the sessions of the export's checks
"""


def test_onnxruntime_writes_nothing_of_its_own_to_stderr(tmp_path):
    # onnxruntime warns on stderr (coloured "[W:onnxruntime:...]") about an
    # initializer no node uses, at every session it builds.
    unused = numpy_helper.from_array(np.zeros(3, np.float32), "unused")
    path = build_model(tmp_path / "unused.onnx", extra_inits=[unused])
    proc = subprocess.run(
        [sys.executable, "-c", ORT_LOG_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    blank = int(reference_proba(np.zeros((1, 784))).argmax())
    assert proc.stdout.split() == [f"[{blank}]", "(100,)"]
    # The model does make onnxruntime warn where a session keeps its default level.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import onnxruntime as ort; ort.InferenceSession({str(path)!r})",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Removing initializer 'unused'" in probe.stderr


def test_a_saved_pipeline_archive_is_recognised(tmp_path):
    path = tmp_path / "model.skdigits"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", "{}")
    with pytest.raises(ModelFileError, match=r"zip archive .* not an ONNX model") as info:
        OnnxDigitClassifier(path)
    assert "skdigits export" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_shape": ["N", 3, 32, 32]}, r"its input is 'pixels' float \[N, 3, 32, 32\]"),
        ({"input_shape": [1, 28, 28]}, "fixed batch size of 1"),
        ({"input_name": "input_1"}, r"its input is 'input_1' float \[N, 28, 28\]"),
        ({"output_names": ("output_label", "output_probability")}, "its outputs are"),
        ({"output_names": ("probabilities", "label")}, "its outputs are"),
    ],
    ids=["cifar-shape", "fixed-batch", "input-name", "output-names", "swapped-outputs"],
)
def test_models_breaking_the_contract_are_refused(tmp_path, kwargs, message):
    path = build_model(tmp_path / "other.onnx", **kwargs)
    with pytest.raises(ModelFileError, match=message) as info:
        OnnxDigitClassifier(path)
    text = str(info.value)
    assert f"'{path}' is not an skdigits digit model" in text
    assert "skdigits export" in text


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ("[0, 1", "malformed `classes` metadata"),
        ('["zero", "one"]', "expected a JSON list of integers"),
        (json.dumps(list(range(9))), "lists 9 classes in its metadata but its probabilities"),
    ],
)
def test_bad_classes_metadata_is_refused(tmp_path, classes, message):
    path = build_model(tmp_path / "m.onnx", metadata={"classes": classes})
    with pytest.raises(ModelFileError, match=message):
        OnnxDigitClassifier(path)


# ---------------------------------------------------------------- import isolation

BLOCKED = ("tensorflow", "keras", "scikeras", "sklearn", "skl2onnx", "tf2onnx", "onnx", "PIL")

ISOLATION_SCRIPT = """
import json
import numpy as np
from skdigits.runtime._predictor import OnnxDigitClassifier

clf = OnnxDigitClassifier(sys.argv[1])
X = np.zeros((100, 28, 28), dtype=np.uint8)  # large enough for the batch session too
X[:, 10:18, 13:15] = 255
labels = clf.predict(X).tolist() + clf.predict(X[0]).tolist()
print(json.dumps({
    "labels": labels,
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


def test_inference_imports_no_training_dependency(model_path, run_blocked):
    result = run_blocked(ISOLATION_SCRIPT, BLOCKED, model_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(report["labels"]) == 101
    assert len(set(report["labels"])) == 1
    loaded = set(report["modules"])
    assert "onnxruntime" in loaded
    assert not loaded & set(BLOCKED), sorted(loaded & set(BLOCKED))


def test_an_execution_provider_onnxruntime_lacks_is_refused(tmp_path, capfd):
    # onnxruntime would print a banner to stdout and run on the CPU instead.
    path = build_model(tmp_path / "m.onnx")
    with pytest.raises(DataError, match=r"`providers` holds 'NoSuchExecutionProvider'"):
        OnnxDigitClassifier(path, providers=["NoSuchExecutionProvider"])
    assert capfd.readouterr().out == ""
    clf = OnnxDigitClassifier(path, providers=[("CPUExecutionProvider", {})])
    assert clf.predict(np.zeros((1, 28, 28), np.uint8)).shape == (1,)

"""Hostile ONNX files: the predictor and the metadata reader refuse them in one line.

Not ONNX, truncated, empty, a pickle, a zip, someone else's model; arrays that
are not pixels; graphs that allocate 16 GB, loop 10**12 times or fail at run
time, refused at load; metadata that is not UTF-8, nested 100,000 deep or out
of range; the ORT format; external data never read; measured metadata keeps
its number type; bounded fuzzing of the metadata decoder, the protobuf and
flatbuffer readers and the predictor. The checks are in
``tests/_support/hostile.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from skdigits import DataError, ModelFileError
from skdigits.cli.main import main
from skdigits.runtime._checks import decode_metadata, inspect_onnx
from skdigits.runtime._predictor import OnnxDigitClassifier
from skdigits.serve import create_app
from tests._support.files import write
from tests._support.hostile import (
    FUZZ,
    Bound,
    Case,
    Translated,
    assert_one_line,
    bound_test,
    code_predict,
    mutated,
    nested,
    outcome,
    refusal_test,
    translation_test,
)
from tests._support.onnx_models import (
    METADATA,
    B,
    TensorProto,
    W,
    build_model,
    helper,
    numpy_helper,
)

CASES: list[Case] = [
    Case(
        "predictor",
        "onnx-not-onnx",
        lambda e: OnnxDigitClassifier(write(e.tmp / "m.onnx", b"hello, world\n")),
        ModelFileError,
        r"m\.onnx' is a text file, not a model; pass an \.onnx model file",
    ),
    Case(
        "predictor",
        "onnx-truncated",
        lambda e: OnnxDigitClassifier(
            write(e.tmp / "cut.onnx", e.files["onnx"].read_bytes()[:3000])
        ),
        ModelFileError,
        r"is not a valid ONNX model",
    ),
    Case(
        "predictor",
        "onnx-empty",
        lambda e: OnnxDigitClassifier(write(e.tmp / "m.onnx", b"")),
        ModelFileError,
        r"ONNX model file .* is empty; export one with `skdigits export`",
    ),
    Case(
        "predictor",
        "onnx-is-a-pickle",
        lambda e: OnnxDigitClassifier(e.files["evil_as_onnx"]),
        ModelFileError,
        r"is a Python pickle \(joblib\?\), not an ONNX model, and is never loaded here "
        r"because unpickling runs code",
    ),
    Case(
        "predictor",
        "onnx-is-a-zip",
        lambda e: OnnxDigitClassifier(write(e.tmp / "m.onnx", b"PK\x03\x04" + b"\0" * 30)),
        ModelFileError,
        r"is a zip archive \(a saved \.skdigits pipeline\?\), not an ONNX model",
    ),
    Case(
        "predictor",
        "onnx-someone-elses-input-shape",
        lambda e: OnnxDigitClassifier(e.files["cifar_onnx"]),
        ModelFileError,
        r"is not an skdigits digit model.*its input is 'pixels' float \[N, 3, 32, 32\]",
    ),
    Case(
        "predictor",
        "onnx-someone-elses-outputs",
        lambda e: OnnxDigitClassifier(e.files["other_outputs_onnx"]),
        ModelFileError,
        r"is not an skdigits digit model.*its outputs are",
    ),
    Case(
        "predictor",
        "onnx-directory",
        lambda e: OnnxDigitClassifier(e.tmp),
        ModelFileError,
        r"is a directory, not an ONNX model file",
    ),
    Case(
        "predictor",
        "array-nan",
        lambda e: OnnxDigitClassifier(e.files["onnx"]).predict(np.full((1, 28, 28), np.nan)),
        DataError,
        r"X contains NaN \(first at index \(0, 0, 0\)\); pixels must be raw intensities",
    ),
    Case(
        "predictor",
        "array-strings",
        lambda e: OnnxDigitClassifier(e.files["onnx"]).predict(np.full((1, 28, 28), "7")),
        DataError,
        r"X has dtype <U1; pixels must be numbers",
    ),
    Case(
        "predictor",
        "array-wrong-shape",
        lambda e: OnnxDigitClassifier(e.files["onnx"]).predict(np.zeros((2, 32, 32))),
        DataError,
        r"X has shape \(2, 32, 32\); expected one image \(28, 28\)",
    ),
    Case(
        "predictor",
        "array-above-255",
        lambda e: OnnxDigitClassifier(e.files["onnx"]).predict(np.full((1, 784), 300.0)),
        DataError,
        r"X has values above 255, up to 300\.0 \(first at index \(0, 0\)\)",
    ),
]


test_hostile_input_is_refused_with_a_clear_message = refusal_test(CASES)


# ---------------------------------------------------------------- graphs refused at load


def constant_of_shape_model(path: Path) -> Path:
    """Adds the sum of a 16 GB ConstantOfShape to the logits: a run-time allocation bomb."""
    shape = numpy_helper.from_array(np.array([4_000_000_000], dtype=np.int64), "big_shape")
    nodes = [
        helper.make_node("ConstantOfShape", ["big_shape"], ["big"]),
        helper.make_node("ReduceSum", ["big"], ["big_sum"], keepdims=0),
        helper.make_node("Add", ["logits", "big_sum"], ["logits_big"]),
    ]
    return build_model(path, nodes, [shape], logits="logits_big")


def loop_model(path: Path) -> Path:
    """A Loop of 10**12 iterations (an identity body) feeding the logits: it never returns."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["carried"], ["carried_out"])],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("carried", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("carried_out", TensorProto.FLOAT, None),
        ],
    )
    inits = [
        numpy_helper.from_array(np.array(10**12, dtype=np.int64), "trips"),
        numpy_helper.from_array(np.array(True), "keep_going"),
    ]
    nodes = [helper.make_node("Loop", ["trips", "keep_going", "logits"], ["looped"], body=body)]
    return build_model(path, nodes, inits, logits="looped")


def runtime_failure_model(path: Path, **kwargs: Any) -> Path:
    """Reshapes the [N, 10] logits to [N, 28]: valid at load, fails in every run."""
    inits = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "two"),
    ]
    nodes = [
        helper.make_node("Shape", ["pixels"], ["pixels_shape"]),
        helper.make_node("Slice", ["pixels_shape", "zero", "two"], ["n_by_28"]),
        helper.make_node("Reshape", ["logits", "n_by_28"], ["logits_bad"]),
    ]
    return build_model(path, nodes, inits, logits="logits_bad", **kwargs)


BOUNDS: list[Bound] = [
    Bound(
        4,
        "onnx-constant-of-shape-16-gb",
        lambda d: code_predict(constant_of_shape_model(d / "cos.onnx")),
        "ModelFileError",
        r"uses operator 'ConstantOfShape', which skdigits' exporters never emit",
        peak_mb=200,
    ),
    Bound(
        4,
        "onnx-loop-of-1e12-steps",
        lambda d: code_predict(loop_model(d / "loop.onnx")),
        "ModelFileError",
        r"uses operator 'Loop', which skdigits' exporters never emit",
        peak_mb=200,
    ),
    Bound(
        4,
        "onnx-fails-at-run-time-in-predict",
        lambda d: code_predict(runtime_failure_model(d / "m.onnx")),
        "ModelFileError",
        r"m\.onnx' failed while predicting \(onnxruntime: .*Reshape",
        peak_mb=200,
    ),
    Bound(
        4,
        "onnx-fails-in-the-constructors-probe-run",
        lambda d: code_predict(
            runtime_failure_model(
                d / "m.onnx",
                proba_width="C",
                metadata={k: v for k, v in METADATA.items() if k != "classes"},
            )
        ),
        "ModelFileError",
        r"failed while predicting \(onnxruntime: ",
        peak_mb=200,
    ),
]


test_a_small_hostile_file_costs_bounded_time_and_memory = bound_test(BOUNDS)


# ---------------------------------------------------------------- raw exceptions translated


def onnx_with_raw_metadata(path: Path, key: str, raw: bytes) -> Path:
    """A good model whose metadata ``key`` holds ``raw`` bytes, UTF-8 or not."""
    placeholder = "PLACEHOLDER-0123456789AB"
    raw = raw.ljust(len(placeholder), b" ")
    meta = {**METADATA, key: placeholder}
    data = build_model(path, metadata=meta).read_bytes()
    assert data.count(placeholder.encode()) == 1
    return write(path, data.replace(placeholder.encode(), raw))


@lru_cache(maxsize=1)
def good_ort_bytes() -> bytes:
    """A good model converted to onnxruntime's ORT format by onnxruntime's own tool."""
    with tempfile.TemporaryDirectory() as scratch:
        source = build_model(Path(scratch) / "m.onnx")
        subprocess.run(
            [
                sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort",
                str(source), "--output_dir", scratch, "--optimization_style", "Fixed",
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )  # fmt: skip
        return (Path(scratch) / "m.ort").read_bytes()


def patched_ort(path: Path, old: bytes, new: bytes) -> Path:
    data = good_ort_bytes()
    assert old in data, old
    return write(path, data.replace(old, new))


def onnx_with_bad_input_name(path: Path) -> Path:
    """A good model whose input is named ``pixel\\xff`` (not UTF-8) wherever it appears."""
    meta = {k: v for k, v in METADATA.items() if k != "input_name"}
    return write(
        path, build_model(path, metadata=meta).read_bytes().replace(b"pixels", b"pixel\xff")
    )


def read_onnx_metadata(path: Path) -> Any:
    from skdigits.export import read_metadata

    return read_metadata(path)


TRANSLATED: list[Translated] = [
    Translated(
        8,
        "onnx-metadata-not-utf-8",
        lambda d: OnnxDigitClassifier(
            onnx_with_raw_metadata(d / "m.onnx", "architecture", b"\xff\xfe")
        ),
        ModelFileError,
        r"has metadata `architecture` that is not UTF-8 text",
    ),
    Translated(
        8,
        "onnx-classes-nested-100000-deep",
        lambda d: OnnxDigitClassifier(
            build_model(d / "m.onnx", metadata={**METADATA, "classes": nested(100_000)})
        ),
        ModelFileError,
        r"has malformed `classes` metadata '\[\[\[.*\.\.\.' \(",
    ),
    Translated(
        8,
        "onnx-hyperparameters-nested-100000-deep",
        lambda d: read_onnx_metadata(
            build_model(d / "m.onnx", metadata={**METADATA, "hyperparameters": nested(100_000)})
        ),
        ModelFileError,
        r"has malformed `hyperparameters` metadata",
    ),
    Translated(
        8,
        "onnx-classes-holding-1e30",
        lambda d: OnnxDigitClassifier(
            build_model(d / "m.onnx", metadata={**METADATA, "classes": f"[{10**30}, 1]"})
        ),
        ModelFileError,
        r"`classes` metadata \[1000000000000000000000000000000, 1\], expected a JSON list of "
        r"integers \(1 to 1000, within int64\)",
    ),
    Translated(
        8,
        "cli-info-onnx-metadata-not-utf-8",
        lambda d: ["info", onnx_with_raw_metadata(d / "m.onnx", "classes", b"[\xff]")],
        1,
        r"has metadata `classes` that is not UTF-8 text",
    ),
    Translated(
        8,
        "onnx-input-name-not-utf-8",
        lambda d: OnnxDigitClassifier(onnx_with_bad_input_name(d / "m.onnx")),
        ModelFileError,
        r"has input or output names that are not UTF-8 text",
    ),
    Translated(
        8,
        "ort-format-metadata-not-utf-8",
        lambda d: OnnxDigitClassifier(
            patched_ort(d / "m.ort", b"\x03\x00\x00\x00mlp", b"\x03\x00\x00\x00\xff\xfe\xfd")
        ),
        ModelFileError,
        r"has metadata `architecture` that is not UTF-8 text",
    ),
    # 4, in the ORT format: the same operator allow-list applies to .ort files
    Translated(
        4,
        "ort-format-with-a-loop-operator",
        lambda d: OnnxDigitClassifier(
            patched_ort(d / "m.ort", b"\x06\x00\x00\x00ArgMax", b"\x04\x00\x00\x00Loop\x00\x00")
        ),
        ModelFileError,
        r"m\.ort' uses operator 'Loop', which skdigits' exporters never emit",
    ),
    Translated(
        4,
        "ort-format-truncated",
        lambda d: OnnxDigitClassifier(write(d / "m.ort", good_ort_bytes()[:2000])),
        ModelFileError,
        r"is not a valid ONNX model \(ORT format, malformed flatbuffer: ",
    ),
    # 10. external data is refused before onnxruntime could read ./secret.txt
    Translated(
        10,
        "onnx-external-data",
        lambda d: OnnxDigitClassifier(build_model(d / "m.onnx", external=True)),
        ModelFileError,
        r"stores tensors as external data \(in files beside it\); skdigits' models hold all "
        r"their weights and never read other files",
    ),
    Translated(
        10,
        "onnx-external-data-in-read-metadata",
        lambda d: read_onnx_metadata(build_model(d / "m.onnx", external=True)),
        ModelFileError,
        r"stores tensors as external data",
    ),
]


test_a_raw_exception_becomes_a_skdigits_error = translation_test(TRANSLATED)


def test_measured_metadata_keeps_its_number_type(tmp_path, capsys):
    meta = {
        "classes": "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
        "test_accuracy": "0.97",
        "train_accuracy": "0.99",
        "validation_accuracy": "null",
        "fit_seconds": "12.5",
    }
    path = build_model(tmp_path / "m.onnx", metadata=meta)
    decoded = OnnxDigitClassifier(path).metadata
    assert decoded["train_accuracy"] == 0.99
    assert decoded["fit_seconds"] == 12.5
    assert decoded["validation_accuracy"] is None
    with TestClient(create_app(path)) as client:
        served = client.get("/metadata").json()
    assert served["train_accuracy"] == 0.99
    assert served["fit_seconds"] == 12.5
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert isinstance(info["train_accuracy"], float)
    assert isinstance(info["fit_seconds"], float)


def test_a_temperature_before_the_softmax_runs_and_other_operators_do_not(tmp_path, rng):
    # What the export writes for a calibrated model: Log, Mul by 1 / T, Softmax.
    scale = numpy_helper.from_array(np.array(0.5, dtype=np.float32), "inverse_temperature")
    nodes = [
        helper.make_node("Softmax", ["logits"], ["net_probabilities"], axis=-1),
        helper.make_node("Log", ["net_probabilities"], ["log_probabilities"]),
        helper.make_node("Mul", ["log_probabilities", "inverse_temperature"], ["tempered"]),
    ]
    meta = {**METADATA, "temperature": "2.0"}
    path = build_model(tmp_path / "t.onnx", nodes, [scale], logits="tempered", metadata=meta)
    model = OnnxDigitClassifier(path)
    assert model.metadata["temperature"] == 2.0
    images = rng.integers(0, 256, size=(5, 28, 28)).astype(np.float32)
    logits = (images.reshape(5, -1) / np.float32(255)) @ W + B
    expected = np.exp(logits / 2) / np.exp(logits / 2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(images), expected, atol=1e-5)
    # Other arithmetic is still what no exporter writes.
    exp = build_model(tmp_path / "e.onnx", [helper.make_node("Exp", ["logits"], ["e"])], logits="e")
    with pytest.raises(ModelFileError, match=r"uses operator 'Exp', which skdigits' exporters"):
        OnnxDigitClassifier(exp)
    with pytest.raises(ModelFileError, match=r"malformed `temperature` metadata 'nan'"):
        decode_metadata({**meta, "temperature": "nan"}, "t.onnx", strict=True)


# ---------------------------------------------------------------- fuzzing

JSON_TEXT = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
).map(json.dumps)
METADATA_VALUES = st.one_of(
    JSON_TEXT,
    st.text(max_size=20),
    st.integers(1, 100_000).map(nested),
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.sampled_from(["unknown", "nan", "1e999", "[1e30]", f"[{10**30}]", "[]", "{}", "-0"]),
)


@FUZZ
@given(
    raw=st.dictionaries(
        st.sampled_from(sorted({*METADATA, "parity_max_abs_diff", "parity_n_samples", "x"})),
        METADATA_VALUES,
        max_size=6,
    ),
    strict=st.booleans(),
)
def test_fuzz_the_onnx_metadata_decoder_raises_only_model_file_errors(raw, strict):
    result = outcome(lambda: decode_metadata(raw, "'m.onnx'", strict=strict))
    assert_one_line(result, ModelFileError)
    assert isinstance(result, ModelFileError) or set(result) == set(raw)


@pytest.fixture(scope="module")
def good_onnx_bytes(tmp_path_factory) -> bytes:
    return build_model(tmp_path_factory.mktemp("fuzz") / "m.onnx").read_bytes()


@settings(FUZZ, max_examples=400)
@given(content=st.one_of(st.binary(max_size=64), st.binary(max_size=8).map(lambda b: b"\x3a" + b)))
def test_fuzz_the_protobuf_reader_raises_only_model_file_errors(content):
    """Raw bytes, and bytes that start like a graph field, through the structural check.

    (Hypothesis found this reader descending into a graph sent as a number.)
    """
    assert_one_line(outcome(inspect_onnx, content, "'m.onnx'"), ModelFileError)


@FUZZ
@given(data=st.data())
def test_fuzz_ort_format_files_raise_only_model_file_errors(data, tmp_path):
    """Mutated ORT-format files through the flatbuffer reader and the predictor."""
    content = data.draw(mutated(good_ort_bytes()))
    assert_one_line(outcome(inspect_onnx, content, "'m.ort'"), ModelFileError)
    assert_one_line(
        outcome(OnnxDigitClassifier, write(tmp_path / "m.ort", content)), ModelFileError
    )


@FUZZ
@given(data=st.data())
def test_fuzz_onnx_files_raise_only_model_file_errors(data, good_onnx_bytes, tmp_path):
    """Mutated models through the metadata reader and the predictor: skdigits errors only."""
    content = data.draw(mutated(good_onnx_bytes))
    path = write(tmp_path / "m.onnx", content)
    for read in (OnnxDigitClassifier, read_onnx_metadata):
        assert_one_line(outcome(read, path), ModelFileError)

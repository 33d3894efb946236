"""The ORT-format export: converted by onnxruntime's tooling, gated on the .ort file itself."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skdigits import ModelFileError
from skdigits.cli.main import main
from skdigits.export import PARITY_TOLERANCE, export_ort, measure_parity
from skdigits.runtime._predictor import OnnxDigitClassifier


@pytest.fixture(scope="module")
def ort_export(tmp_path_factory, fitted_pipeline, small_mnist):
    """The shared pipeline saved, then exported to .ort through the command line."""
    from skdigits import save_model

    d = tmp_path_factory.mktemp("ort")
    saved = save_model(fitted_pipeline, d / "m.skdigits")
    assert (
        main(
            [
                "export",
                str(saved),
                "--format",
                "ort",
                "-o",
                str(d / "m.ort"),
                "--check-images",
                "300",
            ]
        )
        == 0
    )
    return saved, d / "m.ort"


def test_ort_file_passes_the_gate_and_lists_its_operators(ort_export, fitted_pipeline, small_mnist):
    _, model = ort_export
    data = model.read_bytes()
    assert data[4:8] == b"ORTM"  # the flatbuffer identifier: ORT format, not ONNX protobuf
    # The gate, measured again here on other images, through onnxruntime on the .ort bytes.
    _, _, X_test, _ = small_mnist
    report = measure_parity(data, fitted_pipeline, X_test[300:800])
    assert report.n_label_mismatches == 0
    assert report.max_abs_diff <= PARITY_TOLERANCE

    config = (model.parent / "m.required_operators.config").read_text()
    assert config.splitlines()[1] == "# - m.ort"
    ops = {
        (domain, op)
        for domain, _, names in (line.split(";") for line in config.splitlines()[2:])
        for op in names.split(",")
    }
    assert {("ai.onnx", op) for op in ("Div", "ArgMax", "Gather", "ReduceSum")} <= ops


def test_onnx_digit_classifier_reads_ort_files_and_their_metadata(ort_export, small_mnist):
    _, model = ort_export
    _, _, X_test, y_test = small_mnist
    clf = OnnxDigitClassifier(model)
    assert clf.classes_.tolist() == list(range(10))
    assert clf.metadata["model_format"] == "ort"
    assert clf.metadata["parity_n_samples"] == 300
    assert clf.metadata["parity_max_abs_diff"] <= PARITY_TOLERANCE
    assert clf.score(X_test, y_test) > 0.8


def test_cli_predicts_evaluates_and_describes_an_ort_file(
    ort_export, fitted_pipeline, small_mnist, tmp_path, capsys
):
    _, model = ort_export
    _, _, X_test, _ = small_mnist
    np.save(tmp_path / "digits.npy", X_test[:5])
    capsys.readouterr()
    assert main(["predict", str(model), str(tmp_path / "digits.npy"), "--json"]) == 0

    rows = json.loads(capsys.readouterr().out)
    labels = [row["label"] for row in rows["predictions"]]
    assert labels == fitted_pipeline.predict(X_test[:5]).tolist()
    assert main(["info", str(model)]) == 0
    assert "model_format" in capsys.readouterr().out


def test_export_refuses_to_overwrite_the_ort_file_or_its_config(ort_export, fitted_pipeline):
    from skdigits.export import ExportError

    _, model = ort_export
    before = model.read_bytes()
    with pytest.raises(ExportError, match="already exists"):
        export_ort(fitted_pipeline, model)
    assert model.read_bytes() == before


def _foreign_ort(tmp_path):
    """Someone else's model in ORT format: Identity over float [N, 3]."""
    import onnx
    from onnx import TensorProto, helper

    from skdigits.export._ort import _convert

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "foreign",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    data, _ = _convert(model)
    return data


@pytest.mark.parametrize(
    "damage", ["truncated", "tail cut", "zeroed block", "identifier", "foreign"]
)
def test_a_tampered_or_foreign_ort_file_is_refused_in_one_line(ort_export, tmp_path, damage):
    _, model = ort_export
    data = model.read_bytes()
    bad = {
        "truncated": lambda: data[: len(data) // 2],
        "tail cut": lambda: data[:-100],
        # Near the start: the flatbuffer's tables, not a string or weights (zeroed
        # weights are still a valid model; only a checksum could tell).
        "zeroed block": lambda: data[:200] + bytes(64) + data[264:],
        "identifier": lambda: data[:4] + b"XXXX" + data[8:],
        "foreign": lambda: _foreign_ort(tmp_path),
    }[damage]()
    path = tmp_path / "bad.ort"
    path.write_bytes(bad)
    with pytest.raises(ModelFileError) as info:
        OnnxDigitClassifier(path)
    message = str(info.value)
    assert "\n" not in message
    assert f"'{path}'" in message
    expected = (
        "is not an skdigits digit model" if damage == "foreign" else "is not a valid ONNX model"
    )
    assert expected in message


def test_the_service_serves_an_ort_file(ort_export, fitted_pipeline, small_mnist):
    from starlette.testclient import TestClient

    from skdigits.serve import create_app

    _, model = ort_export
    _, _, X_test, _ = small_mnist
    with TestClient(create_app(model)) as client:
        response = client.post("/predict", json={"pixels": X_test[:3].tolist()})
        assert response.status_code == 200
        assert response.json()["labels"] == fitted_pipeline.predict(X_test[:3]).tolist()
        assert client.get("/metadata").json()["model_format"] == "ort"


def test_the_web_site_refuses_an_ort_model(ort_export, tmp_path, capsys):
    _, model = ort_export
    site = tmp_path / "site"
    assert main(["export", str(model), "--web", str(site), "--offline"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skdigits: error: ")
    assert err.count("\n") == 1
    assert "m.ort is in onnxruntime's ORT format; the page loads ONNX: pass the .onnx" in err
    assert not site.exists()


def test_a_full_disk_writes_neither_the_ort_file_nor_its_operator_list(
    ort_export, fitted_pipeline, tmp_path, monkeypatch
):
    """Both files are staged before either is renamed: the .ort is written, its operator
    list hits a full disk, and both old files stay, with no temporary left."""
    import errno
    import os
    from pathlib import Path

    from skdigits._core.errors import WriteError

    dest = tmp_path / "m.ort"
    dest.write_bytes(b"old model")
    config = tmp_path / "m.required_operators.config"
    config.write_bytes(b"old operators")
    write_bytes = Path.write_bytes

    def full_at_the_operator_list(self, data):
        if self.name.startswith(".m.required_operators.config."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_at_the_operator_list)
    with pytest.raises(WriteError) as info:
        export_ort(fitted_pipeline, dest, force=True, n_check=20)
    assert str(info.value) == (
        f"cannot write {config}: no space left on the device (ENOSPC); free some space or "
        "write it elsewhere; the old m.required_operators.config is kept"
    )
    assert dest.read_bytes() == b"old model"
    assert config.read_bytes() == b"old operators"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([config.name, dest.name])

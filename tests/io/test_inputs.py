"""skdigits.io._inputs: input files read by content, array conventions, and `predict` on a batch.

The model is the synthetic linear one of ``test_inference`` (its labels are a
fixed function of the pixels), so a conversion that went wrong changes labels.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from skdigits import DataError  # noqa: E402
from skdigits.cli.main import main  # noqa: E402
from skdigits.io._inputs import (  # noqa: E402
    read_input,
    read_inputs,
    sniff_format,
    to_mnist_convention,
)
from skdigits.runtime._predictor import OnnxDigitClassifier  # noqa: E402
from tests._support.onnx_models import build_model  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return build_model(tmp_path_factory.mktemp("inputs") / "digits.onnx")


@pytest.fixture(scope="module")
def digits(mnist) -> np.ndarray:
    """Eight real MNIST test digits, uint8 white on black."""
    return mnist[2][:8]


def _png(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path, format="PNG")
    return path


# ---------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\0\0", "PNG"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "JPEG"),
        (b"GIF89a\x01\0", "GIF"),
        (b"BM" + bytes(20), "BMP"),
        (b"II*\0\x08\0\0\0", "TIFF"),
        (b"MM\0*\0\0\0\x08", "TIFF"),
        (b"RIFF\x10\0\0\0WEBPVP8 ", "WebP"),
        (b"P5\n28 28\n255\n", "PNM"),
        (b"\x93NUMPY\x01\0v\0", "npy"),
        (b"PK\x03\x04\x14\0", "zip"),
        (b"\x1f\x8b\x08\0", "gzip"),
        (b"\0\0\x08\x03\0\0\0\x02", "IDX"),
        (b"\x80\x04\x95\0", "pickle"),
        (b"%PDF-1.7\n", "PDF"),
        (b"# digits\n", "text"),
        (b"\0\x01\x02\xfe\xff", "unknown"),
        (b"", "empty"),
    ],
)
def test_the_format_is_named_from_the_first_bytes(head, kind):
    assert sniff_format(head) == kind


def test_a_png_without_an_extension_is_read_as_a_png(tmp_path, digits):
    path = _png(tmp_path / "seven", 255 - digits[0])
    result = read_input(path)
    assert result.images is not None
    assert result.images.shape == (1, 28, 28)


def test_an_idx_file_named_like_an_image_is_read_as_idx(tmp_path, digits):
    from skdigits.datasets import save_idx

    save_idx(tmp_path / "images.png", digits)
    np.testing.assert_array_equal(read_input(tmp_path / "images.png").images, digits)


# ---------------------------------------------------------------- conventions


def test_auto_conventions_give_the_labels_of_mnist_s_convention(model, digits):
    clf = OnnxDigitClassifier(model)
    expected = clf.predict(digits)
    raw = digits.astype(np.float64)
    for variant in (raw / 255.0, 255.0 - raw, (255.0 - raw) / 255.0, digits.reshape(8, 784)):
        np.testing.assert_array_equal(clf.predict(to_mnist_convention(variant)), expected)


def test_explicit_conventions_are_obeyed(digits):
    x = digits.astype(np.float32)
    np.testing.assert_array_equal(to_mnist_convention(x / 255, scale="1"), x)
    np.testing.assert_array_equal(to_mnist_convention(x, invert="yes"), 255 - x)
    dim = np.full((1, 28, 28), 0.5, np.float32)  # [0, 1]-looking, but said to be raw
    np.testing.assert_array_equal(to_mnist_convention(dim, scale="255", invert="no"), dim)
    with pytest.raises(DataError, match=r"values up to 255, but scale '1' \(--scale 1\) says"):
        to_mnist_convention(x, scale="1")
    with pytest.raises(DataError, match=r"`scale` must be one of 'auto', '255', '1'"):
        to_mnist_convention(x, scale="0-1")


def test_integer_arrays_are_never_rescaled_by_auto(digits):
    binary = (digits > 127).astype(np.uint8)  # 0/1 integers: dim raw pixels, left alone
    np.testing.assert_array_equal(to_mnist_convention(binary), binary)


# ---------------------------------------------------------------- predict on a batch


@pytest.fixture
def batch(tmp_path, digits) -> dict[str, Path]:
    return {
        "a": _png(tmp_path / "a.png", 255 - digits[0]),
        "bad": tmp_path / "bad.jpg",
        "b": _png(tmp_path / "b.png", 255 - digits[1]),
    }


def _write_bad(batch):
    batch["bad"].write_bytes(b"this is not a jpeg\n")


def test_predict_reads_every_good_file_and_reports_each_bad_one(model, batch, capsys):
    _write_bad(batch)
    argv = ["predict", str(model), str(batch["a"]), str(batch["bad"]), str(batch["b"])]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["a.png", "b.png"]
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert "bad.jpg' is named like a JPEG file but is a text file" in err

    assert main([*argv, "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)["predictions"]  # in the order given
    assert [Path(r["input"]).name for r in rows] == ["a.png", "bad.jpg", "b.png"]
    assert "error" not in rows[0]
    assert rows[1]["label"] is None
    assert "is a text file" in rows[1]["error"]

    assert main([*argv, "--csv"]) == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [Path(r["input"]).name for r in rows] == ["a.png", "bad.jpg", "b.png"]
    assert rows[0]["error"] == ""
    assert rows[0]["label"] != ""
    assert rows[1]["label"] == ""
    assert rows[1]["p_0"] == ""
    assert "is a text file" in rows[1]["error"]


def test_predict_converts_a_0_1_array_and_says_so(model, digits, tmp_path, capsys):
    np.save(tmp_path / "raw.npy", digits)
    np.save(tmp_path / "unit.npy", digits / 255.0)
    assert main(["predict", str(model), str(tmp_path / "raw.npy"), "--json"]) == 0
    raw = json.loads(capsys.readouterr().out)["predictions"]
    assert main(["predict", str(model), str(tmp_path / "unit.npy"), "--json"]) == 0
    out, err = capsys.readouterr()
    unit = json.loads(out)["predictions"]
    assert [r["label"] for r in unit] == [r["label"] for r in raw]
    assert "unit.npy: values lie in [0, 1]: read as scaled to [0, 1] and multiplied by 255" in err
    assert main(["predict", str(model), str(tmp_path / "unit.npy"), "--scale", "255"]) == 0
    assert capsys.readouterr().err == ""  # told, so neither converted nor warned


def test_read_inputs_keeps_going_after_a_bad_file(tmp_path, digits):
    np.save(tmp_path / "good.npy", digits)
    results = read_inputs([tmp_path / "missing.npy", tmp_path / "good.npy"])
    assert results[0].images is None
    assert "does not exist" in (results[0].error or "")
    assert results[1].images is not None
    assert results[1].images.shape == (8, 28, 28)


@pytest.mark.parametrize(
    ("value", "got"),
    [("x" * 1_000_000, r"got 'x{40}\.\.\.' \(1000000 characters\)$"), (2.5, r"got a float$")],
)
def test_a_bad_convention_is_named_briefly(value, got):
    with pytest.raises(DataError, match=r"`scale` must be one of 'auto', '255', '1'; " + got):
        to_mnist_convention(np.zeros((1, 28, 28)), scale=value)

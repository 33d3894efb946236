"""Hostile input, faults and untrusted files, one table organised by entry point (issue 7).

Every row of ``CASES`` feeds one bad input to one entry point and asserts the
error type (or the CLI's exit status) AND the message, which must be one line
naming the problem. CLI rows also check that stderr is exactly one
``skdigits: error:`` line (usage errors: argparse's usage and one error line),
that it carries no traceback, and that the command wrote no file.

Cases by entry point (``test_the_table_covers_every_entry_point`` keeps this
honest; ``pytest -s`` prints the live count):

=============  =====  ===================================================================
entry point    cases  what
=============  =====  ===================================================================
datasets          15  IDX: bad magic, dtype code, truncated, trailing bytes, header,
                      corrupt gzip, directory, unreadable, missing; fetch_mnist: labels
                      outside 0-9, image/label count mismatch, wrong image shape,
                      poisoned cache file (refused, never used), bad subset, foreign file
estimators        12  predict before fit, NaN, inf, negative, > 255, strings, objects,
                      zero samples, 1-D input, X/y length mismatch, wrong feature count
export             5  unfitted, not a pipeline, existing output, output a directory, opset
predictor         19  ONNX: not ONNX, truncated, empty, pickle, zip, foreign input shape,
                      foreign outputs, directory; arrays: NaN, strings, wrong shape, > 255;
                      images: not an image, empty, decompression bomb, animated, truncated,
                      a blank page under a lighting gradient; an array said to be [0, 1]
cli               43  pickle refused (by suffix and by content) in predict/evaluate/info,
                      pickle of the wrong object, bad inputs and labels, existing,
                      directory and unwritable outputs (export's default too), foreign models,
                      usage errors;
                      inputs named for what they are (text, CSV, saved model, .npz, gzip,
                      pickle, empty .npy), one bad file in a batch, --scale 1 on raw
                      pixels, an output in a missing folder, --offline naming
                      --mnist-dir, a busy port, argparse-validated numbers
=============  =====  ===================================================================

Beyond the table: a malicious pickle never runs (its marker file is never
created), ``--allow-pickle`` loads a real joblib pipeline, ``--debug`` shows the
traceback, and writers killed with SIGKILL mid-write leave the old file intact
(see ``test_a_writer_killed_mid_write_leaves_the_old_file``). From issue 15:
``--debug`` after the command, a missing ``train`` extra (Python and CLI) in one
line, measured metadata typed as numbers (ONNX, ``info --json``, ``GET
/metadata``), downloads said on stderr, and a closed pipe ending ``predict``
quietly (status 141).
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import io
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")
PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from test_inference import build_model  # noqa: E402

from skdigits import DataError, FetchError, ModelFileError  # noqa: E402
from skdigits.cli.main import main  # noqa: E402
from skdigits.datasets import _mnist, fetch_mnist, load_idx  # noqa: E402
from skdigits.inference import OnnxDigitClassifier  # noqa: E402
from skdigits.inputs import to_mnist_convention  # noqa: E402

ENTRY_POINTS = ("datasets", "estimators", "export", "predictor", "cli")


# ---------------------------------------------------------------- helpers


def idx(array: np.ndarray, code: int | None = None) -> bytes:
    """IDX bytes of a uint8 array, optionally with another dtype code."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08 if code is None else code, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def lit_blank_page() -> Image.Image:
    """A blank page whose light falls from 105 % to 70 % across it, with sensor noise."""
    xs = np.mgrid[0:300, 0:400][1]
    noise = np.random.default_rng(0).normal(0, 3, xs.shape)
    return Image.fromarray(np.clip(235 * (1.05 - 0.35 * xs / 400) + noise, 0, 255).astype(np.uint8))


def png_bytes() -> bytes:
    return png(Image.new("L", (28, 28), 0))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares huge dimensions but holds no pixels: a decompression bomb."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def animated_gif(path: Path) -> Path:
    frames = [Image.new("L", (28, 28), shade) for shade in (0, 255)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


class Evil:
    """Unpickling this creates ``marker``: proof that loading a pickle runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def fake_pair(env: Env, images: np.ndarray, labels: np.ndarray) -> Any:
    """fetch_mnist on a look-alike test pair whose hashes are declared canonical."""
    folder = env.tmp / "mine"
    files = {
        "t10k-images-idx3-ubyte": idx(images),
        "t10k-labels-idx1-ubyte": idx(labels),
    }
    hashes = dict(_mnist.MNIST_FILES)
    for name, content in files.items():
        write(folder / name, content)
        hashes[name] = hashlib.sha256(content).hexdigest()
    env.monkeypatch.setattr(_mnist, "MNIST_FILES", hashes)
    return fetch_mnist(
        subset="test",
        data_home=env.tmp / "home",
        local_dir=folder,
        download_if_missing=False,
        return_X_y=True,
    )


def poisoned_cache(env: Env) -> Any:
    cache = write(env.tmp / "home" / "mnist" / "t10k-labels-idx1-ubyte", idx(np.arange(10)))
    try:
        with pytest.warns(UserWarning, match="damaged or not MNIST .* removed it"):
            fetch_mnist(subset="test", data_home=env.tmp / "home", download_if_missing=False)
    finally:
        assert not cache.exists()  # refused and removed, never used


def foreign_local_file(env: Env) -> Any:
    folder = write(env.tmp / "mine" / "t10k-labels-idx1-ubyte", idx(Y10)).parent
    with pytest.warns(UserWarning, match="ignoring the t10k-labels-idx1-ubyte found in local_dir"):
        fetch_mnist(
            subset="test", data_home=env.tmp / "home", local_dir=folder, download_if_missing=False
        )


@dataclass
class Env:
    """What a case may use: a fresh folder, monkeypatch and the module's shared files."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    files: dict[str, Path]


@dataclass(frozen=True)
class Case:
    entry: str
    id: str
    act: Callable[[Env], Any]  # raises; for "cli", returns the argv
    error: type[BaseException] | int  # an exception type, or the CLI's exit status
    message: str  # a regex the one-line message must match


def make_pipeline(**params: Any) -> Any:
    from skdigits import make_pipeline as make

    return make(epochs=1, random_state=0, **params)


def scaler() -> Any:
    from skdigits.preprocessing import PixelScaler

    return PixelScaler()


def export(pipeline: Any, path: Path, **kwargs: Any) -> Any:
    from skdigits.export import export_onnx

    return export_onnx(pipeline, path, **kwargs)


def export_error() -> type[BaseException]:
    from skdigits.export._gate import ExportError

    return ExportError


X10 = np.zeros((10, 28, 28), dtype=np.uint8)
Y10 = np.arange(10)
NOISE = np.random.default_rng(0).integers(0, 256, (10, 28, 28), dtype=np.uint8)

# ---------------------------------------------------------------- the table

CASES: list[Case] = [
    # --- datasets: load_idx and fetch_mnist
    Case(
        "datasets",
        "idx-bad-magic",
        lambda e: load_idx(write(e.tmp / "a", b"\x01\x02" + idx(Y10)[2:])),
        DataError,
        r"bad magic bytes 0x0102",
    ),
    Case(
        "datasets",
        "idx-unknown-dtype-code",
        lambda e: load_idx(write(e.tmp / "a", idx(Y10, code=0x07))),
        DataError,
        r"unknown dtype code 0x07 \(known: 0x08 \(uint8\)",
    ),
    Case(
        "datasets",
        "idx-truncated-body",
        lambda e: load_idx(write(e.tmp / "a", idx(X10)[:-100])),
        DataError,
        r"is truncated: shape \(10, 28, 28\) of uint8 needs 7840 data bytes, found 7740",
    ),
    Case(
        "datasets",
        "idx-dims-disagree-with-length",
        lambda e: load_idx(write(e.tmp / "a", idx(Y10) + b"\0\0")),
        DataError,
        r"has trailing bytes: shape \(10,\) of uint8 needs 10 data bytes, found 12",
    ),
    Case(
        "datasets",
        "idx-incomplete-header",
        lambda e: load_idx(write(e.tmp / "a", b"\0\0\x08\x03\0\0")),
        DataError,
        r"incomplete header: 3 dimensions need 16 header bytes",
    ),
    Case(
        "datasets",
        "idx-corrupt-gzip",
        lambda e: load_idx(write(e.tmp / "a.gz", gzip.compress(idx(NOISE))[:3000])),
        DataError,
        r"starts like gzip but is not a valid gzip stream .*download or copy the file again",
    ),
    Case(
        "datasets",
        "idx-directory",
        lambda e: load_idx(e.tmp),
        DataError,
        r"is a directory, not a file; pass the path of an IDX file",
    ),
    Case(
        "datasets",
        "idx-unreadable",
        # Through a regular file as if it were a folder: unreadable even for root.
        lambda e: load_idx(write(e.tmp / "plain", b"x") / "labels"),
        DataError,
        r"cannot read IDX file .*Not a directory.*check its permissions",
    ),
    Case(
        "datasets",
        "idx-missing",
        lambda e: load_idx(e.tmp / "nowhere"),
        DataError,
        r"does not exist; check the path, or fetch the data",
    ),
    Case(
        "datasets",
        "mnist-labels-outside-0-9",
        lambda e: fake_pair(e, X10, np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 10])),
        DataError,
        r"has label 10 at index 9 \(1 outside 0-9 in all\); MNIST labels are the digits 0-9",
    ),
    Case(
        "datasets",
        "mnist-count-mismatch",
        lambda e: fake_pair(e, X10, Y10[:7]),
        DataError,
        r"has 7 labels but .* has 10 images; pass the matching",
    ),
    Case(
        "datasets",
        "mnist-wrong-image-shape",
        lambda e: fake_pair(e, np.zeros((10, 32, 32), np.uint8), Y10),
        DataError,
        r"uint8 images of shape \(10, 32, 32\); MNIST images are uint8 of shape \(n, 28, 28\)",
    ),
    Case(
        "datasets",
        "mnist-poisoned-cache-refused",
        poisoned_cache,
        FetchError,
        r"download_if_missing=False.*t10k-labels-idx1-ubyte had SHA-256 .*; removed it",
    ),
    Case(
        "datasets",
        "mnist-bad-subset",
        lambda e: fetch_mnist(subset="validation"),
        DataError,
        r"`subset` must be 'train', 'test' or 'all'; got 'validation'",
    ),
    Case(
        "datasets",
        "mnist-local-file-not-mnist",
        lambda e: foreign_local_file(e),
        FetchError,
        r"local_dir .*does not match the canonical",
    ),
    # --- estimators: PixelScaler and the pipeline
    Case(
        "estimators",
        "predict-before-fit",
        lambda e: make_pipeline().predict(X10),
        NotFittedError,
        r"not fitted yet\. Call 'fit'",
    ),
    Case(
        "estimators",
        "nan",
        lambda e: make_pipeline().fit(np.full((10, 784), np.nan), Y10),
        DataError,
        r"X contains NaN or infinity; pixels must be finite values in \[0, 255\]",
    ),
    Case(
        "estimators",
        "inf",
        lambda e: scaler().fit_transform(np.full((2, 784), np.inf)),
        DataError,
        r"X contains NaN or infinity",
    ),
    Case(
        "estimators",
        "negative-pixels",
        lambda e: scaler().fit_transform(np.full((2, 784), -1.0)),
        DataError,
        r"X min is -1\.0\); pixels must be raw intensities in \[0, 255\]",
    ),
    Case(
        "estimators",
        "pixels-above-255",
        lambda e: make_pipeline().fit(np.full((10, 784), 256.0), Y10),
        DataError,
        r"X has values up to 256\.0, above 255.*multiply by 255",
    ),
    Case(
        "estimators",
        "strings",
        lambda e: make_pipeline().fit(np.full((10, 784), "x"), Y10),
        ValueError,
        r"not compatible with arrays of bytes/strings",
    ),
    Case(
        "estimators",
        "objects",
        lambda e: scaler().fit_transform(np.array([[object()] * 784] * 2)),
        TypeError,
        r"float\(\) argument must be a string or a( real)? number, not 'object'",
    ),
    Case(
        "estimators",
        "zero-samples",
        lambda e: make_pipeline().fit(np.zeros((0, 28, 28)), np.zeros(0)),
        ValueError,
        r"Found array with 0 sample\(s\) \(shape=\(0, 28, 28\)\) while a minimum of 1",
    ),
    Case(
        "estimators",
        "one-image-without-batch-axis",
        lambda e: scaler().fit_transform(np.zeros(784)),
        DataError,
        r"X has shape \(784,\), but a batch of images is needed.*X\[np\.newaxis\]",
    ),
    Case(
        "estimators",
        "x-y-length-mismatch",
        lambda e: make_pipeline().fit(X10, Y10[:5]),
        ValueError,
        r"inconsistent numbers of samples: \[10, 5\]",
    ),
    Case(
        "estimators",
        "scaler-transform-before-fit",
        lambda e: scaler().transform(X10),
        NotFittedError,
        r"PixelScaler instance is not fitted yet",
    ),
    Case(
        "estimators",
        "wrong-feature-count-after-fit",
        lambda e: scaler().fit(np.zeros((2, 784))).transform(np.zeros((2, 100))),
        ValueError,
        r"X has 100 features, but PixelScaler is expecting 784 features",
    ),
    # --- export
    Case(
        "export",
        "unfitted",
        lambda e: export(make_pipeline(), e.tmp / "m.onnx"),
        Exception,  # ExportError, checked by name below (import is lazy)
        r"the pipeline is not fitted yet.*call fit\(X, y\) before exporting",
    ),
    Case(
        "export",
        "not-a-pipeline",
        lambda e: export({"weights": [1, 2]}, e.tmp / "m.onnx"),
        Exception,
        r"expects a skdigits Pipeline of PixelScaler and DigitClassifier, got dict",
    ),
    Case(
        "export",
        "output-exists",
        lambda e: export(make_pipeline(), write(e.tmp / "m.onnx", b"keep me")),
        Exception,
        r"m\.onnx already exists; pass force=True \(or --force",
    ),
    Case(
        "export",
        "output-is-a-directory",
        lambda e: export(make_pipeline(), e.tmp),
        Exception,
        r"is a directory; pass a file path such as",
    ),
    Case(
        "export",
        "opset-out-of-range",
        lambda e: export(make_pipeline(), e.tmp / "m.onnx", opset=99),
        Exception,
        r"`opset` must be from 13 to 18, got 99",
    ),
    # --- predictor: OnnxDigitClassifier and image files
    Case(
        "predictor",
        "onnx-not-onnx",
        lambda e: OnnxDigitClassifier(write(e.tmp / "m.onnx", b"hello, world\n")),
        ModelFileError,
        r"is not a valid ONNX model",
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
    Case(
        "predictor",
        "image-not-an-image",
        lambda e: load_image(write(e.tmp / "notes.png", b"shopping list\n")),
        DataError,
        r"is not a supported image",
    ),
    Case(
        "predictor",
        "image-empty-file",
        lambda e: load_image(write(e.tmp / "empty.png", b"")),
        DataError,
        r"is an empty file \(0 bytes\); save or upload it again",
    ),
    Case(
        "predictor",
        "image-decompression-bomb",
        lambda e: load_image(write(e.tmp / "bomb.png", png_header_only(40000, 40000))),
        DataError,
        r"is too large to decode safely .*scale it down to at most 4096x4096",
    ),
    Case(
        "predictor",
        "image-animated",
        lambda e: load_image(animated_gif(e.tmp / "anim.gif")),
        DataError,
        r"animated",
    ),
    Case(
        "predictor",
        "image-truncated",
        lambda e: load_image(
            write(e.tmp / "cut.png", png(Image.effect_noise((200, 200), 60))[:500])
        ),
        DataError,
        r"truncated or damaged",
    ),
    Case(
        "predictor",
        "image-blank-page-under-a-lighting-gradient",
        lambda e: load_image(write(e.tmp / "page.png", png(lit_blank_page()))),
        DataError,
        r"page\.png' is blank: no digit found \(the strongest mark stands [0-9] of 255 above "
        r"the background and its noise, and a digit needs 24\)",
    ),
    Case(
        "predictor",
        "array-said-to-be-0-1-but-raw",
        lambda e: to_mnist_convention(NOISE, scale="1"),
        DataError,
        r"X has values up to 255, but scale '1' \(--scale 1\) says they lie in \[0, 1\]",
    ),
    # --- cli: argv built from the shared files; {name} is replaced by e.files[name]
    Case(
        "cli",
        "predict-pickle-by-suffix",
        lambda e: ["predict", e.files["evil_pkl"], e.files["digits_npy"]],
        1,
        r"evil\.pkl is a pickle/joblib file, and loading a pickle runs any code it holds; "
        r"pass --allow-pickle only if you trust the file",
    ),
    Case(
        "cli",
        "predict-pickle-by-content",
        lambda e: ["predict", e.files["evil_as_onnx"], e.files["digits_npy"]],
        1,
        r"evil\.onnx is a pickle/joblib file.*--allow-pickle",
    ),
    Case(
        "cli",
        "evaluate-pickle",
        lambda e: ["evaluate", e.files["evil_joblib"]],
        1,
        r"evil\.joblib is a pickle/joblib file.*--allow-pickle",
    ),
    Case(
        "cli",
        "info-pickle",
        lambda e: ["info", e.files["evil_pkl"]],
        1,
        r"is a pickle/joblib file, and loading a pickle runs any code it holds; re-save",
    ),
    Case(
        "cli",
        "predict-allowed-pickle-of-the-wrong-object",
        lambda e: ["predict", "--allow-pickle", e.files["dict_joblib"], e.files["digits_npy"]],
        1,
        r"holds a dict, not a skdigits Pipeline of PixelScaler and DigitClassifier",
    ),
    Case(
        "cli",
        "predict-missing-input",
        lambda e: ["predict", e.files["onnx"], e.tmp / "nothing.npy"],
        1,
        r"input .*nothing\.npy' does not exist; check the path",
    ),
    Case(
        "cli",
        "predict-object-npy",
        lambda e: ["predict", e.files["onnx"], e.files["object_npy"]],
        1,
        r"is not a readable \.npy array \(Object arrays cannot be loaded when "
        r"allow_pickle=False\)",
    ),
    Case(
        "cli",
        "predict-nan-npy",
        lambda e: ["predict", e.files["onnx"], e.files["nan_npy"]],
        1,
        r"nan\.npy' contains NaN or infinite values",
    ),
    Case(
        "cli",
        "predict-empty-image",
        lambda e: ["predict", e.files["onnx"], write(e.tmp / "empty.png", b"")],
        1,
        r"empty\.png' is an empty file",
    ),
    Case(
        "cli",
        "predict-text-as-image",
        lambda e: ["predict", e.files["onnx"], write(e.tmp / "x.jpg", b"not a jpeg")],
        1,
        r"x\.jpg' is named like a JPEG file but is a text file \(it starts 'not a jpeg'\)",
    ),
    Case(
        "cli",
        "predict-corrupt-idx",
        lambda e: ["predict", e.files["onnx"], write(e.tmp / "imgs-idx3", idx(X10)[:-1])],
        1,
        r"imgs-idx3' is truncated",
    ),
    Case(
        "cli",
        "predict-labels-outside-0-9",
        lambda e: [
            "predict",
            e.files["onnx"],
            e.files["digits_npy"],
            "--labels",
            save_npy(e.tmp / "y.npy", np.array([3, 11, 4])),
        ],
        1,
        r"y\.npy has label 11 at index 1, which the model does not predict "
        r"\(its classes are 0-9\)",
    ),
    Case(
        "cli",
        "predict-labels-count-mismatch",
        lambda e: [
            "predict",
            e.files["onnx"],
            e.files["digits_npy"],
            "--labels",
            save_npy(e.tmp / "y.npy", np.array([1, 2])),
        ],
        1,
        r"y\.npy has 2 labels but .*digits\.npy has 3 images",
    ),
    Case(
        "cli",
        "predict-labels-not-integers",
        lambda e: [
            "predict",
            e.files["onnx"],
            e.files["digits_npy"],
            "--labels",
            save_npy(e.tmp / "y.npy", np.array([1.5, 2.0, 3.0])),
        ],
        1,
        r"y\.npy holds float64 values; true labels must be integers",
    ),
    Case(
        "cli",
        "predict-someone-elses-onnx",
        lambda e: ["predict", e.files["cifar_onnx"], e.files["digits_npy"]],
        1,
        r"is not an skdigits digit model",
    ),
    Case(
        "cli",
        "evaluate-truncated-onnx",
        lambda e: ["evaluate", write(e.tmp / "cut.onnx", e.files["onnx"].read_bytes()[:3000])],
        1,
        r"cut\.onnx.* is not a valid ONNX model",
    ),
    Case(
        "cli",
        "train-output-exists",
        lambda e: ["train", "-o", write(e.tmp / "m.skdigits", b"precious")],
        1,
        r"output .*m\.skdigits already exists; pass --force to overwrite it",
    ),
    Case(
        "cli",
        "export-output-exists",
        lambda e: ["export", e.tmp / "in.skdigits", "-o", write(e.tmp / "m.onnx", b"good")],
        1,
        r"m\.onnx already exists; pass --force",
    ),
    Case(
        "cli",
        "train-output-is-a-directory",
        lambda e: ["train", "-o", e.tmp],
        1,
        r"is a directory; pass a file path",
    ),
    Case(
        "cli",
        "train-output-unwritable",
        lambda e: ["train", "-o", write(e.tmp / "plain", b"x") / "sub" / "m.skdigits"],
        1,
        r"cannot write .*m\.skdigits: .*plain is not a directory",
    ),
    Case(
        "cli",
        "export-pickle-model",
        lambda e: ["export", e.files["evil_pkl"], "-o", e.tmp / "out.onnx"],
        1,
        r"evil\.pkl is not a skdigits model file",
    ),
    Case(
        "cli",
        "report-onnx-model",
        lambda e: ["report", e.files["onnx"], "--out", e.tmp / "r"],
        1,
        r"is an ONNX model; the report reads .* pass that file instead",
    ),
    # --- cli, issue 15: inputs named for what they are, batches, conventions, usage
    Case(
        "cli",
        "predict-one-bad-file-in-a-batch",
        lambda e: ["predict", e.files["onnx"], e.files["digits_npy"], e.files["readme"]],
        1,
        r"README\.md' is a text file \(it starts '# My digits'\), not images; pass a \.npy",
    ),
    Case(
        "cli",
        "predict-gzipped-png-as-input",
        lambda e: ["predict", e.files["onnx"], write(e.tmp / "x.gz", gzip.compress(png_bytes()))],
        1,
        r"x\.gz' holds a gzip-compressed PNG file, not IDX images; decompress it \(gunzip\)",
    ),
    Case(
        "cli",
        "predict-csv-as-input",
        lambda e: ["predict", e.files["onnx"], write(e.tmp / "x.csv", b"0,0,255\n0,255,0\n")],
        1,
        r"x\.csv' is a text \(CSV\?\) file, not images; convert it with numpy",
    ),
    Case(
        "cli",
        "predict-saved-model-as-input",
        lambda e: ["predict", e.files["onnx"], e.files["model_zip"]],
        1,
        r"m\.skdigits' is a saved skdigits model \(\.skdigits\), not images; pass it as the "
        r"first argument \(MODEL\)",
    ),
    Case(
        "cli",
        "predict-npz-as-input",
        lambda e: ["predict", e.files["onnx"], e.files["npz"]],
        1,
        r"a\.npz' is a NumPy \.npz archive of 2 array\(s\), which is not read as input",
    ),
    Case(
        "cli",
        "predict-pickle-as-input",
        lambda e: ["predict", e.files["onnx"], e.files["evil_pkl"]],
        1,
        r"evil\.pkl' is a Python pickle, which is never loaded as input \(unpickling runs code\)",
    ),
    Case(
        "cli",
        "predict-empty-npy",
        lambda e: ["predict", e.files["onnx"], save_npy(e.tmp / "e.npy", np.zeros((0, 28, 28)))],
        1,
        r"e\.npy' holds no images \(shape \(0, 28, 28\)\); pass a file with at least one",
    ),
    Case(
        "cli",
        "predict-scale-1-on-raw-pixels",
        lambda e: ["predict", e.files["onnx"], e.files["noise_npy"], "--scale", "1"],
        1,
        r"noise\.npy' has values up to 255, but scale '1' \(--scale 1\) says they lie in \[0, 1\]",
    ),
    Case(
        "cli",
        "predict-labels-are-text",
        lambda e: [
            "predict",
            e.files["onnx"],
            e.files["digits_npy"],
            "--labels",
            e.files["readme"],
        ],
        1,
        r"labels .*README\.md is not a \.npy array or an IDX file \(its content: text\)",
    ),
    Case(
        "cli",
        "export-default-output-exists",
        lambda e: ["export", write(e.tmp / "in.onnx", b"old").with_suffix(".skdigits")],
        1,
        r"output .*in\.onnx already exists; pass --force to overwrite it",
    ),
    Case(
        "cli",
        "train-output-in-a-missing-folder",
        lambda e: ["train", "-o", e.tmp / "no_such_dir" / "m.skdigits"],
        1,
        r"directory .*no_such_dir does not exist; create it first \(mkdir -p",
    ),
    Case(
        "cli",
        "evaluate-offline-names-the-options",
        lambda e: ["evaluate", e.files["onnx"], "--offline", "--data-home", e.tmp / "home"],
        1,
        r"--offline, so nothing was downloaded\..* or pass --mnist-dir DIR",
    ),
    Case(
        "cli",
        "serve-port-in-use",
        lambda e: ["serve", e.files["onnx"], "--port", str(busy_port())],
        1,
        r"port \d+ on 127\.0\.0\.1 is already in use .*choose another with --port",
    ),
    Case(
        "cli",
        "usage-epochs-zero",
        lambda e: ["train", "--epochs", "0"],
        2,
        r"argument --epochs: must be at least 1, got 0",
    ),
    Case(
        "cli",
        "usage-port-out-of-range",
        lambda e: ["serve", e.files["onnx"], "--port", "99999"],
        2,
        r"argument --port: a port is 0-65535, got 99999",
    ),
    Case(
        "cli",
        "usage-limit-negative",
        lambda e: ["predict", e.files["onnx"], e.files["digits_npy"], "--limit", "-1"],
        2,
        r"argument --limit: must be at least 1, got -1",
    ),
    Case(
        "cli",
        "usage-scale-unknown",
        lambda e: ["predict", e.files["onnx"], e.files["digits_npy"], "--scale", "0-1"],
        2,
        r"argument --scale: invalid choice: '0-1'",
    ),
    Case(
        "cli",
        "usage-validation-split-one",
        lambda e: ["train", "--validation-split", "1"],
        2,
        r"argument --validation-split: must be at least 0 and below 1, got 1",
    ),
    Case(
        "cli",
        "usage-predict-without-inputs",
        lambda e: ["predict", e.files["onnx"]],
        2,
        r"the following arguments are required: INPUT",
    ),
    Case(
        "cli",
        "usage-limit-not-a-number",
        lambda e: ["predict", e.files["onnx"], e.files["digits_npy"], "--limit", "all"],
        2,
        r"argument --limit: expected a whole number, got 'all'",
    ),
    Case(
        "cli",
        "usage-limit-zero",
        lambda e: ["predict", e.files["onnx"], e.files["digits_npy"], "--limit", "0"],
        2,
        r"argument --limit: must be at least 1, got 0",
    ),
]


_BUSY: list[Any] = []  # listening sockets, kept open for the module's lifetime


def busy_port() -> int:
    """A port on 127.0.0.1 that another program (this test) is listening on."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    _BUSY.append(listener)
    return listener.getsockname()[1]


def load_image(path: Path) -> Any:
    from skdigits.images import load_digit_image

    return load_digit_image(path)


def save_npy(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def _files_under(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def counts() -> dict[str, int]:
    return dict(collections.Counter(case.entry for case in CASES))


# ---------------------------------------------------------------- shared files


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Models and inputs shared by the table: a good synthetic ONNX model, foreign ones, pickles."""
    import joblib

    d = tmp_path_factory.mktemp("hostile")
    evil = pickle.dumps(Evil(d / "PWNED"))
    out = {
        "onnx": build_model(d / "digits.onnx"),
        "cifar_onnx": build_model(d / "cifar.onnx", input_shape=["N", 3, 32, 32]),
        "other_outputs_onnx": build_model(
            d / "other.onnx", output_names=("output_label", "output_probability")
        ),
        "evil_pkl": write(d / "evil.pkl", evil),
        "evil_joblib": write(d / "evil.joblib", evil),
        "evil_as_onnx": write(d / "evil.onnx", evil),
        "digits_npy": save_npy(d / "digits.npy", np.zeros((3, 28, 28), np.uint8)),
        "object_npy": d / "object.npy",
        "nan_npy": save_npy(d / "nan.npy", np.full((2, 28, 28), np.nan)),
        "noise_npy": save_npy(d / "noise.npy", NOISE),
        "readme": write(d / "README.md", b"# My digits\n\nSee the .npy files.\n"),
        "model_zip": d / "m.skdigits",
        "npz": d / "a.npz",
    }
    import zipfile

    with zipfile.ZipFile(out["model_zip"], "w") as archive:
        archive.writestr("manifest.json", "{}")
    np.savez(out["npz"], images=X10, labels=Y10)
    np.save(out["object_npy"], np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    joblib.dump({"not": "a model"}, d / "dict.joblib")
    out["dict_joblib"] = d / "dict.joblib"
    out["marker"] = d / "PWNED"
    return out


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No case reaches the network; the real MNIST cache is read, never written."""
    monkeypatch.setattr(_mnist, "DOWNLOAD_SOURCES", ())


# ---------------------------------------------------------------- the table's tests


@pytest.mark.parametrize("case", CASES, ids=[f"{c.entry}:{c.id}" for c in CASES])
def test_hostile_input_is_refused_with_a_clear_message(case, files, tmp_path, monkeypatch, capsys):
    env = Env(tmp_path, monkeypatch, files)
    if case.entry == "cli":
        argv = [str(a) for a in case.act(env)]
        before = _files_under(tmp_path)
        if case.error == 2:
            with pytest.raises(SystemExit) as exc:
                main(argv)
            assert exc.value.code == 2
            err = capsys.readouterr().err
            assert err.startswith("usage: skdigits")
            assert re.search(case.message, err.splitlines()[-1]), err
        else:
            assert main(argv) == case.error
            err = capsys.readouterr().err
            assert err.startswith("skdigits: error: "), err
            assert err.count("\n") == 1, err
            assert "Traceback" not in err
            assert re.search(case.message, err), err
        assert not files["marker"].exists(), "a pickle was loaded: its code ran"
        assert _files_under(tmp_path) == before, "a refused command wrote a file"
        return

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(BaseException) as info:  # noqa: PT011 - the type is checked below
            case.act(env)
    assert isinstance(info.value, case.error), repr(info.value)
    if case.entry == "export":
        assert isinstance(info.value, export_error()), repr(info.value)
    message = str(info.value)
    assert re.search(case.message, message), message
    assert "\n" not in message.strip(), message
    if case.entry == "export" and case.id == "output-exists":
        assert (tmp_path / "m.onnx").read_bytes() == b"keep me"


def test_the_table_covers_every_entry_point():
    by_entry = counts()
    assert len(CASES) >= 40
    assert set(by_entry) == set(ENTRY_POINTS)
    assert all(n >= 5 for n in by_entry.values()), by_entry
    assert len({(c.entry, c.id) for c in CASES}) == len(CASES), "case ids must be unique"
    # The counts documented in the module docstring are the real ones.
    doc = __doc__ or ""
    for entry, n in by_entry.items():
        assert re.search(rf"^{entry}\s+{n}\s", doc, re.MULTILINE), (entry, n)
    print(f"hostile-input cases: {len(CASES)}", by_entry)  # shown with -s


# ---------------------------------------------------------------- model files cannot run code


def test_the_evil_pickle_really_runs_code_when_unpickled(tmp_path):
    # Proof that the refusals above matter: plain pickle.load would create the marker.
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Evil(marker)))
    assert marker.exists()


@pytest.mark.parametrize("command", ["predict", "evaluate", "info"])
def test_a_malicious_pickle_never_runs(command, files, tmp_path, capsys):
    argv = [command, str(files["evil_pkl"])]
    if command == "predict":
        argv.append(str(files["digits_npy"]))
    assert main(argv) == 1
    assert "runs any code it holds" in capsys.readouterr().err
    assert not files["marker"].exists()


@pytest.fixture(scope="module")
def tiny_pipeline(mnist):
    """600 images, 1 epoch: enough to predict, quick to fit; shared by this module."""
    X, y, _, _ = mnist
    from skdigits import make_pipeline as make

    return make(epochs=1, random_state=0, verbose=0).fit(X[:600], y[:600])


def test_allow_pickle_loads_a_trusted_joblib_pipeline(tiny_pipeline, mnist, tmp_path, capsys):
    import json

    import joblib

    _, _, X_test, _ = mnist
    model = tmp_path / "trusted.joblib"
    joblib.dump(tiny_pipeline, model)
    images = save_npy(tmp_path / "x.npy", X_test[:20])
    assert main(["predict", str(model), str(images), "--json"]) == 1
    assert "--allow-pickle" in capsys.readouterr().err
    assert main(["predict", "--allow-pickle", str(model), str(images), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    labels = [row["label"] for row in doc["predictions"]]
    assert labels == tiny_pipeline.predict(X_test[:20]).tolist()


def test_debug_shows_the_traceback(files, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        main(["--debug", "predict", str(tmp_path / "missing.onnx"), str(files["digits_npy"])])


# ---------------------------------------------------------------- atomic writes under SIGKILL

KILLED_WRITER = """
import sys, time
from pathlib import Path
from skdigits._atomic import atomic_open

dest, ready = Path(sys.argv[1]), Path(sys.argv[2])
with atomic_open(dest, "wb") as fh:
    fh.write(b"N" * (1 << 20))  # half of the new file
    fh.flush()
    ready.write_text("half written")
    time.sleep(120)  # killed here
    fh.write(b"N" * (1 << 20))
"""

KILLED_EXPORT = """
import sys, time
from pathlib import Path
import skdigits._atomic as atomic
from skdigits.cli.main import main

ready = Path(sys.argv[-1])
real = atomic.atomic_path

def stalling(path, **kwargs):
    with real(path, **kwargs) as tmp:
        yield tmp
        # The new file is complete in its temporary but not yet renamed.
        ready.write_text(str(tmp))
        time.sleep(120)  # killed here

atomic.atomic_path = __import__("contextlib").contextmanager(stalling)
sys.exit(main(sys.argv[1:-1]))
"""


def _run_and_kill(script: str, args: list[str], ready: Path, timeout: float) -> None:
    # The child finds MNIST where the parent did: $SKDIGITS_DATA if set, else the default.
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if proc.poll() is not None:
                _, err = proc.communicate()
                pytest.fail(f"writer exited {proc.returncode} early: {err.decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("writer never reached the middle of its write")
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def test_a_writer_killed_mid_write_leaves_the_old_file(tmp_path):
    """SIGKILL mid-write: the destination keeps its old bytes and readers never see a part.

    No cleanup can run after SIGKILL, so the temporary file may stay behind; what
    is asserted is that it is the only extra file, hidden (``.<name>.<random>.part``)
    beside the destination, so nothing mistakes it for the real one.
    """
    dest, ready = tmp_path / "results.csv", tmp_path / "ready"
    dest.write_bytes(b"old,good\n")
    _run_and_kill(KILLED_WRITER, [str(dest), str(ready)], ready, timeout=60)
    assert dest.read_bytes() == b"old,good\n"
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name not in {"results.csv", "ready"})
    assert all(re.fullmatch(r"\.results\.csv\..+\.part", name) for name in leftovers), leftovers


def test_an_export_killed_before_its_rename_leaves_the_old_onnx(tiny_pipeline, files, tmp_path):
    from skdigits.persistence import save_model

    model = save_model(tiny_pipeline, tmp_path / "m.skdigits")
    dest, ready = tmp_path / "m.onnx", tmp_path / "ready"
    old = files["onnx"].read_bytes()
    dest.write_bytes(old)
    argv = ["export", str(model), "-o", str(dest), "--force", "--check-images", "50", "--offline"]
    _run_and_kill(KILLED_EXPORT, [*argv, str(ready)], ready, timeout=300)
    temp = Path(ready.read_text())
    assert temp.parent == tmp_path
    assert temp.name.startswith(".m.onnx.")
    assert temp.stat().st_size > 0  # the new model was written, just never renamed
    assert dest.read_bytes() == old
    OnnxDigitClassifier(dest)  # still the old, loadable model


# ---------------------------------------------------------------- issue 15: beyond the table


def test_debug_is_accepted_after_the_command_too(files, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        main(["predict", str(tmp_path / "missing.onnx"), str(files["digits_npy"]), "--debug"])


MISSING_TRAIN_EXTRA = """
import skdigits
from skdigits import MissingDependencyError
for name in ("make_pipeline", "PixelScaler", "load_model", "default_param_grid"):
    try:
        found = getattr(skdigits, name)
        if name == "load_model":
            found("model.skdigits")
    except MissingDependencyError as err:
        print(name, "|", err)
from skdigits.cli.main import main
sys.exit(main(["search", "--subset", "100", "-o", sys.argv[1]]))
"""


def test_a_missing_train_extra_is_one_line_everywhere(run_blocked, tmp_path):
    proc = run_blocked(MISSING_TRAIN_EXTRA, {"sklearn", "scipy"}, tmp_path / "best.skdigits")
    assert proc.returncode == 1, proc.stderr
    lines = dict(line.split(" | ") for line in proc.stdout.splitlines())
    assert set(lines) == {"make_pipeline", "PixelScaler", "load_model", "default_param_grid"}
    for message in lines.values():
        assert message.endswith('install it with: pip install "skdigits[train]"'), message
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("skdigits: error: `skdigits search` needs scikit-learn")
    assert not (tmp_path / "best.skdigits").exists()


def test_measured_metadata_keeps_its_number_type(tmp_path, capsys):
    import json

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
    from starlette.testclient import TestClient

    from skdigits.serve import create_app

    with TestClient(create_app(path)) as client:
        served = client.get("/metadata").json()
    assert served["train_accuracy"] == 0.99
    assert served["fit_seconds"] == 12.5
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert isinstance(info["train_accuracy"], float)
    assert isinstance(info["fit_seconds"], float)


def test_evaluate_says_on_stderr_where_it_downloads_mnist(files, tmp_path, monkeypatch, capsys):
    from skdigits.datasets import get_data_home

    cache = get_data_home() / "mnist"
    if not (cache / "t10k-images-idx3-ubyte").exists():
        pytest.skip("MNIST is not in the default data home")
    # A "download" source that serves the real files from the cache.
    monkeypatch.setattr(
        _mnist,
        "DOWNLOAD_SOURCES",
        (_mnist.Source("the test's mirror", _mnist._local_dir_candidates(cache)),),
    )
    argv = ["evaluate", str(files["onnx"]), "--data-home", str(tmp_path / "home")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "skdigits: downloading MNIST (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) " in err
    assert "from the test's mirror into" in err
    assert "skdigits: got t10k-labels-idx1-ubyte from the test's mirror" in err
    assert main(argv) == 0  # now from the cache: nothing to say
    assert capsys.readouterr().err == ""


def test_a_closed_pipe_ends_predict_quietly(files, tmp_path):
    np.save(tmp_path / "many.npy", np.zeros((3000, 28, 28), np.uint8))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skdigits",
            "predict",
            str(files["onnx"]),
            str(tmp_path / "many.npy"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err  # 128 + SIGPIPE, as a shell reports
    assert "Traceback" not in err, err
    assert "BrokenPipe" not in err, err

"""Hostile input, faults and untrusted files, one table organised by entry point (issue 7).

Every row of ``CASES`` feeds one bad input to one entry point and asserts the
error type (or the CLI's exit status) AND the message, which must be one line
naming the problem. CLI rows also check that stderr is exactly one
``skdigits: error:`` line (usage errors: argparse's usage and one error line),
that it carries no traceback, and that the command wrote no file.

Cases by entry point (``pytest -s`` prints the live count of each):

=============  ===================================================================
entry point    what
=============  ===================================================================
datasets       IDX: bad magic, dtype code, truncated, trailing bytes, header,
               corrupt gzip, directory, unreadable, missing; fetch_mnist: labels
               outside 0-9, image/label count mismatch, wrong image shape,
               poisoned cache file (refused, never used), bad subset, foreign file
estimators     predict before fit, NaN, inf, negative, > 255, strings, objects,
               zero samples, 1-D input, X/y length mismatch, wrong feature count
export         unfitted, not a pipeline, existing output, output a directory, opset
predictor      ONNX: not ONNX, truncated, empty, pickle, zip, foreign input shape,
               foreign outputs, directory; arrays: NaN, strings, wrong shape, > 255;
               images: not an image, empty, decompression bomb, animated, truncated,
               a blank page under a lighting gradient; an array said to be [0, 1]
cli            pickle refused (by suffix and by content) in predict/evaluate/info,
               pickle of the wrong object, bad inputs and labels, existing,
               directory and unwritable outputs (export's default too), foreign models,
               usage errors;
               inputs named for what they are (text, CSV, saved model, .npz, gzip,
               pickle, empty .npy), one bad file in a batch, --scale 1 on raw
               pixels, an output in a missing folder, --offline naming
               --mnist-dir, a busy port, argparse-validated numbers
=============  ===================================================================

After the table, a section for issue 16 holds two more tables: ``BOUNDS`` (small
crafted files that used to cost gigabytes or never return, each run in a fresh
interpreter under RLIMIT_AS with a stated time and peak memory) and
``TRANSLATED`` (files that used to escape as raw exceptions); then bounded
hypothesis fuzzing of the readers and the real service under faults on loopback.

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
from skdigits.io._inputs import to_mnist_convention  # noqa: E402
from skdigits.runtime._predictor import OnnxDigitClassifier  # noqa: E402

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
    from skdigits.estimator._scaler import PixelScaler

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
    from skdigits.io._images import load_digit_image

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
def tiny_pipeline(fitted_pipeline):
    """The session's shared fitted pipeline (only read here)."""
    return fitted_pipeline


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
from skdigits._core.atomic import atomic_open

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
import skdigits._core.atomic as atomic
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
    from skdigits.estimator._saving import save_model

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


# ================================================================ issue 16: bounds and translation
#
# A separate section (and tables of its own) so that the table above keeps its
# documented counts. Two tables:
#
# - BOUNDS: small crafted files that used to cost gigabytes or never return. Each
#   runs in a fresh interpreter under an address-space limit (RLIMIT_AS) and must
#   end in the stated error, one line, within the stated time and peak memory.
# - TRANSLATED: files that used to escape as raw Python exceptions (ValueError,
#   IndexError, RecursionError, zlib.error, UnicodeDecodeError...); each must end
#   in the package's own error with a one-line message.
#
# Then: stale temporaries, a hypothesis fuzz over the readers, and the service
# under faults on loopback.

import base64  # noqa: E402
import json as _json  # noqa: E402
import tempfile  # noqa: E402
import zipfile  # noqa: E402
import zlib  # noqa: E402
from functools import lru_cache  # noqa: E402

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from test_inference import METADATA  # noqa: E402

MiB = 1024 * 1024

BOUND_RUNNER = r"""
import contextlib, io, json, resource, sys, time
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

def cli(argv):
    # The command line's answer as an exception: exit status and stderr.
    from skdigits.cli.main import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(argv)
    raise SystemExit(f"{status}: {err.getvalue()}")

start = time.perf_counter()
error = None
try:
    exec(sys.argv[2])
except BaseException as exc:
    error = [type(exc).__name__, str(exc)]
seconds = time.perf_counter() - start
# VmHWM, the peak resident memory of this process since exec (ru_maxrss would
# carry over the forking parent's).
with open("/proc/self/status") as status:
    peak = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))
print(json.dumps({"error": error, "seconds": seconds, "peak": peak}))
"""


@dataclass(frozen=True)
class Bound:
    item: int  # the issue's item number
    id: str
    make: Callable[[Path], str]  # writes the crafted file(s) in the folder, returns the code
    error: str  # the exception's class name
    message: str  # a regex the one-line message must match
    seconds: float  # the call must finish within this
    peak_mb: int  # ... with at most this peak resident memory (interpreter included)
    address_space_mb: int = 1024  # RLIMIT_AS for the run


@lru_cache(maxsize=1)
def gzip_of_zeros() -> bytes:
    """A gzip member holding 1 GiB of zeros (about 4.6 MB): the body of the IDX bombs."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    zeros = bytes(16 * MiB)
    return b"".join([*(packer.compress(zeros) for _ in range(64)), packer.flush()])


def gzip_bomb(path: Path, head: bytes) -> Path:
    # Two gzip members read as one stream: ``head``, then 1 GiB of zeros.
    return write(path, gzip.compress(head) + gzip_of_zeros())


GOOD_MANIFEST: dict[str, Any] = {
    "format": "skdigits-pipeline",
    "format_version": 1,
    "skdigits_version": "0.1.0",
    "steps": [
        {"name": "scale", "class": "PixelScaler", "params": {}},
        {"name": "clf", "class": "DigitClassifier", "params": {"hidden_units": 100}},
    ],
    "classes": list(range(10)),
    "classes_dtype": "<i8",
    "input_shape": [28, 28],
    "input_dtype": "|u1",
    "scaler_n_features_in": 784,
    "history": {"loss": [0.5, 0.3]},
    "metadata": {"test_accuracy": 0.9},
}


def skdigits_file(
    path: Path,
    manifest: Any = None,
    *,
    keras: bytes = b"PK\x05\x06" + bytes(18),
    raw_manifest: bytes | None = None,
    **changes: Any,
) -> Path:
    """A .skdigits archive: GOOD_MANIFEST with ``changes`` (or ``manifest``), and ``keras``."""
    if manifest is None:
        manifest = {**GOOD_MANIFEST, **changes}
    data = raw_manifest if raw_manifest is not None else _json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", data)
        zf.writestr("model.keras", keras)
    return path


def params(**changes: Any) -> list[dict[str, Any]]:
    """GOOD_MANIFEST's steps with the classifier's parameters changed."""
    steps = _json.loads(_json.dumps(GOOD_MANIFEST["steps"]))
    steps[1]["params"].update(changes)
    return steps


def zip_bomb(path: Path, member_bytes: int) -> Path:
    """A good manifest and a model.keras of ``member_bytes`` zeros, deflated."""
    zeros = bytes(16 * MiB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("manifest.json", _json.dumps(GOOD_MANIFEST))
        with zf.open("model.keras", "w", force_zip64=True) as member:
            for start in range(0, member_bytes, len(zeros)):
                member.write(zeros[: min(len(zeros), member_bytes - start)])
    return path


def keras_archive(config: Any) -> bytes:
    """A Keras-format zip holding ``config`` as config.json and a small weights file."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("config.json", _json.dumps(config))
        zf.writestr("metadata.json", "{}")
        zf.writestr("model.weights.h5", bytes(1000))
    return buf.getvalue()


def onnx_file(
    path: Path,
    extra_nodes: list[Any] = (),  # type: ignore[assignment]
    extra_inits: list[Any] = (),  # type: ignore[assignment]
    *,
    logits: str = "logits",
    metadata: dict[str, str] | None = None,
    proba_width: int | str = 10,
    rows_shape: tuple[int, int] = (-1, 784),
    external: bool = False,
) -> Path:
    """A contract-shaped ONNX model (÷255, MatMul, Add, Softmax, ArgMax) with extra nodes.

    ``logits`` names the tensor Softmax reads, so extra nodes can sit in the path;
    ``external`` stores the weights as external data in ``secret.txt``.
    """
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.normal(size=(784, 10)).astype(np.float32), "W")
    if external:
        weights.ClearField("raw_data")
        weights.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "secret.txt"), ("offset", "0"), ("length", "31360")):
            weights.external_data.add(key=key, value=value)
    inits = [
        numpy_helper.from_array(np.array(255.0, dtype=np.float32), "scale"),
        numpy_helper.from_array(np.array(rows_shape, dtype=np.int64), "rows_shape"),
        weights,
        numpy_helper.from_array(np.zeros(10, dtype=np.float32), "B"),
        *extra_inits,
    ]
    nodes = [
        helper.make_node("Div", ["pixels", "scale"], ["scaled"]),
        helper.make_node("Reshape", ["scaled", "rows_shape"], ["rows"]),
        helper.make_node("MatMul", ["rows", "W"], ["logits0"]),
        helper.make_node("Add", ["logits0", "B"], ["logits"]),
        *extra_nodes,
        helper.make_node("Softmax", [logits], ["probabilities"], axis=-1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "digits",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 28, 28])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", proba_width]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, METADATA if metadata is None else metadata)
    path.write_bytes(model.SerializeToString())
    return path


def constant_of_shape_model(path: Path) -> Path:
    """Adds the sum of a 16 GB ConstantOfShape to the logits: a run-time allocation bomb."""
    shape = numpy_helper.from_array(np.array([4_000_000_000], dtype=np.int64), "big_shape")
    nodes = [
        helper.make_node("ConstantOfShape", ["big_shape"], ["big"]),
        helper.make_node("ReduceSum", ["big"], ["big_sum"], keepdims=0),
        helper.make_node("Add", ["logits", "big_sum"], ["logits_big"]),
    ]
    return onnx_file(path, nodes, [shape], logits="logits_big")


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
    return onnx_file(path, nodes, inits, logits="looped")


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
    return onnx_file(path, nodes, inits, logits="logits_bad", **kwargs)


def npy_header_only(path: Path, shape: tuple[int, ...]) -> Path:
    """A .npy file whose header declares ``shape`` of float32 and holds no data."""
    with open(path, "wb") as fh:
        header = {"descr": "<f4", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_2_0(fh, header)
    return path


def fifo(path: Path) -> Path:
    """A named pipe nobody writes to: opening it for reading would wait for ever."""
    os.mkfifo(path)
    return path


def idx_header(code: int, shape: tuple[int, ...]) -> bytes:
    return struct.pack(f">BBBB{len(shape)}I", 0, 0, code, len(shape), *shape)


def code_load_idx(path: Path) -> str:
    return f"from skdigits.datasets import load_idx; load_idx({str(path)!r})"


def code_load_model(path: Path) -> str:
    return f"from skdigits.estimator._saving import load_model; load_model({str(path)!r})"


def code_predict(path: Path) -> str:
    return (
        "import numpy as np; from skdigits.runtime._predictor import OnnxDigitClassifier; "
        f"OnnxDigitClassifier({str(path)!r}).predict(np.zeros((2, 28, 28), np.float32))"
    )


BOUNDS: list[Bound] = [
    # 1. gzip IDX bombs: the header is read first, the body only as far as declared
    Bound(
        1,
        "idx-gzip-bomb-bad-magic",
        lambda d: code_load_idx(gzip_bomb(d / "bomb-idx3.gz", b"\x01\x02\x08\x03")),
        "DataError",
        r"bad magic bytes 0x01020803",
        seconds=5,
        peak_mb=150,
        address_space_mb=768,  # less than the 1 GiB the stream holds
    ),
    Bound(
        1,
        "idx-gzip-bomb-after-a-valid-header",
        lambda d: code_load_idx(gzip_bomb(d / "bomb-idx1.gz", idx_header(0x08, (10,)))),
        "DataError",
        r"has trailing bytes: shape \(10,\) of uint8 needs 10 data bytes, found more than 10",
        seconds=5,
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        1,
        "idx-gzip-declares-more-than-the-limit",
        lambda d: code_load_idx(write(d / "x.gz", gzip.compress(idx_header(0x0E, (2**31, 2))))),
        "DataError",
        r"declares shape \(2147483648, 2\) of float64, 34359738368 bytes, over the limit",
        seconds=5,
        peak_mb=150,
        address_space_mb=768,
    ),
    # 2. .skdigits bombs: member sizes and ratios checked before anything is extracted
    Bound(
        2,
        "skdigits-member-over-the-size-cap",
        lambda d: code_load_model(zip_bomb(d / "bomb.skdigits", 300 * MiB)),
        "ModelFileError",
        r"member 'model\.keras' unpacks to 314572800 bytes, over the limit of 268435456",
        seconds=10,
        peak_mb=200,
    ),
    Bound(
        2,
        "skdigits-member-compressed-like-a-bomb",
        lambda d: code_load_model(zip_bomb(d / "bomb.skdigits", 64 * MiB)),
        "ModelFileError",
        r"member 'model\.keras' is compressed \d+:1 .*over the limit of 50:1; "
        r"this looks like a zip bomb",
        seconds=10,
        peak_mb=200,
    ),
    # 3. manifest values bounded (and checked against the stored weights) before building
    Bound(
        3,
        "manifest-hidden-units-1e7",
        lambda d: code_load_model(
            skdigits_file(d / "m.skdigits", steps=params(hidden_units=10**7))
        ),
        "ModelFileError",
        r"`hidden_units` is 10000000, expected 1 to 10000",
        seconds=10,
        peak_mb=200,
    ),
    Bound(
        3,
        "manifest-a-million-classes",
        lambda d: code_load_model(skdigits_file(d / "m.skdigits", classes=list(range(10**6)))),
        "ModelFileError",
        r"`classes` is \[0, 1, 2, .*expected a list of 1 to 1000",
        seconds=10,
        peak_mb=400,
    ),
    Bound(
        3,
        "manifest-huge-input-shape",
        lambda d: code_load_model(skdigits_file(d / "m.skdigits", input_shape=[10**6, 10**6])),
        "ModelFileError",
        r"`input_shape` is \[1000000, 1000000\], expected \[28, 28\] or \[784\]",
        seconds=10,
        peak_mb=200,
    ),
    Bound(
        3,
        "keras-config-declares-1e8-units",
        lambda d: code_load_model(
            skdigits_file(
                d / "m.skdigits",
                keras=keras_archive({"config": {"layers": [{"config": {"units": 10**8}}]}}),
            )
        ),
        "ModelFileError",
        r"config\.json declares units 100000000, outside what skdigits builds",
        seconds=10,
        peak_mb=200,
    ),
    # 4. ONNX graphs that allocate or loop at run time are refused at load
    Bound(
        4,
        "onnx-constant-of-shape-16-gb",
        lambda d: code_predict(constant_of_shape_model(d / "cos.onnx")),
        "ModelFileError",
        r"uses operator 'ConstantOfShape', which skdigits' exporters never emit",
        seconds=10,
        peak_mb=200,
    ),
    Bound(
        4,
        "onnx-loop-of-1e12-steps",
        lambda d: code_predict(loop_model(d / "loop.onnx")),
        "ModelFileError",
        r"uses operator 'Loop', which skdigits' exporters never emit",
        seconds=10,
        peak_mb=200,
    ),
    Bound(
        4,
        "onnx-fails-at-run-time-in-predict",
        lambda d: code_predict(runtime_failure_model(d / "m.onnx")),
        "ModelFileError",
        r"m\.onnx' failed while predicting \(onnxruntime: .*Reshape",
        seconds=10,
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
        seconds=10,
        peak_mb=200,
    ),
    # 5. declared sizes checked before allocating; regular files only
    Bound(
        5,
        "npy-declares-1e11-images",
        lambda d: (
            "from skdigits.datasets import load_npy; "
            f"load_npy({str(npy_header_only(d / 'x.npy', (10**11, 784)))!r})"
        ),
        "DataError",
        r"declares an array of shape \(100000000000, 784\) and dtype float32, "
        r"313600000000000 bytes, over the limit",
        seconds=5,
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        5,
        "cli-predict-npy-declaring-1e11-images",
        lambda d: (
            f"cli(['predict', {str(onnx_file(d / 'm.onnx'))!r}, "
            f"{str(npy_header_only(d / 'x.npy', (10**11, 784)))!r}])"
        ),
        "SystemExit",
        r"^1: skdigits: error: .*x\.npy declares an array of shape \(100000000000, 784\)",
        seconds=10,
        peak_mb=200,
    ),
    Bound(
        5,
        "idx-dev-zero",
        lambda d: code_load_idx(Path("/dev/zero")),
        "DataError",
        r"IDX path '/dev/zero' is not a regular file \(a device, pipe or socket\)",
        seconds=5,
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        5,
        "idx-a-fifo-without-a-writer",
        lambda d: code_load_idx(fifo(d / "fifo-idx3-ubyte")),
        "DataError",
        r"IDX path '.*fifo-idx3-ubyte' is not a regular file",
        seconds=5,
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        5,
        "npy-a-fifo-without-a-writer",
        lambda d: f"from skdigits.datasets import load_npy; load_npy({str(fifo(d / 'x.npy'))!r})",
        "DataError",
        r"\.npy path '.*x\.npy' is not a regular file",
        seconds=5,
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        5,
        "cli-predict-dev-zero",
        lambda d: f"cli(['predict', {str(onnx_file(d / 'm.onnx'))!r}, '/dev/zero'])",
        "SystemExit",
        r"^1: skdigits: error: input '/dev/zero' is not a regular file",
        seconds=10,
        peak_mb=200,
    ),
    Bound(
        5,
        "image-dev-zero",
        lambda d: "from skdigits.io._images import load_digit_image; load_digit_image('/dev/zero')",
        "DataError",
        r"image '/dev/zero' is not a regular file",
        seconds=5,
        peak_mb=150,
        address_space_mb=768,
    ),
]


@pytest.mark.parametrize("case", BOUNDS, ids=[f"{c.item}:{c.id}" for c in BOUNDS])
def test_a_small_hostile_file_costs_bounded_time_and_memory(case, tmp_path):
    code = case.make(tmp_path)
    limit = case.address_space_mb * MiB
    result = subprocess.run(
        [sys.executable, "-c", BOUND_RUNNER, str(limit), code],
        capture_output=True,
        text=True,
        timeout=case.seconds * 3 + 60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = _json.loads(result.stdout.strip().splitlines()[-1])
    assert report["error"] is not None, "the hostile file was accepted"
    name, message = report["error"]
    assert name == case.error, (name, message)
    assert re.search(case.message, message), message
    assert "\n" not in message.strip(), message
    assert report["seconds"] <= case.seconds, report
    assert report["peak"] <= case.peak_mb * MiB, report
    print(f"{case.id}: {report['seconds']:.2f} s, peak {report['peak'] / MiB:.0f} MB")


@dataclass(frozen=True)
class Translated:
    item: int
    id: str
    act: Callable[[Path], Any]  # raises; for CLI rows returns the argv
    error: type[BaseException] | int  # an exception type, or the CLI's exit status
    message: str


# The crafted GIF: three frames with one descriptor overwritten, as a fuzzer made
# it. Pillow's frame seeking raised IndexError on it in the animation check.
BAD_GIF = zlib.decompress(
    base64.b64decode(
        "eNpz93SzME8UYBBgaGcAAUZGRiYmJmZmZhYWFnZ2dg6gEDMXLy8vHx8fPz+/gICAoKCgkJCQiIiIqKiomJiY"
        "uLi4lJSUrKysvLy8goKCkpKSioqKqqqqmpqapqamlpaWjo6Orq6unp6evr6+oaGhkZGRpaWllZWVtbW1ra2t"
        "vb29k5OTs7Ozi4uLq6urp6enj4+Pn5+fv79/QEBAYGBgUFBQcHBwaGhoWFhYeHh4dHR0bGxsXFxcYmJiUlJS"
        "cnJySkpKenp6ZmZmdnZ2Tk5Obm5uQUFBUVFRaWlpRUVFVVVVdXV1TU1NXV1dfX19Y2NjU1NTa2trW1tbZ2dn"
        "V1dXT09Pb29vX19ff3//xIkTJ0+ePHXq1GnTpk2fPn3mzJmzZs2aM2fOvHnz5s+fv2DBgoULFy5atGjp0qXL"
        "li1bvnz5qlWrVq9evW7duvXr12/evHnr1q3btm3bvn37zp07d+3atXv37r179+7bt+/gwYOHDx8+evTo8ePH"
        "T5w4cfLkydOnT585c+bcuXPnz5+/cOHCxYsXL1++fOXKlWvXrt24cePWrVu3b9++c+fO3bt37927d//+/QcP"
        "Hjx69Ojx48cvXrx4+fLl69ev37x58/bt23fv3n348OHjx4+fP3/+8uXL169fv3379uPHj58/f/769evPnz9/"
        "//799+8fwyggDuiACFBecOD4z3B4iYVDwvlFunkLHB4xO0xgNJfRWLNDyfX8FFG7HxULW5S9pjlIRMzgFHzZ"
        "1qLf1+ITxLTktJqnyyyHEyGqDLI+EQk1BsyHuqZ58epsyHz0yEPJw2zVkRNOye1KgrEGMV5XjnN02vQG2Ah+"
        "etEgrcdaxOJY1OnXLdIiYLhy48tWdpdqrkbPRQd5eExdpt3pTFBtkVOZxeGY+HExA6tx0o4nD6a87JEwsZb7"
        "szH4UUCTpGTbA8nGBe4c+4omWWx8/Lh3lrvwLYtNJg0Bal45HCcSH2UwKrCZNkUsKlrkoiRoKyb74vHh/gZp"
        "vmMrPIRXMimypmpYdhmfONJqlG32IcLlKBeHuhcoHDYu4GWRa+vSmXV4hRMzm5zWU8NN7twzXbn/PZmwceW5"
        "ifKMjAzWAJ+BZkg="
    )
)


def onnx_with_raw_metadata(path: Path, key: str, raw: bytes) -> Path:
    """A good model whose metadata ``key`` holds ``raw`` bytes, UTF-8 or not."""
    placeholder = "PLACEHOLDER-0123456789AB"
    raw = raw.ljust(len(placeholder), b" ")
    meta = {**METADATA, key: placeholder}
    data = onnx_file(path, metadata=meta).read_bytes()
    assert data.count(placeholder.encode()) == 1
    return write(path, data.replace(placeholder.encode(), raw))


@lru_cache(maxsize=1)
def good_ort_bytes() -> bytes:
    """A good model converted to onnxruntime's ORT format by onnxruntime's own tool."""
    with tempfile.TemporaryDirectory() as scratch:
        source = onnx_file(Path(scratch) / "m.onnx")
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
    return write(path, onnx_file(path, metadata=meta).read_bytes().replace(b"pixels", b"pixel\xff"))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def corrupt_deflate(path: Path) -> Path:
    """A .skdigits whose manifest's deflate stream starts with an invalid block type."""
    skdigits_file(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("manifest.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start] = 0xFF  # block type 3: reserved, an error for every inflater
    return write(path, bytes(data))


def load_metadata(path: Path) -> Any:
    from skdigits.model_io._format import load_metadata as read

    return read(path)


def read_onnx_metadata(path: Path) -> Any:
    from skdigits.export import read_metadata

    return read_metadata(path)


def service_upload(path: Path) -> Any:
    """POST the bad GIF to a real app (in-process); raise the answer as an exception."""
    from starlette.testclient import TestClient

    from skdigits.serve import create_app

    with TestClient(create_app(onnx_file(path / "m.onnx"))) as client:
        reply = client.post("/predict", content=BAD_GIF, headers={"content-type": "image/gif"})
    raise DataError(f"{reply.status_code}: {reply.json()['error']}")


TRANSLATED: list[Translated] = [
    # 6. load_idx: numpy's ValueErrors
    Translated(
        6,
        "idx-65-dimensions",
        lambda d: load_idx(write(d / "a", idx_header(0x08, (1,) * 65) + b"\0")),
        DataError,
        r"declares 65 dimensions, more than the 64 an array can have",
    ),
    Translated(
        6,
        "idx-dims-that-overflow",
        lambda d: load_idx(write(d / "a", idx_header(0x08, (2**32 - 1, 2**32 - 1, 0)))),
        DataError,
        r"declares shape \(4294967295, 4294967295, 0\) of uint8, .* over the limit",
    ),
    Translated(
        6,
        "cli-predict-idx-that-overflows",
        lambda d: [
            "predict",
            onnx_file(d / "m.onnx"),
            write(d / "x-idx3", idx_header(0x08, (2**32 - 1, 2**32 - 1, 0))),
        ],
        1,
        r"x-idx3' declares shape \(4294967295, 4294967295, 0\)",
    ),
    # 7. Pillow's other exceptions
    Translated(
        7,
        "gif-index-error-in-the-animation-check",
        lambda d: load_image(write(d / "bad.gif", BAD_GIF)),
        DataError,
        r"image '.*bad\.gif' is truncated or damaged \(IndexError: ",
    ),
    Translated(
        7,
        "cli-predict-bad-gif",
        lambda d: ["predict", onnx_file(d / "m.onnx"), write(d / "bad.gif", BAD_GIF)],
        1,
        r"bad\.gif' is truncated or damaged \(IndexError",
    ),
    Translated(
        7,
        "service-bad-gif-is-a-422",
        service_upload,
        DataError,
        r"^422: image '<in-memory file>' is truncated or damaged \(IndexError",
    ),
    # 8. ONNX metadata
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
            onnx_file(d / "m.onnx", metadata={**METADATA, "classes": nested(100_000)})
        ),
        ModelFileError,
        r"has malformed `classes` metadata '\[\[\[.*\.\.\.' \(",
    ),
    Translated(
        8,
        "onnx-hyperparameters-nested-100000-deep",
        lambda d: read_onnx_metadata(
            onnx_file(d / "m.onnx", metadata={**METADATA, "hyperparameters": nested(100_000)})
        ),
        ModelFileError,
        r"has malformed `hyperparameters` metadata",
    ),
    Translated(
        8,
        "onnx-classes-holding-1e30",
        lambda d: OnnxDigitClassifier(
            onnx_file(d / "m.onnx", metadata={**METADATA, "classes": f"[{10**30}, 1]"})
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
    # 9. saved pipelines: load_metadata, load_model and skdigits info
    Translated(
        9,
        "manifest-nested-100000-deep",
        lambda d: load_metadata(
            skdigits_file(d / "m.skdigits", raw_manifest=nested(100_000).encode())
        ),
        ModelFileError,
        r"manifest\.json is corrupt \(maximum recursion depth exceeded",
    ),
    Translated(
        9,
        "manifest-corrupt-deflate-stream",
        lambda d: load_metadata(corrupt_deflate(d / "m.skdigits")),
        ModelFileError,
        r"manifest\.json is corrupt \(Error -3 while decompressing data: invalid block type\)",
    ),
    Translated(
        9,
        "manifest-history-a-string",
        lambda d: load_metadata(skdigits_file(d / "m.skdigits", history={"loss": "low"})),
        ModelFileError,
        r"`history` entry 'loss' is 'low', not a list of numbers",
    ),
    Translated(
        9,
        "manifest-negative-input-shape",
        lambda d: load_metadata(skdigits_file(d / "m.skdigits", input_shape=[-28, -28])),
        ModelFileError,
        r"`input_shape` is \[-28, -28\], expected \[28, 28\] or \[784\]",
    ),
    Translated(
        9,
        "manifest-empty-classes",
        lambda d: load_metadata(skdigits_file(d / "m.skdigits", classes=[])),
        ModelFileError,
        r"`classes` is \[\], expected a list of 1 to 1000",
    ),
    Translated(
        9,
        "manifest-callbacks-entry",
        lambda d: load_metadata(
            skdigits_file(d / "m.skdigits", steps=params(callbacks=["EarlyStopping"]))
        ),
        ModelFileError,
        r"parameter `callbacks` is \['EarlyStopping'\]: the safe format stores no model "
        r"functions or callbacks",
    ),
    Translated(
        9,
        "manifest-model-entry",
        lambda d: load_metadata(skdigits_file(d / "m.skdigits", steps=params(model="os.system"))),
        ModelFileError,
        r"parameter `model` is 'os\.system'",
    ),
    Translated(
        9,
        "load-model-with-a-routed-model-parameter",
        lambda d: code_and_run_load_model(
            skdigits_file(d / "m.skdigits", steps=params(model__hidden=5))
        ),
        ModelFileError,
        r"parameter `model__hidden` is 5",
    ),
    Translated(
        3,
        "manifest-network-larger-than-the-stored-weights",
        lambda d: code_and_run_load_model(
            skdigits_file(
                d / "m.skdigits",
                steps=params(hidden_units=10_000),
                keras=keras_archive({"class_name": "Sequential", "config": {"layers": []}}),
            )
        ),
        ModelFileError,
        r"the stored weights \(1000 bytes\) are too few for the network the manifest "
        r"describes \(7950010 float32 values\)",
    ),
    Translated(
        9,
        "cli-info-manifest-without-steps",
        lambda d: [
            "info",
            skdigits_file(
                d / "m.skdigits", {k: v for k, v in GOOD_MANIFEST.items() if k != "steps"}
            ),
        ],
        1,
        r"the manifest's `steps` is None, expected a list of 2 steps",
    ),
    Translated(
        9,
        "cli-info-metadata-a-list",
        lambda d: ["info", skdigits_file(d / "m.skdigits", metadata=[1, 2])],
        1,
        r"the manifest's `metadata` is \[1, 2\], expected an object",
    ),
    Translated(
        9,
        "cli-info-nested-manifest",
        lambda d: ["info", skdigits_file(d / "m.skdigits", raw_manifest=nested(100_000).encode())],
        1,
        r"manifest\.json is corrupt",
    ),
    # 10. external data is refused before onnxruntime could read ./secret.txt
    Translated(
        10,
        "onnx-external-data",
        lambda d: OnnxDigitClassifier(onnx_file(d / "m.onnx", external=True)),
        ModelFileError,
        r"stores tensors as external data \(in files beside it\); skdigits' models hold all "
        r"their weights and never read other files",
    ),
    Translated(
        10,
        "onnx-external-data-in-read-metadata",
        lambda d: read_onnx_metadata(onnx_file(d / "m.onnx", external=True)),
        ModelFileError,
        r"stores tensors as external data",
    ),
]


def code_and_run_load_model(path: Path) -> Any:
    from skdigits.estimator._saving import load_model

    return load_model(path)


@pytest.mark.parametrize("case", TRANSLATED, ids=[f"{c.item}:{c.id}" for c in TRANSLATED])
def test_a_raw_exception_becomes_a_skdigits_error(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    secret = write(tmp_path / "secret.txt", b"TOP SECRET " * 2851)  # 31,361 bytes
    if isinstance(case.error, int):
        assert main([str(a) for a in case.act(tmp_path)]) == case.error
        err = capsys.readouterr().err
        assert err.startswith("skdigits: error: "), err
        assert err.count("\n") == 1, err
        assert "Traceback" not in err
        assert re.search(case.message, err), err
        return
    with pytest.raises(case.error) as info:
        case.act(tmp_path)
    message = str(info.value)
    assert re.search(case.message, message), message
    assert "\n" not in message.strip(), message
    assert b"SECRET" not in message.encode()
    assert secret.exists()


def test_every_item_of_issue_16_has_rows():
    items = {c.item for c in BOUNDS} | {c.item for c in TRANSLATED}
    assert items >= set(range(1, 11)), sorted(items)
    ids = [c.id for c in BOUNDS] + [c.id for c in TRANSLATED]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- 14. temporaries


def test_stale_part_files_are_removed_on_the_next_write(tmp_path):
    """A killed writer's hidden .part (file or folder) over an hour old goes on the next write."""
    from skdigits._core.atomic import write_bytes_atomic

    dest = tmp_path / "m.onnx"
    stale_file = write(tmp_path / ".m.onnx.k1ll3d.part", b"half a model")
    stale_dir = tmp_path / ".m.onnx.abc123.part"
    write(stale_dir / "model.keras", b"scratch")
    fresh = write(tmp_path / ".m.onnx.running.part", b"another writer, still at work")
    other = write(tmp_path / ".other.onnx.old.part", b"not ours")
    two_hours_ago = time.time() - 7200
    for path in (stale_file, stale_dir, other):
        os.utime(path, (two_hours_ago, two_hours_ago))
    write_bytes_atomic(dest, b"new model")
    assert dest.read_bytes() == b"new model"
    assert not stale_file.exists()
    assert not stale_dir.exists()
    assert fresh.exists()  # may belong to a writer still running
    assert other.exists()  # the temporary of another destination


def test_save_model_writes_its_scratch_files_beside_the_target_only(
    tiny_pipeline, tmp_path, monkeypatch
):
    import tempfile

    from skdigits.estimator._saving import load_model, save_model

    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    target = tmp_path / "out" / "m.skdigits"
    seen: list[set[str]] = []
    real_save = type(tiny_pipeline[-1].model_).save

    def spying_save(model, path, *args, **kwargs):
        seen.append({p.name for p in target.parent.iterdir()})
        return real_save(model, path, *args, **kwargs)

    monkeypatch.setattr(type(tiny_pipeline[-1].model_), "save", spying_save)
    save_model(tiny_pipeline, target)
    assert list(system_temp.iterdir()) == []  # nothing in the system's temporary folder
    assert any(re.fullmatch(r"\.m\.skdigits\..+\.part", n) for n in seen[0]), seen
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.skdigits"]
    assert load_model(target).predict(np.zeros((1, 28, 28), np.uint8)).shape == (1,)


# ---------------------------------------------------------------- fuzzing the readers (hypothesis)

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from skdigits import SkdigitsError  # noqa: E402

# Bounded so the suite stays fast: a few hundred cases per reader, no deadline
# (the machine is shared), no example database written into the checkout.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def outcome(call: Callable[..., Any], *args: Any) -> Any:
    """What ``call`` returns, or the SkdigitsError it raises; anything else fails the test."""
    try:
        return call(*args)
    except SkdigitsError as err:
        return err


def assert_one_line(result: Any, error: type[BaseException]) -> None:
    if isinstance(result, SkdigitsError):
        assert isinstance(result, error), repr(result)
        assert "\n" not in str(result), str(result)


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """``base`` with a few bytes or words overwritten, possibly truncated."""
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        word = draw(st.sampled_from([1, 2, 4]))
        value = draw(
            st.one_of(st.sampled_from([0, 1, 0xFF, 0xFFFF, 0xFFFFFFFF]), st.integers(0, 2**32 - 1))
        )
        data[at : at + word] = (value % (1 << (8 * word))).to_bytes(word, "little")[
            : len(data) - at
        ]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@st.composite
def idx_files(draw) -> bytes:
    """Raw or gzipped IDX files: near-valid headers with bodies of any length, or noise."""
    if draw(st.booleans()):
        content = draw(st.binary(max_size=64))
    else:
        code = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07, 0x0F]))
        shape = draw(
            st.lists(st.one_of(st.integers(0, 5), st.just(2**32 - 1)), min_size=0, max_size=70)
        )
        body = draw(st.binary(max_size=200))
        content = idx_header(code, tuple(shape)) + body
        content = draw(mutated(content))
    return gzip.compress(content) if draw(st.booleans()) else content


@FUZZ
@given(content=idx_files())
def test_fuzz_load_idx_raises_only_data_errors(content, tmp_path):
    result = outcome(load_idx, write(tmp_path / "fuzz-idx", content))
    assert_one_line(result, DataError)
    assert isinstance(result, np.ndarray | DataError)


def _image_bases() -> list[bytes]:
    img = Image.fromarray((np.random.default_rng(0).random((16, 16)) * 255).astype(np.uint8))
    bases = []
    for fmt, options in (
        ("PNG", {}),
        ("JPEG", {}),
        ("BMP", {}),
        ("WEBP", {}),
        ("PPM", {}),
        ("TIFF", {"save_all": True, "append_images": [img]}),
        ("GIF", {"save_all": True, "append_images": [img, img]}),
        ("TIFF", {"compression": "tiff_lzw"}),
    ):
        buf = io.BytesIO()
        img.save(buf, format=fmt, **options)
        bases.append(buf.getvalue())
    return [*bases, BAD_GIF]


IMAGE_BASES = _image_bases()


@FUZZ
@given(data=st.data())
def test_fuzz_load_digit_image_raises_only_data_errors(data):
    from skdigits.io._images import load_digit_image

    content = data.draw(mutated(data.draw(st.sampled_from(IMAGE_BASES))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = outcome(load_digit_image, io.BytesIO(content))
    assert_one_line(result, DataError)
    assert isinstance(result, DataError) or result.shape == (28, 28)


JSON_TEXT = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
).map(_json.dumps)
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
    from skdigits.runtime._checks import decode_metadata

    result = outcome(lambda: decode_metadata(raw, "'m.onnx'", strict=strict))
    assert_one_line(result, ModelFileError)
    assert isinstance(result, ModelFileError) or set(result) == set(raw)


@pytest.fixture(scope="module")
def good_onnx_bytes(tmp_path_factory) -> bytes:
    return onnx_file(tmp_path_factory.mktemp("fuzz") / "m.onnx").read_bytes()


@settings(FUZZ, max_examples=400)
@given(content=st.one_of(st.binary(max_size=64), st.binary(max_size=8).map(lambda b: b"\x3a" + b)))
def test_fuzz_the_protobuf_reader_raises_only_model_file_errors(content):
    """Raw bytes, and bytes that start like a graph field, through the structural check.

    (Hypothesis found this reader descending into a graph sent as a number.)
    """
    from skdigits.runtime._checks import inspect_onnx

    assert_one_line(outcome(inspect_onnx, content, "'m.onnx'"), ModelFileError)


@FUZZ
@given(data=st.data())
def test_fuzz_ort_format_files_raise_only_model_file_errors(data, tmp_path):
    """Mutated ORT-format files through the flatbuffer reader and the predictor."""
    from skdigits.runtime._checks import inspect_onnx

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


# ---------------------------------------------------------------- 11-13. the service under faults
#
# The real server (`skdigits serve`, uvicorn with httptools) on 127.0.0.1, started
# under an address-space limit; every client below is bounded in count and time.

import contextlib as _contextlib  # noqa: E402
import http.client  # noqa: E402
import selectors  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402

SERVER_ADDRESS_SPACE = 6 * 1024 * MiB


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _limit_address_space() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (SERVER_ADDRESS_SPACE, SERVER_ADDRESS_SPACE))


def peak_rss(pid: int) -> int:
    """VmHWM of a process: its peak resident memory so far, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


@_contextlib.contextmanager
def running_server(argv: list[str]):
    """Run ``argv`` (a server taking the port as its last argument); yield (port, process)."""
    port = _free_port()
    proc = subprocess.Popen(
        [*argv, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_limit_address_space,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            with _contextlib.suppress(OSError):
                if get(port, "/healthz")[0] == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("server did not start within 60 s")
            time.sleep(0.1)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve_argv(model: Path, *flags: str) -> list[str]:
    return [
        sys.executable, "-m", "skdigits", "serve", str(model), "--log-level", "warning",
        *flags, "--port",
    ]  # fmt: skip


def get(port: int, path: str, timeout: float = 5) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def post(port: int, body: bytes, content_type: str, timeout: float = 5) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/predict", body=body, headers={"Content-Type": content_type})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


JSON_IMAGE = _json.dumps({"pixels": np.zeros((28, 28), int).tolist()}).encode()


def test_the_service_drops_stalled_clients_and_keeps_answering(tmp_path):
    """Slowloris, stalled bodies, a huge header block and an idle keep-alive connection are
    all dropped within their timeouts, while valid requests keep getting answers."""
    model = onnx_file(tmp_path / "m.onnx")
    flags = ["--header-timeout", "1", "--body-timeout", "1", "--keep-alive-timeout", "1"]
    flags += ["--max-header-bytes", "16384", "--limit-concurrency", "200"]
    with running_server(serve_argv(model, *flags)) as (port, _):
        start = time.monotonic()
        closed: dict[str, float] = {}
        replies: dict[str, bytes] = collections.defaultdict(bytes)
        sockets: dict[str, socket.socket] = {}

        def connect(name: str, first: bytes) -> None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(first)
            sock.setblocking(False)
            sockets[name] = sock

        for i in range(20):  # slowloris: a header line every 0.3 s, never the blank line
            connect(f"slow{i}", b"POST /predict HTTP/1.1\r\nHost: x\r\n")
        for i in range(5):  # a large Content-Length, then 4 bytes
            connect(
                f"stall{i}",
                b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                b"Content-Length: 100000\r\n\r\nabcd",
            )
        connect("keepalive", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        huge = socket.create_connection(("127.0.0.1", port), timeout=5)
        with _contextlib.suppress(OSError):  # the server may close before all is sent
            huge.sendall(b"GET /healthz HTTP/1.1\r\n" + b"X-Filler: " + b"a" * 100_000 + b"\r\n")
        huge_reply = huge.recv(4096)
        huge.close()

        selector = selectors.DefaultSelector()
        for name, sock in sockets.items():
            selector.register(sock, selectors.EVENT_READ, name)
        answers: list[tuple[int, float]] = []
        next_trickle = next_request = time.monotonic()
        # Until every stalled client is gone, and at least 3 s of valid traffic.
        while (sockets or time.monotonic() - start < 3) and time.monotonic() - start < 8:
            now = time.monotonic()
            if now >= next_trickle:
                next_trickle = now + 0.3
                for name, sock in list(sockets.items()):
                    if name.startswith("slow"):
                        with _contextlib.suppress(BlockingIOError, OSError):
                            sock.send(b"X-Slow: 1\r\n")
            if now >= next_request:  # valid traffic meanwhile, on fresh connections
                next_request = now + 0.25
                t0 = time.monotonic()
                status = get(port, "/healthz")[0]
                status2 = post(port, JSON_IMAGE, "application/json")[0]
                answers.append((max(status, status2), time.monotonic() - t0))
            for key, _ in selector.select(timeout=0.05):
                name = key.data
                try:
                    chunk = sockets[name].recv(65536)
                except (ConnectionResetError, BrokenPipeError):
                    chunk = b""
                except BlockingIOError:
                    continue
                replies[name] += chunk
                if not chunk:
                    closed[name] = time.monotonic() - start
                    selector.unregister(sockets[name])
                    sockets.pop(name).close()
        for sock in sockets.values():
            sock.close()

    assert not sockets, f"still open after 8 s: {sorted(sockets)}"
    slow = [closed[f"slow{i}"] for i in range(20)]
    assert max(slow) <= 1 + 1.5, slow  # the header deadline, plus scheduling slack
    for i in range(5):
        assert replies[f"stall{i}"].startswith(b"HTTP/1.1 408 "), replies[f"stall{i}"][:200]
        assert closed[f"stall{i}"] <= 1 + 1.5, closed
    assert replies["keepalive"].startswith(b"HTTP/1.1 200 ")
    assert closed["keepalive"] <= 1 + 1.5, closed  # the keep-alive timeout
    assert huge_reply.startswith(b"HTTP/1.1 431 "), huge_reply[:200]
    assert len(answers) >= 8, answers
    assert all(status == 200 for status, _ in answers), answers
    assert max(seconds for _, seconds in answers) < 1.0, answers
    print(
        f"slowloris closed after {min(slow):.2f}-{max(slow):.2f} s; stalled bodies after "
        f"{min(closed[f'stall{i}'] for i in range(5)):.2f} s; {len(answers)} valid request "
        f"pairs, slowest {max(s for _, s in answers) * 1000:.0f} ms"
    )


def test_the_service_caps_concurrent_connections(tmp_path):
    model = onnx_file(tmp_path / "m.onnx")
    argv = serve_argv(model, "--limit-concurrency", "4", "--header-timeout", "5")
    with running_server(argv) as (port, _):
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
        try:
            status, body = get(port, "/healthz")
            assert status == 503, body
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.3)
        assert get(port, "/healthz")[0] == 200


SLOW_MODEL_SERVER = """
import sys, time
import uvicorn
from skdigits.serve import create_app

app = create_app(sys.argv[1])
classifier = app.state.classifier
real = classifier.predict_with_proba

def slow(X):
    time.sleep(1.5)  # a model that takes 1.5 s per call
    return real(X)

classifier.predict_with_proba = slow
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def test_a_slow_json_prediction_never_blocks_the_event_loop(tmp_path):
    model = onnx_file(tmp_path / "m.onnx")
    with running_server([sys.executable, "-c", SLOW_MODEL_SERVER, str(model)]) as (port, _):
        outcome_: dict[str, Any] = {}

        def predict() -> None:
            t0 = time.monotonic()
            outcome_["status"] = post(port, JSON_IMAGE, "application/json", timeout=10)[0]
            outcome_["seconds"] = time.monotonic() - t0

        worker = threading.Thread(target=predict)
        worker.start()
        time.sleep(0.3)  # the prediction is now running
        t0 = time.monotonic()
        status = get(port, "/healthz")[0]
        healthz_seconds = time.monotonic() - t0
        worker.join(timeout=15)
    assert status == 200
    assert healthz_seconds < 0.5, healthz_seconds
    assert outcome_ == {"status": 200, "seconds": pytest.approx(outcome_["seconds"])}
    assert outcome_["seconds"] >= 1.5


def large_digit_png(side: int = 4096) -> bytes:
    """A white stroke on black, ``side`` pixels square: about 25 KB of PNG."""
    from PIL import ImageDraw

    img = Image.new("L", (side, side), 0)
    ImageDraw.Draw(img).line(
        [(side // 3, side // 5), (side // 2, 4 * side // 5)], fill=255, width=side // 20
    )
    return png(img)


#: Peak resident memory the server may reach under 40 concurrent 4096x4096 uploads
#: with the default --decode-concurrency 2: two decodes of about 150 MB each, plus
#: the process itself (about 90 MB) and the 40 bodies waiting their turn.
UPLOAD_PEAK_BOUND = 600 * MiB


def test_peak_memory_under_40_concurrent_large_uploads_is_set_by_configuration(tmp_path):
    model = onnx_file(tmp_path / "m.onnx")
    image = large_digit_png()
    with running_server(serve_argv(model)) as (port, proc):
        before = peak_rss(proc.pid)
        statuses: list[int] = []

        def upload() -> None:
            statuses.append(post(port, image, "image/png", timeout=120)[0])

        t0 = time.monotonic()
        clients = [threading.Thread(target=upload) for _ in range(40)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=180)
        seconds = time.monotonic() - t0
        peak = peak_rss(proc.pid)
        assert get(port, "/healthz")[0] == 200
    assert statuses == [200] * 40, statuses
    assert peak <= UPLOAD_PEAK_BOUND, peak / MiB
    print(
        f"40 uploads of {len(image)} bytes (4096x4096) in {seconds:.1f} s; server peak "
        f"{peak / MiB:.0f} MB (at start {before / MiB:.0f} MB)"
    )


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

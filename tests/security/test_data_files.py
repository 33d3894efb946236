"""Hostile data files: IDX and .npy readers and fetch_mnist refuse them in one line.

``load_idx``, ``load_npy`` and ``fetch_mnist`` (its cache and ``local_dir``): bad
headers, truncation, trailing bytes, corrupt gzip, directories, devices and pipes,
labels outside 0-9, count and shape mismatches, a poisoned cache; gzip bombs and
declared sizes bounded before anything is allocated; numpy's ValueErrors
translated; bounded fuzzing of the IDX reader. The checks are in
``tests/_support/hostile.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skdigits import DataError, FetchError
from skdigits.datasets import _mnist, fetch_mnist, load_idx
from tests._support.files import write
from tests._support.hostile import (
    FUZZ,
    NOISE,
    X10,
    Y10,
    Bound,
    Case,
    Env,
    MiB,
    Translated,
    assert_one_line,
    bound_test,
    code_load_idx,
    idx,
    idx_header,
    mutated,
    outcome,
    refusal_test,
    translation_test,
)
from tests._support.onnx_models import build_model


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


CASES: list[Case] = [
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
]


test_hostile_input_is_refused_with_a_clear_message = refusal_test(CASES)


# ---------------------------------------------------------------- bounded time and memory


@lru_cache(maxsize=1)
def gzip_of_zeros() -> bytes:
    """A gzip member holding 1 GiB of zeros (about 4.6 MB): the body of the IDX bombs."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    zeros = bytes(16 * MiB)
    return b"".join([*(packer.compress(zeros) for _ in range(64)), packer.flush()])


def gzip_bomb(path: Path, head: bytes) -> Path:
    # Two gzip members read as one stream: ``head``, then 1 GiB of zeros.
    return write(path, gzip.compress(head) + gzip_of_zeros())


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


BOUNDS: list[Bound] = [
    Bound(
        1,
        "idx-gzip-bomb-bad-magic",
        lambda d: code_load_idx(gzip_bomb(d / "bomb-idx3.gz", b"\x01\x02\x08\x03")),
        "DataError",
        r"bad magic bytes 0x01020803",
        peak_mb=150,
        address_space_mb=768,  # less than the 1 GiB the stream holds
    ),
    Bound(
        1,
        "idx-gzip-bomb-after-a-valid-header",
        lambda d: code_load_idx(gzip_bomb(d / "bomb-idx1.gz", idx_header(0x08, (10,)))),
        "DataError",
        r"has trailing bytes: shape \(10,\) of uint8 needs 10 data bytes, found more than 10",
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        1,
        "idx-gzip-declares-more-than-the-limit",
        lambda d: code_load_idx(write(d / "x.gz", gzip.compress(idx_header(0x0E, (2**31, 2))))),
        "DataError",
        r"declares shape \(2147483648, 2\) of float64, 34359738368 bytes, over the limit",
        peak_mb=150,
        address_space_mb=768,
    ),
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
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        5,
        "cli-predict-npy-declaring-1e11-images",
        lambda d: (
            f"cli(['predict', {str(build_model(d / 'm.onnx'))!r}, "
            f"{str(npy_header_only(d / 'x.npy', (10**11, 784)))!r}])"
        ),
        "SystemExit",
        r"^1: skdigits: error: .*x\.npy declares an array of shape \(100000000000, 784\)",
        peak_mb=200,
    ),
    Bound(
        5,
        "idx-dev-zero",
        lambda d: code_load_idx(Path("/dev/zero")),
        "DataError",
        r"IDX path '/dev/zero' is not a regular file \(a device, pipe or socket\)",
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        5,
        "idx-a-fifo-without-a-writer",
        lambda d: code_load_idx(fifo(d / "fifo-idx3-ubyte")),
        "DataError",
        r"IDX path '.*fifo-idx3-ubyte' is not a regular file",
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        5,
        "npy-a-fifo-without-a-writer",
        lambda d: f"from skdigits.datasets import load_npy; load_npy({str(fifo(d / 'x.npy'))!r})",
        "DataError",
        r"\.npy path '.*x\.npy' is not a regular file",
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        5,
        "cli-predict-dev-zero",
        lambda d: f"cli(['predict', {str(build_model(d / 'm.onnx'))!r}, '/dev/zero'])",
        "SystemExit",
        r"^1: skdigits: error: input '/dev/zero' is not a regular file",
        peak_mb=200,
    ),
]


test_a_small_hostile_file_costs_bounded_time_and_memory = bound_test(BOUNDS)


# ---------------------------------------------------------------- raw exceptions translated

TRANSLATED: list[Translated] = [
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
            build_model(d / "m.onnx"),
            write(d / "x-idx3", idx_header(0x08, (2**32 - 1, 2**32 - 1, 0))),
        ],
        1,
        r"x-idx3' declares shape \(4294967295, 4294967295, 0\)",
    ),
]


test_a_raw_exception_becomes_a_skdigits_error = translation_test(TRANSLATED)


# ---------------------------------------------------------------- fuzzing


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

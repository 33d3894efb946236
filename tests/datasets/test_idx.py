"""Tests for skdigits.datasets' IDX reader and writer: every dtype, gzip, clear errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from skdigits._core.errors import DataError
from skdigits.datasets import load_idx, save_idx
from tests._support.files import idx_bytes, write

# --- load_idx / save_idx -----------------------------------------------------------------

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_load_idx_reads_every_dtype_of_a_4d_array(tmp_path, dtype, gz):
    expected = (np.arange(2 * 3 * 4 * 5) - 7).reshape(2, 3, 4, 5).astype(dtype)
    path = write(tmp_path / "blob-idx4", idx_bytes(expected), gz=gz)

    loaded = load_idx(path)

    assert loaded.shape == (2, 3, 4, 5)
    assert loaded.dtype == np.dtype(dtype)  # native byte order, not big-endian
    assert loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, expected)
    loaded[0, 0, 0, 0] = 1  # writable: the caller may change it in place


def test_load_idx_reads_labels_and_images(tmp_path):
    labels = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
    images = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    write(tmp_path / "labels-idx1-ubyte", idx_bytes(labels))
    write(tmp_path / "images-idx3-ubyte", idx_bytes(images), gz=True)

    np.testing.assert_array_equal(load_idx(tmp_path / "labels-idx1-ubyte"), labels)
    np.testing.assert_array_equal(load_idx(str(tmp_path / "images-idx3-ubyte")), images)


def test_load_idx_detects_gzip_by_content_not_name(tmp_path):
    values = np.array([[1.5, -2.25]], dtype=np.float32)
    gz_without_suffix = write(tmp_path / "plain-name", idx_bytes(values), gz=True)
    raw_with_suffix = write(tmp_path / "misleading.gz", idx_bytes(values))

    np.testing.assert_array_equal(load_idx(gz_without_suffix), values)
    np.testing.assert_array_equal(load_idx(raw_with_suffix), values)


@pytest.mark.parametrize("dtype", [">i2", "<i2", ">f8", "<f4", "u1"])
def test_save_idx_round_trips_and_writes_canonical_bytes(tmp_path, dtype):
    array = np.array([[[3, 0, 7]], [[1, 2, 250]]], dtype=dtype)
    path = tmp_path / "out-idx3"

    save_idx(path, array)

    # Deterministic, big-endian bytes whatever the input byte order: hashes are stable.
    assert path.read_bytes() == idx_bytes(array.astype(np.dtype(dtype).newbyteorder("=")))
    np.testing.assert_array_equal(load_idx(path), array)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.array(3, dtype=np.uint8), "0-dimensional"),
        (np.zeros(3, dtype=np.int64), "cannot write dtype int64"),
        (np.zeros(3, dtype=bool), "cannot write dtype bool"),
    ],
)
def test_save_idx_rejects_what_idx_cannot_store(tmp_path, array, match):
    with pytest.raises(DataError, match=match):
        save_idx(tmp_path / "out", array)
    assert not list(tmp_path.iterdir())


GOOD = idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3))
CORRUPT_IDX = {
    "wrong magic": (b"\x01\x02" + GOOD[2:], r"bad magic bytes 0x01020802"),
    "unknown dtype code": (GOOD[:2] + b"\x0a" + GOOD[3:], r"unknown dtype code 0x0A"),
    "zero dimensions": (b"\x00\x00\x08\x00", r"declares 0 dimensions"),
    "header shorter than magic": (b"\x00\x00", r"incomplete header: 2 bytes"),
    "header missing a dimension": (GOOD[:8], r"incomplete header: 2 dimensions need 12"),
    "truncated body": (GOOD[:-1], r"is truncated: shape \(2, 3\) of uint8 needs 6 data bytes, "),
    "trailing bytes": (GOOD + b"\x00", r"has trailing bytes: .* needs 6 data bytes, found 7"),
    "dims disagree with length": (
        GOOD[:4] + struct.pack(">2I", 3, 3) + GOOD[12:],
        r"is truncated: shape \(3, 3\) of uint8 needs 9 data bytes, found 6",
    ),
    "corrupt gzip": (gzip.compress(GOOD)[:-12] + b"garbage!", r"not a valid gzip stream"),
    "truncated gzip": (gzip.compress(GOOD)[:15], r"not a valid gzip stream"),
}


@pytest.mark.parametrize(("content", "match"), CORRUPT_IDX.values(), ids=CORRUPT_IDX)
def test_load_idx_explains_a_corrupt_file(tmp_path, content, match):
    path = write(tmp_path / "broken-idx2-ubyte", content)

    with pytest.raises(DataError, match=match) as info:
        load_idx(path)

    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert "again" in message  # says what to do


def test_load_idx_explains_a_missing_file(tmp_path):
    path = tmp_path / "nope-idx1-ubyte"
    with pytest.raises(DataError, match="does not exist; check the path") as info:
        load_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_load_idx_explains_a_directory(tmp_path):
    with pytest.raises(DataError, match="is a directory, not a file") as info:
        load_idx(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_load_idx_chains_the_gzip_error(tmp_path):
    path = write(tmp_path / "x.gz", b"\x1f\x8b" + b"not deflate at all")
    with pytest.raises(DataError) as info:
        load_idx(path)
    assert info.value.__cause__ is not None

"""Small files written by the tests: any bytes, and IDX files of any dtype."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

_IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def write(path: Path, content: bytes, *, gz: bool = False) -> Path:
    """Write ``content`` (gzipped, reproducibly, with ``gz``), creating missing folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content, mtime=0) if gz else content)
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    """The tests' own IDX writer: big-endian header, then big-endian values."""
    array = np.asarray(array)
    dtype_str = f"{array.dtype.kind}{array.dtype.itemsize}"
    header = struct.pack(">BBBB", 0, 0, _IDX_CODES[dtype_str], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(f">{dtype_str}").tobytes()

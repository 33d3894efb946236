"""Read and write IDX files, the format the MNIST data set ships in.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the
values in C order, big-endian. The magic is two zero bytes, a dtype code and the
number of dimensions. See http://yann.lecun.com/exdb/mnist/ (section "File formats").
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .._core.atomic import atomic_path
from .._core.errors import DataError, one_line
from .._core.files import open_regular

__all__ = ["load_idx", "save_idx"]

# IDX dtype code -> big-endian numpy dtype.
_DTYPE_OF_CODE: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_DTYPE: dict[tuple[str, int], int] = {
    (dtype.kind, dtype.itemsize): code for code, dtype in _DTYPE_OF_CODE.items()
}
_KNOWN_CODES = ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in _DTYPE_OF_CODE.items())
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIM = 2**32 - 1
#: The most dimensions an IDX file may declare: numpy's limit for an array.
MAX_IDX_DIMS = 64
#: The largest body an IDX file may declare, in bytes (all of MNIST is 55 MB). The
#: limit is checked from the header, before a byte of the body is read or
#: decompressed, so a small gzip file cannot expand into gigabytes.
MAX_IDX_BYTES = 2**31
_CHUNK = 1 << 20
_FIX = "the file is damaged or not an IDX file: download or copy it again"


def load_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed, into a native-endian array.

    Compression is detected from the content (the gzip magic bytes ``1f 8b``),
    not from the file name.

    Parameters
    ----------
    path : str or path-like
        The IDX file to read.

    Returns
    -------
    array : ndarray
        A writable array with the file's shape and dtype (``uint8``, ``int8``,
        ``int16``, ``int32``, ``float32`` or ``float64``), in native byte order.

    Raises
    ------
    DataError
        If the file is missing, is a directory or not a regular file, is a corrupt
        gzip stream, or is not a well-formed IDX file (bad magic, unknown dtype
        code, incomplete header, more than 64 dimensions, a declared body over
        :data:`MAX_IDX_BYTES`, or a body whose length disagrees with the
        dimensions). The header is read first and a gzip stream is decompressed
        only as far as the header declares, so memory is bounded by the declared
        size, never by the stream.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skdigits.datasets import load_idx, save_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> save_idx(path, np.array([5, 0, 4], dtype=np.uint8))
    >>> load_idx(path)
    array([5, 0, 4], dtype=uint8)
    """
    path = Path(path)
    with open_regular(
        path,
        "IDX file",
        missing_hint="check the path, or fetch the data with skdigits.datasets.fetch_mnist()",
        example="train-images-idx3-ubyte",
    ) as fh:
        head = fh.read(2)
        fh.seek(0)
        if head == _GZIP_MAGIC:
            return _read_gzip(fh, path)
        return _read_raw(fh, path, os.fstat(fh.fileno()).st_size)


def save_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` to ``path`` as an uncompressed IDX file, atomically.

    The output is deterministic: the same array always gives the same bytes, so
    an array read from another format can be checked against a known IDX hash.

    Parameters
    ----------
    path : str or path-like
        Destination file; it is replaced only once the new file is complete.
    array : array-like
        At least one dimension, dtype ``uint8``, ``int8``, ``int16``, ``int32``,
        ``float32`` or ``float64`` (either byte order).

    Raises
    ------
    DataError
        If the array has no dimensions, a dtype IDX cannot store, or a
        dimension of 2**32 or more.
    """
    header, body = idx_encode(array)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(header)
        body.tofile(fh)


def idx_encode(array: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Return the IDX header of ``array`` and its values as a contiguous big-endian array."""
    array = np.asarray(array)
    code = _CODE_OF_DTYPE.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise DataError(
            f"cannot write dtype {array.dtype} to IDX; IDX stores {_KNOWN_CODES}: "
            "cast the array first, e.g. array.astype(np.int32)"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise DataError(
            f"cannot write a {array.ndim}-dimensional array to IDX; "
            "IDX needs 1 to 255 dimensions: reshape the array first"
        )
    if max(array.shape) > _MAX_DIM:
        raise DataError(
            f"cannot write shape {array.shape} to IDX; each dimension must be below 2**32"
        )
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    body = np.ascontiguousarray(array, dtype=_DTYPE_OF_CODE[code])
    return header, body


def _read_header(read: Callable[[int], bytes], path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    """Parse and check the magic and the dimensions, reading only the header's bytes."""
    magic = read(4)
    if len(magic) < 4:
        raise DataError(
            f"IDX file '{path}' has an incomplete header: {len(magic)} bytes, "
            f"the magic number alone needs 4; {_FIX}"
        )
    zero0, zero1, code, ndim = magic
    if zero0 != 0 or zero1 != 0:
        raise DataError(
            f"IDX file '{path}' has bad magic bytes 0x{magic.hex()} (an IDX file "
            f"starts with two zero bytes); {_FIX}"
        )
    dtype = _DTYPE_OF_CODE.get(code)
    if dtype is None:
        raise DataError(
            f"IDX file '{path}' has unknown dtype code 0x{code:02X} (known: {_KNOWN_CODES}); {_FIX}"
        )
    if ndim == 0:
        raise DataError(f"IDX file '{path}' declares 0 dimensions (at least 1 needed); {_FIX}")
    if ndim > MAX_IDX_DIMS:
        raise DataError(
            f"IDX file '{path}' declares {ndim} dimensions, more than the {MAX_IDX_DIMS} "
            f"an array can have; {_FIX}"
        )
    dims = read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(
            f"IDX file '{path}' has an incomplete header: {ndim} dimensions need "
            f"{4 + 4 * ndim} header bytes, the file has {4 + len(dims)}; {_FIX}"
        )
    shape = struct.unpack(f">{ndim}I", dims)
    # Every dimension but the zero ones counts towards what an array can address:
    # (2**32-1, 2**32-1, 0) is empty, yet numpy refuses its shape.
    nonzero = math.prod(d for d in shape if d)
    if nonzero * dtype.itemsize > MAX_IDX_BYTES:
        raise DataError(
            f"IDX file '{path}' declares shape {shape} of {dtype.name}, "
            f"{nonzero * dtype.itemsize} bytes, over the limit of {MAX_IDX_BYTES} "
            f"(all of MNIST is 55 MB); {_FIX}"
        )
    return dtype, shape


def _read_raw(fh: BinaryIO, path: Path, size: int) -> np.ndarray:
    dtype, shape = _read_header(fh.read, path)
    expected = math.prod(shape) * dtype.itemsize
    found = size - 4 - 4 * len(shape)
    if found != expected:  # known from the file's size, before reading the body
        raise _length_error(path, shape, dtype, expected, found)
    return _to_array(fh.read(expected), dtype, shape, path)


def _read_gzip(fh: BinaryIO, path: Path) -> np.ndarray:
    """Decompress the header, then at most the body it declares plus one byte."""
    stream = gzip.GzipFile(fileobj=fh, mode="rb")
    try:
        dtype, shape = _read_header(stream.read, path)
        expected = math.prod(shape) * dtype.itemsize
        body = bytearray()
        while len(body) <= expected:  # one byte more than declared: trailing data
            chunk = stream.read(min(_CHUNK, expected + 1 - len(body)))
            if not chunk:
                break
            body += chunk
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"IDX file '{path}' starts like gzip but is not a valid gzip stream "
            f"({one_line(err)}); download or copy the file again"
        ) from err
    if len(body) != expected:
        found = len(body) if len(body) <= expected else f"more than {expected}"
        raise _length_error(path, shape, dtype, expected, found)
    return _to_array(bytes(body), dtype, shape, path)


def _length_error(
    path: Path, shape: tuple[int, ...], dtype: np.dtype, expected: int, found: int | str
) -> DataError:
    problem = (
        "is truncated" if isinstance(found, int) and found < expected else "has trailing bytes"
    )
    return DataError(
        f"IDX file '{path}' {problem}: shape {shape} of {dtype.name} needs "
        f"{expected} data bytes, found {found}; {_FIX}"
    )


def _to_array(body: bytes, dtype: np.dtype, shape: tuple[int, ...], path: Path) -> np.ndarray:
    if len(body) != math.prod(shape) * dtype.itemsize:  # the file changed while read
        raise _length_error(path, shape, dtype, math.prod(shape) * dtype.itemsize, len(body))
    array = np.frombuffer(body, dtype=dtype).reshape(shape)
    # Copy into native byte order: the result is writable and fast to compute with.
    return array.astype(dtype.newbyteorder("="))

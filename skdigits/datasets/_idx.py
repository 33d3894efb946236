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
from pathlib import Path

import numpy as np

from .._atomic import atomic_path
from .._errors import DataError

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
        If the file is missing, is a directory, is a corrupt gzip stream, or is not
        a well-formed IDX file (bad magic, unknown dtype code, incomplete header,
        or a body whose length disagrees with the dimensions).

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
    content = _read_file(path)
    if content[:2] == _GZIP_MAGIC:
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(
                f"IDX file '{path}' starts like gzip but is not a valid gzip stream "
                f"({_one_line(err)}); download or copy the file again"
            ) from err
    return _parse(content, path)


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


def _read_file(path: Path) -> bytes:
    if path.is_dir():
        raise DataError(
            f"IDX path '{path}' is a directory, not a file; pass the path of an IDX file "
            "inside it, e.g. train-images-idx3-ubyte"
        )
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise DataError(
            f"IDX file '{path}' does not exist; check the path, or fetch the data with "
            "skdigits.datasets.fetch_mnist()"
        ) from err
    except OSError as err:
        raise DataError(
            f"cannot read IDX file '{path}' ({_one_line(err)}); check its permissions"
        ) from err


def _parse(content: bytes, path: Path) -> np.ndarray:
    fix = "the file is damaged or not an IDX file: download or copy it again"
    if len(content) < 4:
        raise DataError(
            f"IDX file '{path}' has an incomplete header: {len(content)} bytes, "
            f"the magic number alone needs 4; {fix}"
        )
    zero0, zero1, code, ndim = content[:4]
    if zero0 != 0 or zero1 != 0:
        raise DataError(
            f"IDX file '{path}' has bad magic bytes 0x{content[:4].hex()} (an IDX file "
            f"starts with two zero bytes); {fix}"
        )
    dtype = _DTYPE_OF_CODE.get(code)
    if dtype is None:
        raise DataError(
            f"IDX file '{path}' has unknown dtype code 0x{code:02X} (known: {_KNOWN_CODES}); {fix}"
        )
    if ndim == 0:
        raise DataError(f"IDX file '{path}' declares 0 dimensions (at least 1 needed); {fix}")
    header_len = 4 + 4 * ndim
    if len(content) < header_len:
        raise DataError(
            f"IDX file '{path}' has an incomplete header: {ndim} dimensions need "
            f"{header_len} header bytes, the file has {len(content)}; {fix}"
        )
    shape = struct.unpack_from(f">{ndim}I", content, 4)
    expected = math.prod(shape) * dtype.itemsize
    found = len(content) - header_len
    if found != expected:
        problem = "is truncated" if found < expected else "has trailing bytes"
        raise DataError(
            f"IDX file '{path}' {problem}: shape {shape} of {dtype.name} needs "
            f"{expected} data bytes, found {found}; {fix}"
        )
    array = np.frombuffer(content, dtype=dtype, count=math.prod(shape), offset=header_len)
    # Copy into native byte order: the result is writable and fast to compute with.
    return array.reshape(shape).astype(dtype.newbyteorder("="))


def _one_line(err: object) -> str:
    return " ".join(str(err).split()) or type(err).__name__

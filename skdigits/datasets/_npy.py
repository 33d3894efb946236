"""Read ``.npy`` arrays with their declared size checked before a byte of data is read."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .._core.errors import DataError, one_line
from .._core.files import open_regular
from ._idx import MAX_IDX_BYTES

__all__ = ["MAX_NPY_BYTES", "load_npy"]

#: The largest array a ``.npy`` file may declare, in bytes (the same bound as IDX).
MAX_NPY_BYTES = MAX_IDX_BYTES
_HINT = "save images with numpy.save"


def load_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a ``.npy`` file without pickle, refusing what would not fit in memory.

    The header is read first (``numpy.lib.format``): a file declaring more than
    :data:`MAX_NPY_BYTES`, or a shape its size does not hold, is refused before
    anything is allocated; so is anything that is not a regular file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ndarray

    Raises
    ------
    DataError
        If the file is missing, not a regular file, not a ``.npy`` array, holds
        objects (which only pickle can load), or declares too large a shape.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skdigits.datasets import load_npy
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(3))
    >>> load_npy(path)
    array([0, 1, 2])
    """
    path = Path(path)
    with open_regular(path, ".npy file", example="digits.npy") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0  # 2.0; 3.0 differs only in encoding
            )
            shape, _, dtype = read_header(fh)
        except (ValueError, OSError, EOFError, SyntaxError, TypeError, OverflowError) as err:
            raise DataError(
                f"{path} is not a readable .npy array ({one_line(err)[:200]}); {_HINT}"
            ) from err
        if dtype.hasobject:
            raise DataError(
                f"{path} is not a readable .npy array (Object arrays cannot be loaded when "
                f"allow_pickle=False); {_HINT}"
            )
        nonzero = math.prod(d for d in shape if d)
        declared = math.prod(shape) * dtype.itemsize
        if nonzero * dtype.itemsize > MAX_NPY_BYTES:
            raise DataError(
                f"{path} declares an array of shape {shape} and dtype {dtype}, "
                f"{nonzero * dtype.itemsize} bytes, over the limit of {MAX_NPY_BYTES}; "
                "split it into smaller files"
            )
        found = os.fstat(fh.fileno()).st_size - fh.tell()
        if found != declared:
            problem = "is truncated" if found < declared else "has trailing bytes"
            raise DataError(
                f"{path} {problem}: shape {shape} of {dtype} needs {declared} data bytes, "
                f"found {found}; {_HINT}"
            )
        try:
            fh.seek(0)
            return np.lib.format.read_array(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise DataError(
                f"{path} is not a readable .npy array ({one_line(err)[:200]}); {_HINT}"
            ) from err

"""Input files → MNIST-convention pixel arrays: one route for the CLI, the service and Python.

What a file is follows from its first bytes, never from its name: a PNG saved
without an extension is read as a PNG, and a ``README.md`` or a saved model given
as input is named for what it is, with what to do instead.

Arrays may come in another convention than MNIST's raw 0-255 white digit on
black. :func:`to_mnist_convention` converts them, deliberately and visibly:

- ``scale="auto"`` (the default) multiplies float data whose values all lie in
  [0, 1] by 255 (booleans too); ``"255"`` takes the values as they are, ``"1"``
  says they are in [0, 1] (and refuses anything above 1);
- ``invert="auto"`` (the default) turns an image whose border is mostly bright
  (dark digit on a light background) into 255 minus itself, as the image path
  does; ``"yes"`` inverts every image, ``"no"`` none.

Integer arrays are never rescaled by ``auto``: 0-255 is their natural range.

This module is on the inference path: it imports numpy and the standard library,
plus Pillow (through :mod:`skdigits.io`) when it decodes an image.
"""

from __future__ import annotations

import gzip
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._core.errors import DataError, one_line
from .._core.values import quoted
from ._images import _source_name as _quoted

__all__ = [
    "INVERT_CHOICES",
    "SCALE_CHOICES",
    "InputImages",
    "read_input",
    "read_inputs",
    "read_labels",
    "sniff_format",
    "to_mnist_convention",
]

#: Values of ``scale``: detect, raw intensities 0-255, or values in [0, 1].
SCALE_CHOICES = ("auto", "255", "1")
#: Values of ``invert``: detect by the border, always, never.
INVERT_CHOICES = ("auto", "yes", "no")

_SIDE = 28
_SHAPES = {(_SIDE, _SIDE), (_SIDE * _SIDE,)}
_HEAD_BYTES = 64
_IDX_CODES = {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E}
_IMAGE_FORMATS = {"PNG", "JPEG", "GIF", "BMP", "TIFF", "WebP", "PNM"}
_READ_HINT = "pass a .npy array, an IDX file or an image file (PNG, JPEG, ...)"


def sniff_format(head: bytes) -> str:
    """Name the format of a file from its first bytes (64 are plenty).

    Parameters
    ----------
    head : bytes
        The start of the file.

    Returns
    -------
    str
        One of ``"PNG"``, ``"JPEG"``, ``"GIF"``, ``"BMP"``, ``"TIFF"``, ``"WebP"``,
        ``"PNM"``, ``"npy"``, ``"zip"``, ``"gzip"``, ``"IDX"``, ``"pickle"``,
        ``"PDF"``, ``"text"``, ``"empty"`` or ``"unknown"``.

    Examples
    --------
    >>> from skdigits.io._inputs import sniff_format
    >>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n...")
    'PNG'
    >>> sniff_format(b"\\x93NUMPY\\x01\\x00")
    'npy'
    >>> sniff_format(b"# My digits\\n")
    'text'
    """
    if not head:
        return "empty"
    signatures = (
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"\xff\xd8\xff", "JPEG"),
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00*", "TIFF"),
        (b"\x93NUMPY", "npy"),
        (b"PK\x03\x04", "zip"),
        (b"PK\x05\x06", "zip"),  # an empty archive
        (b"\x1f\x8b", "gzip"),
        (b"%PDF", "PDF"),
    )
    for magic, name in signatures:
        if head.startswith(magic):
            return name
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    if head.startswith(b"BM") and len(head) >= 14:
        return "BMP"
    if len(head) >= 3 and head[0:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "PNM"
    if len(head) >= 4 and head[:2] == b"\x00\x00" and head[2] in _IDX_CODES and 1 <= head[3] <= 8:
        return "IDX"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    if _is_text(head):
        return "text"
    return "unknown"


@dataclass(frozen=True)
class InputImages:
    """What one input file gave: its images, or why it gave none.

    Attributes
    ----------
    source : str
        The path, as given.
    images : ndarray of shape (n, 28, 28), dtype float32, or None
        MNIST convention (raw 0-255, white digit on black); None if ``error``.
    error : str or None
        The one-line reason the file could not be used.
    notes : list of str
        What ``auto`` conversion did (e.g. scaled [0, 1] values by 255).
    """

    source: str
    images: np.ndarray | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def read_inputs(paths: Any, *, scale: str = "auto", invert: str = "auto") -> list[InputImages]:
    """Read every input file; one unreadable file does not stop the others.

    Parameters
    ----------
    paths : iterable of str or path-like
        ``.npy`` arrays, IDX files (raw or gzip) or image files, in any mix; the
        format is read from each file's content.
    scale, invert : str, default="auto"
        How arrays are converted to MNIST's convention; see
        :func:`to_mnist_convention`. Image files are prepared by
        :func:`skdigits.io.load_digit_image`, which finds polarity itself.

    Returns
    -------
    list of InputImages
        One per path, in order: images or an error.

    Raises
    ------
    DataError
        If ``scale`` or ``invert`` is not one of its choices (a file's own
        problems are reported in its result, not raised).
    """
    _check_choice("scale", scale, SCALE_CHOICES)
    _check_choice("invert", invert, INVERT_CHOICES)
    results = []
    for path in paths:
        try:
            results.append(read_input(path, scale=scale, invert=invert))
        except DataError as err:
            results.append(InputImages(os.fsdecode(path), error=str(err)))
    return results


def read_input(
    path: str | os.PathLike[str], *, scale: str = "auto", invert: str = "auto"
) -> InputImages:
    """Read one input file into MNIST-convention images.

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` array, an IDX file (raw or gzip) or an image file; the format
        is read from the file's first bytes.
    scale, invert : str, default="auto"
        See :func:`to_mnist_convention` (arrays only).

    Returns
    -------
    InputImages
        With ``images`` of shape (n, 28, 28) and the ``notes`` of any ``auto``
        conversion.

    Raises
    ------
    DataError
        If the file is missing, unreadable, empty, of a format that holds no
        images (text, a saved model, a pickle, ...), or holds no image of 28×28
        pixels; the message names the file, what it is and what to do.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skdigits.io._inputs import read_input
    >>> path = os.path.join(tempfile.mkdtemp(), "digits")  # no extension: read by content
    >>> with open(path, "wb") as file:
    ...     np.save(file, np.zeros((2, 28, 28), np.uint8))
    >>> read_input(path).images.shape
    (2, 28, 28)
    """
    _check_choice("scale", scale, SCALE_CHOICES)
    _check_choice("invert", invert, INVERT_CHOICES)
    source = os.fsdecode(path)
    name = _quoted(source)
    head = _read_head(Path(path), name)
    kind = sniff_format(head)
    if kind in _IMAGE_FORMATS:
        from ._images import load_digit_image

        return InputImages(source, load_digit_image(path)[np.newaxis])
    if kind == "npy":
        from ..datasets import load_npy

        array = load_npy(path)  # the header first: a declared size too large is refused
    elif kind in ("IDX", "gzip"):
        if kind == "gzip":
            _check_gzipped_idx(Path(path), name)
        from ..datasets import load_idx

        array = load_idx(path)
    else:
        raise DataError(
            f"input {name} {_misnamed(Path(path), kind)}{_not_readable(kind, Path(path), head)}"
        )
    array = _as_image_stack(array, f"input {name}")
    images, notes = _convert(array, scale=scale, invert=invert, name=f"input {name}")
    return InputImages(source, images, notes=notes)


def read_labels(path: str | os.PathLike[str]) -> np.ndarray:
    """True labels from a ``.npy`` array or an IDX file (raw or gzip), chosen by content.

    Raises
    ------
    DataError
        If the file cannot be read or is neither format.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            kind = sniff_format(fh.read(64))
    except OSError as err:
        raise DataError(f"labels {path} cannot be read ({err.strerror or err})") from err
    if kind == "npy":
        from ..datasets import load_npy

        return load_npy(path)
    if kind in ("IDX", "gzip"):
        from ..datasets import load_idx

        return load_idx(path)
    raise DataError(
        f"labels {path} is not a .npy array or an IDX file (its content: {kind}); pass "
        "the labels as a .npy array or an IDX file"
    )


def to_mnist_convention(X: Any, *, scale: str = "auto", invert: str = "auto") -> np.ndarray:
    """Convert images to MNIST's convention: raw intensities 0-255, white digit on black.

    Parameters
    ----------
    X : array-like of shape (28, 28), (n, 28, 28), (784,) or (n, 784)
        The images, of any numeric dtype.
    scale : {"auto", "255", "1"}, default="auto"
        ``"255"``: the values are raw intensities 0-255. ``"1"``: they lie in
        [0, 1] and are multiplied by 255. ``"auto"``: float (or bool) data whose
        values all lie in [0, 1] is multiplied by 255; integers are left alone.
    invert : {"auto", "yes", "no"}, default="auto"
        ``"auto"``: an image whose border's median is brighter than mid-grey (a
        dark digit on a light background) becomes 255 minus itself, image by
        image; ``"yes"``: every image; ``"no"``: none.

    Returns
    -------
    ndarray of shape (n, 28, 28), dtype float32
        A single image gets a batch axis of 1.

    Raises
    ------
    DataError
        If the shape is not one of the above, a value is NaN or infinite, or a
        value lies outside the range ``scale`` names.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits.io._inputs import to_mnist_convention
    >>> paper = np.ones((28, 28))  # [0, 1], white paper...
    >>> paper[8:20, 13:15] = 0.0  # ...with a black stroke
    >>> x = to_mnist_convention(paper)
    >>> x.shape, float(x[0, 0, 0]), float(x[0, 10, 13])
    ((1, 28, 28), 0.0, 255.0)
    """
    _check_choice("scale", scale, SCALE_CHOICES)
    _check_choice("invert", invert, INVERT_CHOICES)
    try:
        array = np.asarray(X)
    except (TypeError, ValueError) as err:
        raise DataError(f"X is not an array of pixels ({err})") from err
    if array.shape in _SHAPES:
        array = array[np.newaxis]
    return _convert(_as_image_stack(array, "X"), scale=scale, invert=invert, name="X")[0]


# ---------------------------------------------------------------- conversion


def _convert(
    array: np.ndarray, *, scale: str, invert: str, name: str
) -> tuple[np.ndarray, list[str]]:
    """(n, 28, 28) of any numeric dtype → float32 MNIST convention, with notes on auto."""
    notes: list[str] = []
    kind = array.dtype.kind
    if kind not in "biuf":
        raise DataError(f"{name} holds {array.dtype} values; pixels must be numbers")
    if kind == "f" and not np.isfinite(array).all():
        raise DataError(f"{name} contains NaN or infinite values; pixels must be finite")
    if kind in "iu" or kind == "f":  # judged before float32 could overflow to infinity
        low, high = float(array.min()), float(array.max())
    else:
        low, high = 0.0, float(array.any())
    with np.errstate(over="ignore"):
        values = array.astype(np.float32)
    if low < 0:
        raise DataError(
            f"{name} has negative values, down to {low:g}; pixels must be intensities "
            "0-255 (or 0-1 with scale '1', --scale 1)"
        )
    unit = kind == "b" or (kind == "f" and high <= 1.0)
    if scale == "1" or (scale == "auto" and unit and high > 0):
        if high > 1.0:
            raise DataError(
                f"{name} has values up to {high:g}, but scale '1' (--scale 1) says they lie "
                "in [0, 1]; pass scale '255' (--scale 255) for raw intensities"
            )
        values *= np.float32(255.0)
        if scale == "auto":
            notes.append(
                f"values lie in [0, {high:g}]: read as scaled to [0, 1] and multiplied by "
                "255 (--scale auto; pass --scale 255 to use them as they are)"
            )
    elif high > 255.0:
        raise DataError(
            f"{name} has values up to {high:g}, above 255; pixels must be raw intensities "
            "0-255 (or 0-1)"
        )
    if invert == "yes":
        values = np.float32(255.0) - values
    elif invert == "auto" and len(values):
        bright = _border_median(values) > 127.5
        if bright.any():
            values[bright] = np.float32(255.0) - values[bright]
            notes.append(
                f"{int(bright.sum())} of {len(values)} image(s) are dark on light: inverted "
                "to MNIST's white digit on black (--invert auto; pass --invert no to keep them)"
            )
    return values, notes


def _border_median(values: np.ndarray) -> np.ndarray:
    """The median of each image's one-pixel frame."""
    frame = np.concatenate(
        [
            values[:, 0, :],
            values[:, -1, :],
            values[:, 1:-1, 0],
            values[:, 1:-1, -1],
        ],
        axis=1,
    )
    return np.median(frame, axis=1)


def _as_image_stack(array: np.ndarray, name: str) -> np.ndarray:
    if array.shape in _SHAPES:
        array = array[np.newaxis]
    if array.ndim not in (2, 3) or array.shape[1:] not in _SHAPES:
        raise DataError(
            f"{name} holds an array of shape {array.shape}; expected (28, 28), "
            "(N, 28, 28) or (N, 784) pixels"
        )
    if len(array) == 0:
        raise DataError(
            f"{name} holds no images (shape {array.shape}); pass a file with at least one"
        )
    return array.reshape(len(array), _SIDE, _SIDE)


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        got = quoted(value) if isinstance(value, str) else f"a {type(value).__name__}"
        raise DataError(f"`{what}` must be one of {', '.join(map(repr, choices))}; got {got}")


# ---------------------------------------------------------------- files


def _read_head(path: Path, name: str) -> bytes:
    try:
        info = path.stat()
    except FileNotFoundError as err:
        raise DataError(f"input {name} does not exist; check the path") from err
    except OSError as err:
        raise DataError(f"input {name} cannot be read ({one_line(err)}); check the path") from err
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"input {name} is a directory; pass the files inside it, e.g. dir/*.png")
    if not stat.S_ISREG(info.st_mode):  # /dev/zero never ends; a FIFO blocks the open
        raise DataError(
            f"input {name} is not a regular file (a device, pipe or socket); pass a file"
        )
    try:
        with open(path, "rb") as fh:
            return fh.read(_HEAD_BYTES)
    except OSError as err:
        raise DataError(
            f"input {name} cannot be read ({one_line(err)}); check its permissions"
        ) from err


def _check_gzipped_idx(path: Path, name: str) -> None:
    """Name what a gzip file holds when it is not IDX (only its first bytes are inflated)."""
    try:
        with gzip.open(path, "rb") as stream:
            inner = sniff_format(stream.read(_HEAD_BYTES))
    except (OSError, EOFError, zlib.error):
        return  # load_idx names a damaged stream
    if inner not in ("IDX", "empty"):
        what = f"{inner} file" if inner != "unknown" else "file that is not IDX"
        raise DataError(
            f"input {name} holds a gzip-compressed {what}, not IDX images; decompress it "
            f"(gunzip) and pass what it holds, or {_READ_HINT}"
        )


def _not_readable(kind: str, path: Path, head: bytes) -> str:
    """The rest of the message for a file that holds no images skdigits reads."""
    if kind == "empty":
        return "is an empty file (0 bytes); save or copy it again"
    if kind == "zip":
        return _describe_zip(path)
    if kind == "pickle":
        return (
            "is a Python pickle, which is never loaded as input (unpickling runs code); "
            "save the images with numpy.save(path, images) instead"
        )
    if kind == "PDF":
        return f"is a PDF document, not images; export the page as PNG, or {_READ_HINT}"
    if kind == "text":
        if path.suffix.lower() == ".csv" or b"," in head:
            return (
                "is a text (CSV?) file, not images; convert it with numpy, e.g. "
                "numpy.save('digits.npy', numpy.loadtxt(path, delimiter=',')"
                ".reshape(-1, 28, 28)), or " + _READ_HINT
            )
        return f"is a text file (it starts {_start_of(head)}), not images; {_READ_HINT}"
    if path.suffix.lower() == ".onnx":
        return (
            "looks like an ONNX model, not images; pass a model as the first argument "
            f"(MODEL) and images after it, or {_READ_HINT}"
        )
    return f"is not a format skdigits reads (it starts with bytes 0x{head[:8].hex()}); {_READ_HINT}"


_SUFFIX_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".gif": "GIF",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WebP",
    ".pgm": "PNM",
    ".ppm": "PNM",
    ".pbm": "PNM",
    ".npy": ".npy",
}


def _misnamed(path: Path, kind: str) -> str:
    """'is named like a PNG but ' when the suffix promises what the content is not."""
    promised = _SUFFIX_FORMATS.get(path.suffix.lower())
    if promised is None or kind == "empty":
        return ""
    return f"is named like a {promised} file but "


def _describe_zip(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        return f"is a damaged zip archive ({one_line(err)}); {_READ_HINT}"
    if "manifest.json" in names:
        return (
            "is a saved skdigits model (.skdigits), not images; pass it as the first "
            "argument (MODEL), or export it with `skdigits export`"
        )
    if names and all(n.endswith(".npy") for n in names):
        return (
            f"is a NumPy .npz archive of {len(names)} array(s), which is not read as "
            "input; save the images as one .npy array with numpy.save"
        )
    return f"is a zip archive ({len(names)} member(s)), not images; unpack it and {_READ_HINT}"


def _is_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character may be cut at the end of the head.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return bool(text) and all(c.isprintable() or c in "\t\r\n\f" for c in text)


def _start_of(head: bytes) -> str:
    text = head.decode("utf-8", "replace").splitlines()[0][:30] if head.strip() else ""
    return repr(text)

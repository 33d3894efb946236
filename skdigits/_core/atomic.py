"""Atomic writes of files and folders: a reader sees the old one or the complete new one.

Hand-written because no kept library serves: ``atomicwrites`` is archived, and
neither it nor ``boltons.fileutils`` writes folders, keeps the umask's mode or
removes the stale ``.part`` files a killed writer leaves, as the next write here does.

A write that fails (a full disk, a file-size limit, a read-only file system, no
permission) raises :class:`~skdigits._core.errors.WriteError`, one line naming the
destination, the cause and the fix; the destination keeps what it held.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from .errors import SkdigitsError, WriteError, one_line

_ELSEWHERE = "free some space or write it elsewhere"
#: Why a write failed and what to do, by errno; any other error keeps its own words.
WRITE_FAILURES: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", _ELSEWHERE),
    errno.EDQUOT: ("the disk quota is used up", _ELSEWHERE),
    errno.EFBIG: (
        "the file exceeds the file-size limit (ulimit -f) or what the file system allows",
        "raise the limit or write it elsewhere",
    ),
    errno.EROFS: ("the file system is read-only", "write it elsewhere"),
    errno.EACCES: ("permission denied", "write it where you have permission"),
    errno.EPERM: ("operation not permitted", "write it where you have permission"),
}


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


# ---------------------------------------------------------------- failed writes


def _inside(name: object, folder: Path) -> bool:
    if not isinstance(name, str | bytes | os.PathLike):
        return False
    return Path(os.path.abspath(os.fsdecode(name))).is_relative_to(os.path.abspath(folder))


def write_failure(err: OSError, path: Path, *, within: Path) -> WriteError | None:
    """``err`` as the one-line error of a failed write to ``path``; None if it is not one.

    Only the errors of :data:`WRITE_FAILURES` are a write's (a timeout or a reset
    connection is a download's, and keeps its own words). A failure of the write
    itself names no file, or a file ``within`` the folder the
    temporary lives in (``shutil.copyfile`` names its source and its destination); an
    error naming only files elsewhere (a source being read) is left as it is.
    """
    names = [n for n in (err.filename, getattr(err, "filename2", None)) if n is not None]
    if (
        isinstance(err, SkdigitsError)
        or err.errno not in WRITE_FAILURES
        or not (not names or any(_inside(name, within) for name in names))
    ):
        return None  # e.g. a network timeout while a download is written: not the disk's
    reason, fix = WRITE_FAILURES[err.errno]
    kept = f"the old {path.name} is kept" if os.path.lexists(path) else "nothing was written"
    return WriteError(
        f"cannot write {path}: {reason} ({errno.errorcode[err.errno]}); {fix}; {kept}", path=path
    )


@contextlib.contextmanager
def _failures_named(path: Path, within: Path, *, scratch: bool = False) -> Iterator[None]:
    """Turn an OSError of a write to ``path`` (temporaries ``within``) into a WriteError.

    With ``scratch`` (``within`` is a scratch folder), a WriteError about a file in
    it is said again for ``path``: the user never named the scratch file.
    """
    try:
        yield
    except WriteError as err:
        cause = err.__cause__
        if not (scratch and err.path is not None and _inside(err.path, within)):
            raise
        if not isinstance(cause, OSError):
            raise
        raise (write_failure(cause, path, within=within) or err) from cause
    except OSError as err:
        failure = write_failure(err, path, within=within)
        if failure is None:
            raise
        raise failure from err


# ---------------------------------------------------------------- files


@contextlib.contextmanager
def temporary_dir_beside(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A scratch folder beside ``path`` (``.<name>.<random>.part``), removed on exit.

    Scratch files of a write live next to its destination, never in the system's
    temporary folder: a writer that is killed leaves them where the next write to
    the same destination finds and removes them (:func:`remove_stale_parts`). A
    failed write to a scratch file raises :class:`WriteError` naming ``path``.
    """
    path = Path(path)
    with _failures_named(path, path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_parts(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        with _failures_named(path, tmp, scratch=True):
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
    first (:func:`remove_stale_parts`). A write that fails (full disk, size limit,
    read-only, no permission) raises :class:`WriteError` naming ``path``.
    """
    path = Path(path)
    if _is_special(path):
        raise WriteError(
            f"cannot write {path}: it is a device, pipe or socket, which a file written "
            "here would replace; pass the path of a file to write",
            path=path,
        )
    with _failures_named(path, path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_parts(path)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=f"{suffix}.part", dir=path.parent
        )
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        with _failures_named(path, path.parent):
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


def write_files_atomic(folder: str | os.PathLike[str], files: Mapping[str, bytes]) -> None:
    """Write several files into ``folder`` together: all are staged, then all renamed.

    For a set of files that belong together in a folder that may hold other files
    (a report beside the user's own files), so :func:`atomic_dir` cannot swap the
    whole folder. Every file is first written in full to its hidden temporary
    beside its destination; only when all are written are they renamed into
    place, in ``files``' order (so the last one named can mark a complete set). A
    full disk or any other failure while staging leaves every destination as it
    was, and raises :class:`WriteError` naming the file; renames need no space.
    """
    folder = Path(folder)
    with contextlib.ExitStack() as stack:
        # Entered last-first, so the stack's exits, which rename, run in files' order.
        for name, data in reversed(list(files.items())):
            stack.enter_context(atomic_path(folder / name)).write_bytes(data)


# ---------------------------------------------------------------- folders


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``path``; on success it becomes ``path``.

    The caller fills the folder (``.<name>.<random>.part``, removed on failure, or
    by the next write once stale); its files are flushed to disk, then it is
    renamed onto ``path`` in one step. With ``replace``, a folder already at
    ``path`` is swapped out in one step (Linux's ``renameat2(RENAME_EXCHANGE)``;
    elsewhere renamed aside, the new one renamed in, the old one removed), so a
    reader, a failure or a kill sees the whole old folder or the whole new one.
    A link to a folder is followed: the folder it points to is replaced.

    Raises
    ------
    WriteError
        When the folder cannot be written or swapped in (full disk, size limit,
        read-only, no permission), or ``path`` appeared meanwhile without ``replace``.
    """
    shown = Path(path)  # messages name the path as the caller gave it
    path = Path(os.path.abspath(path))
    if path.is_symlink() and path.is_dir():
        path = path.resolve()
    with _failures_named(shown, path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_parts(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        with _failures_named(shown, path.parent):
            yield tmp
            _sync_tree(tmp)
            os.chmod(tmp, 0o777 & ~_current_umask())  # mkdtemp's 0700 → a new folder's mode
            _swap_in(tmp, path, replace=replace)
            _fsync_dir(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the failed folder, or the old one swapped out


def _sync_tree(folder: Path) -> None:
    for root, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(Path(root))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_in(new: Path, path: Path, *, replace: bool) -> None:
    """Rename ``new`` onto ``path``; with ``replace``, ``new`` then holds the old folder."""
    appeared = WriteError(
        f"cannot write {path}: something else was written there meanwhile; it is kept, "
        "nothing was replaced: write again",
        path=path,
    )
    if not os.path.lexists(path):
        try:
            os.rename(new, path)
        except OSError as err:
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise
            raise appeared from err
        return
    if not replace:
        raise appeared
    if exchange_paths(new, path):
        return
    holder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        os.rename(path, holder / "old")
        try:
            os.rename(new, path)
        except BaseException:
            os.rename(holder / "old", path)  # the old folder back in place
            raise
        os.rename(holder / "old", new)  # removed with the temporary
    finally:
        with contextlib.suppress(OSError):  # still holding the old folder: keep it
            os.rmdir(holder)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where it is not supported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not glibc 2.28+ on Linux
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # kernel or file system lacks it
        return False
    raise OSError(code, os.strerror(code), str(b))


def refuse_existing(
    path: Path,
    *,
    force: bool,
    fix: str = "pass force=True to replace it",
    label: str = "",
    example: str | None = None,
    error: type[SkdigitsError] = SkdigitsError,
) -> None:
    """Refuse a destination that is a directory, or that exists unless ``force``.

    ``fix`` says how to replace it (``force=True`` reads ``--force`` on the command
    line), ``label`` prefixes the path (``"output "``), ``example`` is a file name
    suggested inside a directory given by mistake.
    """
    try:
        is_dir = path.is_dir()
    except OSError as err:  # ENAMETOOLONG, EACCES on a parent: pathlib lets these through
        raise error(
            f"{label}{str(path)[:80]}{'...' if len(str(path)) > 80 else ''} cannot be "
            f"used ({one_line(err.strerror or err)}); pass a shorter or accessible path"
        ) from err
    if is_dir:
        such_as = f" such as {path / example}" if example else ""
        raise error(f"{label}{path} is a directory; pass a file path{such_as}")
    if _is_special(path):  # even with force: a rename would put a file where /dev/null was
        raise error(
            f"{label}{path} is not a regular file (a device, pipe or socket); "
            "pass the path of a file to write"
        )
    if path.exists() and not force:
        raise error(f"{label}{path} already exists; {fix}", cli_words=_FORCE_WORDS)


_FORCE_WORDS = {"force=True": "--force"}


def _is_special(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (links followed) exists and is a device, FIFO or socket."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))

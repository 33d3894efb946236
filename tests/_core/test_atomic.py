"""Atomic writes: the old file or the whole new one, never a part; ordinary permissions.

Also under SIGKILL mid-write, and with the hidden temporaries a killed writer
leaves behind.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skdigits._core import atomic
from skdigits._core.atomic import (
    atomic_dir,
    atomic_open,
    refuse_existing,
    temporary_dir_beside,
    write_bytes_atomic,
    write_failure,
    write_files_atomic,
)
from skdigits._core.errors import SkdigitsError, WriteError
from tests._support.files import write
from tests._support.hostile import (
    run_and_kill,
)


def test_new_file_gets_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "a.bin", b"data")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644
    assert (tmp_path / "a.bin").read_bytes() == b"data"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"good")

    def write_half_then_fail():
        with atomic_open(target) as fh:
            fh.write(b"half")
            raise RuntimeError("killed mid-way")

    with pytest.raises(RuntimeError, match="killed mid-way"):
        write_half_then_fail()
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_parent_directories_are_created(tmp_path):
    write_bytes_atomic(tmp_path / "a" / "b" / "c.bin", b"x")
    assert (tmp_path / "a" / "b" / "c.bin").read_bytes() == b"x"


# ---------------------------------------------------------------- killed writers

KILLED_WRITER = """
import sys, time
from pathlib import Path
from skdigits._core.atomic import atomic_open

dest, ready = Path(sys.argv[1]), Path(sys.argv[2])
with atomic_open(dest, "wb") as fh:
    fh.write(b"N" * (1 << 20))  # half of the new file
    fh.flush()
    ready.write_text("half written")
    time.sleep(120)  # killed here
    fh.write(b"N" * (1 << 20))
"""


def test_a_writer_killed_mid_write_leaves_the_old_file(tmp_path):
    """SIGKILL mid-write: the destination keeps its old bytes and readers never see a part.

    No cleanup can run after SIGKILL, so the temporary file may stay behind; what
    is asserted is that it is the only extra file, hidden (``.<name>.<random>.part``)
    beside the destination, so nothing mistakes it for the real one.
    """
    dest, ready = tmp_path / "results.csv", tmp_path / "ready"
    dest.write_bytes(b"old,good\n")
    run_and_kill(KILLED_WRITER, [str(dest), str(ready)], ready, timeout=60)
    assert dest.read_bytes() == b"old,good\n"
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name not in {"results.csv", "ready"})
    assert all(re.fullmatch(r"\.results\.csv\..+\.part", name) for name in leftovers), leftovers


def test_stale_part_files_are_removed_on_the_next_write(tmp_path):
    """A killed writer's hidden .part (file or folder) over an hour old goes on the next write."""
    dest = tmp_path / "m.onnx"
    stale_file = write(tmp_path / ".m.onnx.k1ll3d.part", b"half a model")
    stale_dir = tmp_path / ".m.onnx.abc123.part"
    write(stale_dir / "model.keras", b"scratch")
    fresh = write(tmp_path / ".m.onnx.running.part", b"another writer, still at work")
    other = write(tmp_path / ".other.onnx.old.part", b"not ours")
    two_hours_ago = time.time() - 7200
    for path in (stale_file, stale_dir, other):
        os.utime(path, (two_hours_ago, two_hours_ago))
    write_bytes_atomic(dest, b"new model")
    assert dest.read_bytes() == b"new model"
    assert not stale_file.exists()
    assert not stale_dir.exists()
    assert fresh.exists()  # may belong to a writer still running
    assert other.exists()  # the temporary of another destination


# ---------------------------------------------------------------- failed writes


def full_disk() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_full_disk_is_one_line_naming_the_file_and_the_old_file_is_kept(tmp_path):
    target = write(tmp_path / "model.bin", b"good")

    def write_half_then_fill_the_disk():
        with atomic_open(target) as fh:
            fh.write(b"half")
            raise full_disk()

    with pytest.raises(WriteError) as info:
        write_half_then_fill_the_disk()

    assert str(info.value) == (
        f"cannot write {target}: no space left on the device (ENOSPC); free some space or "
        "write it elsewhere; the old model.bin is kept"
    )
    assert isinstance(info.value, OSError)  # `except OSError` still catches it
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


FILE_SIZE_LIMITED = """
import resource, sys
from skdigits._core.atomic import write_bytes_atomic
from skdigits._core.errors import SkdigitsError, WriteError
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # Python ignores SIGXFSZ: EFBIG
try:
    write_bytes_atomic(sys.argv[1], b"N" * 100_000)
except WriteError as err:
    print(err)
"""


def test_a_file_size_limit_is_a_write_error_and_the_old_file_is_kept(tmp_path):
    """RLIMIT_FSIZE makes the write fail with a real EFBIG, as a full disk fails with ENOSPC."""
    target = write(tmp_path / "m.onnx", b"old model")
    result = subprocess.run(
        [sys.executable, "-c", FILE_SIZE_LIMITED, str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == (
        f"cannot write {target}: the file exceeds the file-size limit (ulimit -f) or what "
        "the file system allows (EFBIG); raise the limit or write it elsewhere; the old "
        "m.onnx is kept\n"
    )
    assert target.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_an_error_about_another_file_is_not_blamed_on_the_destination(tmp_path):
    dest = tmp_path / "out" / "m.onnx"
    elsewhere = OSError(errno.EACCES, "Permission denied", str(tmp_path / "source.onnx"))
    assert write_failure(elsewhere, dest, within=dest.parent) is None
    copying = OSError(errno.ENOSPC, "No space left on device")
    copying.filename, copying.filename2 = str(tmp_path / "source"), str(dest.parent / ".tmp")
    assert "no space left" in str(write_failure(copying, dest, within=dest.parent))


def test_an_error_that_is_not_the_disks_keeps_its_own_type(tmp_path):
    """A download written through atomic_path may time out: that is no write failure."""
    target = write(tmp_path / "train.gz", b"cached")

    def time_out_while_downloading():
        with atomic_open(target) as fh:
            fh.write(b"part of a download")
            raise TimeoutError("The read operation timed out")

    with pytest.raises(TimeoutError, match="timed out") as info:
        time_out_while_downloading()
    assert not isinstance(info.value, WriteError)
    assert target.read_bytes() == b"cached"
    assert [p.name for p in tmp_path.iterdir()] == ["train.gz"]


def test_a_folder_that_appears_meanwhile_is_kept(tmp_path):
    site = tmp_path / "site"

    def write_while_another_writes():
        with atomic_dir(site) as part:
            write(part / "index.html", b"mine")
            write(site / "index.html", b"theirs")  # another writer, first

    with pytest.raises(WriteError, match=r"site: something else was written there meanwhile"):
        write_while_another_writes()
    assert _snapshot(site) == {"index.html": b"theirs"}
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_a_failed_write_in_a_scratch_folder_names_the_destination(tmp_path):
    dest = write(tmp_path / "m.ort", b"old")

    def fail_in_the_scratch_folder():
        with temporary_dir_beside(dest) as scratch, atomic_open(scratch / "gated.onnx"):
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    with pytest.raises(WriteError) as info:
        fail_in_the_scratch_folder()
    assert str(info.value).startswith(f"cannot write {dest}: the disk quota is used up (EDQUOT)")
    assert info.value.path == dest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ort"]


def test_save_model_on_a_full_disk_names_the_file_not_the_model(fitted_pipeline, tmp_path):
    """`train -o` writes through save_model: a size limit is a write error, the old file kept."""
    from skdigits import save_model

    dest = write(tmp_path / "m.skdigits", b"the previous model")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(WriteError) as info:
            save_model(fitted_pipeline, dest)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    message = str(info.value)
    assert message.startswith(f"cannot write {dest}: the file exceeds the file-size limit")
    assert message.endswith("; the old m.skdigits is kept")
    assert "model inside" not in message
    assert "\n" not in message
    assert dest.read_bytes() == b"the previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.skdigits"]


# ---------------------------------------------------------------- folders


def test_a_folder_is_written_whole_and_replaced_whole(tmp_path):
    site = tmp_path / "site"
    with atomic_dir(site) as part:
        assert part.parent == tmp_path
        assert re.fullmatch(r"\.site\..+\.part", part.name)
        write(part / "a.txt", b"one")
        write(part / "sub" / "b.txt", b"two")
    assert _snapshot(site) == {"a.txt": b"one", "sub/b.txt": b"two"}
    old = os.umask(0o022)
    try:
        with atomic_dir(site, replace=True) as part:
            write(part / "c.txt", b"three")
    finally:
        os.umask(old)
    assert _snapshot(site) == {"c.txt": b"three"}  # nothing of the old folder stays
    assert stat.S_IMODE(site.stat().st_mode) == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


@pytest.mark.parametrize("swap", ["exchange", "rename aside"])
def test_a_folder_write_that_fails_keeps_the_old_folder(tmp_path, monkeypatch, swap):
    if swap == "rename aside":  # where renameat2 is missing
        monkeypatch.setattr(atomic, "exchange_paths", lambda a, b: False)
    site = tmp_path / "site"
    write(site / "index.html", b"old page")
    write(site / "model.onnx", b"old model")
    before = _snapshot(site)

    def write_half_then_fill_the_disk():
        with atomic_dir(site, replace=True) as part:
            write(part / "index.html", b"new page")
            raise full_disk()

    with pytest.raises(WriteError, match=r"site: no space left on the device \(ENOSPC\)"):
        write_half_then_fill_the_disk()
    assert _snapshot(site) == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]

    with atomic_dir(site, replace=True) as part:
        write(part / "index.html", b"new page")
    assert _snapshot(site) == {"index.html": b"new page"}
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_a_failed_rename_puts_the_old_folder_back(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "exchange_paths", lambda a, b: False)
    site = write(tmp_path / "site" / "model.json", b"{}").parent
    real_rename = os.rename

    def failing_rename(src, dst):
        if Path(src).name.endswith(".part") and Path(dst) == site:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)

    def replace_the_site():
        with atomic_dir(site, replace=True) as part:
            write(part / "model.json", b'{"new": 1}')

    with pytest.raises(WriteError, match=r"cannot write .*site: no space left .*\(ENOSPC\)"):
        replace_the_site()
    assert _snapshot(site) == {"model.json": b"{}"}
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_a_link_to_a_folder_keeps_pointing_at_the_new_folder(tmp_path):
    real = write(tmp_path / "real" / "old.txt", b"old").parent
    link = tmp_path / "link"
    link.symlink_to(real)
    with atomic_dir(link, replace=True) as part:
        write(part / "new.txt", b"new")
    assert link.is_symlink()
    assert link.resolve() == real
    assert _snapshot(real) == {"new.txt": b"new"}


KILLED_FOLDER_WRITER = """
import sys, time
from pathlib import Path
from skdigits._core.atomic import atomic_dir

dest, ready = Path(sys.argv[1]), Path(sys.argv[2])
with atomic_dir(dest, replace=True) as part:
    (part / "index.html").write_bytes(b"new page")
    ready.write_text("half written")
    time.sleep(120)  # killed here
    (part / "model.onnx").write_bytes(b"new model")
"""


def test_a_folder_writer_killed_midway_leaves_the_old_folder(tmp_path):
    site = tmp_path / "site"
    write(site / "index.html", b"old page")
    write(site / "model.onnx", b"old model")
    before = _snapshot(site)
    ready = tmp_path / "ready"
    run_and_kill(KILLED_FOLDER_WRITER, [str(site), str(ready)], ready, timeout=60)
    assert _snapshot(site) == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in {"site", "ready"}]
    assert all(re.fullmatch(r"\.site\..+\.part", name) for name in leftovers), leftovers


# ---------------------------------------------------------------- sets of files


def test_files_written_together_land_together_beside_the_users_files(tmp_path):
    write(tmp_path / "notes.txt", b"mine")
    write(tmp_path / "a.csv", b"old a")
    write_files_atomic(tmp_path, {"a.csv": b"new a", "b.png": b"new b", "page.html": b"new p"})
    assert _snapshot(tmp_path) == {
        "notes.txt": b"mine",
        "a.csv": b"new a",
        "b.png": b"new b",
        "page.html": b"new p",
    }


def test_a_full_disk_while_staging_a_set_changes_none_of_it(tmp_path, monkeypatch):
    write(tmp_path / "a.csv", b"old a")
    write(tmp_path / "page.html", b"old page")
    real_write_bytes = Path.write_bytes

    def fill_the_disk_at_the_last(path, data):
        if ".page.html." in path.name:  # the last file staged
            raise full_disk()
        return real_write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", fill_the_disk_at_the_last)
    with pytest.raises(WriteError, match=r"cannot write .*page\.html: no space left"):
        write_files_atomic(tmp_path, {"a.csv": b"new a", "page.html": b"new page"})
    monkeypatch.undo()
    assert _snapshot(tmp_path) == {"a.csv": b"old a", "page.html": b"old page"}


def test_a_device_or_pipe_is_never_replaced_by_a_file(tmp_path):
    """Written as root, a rename would put a regular file where /dev/null or a FIFO was."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for special in (fifo, Path(os.devnull)):
        with pytest.raises(WriteError, match=r"is a device, pipe or socket"):
            write_bytes_atomic(special, b"model")
        with pytest.raises(SkdigitsError, match=r"is not a regular file \(a device, pipe or "):
            refuse_existing(special, force=True)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_an_output_path_too_long_for_the_system_is_one_line(tmp_path):
    with pytest.raises(SkdigitsError) as info:
        refuse_existing(tmp_path / ("x" * 5000), force=False, label="output ")
    message = str(info.value)
    assert "cannot be used (File name too long); pass a shorter or accessible path" in message
    assert len(message) < 300

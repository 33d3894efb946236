"""Atomic writes: the old file or the whole new one, never a part; ordinary permissions.

Also under SIGKILL mid-write, and with the hidden temporaries a killed writer
leaves behind.
"""

from __future__ import annotations

import os
import re
import stat
import time

import pytest

from skdigits._core.atomic import atomic_open, write_bytes_atomic
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

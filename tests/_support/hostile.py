"""Hostile input: crafted files and the three ways its tables are checked.

The tables live beside what they attack (``tests/security/test_*.py``, one file
per entry point); each row is one of:

- ``Case``: one bad input to one entry point; the error type (or the CLI's exit
  status) and a one-line message naming the problem. CLI rows also check that
  stderr is exactly one ``skdigits: error:`` line (usage errors: argparse's usage
  and one error line), with no traceback, and that the command wrote no file.
- ``Bound``: a small crafted file that used to cost gigabytes or never return,
  run in a fresh interpreter under an address-space limit (RLIMIT_AS): it must
  end in the stated error, in one line, within the stated peak memory.
- ``Translated``: a file that used to escape as a raw Python exception
  (ValueError, IndexError, RecursionError, zlib.error, UnicodeDecodeError...);
  it must end in the package's own error with a one-line message.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from skdigits import SkdigitsError
from skdigits.cli.main import main
from tests._support.files import write

MiB = 1024 * 1024

X10 = np.zeros((10, 28, 28), dtype=np.uint8)
Y10 = np.arange(10)
NOISE = np.random.default_rng(0).integers(0, 256, (10, 28, 28), dtype=np.uint8)

# ---------------------------------------------------------------- crafted bytes


def idx(array: np.ndarray, code: int | None = None) -> bytes:
    """IDX bytes of a uint8 array, optionally with another dtype code."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08 if code is None else code, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def idx_header(code: int, shape: tuple[int, ...]) -> bytes:
    return struct.pack(f">BBBB{len(shape)}I", 0, 0, code, len(shape), *shape)


def save_npy(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def png(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def png_bytes() -> bytes:
    from PIL import Image

    return png(Image.new("L", (28, 28), 0))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


class Evil:
    """Unpickling this creates ``marker``: proof that loading a pickle runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# The crafted GIF: three frames with one descriptor overwritten, as a fuzzer made
# it. Pillow's frame seeking raised IndexError on it in the animation check.
BAD_GIF = zlib.decompress(
    base64.b64decode(
        "eNpz93SzME8UYBBgaGcAAUZGRiYmJmZmZhYWFnZ2dg6gEDMXLy8vHx8fPz+/gICAoKCgkJCQiIiIqKiomJiY"
        "uLi4lJSUrKysvLy8goKCkpKSioqKqqqqmpqapqamlpaWjo6Orq6unp6evr6+oaGhkZGRpaWllZWVtbW1ra2t"
        "vb29k5OTs7Ozi4uLq6urp6enj4+Pn5+fv79/QEBAYGBgUFBQcHBwaGhoWFhYeHh4dHR0bGxsXFxcYmJiUlJS"
        "cnJySkpKenp6ZmZmdnZ2Tk5Obm5uQUFBUVFRaWlpRUVFVVVVdXV1TU1NXV1dfX19Y2NjU1NTa2trW1tbZ2dn"
        "V1dXT09Pb29vX19ff3//xIkTJ0+ePHXq1GnTpk2fPn3mzJmzZs2aM2fOvHnz5s+fv2DBgoULFy5atGjp0qXL"
        "li1bvnz5qlWrVq9evW7duvXr12/evHnr1q3btm3bvn37zp07d+3atXv37r179+7bt+/gwYOHDx8+evTo8ePH"
        "T5w4cfLkydOnT585c+bcuXPnz5+/cOHCxYsXL1++fOXKlWvXrt24cePWrVu3b9++c+fO3bt37927d//+/QcP"
        "Hjx69Ojx48cvXrx4+fLl69ev37x58/bt23fv3n348OHjx4+fP3/+8uXL169fv3379uPHj58/f/769evPnz9/"
        "//799+8fwyggDuiACFBecOD4z3B4iYVDwvlFunkLHB4xO0xgNJfRWLNDyfX8FFG7HxULW5S9pjlIRMzgFHzZ"
        "1qLf1+ITxLTktJqnyyyHEyGqDLI+EQk1BsyHuqZ58epsyHz0yEPJw2zVkRNOye1KgrEGMV5XjnN02vQG2Ah+"
        "etEgrcdaxOJY1OnXLdIiYLhy48tWdpdqrkbPRQd5eExdpt3pTFBtkVOZxeGY+HExA6tx0o4nD6a87JEwsZb7"
        "szH4UUCTpGTbA8nGBe4c+4omWWx8/Lh3lrvwLYtNJg0Bal45HCcSH2UwKrCZNkUsKlrkoiRoKyb74vHh/gZp"
        "vmMrPIRXMimypmpYdhmfONJqlG32IcLlKBeHuhcoHDYu4GWRa+vSmXV4hRMzm5zWU8NN7twzXbn/PZmwceW5"
        "ifKMjAzWAJ+BZkg="
    )
)

# ---------------------------------------------------------------- Case: refused with a message


@dataclass
class Env:
    """What a case may use: a fresh folder, monkeypatch and the module's shared files."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    files: dict[str, Path]


@dataclass(frozen=True)
class Case:
    entry: str
    id: str
    act: Callable[[Env], Any]  # raises; for "cli", returns the argv
    error: type[BaseException] | int  # an exception type, or the CLI's exit status
    message: str  # a regex the one-line message must match


def case_ids(cases: list[Case]) -> list[str]:
    return [f"{c.entry}:{c.id}" for c in cases]


def check_refused(case: Case, env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Run one ``Case`` row and check its error, its one-line message and its silence."""
    if case.entry == "cli":
        argv = [str(a) for a in case.act(env)]
        before = _files_under(env.tmp)
        if case.error == 2:
            with pytest.raises(SystemExit) as exc:
                main(argv)
            assert exc.value.code == 2
            err = capsys.readouterr().err
            assert err.startswith("usage: skdigits")
            assert re.search(case.message, err.splitlines()[-1]), err
        else:
            assert main(argv) == case.error
            assert_one_error_line(capsys.readouterr().err, case.message)
        assert not env.files["marker"].exists(), "a pickle was loaded: its code ran"
        assert _files_under(env.tmp) == before, "a refused command wrote a file"
        return

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(BaseException) as info:  # noqa: PT011 - the type is checked below
            case.act(env)
    assert isinstance(info.value, case.error), repr(info.value)
    assert_one_line_message(str(info.value), case.message)


def refusal_test(cases: list[Case]) -> Callable[..., None]:
    """The test of a table of ``Case`` rows; a module binds it to a ``test_`` name."""

    @pytest.mark.parametrize("case", cases, ids=case_ids(cases))
    def test_hostile_input_is_refused_with_a_clear_message(
        case, files, tmp_path, monkeypatch, capsys
    ):
        check_refused(case, Env(tmp_path, monkeypatch, files), capsys)

    return test_hostile_input_is_refused_with_a_clear_message


def assert_one_error_line(err: str, pattern: str) -> None:
    """stderr is one ``skdigits: error:`` line matching ``pattern``, with no traceback."""
    assert err.startswith("skdigits: error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(pattern, err), err


def assert_one_line_message(message: str, pattern: str) -> None:
    assert re.search(pattern, message), message
    assert "\n" not in message.strip(), message


def _files_under(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- Bound: time and memory

#: How long one bounded call may run before it counts as hanging. Generous on
#: purpose: the calls take well under a second, and a shared two-core machine
#: must not fail them; what the bound tests check is memory, the error and its
#: message, and that the call returns at all.
HANG_SECONDS = 120

BOUND_RUNNER = r"""
import contextlib, io, json, resource, sys, time
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

def cli(argv):
    # The command line's answer as an exception: exit status and stderr.
    from skdigits.cli.main import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(argv)
    raise SystemExit(f"{status}: {err.getvalue()}")

start = time.perf_counter()
error = None
try:
    exec(sys.argv[2])
except BaseException as exc:
    error = [type(exc).__name__, str(exc)]
seconds = time.perf_counter() - start
# VmHWM, the peak resident memory of this process since exec (ru_maxrss would
# carry over the forking parent's).
with open("/proc/self/status") as status:
    peak = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))
print(json.dumps({"error": error, "seconds": seconds, "peak": peak}))
"""


@dataclass(frozen=True)
class Bound:
    item: int  # the item number
    id: str
    make: Callable[[Path], str]  # writes the crafted file(s) in the folder, returns the code
    error: str  # the exception's class name
    message: str  # a regex the one-line message must match
    peak_mb: int  # the peak resident memory allowed (interpreter included)
    address_space_mb: int = 1024  # RLIMIT_AS for the run


def item_ids(rows: list[Any]) -> list[str]:
    return [f"{c.item}:{c.id}" for c in rows]


def check_bound(case: Bound, tmp_path: Path) -> None:
    """Run one ``Bound`` row in a fresh interpreter under its address-space limit."""
    code = case.make(tmp_path)
    limit = case.address_space_mb * MiB
    result = subprocess.run(
        [sys.executable, "-c", BOUND_RUNNER, str(limit), code],
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["error"] is not None, "the hostile file was accepted"
    name, message = report["error"]
    assert name == case.error, (name, message)
    assert_one_line_message(message, case.message)
    assert report["peak"] <= case.peak_mb * MiB, report
    print(f"{case.id}: {report['seconds']:.2f} s, peak {report['peak'] / MiB:.0f} MB")


def bound_test(cases: list[Bound]) -> Callable[..., None]:
    """The test of a table of ``Bound`` rows; a module binds it to a ``test_`` name."""

    @pytest.mark.parametrize("case", cases, ids=item_ids(cases))
    def test_a_small_hostile_file_costs_bounded_time_and_memory(case, tmp_path):
        check_bound(case, tmp_path)

    return test_a_small_hostile_file_costs_bounded_time_and_memory


def code_load_idx(path: Path) -> str:
    return f"from skdigits.datasets import load_idx; load_idx({str(path)!r})"


def code_load_model(path: Path) -> str:
    return f"from skdigits.estimator._saving import load_model; load_model({str(path)!r})"


def code_predict(path: Path) -> str:
    return (
        "import numpy as np; from skdigits.runtime._predictor import OnnxDigitClassifier; "
        f"OnnxDigitClassifier({str(path)!r}).predict(np.zeros((2, 28, 28), np.float32))"
    )


# ---------------------------------------------------------------- Translated: our own errors


@dataclass(frozen=True)
class Translated:
    item: int
    id: str
    act: Callable[[Path], Any]  # raises; for CLI rows returns the argv
    error: type[BaseException] | int  # an exception type, or the CLI's exit status
    message: str


def check_translated(
    case: Translated,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run one ``Translated`` row in ``tmp_path``, beside a secret the model must not read."""
    monkeypatch.chdir(tmp_path)
    secret = write(tmp_path / "secret.txt", b"TOP SECRET " * 2851)  # 31,361 bytes
    if isinstance(case.error, int):
        assert main([str(a) for a in case.act(tmp_path)]) == case.error
        assert_one_error_line(capsys.readouterr().err, case.message)
        return
    with pytest.raises(case.error) as info:
        case.act(tmp_path)
    message = str(info.value)
    assert_one_line_message(message, case.message)
    assert b"SECRET" not in message.encode()
    assert secret.exists()


def translation_test(cases: list[Translated]) -> Callable[..., None]:
    """The test of a table of ``Translated`` rows; a module binds it to a ``test_`` name."""

    @pytest.mark.parametrize("case", cases, ids=item_ids(cases))
    def test_a_raw_exception_becomes_a_skdigits_error(case, tmp_path, monkeypatch, capsys):
        check_translated(case, tmp_path, monkeypatch, capsys)

    return test_a_raw_exception_becomes_a_skdigits_error


# ---------------------------------------------------------------- processes killed mid-write


def run_and_kill(script: str, args: list[str], ready: Path, timeout: float) -> None:
    """Run ``script`` until it creates ``ready``, then SIGKILL it."""
    # The child finds MNIST where the parent did: $SKDIGITS_DATA if set, else the default.
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if proc.poll() is not None:
                _, err = proc.communicate()
                pytest.fail(f"writer exited {proc.returncode} early: {err.decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("writer never reached the middle of its write")
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


# ---------------------------------------------------------------- bounded fuzzing (hypothesis)

# Bounded so the suite stays fast: a few hundred cases per reader, no deadline
# (the machine is shared), no example database written into the checkout.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def outcome(call: Callable[..., Any], *args: Any) -> Any:
    """What ``call`` returns, or the SkdigitsError it raises; anything else fails the test."""
    try:
        return call(*args)
    except SkdigitsError as err:
        return err


def assert_one_line(result: Any, error: type[BaseException]) -> None:
    if isinstance(result, SkdigitsError):
        assert isinstance(result, error), repr(result)
        assert "\n" not in str(result), str(result)


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """``base`` with a few bytes or words overwritten, possibly truncated."""
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        word = draw(st.sampled_from([1, 2, 4]))
        value = draw(
            st.one_of(st.sampled_from([0, 1, 0xFF, 0xFFFF, 0xFFFFFFFF]), st.integers(0, 2**32 - 1))
        )
        data[at : at + word] = (value % (1 << (8 * word))).to_bytes(word, "little")[
            : len(data) - at
        ]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)

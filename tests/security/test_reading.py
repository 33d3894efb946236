"""Hostile pictures for ``skdigits read`` and ``read_numbers``: one line, bounded cost.

Each row runs in a fresh interpreter under an address-space limit (the checks are
in ``tests/_support/hostile.py``): a blank page, 16 megapixels of noise, a page of
65,536 dots, thousands of specks round one digit, 250 marks a model takes for no
digit, a FIFO, a directory and the longest ``--length`` the command line takes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PIL")
pytest.importorskip("onnxruntime")

from PIL import Image

from tests._support.hostile import Bound, bound_test
from tests._support.onnx_models import build_model


def _read_cli(folder: Path, *inputs: str | Path, options: tuple[str, ...] = ()) -> str:
    """Code running ``skdigits read`` on a linear model written in ``folder``."""
    model = build_model(folder / "model.onnx")
    argv = ["read", str(model), *map(str, inputs), *options]
    return f"cli({argv!r})"


def _read_python(path: Path) -> str:
    """Code reading ``path`` with read_numbers and a stand-in predictor (no model needed)."""
    return (
        "import numpy as np; from skdigits import read_numbers\n"
        "class Flat:\n"
        "    classes_ = np.arange(10)\n"
        "    def predict_proba(self, x): return np.full((len(x), 10), 0.1)\n"
        f"reading, = read_numbers(Flat(), {str(path)!r})\n"
        "raise SystemExit(f'read {len(reading.text)} digits')"
    )


def _read_refusing(path: Path) -> str:
    """Code reading ``path`` with a stand-in predictor whose digit score takes nothing
    for a digit (every mark may be left out as noise)."""
    return (
        "import numpy as np; from skdigits import read_numbers\n"
        "class Refusing:\n"
        "    classes_ = np.arange(10)\n"
        "    digit_threshold_ = 0.9\n"
        "    def predict_proba(self, x): return np.full((len(x), 10), 0.1)\n"
        "    def predict_with_score(self, x):\n"
        "        p = self.predict_proba(x); return p.argmax(1), p, np.full(len(x), 0.01)\n"
        f"reading, = read_numbers(Refusing(), {str(path)!r})\n"
        "raise SystemExit(f'read {len(reading.text)} digits')"
    )


def _png(folder: Path, name: str, page: np.ndarray) -> Path:
    path = folder / name
    Image.fromarray(page).save(path)
    return path


def _blank(folder: Path) -> str:
    return _read_cli(folder, _png(folder, "blank.png", np.full((2000, 3000), 255, np.uint8)))


def _noise(folder: Path) -> str:
    page = np.random.default_rng(0).integers(0, 256, (4096, 4096), dtype=np.uint8)
    return _read_python(_png(folder, "noise.png", page))


def _dots(folder: Path) -> str:
    page = np.full((4096, 4096), 255, np.uint8)
    page[::16, ::16] = 0
    page[1::16, ::16] = 0
    return _read_python(_png(folder, "dots.png", page))


def _specks_round_a_digit(folder: Path) -> str:
    """About 4,000 one-pixel specks round one tall bar: the specks are dropped."""
    page = np.full((600, 1600), 255, np.uint8)
    page[4::9, 4::27] = 0
    page[100:500, 780:820] = 0
    return _read_python(_png(folder, "specks.png", page))


def _marks_refused(folder: Path) -> str:
    """250 bars apart, just under the limit of 256 pieces, none of them a digit."""
    page = np.full((400, 4100), 255, np.uint8)
    for k in range(250):
        page[100:300, 20 + 16 * k : 26 + 16 * k] = 0
    return _read_refusing(_png(folder, "bars.png", page))


def _fifo(folder: Path) -> str:
    os.mkfifo(folder / "pipe.png")
    return _read_cli(folder, folder / "pipe.png")


def _directory(folder: Path) -> str:
    (folder / "pictures").mkdir()
    return _read_cli(folder, folder / "pictures")


def _longest_length(folder: Path) -> str:
    page = np.full((60, 60), 255, np.uint8)
    page[10:50, 27:33] = 0
    path = _png(folder, "one.png", page)
    return _read_cli(folder, path, options=("--length", "999999"))


test_a_hostile_picture_costs_bounded_time_and_memory = bound_test(
    [
        Bound(
            28,
            "blank page",
            _blank,
            "SystemExit",
            r"^1: skdigits: error: .*blank\.png' is "
            r"blank: no digit found",
            peak_mb=400,
        ),
        Bound(
            28,
            "16 MP of noise",
            _noise,
            "DataError",
            r"noise\.png' is blank: no digit found",
            peak_mb=400,
        ),
        Bound(
            28,
            "16 MP of 65,536 dots",
            _dots,
            "DataError",
            r"dots\.png' breaks into \d+ pieces of writing, over the limit of 256",
            peak_mb=400,
        ),
        Bound(
            28,
            "4,000 specks round a digit",
            _specks_round_a_digit,
            "SystemExit",
            r"^read 1 digits$",
            peak_mb=400,
        ),
        Bound(
            28,
            "250 marks taken for no digit",
            _marks_refused,
            "DataError",
            r"bars\.png' shows no digit: the model takes each of its 250 marks for no digit",
            peak_mb=400,
        ),
        Bound(
            28,
            "FIFO",
            _fifo,
            "SystemExit",
            r"pipe\.png' is not a regular file \(a device, pipe or socket\)",
            peak_mb=400,
        ),
        Bound(
            28,
            "directory",
            _directory,
            "SystemExit",
            r"pictures' is a directory, not an image file",
            peak_mb=400,
        ),
        Bound(
            28,
            "--length 999999",
            _longest_length,
            "SystemExit",
            r"one\.png' cannot be read as a number of 999999 digits",
            peak_mb=400,
        ),
    ]
)

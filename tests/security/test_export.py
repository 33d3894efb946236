"""Hostile input to the ONNX export: refused in one line, and never half a file.

An unfitted pipeline, something that is not a pipeline, an existing output (kept
as it was), a directory, an opset out of range; and an export killed with SIGKILL
before its rename leaves the old model in place. The check is in
``tests/_support/hostile.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from skdigits.estimator._saving import save_model
from skdigits.export import ExportError, export_onnx
from skdigits.runtime._predictor import OnnxDigitClassifier
from tests._support.files import write
from tests._support.hostile import (
    Case,
    Env,
    case_ids,
    check_refused,
    run_and_kill,
)


def make_pipeline(**params: Any) -> Any:
    from skdigits import make_pipeline as make

    return make(epochs=1, random_state=0, **params)


CASES: list[Case] = [
    Case(
        "export",
        "unfitted",
        lambda e: export_onnx(make_pipeline(), e.tmp / "m.onnx"),
        ExportError,
        r"the pipeline is not fitted yet.*call fit\(X, y\) before exporting",
    ),
    Case(
        "export",
        "not-a-pipeline",
        lambda e: export_onnx({"weights": [1, 2]}, e.tmp / "m.onnx"),
        ExportError,
        r"expects a skdigits Pipeline of PixelScaler and DigitClassifier, got dict",
    ),
    Case(
        "export",
        "output-exists",
        lambda e: export_onnx(make_pipeline(), write(e.tmp / "m.onnx", b"keep me")),
        ExportError,
        r"m\.onnx already exists; pass force=True \(or --force",
    ),
    Case(
        "export",
        "output-is-a-directory",
        lambda e: export_onnx(make_pipeline(), e.tmp),
        ExportError,
        r"is a directory; pass a file path such as",
    ),
    Case(
        "export",
        "opset-out-of-range",
        lambda e: export_onnx(make_pipeline(), e.tmp / "m.onnx", opset=99),
        ExportError,
        r"`opset` must be from 13 to 18, got 99",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_hostile_input_is_refused_with_a_clear_message(case, files, tmp_path, monkeypatch, capsys):
    check_refused(case, Env(tmp_path, monkeypatch, files), capsys)
    if case.id == "output-exists":
        assert (tmp_path / "m.onnx").read_bytes() == b"keep me"


# ---------------------------------------------------------------- killed before its rename

KILLED_EXPORT = """
import sys, time
from pathlib import Path
import skdigits._core.atomic as atomic
from skdigits.cli.main import main

ready = Path(sys.argv[-1])
real = atomic.atomic_path

def stalling(path, **kwargs):
    with real(path, **kwargs) as tmp:
        yield tmp
        # The new file is complete in its temporary but not yet renamed.
        ready.write_text(str(tmp))
        time.sleep(120)  # killed here

atomic.atomic_path = __import__("contextlib").contextmanager(stalling)
sys.exit(main(sys.argv[1:-1]))
"""


def test_an_export_killed_before_its_rename_leaves_the_old_onnx(fitted_pipeline, files, tmp_path):
    model = save_model(fitted_pipeline, tmp_path / "m.skdigits")
    dest, ready = tmp_path / "m.onnx", tmp_path / "ready"
    old = files["onnx"].read_bytes()
    dest.write_bytes(old)
    argv = ["export", str(model), "-o", str(dest), "--force", "--check-images", "50", "--offline"]
    run_and_kill(KILLED_EXPORT, [*argv, str(ready)], ready, timeout=300)
    temp = Path(ready.read_text())
    assert temp.parent == tmp_path
    assert temp.name.startswith(".m.onnx.")
    assert temp.stat().st_size > 0  # the new model was written, just never renamed
    assert dest.read_bytes() == old
    OnnxDigitClassifier(dest)  # still the old, loadable model

"""Hostile input to the ONNX export: refused in one line, and never half a file.

An unfitted pipeline, something that is not a pipeline, an existing output (kept
as it was), a directory, an opset out of range; and an export killed with SIGKILL
before its rename leaves the old model in place. The check is in
``tests/_support/hostile.py``.
"""

from __future__ import annotations

import os
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
    assert_one_error_line,
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
        r"m\.onnx already exists; pass force=True to replace it",
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


# ---------------------------------------------------------------- the command line

#: A zip is what a saved pipeline is: these refusals come before the file is read further.
PIPELINE_ZIP = "model_zip"
ORT_BYTES = b"\x1c\x00\x00\x00ORTM" + bytes(40)  # onnxruntime's format identifier
IS_THE_INPUT = r"is the input model .*; writing it would destroy the model, also with --force"
ALREADY_EXPORTED = r"is an {} model, already exported; export converts a saved pipeline"


def copied(e: Env, key: str, name: str) -> Path:
    return write(e.tmp / name, e.files[key].read_bytes())


def onto_itself(e: Env, *flags: str) -> list[Any]:
    model = copied(e, PIPELINE_ZIP, "m.skdigits")
    return ["export", model, "-o", model, *flags]


def linked(e: Env, how: str) -> list[Any]:
    model = copied(e, PIPELINE_ZIP, "m.skdigits")
    other = e.tmp / "other.onnx"
    (other.symlink_to if how == "symlink" else other.hardlink_to)(model)
    return ["export", model, "-o", other, "--force"]


def onto_a_pipe(e: Env) -> list[Any]:
    fifo = e.tmp / "pipe.onnx"
    os.mkfifo(fifo)
    return ["export", copied(e, PIPELINE_ZIP, "m.skdigits"), "-o", fifo, "--force"]


def in_site(e: Env) -> list[Any]:
    model = copied(e, "onnx", "site/model.onnx")
    write(e.tmp / "site" / "index.html", b"the old page")
    return ["export", model, "--web", e.tmp / "site", "--force"]


def dangling(e: Env) -> list[Any]:
    (e.tmp / "site").symlink_to(e.tmp / "gone")
    return ["export", e.files["onnx"], "--web", e.tmp / "site", "--offline"]


def site_with(e: Env, name: str, *flags: str) -> list[Any]:
    write(e.tmp / "site" / name, b"not the site's")
    return ["export", e.files["onnx"], "--web", e.tmp / "site", "--offline", *flags]


def flat_model(e: Env) -> list[Any]:
    from tests._support.onnx_models import build_model

    flat = build_model(e.tmp / "flat.onnx", input_shape=["N", 784])
    return ["export", flat, "--web", e.tmp / "site", "--offline"]


CLI_CASES: list[Case] = [
    Case(
        "cli",
        "output-is-the-input",
        lambda e: onto_itself(e, "--force"),
        1,
        rf"output .*m\.skdigits {IS_THE_INPUT}: choose another output \(-o\)$",
    ),
    Case(
        "cli",
        "output-is-a-pipe",  # a rename would put a file where the pipe was, even with --force
        onto_a_pipe,
        1,
        r"output .*pipe\.onnx is not a regular file \(a device, pipe or socket\)",
    ),
    Case(
        "cli", "output-is-a-symlink-to-the-input", lambda e: linked(e, "symlink"), 1, IS_THE_INPUT
    ),
    Case("cli", "output-is-a-hard-link-of-the-input", lambda e: linked(e, "hard"), 1, IS_THE_INPUT),
    Case(
        "cli",
        "default-output-is-the-input",  # a saved pipeline named .onnx: its ONNX would go there
        lambda e: ["export", copied(e, PIPELINE_ZIP, "m.onnx")],
        1,
        rf"output .*m\.onnx {IS_THE_INPUT}",
    ),
    Case(
        "cli",
        "int8-output-is-the-input",
        lambda e: onto_itself(e, "--quantize", "int8", "--force"),
        1,
        IS_THE_INPUT,
    ),
    Case(
        "cli",
        "ort-operator-list-is-the-input",
        lambda e: [
            *["export", copied(e, PIPELINE_ZIP, "m.required_operators.config")],
            *["--format", "ort", "-o", e.tmp / "m.ort", "--force"],
        ],
        1,
        rf"output .*m\.required_operators\.config {IS_THE_INPUT}",
    ),
    Case(
        "cli",
        "onnx-input",
        lambda e: ["export", copied(e, "onnx", "model.onnx")],
        1,
        ALREADY_EXPORTED.format("ONNX") + r".*or build the browser site from it with --web DIR$",
    ),
    Case(
        "cli",
        "onnx-input-forced",
        lambda e: ["export", copied(e, "onnx", "model.onnx"), "--force"],
        1,
        ALREADY_EXPORTED.format("ONNX"),
    ),
    Case(
        "cli",
        "ort-input",
        lambda e: ["export", write(e.tmp / "model.ort", ORT_BYTES), "--force"],
        1,
        ALREADY_EXPORTED.format("ORT-format") + r".*\(skdigits predict .*model\.ort IMAGE",
    ),
    Case("cli", "web-dir-holds-the-input", in_site, 1, r"the input .*model\.onnx is inside"),
    Case("cli", "web-dir-is-a-dangling-link", dangling, 1, r"site is a symbolic link to .*gone"),
    Case(
        "cli",
        "web-dir-is-a-file",
        lambda e: ["export", e.files["onnx"], "--web", write(e.tmp / "index.html", b"x")],
        1,
        r"index\.html is a file; pass a folder for the site",
    ),
    Case(
        "cli",
        "web-dir-holds-files",
        lambda e: site_with(e, "index.html"),
        1,
        r"site already holds files; pass --force to replace the site in it",
    ),
    Case(
        "cli",
        "web-dir-holds-a-folder-named-index.html",
        lambda e: site_with(e, "index.html/keep.txt", "--force"),
        1,
        r"site holds 'index\.html' \(a folder\), not a site's files; .*would delete them",
    ),
    Case(
        "cli",
        "web-dir-holds-other-files",
        lambda e: site_with(e, "notes.txt", "--force"),
        1,
        r"site holds 'notes\.txt', not a site's files",
    ),
    Case(
        "cli",
        "web-model-takes-flat-input",
        flat_model,
        1,
        r"flat\.onnx takes flat images \(\['N', 784\]\); the page feeds \[1, 28, 28\]",
    ),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=case_ids(CLI_CASES))
def test_the_command_line_refuses_before_any_work(case, files, tmp_path, monkeypatch, capsys):
    """Each refusal is one line, exit 1, and leaves every file as it was (inputs included)."""
    check_refused(case, Env(tmp_path, monkeypatch, files), capsys)


def test_python_and_the_command_line_each_read_their_own_words(files, tmp_path, capsys):
    from skdigits.cli.main import main
    from skdigits.export import export_web

    write(tmp_path / "site" / "index.html", b"old")
    with pytest.raises(ExportError, match=r"pass force=True to replace the site"):
        export_web(files["onnx"], tmp_path / "site")
    assert main(["export", str(files["onnx"]), "--web", str(tmp_path / "site")]) == 1
    err = capsys.readouterr().err
    assert "pass --force to replace the site" in err
    assert "force=True" not in err


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


# ---------------------------------------------------------------- failed writes


def test_a_full_disk_on_export_keeps_the_old_onnx(fitted_pipeline, tmp_path, monkeypatch, capsys):
    """A file-size limit (a real EFBIG; Python ignores SIGXFSZ) set once the model is loaded:
    the ONNX write fails, the message names the output and the fix, not the model."""
    import resource

    import skdigits.estimator._saving as saving
    from skdigits.cli.main import main

    model = save_model(fitted_pipeline, tmp_path / "m.skdigits")
    dest = write(tmp_path / "m.onnx", b"the previous export")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    load_model = saving.load_model

    def load_then_limit(path):
        pipeline = load_model(path)
        resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, hard))
        return pipeline

    monkeypatch.setattr(saving, "load_model", load_then_limit)
    argv = ["export", str(model), "-o", str(dest), "--force", "--check-images", "50", "--offline"]
    try:
        status = main(argv)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert status == 1
    assert_one_error_line(
        capsys.readouterr().err,
        r"cannot write .*m\.onnx: the file exceeds the file-size limit \(ulimit -f\) .*"
        r"\(EFBIG\); raise the limit or write it elsewhere; the old m\.onnx is kept$",
    )
    assert dest.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.skdigits"]


def test_a_site_folder_that_may_not_be_written_is_one_line(files, tmp_path, monkeypatch, capsys):
    """A read-only parent: refused up front for a user, or (root may write anywhere) the
    permission error of creating the folder, translated."""
    import errno
    import os
    import tempfile

    from skdigits.cli.main import main

    parent = tmp_path / "read-only"
    parent.mkdir()
    if os.geteuid() == 0:

        def refused(*args: Any, **kwargs: Any) -> str:
            raise PermissionError(errno.EACCES, "Permission denied", str(parent / ".x.part"))

        monkeypatch.setattr(tempfile, "mkdtemp", refused)
    else:
        parent.chmod(0o555)
    argv = ["export", str(files["onnx"]), "--web", str(parent / "site"), "--offline"]
    try:
        assert main(argv) == 1
    finally:
        parent.chmod(0o755)
    assert_one_error_line(
        capsys.readouterr().err,
        r"cannot write .*site: (the folder .*read-only is not writable|permission denied "
        r"\(EACCES\); write it where you have permission; nothing was written)",
    )
    assert list(parent.iterdir()) == []

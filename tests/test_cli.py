"""The command line as a person uses it: exit codes, messages, files, and quiet output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from skdigits.cli.main import main
from skdigits.persistence import load_metadata


def run_cli(*args, env=None):
    """Run ``python -m skdigits`` in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "skdigits", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_train_quick_run_reports_and_saves(tmp_path, mnist, capsys):
    out = tmp_path / "model.skdigits"
    rc = main(
        ["train", "--subset", "600", "--epochs", "1", "--random-state", "0", "-q", "-o", str(out)]
    )
    assert rc == 0
    text = capsys.readouterr().out
    for expected in (
        "train accuracy:",
        "validation accuracy:",
        "test accuracy:",
        "confusion matrix",
        "most-confused pairs",
        f"saved the fitted pipeline to {out}",
    ):
        assert expected in text
    meta = load_metadata(out)
    assert 0.5 < meta["metadata"]["metrics"]["test_accuracy"] <= 1.0


def test_train_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "model.skdigits"
    out.write_text("precious")
    assert main(["train", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip() == f"skdigits: error: output {out} already exists; pass --force to overwrite it"
    )
    assert out.read_text() == "precious"


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--epochs", "many"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_bad_value_is_one_line_error(capsys):
    assert main(["train", "--epochs", "0", "-o", "/nonexistent/x.skdigits"]) == 1
    assert capsys.readouterr().err == "skdigits: error: --epochs must be at least 1\n"


def test_training_output_carries_no_tensorflow_noise(tmp_path, mnist):
    proc = run_cli("train", "--subset", "300", "--epochs", "2", "-o", tmp_path / "m.skdigits")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    for noise in ("oneDNN", "cuda", "absl", "WARNING", "tensorflow/"):
        assert noise not in proc.stdout
    assert "Epoch 2/2" in proc.stdout  # Keras' own progress is kept


def test_version_and_help_run_without_tensorflow():
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("skdigits ")
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from skdigits.cli.main import build_parser; build_parser(); "
            "print('tensorflow' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.stdout.strip() == "False"

"""Hostile input to the command line: one ``skdigits: error:`` line, exit 1 (usage: 2).

Pickles refused by suffix and by content; bad inputs and labels, named for what
they are (text, CSV, a saved model, .npz, gzip, a pickle, an empty .npy); one bad
file in a batch; existing, directory and unwritable outputs; foreign models;
``--offline`` naming ``--mnist-dir``; a busy port; argparse-validated numbers.
Beyond the table: ``--debug`` (before or after the command) shows the traceback,
a missing ``train`` extra is one line, downloads are said on stderr, and a closed
pipe ends ``predict`` quietly (status 141). Argv rows are built from the shared
``files``; the check is in ``tests/_support/hostile.py``.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from skdigits import ModelFileError
from skdigits.cli.main import main
from skdigits.datasets import _mnist, get_data_home
from tests._support.files import write
from tests._support.hostile import (
    X10,
    Bound,
    Case,
    assert_one_error_line,
    bound_test,
    idx,
    png_bytes,
    refusal_test,
    save_npy,
)
from tests._support.nan_models import build_nan_for_blank_model
from tests._support.onnx_models import METADATA, build_model, numpy_helper

_BUSY: list[Any] = []  # listening sockets, kept open for the module's lifetime


def busy_port() -> int:
    """A port on 127.0.0.1 that another program (this test) is listening on."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    _BUSY.append(listener)
    return listener.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def _close_busy_ports():
    yield
    while _BUSY:
        _BUSY.pop().close()


def beside_an_existing_onnx(folder, model):
    """A copy of ``model`` as ``in.skdigits`` beside an ``in.onnx``, its default output."""
    write(folder / "in.onnx", b"old")
    return write(folder / "in.skdigits", model.read_bytes())


CASES: list[Case] = [
    Case(
        "cli",
        "predict-pickle-by-suffix",
        lambda e: ["predict", e.files["evil_pkl"], e.files["digits_npy"]],
        1,
        r"evil\.pkl is a pickle/joblib file, and loading a pickle runs any code it holds; "
        r"pass --allow-pickle only if you trust the file",
    ),
    Case(
        "cli",
        "predict-pickle-by-content",
        lambda e: ["predict", e.files["evil_as_onnx"], e.files["digits_npy"]],
        1,
        r"evil\.onnx is a pickle/joblib file.*--allow-pickle",
    ),
    Case(
        "cli",
        "evaluate-pickle",
        lambda e: ["evaluate", e.files["evil_joblib"]],
        1,
        r"evil\.joblib is a pickle/joblib file.*--allow-pickle",
    ),
    Case(
        "cli",
        "info-pickle",
        lambda e: ["info", e.files["evil_pkl"]],
        1,
        r"is a pickle/joblib file, and loading a pickle runs any code it holds; re-save",
    ),
    Case(
        "cli",
        "predict-allowed-pickle-of-the-wrong-object",
        lambda e: ["predict", "--allow-pickle", e.files["dict_joblib"], e.files["digits_npy"]],
        1,
        r"holds a dict, not a skdigits Pipeline of PixelScaler and DigitClassifier",
    ),
    Case(
        "cli",
        "predict-missing-input",
        lambda e: ["predict", e.files["onnx"], e.tmp / "nothing.npy"],
        1,
        r"input .*nothing\.npy' does not exist; check the path",
    ),
    Case(
        "cli",
        "predict-object-npy",
        lambda e: ["predict", e.files["onnx"], e.files["object_npy"]],
        1,
        r"is not a readable \.npy array \(Object arrays cannot be loaded when "
        r"allow_pickle=False\)",
    ),
    Case(
        "cli",
        "predict-nan-npy",
        lambda e: ["predict", e.files["onnx"], e.files["nan_npy"]],
        1,
        r"nan\.npy' contains NaN or infinite values",
    ),
    Case(
        "cli",
        "predict-empty-image",
        lambda e: ["predict", e.files["onnx"], write(e.tmp / "empty.png", b"")],
        1,
        r"empty\.png' is an empty file",
    ),
    Case(
        "cli",
        "predict-text-as-image",
        lambda e: ["predict", e.files["onnx"], write(e.tmp / "x.jpg", b"not a jpeg")],
        1,
        r"x\.jpg' is named like a JPEG file but is a text file \(it starts 'not a jpeg'\)",
    ),
    Case(
        "cli",
        "predict-corrupt-idx",
        lambda e: ["predict", e.files["onnx"], write(e.tmp / "imgs-idx3", idx(X10)[:-1])],
        1,
        r"imgs-idx3' is truncated",
    ),
    Case(
        "cli",
        "predict-labels-outside-0-9",
        lambda e: [
            "predict",
            e.files["onnx"],
            e.files["digits_npy"],
            "--labels",
            save_npy(e.tmp / "y.npy", np.array([3, 11, 4])),
        ],
        1,
        r"y\.npy has label 11 at index 1, which the model does not predict "
        r"\(its classes are 0-9\)",
    ),
    Case(
        "cli",
        "predict-labels-count-mismatch",
        lambda e: [
            "predict",
            e.files["onnx"],
            e.files["digits_npy"],
            "--labels",
            save_npy(e.tmp / "y.npy", np.array([1, 2])),
        ],
        1,
        r"y\.npy has 2 labels but .*digits\.npy has 3 images",
    ),
    Case(
        "cli",
        "predict-labels-not-integers",
        lambda e: [
            "predict",
            e.files["onnx"],
            e.files["digits_npy"],
            "--labels",
            save_npy(e.tmp / "y.npy", np.array([1.5, 2.0, 3.0])),
        ],
        1,
        r"y\.npy holds float64 values; true labels must be integers",
    ),
    Case(
        "cli",
        "predict-someone-elses-onnx",
        lambda e: ["predict", e.files["cifar_onnx"], e.files["digits_npy"]],
        1,
        r"is not an skdigits digit model",
    ),
    Case(
        "cli",
        "evaluate-truncated-onnx",
        lambda e: ["evaluate", write(e.tmp / "cut.onnx", e.files["onnx"].read_bytes()[:3000])],
        1,
        r"cut\.onnx.* is not a valid ONNX model",
    ),
    Case(
        "cli",
        "train-output-exists",
        lambda e: ["train", "-o", write(e.tmp / "m.skdigits", b"precious")],
        1,
        r"output .*m\.skdigits already exists; pass --force to overwrite it",
    ),
    Case(
        "cli",
        "export-output-exists",
        lambda e: ["export", e.files["model_zip"], "-o", write(e.tmp / "m.onnx", b"good")],
        1,
        r"m\.onnx already exists; pass --force",
    ),
    Case(
        "cli",
        "train-output-is-a-directory",
        lambda e: ["train", "-o", e.tmp],
        1,
        r"is a directory; pass a file path",
    ),
    Case(
        "cli",
        "train-output-unwritable",
        lambda e: ["train", "-o", write(e.tmp / "plain", b"x") / "sub" / "m.skdigits"],
        1,
        r"cannot write .*m\.skdigits: .*plain is not a directory",
    ),
    Case(
        "cli",
        "export-pickle-model",
        lambda e: ["export", e.files["evil_pkl"], "-o", e.tmp / "out.onnx"],
        1,
        r"evil\.pkl is not a skdigits model file",
    ),
    Case(
        "cli",
        "report-onnx-model",
        lambda e: ["report", e.files["onnx"], "--out", e.tmp / "r"],
        1,
        r"is an ONNX model; the report reads .* pass that file instead",
    ),
    # issue 15: inputs named for what they are, batches, conventions, usage
    Case(
        "cli",
        "predict-one-bad-file-in-a-batch",
        lambda e: ["predict", e.files["onnx"], e.files["digits_npy"], e.files["readme"]],
        1,
        r"README\.md' is a text file \(it starts '# My digits'\), not images; pass a \.npy",
    ),
    Case(
        "cli",
        "predict-gzipped-png-as-input",
        lambda e: ["predict", e.files["onnx"], write(e.tmp / "x.gz", gzip.compress(png_bytes()))],
        1,
        r"x\.gz' holds a gzip-compressed PNG file, not IDX images; decompress it \(gunzip\)",
    ),
    Case(
        "cli",
        "predict-csv-as-input",
        lambda e: ["predict", e.files["onnx"], write(e.tmp / "x.csv", b"0,0,255\n0,255,0\n")],
        1,
        r"x\.csv' is a text \(CSV\?\) file, not images; convert it with numpy",
    ),
    Case(
        "cli",
        "predict-saved-model-as-input",
        lambda e: ["predict", e.files["onnx"], e.files["model_zip"]],
        1,
        r"m\.skdigits' is a saved skdigits model \(\.skdigits\), not images; pass it as the "
        r"first argument \(MODEL\)",
    ),
    Case(
        "cli",
        "predict-npz-as-input",
        lambda e: ["predict", e.files["onnx"], e.files["npz"]],
        1,
        r"a\.npz' is a NumPy \.npz archive of 2 array\(s\), which is not read as input",
    ),
    Case(
        "cli",
        "predict-pickle-as-input",
        lambda e: ["predict", e.files["onnx"], e.files["evil_pkl"]],
        1,
        r"evil\.pkl' is a Python pickle, which is never loaded as input \(unpickling runs code\)",
    ),
    Case(
        "cli",
        "predict-empty-npy",
        lambda e: ["predict", e.files["onnx"], save_npy(e.tmp / "e.npy", np.zeros((0, 28, 28)))],
        1,
        r"e\.npy' holds no images \(shape \(0, 28, 28\)\); pass a file with at least one",
    ),
    Case(
        "cli",
        "predict-scale-1-on-raw-pixels",
        lambda e: ["predict", e.files["onnx"], e.files["noise_npy"], "--scale", "1"],
        1,
        r"noise\.npy' has values up to 255, but scale '1' \(--scale 1\) says they lie in \[0, 1\]",
    ),
    Case(
        "cli",
        "predict-labels-are-text",
        lambda e: [
            "predict",
            e.files["onnx"],
            e.files["digits_npy"],
            "--labels",
            e.files["readme"],
        ],
        1,
        r"labels .*README\.md is not a \.npy array or an IDX file \(its content: text\)",
    ),
    Case(
        "cli",
        "export-default-output-exists",
        lambda e: ["export", beside_an_existing_onnx(e.tmp, e.files["model_zip"])],
        1,
        r"output .*in\.onnx already exists; pass --force to overwrite it",
    ),
    Case(
        "cli",
        "train-output-in-a-missing-folder",
        lambda e: ["train", "-o", e.tmp / "no_such_dir" / "m.skdigits"],
        1,
        r"directory .*no_such_dir does not exist; create it first \(mkdir -p",
    ),
    Case(
        "cli",
        "evaluate-offline-names-the-options",
        lambda e: ["evaluate", e.files["onnx"], "--offline", "--data-home", e.tmp / "home"],
        1,
        r"--offline, so nothing was downloaded\..* or pass --mnist-dir DIR",
    ),
    Case(
        "cli",
        "serve-port-in-use",
        lambda e: ["serve", e.files["onnx"], "--port", str(busy_port())],
        1,
        r"port \d+ on 127\.0\.0\.1 is already in use .*choose another with --port",
    ),
    Case(
        "cli",
        "usage-epochs-zero",
        lambda e: ["train", "--epochs", "0"],
        2,
        r"argument --epochs: must be at least 1, got 0",
    ),
    Case(
        "cli",
        "usage-port-out-of-range",
        lambda e: ["serve", e.files["onnx"], "--port", "99999"],
        2,
        r"argument --port: a port is 0-65535, got 99999",
    ),
    Case(
        "cli",
        "usage-limit-negative",
        lambda e: ["predict", e.files["onnx"], e.files["digits_npy"], "--limit", "-1"],
        2,
        r"argument --limit: must be at least 1, got -1",
    ),
    Case(
        "cli",
        "usage-scale-unknown",
        lambda e: ["predict", e.files["onnx"], e.files["digits_npy"], "--scale", "0-1"],
        2,
        r"argument --scale: invalid choice: '0-1'",
    ),
    Case(
        "cli",
        "usage-validation-split-one",
        lambda e: ["train", "--validation-split", "1"],
        2,
        r"argument --validation-split: must be at least 0 and below 1, got 1",
    ),
    Case(
        "cli",
        "usage-predict-without-inputs",
        lambda e: ["predict", e.files["onnx"]],
        2,
        r"the following arguments are required: INPUT",
    ),
    Case(
        "cli",
        "usage-limit-not-a-number",
        lambda e: ["predict", e.files["onnx"], e.files["digits_npy"], "--limit", "all"],
        2,
        r"argument --limit: expected a whole number, got 'all'",
    ),
    Case(
        "cli",
        "usage-limit-zero",
        lambda e: ["predict", e.files["onnx"], e.files["digits_npy"], "--limit", "0"],
        2,
        r"argument --limit: must be at least 1, got 0",
    ),
]


# An input file given where the model belongs: named for what it is, before any
# model is read (or TensorFlow loaded), with the order the command expects.
SWAPPED = r"the model comes first: skdigits predict MODEL INPUT\.\.\."
CASES += [
    Case(
        "cli",
        "predict-png-as-model",
        lambda e: ["predict", write(e.tmp / "seven.png", png_bytes()), e.files["onnx"]],
        1,
        rf"seven\.png' is a PNG image, not a model; {SWAPPED}",
    ),
    Case(
        "cli",
        "predict-npy-as-model",
        lambda e: ["predict", e.files["digits_npy"], e.files["onnx"]],
        1,
        rf"digits\.npy' is a NumPy \.npy array, not a model; {SWAPPED}",
    ),
    Case(
        "cli",
        "predict-idx-as-model",
        lambda e: ["predict", write(e.tmp / "t10k-images", idx(X10)), e.files["onnx"]],
        1,
        rf"t10k-images' is an IDX data file, not a model; {SWAPPED}",
    ),
    Case(
        "cli",
        "predict-png-named-skdigits",
        lambda e: ["predict", write(e.tmp / "m.skdigits", png_bytes()), e.files["digits_npy"]],
        1,
        rf"m\.skdigits' is a PNG image, not a model; {SWAPPED}",
    ),
    Case(
        "cli",
        "evaluate-png-as-model",
        lambda e: ["evaluate", write(e.tmp / "seven.png", png_bytes())],
        1,
        r"seven\.png' is a PNG image, not a model; skdigits evaluate MODEL scores an \.onnx",
    ),
    Case(
        "cli",
        "info-readme-as-model",
        lambda e: ["info", e.files["readme"]],
        1,
        r"README\.md' is a text file, not a model; skdigits info MODEL reads an \.onnx",
    ),
    Case(
        "cli",
        "evaluate-model-of-other-classes",
        lambda e: [
            "evaluate",
            build_model(
                e.tmp / "no-nine.onnx",
                metadata={**METADATA, "classes": json.dumps([*range(9), 90])},
            ),
            "--offline",
            "--data-home",
            e.tmp / "empty-home",  # refused before MNIST is looked for
        ],
        1,
        r"no-nine\.onnx predicts 10 classes without digit\(s\) 9, so it cannot be scored on "
        r"MNIST's labels 0-9",
    ),
    Case(
        "cli",
        "predict-model-answering-nan",
        lambda e: [
            "predict",
            build_nan_for_blank_model(e.tmp / "nan.onnx"),
            e.files["digits_npy"],
            "--json",
        ],
        1,
        r"nan\.onnx' gave probabilities that are not finite \(NaN or infinity\) for 3 of 3 "
        r"images \(rows 0, 1, 2\): the model is broken, not the input",
    ),
]


test_hostile_input_is_refused_with_a_clear_message = refusal_test(CASES)


def fifo(path):
    os.mkfifo(path)
    return path


# Opening a FIFO waits for a writer: the model's kind used to be sniffed that way.
BOUNDS = [
    Bound(
        8,
        f"{command}-fifo-as-model",
        lambda d, command=command, extra=extra: (
            f"cli([{command!r}, {str(fifo(d / 'model.onnx'))!r}, *{extra!r}])"
        ),
        "SystemExit",
        r"^1: skdigits: error: '.*model\.onnx' is not a regular file",
        peak_mb=150,  # 50 MB measured
    )
    for command, extra in (("predict", ["x.npy"]), ("info", []), ("evaluate", ["--offline"]))
]

test_a_fifo_as_model_is_refused_without_waiting = bound_test(BOUNDS)


# ---------------------------------------------------------------- beyond the table


def test_onnxruntime_adds_no_lines_of_its_own_to_the_error(tmp_path):
    # An initializer no node uses makes onnxruntime log a coloured warning on
    # stderr when the session is built; the model then fails skdigits' check.
    unused = numpy_helper.from_array(np.zeros(3, np.float32), "unused")
    model = build_model(tmp_path / "other.onnx", extra_inits=[unused], output_names=("a", "b"))
    proc = subprocess.run(
        [sys.executable, "-m", "skdigits", "info", str(model)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert_one_error_line(proc.stderr, r"other\.onnx' is not an skdigits digit model: its outputs")
    assert "onnxruntime:" not in proc.stderr


def test_debug_shows_the_traceback(files, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        main(["--debug", "predict", str(tmp_path / "missing.onnx"), str(files["digits_npy"])])


def test_debug_is_accepted_after_the_command_too(files, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        main(["predict", str(tmp_path / "missing.onnx"), str(files["digits_npy"]), "--debug"])


MISSING_TRAIN_EXTRA = """
import skdigits
from skdigits import MissingDependencyError
for name in ("make_pipeline", "PixelScaler", "load_model", "default_param_grid"):
    try:
        found = getattr(skdigits, name)
        if name == "load_model":
            found("model.skdigits")
    except MissingDependencyError as err:
        print(name, "|", err)
from skdigits.cli.main import main
sys.exit(main(["search", "--subset", "100", "-o", sys.argv[1]]))
"""


def test_a_missing_train_extra_is_one_line_everywhere(run_blocked, tmp_path):
    proc = run_blocked(MISSING_TRAIN_EXTRA, {"sklearn", "scipy"}, tmp_path / "best.skdigits")
    assert proc.returncode == 1, proc.stderr
    lines = dict(line.split(" | ") for line in proc.stdout.splitlines())
    assert set(lines) == {"make_pipeline", "PixelScaler", "load_model", "default_param_grid"}
    for message in lines.values():
        assert message.endswith('install it with: pip install "skdigits[train]"'), message
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("skdigits: error: `skdigits search` needs scikit-learn")
    assert not (tmp_path / "best.skdigits").exists()


def test_evaluate_says_on_stderr_where_it_downloads_mnist(files, tmp_path, monkeypatch, capsys):
    cache = get_data_home() / "mnist"
    if not (cache / "t10k-images-idx3-ubyte").exists():
        pytest.skip("MNIST is not in the default data home")
    # A "download" source that serves the real files from the cache.
    monkeypatch.setattr(
        _mnist,
        "DOWNLOAD_SOURCES",
        (_mnist.Source("the test's mirror", _mnist._local_dir_candidates(cache)),),
    )
    argv = ["evaluate", str(files["onnx"]), "--data-home", str(tmp_path / "home")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "skdigits: downloading MNIST (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) " in err
    assert "from the test's mirror into" in err
    assert "skdigits: got t10k-labels-idx1-ubyte from the test's mirror" in err
    assert main(argv) == 0  # now from the cache: nothing to say
    assert capsys.readouterr().err == ""


def test_a_closed_pipe_ends_predict_quietly(files, tmp_path):
    np.save(tmp_path / "many.npy", np.zeros((3000, 28, 28), np.uint8))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skdigits",
            "predict",
            str(files["onnx"]),
            str(tmp_path / "many.npy"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141, err  # 128 + SIGPIPE, as a shell reports
    assert "Traceback" not in err, err
    assert "BrokenPipe" not in err, err

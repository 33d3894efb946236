"""Hostile model files: saved pipelines and pickles are refused in one line, never run.

Zip bombs and manifests that declare huge networks are bounded before anything
is extracted or built; corrupt, nested and ill-typed manifests become
ModelFileError; a malicious pickle never runs, while ``--allow-pickle`` loads a
trusted joblib pipeline. The checks are in ``tests/_support/hostile.py``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skdigits import DataError, DigitClassifier, ModelFileError
from skdigits.cli.main import main
from skdigits.estimator._saving import load_model
from skdigits.model_io._format import load_metadata as read_manifest
from tests._support.files import write
from tests._support.hostile import (
    Bound,
    Case,
    MiB,
    Translated,
    bound_test,
    code_load_model,
    nested,
    refusal_test,
    save_npy,
    translation_test,
)

GOOD_MANIFEST: dict[str, Any] = {
    "format": "skdigits-pipeline",
    "format_version": 1,
    "skdigits_version": "0.1.0",
    "steps": [
        {"name": "scale", "class": "PixelScaler", "params": {}},
        {"name": "clf", "class": "DigitClassifier", "params": {"hidden_units": 100}},
    ],
    "classes": list(range(10)),
    "classes_dtype": "<i8",
    "input_shape": [28, 28],
    "input_dtype": "|u1",
    "scaler_n_features_in": 784,
    "history": {"loss": [0.5, 0.3]},
    "metadata": {"test_accuracy": 0.9},
}


def skdigits_file(
    path: Path,
    manifest: Any = None,
    *,
    keras: bytes = b"PK\x05\x06" + bytes(18),
    raw_manifest: bytes | None = None,
    **changes: Any,
) -> Path:
    """A .skdigits archive: GOOD_MANIFEST with ``changes`` (or ``manifest``), and ``keras``."""
    if manifest is None:
        manifest = {**GOOD_MANIFEST, **changes}
    data = raw_manifest if raw_manifest is not None else json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", data)
        zf.writestr("model.keras", keras)
    return path


def params(**changes: Any) -> list[dict[str, Any]]:
    """GOOD_MANIFEST's steps with the classifier's parameters changed."""
    steps = json.loads(json.dumps(GOOD_MANIFEST["steps"]))
    steps[1]["params"].update(changes)
    return steps


def zip_bomb(path: Path, member_bytes: int) -> Path:
    """A good manifest and a model.keras of ``member_bytes`` zeros, deflated."""
    zeros = bytes(16 * MiB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("manifest.json", json.dumps(GOOD_MANIFEST))
        with zf.open("model.keras", "w", force_zip64=True) as member:
            for start in range(0, member_bytes, len(zeros)):
                member.write(zeros[: min(len(zeros), member_bytes - start)])
    return path


def keras_archive(config: Any) -> bytes:
    """A Keras-format zip holding ``config`` as config.json and a small weights file."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("metadata.json", "{}")
        zf.writestr("model.weights.h5", bytes(1000))
    return buf.getvalue()


def fifo_model(folder: Path) -> Path:
    """A named pipe called like a model, which nobody writes to: reading it waits for ever."""
    path = folder / "pipe.skdigits"
    os.mkfifo(path)
    return path


def cli_code(argv: list[str], *, model: Path, out: Path) -> str:
    """The bounded runner's code for ``argv``, with MODEL and OUT put in."""
    names = {"MODEL": str(model), "OUT": str(out)}
    return f"cli({[names.get(a, a) for a in argv]!r})"


BOUNDS: list[Bound] = [
    Bound(
        2,
        "skdigits-member-over-the-size-cap",
        lambda d: code_load_model(zip_bomb(d / "bomb.skdigits", 300 * MiB)),
        "ModelFileError",
        r"member 'model\.keras' unpacks to 314572800 bytes, over the limit of 268435456",
        peak_mb=200,
    ),
    Bound(
        2,
        "skdigits-member-compressed-like-a-bomb",
        lambda d: code_load_model(zip_bomb(d / "bomb.skdigits", 64 * MiB)),
        "ModelFileError",
        r"member 'model\.keras' is compressed \d+:1 .*over the limit of 50:1; "
        r"this looks like a zip bomb",
        peak_mb=200,
    ),
    Bound(
        3,
        "manifest-hidden-units-1e7",
        lambda d: code_load_model(
            skdigits_file(d / "m.skdigits", steps=params(hidden_units=10**7))
        ),
        "ModelFileError",
        r"`hidden_units` is 10000000, expected a positive integer up to 10000",
        peak_mb=200,
    ),
    Bound(
        3,
        "manifest-a-million-classes",
        lambda d: code_load_model(skdigits_file(d / "m.skdigits", classes=list(range(10**6)))),
        "ModelFileError",
        r"`classes` is \[0, 1, 2, .*expected a list of 1 to 1000",
        peak_mb=400,
    ),
    Bound(
        3,
        "manifest-huge-input-shape",
        lambda d: code_load_model(skdigits_file(d / "m.skdigits", input_shape=[10**6, 10**6])),
        "ModelFileError",
        r"`input_shape` is \[1000000, 1000000\], expected \[28, 28\] or \[784\]",
        peak_mb=200,
    ),
    Bound(
        3,
        "keras-config-declares-1e8-units",
        lambda d: code_load_model(
            skdigits_file(
                d / "m.skdigits",
                keras=keras_archive({"config": {"layers": [{"config": {"units": 10**8}}]}}),
            )
        ),
        "ModelFileError",
        r"config\.json declares units 100000000, outside what skdigits builds",
        peak_mb=200,
    ),
    Bound(
        3,
        "manifest-a-cnn-of-gigabytes-from-sizes-within-their-bounds",
        lambda d: code_load_model(
            skdigits_file(
                d / "m.skdigits",
                steps=params(architecture="cnn", conv_filters=[1024, 1024], dense_units=10_000),
            )
        ),
        "ModelFileError",
        r"the manifest's network has 265,594,602 weights, expected at most 15,000,000",
        peak_mb=200,
    ),
    *(
        Bound(
            5,
            f"cli-{command}-{kind}",
            lambda d, argv=argv, make=make: cli_code(argv, model=make(d), out=d / "out"),
            "SystemExit",
            r"^1: skdigits: error: model path '.*' is not a regular file \(a device, pipe or "
            r"socket\); pass a model file saved on disk",
            peak_mb=300,
        )
        for command, argv in (
            ("export", ["export", "MODEL", "-o", "OUT"]),
            ("report", ["report", "MODEL", "-o", "OUT"]),
            ("train-teacher", ["train", "--teacher", "MODEL", "-o", "OUT"]),
        )
        for kind, make in (("dev-zero", lambda d: Path("/dev/zero")), ("fifo", fifo_model))
    ),
    Bound(
        4,
        "cli-train-teacher-of-other-classes-before-mnist-and-tensorflow",
        lambda d: cli_code(
            ["train", "--teacher", "MODEL", "-o", "OUT"],
            model=skdigits_file(d / "t.skdigits", classes=[0, 1, 2, 3, 4]),
            out=d / "out",
        ),
        "SystemExit",
        r"^1: skdigits: error: the `teacher` .* knows the classes \[0, 1, 2, 3, 4\]",
        peak_mb=200,  # TensorFlow alone would take over 400 MB
    ),
    Bound(
        2,
        "cli-train-hidden-units-10001-before-mnist-and-tensorflow",
        lambda d: cli_code(["train", "--hidden-units", "10001", "-o", "OUT"], model=d, out=d / "o"),
        "SystemExit",
        r"^1: skdigits: error: --hidden-units must be a positive integer up to 10000, got 10001",
        peak_mb=200,
    ),
    Bound(
        5,
        "load-model-dev-zero",
        lambda d: code_load_model(Path("/dev/zero")),
        "ModelFileError",
        r"model path '/dev/zero' is not a regular file",
        peak_mb=200,
    ),
]


test_a_small_hostile_file_costs_bounded_time_and_memory = bound_test(BOUNDS)


# ---------------------------------------------------------------- raw exceptions translated


def corrupt_deflate(path: Path) -> Path:
    """A .skdigits whose manifest's deflate stream starts with an invalid block type."""
    skdigits_file(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("manifest.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start] = 0xFF  # block type 3: reserved, an error for every inflater
    return write(path, bytes(data))


def load_metadata(path: Path) -> Any:
    return read_manifest(path)


def code_and_run_load_model(path: Path) -> Any:
    return load_model(path)


TRANSLATED: list[Translated] = [
    Translated(
        9,
        "manifest-nested-100000-deep",
        lambda d: load_metadata(
            skdigits_file(d / "m.skdigits", raw_manifest=nested(100_000).encode())
        ),
        ModelFileError,
        r"manifest\.json is corrupt \(maximum recursion depth exceeded",
    ),
    Translated(
        9,
        "manifest-corrupt-deflate-stream",
        lambda d: load_metadata(corrupt_deflate(d / "m.skdigits")),
        ModelFileError,
        r"manifest\.json is corrupt \(Error -3 while decompressing data: invalid block type\)",
    ),
    Translated(
        9,
        "manifest-history-a-string",
        lambda d: load_metadata(skdigits_file(d / "m.skdigits", history={"loss": "low"})),
        ModelFileError,
        r"`history` entry 'loss' is 'low', not a list of numbers",
    ),
    Translated(
        9,
        "manifest-negative-input-shape",
        lambda d: load_metadata(skdigits_file(d / "m.skdigits", input_shape=[-28, -28])),
        ModelFileError,
        r"`input_shape` is \[-28, -28\], expected \[28, 28\] or \[784\]",
    ),
    Translated(
        9,
        "manifest-empty-classes",
        lambda d: load_metadata(skdigits_file(d / "m.skdigits", classes=[])),
        ModelFileError,
        r"`classes` is \[\], expected a list of 1 to 1000",
    ),
    Translated(
        9,
        "manifest-callbacks-entry",
        lambda d: load_metadata(
            skdigits_file(d / "m.skdigits", steps=params(callbacks=["EarlyStopping"]))
        ),
        ModelFileError,
        r"parameter `callbacks` is \['EarlyStopping'\]: the safe format stores no model "
        r"functions or callbacks",
    ),
    Translated(
        9,
        "manifest-model-entry",
        lambda d: load_metadata(skdigits_file(d / "m.skdigits", steps=params(model="os.system"))),
        ModelFileError,
        r"parameter `model` is 'os\.system'",
    ),
    Translated(
        9,
        "load-model-with-a-routed-model-parameter",
        lambda d: code_and_run_load_model(
            skdigits_file(d / "m.skdigits", steps=params(model__hidden=5))
        ),
        ModelFileError,
        r"parameter `model__hidden` is 5",
    ),
    Translated(
        3,
        "manifest-network-larger-than-the-stored-weights",
        lambda d: code_and_run_load_model(
            skdigits_file(
                d / "m.skdigits",
                steps=params(hidden_units=10_000),
                keras=keras_archive({"class_name": "Sequential", "config": {"layers": []}}),
            )
        ),
        ModelFileError,
        r"the stored weights \(1000 bytes\) are too few for the network the manifest "
        r"describes \(7950010 float32 values\)",
    ),
    Translated(
        9,
        "cli-info-manifest-without-steps",
        lambda d: [
            "info",
            skdigits_file(
                d / "m.skdigits", {k: v for k, v in GOOD_MANIFEST.items() if k != "steps"}
            ),
        ],
        1,
        r"the manifest's `steps` is None, expected a list of 2 steps",
    ),
    Translated(
        9,
        "cli-info-metadata-a-list",
        lambda d: ["info", skdigits_file(d / "m.skdigits", metadata=[1, 2])],
        1,
        r"the manifest's `metadata` is \[1, 2\], expected an object",
    ),
    Translated(
        9,
        "cli-info-nested-manifest",
        lambda d: ["info", skdigits_file(d / "m.skdigits", raw_manifest=nested(100_000).encode())],
        1,
        r"manifest\.json is corrupt",
    ),
]


test_a_raw_exception_becomes_a_skdigits_error = translation_test(TRANSLATED)


# ---------------------------------------------------------------- refused in one line


def train(*options: Any) -> list[Any]:
    """``skdigits train`` with ``options``; MNIST is not there, so reaching it shows."""
    return ["train", *options, "-o", "m.skdigits", "--data-home", "no-mnist-here"]


def teacher_of_digits_0_to_4(folder: Path) -> Path:
    """A saved model's manifest for classes 0-4 (nothing else is read to refuse it)."""
    return skdigits_file(folder / "teacher.skdigits", classes=[0, 1, 2, 3, 4])


def fit_with_teacher(teacher: Any) -> Any:
    return DigitClassifier(teacher=str(teacher), epochs=1).fit(
        np.zeros((20, 784), np.float32), np.arange(20) % 10
    )


BAD_OPTIONS: list[tuple[str, list[Any], str]] = [
    (
        "hidden-units-10001",
        ["--hidden-units", "10001"],
        r"--hidden-units must be a positive integer up to 10000, got 10001",
    ),
    (
        "learning-rate-nan",
        ["--learning-rate", "nan"],
        r"--learning-rate must be a finite number in \(0, 10\], got nan",
    ),
    ("learning-rate-inf", ["--learning-rate", "inf"], r"--learning-rate must be .*, got inf"),
    ("learning-rate-negative", ["--learning-rate", "-1"], r"--learning-rate must be .*got -1\.0"),
    ("label-smoothing-nan", ["--label-smoothing", "nan"], r"--label-smoothing must be a finite"),
    ("augment-inf", ["--augment", "inf"], r"--augment must be a finite number in \[0, 3\]"),
    ("ensemble-size-0", ["--ensemble-size", "0"], r"--ensemble-size must be a positive integer"),
    ("epochs-10001", ["--epochs", "10001"], r"--epochs must be a positive integer up to 10000"),
    (
        "random-state-negative",
        ["--random-state", "-1"],
        r"--random-state must be an integer from 0 to 4294967295, got -1",
    ),
    (
        "preset-for-another-net",
        ["--preset", "fast", "--architecture", "mlp"],
        r"preset 'fast' is for architecture \('cnn',\), got `architecture`='mlp'",
    ),
    (
        "net-over-the-weight-limit",
        ["--hidden-units", "10000", "--ensemble-size", "2"],
        r"has 15,900,020 weights, more than the 15,000,000 a \.skdigits file holds",
    ),
]

CASES: list[Case] = [
    *(
        Case("cli", f"train-{name}", lambda e, o=options: train(*o), 1, message)
        for name, options, message in BAD_OPTIONS
    ),
    Case(
        "cli",
        "train-teacher-of-other-classes",
        lambda e: train("--teacher", teacher_of_digits_0_to_4(e.tmp)),
        1,
        r"the `teacher` .*teacher\.skdigits' knows the classes \[0, 1, 2, 3, 4\], but the "
        r"student learns \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\]; distil from a teacher fitted on",
    ),
    Case(
        "cli",
        "train-output-is-the-teacher",  # the only copy of the teacher, even with --force
        lambda e: [
            *["train", "--teacher", skdigits_file(e.tmp / "t.skdigits", classes=list(range(10)))],
            *["-o", e.tmp / "t.skdigits", "--force", "--data-home", "no-mnist-here"],
        ],
        1,
        r"output .*t\.skdigits is the input teacher .*t\.skdigits; writing it would destroy "
        r"the teacher, also with --force: choose another output \(-o\)$",
    ),
    Case(
        "cli",
        "train-teacher-a-directory",
        lambda e: train("--teacher", e.tmp),
        1,
        r"model path '.*' is a directory, not a file; pass the path of a model file inside it",
    ),
    Case(
        "cli",
        "train-teacher-missing",
        lambda e: train("--teacher", e.tmp / "gone.skdigits"),
        1,
        r"`teacher`='.*gone\.skdigits' is neither a preset \(.*\) nor an existing file",
    ),
    Case(
        "cli",
        "report-model-a-directory",
        lambda e: ["report", e.tmp, "-o", e.tmp / "r"],
        1,
        r"model path '.*' is a directory, not a file",
    ),
    Case(
        "python",
        "teacher-of-other-classes",
        lambda e: fit_with_teacher(teacher_of_digits_0_to_4(e.tmp)),
        DataError,
        r"knows the classes \[0, 1, 2, 3, 4\], but the student learns \[0, 1, 2,",
    ),
    Case(
        "python",
        "teacher-dev-zero",
        lambda e: fit_with_teacher("/dev/zero"),
        ModelFileError,
        r"model path '/dev/zero' is not a regular file \(a device, pipe or socket\)",
    ),
    Case(
        "python",
        "teacher-fifo",
        lambda e: fit_with_teacher(fifo_model(e.tmp)),
        ModelFileError,
        r"pipe\.skdigits' is not a regular file",
    ),
    Case(
        "python",
        "teacher-a-directory",
        lambda e: fit_with_teacher(e.tmp),
        ModelFileError,
        r"is a directory, not a file",
    ),
    Case(
        "python",
        "teacher-missing",
        lambda e: fit_with_teacher(e.tmp / "gone.skdigits"),
        ModelFileError,
        r"is neither a preset .* nor an existing file; pass a preset name or the path",
    ),
]


test_hostile_input_is_refused_with_a_clear_message = refusal_test(CASES)


# ---------------------------------------------------------------- pickles


@pytest.mark.parametrize("command", ["predict", "evaluate", "info"])
def test_a_malicious_pickle_never_runs(command, files, tmp_path, capsys):
    argv = [command, str(files["evil_pkl"])]
    if command == "predict":
        argv.append(str(files["digits_npy"]))
    assert main(argv) == 1
    assert "runs any code it holds" in capsys.readouterr().err
    assert not files["marker"].exists()


def test_allow_pickle_loads_a_trusted_joblib_pipeline(fitted_pipeline, mnist, tmp_path, capsys):
    import joblib

    _, _, X_test, _ = mnist
    model = tmp_path / "trusted.joblib"
    joblib.dump(fitted_pipeline, model)
    images = save_npy(tmp_path / "x.npy", X_test[:20])
    assert main(["predict", str(model), str(images), "--json"]) == 1
    assert "--allow-pickle" in capsys.readouterr().err
    assert main(["predict", "--allow-pickle", str(model), str(images), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    labels = [row["label"] for row in doc["predictions"]]
    assert labels == fitted_pipeline.predict(X_test[:20]).tolist()

"""The command line as a person uses it: exit codes, messages, files, and quiet output."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skdigits.cli.main import main
from skdigits.model_io._format import load_metadata


def run_cli(*args, env=None):
    """Run ``python -m skdigits`` in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "skdigits", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_train_quick_run_reports_and_saves(cli_trained):
    out, text = cli_trained.saved, cli_trained.output
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


def test_train_distils_from_a_saved_ensemble_teacher_with_pen_augmentation(tmp_path, mnist):
    teacher, student = tmp_path / "teacher.skdigits", tmp_path / "student.skdigits"
    common = ["--subset", "400", "--epochs", "1", "--random-state", "0", "-q"]
    cnn = ["--architecture", "cnn", "--batch-size", "32", "--ensemble-size", "2"]
    assert main(["train", *common, *cnn, "-o", str(teacher)]) == 0
    assert load_metadata(teacher)["steps"][1]["params"]["ensemble_size"] == 2
    augment = ["--augment", "0.5", "--augment-with", "thickness", "shear", "elastic"]
    assert main(["train", *common, *augment, "--teacher", str(teacher), "-o", str(student)]) == 0
    params = load_metadata(student)["steps"][1]["params"]
    assert params["teacher"] == str(teacher)
    assert params["augmentations"] == "thickness+shear+elastic"
    assert params["architecture"] == "mlp"


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


def test_a_bad_number_is_a_usage_error_from_argparse(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--epochs", "0", "-o", "/nonexistent/x.skdigits"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: skdigits train")
    assert err.splitlines()[-1] == (
        "skdigits train: error: argument --epochs: must be at least 1, got 0"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--epochs"],
        ["train", "--validation-split"],
        ["serve", "m.onnx", "--keep-alive-timeout"],
    ],
)
def test_a_huge_bad_number_is_not_echoed_whole(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "9" * 4000 + "x"])
    assert exc.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.endswith("got '99999999999999999999...' (4001 characters)"), last


def test_an_output_in_a_missing_folder_is_refused(capsys):
    assert main(["train", "-o", "/nonexistent_dir/model.skdigits"]) == 1
    assert capsys.readouterr().err == (
        "skdigits: error: cannot write /nonexistent_dir/model.skdigits: directory "
        "/nonexistent_dir does not exist; create it first (mkdir -p /nonexistent_dir) or "
        "choose another output\n"
    )
    assert not Path("/nonexistent_dir").exists()


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


# --- the deploy round trip: train → export → info → predict → evaluate ---------------------


@pytest.fixture(scope="module")
def cli_models(cli_trained):
    """The model trained and exported through the CLI (conftest), as (saved, onnx)."""
    return cli_trained.saved, cli_trained.onnx


def test_export_reports_parity_and_refuses_overwrite(cli_models, capsys):
    saved, onnx_file = cli_models
    before = onnx_file.read_bytes()
    assert main(["export", str(saved), "-o", str(onnx_file)]) == 1
    assert "already exists; pass --force" in capsys.readouterr().err
    assert onnx_file.read_bytes() == before


def test_int8_export_prints_accuracy_cost_and_speed(cli_models, tmp_path, capsys):
    saved, _ = cli_models
    out = tmp_path / "m-int8.onnx"
    args = ["export", str(saved), "-o", str(out), "--quantize", "int8", "--allow-slower"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "file size: int8" in printed
    assert "test accuracy on 10000 MNIST test images" in printed
    assert "batch throughput while testing: int8" in printed
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["quantization"] == "int8"
    assert float(info["int8_speedup_measured"]) > 0
    # A bad allowance is refused before any work, and nothing is written.
    refused = tmp_path / "refused.onnx"
    code = main(
        [
            "export",
            str(saved),
            "-o",
            str(refused),
            "--quantize",
            "int8",
            "--max-accuracy-loss",
            "-1",
        ]
    )
    assert code != 0
    assert not refused.exists()
    assert "--max-accuracy-loss" in capsys.readouterr().err


def test_info_shows_what_a_deployer_needs(cli_models, capsys):
    _, onnx_file = cli_models
    assert main(["info", str(onnx_file), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["classes"] == list(range(10))
    assert info["input_name"] == "pixels"
    assert info["opset"] == 17
    assert 0.5 < float(info["test_accuracy"]) <= 1
    assert info["hyperparameters"]["epochs"] == 2
    assert float(info["parity_max_abs_diff"]) <= 1e-5
    assert info["digit_score_kind"] == "top2_probability"
    assert 0 < info["digit_threshold"] < 1


def test_info_of_a_saved_pipeline_shows_its_temperature_and_digit_threshold(cli_models, capsys):
    saved, onnx_file = cli_models
    assert main(["info", str(saved), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    manifest = load_metadata(saved)
    assert info["digit_threshold"] == manifest["digit_threshold"] > 0
    assert info["temperature"] == manifest["temperature"] != 1.0
    assert main(["info", str(onnx_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["digit_threshold"] == info["digit_threshold"]


def test_predict_npy_table_json_and_csv(cli_models, mnist, tmp_path, capsys):
    _, onnx_file = cli_models
    _, _, X_test, y_test = mnist
    np.save(tmp_path / "x.npy", X_test[:20])
    np.save(tmp_path / "y.npy", y_test[:20])

    assert (
        main(
            [
                "predict",
                str(onnx_file),
                str(tmp_path / "x.npy"),
                "--labels",
                str(tmp_path / "y.npy"),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    header = table.splitlines()[0].split()
    assert header == ["input", "index", "label", "prob", "score", "true"]
    assert "correct" in table.splitlines()[-1]

    assert main(["predict", str(onnx_file), str(tmp_path / "x.npy"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    labels = [p["label"] for p in doc["predictions"]]
    assert len(labels) == 20
    assert np.mean(np.array(labels) == y_test[:20]) >= 0.7
    for p in doc["predictions"]:
        assert sum(p["probabilities"]) == pytest.approx(1, abs=1e-4)

    assert main(["predict", str(onnx_file), str(tmp_path / "x.npy"), "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:6] == ["input", "index", "label", "probability", "is_digit", "digit_score"]
    assert [int(r[2]) for r in rows[1:]] == labels


def test_onnx_and_saved_pipeline_predict_the_same(cli_models, mnist, tmp_path, capsys):
    saved, onnx_file = cli_models
    np.save(tmp_path / "x.npy", mnist[2][:50])
    docs = []
    for model in (onnx_file, saved):
        assert main(["predict", str(model), str(tmp_path / "x.npy"), "--json"]) == 0
        docs.append(json.loads(capsys.readouterr().out))
    onnx_doc, saved_doc = docs
    assert [p["label"] for p in onnx_doc["predictions"]] == [
        p["label"] for p in saved_doc["predictions"]
    ]
    threshold = load_metadata(saved)["digit_threshold"]
    assert onnx_doc["digit_threshold"] == saved_doc["digit_threshold"] == threshold > 0
    for a, b in zip(onnx_doc["predictions"], saved_doc["predictions"], strict=True):
        assert a["digit_score"] == pytest.approx(b["digit_score"], abs=1e-5)
        assert a["is_digit"] == b["is_digit"] or abs(a["digit_score"] - threshold) < 1e-5
    assert np.mean([p["is_digit"] for p in onnx_doc["predictions"]]) >= 0.9


def _scored_model(tmp_path):
    """A contract model whose threshold is the median digit score of 20 blots of noise."""
    from skdigits.runtime import OnnxDigitClassifier
    from tests._support.onnx_models import METADATA, build_model

    images = np.zeros((20, 28, 28), np.uint8)  # a dark border: nothing is inverted
    images[:, 6:22, 6:22] = np.random.default_rng(5).integers(0, 256, (20, 16, 16))
    np.save(tmp_path / "x.npy", images)
    plain = build_model(tmp_path / "plain.onnx", score_output="digit_score")
    scores = OnnxDigitClassifier(plain).digit_score(images)
    threshold = float(np.median(scores))
    metadata = {**METADATA, "digit_score_kind": "max_probability"}
    metadata["digit_threshold"] = repr(threshold)
    model = build_model(tmp_path / "m.onnx", metadata=metadata, score_output="digit_score")
    return model, scores, threshold


def test_predict_reports_the_digit_score_and_says_not_a_digit(tmp_path, capsys):
    model, scores, threshold = _scored_model(tmp_path)
    expected = (scores >= threshold).tolist()
    assert 0 < sum(expected) < 20
    x = str(tmp_path / "x.npy")
    assert main(["predict", str(model), x, str(tmp_path / "gone.npy"), "--json"]) == 1
    unread = json.loads(capsys.readouterr().out)["predictions"][-1]
    assert (unread["is_digit"], unread["digit_score"]) == (None, None)
    assert main(["predict", str(model), x, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["digit_threshold"] == threshold
    rows = doc["predictions"]
    assert [r["is_digit"] for r in rows] == expected
    assert [r["digit_score"] for r in rows] == pytest.approx(scores.tolist(), abs=1e-6)
    assert all(r["label"] in range(10) for r in rows)  # a label for every image still

    assert main(["predict", str(model), x, "--csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["is_digit"] for r in table] == ["true" if e else "false" for e in expected]
    assert [float(r["digit_score"]) for r in table] == pytest.approx(scores.tolist(), abs=1e-6)

    assert main(["predict", str(model), x]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    refused = [line for line in lines if line.endswith("not a digit")]
    assert len(refused) == expected.count(False)
    assert all(line.split()[2].isdigit() for line in refused)  # the best label, still shown


def test_predict_accept_all_and_digit_threshold_set_the_threshold(tmp_path, capsys):
    model, scores, _ = _scored_model(tmp_path)
    x = str(tmp_path / "x.npy")
    for option, threshold in ((["--accept-all"], 0.0), (["--digit-threshold", "1"], 1.0)):
        assert main(["predict", str(model), x, "--json", *option]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["digit_threshold"] == threshold
        assert [r["is_digit"] for r in doc["predictions"]] == [threshold == 0.0] * 20
        assert [r["digit_score"] for r in doc["predictions"]] == pytest.approx(
            scores.tolist(), abs=1e-6
        )
    assert main(["predict", str(model), x, "--accept-all"]) == 0
    assert "not a digit" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--digit-threshold", "1.5"], "must be between 0 and 1, got 1.5"),
        (["--digit-threshold", "nan"], "must be between 0 and 1, got nan"),
        (["--digit-threshold", "x"], "expected a number, got 'x'"),
        (["--digit-threshold", "0.5", "--accept-all"], "not allowed with argument"),
    ],
)
def test_a_bad_digit_threshold_is_a_usage_error(tmp_path, capsys, option, message):
    model, _, _ = _scored_model(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["predict", str(model), str(tmp_path / "x.npy"), *option])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_evaluate_matches_training_report(cli_models, capsys):
    saved, onnx_file = cli_models
    assert main(["evaluate", str(onnx_file), "--json"]) == 0
    onnx_eval = json.loads(capsys.readouterr().out)
    assert onnx_eval["n_samples"] == 10_000
    assert len(onnx_eval["confusion_matrix"]) == 10
    assert onnx_eval["accuracy"] == pytest.approx(
        load_metadata(saved)["metadata"]["metrics"]["test_accuracy"], abs=1e-4
    )


def test_predict_on_onnx_never_imports_tensorflow(cli_models, mnist, tmp_path):
    _, onnx_file = cli_models
    np.save(tmp_path / "x.npy", mnist[2][:3])
    script = (
        "import sys\n"
        "from skdigits.cli.main import main\n"
        f"rc = main(['predict', {str(onnx_file)!r}, {str(tmp_path / 'x.npy')!r}])\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'scikeras') "
        "if m in sys.modules)\n"
        "print('HEAVY', heavy, rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY [] 0" in proc.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "{onnx}", "{missing}"], "does not exist"),
        (["predict", "{onnx}", "{bad_npy}"], "shape (3, 3)"),
        (["predict", "{missing}", "{bad_npy}"], "missing"),
        (["info", "{bad_npy}"], "bad.npy"),
        (["evaluate", "{missing}"], "missing"),
    ],
)
def test_cli_errors_are_one_line_with_exit_1(cli_models, tmp_path, capsys, argv, message):
    _, onnx_file = cli_models
    np.save(tmp_path / "bad.npy", np.zeros((3, 3)))
    paths = {
        "onnx": onnx_file,
        "missing": tmp_path / "missing.onnx",
        "bad_npy": tmp_path / "bad.npy",
    }
    assert main([a.format(**paths) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skdigits: error: ")
    assert err.count("\n") == 1
    assert message in err


# --- what a terminal shows, and JSON any parser accepts ----------------------------------------


def strict_json(text: str):
    """``json.loads`` that refuses NaN and Infinity, as browsers and jq do."""

    def refuse(constant):
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_predict_shows_control_characters_in_file_names_escaped(tmp_path, capsys):
    from tests._support.onnx_models import build_model

    model = build_model(tmp_path / "m.onnx")
    names = ["\x1b[2J.npy", "a\nb.npy"]
    for name in names:
        np.save(tmp_path / name, np.zeros((1, 28, 28), np.uint8))
    inputs = [str(tmp_path / name) for name in names]
    assert main(["predict", str(model), *inputs]) == 0
    table = capsys.readouterr().out
    assert "\x1b" not in table
    lines = table.splitlines()
    assert len(lines) == 3  # the header and one line per image: no forged line
    assert lines[1].startswith("\\x1b[2J.npy ")
    assert lines[2].startswith("a\\nb.npy ")
    # Machine-readable output keeps the names exactly (JSON escapes, CSV quotes them).
    assert main(["predict", str(model), *inputs, "--json"]) == 0
    doc = strict_json(capsys.readouterr().out)
    assert [p["input"] for p in doc["predictions"]] == inputs
    assert main(["predict", str(model), *inputs, "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert [r[0] for r in rows[1:]] == inputs


def test_info_prints_non_finite_metadata_as_null_and_escapes_text(tmp_path, capsys):
    from tests._support.onnx_models import METADATA, build_model

    metadata = {**METADATA, "test_accuracy": "nan", "fit_seconds": "inf", "note": "\x1b[2Jhi"}
    model = build_model(tmp_path / "m.onnx", metadata=metadata)
    assert main(["info", str(model), "--json"]) == 0
    info = strict_json(capsys.readouterr().out)
    assert info["test_accuracy"] is None
    assert info["fit_seconds"] is None
    assert info["note"] == "\x1b[2Jhi"
    assert main(["info", str(model)]) == 0
    text = capsys.readouterr().out
    assert "\x1b" not in text
    assert "\\x1b[2Jhi" in text
    assert "NaN" not in text


def test_predict_and_evaluate_json_are_strict(tmp_path, mnist, capsys):
    from tests._support.onnx_models import build_model

    model = build_model(tmp_path / "m.onnx")
    np.save(tmp_path / "x.npy", mnist[2][:5])
    np.save(tmp_path / "y.npy", mnist[3][:5])
    argv = ["predict", str(model), str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")]
    assert main([*argv, "--json"]) == 0
    doc = strict_json(capsys.readouterr().out)
    assert 0 <= doc["accuracy"] <= 1
    assert len(doc["predictions"]) == 5
    assert main(["evaluate", str(model), "--json", "--offline"]) == 0
    assert strict_json(capsys.readouterr().out)["n_samples"] == 10_000


def test_a_saved_pipeline_with_no_readable_input_says_why(cli_models, tmp_path, capsys):
    # Nothing to predict: the pipeline used to raise scikit-learn's "0 sample(s)".
    saved, _ = cli_models
    readme = tmp_path / "README.md"
    readme.write_text("# digits\n")
    assert main(["predict", str(saved), str(readme), "--json"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.startswith("skdigits: error: ")
    assert "README.md' is a text file" in captured.err
    assert strict_json(captured.out)["predictions"][0]["error"].startswith("input ")

"""The model report: every figure is a real PNG, the page holds them all, the numbers agree."""

from __future__ import annotations

import base64
import csv
import errno
import json
import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from skdigits._core.errors import WriteError
from skdigits.analysis._report import (
    FIGURES,
    HTML_FILE,
    REPORT_FILES,
    check_report_dir,
    first_layer_tiles,
    hidden_layer,
    most_confident_errors,
    write_report,
)
from skdigits.cli.main import main

N_TEST = 2000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; fails on anything that is not a PNG."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    return struct.unpack(">II", data[16:24])


def assert_sensible_png(data: bytes) -> None:
    width, height = png_size(data)
    assert 200 <= width <= 4000
    assert 200 <= height <= 4000
    assert len(data) > 5_000  # an empty canvas compresses to far less


@pytest.fixture(scope="module")
def report(fitted_pipeline, mnist, tmp_path_factory):
    """One report of the shared small pipeline on 2,000 real test images."""
    _, _, X_test, y_test = mnist
    out = tmp_path_factory.mktemp("report")
    (out / "notes.txt").write_text("mine")  # a user's file the report must leave alone
    return write_report(fitted_pipeline, X_test[:N_TEST], y_test[:N_TEST], out, title="<Mine>")


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_is_a_sensible_png(report, name):
    path = report.out_dir / name
    assert report.figures[name] == path
    assert_sensible_png(path.read_bytes())


def test_report_writes_only_its_own_files(report):
    assert sorted(p.name for p in report.out_dir.iterdir()) == sorted([*REPORT_FILES, "notes.txt"])
    assert (report.out_dir / "notes.txt").read_text() == "mine"
    assert [p.name for p in report.paths] == [HTML_FILE, *FIGURES, *report.data_files]


def test_html_embeds_and_lists_every_figure(report):
    page = report.html.read_text(encoding="utf-8")
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(FIGURES)
    # Each embedded image is exactly the PNG file beside the page, in page order.
    assert [base64.b64decode(e) for e in embedded] == [
        (report.out_dir / name).read_bytes() for name in FIGURES
    ]
    for name in [*FIGURES, *report.data_files]:
        assert f'href="{name}"' in page
    assert "&lt;Mine&gt;" in page  # the title is escaped
    assert "trained for 3 epochs" in page  # from the history saved at fit time
    assert "http://" not in page
    assert "https://" not in page  # self-contained: nothing to fetch


def test_confusion_matrix_equals_evaluate_predictions(report, fitted_pipeline, mnist):
    from skdigits.analysis._evaluation import evaluate_predictions

    _, _, X_test, y_test = mnist
    expected = evaluate_predictions(
        y_test[:N_TEST], fitted_pipeline.predict(X_test[:N_TEST]), labels=fitted_pipeline.classes_
    )
    saved = json.loads((report.out_dir / "confusion_matrix.json").read_text())
    assert saved["confusion_matrix"] == expected.confusion.tolist()
    assert saved["labels"] == expected.labels.tolist() == list(range(10))
    assert saved["n_samples"] == N_TEST
    assert saved["accuracy"] == pytest.approx(expected.accuracy)
    np.testing.assert_array_equal(report.evaluation.confusion, expected.confusion)

    with open(report.out_dir / "confusion_matrix.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["true\\predicted", *map(str, range(10))]
    assert [[int(v) for v in row[1:]] for row in rows[1:]] == expected.confusion.tolist()


def test_per_class_metrics_match_scikit_learn(report, fitted_pipeline, mnist):
    from sklearn.metrics import precision_recall_fscore_support

    _, _, X_test, y_test = mnist
    precision, recall, _, support = precision_recall_fscore_support(
        y_test[:N_TEST], fitted_pipeline.predict(X_test[:N_TEST]), labels=list(range(10))
    )
    with open(report.out_dir / "per_class_metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["label"]) for r in rows] == list(range(10))
    np.testing.assert_allclose([float(r["precision"]) for r in rows], precision, atol=1e-6)
    np.testing.assert_allclose([float(r["recall"]) for r in rows], recall, atol=1e-6)
    assert [int(r["support"]) for r in rows] == support.tolist()


def test_no_pyplot_figure_is_left_open(report):
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []


def test_gallery_picks_the_most_confident_mistakes():
    proba = np.array(
        [
            [0.99, 0.01, 0.00],  # right, very sure: never shown
            [0.10, 0.85, 0.05],  # wrong (true 0), 0.85
            [0.05, 0.05, 0.90],  # wrong (true 1), 0.90
            [0.30, 0.60, 0.10],  # wrong (true 2), 0.60
        ]
    )
    y_true = np.array([0, 0, 1, 2])
    assert most_confident_errors(proba, y_true, np.arange(3), k=10).tolist() == [2, 1, 3]
    assert most_confident_errors(proba, y_true, np.arange(3), k=2).tolist() == [2, 1]


def test_mlp_weights_are_the_hidden_kernel_as_28x28_images(fitted_pipeline):
    model = fitted_pipeline[-1].model_
    kernel = model.get_layer("hidden").get_weights()[0]  # (784, 100)
    tiles, source = first_layer_tiles(model)
    assert tiles.shape == (100, 28, 28)
    np.testing.assert_array_equal(tiles[7].ravel(), kernel[:, 7])
    assert "'hidden'" in source
    assert hidden_layer(model).name == "hidden"


def test_a_cnn_shows_its_conv_filters_and_penultimate_activations():
    from skdigits.analysis import _report as report_module
    from skdigits.nn._tf import import_keras

    keras = import_keras()
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Reshape((28, 28, 1)),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(12, activation="relu", name="features"),
            keras.layers.Dropout(0.3),  # passes through at inference: not the one shown
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    kernel = model.get_layer("conv").get_weights()[0]  # (3, 3, 1, 6)
    tiles, source = first_layer_tiles(model)
    assert tiles.shape == (6, 3, 3)
    np.testing.assert_allclose(tiles[4], kernel[:, :, 0, 4])
    assert "Conv2D" in source
    assert_sensible_png(report_module._png_bytes(report_module._plot_tiles(tiles, source)))

    layer = hidden_layer(model)
    assert layer.name == "features"
    X = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    assert report_module._layer_activations(model, layer, X).shape == (5, 12)


def test_an_earlier_report_is_refused_without_overwrite(report, fitted_pipeline, mnist):
    _, _, X_test, y_test = mnist
    before = report.html.stat().st_mtime_ns
    with pytest.raises(Exception, match=r"already holds a report \(confusion_matrix.png"):
        write_report(fitted_pipeline, X_test[:50], y_test[:50], report.out_dir)
    assert report.html.stat().st_mtime_ns == before
    assert check_report_dir(report.out_dir, overwrite=True) == report.out_dir


def test_a_file_as_report_dir_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(Exception, match="is a file; pass a directory"):
        check_report_dir(tmp_path / "file")


# --- the command line ---------------------------------------------------------------------


def test_train_report_matches_evaluate_on_the_full_test_set(cli_trained, tmp_path, capsys):
    # A copy of the CLI-trained model, so that `report` writes beside it in tmp_path.
    model, out, printed = tmp_path / "m.skdigits", cli_trained.report, cli_trained.output
    shutil.copyfile(cli_trained.saved, model)
    for name in REPORT_FILES:
        assert str(out / name) in printed
        assert (out / name).is_file()

    assert main(["evaluate", str(model), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    reported = json.loads((out / "confusion_matrix.json").read_text())
    assert reported["n_samples"] == evaluated["n_samples"] == 10_000
    assert reported["labels"] == evaluated["labels"]
    assert reported["confusion_matrix"] == evaluated["confusion_matrix"]

    # `skdigits report` on the saved model: same numbers, written beside the model.
    assert main(["report", str(model)]) == 0
    default_dir = tmp_path / "m-report"
    assert str(default_dir / HTML_FILE) in capsys.readouterr().out
    again = json.loads((default_dir / "confusion_matrix.json").read_text())
    assert again["confusion_matrix"] == evaluated["confusion_matrix"]
    for name in FIGURES:
        assert_sensible_png((default_dir / name).read_bytes())

    assert main(["report", str(model), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "already holds a report" in err
    assert "--force" in err


def test_report_refuses_an_onnx_model_in_one_line(tmp_path, capsys):
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"\x08\x07")
    assert main(["report", str(onnx_file)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skdigits: error: ")
    assert err.count("\n") == 1
    assert "ONNX model" in err
    assert ".skdigits" in err
    assert not (tmp_path / "m-report").exists()


def test_plain_training_draws_no_figure(tmp_path, mnist, monkeypatch):
    import matplotlib.figure

    created = []
    original = matplotlib.figure.Figure.__init__

    def counting_init(self, *args, **kwargs):
        created.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "__init__", counting_init)
    argv = ["train", "--subset", "300", "--epochs", "1", "-q", "-o", str(tmp_path / "m.skdigits")]
    assert main(argv) == 0
    assert created == []
    assert not list(tmp_path.glob("**/*.png"))


def test_matplotlib_is_only_needed_for_a_report(tmp_path, mnist, run_blocked):
    """Training runs without matplotlib; a report asks for the `plot` extra, before training."""
    model = tmp_path / "m.skdigits"
    script = (
        "import skdigits.analysis._report\n"
        "print('IMPORTED', 'matplotlib' in sys.modules)\n"
        "from skdigits.cli.main import main\n"
        f"argv = ['train', '--subset', '300', '--epochs', '1', '-q', '-o', {str(model)!r}]\n"
        "print('TRAIN', main(argv), 'matplotlib' in sys.modules)\n"
        f"print('TRAIN_REPORT', main([*argv, '--force', '--report', {str(tmp_path / 'r')!r}]))\n"
        f"print('REPORT', main(['report', {str(model)!r}]))\n"
    )
    proc = run_blocked(script, {"matplotlib"})
    assert proc.returncode == 0, proc.stderr
    assert "IMPORTED False" in proc.stdout
    assert "TRAIN 0 False" in proc.stdout
    assert "TRAIN_REPORT 1" in proc.stdout
    assert "REPORT 1" in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("skdigits: error:")]
    assert len(errors) == 2
    for line in errors:
        assert 'pip install "skdigits[plot]"' in line
    assert not (tmp_path / "r").exists()


def test_a_full_disk_keeps_an_earlier_report_whole(
    report, fitted_pipeline, mnist, tmp_path, monkeypatch
):
    """All files are staged before any is replaced: never half an old report, half a new."""
    _, _, X_test, y_test = mnist
    out = tmp_path / "report"
    shutil.copytree(report.out_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_write_bytes = Path.write_bytes

    def fill_the_disk_at_the_page(path, data):
        if path.name.startswith(f".{HTML_FILE}."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", fill_the_disk_at_the_page)
    with pytest.raises(WriteError, match=rf"cannot write .*{HTML_FILE}: no space left"):
        write_report(fitted_pipeline, X_test[:50], y_test[:50], out, overwrite=True)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

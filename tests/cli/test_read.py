"""``skdigits read``: numbers printed, as a table, JSON or CSV; unreadable inputs reported."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

pytest.importorskip("PIL")

from PIL import Image

from skdigits.cli.main import main
from tests._support.hostile import assert_one_error_line


@pytest.fixture
def cli(capsys):
    """The command line's answer: exit status (argparse's usage errors included), stdout, stderr."""

    def run(argv):
        try:
            status = main(argv)
        except SystemExit as exit:
            status = exit.code
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


@pytest.fixture(scope="module")
def pictures(exported_model, mnist, tmp_path_factory):
    """A number the model reads ("7210": the first four test digits, apart), a blank
    page and a file that is no image."""
    _, _, X_test, _ = mnist
    folder = tmp_path_factory.mktemp("read")
    line = np.concatenate([np.pad(d, ((4, 4), (2, 2))) for d in X_test[:4]], axis=1)
    Image.fromarray(255 - line).save(folder / "number.png")
    Image.fromarray(np.full((40, 120), 255, np.uint8)).save(folder / "blank.png")
    (folder / "notes.txt").write_text("not an image\n")
    return folder


def test_the_table_prints_the_number(cli, exported_model, pictures):
    status, out, err = cli(["read", str(exported_model), str(pictures / "number.png")])
    assert status == 0, err
    assert out.splitlines()[1].split()[:2] == ["number.png", "7210"]


def test_json_gives_each_digit_with_its_box_and_an_error_row(cli, exported_model, pictures):
    argv = ["read", str(exported_model), str(pictures / "number.png"), str(pictures / "blank.png")]
    status, out, err = cli([*argv, "--json"])
    assert status == 1
    assert_one_error_line(err, r"blank\.png' is blank: no digit found")
    doc = json.loads(out)
    assert doc["model"] == str(exported_model)
    good, bad = doc["readings"]
    assert good["input"].endswith("number.png")
    assert good["text"] == "7210"
    assert 0 < good["probability"] <= 1
    assert "error" not in good
    assert [d["label"] for d in good["digits"]] == [7, 2, 1, 0]
    for d in good["digits"]:
        assert set(d) == {"label", "probability", "box"}
        x0, y0, x1, y1 = d["box"]
        assert 0 <= x0 < x1 <= 128
        assert 0 <= y0 < y1 <= 36
    assert bad["text"] is None
    assert "is blank" in bad["error"]


def test_csv_has_one_row_per_input(cli, exported_model, pictures):
    argv = ["read", str(exported_model), str(pictures / "notes.txt"), str(pictures / "number.png")]
    status, out, err = cli([*argv, "--csv"])
    assert status == 1
    assert_one_error_line(err, r"notes\.txt' is not a supported image file")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["text"] for r in rows] == ["", "7210"]
    assert rows[0]["error"]
    assert not rows[1]["error"]
    assert len(rows[1]["digit_probabilities"].split()) == 4


def test_length_is_honoured_and_checked(cli, exported_model, pictures):
    number = str(pictures / "number.png")
    status, out, _ = cli(["read", str(exported_model), number, "--length", "3-4", "--json"])
    assert status == 0
    assert json.loads(out)["readings"][0]["text"] == "7210"
    status, _, err = cli(["read", str(exported_model), number, "--length", "6"])
    assert status == 1
    assert_one_error_line(err, r"cannot be read as a number of 6 digits")


@pytest.mark.parametrize("length", ["0", "4-2", "four", "1-2-3"])
def test_a_malformed_length_is_a_usage_error(cli, exported_model, pictures, length):
    status, _, err = cli(
        ["read", str(exported_model), str(pictures / "number.png"), "--length", length]
    )
    assert status == 2
    assert "--length" in err


def test_the_model_given_after_the_image_is_named(cli, exported_model, pictures):
    status, _, err = cli(["read", str(pictures / "number.png"), str(exported_model)])
    assert status == 1
    assert_one_error_line(err, r"the model comes first: skdigits read MODEL INPUT")

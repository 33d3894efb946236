"""read_numbers: whole numbers read from MNIST test digits set side by side.

The shared session model (a few epochs on 3,000 images) is not perfect, so the
numbers are built from test digits it reads right and surely on their own: what
is tested is the reading, not the model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("PIL")
pytest.importorskip("onnxruntime")

from PIL import Image

from skdigits import DataError, DigitReading, NumberReading, read_numbers
from skdigits.io import preprocess_digit
from skdigits.reading._paths import best_path, join_scores, noise_scores, width_scores
from skdigits.reading._read import parse_length
from skdigits.runtime import OnnxDigitClassifier
from tests._support.hostile import assert_one_line_message


@pytest.fixture(scope="module")
def predictor(exported_model):
    return OnnxDigitClassifier(exported_model)


@pytest.fixture(scope="module")
def sure(predictor, mnist):
    """For each label, test digits the model reads right with probability over 0.97."""
    _, _, X_test, y_test = mnist
    X, y = X_test[:2000], y_test[:2000]
    proba = predictor.predict_proba(X.astype(np.float32))
    good = (proba.argmax(axis=1) == y) & (proba.max(axis=1) > 0.97)
    return {d: X[good & (y == d)] for d in range(10)}


def number(sure, text, gap, shift=0):
    """``text`` written with the sure digits (the ``shift``-th of each label), ``gap`` apart."""
    glyphs = []
    for i, c in enumerate(text):
        digit = sure[int(c)][(shift + i) % len(sure[int(c)])]
        rows, cols = np.flatnonzero(digit.max(axis=1)), np.flatnonzero(digit.max(axis=0))
        glyphs.append(digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    height = max(g.shape[0] for g in glyphs) + 12
    width = sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) - 1) + 24
    line = np.zeros((height, width), np.uint8)
    x = 12
    for glyph in glyphs:
        top = (height - glyph.shape[0]) // 2
        region = line[top : top + glyph.shape[0], x : x + glyph.shape[1]]
        np.maximum(region, glyph, out=region)
        x += glyph.shape[1] + gap
    return line


def test_a_single_digit_reads_as_predict_reads_it(predictor, sure):
    pictures = [np.pad(sure[d][i], 8) for d in range(10) for i in range(3)]
    readings = read_numbers(predictor, pictures)
    proba = predictor.predict_proba(np.stack([preprocess_digit(p) for p in pictures]))
    for reading, row in zip(readings, proba, strict=True):
        assert len(reading.digits) == 1
        assert reading.text == str(int(row.argmax()))
        assert reading.probability == pytest.approx(float(row.max()), rel=1e-6)


@pytest.mark.parametrize("gap", [40, 6, 0])
def test_numbers_are_read_whatever_the_gap(predictor, sure, gap):
    texts = ["2026", "42", "731", "58", "9610"]
    readings = read_numbers(predictor, [number(sure, t, gap) for t in texts])
    assert [r.text for r in readings] == texts


def test_a_reading_says_where_each_digit_is_and_how_sure(predictor, sure):
    picture = number(sure, "2026", 10)
    (reading,) = read_numbers(predictor, picture)
    assert isinstance(reading, NumberReading)
    assert all(isinstance(d, DigitReading) for d in reading.digits)
    assert [d.label for d in reading.digits] == [2, 0, 2, 6]
    lefts = [d.box[0] for d in reading.digits]
    assert lefts == sorted(lefts)
    assert lefts[0] == 12
    for d in reading.digits:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= picture.shape[1]
        assert 0 <= y0 < y1 <= picture.shape[0]
        assert picture[y0:y1, x0:x1].max() > 0
        assert 0.97 < d.probability <= 1
    assert reading.probability == pytest.approx(np.prod([d.probability for d in reading.digits]))


def test_dark_on_light_reads_as_light_on_dark(predictor, sure):
    picture = number(sure, "4711", 8)
    assert read_numbers(predictor, 255 - picture)[0] == read_numbers(predictor, picture)[0]


def test_every_input_form_and_a_model_path_read_alike(predictor, exported_model, sure, tmp_path):
    picture = number(sure, "305", 8)
    image = Image.fromarray(255 - picture)
    path = tmp_path / "n.png"
    image.save(path)
    forms = [path, str(path), path.read_bytes(), image, np.asarray(image)]
    readings = read_numbers(exported_model, forms)
    assert {r.text for r in readings} == {"305"}
    assert len({r.digits for r in readings}) == 1


def test_a_fitted_pipeline_reads_as_its_onnx_export(fitted_pipeline, predictor, sure):
    pictures = [number(sure, "68", 5), number(sure, "1234", 2)]
    by_pipeline = read_numbers(fitted_pipeline, pictures)
    by_onnx = read_numbers(predictor, pictures)
    assert [r.text for r in by_pipeline] == [r.text for r in by_onnx] == ["68", "1234"]


def test_length_picks_a_reading_of_that_many_digits(predictor, sure):
    picture = number(sure, "00", -1)  # touching: one mark, cut or not
    assert len(read_numbers(predictor, picture, length=2)[0].text) == 2
    assert len(read_numbers(predictor, picture, length=(1, 1))[0].text) == 1


@pytest.mark.parametrize("length", [0, -1, (3, 2), "4", (1, 2, 3), True])
def test_a_length_that_is_no_count_is_refused(predictor, sure, length):
    with pytest.raises(DataError) as err:
        read_numbers(predictor, number(sure, "42", 8), length=length)
    assert_one_line_message(str(err.value), r"`length` must be a number of digits")


@pytest.mark.parametrize(
    ("text", "lengths"), [("4", (4, 4)), (" 4 - 6 ", (4, 6)), ("1-999999", (1, 999999))]
)
def test_a_written_length_is_a_count_or_a_range(text, lengths):
    assert parse_length(text) == lengths


@pytest.mark.parametrize("text", ["0", "4-2", "four", "1-2-3", "1234567", "", "4-"])
def test_a_written_length_that_is_no_count_is_one_line(text):
    with pytest.raises(DataError) as err:
        parse_length(text)
    assert_one_line_message(
        str(err.value), r"^(expected a number of digits|a length is at least 1)"
    )


def test_a_reading_as_json_values_is_what_read_json_prints(predictor, sure):
    (reading,) = read_numbers(predictor, number(sure, "42", 8))
    values = reading.to_dict()
    assert list(values) == ["text", "probability", "digits"]
    assert values["text"] == "42"
    assert values["probability"] == reading.probability
    assert values["digits"] == [
        {"label": d.label, "probability": d.probability, "box": list(d.box)} for d in reading.digits
    ]
    assert json.loads(json.dumps(values)) == values  # plain JSON types only


def test_a_length_the_writing_cannot_have_is_a_one_line_error(predictor, sure):
    with pytest.raises(DataError) as err:
        read_numbers(predictor, number(sure, "42", 30), length=5)
    assert_one_line_message(str(err.value), r"cannot be read as a number of 5 digits")


def test_a_blank_page_is_a_one_line_error(predictor):
    with pytest.raises(DataError) as err:
        read_numbers(predictor, np.full((80, 300), 250, np.uint8))
    assert_one_line_message(str(err.value), r"is blank: no digit found")


def test_reading_never_imports_the_training_stack(run_blocked, exported_model, sure, tmp_path):
    path = tmp_path / "n.png"
    Image.fromarray(number(sure, "90", 10)).save(path)
    script = """
    from skdigits import read_numbers
    print(read_numbers(sys.argv[1], sys.argv[2])[0].text)
    """
    result = run_blocked(
        script, {"tensorflow", "keras", "sklearn", "scikeras"}, exported_model, path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "90"


def test_two_touching_digits_read_as_one_wide_digit_lose_to_the_pair():
    # Pieces 0 and 1; the classifier is surer of both squeezed into one (a common
    # mistake) than of each, but the pair is one and a half digits wide.
    spans = np.array([[0, 1], [1, 2], [0, 2]])
    sure = np.array([-0.10, -0.10, -0.05])
    widths = np.array([0.7, 0.7, 1.5])
    assert best_path(2, spans, sure, (1, 9)) == [2]
    assert best_path(2, spans, sure + width_scores(widths), (1, 9)) == [0, 1]
    assert best_path(2, spans, sure + width_scores(widths), (1, 1)) == [2]
    assert width_scores(np.array([0.2, 1.0])).tolist() == [0.0, 0.0]


def test_overlapping_digits_are_read_apart(predictor, sure):
    # "84" in 20 hands, the digits overlapping by a pixel: straight cuts read 15 right.
    pictures = [number(sure, "84", -1, shift) for shift in range(20)]
    texts = [reading.text for reading in read_numbers(predictor, pictures)]
    assert sum(text == "84" for text in texts) >= 18, texts


def test_ending_a_digit_where_a_cut_parts_ink_costs_the_more_strokes_it_crosses():
    class Cut:  # three pieces: a cut through 3 strokes, then a gap
        spans = np.array([[0, 1], [0, 2], [1, 2], [2, 3]])
        n_pieces = 3
        joins = np.array([3.0, 0.0])

    assert join_scores(Cut()).tolist() == pytest.approx([-0.15, 0.0, 0.0, 0.0])


def test_a_picture_of_one_wide_digit_reads_as_that_digit(predictor, mnist):
    # MNIST scales a digit's longer side to 20 pixels: a wide 2 or 5 alone is wider
    # than tall, and the picture has no other digit to take the digit height from.
    _, _, X_test, _ = mnist
    ink = X_test > 64
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    tall = 28 - rows.argmax(1) - rows[:, ::-1].argmax(1)
    wide = 28 - cols.argmax(1) - cols[:, ::-1].argmax(1)
    pictures = [np.pad(x, 8) for x in X_test[wide >= 1.3 * tall]]
    assert len(pictures) == 170
    labels = predictor.predict_proba(np.stack([preprocess_digit(p) for p in pictures])).argmax(1)
    texts = [reading.text for reading in read_numbers(predictor, pictures)]
    # Judged by the digit height (the mark's own), 103 agree; by the digit's shape, 134.
    assert sum(t == str(label) for t, label in zip(texts, labels, strict=True)) >= 125


class NoBlots:
    """The session model, with a digit score that takes a filled blot for no digit (as a
    model trained with outlier exposure would): ink over 40 % of the 28 x 28 image."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.classes_ = predictor.classes_
        self.digit_threshold_ = 0.5

    def predict_proba(self, X):
        return self.predictor.predict_proba(X)

    def predict_with_score(self, X):
        labels, proba, score = self.predictor.predict_with_score(X)
        blot = (np.asarray(X) > 128).reshape(len(X), -1).mean(axis=1) > 0.4
        return labels, proba, np.where(blot, 1e-3, score)


def blot(picture, x, size):
    picture = picture.copy()
    top = (picture.shape[0] - size) // 2
    picture[top : top + size, x : x + size] = 255
    return picture


def test_a_mark_the_model_takes_for_no_digit_is_left_out(predictor, sure):
    # "42" with a blot before or after it, as tall as half a digit (no speck).
    alone = read_numbers(predictor, number(sure, "42", 8))[0].digits
    line = np.pad(number(sure, "42", 8), ((0, 0), (30, 30)))
    for picture in (blot(line, 6, 14), blot(line, line.shape[1] - 20, 14)):
        assert len(read_numbers(predictor, picture)[0].text) == 3  # its top probability: a digit
        (reading,) = read_numbers(NoBlots(predictor), picture)
        assert reading.text == "42"
        assert [d.box for d in reading.digits] == [
            (x0 + 30, y0, x1 + 30, y1) for x0, y0, x1, y1 in (d.box for d in alone)
        ]


def test_a_page_the_model_takes_for_no_digit_is_a_one_line_error(predictor):
    page = np.zeros((60, 200), np.uint8)
    for x in (20, 80, 140):
        page = blot(page, x, 20)
    with pytest.raises(DataError) as err:
        read_numbers(NoBlots(predictor), page)
    assert_one_line_message(str(err.value), r"shows no digit: the model takes each of its 3 marks")
    assert len(read_numbers(predictor, page)[0].text) == 3  # a digit score that refuses none


def test_a_mark_is_left_out_only_whole_and_only_when_its_reading_is_unlikely():
    class Marks:  # pieces 0-1 one mark (cut), piece 2 a mark apart, piece 3 another
        spans = np.array([[0, 1], [1, 2], [0, 2], [2, 3], [3, 4]])
        marks = np.array([0, 0, 1, 2])
        widths = np.array([0.5, 0.5, 0.9, 0.8, 0.7])

    score = np.array([0.1, 0.1, 0.1, 0.1, 0.9])
    skips = noise_scores(Marks(), score, 0.8)
    assert np.isfinite(skips).tolist() == [False, False, True, True, False]
    assert skips[2] == pytest.approx(2 * np.log(0.8) - 2.5)
    assert noise_scores(Marks(), score, 0.0).tolist() == [-np.inf] * 5
    reads = np.log(np.array([0.5, 0.5, 0.9, 0.05, 0.95]))
    assert best_path(4, Marks.spans, reads, (1, 9), skips) == [2, 4]  # the 0.05 mark left out
    assert best_path(4, Marks.spans, reads, (3, 3), skips) == [2, 3, 4]  # unless 3 are asked
    assert best_path(4, Marks.spans, np.full(5, -9.0), (0, 9), np.full(5, -1.0)) == []


def test_a_mark_as_wide_as_several_digits_costs_as_many_to_leave_out():
    # "065829" written with its digits overlapping: one mark, cut in three pieces the
    # model is unsure of (digit score 0.5 each), and a sure digit apart. Leaving the
    # mark out costs three times what one unsure digit does, so it is read.
    class Marks:
        spans = np.array([[0, 1], [1, 2], [2, 3], [0, 3], [3, 4]])
        marks = np.array([0, 0, 0, 1])
        widths = np.array([0.9, 0.9, 0.9, 2.8, 0.8])

    score = np.array([0.5, 0.5, 0.5, 0.1, 0.9])
    skips = noise_scores(Marks(), score, 0.8)
    assert skips[3] == pytest.approx(2.8 * (2 * np.log(0.8) - 2.5))
    reads = np.log(score) * 2
    assert best_path(4, Marks.spans, reads, (1, 9), skips) == [0, 1, 2, 4]
    # As wide as one digit, the same mark is blotted out: its pieces read worse than it.
    Marks.widths = np.array([0.3, 0.3, 0.3, 0.9, 0.8])
    assert best_path(4, Marks.spans, reads, (1, 9), noise_scores(Marks(), score, 0.8)) == [4]


def test_a_candidate_wider_than_the_digit_it_is_read_as_usually_is_costs_more():
    # A 1 and a 6 overlapping, taken together, read confidently as one 6 or 8.
    widths = np.array([0.9, 0.9, 1.2, 0.9])
    scores = width_scores(widths, np.array([1, 2, 6, 11]))
    assert scores.tolist() == pytest.approx([-8 * 0.2**2, 0.0, -4 * 0.2**2 - 8 * 0.25**2, 0.0])
    assert width_scores(widths).tolist() == pytest.approx([0.0, 0.0, -4 * 0.2**2, 0.0])

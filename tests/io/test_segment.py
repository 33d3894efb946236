"""Cutting a picture of a number into candidate digits: each way people write is kept apart.

The pictures are built from MNIST test digits and from drawn strokes; no model is
needed: the tests check which candidates are offered, and where.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("PIL")

from PIL import Image, ImageDraw

from skdigits import DataError
from skdigits.io import preprocess_digit
from skdigits.io._segment import MAX_PIECES, segment_number
from tests._support.hostile import Bound, assert_one_line_message, bound_test


def ink_box(digit: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def side_by_side(digits: list[np.ndarray], gap: int) -> tuple[np.ndarray, list[tuple]]:
    """Digits' ink boxes on one black line, ``gap`` pixels apart (negative: overlapping);
    returns the line and each digit's box (x0, y0, x1, y1)."""
    glyphs = [ink_box(d) for d in digits]
    height = max(g.shape[0] for g in glyphs) + 12
    width = sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) - 1) + 24
    line = np.zeros((height, width), np.uint8)
    boxes, x = [], 12
    for glyph in glyphs:
        top = (height - glyph.shape[0]) // 2
        region = line[top : top + glyph.shape[0], x : x + glyph.shape[1]]
        np.maximum(region, glyph, out=region)
        boxes.append((x, top, x + glyph.shape[1], top + glyph.shape[0]))
        x += glyph.shape[1] + gap
    return line, boxes


def offered(seg, box, slack=3) -> bool:
    """Whether some candidate's box is ``box`` within ``slack`` pixels on every side."""
    return bool((np.abs(seg.boxes - np.asarray(box)).max(axis=1) <= slack).any())


def strokes(size, lines, width=5, dark_on_light=True) -> np.ndarray:
    """A page with these polylines drawn on it (pixel coordinates)."""
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    page = Image.new("L", size, paper)
    draw = ImageDraw.Draw(page)
    for line in lines:
        draw.line(line, fill=ink, width=width, joint="curve")
    return np.asarray(page)


@pytest.fixture(scope="module")
def digits(mnist):
    """The first MNIST test image of each label."""
    _, _, X_test, y_test = mnist
    return {d: X_test[np.flatnonzero(y_test == d)[0]] for d in range(10)}


def test_a_single_digit_gives_the_image_predict_sees(mnist):
    _, _, X_test, _ = mnist
    for digit in X_test[:20]:
        picture = np.pad(digit, 10)
        seg = segment_number(picture)
        whole = [k for k, (a, b) in enumerate(seg.spans) if a == 0 and b == seg.n_pieces]
        assert whole, seg.spans
        np.testing.assert_array_equal(seg.images[whole[0]], preprocess_digit(picture))


@pytest.mark.parametrize("gap", [30, 8, 2])
def test_digits_apart_are_one_candidate_each_whatever_the_gap(digits, gap):
    line, boxes = side_by_side([digits[2], digits[0], digits[2], digits[6]], gap)
    seg = segment_number(line)
    for box in boxes:
        assert offered(seg, box, slack=1), (box, seg.boxes)


@pytest.mark.parametrize(("pair", "gap"), [((0, 0), 0), ((0, 0), -1), ((2, 3), -1), ((1, 1), -1)])
def test_touching_digits_are_cut_apart(digits, pair, gap):
    line, boxes = side_by_side([digits[pair[0]], digits[pair[1]]], gap)
    seg = segment_number(line)
    assert seg.n_pieces >= 2
    for box in boxes:
        assert offered(seg, box, slack=4), (box, seg.boxes)


@pytest.mark.parametrize("pair", [(7, 4), (4, 4)])
def test_overlapping_digits_are_cut_round_their_strokes(digits, pair):
    # Overlapping by 2 pixels, no column parts them: a cut bent round the strokes does.
    line, boxes = side_by_side([digits[pair[0]], digits[pair[1]]], -2)
    seg = segment_number(line)
    for box in boxes:
        assert offered(seg, box, slack=2), (box, seg.boxes)


def test_a_cut_says_how_much_ink_it_parted_and_marks_apart_part_none(digits):
    page = np.full((60, 120), 255, np.uint8)
    page[10:50, 20:26] = 0  # a "1"
    page[10:50, 70:76] = 0  # another, apart
    apart = segment_number(page)
    assert apart.joins.tolist() == [0.0]
    line, _ = side_by_side([digits[0], digits[0]], 0)  # "00", touching
    touching = segment_number(line)
    assert touching.joins.shape == (touching.n_pieces - 1,)
    assert touching.joins.max() > 0, touching.joins


def test_each_piece_says_which_mark_it_was_cut_from(digits):
    # "00" touching (one mark, cut) then a "1" apart: the reader leaves out whole marks only.
    pair, _ = side_by_side([digits[0], digits[0]], 0)
    line = np.zeros((pair.shape[0], pair.shape[1] + 40), np.uint8)
    line[:, : pair.shape[1]] = pair
    line[8:-8, -20:-16] = 255
    seg = segment_number(line)
    assert seg.n_pieces >= 3, seg.joins
    assert seg.marks.tolist() == [0] * (seg.n_pieces - 1) + [1]
    assert seg.joins[-1] == 0.0


def test_a_five_with_its_flag_apart_is_one_candidate_and_the_flag_never_alone():
    body = [(30, 24), (28, 55), (50, 50), (62, 70), (50, 90), (25, 88)]
    flag = [(40, 12), (72, 12)]  # drawn apart: 7 pixels above the body's top
    page = strokes((100, 110), [body, flag])
    seg = segment_number(page)
    assert seg.n_pieces == 2
    assert offered(seg, (23, 10, 75, 93), slack=4), seg.boxes
    flag_alone = (seg.boxes[:, 3] - seg.boxes[:, 1]) < 15
    assert not flag_alone.any(), seg.boxes


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([[(20, 12), (70, 12)], [(72, 24), (40, 90)]], id="7"),
        pytest.param([[(60, 15), (22, 60)], [(60, 15), (60, 92)], [(18, 72), (54, 72)]], id="4"),
    ],
)
def test_a_digit_with_a_detached_bar_is_one_candidate(lines):
    seg = segment_number(strokes((100, 110), lines))
    tall = seg.boxes[:, 3] - seg.boxes[:, 1]
    spans_all = (seg.spans[:, 0] == 0) & (seg.spans[:, 1] == seg.n_pieces)
    assert spans_all.any(), seg.spans
    assert (tall[~spans_all] >= 40).all(), seg.boxes  # no bar alone


def test_specks_are_dropped(digits):
    line, boxes = side_by_side([digits[4], digits[2]], 10)
    clean = segment_number(line)
    dusty = line.copy()
    dusty[2:4, 2:4] = 255  # a speck in the corner
    dusty[-4:-2, boxes[0][2] + 4] = 200  # and one between the digits
    seg = segment_number(dusty)
    assert seg.n_pieces == clean.n_pieces
    np.testing.assert_array_equal(seg.boxes, clean.boxes)


def test_dark_on_light_and_light_on_dark_give_the_same_candidates(digits):
    line, _ = side_by_side([digits[3], digits[8], digits[1]], 4)
    on_black, on_paper = segment_number(line), segment_number(255 - line)
    np.testing.assert_array_equal(on_black.boxes, on_paper.boxes)
    np.testing.assert_allclose(on_black.images, on_paper.images, atol=1e-3)


def test_slanted_touching_digits_are_cut_along_the_slant():
    # Two slanted 1s joined at the foot: no vertical line separates them.
    lines = [[(40, 10), (22, 90)], [(62, 10), (44, 90)], [(22, 90), (44, 90)]]
    seg = segment_number(strokes((110, 100), lines, width=4))
    assert seg.n_pieces >= 2
    pieces = seg.boxes[seg.spans[:, 1] - seg.spans[:, 0] == 1]
    # The left 1 alone (a vertical cut would take the other's top with it), and
    # the right 1 with the foot's right part.
    assert any(box[0] <= 22 and box[2] <= 44 for box in pieces), seg.boxes
    assert any(box[0] >= 25 and box[2] >= 62 for box in pieces), seg.boxes


def test_every_input_form_gives_the_same_candidates(digits, tmp_path):
    line, _ = side_by_side([digits[7], digits[5]], 6)
    image = Image.fromarray(line)
    path = tmp_path / "number.png"
    image.save(path)
    data = path.read_bytes()
    expected = segment_number(line).boxes
    for source in (path, str(path), data, io.BytesIO(data), image):
        np.testing.assert_array_equal(segment_number(source).boxes, expected)


def test_a_blank_page_is_a_one_line_error():
    with pytest.raises(DataError) as err:
        segment_number(np.full((60, 200), 255, np.uint8))
    assert_one_line_message(str(err.value), r"is blank: no digit found")


def test_a_page_of_dots_is_refused_before_any_classifier_sees_it():
    page = np.zeros((200, 400), np.uint8)
    page[5::12, 5::12] = 255  # about 560 marks of one size: none is a speck
    page[6::12, 5::12] = 255
    with pytest.raises(DataError) as err:
        segment_number(page)
    assert_one_line_message(str(err.value), rf"pieces of writing, over the limit of {MAX_PIECES}")


def test_the_boxes_of_a_picture_read_smaller_are_in_its_own_pixels(digits):
    line, boxes = side_by_side([digits[3], digits[1]], 12)
    scale = 16  # over a megapixel: decoding shrinks it first
    big = np.asarray(Image.fromarray(line).resize((line.shape[1] * scale, line.shape[0] * scale)))
    seg = segment_number(big)
    for x0, y0, x1, y1 in boxes:
        assert offered(seg, (x0 * scale, y0 * scale, x1 * scale, y1 * scale), slack=2 * scale)
    assert seg.boxes[:, 2].max() <= big.shape[1]
    assert seg.boxes[:, 3].max() <= big.shape[0]


def _dotted_page(folder):
    """A 16-megapixel PNG of 65,536 dots (a few kB): each dot is a mark, none a speck."""
    page = np.full((4096, 4096), 255, np.uint8)
    page[::16, ::16] = 0
    page[1::16, ::16] = 0
    path = folder / "dots.png"
    Image.fromarray(page).save(path, optimize=True)
    return f"from skdigits.io._segment import segment_number; segment_number({str(path)!r})"


test_a_page_of_marks_costs_bounded_time_and_memory = bound_test(
    [
        Bound(
            item=28,
            id="16 MP of dots",
            make=_dotted_page,
            error="DataError",
            message=rf"breaks into \d+ pieces of writing, over the limit of {MAX_PIECES}",
            peak_mb=400,
        )
    ]
)

"""make_nondigits: MNIST-layout pictures of what is not a digit, for outlier exposure."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageDraw, ImageFont

from skdigits._core.errors import DataError
from skdigits.io import TRAINING_KINDS, _nondigits, make_nondigits


@pytest.fixture(scope="module")
def train_digits():
    """Stand-ins for MNIST training digits: thick white rings and bars on black."""
    digits = np.zeros((20, 28, 28), dtype=np.uint8)
    y, x = np.mgrid[0:28, 0:28]
    for i in range(20):
        radius = 5 + i % 4
        digits[i][np.abs(np.hypot(x - 14, y - 14) - radius) < 2.0] = 255
        digits[i, 4:24, 13 + i % 3 : 15 + i % 3] = 255
    return digits


@pytest.fixture(scope="module")
def drawn(train_digits):
    return make_nondigits(100, digits=train_digits, random_state=0, return_kinds=True)


def test_images_are_mnist_layout(drawn):
    images, kinds = drawn
    assert images.shape == (100, 28, 28)
    assert images.dtype == np.uint8
    # visible ink on every one (a sparse speck or texture is dimmed by box averaging)
    assert (images.reshape(100, -1).max(axis=1) > 64).all()
    y, x = np.mgrid[0:28, 0:28]
    whole_frame = 0
    for image, kind in zip(images.astype(float), kinds, strict=True):
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        side = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
        if kind == "textures" and side > 20:  # a texture as a caller may pass it, unprocessed
            whole_frame += 1
            continue
        assert side == 20  # the 20 x 20 box
        total = image.sum()
        # centred by mass, as MNIST is (a lopsided picture may be held inside the field)
        assert abs((image * y).sum() / total - 14) < 4
        assert abs((image * x).sum() / total - 14) < 4
    assert 2 <= whole_frame <= 18  # about half of the 20 textures
    centre = images[kinds != "textures"].astype(float).mean(axis=0)
    assert centre[10:18, 10:18].mean() > 2 * centre[:4].mean()  # black page, ink in the middle


def test_every_kind_gets_an_equal_share(drawn):
    _, kinds = drawn
    names, counts = np.unique(kinds, return_counts=True)
    assert sorted(names) == sorted(TRAINING_KINDS)
    assert set(counts) == {20}


def test_same_seed_same_images_other_seed_other_images(train_digits):
    first = make_nondigits(25, digits=train_digits, random_state=3)
    again = make_nondigits(25, digits=train_digits, random_state=3)
    other = make_nondigits(25, digits=train_digits, random_state=4)
    np.testing.assert_array_equal(first, again)
    assert (first != other).any(axis=(1, 2)).sum() > 20


def test_letters_never_draw_a_digit_or_a_lookalike(monkeypatch):
    drawn_text: list[str] = []
    text = ImageDraw.ImageDraw.text

    def spy(self, xy, content, *args, **kwargs):
        drawn_text.append(content)
        return text(self, xy, content, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    make_nondigits(300, kinds=("letters",), random_state=0)
    assert len(drawn_text) == 300
    forbidden = set(_nondigits.DIGIT_LOOKALIKES) | set("0123456789")
    assert not forbidden & set(drawn_text)
    assert len(set(drawn_text)) > 40  # many characters, not a handful


def test_fragments_cut_only_the_digits_passed_in(monkeypatch, train_digits):
    def no_mnist(*args, **kwargs):
        raise AssertionError("make_nondigits loaded MNIST itself")

    monkeypatch.setattr("skdigits.datasets.fetch_mnist", no_mnist)
    monkeypatch.setattr("skdigits.datasets._mnist.fetch_mnist", no_mnist)
    with pytest.raises(DataError, match=r"no `digits` were given.*never test digits"):
        make_nondigits(5, kinds=("fragments",), random_state=0)
    pieces = make_nondigits(10, kinds=("fragments",), digits=train_digits, random_state=0)
    other = make_nondigits(10, kinds=("fragments",), digits=255 - train_digits, random_state=0)
    assert (pieces != other).any(axis=(1, 2)).all()  # what is cut is what was passed


def test_letters_drawn_without_any_truetype_font(monkeypatch):
    opened: list[object] = []
    truetype = ImageFont.truetype

    def spy(font, *args, **kwargs):
        opened.append(font)
        return truetype(font, *args, **kwargs)

    monkeypatch.setattr(_nondigits, "find_fonts", lambda *a, **k: [])
    monkeypatch.setattr(ImageFont, "truetype", spy)
    images = make_nondigits(10, kinds=("letters",), random_state=0)
    assert images.shape == (10, 28, 28)
    assert (images.reshape(10, -1).max(axis=1) > 128).all()
    assert not [f for f in opened if isinstance(f, str)]  # Pillow's built-in font only


def test_training_fonts_only(monkeypatch):
    opened: list[str] = []
    truetype = ImageFont.truetype

    def spy(font, *args, **kwargs):
        opened.append(str(font))
        return truetype(font, *args, **kwargs)

    monkeypatch.setattr(ImageFont, "truetype", spy)
    make_nondigits(30, kinds=("letters",), random_state=0)
    assert all("DejaVu" in path and "Liberation" not in path for path in opened)


def _dots() -> np.ndarray:
    """Digits of one white pixel each: no cut holds part of their ink, only all or none."""
    dots = np.zeros((3, 28, 28), dtype=np.uint8)
    dots[:, 14, 14] = 255
    return dots


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": -1}, r"`n` must be a whole number from 0 to 1,000,000, got -1"),
        ({"n": 10**12}, r"`n` must be a whole number from 0 to 1,000,000, got 1000000000000"),
        ({"n": 2.5}, r"`n` must be a whole number"),
        ({"n": 2, "kinds": "specks", "random_state": -3}, r"`random_state` must be None, a whole"),
        ({"n": 2, "kinds": "specks", "random_state": "x"}, r"`random_state` must.*got .x."),
        ({"n": 2, "kinds": ("letters", "photos")}, r"`kinds` must be a non-empty subset"),
        ({"n": 2, "kinds": ()}, r"`kinds` must be a non-empty subset"),
        (
            {"n": 2, "kinds": ("fragments",), "digits": np.zeros((3, 8, 8))},
            r"`digits` must be MNIST-layout images of shape \(m, 28, 28\).*\(3, 8, 8\)",
        ),
        (
            {"n": 2, "kinds": ("fragments",), "digits": np.full((3, 28, 28), 0.5)},
            r"`digits` must hold white ink on black in 0-255.*not scaled to \[0, 1\]",
        ),
        (
            {"n": 2, "kinds": ("fragments",), "digits": np.zeros((0, 28, 28))},
            r"`digits` must hold white ink on black in 0-255 \(got 0 images",
        ),
        (
            {"n": 2, "kinds": ("fragments",), "digits": _dots()},
            r"no piece of the `digits` given held 15-50 % of a digit's ink in 50 cuts",
        ),
    ],
)
def test_wrong_arguments_are_refused_in_one_line(kwargs, message):
    with pytest.raises(DataError, match=message) as caught:
        make_nondigits(**kwargs)
    assert "\n" not in str(caught.value)

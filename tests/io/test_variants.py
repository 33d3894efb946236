"""Digits in other hands: typeset in the training fonts, or redrawn with a pen of one width."""

from __future__ import annotations

import numpy as np
import pytest

from skdigits._core.errors import DataError
from skdigits.io import make_digit_variants
from skdigits.io._pen import redraw_with_pen, thin


@pytest.fixture(scope="module")
def variants(small_mnist):
    X, y, _, _ = small_mnist
    return make_digit_variants(60, digits=X[:200], labels=y[:200], random_state=0)


def test_variants_are_labelled_mnist_layout_digits(variants, small_mnist):
    images, labels = variants
    _, y, _, _ = small_mnist
    assert images.shape == (60, 28, 28)
    assert images.dtype == np.uint8
    assert labels.dtype == y.dtype
    assert set(labels) <= set(y[:200])
    for image in images:
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20  # the 20 x 20 box
        assert image.max() > 200  # full ink


def test_the_same_seed_draws_the_same_variants(variants, small_mnist):
    X, y, _, _ = small_mnist
    again = make_digit_variants(60, digits=X[:200], labels=y[:200], random_state=0)
    np.testing.assert_array_equal(again[0], variants[0])
    np.testing.assert_array_equal(again[1], variants[1])


def test_labels_that_are_no_digit_get_pen_variants_only(small_mnist):
    X, y, _, _ = small_mnist
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    images, labels = make_digit_variants(10, digits=X[:50], labels=names[y[:50]], random_state=1)
    picked = {tuple(np.flatnonzero(names == label)) for label in labels}
    assert all(len(p) == 1 for p in picked)  # every label is one of the caller's
    # Pen variants keep the digit's shape: each is close to some digit of its class.
    for image, label in zip(images, labels, strict=True):
        same = X[:50][names[y[:50]] == label].astype(float)
        overlap = (same > 64) & (image > 64)
        assert overlap.sum(axis=(1, 2)).max() > 0.3 * (image > 64).sum()


def test_thinning_leaves_a_line_one_pixel_wide():
    bar = np.zeros((1, 20, 40), bool)
    bar[0, 8:13, 5:35] = True
    skeleton = thin(bar)[0]
    assert skeleton.sum() > 20
    assert skeleton.sum(axis=0).max() == 1  # one pixel per column
    assert set(np.flatnonzero(skeleton.any(axis=1))) <= {9, 10, 11}


def test_a_wider_pen_writes_more_ink(small_mnist):
    X, _, _, _ = small_mnist
    digit = np.repeat(X[:1], 3, axis=0)
    inked = redraw_with_pen(digit, np.array([0.5, 1.5, 3.0]))
    areas = (inked > 64).sum(axis=(1, 2))
    assert areas[0] < areas[1] < areas[2]
    assert (inked.max(axis=(1, 2)) == 255).all()


def test_digits_not_in_mnist_layout_are_refused():
    with pytest.raises(DataError, match=r"MNIST-layout images \(m, 28, 28\) with one label each"):
        make_digit_variants(4, digits=np.zeros((3, 20, 20)), labels=[1, 2, 3])

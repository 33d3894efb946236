"""PixelScaler: what goes in, what comes out, and what is refused."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from skdigits import DataError, PixelScaler


def test_scales_uint8_images_to_float32_rows():
    X = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    Xt = PixelScaler().fit_transform(X)
    assert Xt.shape == (1, 4)
    assert Xt.dtype == np.float32
    np.testing.assert_array_equal(Xt, np.array([[0.0, 1.0, 0.2, 0.4]], dtype=np.float32))


def test_flat_and_image_input_give_the_same_rows(rng):
    X = rng.integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    scaler = PixelScaler().fit(X)
    np.testing.assert_array_equal(scaler.transform(X), scaler.transform(X.reshape(5, 784)))
    np.testing.assert_array_equal(scaler.transform(X), scaler.transform(X.astype(np.float64)))
    assert scaler.n_features_in_ == 784


def test_division_is_exactly_float32_x_over_255():
    # The ONNX export divides in float32 as well; the two must agree to the bit.
    X = np.arange(256, dtype=np.uint8).reshape(1, 256)
    expected = np.arange(256, dtype=np.float32) / np.float32(255)
    np.testing.assert_array_equal(PixelScaler().fit_transform(X)[0], expected)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.full((2, 4), np.nan), "NaN or infinity"),
        (np.full((2, 4), np.inf), "NaN or infinity"),
        (np.full((2, 4), -1.0), r"Negative values .* min is -1\.0"),
        (np.full((2, 4), 256.0), r"values up to 256\.0, above 255"),
        (np.zeros(4), "Reshape your data"),
        (np.array([["a", "b"]]), "could not convert|string"),
    ],
    ids=["nan", "inf", "negative", "above-255", "1-d", "strings"],
)
def test_bad_pixels_are_refused_with_the_reason(X, message):
    with pytest.raises(ValueError, match=message):
        PixelScaler().fit_transform(X)


def test_already_scaled_data_is_not_rescaled_silently():
    scaler = PixelScaler().fit(np.zeros((1, 4)))
    with pytest.raises(DataError, match="already scaled"):
        scaler.transform(np.full((1, 4), 300.0))


def test_pickles_under_its_name():
    scaler = pickle.loads(pickle.dumps(PixelScaler().fit(np.zeros((1, 4)))))
    assert type(scaler).__name__ == "PixelScaler"
    assert scaler.transform(np.full((1, 4), 255)).max() == 1.0

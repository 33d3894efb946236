"""PixelScaler: what goes in, what comes out, and what is refused."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

from skdigits import DataError, PixelScaler
from skdigits.runtime import ScaledInputWarning


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
        (np.ones((2, 4), bool), r"X has dtype bool; .* pass X \* 255"),
        (np.full((2, 784), 3 + 0j), r"^Complex data not supported: X has dtype complex128;"),
    ],
    ids=["nan", "inf", "negative", "above-255", "1-d", "strings", "bool", "complex"],
)
def test_bad_pixels_are_refused_with_the_reason(X, message):
    with pytest.raises(ValueError, match=message) as info:
        PixelScaler().fit_transform(X)
    assert "\n" not in str(info.value)  # one line, never the array echoed


def test_already_scaled_data_is_not_rescaled_silently():
    scaler = PixelScaler().fit(np.zeros((1, 4)))
    with pytest.raises(DataError, match="already scaled"):
        scaler.transform(np.full((1, 4), 300.0))


def test_pickles_under_its_name():
    scaler = pickle.loads(pickle.dumps(PixelScaler().fit(np.zeros((1, 4)))))
    assert type(scaler).__name__ == "PixelScaler"
    assert scaler.transform(np.full((1, 4), 255)).max() == 1.0


# ---------------------------------------------------------------- images scaled twice


def test_values_in_zero_one_draw_the_predictors_warning_without_changing_the_result(rng):
    X = rng.integers(0, 256, size=(3, 28, 28)).astype(np.uint8)
    scaler = PixelScaler().fit(X)
    with pytest.warns(ScaledInputWarning) as record:
        Xt = scaler.transform(X / 255.0)
    assert len(record) == 1
    assert str(record[0].message) == (
        "every pixel of X is at most 1: are the images already scaled to [0, 1]? "
        "The model expects raw intensities in [0, 255]; multiply them by 255"
    )
    np.testing.assert_array_equal(Xt, (X / 255.0).reshape(3, 784).astype(np.float32) / 255)


def test_training_on_images_scaled_twice_warns_too(rng):
    # Pipeline.fit calls the scaler's fit_transform: the same warning, at training.
    X = rng.integers(0, 256, size=(3, 784)) / 255.0
    with pytest.warns(ScaledInputWarning, match="multiply them by 255"):
        PixelScaler().fit_transform(X)


@pytest.mark.parametrize(
    "X",
    [
        np.full((2, 784), 255, np.uint8),
        np.full((2, 784), 1, np.uint8),  # integers are never read as scaled
        np.full((2, 784), 1.5),
        np.zeros((2, 784)),  # blank images: nothing to say
    ],
    ids=["uint8", "uint8-ones", "float-above-1", "float-zeros"],
)
def test_raw_intensities_draw_no_warning(X):
    scaler = PixelScaler().fit(np.zeros((1, 784)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler.transform(X)


# ---------------------------------------------------------------- one image


def test_a_single_square_image_is_one_row(rng):
    X = rng.integers(0, 256, size=(4, 28, 28)).astype(np.uint8)
    scaler = PixelScaler().fit(X)
    np.testing.assert_array_equal(scaler.transform(X[1]), scaler.transform(X[1:2]))
    np.testing.assert_array_equal(scaler.transform(X[1].tolist()), scaler.transform(X[1:2]))
    # Fitted on rows of 784, (28, 27) cannot be one image: scikit-learn's message.
    with pytest.raises(ValueError, match="X has 27 features, but PixelScaler is expecting 784"):
        scaler.transform(X[1, :, :27])
    # Fitted on 4 pixels, (28, 28) is 28 rows, refused for their width as scikit-learn does.
    with pytest.raises(ValueError, match="X has 28 features"):
        PixelScaler().fit(np.zeros((1, 4))).transform(X[1])


def test_colour_images_are_refused_naming_the_shapes_taken(rng):
    scaler = PixelScaler().fit(np.zeros((1, 784)))
    with pytest.raises(DataError) as info:
        scaler.transform(rng.integers(0, 256, size=(2, 28, 28, 3)))
    assert str(info.value) == (
        "X has 2352 features, but PixelScaler is expecting 784 features as input; pass rows "
        "(n_samples, 784), images (n_samples, 28, 28) or one image (28, 28)"
    )


def test_a_flat_single_image_is_refused_as_scikit_learn_refuses_1d(rng):
    scaler = PixelScaler().fit(np.zeros((1, 784)))
    with pytest.raises(DataError, match=r"Reshape your data.*X\[np\.newaxis\] or X\.reshape"):
        scaler.transform(np.zeros(784))


# ---------------------------------------------------------------- in the fitted pipeline


def test_the_pipeline_warns_once_on_images_scaled_twice(fitted_pipeline, small_mnist):
    X = small_mnist[2][:200]
    with pytest.warns(ScaledInputWarning, match="multiply them by 255") as record:
        scaled_labels = fitted_pipeline.predict(X / 255.0)
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = fitted_pipeline.predict(X.astype(np.float64))
    assert np.mean(labels == small_mnist[3][:200]) > 0.8
    assert np.mean(scaled_labels == small_mnist[3][:200]) < 0.5  # why it warns


def test_the_pipeline_answers_for_one_image(fitted_pipeline, small_mnist):
    X = small_mnist[2][:3]
    label = fitted_pipeline.predict(X[0])
    proba = fitted_pipeline.predict_proba(X[0])
    assert label.shape == (1,)
    assert proba.shape == (1, 10)
    assert label[0] == fitted_pipeline.predict(X)[0]
    np.testing.assert_allclose(proba[0], fitted_pipeline.predict_proba(X)[0], rtol=1e-5)

"""PixelScaler: raw 0–255 pixel intensities → float32 rows in [0, 1]."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._core.errors import DataError
from ..runtime._checks import warn_scaled_input

#: The intensity that maps to 1.0.
MAX_PIXEL = 255.0


def _as_pixel_rows(X: Any, *, what: str = "X") -> np.ndarray:
    """Validate pixel input and flatten each image to one row, without scaling."""
    if not sp.issparse(X) and not isinstance(X, np.ndarray):
        X = np.asarray(X)
    if not sp.issparse(X) and X.ndim < 2:
        raise DataError(
            f"{what} has shape {X.shape}, but a batch of images is needed. Reshape "
            "your data to (n_samples, 28, 28) or (n_samples, 784); for a single image "
            "use X[np.newaxis] or X.reshape(28, 28)"
        )
    if not sp.issparse(X) and X.dtype.kind == "b":
        # The predictor refuses booleans too: True would be read as intensity 1 of 255.
        raise DataError(
            f"{what} has dtype bool; pixels must be numbers in [0, 255] (for a mask of "
            "ink, pass X * 255)"
        )
    if not sp.issparse(X) and X.dtype.kind == "c":
        # Said here: scikit-learn's own message would echo the whole array.
        raise DataError(
            f"Complex data not supported: {what} has dtype {X.dtype}; pixels must be real "
            "numbers in [0, 255]"
        )
    # check_array gives scikit-learn's standard errors for sparse and non-numeric
    # input, and keeps uint8 as it is.
    arr = check_array(
        X, accept_sparse=False, allow_nd=True, dtype="numeric", ensure_all_finite=False
    )
    return arr.reshape(arr.shape[0], -1)


def check_pixel_range(X: np.ndarray, *, what: str = "X") -> None:
    """Raise :class:`DataError` unless every value of ``X`` is finite and in [0, 255]."""
    if X.size == 0 or X.dtype == np.uint8:
        return
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise DataError(
            f"{what} contains NaN or infinity; pixels must be finite values in [0, 255]"
        )
    lo, hi = X.min(), X.max()
    if lo < 0:
        raise DataError(
            f"Negative values in data passed to PixelScaler ({what} min is {lo}); "
            "pixels must be raw intensities in [0, 255]"
        )
    if hi > MAX_PIXEL:
        raise DataError(
            f"{what} has values up to {hi}, above 255; pixels must be raw intensities "
            "in [0, 255] (if they are already scaled to [0, 1], multiply by 255 or "
            "drop the PixelScaler)"
        )


def _shapes_hint(n_pixels: int) -> str:
    """What input a scaler fitted on ``n_pixels`` per image takes, for messages."""
    side = math.isqrt(n_pixels)
    images = f", images (n_samples, {side}, {side}) or one image ({side}, {side})"
    return f"pass rows (n_samples, {n_pixels})" + (images if side * side == n_pixels else "")


class PixelScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale raw pixel intensities from [0, 255] to [0, 1] as float32 rows.

    Images of shape ``(n_samples, height, width)`` are flattened to
    ``(n_samples, height * width)``, the layout every scikit-learn estimator
    expects; input that is already flat passes through unchanged in shape.
    The transformer is stateless: ``fit`` only records the number of pixels.

    Input must be finite and within [0, 255]; anything else raises a
    :class:`~skdigits.DataError` naming the offending value, because silently
    scaling already-scaled or corrupt data is the most common way to get a
    model that trains fine and predicts nonsense. Float input whose values all
    lie in (0, 1] is scaled as given but draws a
    :class:`~skdigits.runtime.ScaledInputWarning` from :meth:`transform` (so
    from a pipeline's ``fit``, ``predict`` and ``score``), worded as
    :class:`~skdigits.runtime.OnnxDigitClassifier` words it: images divided by
    255 twice read as near-black.

    Once fitted, :meth:`transform` also takes a single image: an array of shape
    ``(side, side)`` with ``side * side == n_features_in_`` gives one row. A 2-D
    array is otherwise read as scikit-learn reads it, rows of features; ``(28, 28)``
    cannot be 28 rows of 28 features when the fitted rows have 784, so it can only
    be one image. A 1-D array is refused, as scikit-learn refuses it (a flat image
    is ``X[np.newaxis]`` or ``X.reshape(28, 28)``).

    Attributes
    ----------
    n_features_in_ : int
        Number of pixels per image seen during :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits import PixelScaler
    >>> X = np.full((2, 28, 28), 255, dtype=np.uint8)
    >>> Xt = PixelScaler().fit_transform(X)
    >>> Xt.shape, Xt.dtype, float(Xt.max())
    ((2, 784), dtype('float32'), 1.0)
    """

    n_features_in_: int  # set by fit

    def fit(self, X, y=None):
        """Check ``X`` and record its number of pixels.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or (n_samples, n_pixels)
            Raw pixel intensities in [0, 255].
        y : None
            Ignored.

        Returns
        -------
        self : PixelScaler
        """
        self._validate(X, reset=True)
        return self

    def transform(self, X):
        """Scale ``X`` to float32 rows in [0, 1].

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width), (n_samples, n_pixels) \
or (side, side)
            Raw pixel intensities in [0, 255]. ``(side, side)`` with ``side ** 2``
            the fitted number of pixels is one image.

        Returns
        -------
        X_scaled : ndarray of shape (n_samples, n_pixels), dtype float32
            One row for a single image.
        """
        check_is_fitted(self)
        X = self._validate(self._batch_of_one(X), reset=False)
        return (X / np.float32(MAX_PIXEL)).astype(np.float32, copy=False)

    def _batch_of_one(self, X: Any) -> Any:
        """A single image as a batch of one; anything else unchanged.

        One image is ``(side, side)`` with ``side ** 2`` the fitted number of
        pixels: it cannot be ``side`` rows of the fitted width.
        """
        if sp.issparse(X) or hasattr(X, "columns"):
            return X  # sparse input is refused later; a frame keeps its columns
        shape = getattr(X, "shape", None)
        if isinstance(X, list | tuple):
            try:
                shape = np.shape(X)
            except ValueError:  # ragged lists: check_array names the problem
                return X
        if (
            shape is not None
            and len(shape) == 2
            and shape[0] == shape[1]
            and shape[0] ** 2 == self.n_features_in_ > 1
        ):
            return np.asarray(X)[np.newaxis]
        return X

    def _validate(self, X, *, reset: bool) -> np.ndarray:
        # Feature names come from the input as given (a DataFrame's columns);
        # the pixel count from the flattened rows, so images and rows both work.
        validate_data(self, X, reset=reset, skip_check_array=True, ensure_2d=False)
        rows = _as_pixel_rows(X)
        if not reset and rows.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {rows.shape[1]} features, but PixelScaler is expecting "
                f"{self.n_features_in_} features as input; {_shapes_hint(self.n_features_in_)}"
            )
        check_pixel_range(rows)
        if not reset and rows.dtype.kind == "f" and rows.size:
            high = float(rows.max())
            if 0 < high <= 1:  # negative values were refused just above
                warn_scaled_input(high, stacklevel=3)  # the caller of transform
        rows = check_array(rows, dtype=[np.float32, np.float64], ensure_all_finite=True)
        if reset:
            self.n_features_in_ = rows.shape[1]
        return rows.astype(np.float32, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

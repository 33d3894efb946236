"""Training-time augmentation: which transformations, their strengths, and the layers.

Built-in Keras layers (translation, rotation, zoom) and three of skdigits' own
(:class:`RandomStrokeWidth`, :class:`RandomSlant`, :class:`RandomElastic`), each
registered so that a saved model loads with ``safe_mode=True``; all of them pass
images through unchanged at inference, and the ONNX export contains none of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ._tf import import_keras

keras = import_keras(feature="DigitClassifier")

#: The transformations ``augmentations`` may name. The first three move the whole
#: digit; the last three model how other writers and pens differ from MNIST's:
#: slant (``shear``), wobbly strokes (``elastic``) and pen width (``thickness``).
AUGMENTATIONS = ("shift", "rotate", "zoom", "shear", "elastic", "thickness")

#: The order the layers are applied in: the pen first, then the hand, then the
#: placement on the page.
_APPLY_ORDER = ("thickness", "elastic", "shear", "shift", "rotate", "zoom")

#: Augmentation at strength 1: shifts of up to 10 % of the side (2.8 px),
#: rotations of up to 10 degrees, zoom of up to 10 %, shear of up to 0.3 (a
#: slant of about 17 degrees), elastic displacements of up to 1.5 px, and strokes
#: up to one pixel thinner or thicker.
_AUGMENT_SHIFT, _AUGMENT_DEGREES, _AUGMENT_ZOOM = 0.1, 10.0, 0.1
_AUGMENT_SHEAR, _AUGMENT_ELASTIC_PX, _AUGMENT_THICKNESS = 0.3, 1.5, 1.0


def augmentation_kinds(value: Any) -> tuple[str, ...]:
    """The ``augmentations`` parameter as a tuple of kinds, checked.

    Accepts a tuple or list of kinds, or one string of kinds joined by ``+``
    (``"shift"``, ``"shift+zoom"``: the form a command-line grid can write).

    Examples
    --------
    >>> augmentation_kinds("shift+zoom")
    ('shift', 'zoom')
    """
    kinds = tuple(value.split("+")) if isinstance(value, str) else value
    if (
        not isinstance(kinds, tuple | list)
        or not kinds
        or not all(isinstance(kind, str) and kind in AUGMENTATIONS for kind in kinds)
    ):
        raise ValueError(
            f"`augmentations` must name one or more of {AUGMENTATIONS} (a tuple, or a "
            f"string such as 'shift+zoom'), got {value!r}"
        )
    return tuple(kinds)


def layer_seeds(seed: int | None) -> Callable[[], int | None]:
    """Seeds for a net's random layers, one per call, drawn from ``seed`` alone.

    Keras draws the seed of every initializer, dropout and random layer built
    without one from Python's global ``random``. Any other thread of the process
    may draw from it too (Dask's workers do, for back-off jitter), so a seeded
    fit would not always build the same net. None gives Keras' own default.
    """
    if seed is None:
        return lambda: None
    draws = random.Random(seed)
    return lambda: draws.randint(1, 10**9)


def augmentation_layers(
    strength: float, kinds: tuple[str, ...] = AUGMENTATIONS, seed: int | None = None
) -> list[Any]:
    """Random shifts, rotations and zoom, active only while training.

    Parameters
    ----------
    strength : float
        1.0 means shifts up to 10 % of the side, rotations up to 10 degrees and
        zoom up to 10 %; the ranges scale linearly with ``strength``.
    kinds : tuple of str, default=all of :data:`AUGMENTATIONS`
        Which transformations to apply, in the order thickness, elastic, shear,
        shift, rotate, zoom.
    seed : int or None, default=None
        Seeds the layers (see :func:`layer_seeds`).

    Returns
    -------
    list of keras.layers.Layer
        Built-in Keras layers, and this module's :class:`RandomStrokeWidth`,
        :class:`RandomElastic` and :class:`RandomSlant` (registered, so a saved
        model loads with ``safe_mode=True``); at inference (``training=False``) each returns its
        input unchanged, and the ONNX export contains none of them.
    """
    shift = _AUGMENT_SHIFT * strength
    shear = _AUGMENT_SHEAR * strength
    layers = {
        "thickness": lambda s: RandomStrokeWidth(
            _AUGMENT_THICKNESS * strength, seed=s, name="augment_thickness"
        ),
        "elastic": lambda s: RandomElastic(
            _AUGMENT_ELASTIC_PX * strength, seed=s, name="augment_elastic"
        ),
        "shear": lambda s: RandomSlant(shear, seed=s, name="augment_shear"),
        "shift": lambda s: keras.layers.RandomTranslation(
            shift, shift, fill_mode="constant", seed=s, name="augment_shift"
        ),
        "rotate": lambda s: keras.layers.RandomRotation(
            _AUGMENT_DEGREES * strength / 360.0, fill_mode="constant", seed=s, name="augment_rotate"
        ),
        "zoom": lambda s: keras.layers.RandomZoom(
            _AUGMENT_ZOOM * strength, fill_mode="constant", seed=s, name="augment_zoom"
        ),
    }
    seeds = layer_seeds(seed)
    return [layers[kind](seeds()) for kind in _APPLY_ORDER if kind in kinds]


class _TrainingOnlyTransform(keras.layers.Layer):  # type: ignore[name-defined]
    """A random image transformation of strength ``factor`` that acts only while training.

    Each image of a batch is transformed with probability ``probability`` and
    passes unchanged otherwise, so every batch keeps clean MNIST digits too: the
    batch-normalisation statistics, which the net keeps for inference, then stay
    those of clean digits (with every image transformed, test accuracy fell by
    0.2-0.5 points). Subclasses define ``transform(images)`` on ``(N, H, W, 1)``
    batches and the largest ``factor`` they accept (``_MAX``).
    """

    _MAX = 1.0

    def __init__(
        self, factor: float, seed: int | None = None, probability: float = 0.5, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= float(factor) <= self._MAX:
            raise ValueError(f"`factor` must be between 0 and {self._MAX:g}, got {factor!r}")
        if not 0.0 <= float(probability) <= 1.0:
            raise ValueError(f"`probability` must be between 0 and 1, got {probability!r}")
        self.factor, self.seed, self.probability = float(factor), seed, float(probability)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, images: Any, training: Any = None) -> Any:
        if not training or self.factor == 0.0 or self.probability == 0.0:
            return images
        changed = self.transform(images)
        if self.probability == 1.0:
            return changed
        n = keras.ops.shape(images)[0]
        chosen = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator) < self.probability
        return keras.ops.where(chosen, changed, images)

    def transform(self, images: Any) -> Any:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "factor": self.factor,
            "seed": self.seed,
            "probability": self.probability,
        }


@keras.saving.register_keras_serializable(package="skdigits")
class RandomStrokeWidth(_TrainingOnlyTransform):
    """Make each image's strokes thinner or thicker by up to ``factor`` pixels, in training only.

    A random amount ``t`` in ``[-factor, factor]`` per image blends the image with
    its grey-scale dilation (``t > 0``: a 3 x 3 maximum, the pen one pixel wider)
    or erosion (``t < 0``: a 3 x 3 minimum, one pixel narrower); ``|t| > 1``
    applies the morphology twice. Each image then keeps its peak intensity (a thin
    pen writes in full ink). At inference the input passes unchanged.

    Parameters
    ----------
    factor : float
        The largest change of stroke width, in pixels (at most 2).
    seed : int or None, default=None
    """

    _MAX = 2.0

    def transform(self, images: Any) -> Any:
        ops = keras.ops
        n = ops.shape(images)[0]
        t = keras.random.uniform((n, 1, 1, 1), -self.factor, self.factor, seed=self.seed_generator)
        dilated = ops.max_pool(images, 3, strides=1, padding="same")
        eroded = -ops.max_pool(-images, 3, strides=1, padding="same")
        once = ops.where(t > 0, dilated, eroded)
        twice = ops.where(
            t > 0,
            ops.max_pool(dilated, 3, strides=1, padding="same"),
            -ops.max_pool(-eroded, 3, strides=1, padding="same"),
        )
        size = ops.abs(t)
        first = ops.minimum(size, 1.0)
        out = images + first * (once - images)
        out = out + ops.maximum(size - 1.0, 0.0) * (twice - once)
        # A thin pen still writes in full ink: erosion dims antialiased strokes,
        # so each image is brought back to its original peak intensity.
        peak = ops.max(images, axis=(1, 2, 3), keepdims=True)
        new_peak = ops.max(out, axis=(1, 2, 3), keepdims=True)
        return out * ops.where(new_peak > 0, peak / ops.maximum(new_peak, 1e-6), 1.0)


def _bilinear_sample(images: Any, rows: Any, cols: Any) -> Any:
    """``images[n, rows, cols]`` (shape (N, H, W, 1)) interpolated bilinearly; black outside."""
    ops = keras.ops
    height, width = images.shape[1], images.shape[2]
    flat = ops.reshape(images, (-1,))
    base = ops.arange(ops.shape(images)[0], dtype="int32")[:, None, None] * (height * width)
    r0, c0 = ops.floor(rows), ops.floor(cols)
    out = ops.zeros_like(rows)
    for dr in (0.0, 1.0):
        for dc in (0.0, 1.0):
            r, c = r0 + dr, c0 + dc
            weight = (1.0 - ops.abs(rows - r)) * (1.0 - ops.abs(cols - c))
            inside = (r >= 0) & (r <= height - 1) & (c >= 0) & (c <= width - 1)
            ri = ops.cast(ops.clip(r, 0, height - 1), "int32")
            ci = ops.cast(ops.clip(c, 0, width - 1), "int32")
            values = ops.take(flat, base + ri * width + ci)
            out = out + ops.where(inside, weight * values, 0.0)
    return out


@keras.saving.register_keras_serializable(package="skdigits")
class RandomSlant(_TrainingOnlyTransform):
    """Slant each image by a random horizontal shear in ``[-factor, factor]``, in training only.

    A row ``r`` pixels below the centre moves ``-shear * r`` pixels sideways, so
    a positive shear leans the digit to the right, as many hands do (0.3 is about
    17 degrees). Resampled bilinearly; outside is black. (Keras' ``RandomShear``
    cannot reload its own saved configuration, hence this layer.)

    Parameters
    ----------
    factor : float
        The largest shear (at most 1).
    seed : int or None, default=None
    """

    _MAX = 1.0

    def transform(self, images: Any) -> Any:
        ops = keras.ops
        n, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        shear = keras.random.uniform((n, 1, 1), -self.factor, self.factor, seed=self.seed_generator)
        rows = ops.arange(height, dtype="float32")[None, :, None] + ops.zeros((n, 1, width))
        cols = ops.arange(width, dtype="float32")[None, None, :] + shear * (
            rows - (height - 1) / 2.0
        )
        return _bilinear_sample(images, rows, cols)[..., None]


@keras.saving.register_keras_serializable(package="skdigits")
class RandomElastic(_TrainingOnlyTransform):
    """Elastic distortion (Simard et al. 2003), in training only: a wobbly hand.

    Every image gets its own smooth random displacement field: uniform noise on a
    coarse 4 x 4 grid of up to ``factor`` pixels each way, upsampled bicubically
    to the image, then the image is resampled bilinearly along it (outside is
    black). Cheaper than blurring full-resolution noise and as smooth. At
    inference the input passes unchanged.

    Parameters
    ----------
    factor : float
        The largest displacement of a grid point, in pixels (at most 4).
    seed : int or None, default=None
    """

    _GRID = 4

    _MAX = 4.0

    def transform(self, images: Any) -> Any:
        ops = keras.ops
        shape = ops.shape(images)
        n, height, width = shape[0], images.shape[1], images.shape[2]
        coarse = keras.random.uniform(
            (n, self._GRID, self._GRID, 2), -self.factor, self.factor, seed=self.seed_generator
        )
        field = ops.image.resize(coarse, (height, width), interpolation="bicubic")
        rows = ops.arange(height, dtype="float32")[None, :, None] + field[..., 0]
        cols = ops.arange(width, dtype="float32")[None, None, :] + field[..., 1]
        return _bilinear_sample(images, rows, cols)[..., None]

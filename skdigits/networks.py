"""The Keras networks DigitClassifier trains: the reference MLP, the CNN, augmentation.

Each builder takes SciKeras' fit-time ``meta`` (``X_shape_``, ``n_classes_``) and
returns an uncompiled ``keras.Sequential`` made of built-in layers only, so a
saved model loads with ``safe_mode=True``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

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


def _glorot(seeds: Callable[[], int | None]) -> Any:
    return keras.initializers.GlorotUniform(seed=seeds())


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


def _image_shape(meta: dict[str, Any]) -> tuple[int, int, int]:
    """The (28, 28, 1) image layout of the fitted input, rows ``[N, 784]`` or images."""
    n_pixels = int(np.prod(meta["X_shape_"][1:]))
    side = round(n_pixels**0.5)
    if side * side != n_pixels:
        raise ValueError(
            f"`architecture='cnn'` and `augment` need square images, got {n_pixels} "
            "features per sample; pass 28 x 28 images (or 784-pixel rows)"
        )
    return (side, side, 1)


def _input_layer(meta: dict[str, Any]) -> Any:
    return keras.Input(shape=tuple(meta["X_shape_"][1:]), name="pixels")


def _images_head(
    meta: dict[str, Any], augment: float | None, kinds: tuple[str, ...], seed: int | None
) -> list[Any]:
    """Input → Reshape to images → (augmentation): the common head of both nets."""
    layers = [_input_layer(meta), keras.layers.Reshape(_image_shape(meta), name="images")]
    if augment:
        layers.extend(augmentation_layers(float(augment), kinds, seed))
    return layers


def build_mlp(
    meta: dict[str, Any],
    hidden_units: int = 100,
    output_activation: str = "softmax",
    augment: float | None = None,
    augmentations: tuple[str, ...] = AUGMENTATIONS,
    seed: int | None = None,
) -> Any:
    """Build the reference net: Flatten → Dense(hidden_units, relu) → Dense(n_classes).

    With ``augment``, the rows are reshaped to images and augmented first.

    Parameters
    ----------
    meta : dict
        SciKeras' fit-time metadata; ``X_shape_`` and ``n_classes_`` are used.
    hidden_units : int, default=100
        Width of the hidden layer.
    output_activation : {"softmax", "sigmoid"}, default="softmax"
        Activation of the output layer.
    augment : float or None, default=None
        Strength of the training-time augmentation (see :func:`augmentation_layers`).
    augmentations : tuple of str, default=("shift", "rotate", "zoom")
        Which transformations the augmentation applies.
    seed : int or None, default=None
        Seeds the initial weights and the augmentation (see :func:`layer_seeds`).

    Returns
    -------
    keras.Sequential
        An uncompiled model; SciKeras compiles it with the estimator's
        ``optimizer``, ``loss`` and ``metrics``.
    """
    seeds = layer_seeds(seed)
    head = _images_head(meta, augment, augmentations, seeds()) if augment else [_input_layer(meta)]
    return keras.Sequential(
        [
            *head,
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(
                hidden_units, activation="relu", kernel_initializer=_glorot(seeds), name="hidden"
            ),
            keras.layers.Dense(
                meta["n_classes_"],
                activation=output_activation,
                kernel_initializer=_glorot(seeds),
                name="output",
            ),
        ],
        name="digit_mlp",
    )


def build_cnn(
    meta: dict[str, Any],
    output_activation: str = "softmax",
    augment: float | None = None,
    augmentations: tuple[str, ...] = AUGMENTATIONS,
    conv_filters: tuple[int, ...] = (32, 64),
    dense_units: int = 128,
    seed: int | None = None,
) -> Any:
    """Build the convolutional net, lean enough to train on two CPU cores.

    Reshape(28, 28, 1) → (augmentation) → one block per entry of
    ``conv_filters``: Conv(filters, 3) → BatchNorm → ReLU → MaxPool (the last
    block pools only while the image is larger than 4 x 4) → Flatten →
    Dropout(0.3) → Dense(``dense_units``) → BatchNorm → ReLU → Dropout(0.3) →
    Dense(n_classes). The default is the tuned CNN: Conv(32) → Conv(64) →
    Dense(128). It takes the same ``[N, 784]`` rows as the reference net, so the
    ONNX export is unchanged.

    Parameters
    ----------
    meta : dict
        SciKeras' fit-time metadata; ``X_shape_`` and ``n_classes_`` are used.
    output_activation : {"softmax", "sigmoid"}, default="softmax"
    augment : float or None, default=None
        Strength of the training-time augmentation (see :func:`augmentation_layers`).
    augmentations : tuple of str, default=all of :data:`AUGMENTATIONS`
        Which transformations the augmentation applies.
    conv_filters : tuple of int, default=(32, 64)
        Number of filters of each convolution block, first to last.
    dense_units : int, default=128
        Width of the dense layer before the output; 0 leaves it out.
    seed : int or None, default=None
        Seeds the initial weights, the dropout and the augmentation (see
        :func:`layer_seeds`).

    Returns
    -------
    keras.Sequential
        An uncompiled model.
    """
    seeds = layer_seeds(seed)
    layers = _images_head(meta, augment, augmentations, seeds())
    side = _image_shape(meta)[0]
    for i, filters in enumerate(conv_filters, start=1):
        side -= 2
        layers += [
            keras.layers.Conv2D(
                int(filters), 3, use_bias=False, kernel_initializer=_glorot(seeds), name=f"conv{i}"
            ),
            # momentum 0.9: the moving statistics settle within tens of steps, so
            # short fits on small subsets also predict well.
            keras.layers.BatchNormalization(momentum=0.9, name=f"norm{i}"),
            keras.layers.ReLU(name=f"relu{i}"),
        ]
        if side >= 4:
            layers.append(keras.layers.MaxPooling2D(name=f"pool{i}"))
            side //= 2
    layers += [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dropout(0.3, seed=seeds(), name="dropout1"),
    ]
    if dense_units:
        n = len(conv_filters) + 1
        layers += [
            keras.layers.Dense(
                int(dense_units), use_bias=False, kernel_initializer=_glorot(seeds), name="dense"
            ),
            keras.layers.BatchNormalization(momentum=0.9, name=f"norm{n}"),
            keras.layers.ReLU(name=f"relu{n}"),
            keras.layers.Dropout(0.3, seed=seeds(), name="dropout2"),
        ]
    layers.append(
        keras.layers.Dense(
            meta["n_classes_"],
            activation=output_activation,
            kernel_initializer=_glorot(seeds),
            name="output",
        )
    )
    return keras.Sequential(layers, name="digit_cnn")


#: The DigitClassifier parameters that choose and shape its net.
NET_PARAMS = (
    "architecture",
    "hidden_units",
    "output_activation",
    "augment",
    "augmentations",
    "conv_filters",
    "dense_units",
    "ensemble_size",
)


def build_network(
    meta: dict[str, Any],
    *,
    architecture: str,
    hidden_units: int,
    output_activation: str,
    augment: float | None,
    augmentations: Any,
    conv_filters: Any,
    dense_units: int,
    ensemble_size: int = 1,
    seed: int | None,
) -> Any:
    """The net a DigitClassifier's :data:`NET_PARAMS` describe: :func:`build_cnn` or
    :func:`build_mlp`, seeded with ``seed``; with ``ensemble_size`` > 1, that many
    of them, each from its own seed, averaged in one model (:mod:`skdigits.ensemble`)."""
    kinds = augmentation_kinds(augmentations)

    def one(seed: int | None) -> Any:
        if architecture == "cnn":
            return build_cnn(
                meta, output_activation, augment, kinds, tuple(conv_filters), dense_units, seed=seed
            )
        return build_mlp(meta, hidden_units, output_activation, augment, kinds, seed=seed)

    if int(ensemble_size) == 1:
        return one(seed)
    from .ensemble import assemble

    seeds = layer_seeds(seed)
    nets = [one(seeds()) for _ in range(int(ensemble_size))]
    return assemble(nets, tuple(meta["X_shape_"][1:]), name=f"digit_{architecture}_ensemble")


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


def training_callbacks(
    lr_schedule: str, learning_rate: float, early_stopping: bool, patience: int
) -> list[Any]:
    """The Keras callbacks a ``lr_schedule`` and ``early_stopping`` ask for."""
    callbacks: list[Any] = []
    if lr_schedule != "constant":
        callbacks.append(LearningRateSchedule(learning_rate, lr_schedule))
    if early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", patience=int(patience), restore_best_weights=True
            )
        )
    return callbacks


class LearningRateSchedule(keras.callbacks.Callback):  # type: ignore[name-defined]
    """Set the optimizer's learning rate before every batch.

    ``kind`` is ``"constant"``; ``"cosine"`` (decay to zero); ``"exponential"``
    (decay to 1 % of the base rate); or ``"onecycle"`` (Smith's one-cycle: a
    linear warm-up from 4 % of the base rate over the first 20 % of the steps,
    then cosine decay to zero), which lets a large batch train at a high rate.

    A callback rather than a ``LearningRateSchedule`` object, so the saved model
    keeps a plain learning rate. The schedule spans the steps of one ``fit``,
    read from the ``steps`` and ``epochs`` Keras gives every callback.
    """

    WARM_UP = 0.2

    def __init__(self, base: float, kind: str) -> None:
        super().__init__()
        self.base, self.kind = float(base), kind
        self.epoch, self.total_steps = 0, 1

    def rate(self, step: int) -> float:
        progress = min(step / self.total_steps, 1.0)
        if self.kind == "onecycle":
            if progress < self.WARM_UP:
                return self.base * (0.04 + 0.96 * progress / self.WARM_UP)
            progress = (progress - self.WARM_UP) / (1.0 - self.WARM_UP)
            return self.base * 0.5 * (1.0 + float(np.cos(np.pi * progress)))
        if self.kind == "cosine":
            return self.base * 0.5 * (1.0 + float(np.cos(np.pi * progress)))
        if self.kind == "exponential":
            return self.base * 0.01**progress  # down to 1 % of the base rate
        return self.base

    def on_train_begin(self, logs: Any = None) -> None:
        self.epoch, self.total_steps = (
            0,
            max(int(self.params["steps"] or 1) * int(self.params["epochs"]), 1),
        )

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        # `batch` counts batches, also when Keras runs several per call
        # (steps_per_execution): the rate then steps once per call.
        step = self.epoch * int(self.params["steps"] or 1) + batch
        self.model.optimizer.learning_rate.assign(self.rate(step))

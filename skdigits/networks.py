"""The Keras networks DigitClassifier trains: the reference MLP, the CNN, augmentation.

Each builder takes SciKeras' fit-time ``meta`` (``X_shape_``, ``n_classes_``) and
returns an uncompiled ``keras.Sequential`` made of built-in layers only, so a
saved model loads with ``safe_mode=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._tf import import_keras

keras = import_keras(feature="DigitClassifier")

AUGMENTATIONS = ("shift", "rotate", "zoom")

#: Augmentation at strength 1: shifts of up to 10 % of the side (2.8 px),
#: rotations of up to 10 degrees, zoom of up to 10 %.
_AUGMENT_SHIFT, _AUGMENT_DEGREES, _AUGMENT_ZOOM = 0.1, 10.0, 0.1


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


def augmentation_layers(strength: float, kinds: tuple[str, ...] = AUGMENTATIONS) -> list[Any]:
    """Random shifts, rotations and zoom, active only while training.

    Parameters
    ----------
    strength : float
        1.0 means shifts up to 10 % of the side, rotations up to 10 degrees and
        zoom up to 10 %; the ranges scale linearly with ``strength``.
    kinds : tuple of {"shift", "rotate", "zoom"}, default=all three
        Which transformations to apply, in the order shift, rotate, zoom.

    Returns
    -------
    list of keras.layers.Layer
        Built-in Keras layers; at inference (``training=False``) each returns its
        input unchanged, and the ONNX export contains none of them.
    """
    shift = _AUGMENT_SHIFT * strength
    layers = {
        "shift": lambda: keras.layers.RandomTranslation(
            shift, shift, fill_mode="constant", name="augment_shift"
        ),
        "rotate": lambda: keras.layers.RandomRotation(
            _AUGMENT_DEGREES * strength / 360.0, fill_mode="constant", name="augment_rotate"
        ),
        "zoom": lambda: keras.layers.RandomZoom(
            _AUGMENT_ZOOM * strength, fill_mode="constant", name="augment_zoom"
        ),
    }
    return [layers[kind]() for kind in AUGMENTATIONS if kind in kinds]


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


def _images_head(meta: dict[str, Any], augment: float | None, kinds: tuple[str, ...]) -> list[Any]:
    """Input → Reshape to images → (augmentation): the common head of both nets."""
    layers = [_input_layer(meta), keras.layers.Reshape(_image_shape(meta), name="images")]
    if augment:
        layers.extend(augmentation_layers(float(augment), kinds))
    return layers


def build_mlp(
    meta: dict[str, Any],
    hidden_units: int = 100,
    output_activation: str = "softmax",
    augment: float | None = None,
    augmentations: tuple[str, ...] = AUGMENTATIONS,
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

    Returns
    -------
    keras.Sequential
        An uncompiled model; SciKeras compiles it with the estimator's
        ``optimizer``, ``loss`` and ``metrics``.
    """
    head = _images_head(meta, augment, augmentations) if augment else [_input_layer(meta)]
    return keras.Sequential(
        [
            *head,
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(hidden_units, activation="relu", name="hidden"),
            keras.layers.Dense(meta["n_classes_"], activation=output_activation, name="output"),
        ],
        name="digit_mlp",
    )


def build_cnn(
    meta: dict[str, Any],
    output_activation: str = "softmax",
    augment: float | None = None,
    augmentations: tuple[str, ...] = AUGMENTATIONS,
) -> Any:
    """Build the convolutional net, lean enough to train on two CPU cores.

    Reshape(28, 28, 1) → (augmentation) → Conv(32, 3) → BatchNorm → ReLU →
    MaxPool → Conv(64, 3) → BatchNorm → ReLU → MaxPool → Flatten →
    Dropout(0.3) → Dense(128) → BatchNorm → ReLU → Dropout(0.3) →
    Dense(n_classes). It takes the same ``[N, 784]`` rows as the reference net,
    so the ONNX export is unchanged.

    Parameters
    ----------
    meta : dict
        SciKeras' fit-time metadata; ``X_shape_`` and ``n_classes_`` are used.
    output_activation : {"softmax", "sigmoid"}, default="softmax"
    augment : float or None, default=None
        Strength of the training-time augmentation (see :func:`augmentation_layers`).
    augmentations : tuple of str, default=("shift", "rotate", "zoom")
        Which transformations the augmentation applies.

    Returns
    -------
    keras.Sequential
        An uncompiled model.
    """
    layers = _images_head(meta, augment, augmentations)
    for i, filters in enumerate((32, 64), start=1):
        layers += [
            keras.layers.Conv2D(filters, 3, use_bias=False, name=f"conv{i}"),
            # momentum 0.9: the moving statistics settle within tens of steps, so
            # short fits on small subsets also predict well.
            keras.layers.BatchNormalization(momentum=0.9, name=f"norm{i}"),
            keras.layers.ReLU(name=f"relu{i}"),
            keras.layers.MaxPooling2D(name=f"pool{i}"),
        ]
    layers += [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dropout(0.3, name="dropout1"),
        keras.layers.Dense(128, use_bias=False, name="dense"),
        keras.layers.BatchNormalization(momentum=0.9, name="norm3"),
        keras.layers.ReLU(name="relu3"),
        keras.layers.Dropout(0.3, name="dropout2"),
        keras.layers.Dense(meta["n_classes_"], activation=output_activation, name="output"),
    ]
    return keras.Sequential(layers, name="digit_cnn")


class LearningRateSchedule(keras.callbacks.Callback):  # type: ignore[name-defined]
    """Set the optimizer's learning rate before every batch: constant, cosine or exponential.

    A callback rather than a ``LearningRateSchedule`` object, so the saved model
    keeps a plain learning rate. The schedule spans the steps of one ``fit``,
    read from the ``steps`` and ``epochs`` Keras gives every callback.
    """

    def __init__(self, base: float, kind: str) -> None:
        super().__init__()
        self.base, self.kind = float(base), kind
        self.epoch, self.total_steps = 0, 1

    def rate(self, step: int) -> float:
        progress = min(step / self.total_steps, 1.0)
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

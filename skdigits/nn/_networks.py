"""The Keras networks DigitClassifier trains: the reference MLP, the CNN, augmentation.

Each builder takes SciKeras' fit-time ``meta`` (``X_shape_``, ``n_classes_``) and
returns an uncompiled ``keras.Sequential`` made of built-in layers only, so a
saved model loads with ``safe_mode=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._augment import AUGMENTATIONS, augmentation_kinds, augmentation_layers, layer_seeds
from ._ensemble import assemble
from ._tf import import_keras

keras = import_keras(feature="DigitClassifier")


def _glorot(seeds: Callable[[], int | None]) -> Any:
    return keras.initializers.GlorotUniform(seed=seeds())


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
    layers += _conv_blocks(conv_filters, _image_shape(meta)[0], seeds)
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


def _conv_blocks(
    conv_filters: tuple[int, ...], side: int, seeds: Callable[[], int | None]
) -> list[Any]:
    """Conv(filters, 3) → BatchNorm → ReLU → MaxPool per entry, on ``side`` x ``side`` images.

    A block pools only while the image is still at least 4 x 4 after its convolution.
    """
    layers: list[Any] = []
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
    return layers


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
    of them, each from its own seed, averaged in one model (:mod:`skdigits.nn`)."""
    kinds = augmentation_kinds(augmentations)

    def one(seed: int | None) -> Any:
        if architecture == "cnn":
            return build_cnn(
                meta, output_activation, augment, kinds, tuple(conv_filters), dense_units, seed=seed
            )
        return build_mlp(meta, hidden_units, output_activation, augment, kinds, seed=seed)

    if int(ensemble_size) == 1:
        return one(seed)
    seeds = layer_seeds(seed)
    nets = [one(seeds()) for _ in range(int(ensemble_size))]
    return assemble(nets, tuple(meta["X_shape_"][1:]), name=f"digit_{architecture}_ensemble")

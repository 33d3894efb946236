"""The Keras networks DigitClassifier trains: the reference MLP, the CNN, a small
pre-activation ResNet, augmentation.

Each builder takes SciKeras' fit-time ``meta`` (``X_shape_``, ``n_classes_``) and
returns an uncompiled ``keras.Sequential`` made of built-in layers only, so a
saved model loads with ``safe_mode=True``. The ResNet's residual body, which no
sequence of layers can express, is one functional model inside that sequence:
the head (input, reshape, augmentation) and the output layer stay where
distillation and the export look for them.
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


def build_resnet(
    meta: dict[str, Any],
    output_activation: str = "softmax",
    augment: float | None = None,
    augmentations: tuple[str, ...] = AUGMENTATIONS,
    conv_filters: tuple[int, ...] = (32, 64),
    residual_blocks: int = 1,
    seed: int | None = None,
) -> Any:
    """Build a small pre-activation residual net (He et al. 2016, "Identity
    Mappings in Deep Residual Networks") sized for 28 x 28 digits.

    Reshape(28, 28, 1) → (augmentation) → Conv(``conv_filters[0]``, 3) → one
    stage per entry of ``conv_filters``, each of ``residual_blocks`` blocks
    [BatchNorm → ReLU → Conv(3) → BatchNorm → ReLU → Conv(3)] added to their
    input; the first block of every stage halves the image (stride 2) and
    projects its shortcut with a 1 x 1 convolution, so the stages see 14 x 14,
    7 x 7, 4 x 4 and 2 x 2 images → BatchNorm → ReLU → global average pooling →
    Dense(n_classes). It takes the same ``[N, 784]`` rows as the other nets.

    Parameters
    ----------
    meta : dict
        SciKeras' fit-time metadata; ``X_shape_`` and ``n_classes_`` are used.
    output_activation : {"softmax", "sigmoid"}, default="softmax"
    augment : float or None, default=None
        Strength of the training-time augmentation (see :func:`augmentation_layers`).
    augmentations : tuple of str, default=all of :data:`AUGMENTATIONS`
    conv_filters : tuple of int, default=(32, 64)
        The width (filters) of each stage, first to last: the net's width and,
        by their number, its stages.
    residual_blocks : int, default=1
        Residual blocks per stage: the net's depth. Each block holds two
        convolutions; the net has ``2 * residual_blocks * len(conv_filters) + 1``.
    seed : int or None, default=None
        Seeds the initial weights and the augmentation (see :func:`layer_seeds`).

    Returns
    -------
    keras.Sequential
        An uncompiled model: head, the functional ``residual`` body, output.
    """
    seeds = layer_seeds(seed)
    head = _images_head(meta, augment, augmentations, seeds())
    images = keras.Input(shape=_image_shape(meta), name="residual_input")
    h = _conv(int(conv_filters[0]), 3, 1, seeds, "stem")(images)
    for stage, filters in enumerate(conv_filters, start=1):
        for block in range(1, int(residual_blocks) + 1):
            h = _residual_block(h, int(filters), 2 if block == 1 else 1, seeds, f"s{stage}b{block}")
    h = keras.layers.BatchNormalization(momentum=0.9, name="final_norm")(h)
    h = keras.layers.ReLU(name="final_relu")(h)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    body = keras.Model(images, h, name="residual")
    output = keras.layers.Dense(
        meta["n_classes_"],
        activation=output_activation,
        kernel_initializer=_glorot(seeds),
        name="output",
    )
    return keras.Sequential([*head, body, output], name="digit_resnet")


def _conv(filters: int, size: int, strides: int, seeds: Callable[[], int | None], name: str) -> Any:
    return keras.layers.Conv2D(
        filters,
        size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer=keras.initializers.HeNormal(seed=seeds()),
        name=name,
    )


def _residual_block(
    x: Any, filters: int, strides: int, seeds: Callable[[], int | None], name: str
) -> Any:
    """One pre-activation block: x + Conv(ReLU(BN(Conv(ReLU(BN(x)))))), the
    shortcut projected (1 x 1, same stride) where the shape changes."""
    h = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_norm1")(x)
    h = keras.layers.ReLU(name=f"{name}_relu1")(h)
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        # The projection reads the pre-activated input, as in the paper's Fig. 4(e).
        shortcut = _conv(filters, 1, strides, seeds, f"{name}_project")(h)
    h = _conv(filters, 3, strides, seeds, f"{name}_conv1")(h)
    h = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_norm2")(h)
    h = keras.layers.ReLU(name=f"{name}_relu2")(h)
    h = _conv(filters, 3, 1, seeds, f"{name}_conv2")(h)
    return keras.layers.Add(name=f"{name}_add")([shortcut, h])


#: The DigitClassifier parameters that choose and shape its net.
NET_PARAMS = (
    "architecture",
    "hidden_units",
    "output_activation",
    "augment",
    "augmentations",
    "conv_filters",
    "dense_units",
    "residual_blocks",
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
    residual_blocks: int = 1,
    ensemble_size: int = 1,
    seed: int | None,
) -> Any:
    """The net a DigitClassifier's :data:`NET_PARAMS` describe: :func:`build_cnn`,
    :func:`build_resnet` or :func:`build_mlp`, seeded with ``seed``; with
    ``ensemble_size`` > 1, that many of them, each from its own seed, averaged in
    one model (:mod:`skdigits.nn`)."""
    kinds = augmentation_kinds(augmentations)

    def one(seed: int | None) -> Any:
        if architecture == "cnn":
            return build_cnn(
                meta, output_activation, augment, kinds, tuple(conv_filters), dense_units, seed=seed
            )
        if architecture == "resnet":
            return build_resnet(
                meta,
                output_activation,
                augment,
                kinds,
                tuple(conv_filters),
                int(residual_blocks),
                seed=seed,
            )
        return build_mlp(meta, hidden_units, output_activation, augment, kinds, seed=seed)

    if int(ensemble_size) == 1:
        return one(seed)
    seeds = layer_seeds(seed)
    nets = [one(seeds()) for _ in range(int(ensemble_size))]
    return assemble(nets, tuple(meta["X_shape_"][1:]), name=f"digit_{architecture}_ensemble")

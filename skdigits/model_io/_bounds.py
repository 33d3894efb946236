"""The bounds on DigitClassifier's parameters: one table, applied at fit and at load.

``DigitClassifier.fit`` refuses a value outside :data:`PARAMETER_BOUNDS` before
any training, and loading a ``.skdigits`` file refuses a manifest holding one
before anything is built, so nothing is trained that cannot be saved and loaded
back. :func:`count_weights` bounds the whole net the same way, because each
size within its bound can still multiply into a net of gigabytes.

Each bound is far above what a digit classifier needs and below what costs
gigabytes or fails inside TensorFlow (``hidden_units=2**63-1`` did). Nothing
here imports TensorFlow, so the command line and a search judge parameters for
free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._core.errors import ParameterError
from .._core.values import is_integer, is_number


def describe(value: Any, limit: int = 60) -> str:
    """A value for a message: its repr, cut to one line of at most ``limit`` characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


@dataclass(frozen=True)
class Range:
    """The values one parameter may take: integers or finite numbers between two ends."""

    low: float
    high: float
    integer: bool = True
    low_open: bool = False
    high_open: bool = False

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is in range; NaN, inf, bools and non-numbers never are."""
        if not (is_integer(value) if self.integer else is_number(value)):
            return False
        # Compared as they are: a huge int is out of range, not an OverflowError.
        if not is_integer(value) and not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return bool(above and below)

    @property
    def words(self) -> str:
        """The range as a message says it: ``a positive integer up to 10000``."""
        if self.integer:
            if self.low == 1:
                return f"a positive integer up to {self.high}"
            return f"an integer from {self.low} to {self.high}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"a finite number in {left}{self.low:g}, {self.high:g}{right}"


#: The widest hidden layer of the MLP.
MAX_HIDDEN_UNITS = 10_000
#: The most classes a classifier may learn (and a manifest may list).
MAX_CLASSES = 1_000
#: The most convolution blocks: each takes two pixels off a 28 x 28 image's side,
#: and pooling halves it, so a fifth block would have no pixels left (and a
#: ResNet's fifth stage would see a 1 x 1 image).
MAX_CONV_BLOCKS = 4
#: The most residual blocks per stage of the ResNet: 8 gives 65 convolutions.
MAX_RESIDUAL_BLOCKS = 8
#: The most weights a whole net (every member of an ensemble) may have: 60 MB of
#: float32, which Keras saves with up to three optimizer slots per weight, under
#: the format's 256 MiB per archive member.
MAX_WEIGHTS = 15_000_000
#: The most epochs of one fit; a manifest keeps up to 100,000 per history series.
MAX_EPOCHS = 10_000
#: The largest batch: more than any data set skdigits reads has images.
MAX_BATCH_SIZE = 1_000_000

#: What each bounded parameter may be. ``conv_filters`` bounds each block's filters;
#: ``augment`` and ``validation_batch_size`` may also be None.
PARAMETER_BOUNDS: dict[str, Range] = {
    "hidden_units": Range(1, MAX_HIDDEN_UNITS),
    "dense_units": Range(0, 10_000),
    "residual_blocks": Range(1, MAX_RESIDUAL_BLOCKS),
    "conv_filters": Range(1, 1_024),
    "ensemble_size": Range(1, 16),
    "batch_size": Range(1, MAX_BATCH_SIZE),
    "validation_batch_size": Range(1, MAX_BATCH_SIZE),
    "epochs": Range(1, MAX_EPOCHS),
    "patience": Range(1, MAX_EPOCHS),
    "steps_per_execution": Range(1, 10_000),
    "optimizer__learning_rate": Range(0.0, 10.0, integer=False, low_open=True),
    "validation_split": Range(0.0, 1.0, integer=False, high_open=True),
    "augment": Range(0.0, 3.0, integer=False),
    "label_smoothing": Range(0.0, 1.0, integer=False, high_open=True),
    "distill_temperature": Range(0.0, 100.0, integer=False, low_open=True),
    "distill_alpha": Range(0.0, 1.0, integer=False),
    "random_state": Range(0, 2**32 - 1),
    "digit_threshold": Range(0.0, 1.0, integer=False),
    "outlier_exposure": Range(0.0, 4.0, integer=False),
    "digit_variants": Range(0.0, 4.0, integer=False),
}

#: What ``calibration`` may be: a temperature fitted on the validation split, or none.
CALIBRATIONS = ("temperature", None)


def is_calibration(value: Any) -> bool:
    """Whether ``value`` is one of :data:`CALIBRATIONS` (compared safely for any object)."""
    return value is None or (isinstance(value, str) and value in CALIBRATIONS)


#: The temperature a fit may find and a model file may hold: far wider than any net
#: needs (MNIST nets land between 0.5 and 2), and finite and positive, so that
#: ``log(p) / T`` is a number.
TEMPERATURE = Range(0.01, 100.0, integer=False)

#: The digit threshold a fit may find and a model file may hold: the digit score
#: (the largest probability) lies in [0, 1], and so does any threshold that means
#: something; 0.0 takes every image for a digit.
DIGIT_THRESHOLD = Range(0.0, 1.0, integer=False)

#: The parameters a bound lets be None ("not set").
NONE_ALLOWED = frozenset({"augment", "validation_batch_size", "random_state", "digit_threshold"})

#: What the table says of ``conv_filters`` as a whole.
CONV_FILTERS_WORDS = (
    f"a tuple of 1 to {MAX_CONV_BLOCKS} integers from 1 to "
    f"{PARAMETER_BOUNDS['conv_filters'].high}, one per convolution block"
)


def within_bounds(name: str, value: Any) -> bool:
    """Whether ``value`` is allowed for the bounded parameter ``name``."""
    if value is None and name in NONE_ALLOWED:
        return True
    bound = PARAMETER_BOUNDS[name]
    if name == "conv_filters":
        return (
            isinstance(value, tuple | list)
            and 1 <= len(value) <= MAX_CONV_BLOCKS
            and all(bound.accepts(v) for v in value)
        )
    return bound.accepts(value)


def bound_words(name: str) -> str:
    """What the table allows for ``name``, for a message."""
    if name == "conv_filters":
        return CONV_FILTERS_WORDS
    words = PARAMETER_BOUNDS[name].words
    return f"None or {words}" if name in NONE_ALLOWED else words


#: The defaults of the parameters that size the net (DigitClassifier's own).
NET_DEFAULTS: dict[str, Any] = {
    "architecture": "mlp",
    "hidden_units": 100,
    "conv_filters": (32, 64),
    "dense_units": 128,
    "residual_blocks": 1,
    "ensemble_size": 1,
}

#: The parameters that size each architecture's net.
SIZE_PARAMS = {
    "mlp": ("hidden_units",),
    "cnn": ("conv_filters", "dense_units"),
    "resnet": ("conv_filters", "residual_blocks"),
}


def _resnet_weights(conv_filters: Any, blocks: int) -> tuple[int, int]:
    """(weights, output channels) of :func:`skdigits.nn.build_resnet`'s body."""
    channels = conv_filters[0]
    total = 9 * channels  # the stem, one input channel, no bias
    for filters in conv_filters:
        for block in range(blocks):
            # BatchNorm (4 values a channel) → conv → BatchNorm → conv, and on
            # the first block of a stage a 1 x 1 projection of the shortcut.
            total += 4 * channels + 9 * channels * filters + 4 * filters + 9 * filters * filters
            if block == 0:
                total += channels * filters
            channels = filters
    return total + 4 * channels, channels


def count_weights(params: Mapping[str, Any], *, n_features: int = 784, n_classes: int = 10) -> int:
    """How many weights the net ``params`` describe has, as Keras counts them, unbuilt.

    Mirrors :mod:`skdigits.nn`'s builders: the MLP's two dense layers; the CNN's
    bias-free 3 x 3 convolutions and dense layer, each with a batch normalisation
    of four values per channel; the ResNet's stem, blocks and projections; then
    the output layer; times ``ensemble_size``.
    Missing parameters take DigitClassifier's defaults. Each size must already be
    within :data:`PARAMETER_BOUNDS` (Python integers never overflow here).
    """
    p = {**NET_DEFAULTS, **params}
    if p["architecture"] == "resnet":
        total, width = _resnet_weights(p["conv_filters"], p["residual_blocks"])
    elif p["architecture"] == "cnn":
        side, channels, total = math.isqrt(n_features), 1, 0
        for filters in p["conv_filters"]:
            side -= 2
            total += 9 * channels * filters + 4 * filters
            if side >= 4:
                side //= 2
            channels = filters
        width = max(side, 0) ** 2 * channels
        if p["dense_units"]:
            total += width * p["dense_units"] + 4 * p["dense_units"]
            width = p["dense_units"]
    else:
        total = n_features * p["hidden_units"] + p["hidden_units"]
        width = p["hidden_units"]
    total += width * n_classes + n_classes
    return int(total * p["ensemble_size"])


def check_network_size(
    params: Mapping[str, Any], *, n_features: int = 784, n_classes: int = 10
) -> int:
    """Refuse a net over :data:`MAX_WEIGHTS`, naming what sizes it; return its weight count."""
    n = count_weights(params, n_features=n_features, n_classes=n_classes)
    if n > MAX_WEIGHTS:
        p = {**NET_DEFAULTS, **params}
        sizes = SIZE_PARAMS.get(p["architecture"], SIZE_PARAMS["mlp"])
        named = ", ".join(f"{k}={p[k]!r}" for k in (*sizes, "ensemble_size"))
        raise ParameterError(
            f"the net of {named} for {n_classes} classes has {n:,} weights, more than the "
            f"{MAX_WEIGHTS:,} a .skdigits file holds; use fewer or narrower layers"
        )
    return n


def check_bounds(params: Mapping[str, Any], *, n_features: int = 784, n_classes: int = 10) -> None:
    """Refuse parameters outside :data:`PARAMETER_BOUNDS`, and a net over :data:`MAX_WEIGHTS`.

    Only the names ``params`` holds are judged; the net is sized for MNIST
    unless told otherwise. Imports nothing heavy: the command line calls it
    before it loads MNIST or TensorFlow.

    Raises
    ------
    ParameterError
        One line naming the parameter, the range and the value.
    """
    for name in PARAMETER_BOUNDS.keys() & params.keys():
        if not within_bounds(name, params[name]):
            raise ParameterError(
                f"`{name}` must be {bound_words(name)}, got {describe(params[name])}"
            )
    check_network_size(params, n_features=n_features, n_classes=n_classes)

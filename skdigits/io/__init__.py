"""Reading what people give: any image or array file → 28 × 28 uint8 digits, MNIST-style.

Images (PNG, JPEG, photos of paper), IDX and ``.npy`` files are read by content,
not by extension, bounded before they are decoded. numpy, Pillow and the
standard library only: this is the deployment path (never TensorFlow or
scikit-learn).
"""

from __future__ import annotations

from ._images import MAX_IMAGE_PIXELS, load_digit_image, load_digit_images, preprocess_digit
from ._inputs import (
    INVERT_CHOICES,
    SCALE_CHOICES,
    InputImages,
    read_input,
    read_inputs,
    read_labels,
    sniff_format,
    to_mnist_convention,
)
from ._nondigits import TRAINING_KINDS, make_nondigits
from ._variants import VARIANT_KINDS, make_digit_variants

__all__ = [
    "INVERT_CHOICES",
    "MAX_IMAGE_PIXELS",
    "SCALE_CHOICES",
    "TRAINING_KINDS",
    "VARIANT_KINDS",
    "InputImages",
    "load_digit_image",
    "load_digit_images",
    "make_digit_variants",
    "make_nondigits",
    "preprocess_digit",
    "read_input",
    "read_inputs",
    "read_labels",
    "sniff_format",
    "to_mnist_convention",
]

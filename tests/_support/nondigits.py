"""Pictures that are no digit, as a person might hand them to the Python API."""

from __future__ import annotations

import numpy as np


def constructed_non_digits() -> dict[str, np.ndarray]:
    """Images that are no digit, as a person might hand them in."""
    from PIL import Image, ImageDraw, ImageFont

    letter = Image.new("L", (28, 28))
    ImageDraw.Draw(letter).text((4, 1), "A", fill=255, font=ImageFont.load_default(size=22))
    scribble = Image.new("L", (28, 28))
    points = [(3, 5), (25, 20), (5, 25), (22, 3), (8, 14)]
    ImageDraw.Draw(scribble).line(points, fill=255, width=2)
    square = np.zeros((28, 28), np.uint8)
    square[4:24, 4:24] = 255
    noise = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    return {
        "letter": np.asarray(letter),
        "scribble": np.asarray(scribble),
        "square": square,
        "noise": noise,
    }

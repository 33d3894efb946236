"""Redraw ink with a round pen of one width: a picture's strokes as a ballpoint would write them.

MNIST's digits were written with a pen whose trace was scanned, blurred and
normalised; people drawing on a screen, or writing with a felt pen, leave strokes
of one width, from a hair to a marker. Redrawing a picture along its skeleton
(Zhang & Suen 1984 thinning, vectorised over a batch) with a pen of a chosen
width gives the same shape in that other hand.
"""

from __future__ import annotations

import numpy as np

#: Pen widths drawn from, in pixels of a 28 x 28 picture (its 20 x 20 box): a hair to a marker.
PEN_WIDTHS = (0.5, 3.0)


def thin(mask: np.ndarray) -> np.ndarray:
    """The one-pixel skeleton of each boolean picture of a batch (Zhang & Suen thinning).

    Parameters
    ----------
    mask : ndarray of bool, shape (n, height, width)

    Returns
    -------
    ndarray of bool, same shape
    """
    skeleton = np.array(mask, dtype=bool, copy=True)
    while True:
        changed = False
        for step in (0, 1):
            p = np.pad(skeleton, ((0, 0), (1, 1), (1, 1)))
            # The 8 neighbours clockwise from the one above (P2 ... P9 of the paper).
            ring = [
                p[:, :-2, 1:-1],
                p[:, :-2, 2:],
                p[:, 1:-1, 2:],
                p[:, 2:, 2:],
                p[:, 2:, 1:-1],
                p[:, 2:, :-2],
                p[:, 1:-1, :-2],
                p[:, :-2, :-2],
            ]
            count = np.sum(ring, axis=0, dtype=np.int8)
            rises = np.sum([~ring[i] & ring[(i + 1) % 8] for i in range(8)], axis=0, dtype=np.int8)
            p2, p4, p6, p8 = ring[0], ring[2], ring[4], ring[6]
            first = (p2 & p4 & p6) | (p4 & p6 & p8)
            keep = first if step == 0 else (p2 & p4 & p8) | (p2 & p6 & p8)
            remove = skeleton & (count >= 2) & (count <= 6) & (rises == 1) & ~keep
            if remove.any():
                skeleton &= ~remove
                changed = True
        if not changed:
            return skeleton


def redraw_with_pen(
    images: np.ndarray, pens: np.ndarray, *, threshold: float = 100.0
) -> np.ndarray:
    """White-on-black pictures redrawn along their skeletons with round pens.

    Parameters
    ----------
    images : ndarray of shape (n, height, width), 0-255
        Ink is where a pixel exceeds ``threshold``.
    pens : ndarray of shape (n,)
        Each picture's pen width in pixels of the picture (e.g. 0.5 to 5).
    threshold : float, default=100.0

    Returns
    -------
    ndarray of uint8, shape (n, height, width)
        Antialiased strokes, the darkest ink at 255 (a thin pen writes in full ink).
    """
    from scipy import ndimage  # the training stack's; this runs only while training

    # At twice the size, so that thin pens keep their antialiasing.
    big = np.asarray(images, dtype=np.float32).repeat(2, axis=1).repeat(2, axis=2)
    skeletons = thin(ndimage.uniform_filter(big, size=(1, 2, 2)) > threshold)
    n, height, width = np.shape(images)
    out = np.zeros((n, height, width), dtype=np.uint8)
    for i in range(n):
        if not skeletons[i].any():
            continue
        distance = ndimage.distance_transform_edt(~skeletons[i])
        # Distances at twice the size: a pen w pixels wide covers w of them each side.
        ink = np.clip(float(pens[i]) - distance, 0.0, 1.0)
        ink = ink.reshape(height, 2, width, 2).mean(axis=(1, 3))
        out[i] = np.rint(255.0 * ink / ink.max())
    return out

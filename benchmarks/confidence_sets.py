"""Digits and non-digits to measure a "not a digit" score on, none of them trained on.

Writes PNG files, dark ink on a light page as a user would photograph or scan
them (``skdigits predict`` and :func:`skdigits.io.load_digit_images` turn them
into MNIST's layout):

- ``nondigits/<kind>/<n>.png``, five kinds, 200 images each by default:

  - ``font_letters``: letters and symbols (``NONDIGIT_CHARACTERS``) typeset in
    the Liberation fonts;
  - ``stroke_letters``: capital and small letters written as pen strokes;
  - ``stroke_shapes``: hand-drawn shapes: circles with a cross, arrows, stars,
    check marks, triangles, squares, hearts, spirals, hashes, filled squares
    and discs;
  - ``textures``: ink blots (thresholded smooth random fields), concentric
    rings, cell walls (Voronoi edges) and grey value noise;
  - ``photo_crops``: crops of the photographs matplotlib ships
    (``grace_hopper.jpg``, ``Minduka_Present_Blue_Pack.png``), at random
    places, sizes and angles: no photo collection of objects is available
    offline, so these stand in for "a photo of something else".

- ``digits/<set>/<label>_<n>.png``: ``fonts`` (0-9 in the Liberation fonts,
  two sizes and weights each, as ``handwriting.py`` typesets them) and
  ``strokes`` (``handwriting.py``'s drawn digits). MNIST's test set is the third
  digit set; ``bench_confidence.py`` reads it from the cache.

Held out from training (``skdigits.io.make_nondigits``), by construction:

- whole fonts: training typesets in the DejaVu families, these sets in the
  Liberation families only;
- whole kinds of strokes: training scribbles are random smooth curves, these
  are letters and shapes drawn from templates;
- whole sources: training textures are stripes, checkerboards, gaussian blobs
  and salt noise; these come from other generators (blots, rings, cells, value
  noise); photo crops and drawn shapes have no training counterpart at all;
- digits: training fragments cut MNIST training digits only; MNIST test digits
  are only ever scored whole, as a digit set.

The same characters are excluded as in training (``DIGIT_LOOKALIKES``: O, l,
S, Z, B, g, q ... a reader takes them for digits). A picture that
``preprocess_digit`` finds blank (the CLI refuses it before any model sees it)
is drawn again. Deterministic for a given ``--seed``.

    python benchmarks/confidence_sets.py --out confidence-sets/
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))
from handwriting import draw_font_digit, draw_stroke_digit

from skdigits._core.errors import DataError
from skdigits.io import preprocess_digit
from skdigits.io._nondigits import (
    NONDIGIT_CHARACTERS,
    draw_strokes,
    find_fonts,
    smooth_curve,
)

#: Font families only evaluation typesets in.
EVALUATION_FONT_FAMILIES = ("Liberation",)

NONDIGIT_KINDS = ("font_letters", "stroke_letters", "stroke_shapes", "textures", "photo_crops")

_Stroke = list[tuple[float, float]]

#: Letters as pen strokes in a unit box (x right, y down); none looks like a digit.
LETTERS: dict[str, list[_Stroke]] = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.25, 0.55), (0.75, 0.55)]],
    "E": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (1.0, 1.0)], [(0.0, 0.5), (0.7, 0.5)]],
    "F": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0)], [(0.0, 0.5), (0.7, 0.5)]],
    "H": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (1.0, 1.0)], [(0.0, 0.5), (1.0, 0.5)]],
    "K": [[(0.0, 0.0), (0.0, 1.0)], [(0.9, 0.0), (0.0, 0.55), (1.0, 1.0)]],
    "L": [[(0.0, 0.0), (0.0, 1.0), (0.8, 1.0)]],
    "M": [[(0.0, 1.0), (0.05, 0.0), (0.5, 0.6), (0.95, 0.0), (1.0, 1.0)]],
    "N": [[(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]],
    "P": [[(0.0, 1.0), (0.0, 0.0), (0.8, 0.05), (0.9, 0.3), (0.7, 0.5), (0.0, 0.5)]],
    "R": [[(0.0, 1.0), (0.0, 0.0), (0.8, 0.05), (0.85, 0.3), (0.0, 0.5), (0.9, 1.0)]],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "U": [[(0.0, 0.0), (0.05, 0.8), (0.5, 1.0), (0.95, 0.8), (1.0, 0.0)]],
    "V": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
    "W": [[(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)]],
    "X": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)], [(0.5, 0.5), (0.5, 1.0)]],
    "h": [[(0.0, 0.0), (0.0, 1.0)], [(0.0, 0.6), (0.5, 0.4), (0.9, 0.6), (0.9, 1.0)]],
    "k": [[(0.0, 0.0), (0.0, 1.0)], [(0.8, 0.4), (0.0, 0.75), (0.9, 1.0)]],
    "m": [[(0.0, 1.0), (0.0, 0.3), (0.3, 0.2), (0.5, 0.5), (0.7, 0.2), (1.0, 0.4), (1.0, 1.0)]],
    "n": [[(0.0, 1.0), (0.0, 0.3), (0.5, 0.2), (0.9, 0.4), (0.9, 1.0)]],
    "r": [[(0.0, 1.0), (0.0, 0.3)], [(0.0, 0.5), (0.4, 0.25), (0.9, 0.3)]],
    "w": [[(0.0, 0.3), (0.25, 1.0), (0.5, 0.5), (0.75, 1.0), (1.0, 0.3)]],
    "x": [[(0.0, 0.3), (1.0, 1.0)], [(1.0, 0.3), (0.0, 1.0)]],
    "e": [[(0.1, 0.6), (0.9, 0.55), (0.6, 0.25), (0.15, 0.45), (0.3, 0.95), (0.9, 0.85)]],
    "c": [[(0.9, 0.35), (0.5, 0.2), (0.1, 0.6), (0.5, 1.0), (0.9, 0.85)]],
}


def _circle(cx: float, cy: float, r: float, turns: float = 1.0, grow: float = 0.0) -> _Stroke:
    t = np.linspace(0, 2 * np.pi * turns, int(40 * turns))
    radius = r * (1 + grow * t / (2 * np.pi * turns))
    return list(zip(cx + radius * np.cos(t), cy + radius * np.sin(t), strict=True))


def _star(points: int) -> _Stroke:
    angles = -np.pi / 2 + np.arange(2 * points + 1) * np.pi / points
    radii = np.where(np.arange(2 * points + 1) % 2 == 0, 0.5, 0.2)
    return list(zip(0.5 + radii * np.cos(angles), 0.5 + radii * np.sin(angles), strict=True))


#: Hand-drawn shapes in a unit box; a name ending in "filled" is drawn solid.
SHAPES: dict[str, list[_Stroke]] = {
    "circle_cross": [_circle(0.5, 0.5, 0.45), [(0.2, 0.2), (0.8, 0.8)], [(0.8, 0.2), (0.2, 0.8)]],
    "circle_plus": [_circle(0.5, 0.5, 0.45), [(0.5, 0.1), (0.5, 0.9)], [(0.1, 0.5), (0.9, 0.5)]],
    "arrow_right": [[(0.0, 0.5), (1.0, 0.5)], [(0.65, 0.2), (1.0, 0.5), (0.65, 0.8)]],
    "arrow_up": [[(0.5, 1.0), (0.5, 0.0)], [(0.2, 0.35), (0.5, 0.0), (0.8, 0.35)]],
    "double_arrow": [[(0.0, 0.5), (1.0, 0.5)], [(0.25, 0.3), (0.0, 0.5), (0.25, 0.7)],
                     [(0.75, 0.3), (1.0, 0.5), (0.75, 0.7)]],
    "star5": [_star(5)],
    "star6": [[(0.5, 0.0), (0.93, 0.75), (0.07, 0.75), (0.5, 0.0)],
              [(0.5, 1.0), (0.07, 0.25), (0.93, 0.25), (0.5, 1.0)]],
    "check": [[(0.0, 0.55), (0.35, 0.95), (1.0, 0.0)]],
    "triangle": [[(0.5, 0.0), (1.0, 0.9), (0.0, 0.9), (0.5, 0.0)]],
    "square": [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]],
    "heart": [[(0.5, 0.3), (0.75, 0.0), (1.0, 0.3), (0.5, 1.0), (0.0, 0.3), (0.25, 0.0),
               (0.5, 0.3)]],
    "spiral": [_circle(0.5, 0.5, 0.12, turns=2.5, grow=2.5)],
    "hash": [[(0.35, 0.0), (0.3, 1.0)], [(0.7, 0.0), (0.65, 1.0)], [(0.0, 0.35), (1.0, 0.35)],
             [(0.0, 0.7), (1.0, 0.7)]],
    "smiley": [_circle(0.5, 0.5, 0.45), _circle(0.35, 0.38, 0.04), _circle(0.65, 0.38, 0.04),
               [(0.3, 0.65), (0.5, 0.78), (0.7, 0.65)]],
    "square_filled": [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]],
    "disc_filled": [_circle(0.5, 0.5, 0.5)],
}  # fmt: skip


def draw_template(
    strokes: list[_Stroke], rng: np.random.Generator, *, smooth: bool = True, filled: bool = False
) -> Image.Image:
    """``strokes`` drawn by a random hand (size, aspect, slant, angle, pen): dark on light.

    ``smooth`` rounds the corners between points (letters); shapes keep theirs, as a
    rounded square reads as 0.
    """
    canvas = 160
    size = rng.uniform(0.45, 0.8) * canvas * np.array([rng.uniform(0.6, 1.0), 1.0])
    slant, angle = rng.uniform(-0.3, 0.3), math.radians(rng.uniform(-15, 15))
    turn = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    shear = np.array([[1.0, 0.0], [-slant, 1.0]])
    jitter = rng.uniform(0.01, 0.04)
    placed = []
    for stroke in strokes:
        points = np.asarray(stroke) + rng.normal(0.0, jitter, (len(stroke), 2))
        points = smooth_curve(points) if smooth and len(stroke) < 20 else points
        placed.append(((points - 0.5) * size) @ shear.T @ turn + canvas / 2)
    pen = float(rng.choice([rng.uniform(2, 5), rng.uniform(5, 10), rng.uniform(10, 16)]))
    picture = draw_strokes(placed, pen, canvas, dark_on_light=True)
    image = Image.fromarray(picture)
    if filled:
        ImageDraw.Draw(image).polygon([tuple(p) for p in placed[0]], fill=0)
    return image


def _font_letter(rng: np.random.Generator, fonts: list[str]) -> Image.Image:
    while True:
        path = fonts[rng.integers(len(fonts))]
        char = NONDIGIT_CHARACTERS[rng.integers(len(NONDIGIT_CHARACTERS))]
        size = int(rng.choice([40, 64]))
        if _has_glyph(ImageFont.truetype(path, size), char):
            return draw_font_digit(char, path, size, int(rng.choice([0, 3])), rng)  # type: ignore[arg-type]


def _has_glyph(font: ImageFont.FreeTypeFont, char: str) -> bool:
    missing, mask = font.getmask("\ue000"), font.getmask(char)
    return mask.size != missing.size or bytes(mask) != bytes(missing)


def _stroke_letter(rng: np.random.Generator, fonts: list[str]) -> Image.Image:
    names = sorted(LETTERS)
    return draw_template(LETTERS[names[rng.integers(len(names))]], rng)


def _stroke_shape(rng: np.random.Generator, fonts: list[str]) -> Image.Image:
    names = sorted(SHAPES)
    name = names[rng.integers(len(names))]
    return draw_template(SHAPES[name], rng, smooth=False, filled=name.endswith("filled"))


def _smooth_field(rng: np.random.Generator, side: int, cells: int) -> np.ndarray:
    """Value noise: a coarse random grid enlarged bicubically."""
    coarse = (rng.random((cells, cells)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((side, side), Image.Resampling.BICUBIC))


def _texture(rng: np.random.Generator, fonts: list[str]) -> Image.Image:
    side = 96
    y, x = np.mgrid[0:side, 0:side].astype(float)
    pattern = int(rng.integers(4))
    if pattern == 0:  # ink blots
        field = _smooth_field(rng, side, int(rng.integers(3, 8)))
        image = np.where(field > np.percentile(field, rng.uniform(70, 92)), 0, 255)
    elif pattern == 1:  # concentric rings
        cx, cy = rng.uniform(0, side, 2)
        image = (np.sin(np.hypot(x - cx, y - cy) / rng.uniform(2, 6)) > 0) * 255
    elif pattern == 2:  # cell walls
        seeds = rng.uniform(0, side, (int(rng.integers(5, 20)), 2))
        dist = np.sort(np.hypot(x[..., None] - seeds[:, 0], y[..., None] - seeds[:, 1]), axis=-1)
        image = np.where(dist[..., 1] - dist[..., 0] < rng.uniform(1.5, 4), 0, 255)
    else:  # grey value noise
        image = _smooth_field(rng, side, int(rng.integers(8, 24)))
    return Image.fromarray(np.asarray(image, dtype=np.uint8))


def _photos() -> list[Image.Image]:
    folder = Path(matplotlib.get_data_path()) / "sample_data"
    names = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")
    return [Image.open(folder / name).convert("L") for name in names]


def _photo_crop(rng: np.random.Generator, fonts: list[str], photos: list[Image.Image]):
    photo = photos[rng.integers(len(photos))]
    side = int(rng.integers(40, min(photo.size) // 2))
    left = int(rng.integers(0, photo.size[0] - side))
    top = int(rng.integers(0, photo.size[1] - side))
    crop = photo.crop((left, top, left + side, top + side)).rotate(rng.uniform(-30, 30))
    return crop.resize((96, 96), Image.Resampling.BILINEAR)


def write_nondigits(out: Path, *, n_per_kind: int = 200, seed: int = 0) -> dict[str, list[Path]]:
    """Write ``out/nondigits/<kind>/<n>.png`` for every kind; return the files of each."""
    rng = np.random.default_rng(seed)
    fonts = find_fonts(EVALUATION_FONT_FAMILIES)
    if not fonts:
        raise SystemExit("no Liberation fonts found: install fonts-liberation")
    photos = _photos()
    draw: dict[str, Callable[[np.random.Generator, list[str]], Image.Image]] = {
        "font_letters": _font_letter,
        "stroke_letters": _stroke_letter,
        "stroke_shapes": _stroke_shape,
        "textures": _texture,
        "photo_crops": lambda rng, fonts: _photo_crop(rng, fonts, photos),
    }
    written: dict[str, list[Path]] = {}
    for kind in NONDIGIT_KINDS:
        folder = out / "nondigits" / kind
        folder.mkdir(parents=True, exist_ok=True)
        written[kind] = []
        while len(written[kind]) < n_per_kind:
            image = draw[kind](rng, fonts)
            try:  # one the reader calls blank never reaches a model
                preprocess_digit(image)
            except DataError:
                continue
            file = folder / f"{len(written[kind]):05d}.png"
            image.save(file)
            written[kind].append(file)
    return written


def write_digits(out: Path, *, n_strokes: int = 50, seed: int = 0) -> dict[str, list[Path]]:
    """Write ``out/digits/fonts`` (Liberation only) and ``out/digits/strokes``."""
    rng = np.random.default_rng(seed + 1)
    written: dict[str, list[Path]] = {"fonts": [], "strokes": []}
    for name in written:
        (out / "digits" / name).mkdir(parents=True, exist_ok=True)
    for path in find_fonts(EVALUATION_FONT_FAMILIES):
        for label in range(10):
            for size, weight in ((40, 0), (64, 3)):
                file = out / "digits" / "fonts" / f"{label}_{len(written['fonts']):05d}.png"
                draw_font_digit(label, path, size, weight, rng).save(file)
                written["fonts"].append(file)
    for i in range(n_strokes):
        for label in range(10):
            file = out / "digits" / "strokes" / f"{label}_{i * 10 + label:05d}.png"
            draw_stroke_digit(label, rng).save(file)
            written["strokes"].append(file)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("confidence-sets"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-kind", type=int, default=200, help="non-digits of each kind")
    parser.add_argument("--strokes", type=int, default=50, help="stroke digits per label")
    args = parser.parse_args(argv)
    sets = {
        **write_nondigits(args.out, n_per_kind=args.per_kind, seed=args.seed),
        **write_digits(args.out, n_strokes=args.strokes, seed=args.seed),
    }
    for name, files in sets.items():
        print(f"{len(files):5d} images in {os.path.dirname(files[0]) if files else name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

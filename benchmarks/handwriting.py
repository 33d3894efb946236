"""Digits that are not MNIST's, as image files: typeset in installed fonts, and drawn as strokes.

MNIST's digits come from one population of writers, one kind of pen and one
scanner. A user's digits are drawn on a page with a mouse, or photographed from
paper. This script makes two labelled sets of PNG files, dark ink on a light
page (as a user would photograph or scan them; ``skdigits predict`` turns them
into MNIST's white-on-black 28 x 28 layout itself):

- ``fonts/``: the digits 0-9 in every installed TrueType font outside the
  families that ``digit_variants`` typesets for training (DejaVu): here the 16
  Liberation fonts, each at two sizes, two pen weights and a random slant;
- ``strokes/``: digits drawn as pen strokes through jittered control points of
  hand-made templates, with random pen widths (thin to marker), sizes, aspect
  ratios, slants and rotations, smoothed as a hand would draw them.

Every file is named ``<label>_<n>.png``. Deterministic for a given ``--seed``.

    python benchmarks/handwriting.py --out handwriting/
    skdigits predict model.onnx handwriting/strokes/*.png --csv
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from skdigits.io._nondigits import TRAINING_FONT_FAMILIES

#: Control points of each digit's strokes in a unit box (x right, y down), as a
#: person might write it; each inner list is one stroke of the pen.
TEMPLATES: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [
        [[(0.5, 0.0), (0.15, 0.2), (0.1, 0.6), (0.45, 1.0), (0.85, 0.7), (0.85, 0.25), (0.5, 0.0)]],
        [
            [
                (0.5, 0.05),
                (0.2, 0.3),
                (0.25, 0.85),
                (0.6, 0.95),
                (0.8, 0.5),
                (0.65, 0.1),
                (0.45, 0.08),
            ]
        ],
    ],
    1: [
        [[(0.5, 0.0), (0.5, 1.0)]],
        [[(0.3, 0.2), (0.55, 0.0), (0.5, 1.0)]],
        [[(0.3, 0.2), (0.55, 0.0), (0.55, 1.0)], [(0.3, 1.0), (0.8, 1.0)]],
    ],
    2: [
        [[(0.15, 0.25), (0.5, 0.0), (0.85, 0.25), (0.6, 0.6), (0.1, 1.0), (0.9, 1.0)]],
        [[(0.1, 0.3), (0.45, 0.0), (0.85, 0.2), (0.75, 0.5), (0.15, 0.95), (0.5, 0.9), (0.9, 1.0)]],
    ],
    3: [
        [[(0.15, 0.1), (0.6, 0.0), (0.8, 0.25), (0.4, 0.5), (0.85, 0.7), (0.6, 1.0), (0.1, 0.9)]],
        [[(0.1, 0.05), (0.85, 0.05), (0.4, 0.45), (0.85, 0.65), (0.6, 1.0), (0.15, 0.9)]],
    ],
    4: [
        [[(0.6, 0.0), (0.1, 0.7), (0.9, 0.7)], [(0.65, 0.35), (0.65, 1.0)]],
        [[(0.2, 0.0), (0.15, 0.55), (0.85, 0.55)], [(0.7, 0.05), (0.7, 1.0)]],
    ],
    5: [
        [[(0.85, 0.0), (0.2, 0.0), (0.15, 0.45), (0.6, 0.4), (0.85, 0.7), (0.55, 1.0), (0.1, 0.9)]],
        [
            [(0.2, 0.0), (0.15, 0.45), (0.6, 0.4), (0.85, 0.7), (0.55, 1.0), (0.1, 0.9)],
            [(0.2, 0.0), (0.85, 0.0)],
        ],
    ],
    6: [
        [
            [
                (0.75, 0.0),
                (0.3, 0.3),
                (0.15, 0.75),
                (0.45, 1.0),
                (0.8, 0.75),
                (0.55, 0.5),
                (0.2, 0.65),
            ]
        ],
        [
            [
                (0.7, 0.05),
                (0.25, 0.45),
                (0.25, 0.9),
                (0.6, 0.95),
                (0.75, 0.65),
                (0.4, 0.5),
                (0.22, 0.7),
            ]
        ],
    ],
    7: [
        [[(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)]],
        [[(0.1, 0.1), (0.9, 0.0), (0.5, 1.0)], [(0.35, 0.5), (0.8, 0.5)]],
    ],
    8: [
        [
            [
                (0.5, 0.5),
                (0.2, 0.25),
                (0.5, 0.0),
                (0.8, 0.25),
                (0.5, 0.5),
                (0.15, 0.75),
                (0.5, 1.0),
                (0.85, 0.75),
                (0.5, 0.5),
            ]
        ],
        [
            [
                (0.75, 0.1),
                (0.5, 0.0),
                (0.25, 0.2),
                (0.75, 0.7),
                (0.5, 1.0),
                (0.2, 0.75),
                (0.75, 0.25),
                (0.75, 0.1),
            ]
        ],
    ],
    9: [
        [[(0.8, 0.3), (0.5, 0.5), (0.2, 0.3), (0.5, 0.0), (0.8, 0.3), (0.7, 1.0)]],
        [[(0.8, 0.2), (0.5, 0.0), (0.2, 0.25), (0.5, 0.45), (0.8, 0.2), (0.8, 1.0)]],
    ],
}


def _catmull_rom(points: np.ndarray, per_segment: int = 12) -> np.ndarray:
    """A smooth curve through ``points`` (a hand does not draw corners between them)."""
    if len(points) < 3:
        return points
    padded = np.vstack([points[0], points, points[-1]])
    curve = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        for t in np.linspace(0.0, 1.0, per_segment, endpoint=False):
            t2, t3 = t * t, t * t * t
            curve.append(
                0.5
                * (
                    2 * p1
                    + (-p0 + p2) * t
                    + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                    + (-p0 + 3 * p1 - 3 * p2 + p3) * t3
                )
            )
    curve.append(points[-1])
    return np.asarray(curve)


def draw_stroke_digit(label: int, rng: np.random.Generator, canvas: int = 160) -> Image.Image:
    """One digit drawn as pen strokes with a random hand: dark ink on a light page."""
    strokes = TEMPLATES[label][rng.integers(len(TEMPLATES[label]))]
    height = rng.uniform(0.45, 0.8) * canvas
    width = height * rng.uniform(0.5, 0.9)
    slant = rng.uniform(-0.35, 0.35)
    angle = math.radians(rng.uniform(-12, 12))
    pen = float(rng.choice([rng.uniform(2, 5), rng.uniform(5, 10), rng.uniform(10, 18)]))
    jitter = rng.uniform(0.02, 0.06)
    centre = np.array([canvas / 2, canvas / 2]) + rng.uniform(-0.1, 0.1, 2) * canvas
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    image = Image.new("L", (canvas, canvas), int(rng.integers(200, 256)))
    draw = ImageDraw.Draw(image)
    ink = int(rng.integers(0, 70))
    for stroke in strokes:
        pts = np.asarray(stroke, dtype=float) + rng.normal(0.0, jitter, (len(stroke), 2))
        pts = _catmull_rom(pts)
        xy = np.column_stack([(pts[:, 0] - 0.5) * width, (pts[:, 1] - 0.5) * height])
        xy[:, 0] -= slant * xy[:, 1]  # a right-leaning hand shifts the top right
        xy = xy @ rot.T + centre
        line = [tuple(p) for p in xy]
        draw.line(line, fill=ink, width=max(round(pen), 1), joint="curve")
        r = pen / 2
        for x, y in (line[0], line[-1]):  # round pen ends
            draw.ellipse([x - r, y - r, x + r, y + r], fill=ink)
    return image


def font_paths() -> list[str]:
    """Every TrueType font installed under the usual system directories, less the
    families training typesets digits in (``TRAINING_FONT_FAMILIES``): whole fonts
    held out, so a preset trained with ``digit_variants`` has never seen them."""
    found = set()
    for pattern in ("/usr/share/fonts/**/*.ttf", "/usr/local/share/fonts/**/*.ttf"):
        found.update(glob.glob(pattern, recursive=True))
    return sorted(p for p in found if not Path(p).name.startswith(TRAINING_FONT_FAMILIES))


def draw_font_digit(
    label: int, font_path: str, size: int, weight: int, rng: np.random.Generator
) -> Image.Image:
    """One digit typeset in a font, stroked ``weight`` px bolder, slanted a little."""
    canvas = 3 * size
    image = Image.new("L", (canvas, canvas), 255)
    font = ImageFont.truetype(font_path, size)
    ImageDraw.Draw(image).text(
        (canvas / 2, canvas / 2),
        str(label),
        fill=0,
        font=font,
        anchor="mm",
        stroke_width=weight,
        stroke_fill=0,
    )
    slant = rng.uniform(-0.25, 0.25)
    return image.transform(
        image.size, Image.Transform.AFFINE, (1, slant, -slant * canvas / 2, 0, 1, 0), fillcolor=255
    )


def write_sets(out: Path, *, seed: int = 0, n_strokes: int = 50) -> dict[str, list[Path]]:
    """Write ``out/fonts`` and ``out/strokes``; return the files of each set."""
    rng = np.random.default_rng(seed)
    written: dict[str, list[Path]] = {"fonts": [], "strokes": []}
    (out / "fonts").mkdir(parents=True, exist_ok=True)
    (out / "strokes").mkdir(parents=True, exist_ok=True)
    n = 0
    for path in font_paths():
        for label in range(10):
            for size, weight in ((40, 0), (64, 3)):
                image = draw_font_digit(label, path, size, weight, rng)
                file = out / "fonts" / f"{label}_{n:05d}.png"
                image.save(file)
                written["fonts"].append(file)
                n += 1
    for i in range(n_strokes):
        for label in range(10):
            file = out / "strokes" / f"{label}_{i * 10 + label:05d}.png"
            draw_stroke_digit(label, rng).save(file)
            written["strokes"].append(file)
    return written


def label_of(path: Path) -> int:
    return int(path.name.split("_")[0])


def predict_accuracy(model: Path, files: list[Path]) -> float:
    """The fraction of ``files`` that ``skdigits predict MODEL FILE...`` labels correctly.

    Runs the command line in a subprocess, exactly as a user would.
    """
    result = subprocess.run(
        [sys.executable, "-m", "skdigits", "predict", str(model), *map(str, files), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    predictions = json.loads(result.stdout)["predictions"]
    truth = {str(path): label_of(path) for path in files}
    return float(np.mean([p["label"] == truth[p["input"]] for p in predictions]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("handwriting"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strokes", type=int, default=50, help="stroke digits per label")
    parser.add_argument(
        "--model", type=Path, nargs="*", default=[], help="ONNX models to score on the sets"
    )
    args = parser.parse_args(argv)
    written = write_sets(args.out, seed=args.seed, n_strokes=args.strokes)
    for name, files in written.items():
        print(f"{len(files)} images in {args.out / name}")
    for model in args.model:
        scores = {name: predict_accuracy(model, files) for name, files in written.items()}
        print(model, ", ".join(f"{name} {100 * acc:.1f} %" for name, acc in scores.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

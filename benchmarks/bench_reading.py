"""Reading whole numbers: accuracy per kind of writing, against a naive reader, and speed.

Four labelled sets of numbers of 2-6 digits are built here, deterministically:

- ``mnist``: MNIST *test* digits set side by side, the gap between two digits'
  ink drawn from overlapping by 2 pixels to 20 pixels apart (some touching), each
  digit shifted up or down a little;
- ``fonts``: numbers typeset in every TrueType font installed, at several sizes,
  slanted, with letter spacing from tight (touching) to wide;
- ``strokes``: numbers whose digits are drawn as pen strokes by
  ``benchmarks/handwriting.py`` (random pens, slants, sizes), set side by side;
- ``photos``: MNIST-composed numbers enlarged and inked onto paper photographed
  under uneven light, with sensor noise, saved as JPEG.

Each number is read by :func:`skdigits.read_numbers` and by a naive reader that
takes every connected component (specks dropped) as one digit, as hobby MNIST
readers do. The script prints, per set, the share of numbers read exactly and
the digit accuracy (1 - edit distance / length), the share read exactly when
the reader is told how many digits there are; how often it reads a one-digit
picture as ``predict`` does (MNIST, stroke and font digits); and the cost of reading a
four-digit number against predicting the same four digits already cut out
(each prepared by ``preprocess_digit``, then one ``predict_proba``), measured
side by side in one run. A second table reads MNIST-composed numbers by the
kind of gap between their digits.

    python benchmarks/bench_reading.py --model models/fast.onnx
    python benchmarks/bench_reading.py --model models/mnist.onnx --per-set 100
"""

from __future__ import annotations

import argparse
import io
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))
from handwriting import draw_font_digit, draw_stroke_digit, font_paths

Number = tuple[str, np.ndarray]  # the true text and the picture


# ---------------------------------------------------------------- the sets


def _digits(count: int, rng: np.random.Generator) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, count))


def _ink_box(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    cols = np.flatnonzero(ink.max(axis=0) > 0)
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _side_by_side(glyphs: list[np.ndarray], gaps: list[int], shifts: list[int]) -> np.ndarray:
    """White-on-black glyphs on one black line, ``gaps[i]`` pixels between glyph i and i + 1."""
    height = max(g.shape[0] for g in glyphs) + 2 * max(abs(s) for s in shifts) + 8
    width = sum(g.shape[1] for g in glyphs) + sum(gaps) + 16
    line = np.zeros((height, max(width, 8)), np.float32)
    x = 8
    for glyph, gap, shift in zip(glyphs, [*gaps, 0], shifts, strict=True):
        top = (height - glyph.shape[0]) // 2 + shift
        region = line[top : top + glyph.shape[0], x : x + glyph.shape[1]]
        np.maximum(region, glyph, out=region)
        x += glyph.shape[1] + gap
    return line


def _gap(rng: np.random.Generator, height: int) -> int:
    """From overlapping to wide: a quarter each overlapping or touching, close, apart, wide."""
    kind = rng.integers(4)
    if kind == 0:
        return int(rng.integers(-2, 1))  # overlapping or touching
    if kind == 1:
        return int(rng.integers(1, 4))
    if kind == 2:
        return int(rng.integers(4, 10))
    return int(rng.integers(10, max(11, height)))


def mnist_numbers(X: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> list[Number]:
    """MNIST test digits side by side, white on black, as MNIST is."""
    by_label = [np.flatnonzero(y == d) for d in range(10)]
    numbers = []
    for _ in range(n):
        text = _digits(int(rng.integers(2, 7)), rng)
        glyphs = [_ink_box(X[rng.choice(by_label[int(c)])].astype(np.float32)) for c in text]
        gaps = [_gap(rng, 20) for _ in text[1:]]
        shifts = [int(rng.integers(-2, 3)) for _ in text]
        numbers.append((text, _side_by_side(glyphs, gaps, shifts).astype(np.uint8)))
    return numbers


def font_numbers(n: int, rng: np.random.Generator) -> list[Number]:
    """Numbers typeset in installed fonts: dark on a light page, slanted, spaced variously."""
    fonts = font_paths()
    numbers = []
    for i in range(n):
        text = _digits(int(rng.integers(2, 7)), rng)
        size = int(rng.choice([24, 32, 48, 72]))
        font = ImageFont.truetype(fonts[i % len(fonts)], size)
        glyphs = []
        for c in text:
            canvas = Image.new("L", (2 * size, 2 * size), 0)
            ImageDraw.Draw(canvas).text((size, size), c, fill=255, font=font, anchor="mm")
            glyphs.append(_ink_box(np.asarray(canvas, np.float32)))
        spacing = rng.uniform(-0.05, 0.5) * size
        line = _side_by_side(glyphs, [round(spacing)] * (len(text) - 1), [0] * len(text))
        slant = rng.uniform(-0.3, 0.3)
        pad = int(abs(slant) * line.shape[0]) + 4
        page = Image.fromarray(255 - np.pad(line, ((0, 0), (pad, pad))).astype(np.uint8))
        page = page.transform(
            page.size,
            Image.Transform.AFFINE,
            (1, slant, -slant * page.height / 2, 0, 1, 0),
            fillcolor=255,
            resample=Image.Resampling.BILINEAR,
        )
        numbers.append((text, np.asarray(page)))
    return numbers


def stroke_numbers(n: int, rng: np.random.Generator) -> list[Number]:
    """Digits drawn as pen strokes (one random hand each), set side by side, dark on light."""
    numbers = []
    for _ in range(n):
        text = _digits(int(rng.integers(2, 7)), rng)
        glyphs = []
        for c in text:
            page = np.asarray(draw_stroke_digit(int(c), rng), np.float32)
            paper = float(np.median(page))
            glyphs.append(_ink_box(np.where(page < paper - 40, paper - page, 0.0)))
        height = max(g.shape[0] for g in glyphs)
        gaps = [_gap(rng, height) * max(1, height // 40) for _ in text[1:]]
        shifts = [int(rng.integers(-3, 4)) for _ in text]
        line = _side_by_side(glyphs, gaps, shifts)
        numbers.append((text, (255 - np.clip(line, 0, 255)).astype(np.uint8)))
    return numbers


#: The gaps between digits' ink in pixels (MNIST digits are about 20 tall), by kind.
GAPS = {
    "10-20 apart": (10, 21),
    "3-9 apart": (3, 10),
    "1-2 apart": (1, 3),
    "touching (0)": (0, 1),
    "overlapping 1-2": (-2, 0),
}


def mnist_numbers_by_gap(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> dict:
    """``n`` MNIST-composed numbers for each kind of gap in :data:`GAPS`."""
    by_label = [np.flatnonzero(y == d) for d in range(10)]
    sets = {}
    for kind, (low, high) in GAPS.items():
        rng = np.random.default_rng(seed)
        numbers = []
        for _ in range(n):
            text = _digits(int(rng.integers(2, 7)), rng)
            glyphs = [_ink_box(X[rng.choice(by_label[int(c)])].astype(np.float32)) for c in text]
            gaps = [int(rng.integers(low, high)) for _ in text[1:]]
            shifts = [int(rng.integers(-2, 3)) for _ in text]
            numbers.append((text, _side_by_side(glyphs, gaps, shifts).astype(np.uint8)))
        sets[kind] = numbers
    return sets


def photo_numbers(mnist: list[Number], rng: np.random.Generator) -> list[Number]:
    """MNIST-composed numbers written on paper and photographed: uneven light, noise, JPEG."""
    numbers = []
    for text, line in mnist:
        scale = float(rng.uniform(2.0, 4.0))
        size = (round(line.shape[1] * scale), round(line.shape[0] * scale))
        cover = np.asarray(Image.fromarray(line).resize(size, Image.Resampling.BICUBIC))
        cover = np.clip(cover.astype(np.float32) / 255.0, 0.0, 1.0)
        height, width = cover.shape[0] + 80, cover.shape[1] + 80
        page_cover = np.zeros((height, width), np.float32)
        page_cover[40 : 40 + cover.shape[0], 40 : 40 + cover.shape[1]] = cover
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:height, 0:width]
        ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height) / 2 + 0.5
        light = 1.0 - rng.uniform(0.2, 0.45) * ramp  # up to 45 % darker on one side
        page = (230.0 * (1 - page_cover) + 35.0 * page_cover) * light
        page += rng.normal(0.0, 4.0, page.shape)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=70)
        numbers.append((text, np.asarray(Image.open(buffer))))
    return numbers


def single_digits(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> dict[str, list[Number]]:
    """One digit per picture: the first ``n`` MNIST test digits (an 8-pixel margin
    added), ``n // 4`` digits drawn as pen strokes and ``n // 4`` typeset in the
    installed fonts (40 and 64 px, bolder by 0 or 3 px)."""
    rng = np.random.default_rng(seed)
    fonts = font_paths()
    strokes = [int(label) for label in rng.integers(0, 10, n // 4)]
    typeset = [(i % 10, fonts[(i // 10) % len(fonts)]) for i in range(n // 4)]
    return {
        "mnist": [(str(int(label)), np.pad(X[i], 8)) for i, label in enumerate(y[:n])],
        "strokes": [(str(d), np.asarray(draw_stroke_digit(d, rng))) for d in strokes],
        "fonts": [
            (str(d), np.asarray(draw_font_digit(d, f, (40, 64)[i % 2], 3 * (i % 2), rng)))
            for i, (d, f) in enumerate(typeset)
        ],
    }


# ---------------------------------------------------------------- readers and scores


def naive_reader(predictor) -> Callable[[np.ndarray], str]:
    """One digit per connected component (specks dropped), left to right."""
    from skdigits.io._images import preprocess_digit
    from skdigits.io._segment import _CORE_LEVEL, _label, _marks, _number_ink, _run_boxes

    def read(picture: np.ndarray) -> str:
        try:
            ink, photo, _, _ = _number_ink(picture)
        except Exception:
            return ""
        labels, runs = _label(ink >= _CORE_LEVEL)
        keep = _marks(labels, runs, ink, photo)
        _, _, x0, _ = _run_boxes(runs, len(keep) - 1)
        order = [c for c in np.argsort(x0) if keep[c]]
        images = np.stack([preprocess_digit(np.where(labels == c, ink, 0)) for c in order])
        return "".join(str(d) for d in predictor.predict_proba(images).argmax(axis=1))

    return read


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def score(texts: list[str], truth: list[str]) -> tuple[float, float]:
    """Exact-number accuracy and digit accuracy (1 - edit distance / length, at least 0)."""
    exact = np.mean([t == u for t, u in zip(texts, truth, strict=True)])
    digit = np.mean(
        [max(0.0, 1 - edit_distance(t, u) / len(u)) for t, u in zip(texts, truth, strict=True)]
    )
    return float(exact), float(digit)


def read_all(predictor, numbers: list[Number], *, known_length: bool = False) -> list[str]:
    """What read_numbers reads in each picture ("" where it refuses), told the true
    number of digits if ``known_length`` (a form field's length)."""
    from skdigits import DataError, read_numbers

    texts = []
    for text, picture in numbers:
        try:
            length = len(text) if known_length else None
            texts.append(read_numbers(predictor, picture, length=length)[0].text)
        except DataError:
            texts.append("")
    return texts


def predict_all(predictor, numbers: list[Number]) -> list[str]:
    """What ``skdigits predict`` says of each one-digit picture (the whole picture as
    one digit)."""
    from skdigits.io import preprocess_digit

    images = np.stack([preprocess_digit(picture) for _, picture in numbers])
    return [str(int(label)) for label in np.asarray(predictor.predict_proba(images)).argmax(1)]


def speed_ratio(predictor, X: np.ndarray, rng: np.random.Generator, repeats: int) -> dict:
    """Seconds to read a 4-digit number and to predict its 4 digits cut out, side by side:
    the median and the fastest of ``repeats`` interleaved runs of each (on a shared
    machine the fastest is the cost of the work itself, the median adds the load)."""
    from skdigits import read_numbers
    from skdigits.io import preprocess_digit

    picks = rng.choice(len(X), 4, replace=False)
    glyphs = [_ink_box(X[i].astype(np.float32)) for i in picks]
    number = _side_by_side(glyphs, [8, 8, 8], [0, 0, 0, 0]).astype(np.uint8)
    cut_out = [np.pad(g, 4).astype(np.uint8) for g in glyphs]  # each digit on its own

    def read() -> None:
        read_numbers(predictor, number)

    def predict() -> None:
        predictor.predict_proba(np.stack([preprocess_digit(d) for d in cut_out]))

    timings = {read: [], predict: []}
    for _ in range(repeats):  # interleaved: both see the same machine load
        for call in (read, predict):
            start = time.perf_counter()
            call()
            timings[call].append(time.perf_counter() - start)
    return {
        how: (float(summary(timings[read])), float(summary(timings[predict])))
        for how, summary in (("median", np.median), ("fastest", np.min))
    }


def build_sets(per_set: int, seed: int) -> dict[str, list[Number]]:
    from skdigits.datasets import fetch_mnist

    X, y = fetch_mnist(subset="test", return_X_y=True)
    rng = np.random.default_rng(seed)
    mnist = mnist_numbers(X, y, per_set, rng)
    return {
        "mnist": mnist,
        "fonts": font_numbers(per_set, rng),
        "strokes": stroke_numbers(per_set, rng),
        "photos": photo_numbers(mnist_numbers(X, y, per_set, rng), rng),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="an .onnx or .skdigits model")
    parser.add_argument("--per-set", type=int, default=300, help="numbers in each set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=200, help="timings of the speed ratio")
    parser.add_argument("--sets", nargs="*", help="only these sets")
    parser.add_argument(
        "--single",
        type=int,
        default=2000,
        help="MNIST digits read alone (a quarter as many stroke and font digits)",
    )
    args = parser.parse_args(argv)

    from skdigits import load_predictor
    from skdigits.datasets import fetch_mnist

    predictor = load_predictor(args.model)
    sets = build_sets(args.per_set, args.seed)
    total = sum(len(numbers) for numbers in sets.values())
    print(f"model {args.model}; {total} numbers of 2-6 digits; {platform.processor() or ''}")
    print(
        "\n| set | numbers | read: exact | read: digits | read, length known: exact "
        "| naive: exact | naive: digits |"
    )
    print("|---|---|---|---|---|---|---|")
    naive = naive_reader(predictor)
    for name, numbers in sets.items():
        if args.sets and name not in args.sets:
            continue
        truth = [text for text, _ in numbers]
        exact, digits = score(read_all(predictor, numbers), truth)
        told, _ = score(read_all(predictor, numbers, known_length=True), truth)
        naive_exact, naive_digits = score([naive(p) for _, p in numbers], truth)
        print(
            f"| {name} | {len(numbers)} | {exact:.1%} | {digits:.1%} | {told:.1%} | "
            f"{naive_exact:.1%} | {naive_digits:.1%} |"
        )
    X, y = fetch_mnist(subset="test", return_X_y=True)
    print("\n| MNIST digits, gap between their ink | numbers | read: exact | read: digits |")
    print("|---|---|---|---|")
    for kind, numbers in mnist_numbers_by_gap(X, y, args.per_set // 2, args.seed).items():
        exact, digits = score(read_all(predictor, numbers), [text for text, _ in numbers])
        print(f"| {kind} | {len(numbers)} | {exact:.1%} | {digits:.1%} |")
    print("\n| one digit alone | pictures | read: right | predict: right | read = predict |")
    print("|---|---|---|---|---|")
    for name, numbers in single_digits(X, y, args.single, args.seed).items():
        truth = [text for text, _ in numbers]
        read, predicted = read_all(predictor, numbers), predict_all(predictor, numbers)
        agree = np.mean([a == b for a, b in zip(read, predicted, strict=True)])
        print(
            f"| {name} | {len(numbers)} | {score(read, truth)[0]:.2%} | "
            f"{score(predicted, truth)[0]:.2%} | {agree:.2%} |"
        )
    speeds = speed_ratio(predictor, X, np.random.default_rng(args.seed), args.repeats)
    print(
        f"\n| of {args.repeats} runs | read a 4-digit number | predict its 4 digits cut out "
        "| ratio |"
    )
    print("|---|---|---|---|")
    for how, (reading, predicting) in speeds.items():
        print(
            f"| {how} | {reading * 1e3:.2f} ms | {predicting * 1e3:.2f} ms | "
            f"{reading / predicting:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

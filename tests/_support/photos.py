"""A generated "photos" test set: MNIST test digits written on paper and photographed badly.

Each MNIST digit is enlarged, inked onto a page and put through one condition a
phone photo of a handwritten digit meets: lighting that falls off across the page
in any direction, vignetting, a shadow with a soft edge, grey paper, dim light
falling from one corner of grey paper, ruled paper
(blue lines and a red margin), JPEG at quality 30, slight blur, a 12 MP phone
picture, and all of the worst at once. The page, the digit's size and place and
the lighting's direction are random but seeded: the same call gives the same files.

Used by ``tests/io/test_photos.py`` (accuracy floor). Run it to write the set as
files, to look at them or to feed ``benchmarks/bench_photos.py`` (accuracy per
condition), which reads such a folder and imports nothing from the tests::

    python tests/_support/photos.py OUT_DIR [--per-condition N]

Besides the images it writes ``photos.csv``: one row per photo with its file name,
condition, true label and the index of its digit in the MNIST test set.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

MANIFEST = "photos.csv"  # what ``main`` writes beside the images
PAGE = (480, 360)  # width, height of an ordinary test photo
PHONE = (4000, 3000)  # 12 MP


@dataclass(frozen=True)
class Photo:
    condition: str
    label: int
    data: bytes  # an encoded image file (PNG or JPEG)
    suffix: str


def _lighting_gradient(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Brightness falling linearly from 105 % to 70 % across the page, in a random direction."""
    height, width = shape
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (xs / width - 0.5) * math.cos(angle) + (ys / height - 0.5) * math.sin(angle)
    t = (t - t.min()) / (t.max() - t.min())
    return (1.05 - 0.35 * t).astype(np.float32)


def _vignette(shape: tuple[int, int]) -> np.ndarray:
    """Corners at 55 % of the centre's brightness."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((xs / width - 0.5) ** 2 + (ys / height - 0.5) ** 2) / 0.5
    return (1.0 - 0.45 * r2).astype(np.float32)


def corner_light(shape: tuple[int, int]) -> np.ndarray:
    """Dim light falling from one corner, on grey paper: ``(175 - 60x + 20y)(1 - 0.35r^2) / 175``.

    ``x`` and ``y`` run from 0 to 1 across the page from its top-left corner and
    ``r`` is the distance from that corner: the paper is at 175 there and under 45
    in the far corner, darker than mid-grey over most of the page.
    """
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = xs / (width - 1), ys / (height - 1)
    return ((175.0 - 60.0 * x + 20.0 * y) * (1.0 - 0.35 * (x * x + y * y)) / 175.0).astype(
        np.float32
    )


def _shadow(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A hand's or phone's shadow: one side of a random line 40 % darker, edge soft."""
    height, width = shape
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    offset = rng.uniform(-0.3, 0.3)
    d = (xs / width - 0.5) * math.cos(angle) + (ys / height - 0.5) * math.sin(angle) - offset
    edge = 0.02
    return (1.0 - 0.4 / (1.0 + np.exp(-d / edge))).astype(np.float32)


def _render(
    digit: np.ndarray,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = PAGE,
    paper: float = 235.0,
    ink: float = 30.0,
    lighting: np.ndarray | None = None,
    ruled: bool = False,
    blur: float = 0.0,
    noise: float = 3.0,
    digit_fraction: tuple[float, float] = (0.35, 0.6),
) -> Image.Image:
    """One page (RGB) with ``digit`` (MNIST, white on black) written on it."""
    width, height = size
    side = int(height * rng.uniform(*digit_fraction))
    stroke = np.asarray(
        Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC), dtype=np.float32
    )
    coverage = np.zeros((height, width), np.float32)
    top = int(rng.integers(height // 20, height - side - height // 20 + 1))
    left = int(rng.integers(width // 20, width - side - width // 20 + 1))
    coverage[top : top + side, left : left + side] = np.clip(stroke / 255.0, 0.0, 1.0)

    page = np.full((height, width, 3), paper, np.float32)
    if ruled:
        spacing = max(8, height // 9)
        thickness = max(1, height // 300)
        for y in range(spacing // 2, height, spacing):
            page[y : y + thickness] = (paper * 0.78, paper * 0.85, paper)  # light blue
        margin = width // 8
        page[:, margin : margin + thickness] = (paper, paper * 0.6, paper * 0.6)  # red
    ink_rgb = np.array([ink, ink, ink * 1.6], np.float32)  # blue-black pen
    page = page * (1.0 - coverage[..., None]) + ink_rgb * coverage[..., None]
    if lighting is not None:
        page *= lighting[..., None]
    page += rng.normal(0.0, noise, page.shape).astype(np.float32)
    img = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8), "RGB")
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    return img


def _encode(img: Image.Image, fmt: str, quality: int = 90) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, format="JPEG", quality=quality)
        return buf.getvalue(), ".jpg"
    img.save(buf, format="PNG")
    return buf.getvalue(), ".png"


def _phone(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A 12 MP picture: rendered at a quarter of the size, enlarged as a camera's
    demosaicing and sharpening would, so its noise is blotchy rather than per pixel."""
    width, height = PHONE[0] // 4, PHONE[1] // 4
    lighting = _lighting_gradient(rng, (height, width)) * _vignette((height, width))
    small = _render(
        digit,
        rng,
        size=(width, height),
        lighting=lighting,
        noise=4.0,
        blur=0.7,
        digit_fraction=(0.15, 0.3),
    )
    return small.resize(PHONE, Image.Resampling.BICUBIC)


Condition = Callable[[np.ndarray, np.random.Generator], tuple[bytes, str]]

CONDITIONS: dict[str, Condition] = {
    "clean": lambda d, r: _encode(_render(d, r), "PNG"),
    "gradient": lambda d, r: _encode(
        _render(d, r, lighting=_lighting_gradient(r, PAGE[::-1])), "PNG"
    ),
    "vignette": lambda d, r: _encode(_render(d, r, lighting=_vignette(PAGE[::-1])), "PNG"),
    "shadow": lambda d, r: _encode(_render(d, r, lighting=_shadow(r, PAGE[::-1])), "PNG"),
    "grey paper": lambda d, r: _encode(_render(d, r, paper=165.0, ink=45.0), "PNG"),
    "ruled paper": lambda d, r: _encode(_render(d, r, ruled=True), "PNG"),
    "jpeg q30": lambda d, r: _encode(_render(d, r), "JPEG", quality=30),
    "blur": lambda d, r: _encode(_render(d, r, blur=2.5), "PNG"),
    "phone 12 MP": lambda d, r: _encode(_phone(d, r), "JPEG", quality=85),
    "all at once": lambda d, r: _encode(
        _render(
            d,
            r,
            paper=190.0,
            ink=50.0,
            ruled=True,
            blur=1.5,
            noise=5.0,
            lighting=_lighting_gradient(r, PAGE[::-1]) * _vignette(PAGE[::-1]),
        ),
        "JPEG",
        quality=30,
    ),
    "dim corner light": lambda d, r: _encode(
        _render(d, r, paper=175.0, ink=45.0, lighting=corner_light(PAGE[::-1])), "PNG"
    ),
}


def make_photos(
    images: np.ndarray, labels: np.ndarray, *, per_condition: int = 10, seed: int = 0
) -> Iterator[Photo]:
    """``per_condition`` photos for each condition, of MNIST digits taken in order.

    Every condition sees different digits (the first ``per_condition`` for the
    first condition, the next for the second, ...).
    """
    rng = np.random.default_rng(seed)
    needed = per_condition * len(CONDITIONS)
    if len(images) < needed:
        raise ValueError(f"need {needed} images, got {len(images)}")
    i = 0
    for name, make in CONDITIONS.items():
        for _ in range(per_condition):
            data, suffix = make(np.asarray(images[i], np.uint8), rng)
            yield Photo(name, int(labels[i]), data, suffix)
            i += 1


# ---------------------------------------------------------------- pictures that cost
# Not photos: small files that once cost seconds or hundreds of megabytes to read
# (tests/security/test_images.py and test_service.py check their bounds).


def many_page_tiff(pages: int) -> bytes:
    """A TIFF of ``pages`` one-pixel pages, 102 bytes each, all sharing one pixel byte."""
    entries = [(256, 1), (257, 1), (258, 8), (259, 1), (262, 1), (273, 8), (278, 1), (279, 1)]
    size = 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", 10) + b"\x00\x00")  # pixel at 8
    for page in range(pages):
        following = 10 + (page + 1) * size if page < pages - 1 else 0
        out += struct.pack("<H", len(entries))
        for tag, value in entries:
            if tag in (273, 279):  # strip offset and byte count: LONG
                out += struct.pack("<HHII", tag, 4, 1, value)
            else:  # SHORT, padded to the entry's four value bytes
                out += struct.pack("<HHIHH", tag, 3, 1, value, 0)
        out += struct.pack("<I", following)
    return bytes(out)


def long_strip_png(width: int = 191, height: int = 87_838) -> bytes:
    """A 191x87,838 strip (16.8 MP, under the pixel limit) lit from dark to light, one mark."""
    page = np.repeat(np.linspace(90, 230, height).astype(np.uint8)[:, None], width, axis=1)
    page[40_000:40_120, 60:80] = 20
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, format="PNG")
    return buf.getvalue()


def many_scan_jpeg(side: int = 4096, scans: int = 2000) -> bytes:
    """A black progressive JPEG, ``side`` pixels square, its smallest scan repeated ``scans``
    times: each scan is a pass over the whole picture (19 s to decode at the defaults)."""
    buf = io.BytesIO()
    Image.new("L", (side, side), 0).save(buf, format="JPEG", progressive=True, quality=95)
    data = buf.getvalue()
    starts = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\xff\xda"]
    ends = [*starts[1:], len(data) - 2]  # the last scan runs to the end-of-image marker
    smallest = min((data[a:b] for a, b in zip(starts, ends, strict=True)), key=len)
    return data[:-2] + smallest * scans + data[-2:]


def png_with_chunk(kind: bytes, payload: bytes, copies: int) -> bytes:
    """A 28x28 black PNG with ``copies`` chunks ``kind`` holding ``payload`` before its pixels."""
    body = kind + payload
    chunk = struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))
    buf = io.BytesIO()
    Image.new("L", (28, 28), 0).save(buf, format="PNG")
    data = buf.getvalue()
    return data[:33] + chunk * copies + data[33:]  # after the signature and IHDR


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the generated photos test set.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-condition", type=int, default=10)
    args = parser.parse_args()
    from skdigits.datasets import fetch_mnist

    X, y = fetch_mnist(subset="test", return_X_y=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / MANIFEST, "w", newline="") as fh:
        rows = csv.writer(fh)
        rows.writerow(["file", "condition", "label", "mnist_test_index"])
        for n, photo in enumerate(make_photos(X, y, per_condition=args.per_condition)):
            slug = photo.condition.replace(" ", "-")
            name = f"{n:03d}-{slug}-{photo.label}{photo.suffix}"
            (args.out / name).write_bytes(photo.data)
            rows.writerow([name, photo.condition, photo.label, n])
    print(f"wrote {n + 1} photos and {MANIFEST} to {args.out}")


if __name__ == "__main__":
    main()

"""Hostile image files: ``load_digit_image`` refuses them in one line, everywhere.

Not an image, an empty file, a decompression bomb, an animation, a truncated
file, a blank page under a lighting gradient, raw pixels said to be in [0, 1];
``/dev/zero``; a GIF on which Pillow raised IndexError, through Python, the CLI
and the service; bounded fuzzing over eight image formats. The checks are in
``tests/_support/hostile.py``.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from skdigits import DataError  # noqa: E402
from skdigits.io._images import MAX_IMAGE_PIXELS, load_digit_image  # noqa: E402
from skdigits.io._inputs import to_mnist_convention  # noqa: E402
from skdigits.serve._limits import decode_memory_bound  # noqa: E402
from tests._support.files import write  # noqa: E402
from tests._support.hostile import (  # noqa: E402
    BAD_GIF,
    FUZZ,
    NOISE,
    Bound,
    Case,
    Translated,
    assert_one_line,
    bound_test,
    check_bound,
    item_ids,
    mutated,
    outcome,
    png,
    refusal_test,
    translation_test,
)
from tests._support.onnx_models import build_model  # noqa: E402
from tests._support.photos import (  # noqa: E402
    long_strip_png,
    many_page_tiff,
    many_scan_jpeg,
    png_with_chunk,
)


def lit_blank_page() -> Image.Image:
    """A blank page whose light falls from 105 % to 70 % across it, with sensor noise."""
    xs = np.mgrid[0:300, 0:400][1]
    noise = np.random.default_rng(0).normal(0, 3, xs.shape)
    return Image.fromarray(np.clip(235 * (1.05 - 0.35 * xs / 400) + noise, 0, 255).astype(np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares huge dimensions but holds no pixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def animated_gif(path: Path) -> Path:
    frames = [Image.new("L", (28, 28), shade) for shade in (0, 255)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def load_image(path: Path) -> Any:
    return load_digit_image(path)


CASES: list[Case] = [
    Case(
        "predictor",
        "image-not-an-image",
        lambda e: load_image(write(e.tmp / "notes.png", b"shopping list\n")),
        DataError,
        r"is not a supported image",
    ),
    Case(
        "predictor",
        "image-empty-file",
        lambda e: load_image(write(e.tmp / "empty.png", b"")),
        DataError,
        r"is an empty file \(0 bytes\); save or upload it again",
    ),
    Case(
        "predictor",
        "image-decompression-bomb",
        lambda e: load_image(write(e.tmp / "bomb.png", png_header_only(40000, 40000))),
        DataError,
        r"is too large to decode safely .*scale it down to at most 4096x4096",
    ),
    Case(
        "predictor",
        "image-animated",
        lambda e: load_image(animated_gif(e.tmp / "anim.gif")),
        DataError,
        r"animated",
    ),
    Case(
        "predictor",
        "image-truncated",
        lambda e: load_image(
            write(e.tmp / "cut.png", png(Image.effect_noise((200, 200), 60))[:500])
        ),
        DataError,
        r"truncated or damaged",
    ),
    Case(
        "predictor",
        "image-blank-page-under-a-lighting-gradient",
        lambda e: load_image(write(e.tmp / "page.png", png(lit_blank_page()))),
        DataError,
        r"page\.png' is blank: no digit found, only marks too faint to tell from the paper "
        r"or its noise; draw or write the digit darker",
    ),
    Case(
        "predictor",
        "array-said-to-be-0-1-but-raw",
        lambda e: to_mnist_convention(NOISE, scale="1"),
        DataError,
        r"X has values up to 255, but scale '1' \(--scale 1\) says they lie in \[0, 1\]",
    ),
]


test_hostile_input_is_refused_with_a_clear_message = refusal_test(CASES)


BOUNDS: list[Bound] = [
    Bound(
        5,
        "image-dev-zero",
        lambda d: "from skdigits.io._images import load_digit_image; load_digit_image('/dev/zero')",
        "DataError",
        r"image '/dev/zero' is not a regular file",
        peak_mb=150,
        address_space_mb=768,
    ),
]


test_a_small_hostile_file_costs_bounded_time_and_memory = bound_test(BOUNDS)


def timed_load(path: Path) -> str:
    """Code loading ``path``, writing the CPU seconds it took to ``cpu-seconds``."""
    return (
        "import time\nfrom skdigits.io._images import load_digit_image\n"
        "cpu_start = time.process_time()\ntry:\n"
        f"    load_digit_image({str(path)!r})\n"
        "finally:\n"
        "    open('cpu-seconds', 'w').write(str(time.process_time() - cpu_start))\n"
    )


#: Refused from the header: well under a second of CPU, and little memory. The
#: TIFF's pages were counted for the message (17.8 s, quadratic in the pages); the
#: strip went through the photo path (5 s and 546 MB).
REFUSED_FAST: list[Bound] = [
    Bound(
        1,
        "tiff-of-36000-pages",
        lambda d: timed_load(write(d / "pages.tif", many_page_tiff(36_000))),
        "DataError",
        r"pages\.tif' is animated or has several pages; pass a single still image",
        peak_mb=150,
        address_space_mb=768,
    ),
    Bound(
        2,
        "png-strip-191x87838",
        lambda d: timed_load(write(d / "strip.png", long_strip_png())),
        "DataError",
        r"strip\.png' is 191x87838 pixels, a strip too narrow to frame one digit \(at most "
        r"32 times as long as wide\); crop it around the digit",
        peak_mb=150,
        address_space_mb=768,
    ),
]


REFUSED_FAST.append(
    Bound(
        8,
        "jpeg-of-2000-scans",
        lambda d: timed_load(write(d / "scans.jpg", many_scan_jpeg())),
        "DataError",
        r"scans\.jpg' is a JPEG of more than 64 scans, which would take minutes to decode",
        peak_mb=150,
        address_space_mb=768,
    )
)


# Compressed text and colour profiles: Pillow caps what it inflates (1 MB a chunk,
# 64 MB of text in all), so a 200 KB file of 1 MB texts stops early, and cheaply.
TEXT_BOMB = b"comment\0\0" + zlib.compress(b"a" * (1 << 20), 9)
ICC_BOMB = b"profile\0\0" + zlib.compress(b"a" * (64 << 20), 9)
REFUSED_FAST += [
    Bound(
        8,
        f"png-{what}",
        lambda d, k=kind, p=payload, n=copies: timed_load(
            write(d / "chunks.png", png_with_chunk(k, p, n))
        ),
        "DataError",
        r"chunks\.png' is truncated or damaged \(ValueError: ",
        peak_mb=150,
        address_space_mb=768,
    )
    for what, kind, payload, copies in (
        ("200-texts-of-1MB", b"zTXt", TEXT_BOMB, 200),
        ("icc-profile-of-64MB", b"iCCP", ICC_BOMB, 1),
    )
]


@pytest.mark.parametrize("case", REFUSED_FAST, ids=item_ids(REFUSED_FAST))
def test_an_image_refused_from_its_header_costs_well_under_a_second(case, tmp_path):
    check_bound(case, tmp_path)
    assert float((tmp_path / "cpu-seconds").read_text()) < 0.5


def big_photo(mode: str, side: int = 4096) -> Image.Image:
    """A ``side``-pixel photo of a stroke under uneven light, in ``mode``: the photo path."""
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    page = 200 - 80 * xs + 20 * ys
    page[side // 4 : 3 * side // 4, side // 2 : side // 2 + side // 14] = 30
    grey = Image.fromarray(page.astype(np.uint8))
    if mode == "P":
        img = grey.convert("P")
        img.info["transparency"] = 0
        return img
    return grey.convert(mode)


def accepted(path: Path) -> str:
    """Code reading ``path`` as a digit, ending in SystemExit naming what it read."""
    return (
        "from skdigits.io._images import load_digit_image; "
        f"x = load_digit_image({str(path)!r}); raise SystemExit(f'read {{x.shape}}')"
    )


def _saved(d: Path, mode: str, fmt: str) -> Path:
    path = d / f"photo-{mode}.{fmt.lower()}"
    big_photo(mode).save(path, format=fmt, **({"transparency": 0} if mode == "P" else {}))
    return path


#: The memory one decode of a 16-megapixel picture takes, the service's bound per
#: decode slot: DECODE_BYTES_PER_PIXEL per pixel plus DECODE_WORKING_BYTES, plus the
#: interpreter with numpy and Pillow (about 35 MB). The photo path once took 546 MB.
DECODE_PEAK_MB = (decode_memory_bound(MAX_IMAGE_PIXELS) >> 20) + 40

ACCEPTED_BOUNDED: list[Bound] = [
    Bound(
        2,
        f"{fmt}-{mode}-4096x4096-photo",
        lambda d, m=mode, f=fmt: accepted(_saved(d, m, f)),
        "SystemExit",
        r"read \(28, 28\)",
        peak_mb=DECODE_PEAK_MB,
        address_space_mb=1024,
    )
    for mode, fmt in (("RGB", "PNG"), ("RGBA", "PNG"), ("P", "PNG"), ("RGB", "JPEG"))
]


test_a_large_photo_is_read_within_the_memory_of_one_decode_slot = bound_test(ACCEPTED_BOUNDED)


def service_upload(path: Path) -> Any:
    """POST the bad GIF to a real app (in-process); raise the answer as an exception."""
    from starlette.testclient import TestClient

    from skdigits.serve import create_app

    with TestClient(create_app(build_model(path / "m.onnx"))) as client:
        reply = client.post("/predict", content=BAD_GIF, headers={"content-type": "image/gif"})
    raise DataError(f"{reply.status_code}: {reply.json()['error']}")


TRANSLATED: list[Translated] = [
    Translated(
        7,
        "gif-index-error-in-the-animation-check",
        lambda d: load_image(write(d / "bad.gif", BAD_GIF)),
        DataError,
        r"image '.*bad\.gif' is truncated or damaged \(IndexError: ",
    ),
    Translated(
        7,
        "cli-predict-bad-gif",
        lambda d: ["predict", build_model(d / "m.onnx"), write(d / "bad.gif", BAD_GIF)],
        1,
        r"bad\.gif' is truncated or damaged \(IndexError",
    ),
    Translated(
        7,
        "service-bad-gif-is-a-422",
        service_upload,
        DataError,
        r"^422: image 'upload' is truncated or damaged \(IndexError",
    ),
]


test_a_raw_exception_becomes_a_skdigits_error = translation_test(TRANSLATED)


# ---------------------------------------------------------------- fuzzing


def _image_bases() -> list[bytes]:
    img = Image.fromarray((np.random.default_rng(0).random((16, 16)) * 255).astype(np.uint8))
    bases = []
    for fmt, options in (
        ("PNG", {}),
        ("JPEG", {}),
        ("BMP", {}),
        ("WEBP", {}),
        ("PPM", {}),
        ("TIFF", {"save_all": True, "append_images": [img]}),
        ("GIF", {"save_all": True, "append_images": [img, img]}),
        ("TIFF", {"compression": "tiff_lzw"}),
    ):
        buf = io.BytesIO()
        img.save(buf, format=fmt, **options)
        bases.append(buf.getvalue())
    return [*bases, BAD_GIF]


IMAGE_BASES = _image_bases()


@FUZZ
@given(data=st.data())
def test_fuzz_load_digit_image_raises_only_data_errors(data):
    content = data.draw(mutated(data.draw(st.sampled_from(IMAGE_BASES))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = outcome(load_digit_image, io.BytesIO(content))
    assert_one_line(result, DataError)
    assert isinstance(result, DataError) or result.shape == (28, 28)

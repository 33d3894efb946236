"""Tests for skdigits.io._images: pictures of digits → MNIST-style 28×28 arrays."""

from __future__ import annotations

import gc
import io
import struct
import textwrap
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from skdigits import DataError
from skdigits.io import _images as images_module
from skdigits.io._images import load_digit_image, load_digit_images, preprocess_digit

CANVAS = (300, 200)  # width, height: far larger than MNIST, digit off-centre


def draw_digit(
    digit: int, *, ink: int = 0, paper: int = 255, offset: tuple[int, int] = (0, 0), zoom: int = 1
) -> Image.Image:
    """A thick-stroked digit in the upper left of a large greyscale canvas."""
    img = Image.new("L", (CANVAS[0] * zoom, CANVAS[1] * zoom), paper)
    draw = ImageDraw.Draw(img)
    dx, dy = offset

    def at(*points: tuple[int, int]) -> list[tuple[int, int]]:
        return [((x + dx) * zoom, (y + dy) * zoom) for x, y in points]

    if digit == 1:
        draw.line(at((70, 30), (70, 150)), fill=ink, width=18 * zoom)
    elif digit == 0:
        draw.ellipse(at((30, 25), (110, 160)), outline=ink, width=16 * zoom)
    elif digit == 7:
        draw.line(at((40, 30), (100, 30)), fill=ink, width=14 * zoom)
        draw.line(at((100, 30), (50, 170)), fill=ink, width=14 * zoom)
    else:  # pragma: no cover - a typo in a test
        raise ValueError(digit)
    return img


def ink_box(x: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(x.max(axis=1) > 0)
    cols = np.flatnonzero(x.max(axis=0) > 0)
    return rows[0], rows[-1], cols[0], cols[-1]


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(x.shape)
    return float((x * ys).sum() / x.sum()), float((x * xs).sum() / x.sum())


def diff_up_to_one_pixel(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Largest and mean pixel difference, after the best shift by at most one pixel.

    Centring moves the digit by whole pixels, so a centre of mass lying on a half
    pixel (any symmetric digit) may land one pixel either way after the slightest
    change in the pixels, as in MNIST itself.
    """
    padded = np.pad(a, 1)
    shifted = (padded[1 + dy : 29 + dy, 1 + dx : 29 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    diffs = [np.abs(s - b) for s in shifted]
    best = min(diffs, key=lambda d: float(d.mean()))
    return float(best.max()), float(best.mean())


@pytest.fixture(scope="module")
def seven() -> np.ndarray:
    """The reference result: a dark 7 on white paper, from memory."""
    return preprocess_digit(draw_digit(7))


# ---------------------------------------------------------------- MNIST format


@pytest.mark.parametrize("digit", [0, 1, 7])
def test_drawn_digit_comes_out_in_mnist_format(digit: int, tmp_path: Path) -> None:
    path = tmp_path / f"{digit}.png"
    draw_digit(digit).save(path)

    x = load_digit_image(path)

    assert x.shape == (28, 28)
    assert x.dtype == np.float32
    assert x.min() >= 0.0
    assert x.max() == pytest.approx(255.0, abs=6)  # bright ink
    top, bottom, left, right = ink_box(x)
    assert max(bottom - top + 1, right - left + 1) == 20  # longer side scaled to 20
    assert min(top, left) >= 1  # nothing cut off: a black frame all round
    assert max(bottom, right) <= 26
    assert np.count_nonzero(x) < 0.5 * x.size  # the background is black
    cy, cx = centre_of_mass(x)
    assert abs(cy - 14) <= 0.501  # centred to the nearest whole pixel
    assert abs(cx - 14) <= 0.501


@pytest.mark.parametrize("digit", [0, 1, 7])
def test_polarity_position_and_size_do_not_matter(digit: int) -> None:
    reference = preprocess_digit(draw_digit(digit))

    light_on_dark = preprocess_digit(draw_digit(digit, ink=255, paper=0))
    moved = preprocess_digit(draw_digit(digit, offset=(120, 15)))
    grey_paper = preprocess_digit(draw_digit(digit, ink=40, paper=190))
    bigger = preprocess_digit(draw_digit(digit, zoom=3))

    np.testing.assert_allclose(light_on_dark, reference, atol=0.01)
    np.testing.assert_allclose(moved, reference, atol=0.01)
    np.testing.assert_allclose(grey_paper, reference, atol=0.01)
    largest, mean = diff_up_to_one_pixel(bigger, reference)
    assert largest < 40
    assert mean < 2


def test_the_three_digits_differ() -> None:
    zero, one, seven = (preprocess_digit(draw_digit(d)) for d in (0, 1, 7))
    for a, b in [(zero, one), (zero, seven), (one, seven)]:
        assert np.abs(a - b).mean() > 20


def test_processing_an_mnist_format_image_again_changes_nothing(seven: np.ndarray) -> None:
    # Only pixels under the noise floor (5 of 255) may go.
    np.testing.assert_allclose(preprocess_digit(seven), seven, atol=5.01)


def mnist_like_digit() -> np.ndarray:
    """A 28×28 uint8 digit made the way MNIST was: bilevel strokes, box-averaged."""
    big = Image.new("L", (400, 400), 0)
    draw = ImageDraw.Draw(big)
    draw.line([(120, 80), (300, 80)], fill=255, width=30)
    draw.line([(300, 80), (170, 340)], fill=255, width=30)
    draw.line([(180, 200), (290, 200)], fill=255, width=22)  # a crossed 7
    crop = big.crop(big.getbbox())
    scale = 20 / max(crop.size)
    small = np.asarray(
        crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.Resampling.BOX),
        dtype=np.float64,
    )
    cy, cx = centre_of_mass(small)
    top, left = int(np.floor(14 - cy + 0.5)), int(np.floor(14 - cx + 0.5))
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[top : top + small.shape[0], left : left + small.shape[1]] = np.round(small)
    return digit


def test_mnist_image_saved_as_png_round_trips(tmp_path: Path) -> None:
    digit = mnist_like_digit()
    path = tmp_path / "mnist.png"
    Image.fromarray(digit).save(path)

    x = load_digit_image(path)

    # Only the faint rim below the noise floor (5 of 255) may go.
    np.testing.assert_allclose(x, digit, atol=5.01)
    assert np.abs(x - digit).mean() < 0.2


# ---------------------------------------------------------------- file formats


def _save(img: Image.Image, path: Path, **kwargs: object) -> Path:
    img.save(path, **kwargs)
    return path


def _rgba_canvas(path: Path) -> Path:
    # Transparent black background, opaque black strokes: only alpha tells them apart.
    strokes = np.asarray(draw_digit(7, ink=255, paper=0))
    rgba = np.zeros((*strokes.shape, 4), dtype=np.uint8)
    rgba[..., 3] = strokes
    return _save(Image.fromarray(rgba), path)


def _transparent_palette(path: Path) -> Path:
    # Two palette entries, both black: only the transparent one tells paper from ink.
    strokes = (np.asarray(draw_digit(7)) == 0).astype(np.uint8)
    img = Image.frombytes("P", CANVAS, strokes.tobytes())
    img.putpalette([0, 0, 0, 0, 0, 0])
    return _save(img, path, transparency=0)


def _sixteen_bit(path: Path) -> Path:
    pixels = np.asarray(draw_digit(7)).astype(np.uint16) * 257
    img = Image.fromarray(pixels)
    assert img.mode == "I;16"
    return _save(img, path)


def _blue_pen(path: Path) -> Path:
    rgb = Image.merge("RGB", [draw_digit(7, ink=20, paper=250)] * 2 + [Image.new("L", CANVAS, 250)])
    return _save(rgb, path)


def _exif_rotated(path: Path) -> Path:
    # A phone stores the sensor's picture and says "turn 90° clockwise to view".
    stored = draw_digit(7).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(stored, path, exif=exif)


SAVERS: dict[str, Callable[[Path], Path]] = {
    "png": lambda p: _save(draw_digit(7), p / "d.png"),
    "rgba-png": lambda p: _rgba_canvas(p / "d.png"),
    "transparent-palette-png": lambda p: _transparent_palette(p / "d.png"),
    "16-bit-png": lambda p: _sixteen_bit(p / "d.png"),
    "la-png": lambda p: _save(draw_digit(7).convert("LA"), p / "d.png"),
    "bilevel-png": lambda p: _save(draw_digit(7).convert("1", dither=None), p / "d.png"),
    "palette-gif": lambda p: _save(draw_digit(7).convert("P"), p / "d.gif"),
    "blue-pen-rgb-png": lambda p: _blue_pen(p / "d.png"),
    "bmp": lambda p: _save(draw_digit(7), p / "d.bmp"),
    "tiff": lambda p: _save(draw_digit(7), p / "d.tif"),
    "pgm": lambda p: _save(draw_digit(7), p / "d.pgm"),
    "lossless-webp": lambda p: _save(draw_digit(7), p / "d.webp", lossless=True),
    "exif-rotated-png": lambda p: _exif_rotated(p / "d.png"),
}


@pytest.mark.parametrize("kind", SAVERS)
def test_lossless_formats_give_the_same_array(kind: str, tmp_path: Path, seven: np.ndarray) -> None:
    x = load_digit_image(SAVERS[kind](tmp_path))
    np.testing.assert_allclose(x, seven, atol=0.05)


@pytest.mark.parametrize("quality", [75, 95])
def test_jpeg_gives_nearly_the_same_array(quality: int, tmp_path: Path, seven: np.ndarray) -> None:
    path = _save(draw_digit(7).convert("RGB"), tmp_path / "d.jpg", quality=quality)
    x = load_digit_image(path)
    largest, mean = diff_up_to_one_pixel(x, seven)
    assert largest < 40
    assert mean < 2


def test_noisy_photo_of_a_digit_is_cleaned_up(seven: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    clean = np.asarray(draw_digit(7, ink=70, paper=200), dtype=np.float64)
    shading = np.linspace(-15, 15, CANVAS[0])[None, :]  # light falling off to one side
    photo = np.clip(clean + shading + rng.normal(0, 6, clean.shape), 0, 255).astype(np.uint8)

    x = preprocess_digit(photo)

    largest, mean = diff_up_to_one_pixel(x, seven)
    assert largest < 90
    assert mean < 8
    top, bottom, left, right = ink_box(x)
    assert max(bottom - top + 1, right - left + 1) == 20


def test_open_file_object_is_read(seven: np.ndarray) -> None:
    # What a web service holds: the uploaded file, not a path.
    content = _png_bytes(draw_digit(7))
    np.testing.assert_allclose(load_digit_image(io.BytesIO(content)), seven, atol=0.05)
    with pytest.raises(TypeError, match="BytesIO"):
        load_digit_image(content)  # type: ignore[arg-type]


# ---------------------------------------------------------------- arrays


@pytest.mark.parametrize(
    "convert",
    [
        lambda a: a,
        lambda a: a.astype(np.float64) / 255,
        lambda a: a.astype(np.float32),
        lambda a: a.astype(np.uint16) * 257,
        lambda a: np.repeat(a[..., None], 3, axis=2),
        lambda a: np.dstack([a, a, a, np.full_like(a, 255)]),
        lambda a: a.astype(np.int64),
        lambda a: Image.fromarray(a),
    ],
    ids=["uint8", "float01", "float255", "uint16", "rgb", "rgba", "int64", "pil"],
)
def test_in_memory_pictures_take_the_same_path(convert: Callable, seven: np.ndarray) -> None:
    canvas = np.asarray(draw_digit(7))
    np.testing.assert_allclose(preprocess_digit(convert(canvas)), seven, atol=0.05)


@pytest.mark.parametrize(
    ("array", "complaint"),
    [
        (np.zeros((10, 10, 5), dtype=np.uint8), "shape"),
        (np.zeros(100, dtype=np.uint8), "shape"),
        (np.full((10, 10), np.nan), "NaN"),
        (np.full((10, 10), -3.0), "float values"),
        (np.full((10, 10), 70000), "integer values"),
        (np.zeros((10, 10), dtype=np.complex64), "dtype"),
        (np.zeros((0, 10), dtype=np.uint8), "no pixels"),
        (np.full((50, 50), 255, dtype=np.uint8), "blank"),
    ],
    ids=["5-channels", "1-d", "nan", "negative", "too-wide-ints", "complex", "empty", "blank"],
)
def test_bad_arrays_are_refused(array: np.ndarray, complaint: str) -> None:
    with pytest.raises(DataError, match=complaint):
        preprocess_digit(array)


# ---------------------------------------------------------------- hostile files


def png_header_only(width: int, height: int) -> bytes:
    """A few bytes that claim a huge bilevel PNG: decoding would allocate it all."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _png_bytes(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def _animated_gif(path: Path) -> Path:
    frames = [draw_digit(d) for d in (0, 1, 7)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    return path


def _noisy_blank(path: Path) -> Path:
    noise = np.random.default_rng(0).normal(230, 4, (120, 160))
    return _save(Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)), path)


HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "text-as-png": (
        lambda p: _write(p / "notes.png", b"shopping list: eggs, milk\n"),
        "not a supported image",
    ),
    "empty": (lambda p: _write(p / "empty.png", b""), "empty file"),
    "missing": (lambda p: p / "missing.png", "does not exist"),
    "directory": (lambda p: p, "is a directory"),
    "truncated": (
        lambda p: _write(p / "cut.png", _png_bytes(draw_digit(7))[:400]),
        "truncated or damaged",
    ),
    "over-the-limit": (lambda p: _write(p / "big.png", png_header_only(5000, 5000)), "too large"),
    "decompression-bomb": (
        lambda p: _write(p / "bomb.png", png_header_only(40000, 40000)),
        "too large",
    ),
    "animated-gif": (lambda p: _animated_gif(p / "anim.gif"), "animated"),
    "blank-white": (lambda p: _save(Image.new("L", (80, 60), 255), p / "white.png"), "blank"),
    "blank-noisy": (lambda p: _noisy_blank(p / "paper.png"), "blank"),
    "all-transparent": (
        lambda p: _save(Image.new("RGBA", (80, 60), (0, 0, 0, 0)), p / "clear.png"),
        "blank",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_files_raise_one_line_data_error_naming_the_file(case: str, tmp_path: Path) -> None:
    make, complaint = HOSTILE[case]
    path = make(tmp_path)

    with pytest.raises(DataError, match=complaint) as info:
        load_digit_image(path)

    message = str(info.value)
    assert f"'{path}'" in message
    assert "\n" not in message
    assert "; " in message  # ... followed by what to do about it


def test_size_limit_is_checked_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(draw_digit(7), tmp_path / "d.png")
    monkeypatch.setattr(images_module, "MAX_IMAGE_PIXELS", 100 * 100)
    with pytest.raises(DataError, match=r"300x200 pixels, over the limit of 100x100"):
        load_digit_image(path)
    with pytest.raises(DataError, match="too large"):
        preprocess_digit(np.asarray(draw_digit(7)))


def test_files_are_closed_even_on_errors(tmp_path: Path) -> None:
    good = _save(draw_digit(7), tmp_path / "d.png")
    animated = _animated_gif(tmp_path / "anim.gif")
    cut = _write(tmp_path / "cut.png", _png_bytes(draw_digit(7))[:400])
    gc.collect()  # what earlier tests left unclosed is not this test's to report
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_digit_image(good)
        for bad in (animated, cut):
            with pytest.raises(DataError):
                load_digit_image(bad)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# ---------------------------------------------------------------- several files


def test_several_files_stack_in_order(tmp_path: Path) -> None:
    paths = [_save(draw_digit(d), tmp_path / f"{d}.png") for d in (7, 0, 1)]

    stack = load_digit_images(paths)

    assert stack.shape == (3, 28, 28)
    assert stack.dtype == np.float32
    np.testing.assert_allclose(stack[2], load_digit_image(paths[2]))
    assert load_digit_images([]).shape == (0, 28, 28)


def test_several_files_name_the_bad_one(tmp_path: Path) -> None:
    good = _save(draw_digit(7), tmp_path / "good.png")
    bad = _write(tmp_path / "bad.png", b"not an image")
    with pytest.raises(DataError, match=r"bad\.png"):
        load_digit_images([good, bad])


def test_a_single_path_is_not_taken_for_a_list(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="load_digit_image"):
        load_digit_images(str(tmp_path / "d.png"))


# ---------------------------------------------------------------- dependencies


def test_images_module_stays_light_and_names_the_extra(run_blocked) -> None:
    """Importing needs numpy only; Pillow is needed to read, and nothing heavier ever."""
    script = textwrap.dedent(
        """
        import numpy as np
        from skdigits import MissingDependencyError
        from skdigits.io._images import preprocess_digit
        try:
            preprocess_digit(np.eye(30, dtype=np.uint8) * 255)
        except MissingDependencyError as err:
            assert 'skdigits[images]' in str(err), err
        else:
            raise AssertionError("no MissingDependencyError without Pillow")
        BLOCKED.discard("PIL")
        assert preprocess_digit(np.eye(30, dtype=np.uint8) * 255).shape == (28, 28)
        print("ok")
        """
    )
    blocked = {"PIL", "tensorflow", "keras", "sklearn", "scipy", "scikeras", "onnx"}
    result = run_blocked(script, blocked, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

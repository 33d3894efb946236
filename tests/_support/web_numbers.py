"""Numbers drawn as pen strokes, for the reading tests of the in-browser page.

``DIGIT_STROKES`` holds each digit as a person draws it: polylines in a unit box
(x right, y down; a digit is about 0.6 wide). :func:`number_strokes` sets digits
side by side with a gap, a slant and a size; :func:`drawn_numbers` renders many such
numbers with Pillow to greyscale pictures the size of the page's wide canvas, and
:func:`draw_on` draws strokes on a canvas of the page with the mouse or a finger.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np

Stroke = list[tuple[float, float]]

DIGIT_STROKES: dict[int, list[Stroke]] = {
    0: [
        [
            (0.3, 0.0),
            (0.08, 0.2),
            (0.02, 0.5),
            (0.08, 0.8),
            (0.3, 1.0),
            (0.52, 0.8),
            (0.58, 0.5),
            (0.52, 0.2),
            (0.3, 0.0),
        ]
    ],
    1: [[(0.15, 0.2), (0.35, 0.0), (0.35, 1.0)]],
    2: [[(0.05, 0.2), (0.25, 0.0), (0.5, 0.05), (0.55, 0.3), (0.05, 1.0), (0.6, 1.0)]],
    3: [[(0.05, 0.05), (0.55, 0.1), (0.25, 0.45), (0.55, 0.65), (0.45, 0.95), (0.05, 0.95)]],
    4: [[(0.4, 0.0), (0.02, 0.62), (0.6, 0.62)], [(0.45, 0.25), (0.45, 1.0)]],
    5: [
        [
            (0.55, 0.0),
            (0.1, 0.0),
            (0.05, 0.45),
            (0.45, 0.45),
            (0.58, 0.7),
            (0.45, 0.95),
            (0.05, 0.95),
        ]
    ],
    6: [
        [(0.5, 0.0), (0.15, 0.35), (0.05, 0.7), (0.25, 1.0), (0.5, 0.85), (0.45, 0.55), (0.1, 0.65)]
    ],
    7: [[(0.02, 0.0), (0.6, 0.0), (0.25, 1.0)]],
    8: [
        [
            (0.3, 0.5),
            (0.08, 0.28),
            (0.3, 0.0),
            (0.52, 0.28),
            (0.3, 0.5),
            (0.05, 0.75),
            (0.3, 1.0),
            (0.55, 0.75),
            (0.3, 0.5),
        ]
    ],
    9: [[(0.55, 0.3), (0.3, 0.5), (0.05, 0.3), (0.3, 0.0), (0.55, 0.3), (0.5, 1.0)]],
}
DIGIT_WIDTH = 0.6  # of the digit height
WIDE_CANVAS = (840, 280)  # the page's number canvas, width x height


def number_strokes(
    digits: Sequence[int],
    *,
    height: float = 160.0,
    gap: float = 0.3,
    slant: float = 0.0,
    origin: tuple[float, float] = (40.0, 60.0),
) -> list[Stroke]:
    """The strokes of ``digits`` side by side, in canvas pixels.

    ``gap`` is the space between digits in digit heights (negative: they overlap);
    ``slant`` moves each point right by that much per pixel above the baseline.
    """
    x0, y0 = origin
    strokes = []
    for i, digit in enumerate(digits):
        left = x0 + i * (DIGIT_WIDTH + gap) * height
        for stroke in DIGIT_STROKES[digit]:
            strokes.append(
                [
                    (left + x * height + slant * (1.0 - y) * height, y0 + y * height)
                    for x, y in stroke
                ]
            )
    return strokes


def render(
    strokes: Sequence[Stroke],
    *,
    width: int = 14,
    dark_on_light: bool = False,
    size: tuple[int, int] = WIDE_CANVAS,
) -> np.ndarray:
    """Strokes drawn with a round pen, white on black (or black on white), on a canvas
    of ``size`` (width, height): greyscale uint8."""
    from PIL import Image, ImageDraw

    img = Image.new("L", size, 0)
    draw = ImageDraw.Draw(img)
    r = width / 2
    for stroke in strokes:
        draw.line(stroke, fill=255, width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    grey = np.asarray(img)
    return 255 - grey if dark_on_light else grey.copy()


def drawn_numbers(n: int, seed: int = 0) -> Iterator[tuple[str, np.ndarray]]:
    """``n`` numbers of 2 to 6 digits drawn with varied size, gaps (some touching or
    overlapping), slant and pen width, every fourth dark on light: (digits, picture)."""
    rng = np.random.default_rng(seed)
    canvas_w, canvas_h = WIDE_CANVAS
    for i in range(n):
        count = 2 + i % 5
        digits = [int(d) for d in rng.integers(0, 10, count)]
        gap = float(rng.choice([-0.05, 0.0, 0.1, 0.25, 0.5]))
        slant = float(rng.uniform(-0.25, 0.3))
        pen = int(rng.integers(8, 22))
        fits = (canvas_w - 60) / (count * (DIGIT_WIDTH + gap) + abs(slant))
        height = float(min(rng.uniform(110, 210), fits, canvas_h - 50))
        origin = (30 + max(-slant, 0) * height, float(rng.uniform(20, canvas_h - height - 20)))
        strokes = number_strokes(digits, height=height, gap=gap, slant=slant, origin=origin)
        text = "".join(map(str, digits))
        yield text, render(strokes, width=pen, dark_on_light=i % 4 == 3)


def draw_on(page, selector: str, strokes: Sequence[Stroke], *, touch: bool = False) -> None:
    """Draw ``strokes`` (in the canvas's own pixels) on the canvas ``selector`` of a
    Playwright page, stroke by stroke, with the mouse or with a finger (touch events
    through the DevTools protocol), in steps of a few pixels."""
    canvas = page.locator(selector)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    size = page.evaluate(
        f"[document.querySelector({selector!r}).width, document.querySelector({selector!r}).height]"
    )
    sx, sy = box["width"] / size[0], box["height"] / size[1]
    cdp = page.context.new_cdp_session(page) if touch else None
    for stroke in strokes:
        points = [(box["x"] + x * sx, box["y"] + y * sy) for x, y in stroke]
        path = [points[0]] + [
            (xa + t / 10 * (xb - xa), ya + t / 10 * (yb - ya))
            for (xa, ya), (xb, yb) in itertools.pairwise(points)
            for t in range(1, 11)
        ]
        if cdp is None:
            page.mouse.move(*path[0])
            page.mouse.down()
            for point in path[1:]:
                page.mouse.move(*point)
            page.mouse.up()
        else:
            for kind, point in [("touchStart", path[0])] + [("touchMove", p) for p in path[1:]]:
                finger = {"x": point[0], "y": point[1], "radiusX": 1, "radiusY": 1, "id": 0}
                cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [finger]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    if cdp is not None:
        cdp.detach()

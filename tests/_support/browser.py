"""Headless Chromium for the page tests: Debian's ``chromium``, driven by Playwright.

Playwright's own browser downloads are never used: ``CHROMIUM`` is the system
browser (or ``$SKDIGITS_CHROMIUM``), ``None`` when it is not installed.
"""

from __future__ import annotations

import itertools
import os
import shutil

import pytest

CHROMIUM = os.environ.get("SKDIGITS_CHROMIUM") or shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_CHROMIUM = "Chromium is not installed (apt-get install chromium; .ci/run installs it)"


#: "42" written on the number canvas (840 x 280 canvas pixels): a 4 of two strokes
#: and a 2 of one, side by side with a gap, as a person writes them.
FORTY_TWO = [
    [(230, 50), (170, 170), (300, 170)],
    [(270, 100), (270, 240)],
    [(400, 90), (440, 55), (500, 55), (530, 100), (510, 150), (400, 235), (545, 235)],
]

#: The number canvas' size in canvas pixels.
WIDE = (840, 280)


def canvas_origin(page) -> tuple[float, float]:
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    assert (box["width"], box["height"]) == (280, 280)
    return box["x"], box["y"]


def _mapping(page, canvas: str):
    """Canvas pixels to page pixels for the canvas ``canvas`` (a selector), as shown."""
    if canvas == "#canvas":
        x0, y0 = canvas_origin(page)
        return lambda x, y: (x0 + x, y0 + y)
    box = page.locator(canvas).bounding_box()
    assert box is not None
    width, height = page.locator(canvas).evaluate("c => [c.width, c.height]")
    assert box["width"] / width == pytest.approx(box["height"] / height, rel=0.01)
    scale = box["width"] / width
    return lambda x, y: (box["x"] + x * scale, box["y"] + y * scale)


def wait_for_answer(page) -> None:
    """Until the page has answered the last stroke (or said why not)."""
    page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)")


def draw_with_mouse(page, strokes, canvas: str = "#canvas") -> None:
    """Each stroke: press, move through its points in small steps, release; wait for the answer.

    Points are in the canvas' own pixels, placed where the canvas is shown.
    """
    at = _mapping(page, canvas)
    for stroke in strokes:
        (x, y), *rest = stroke
        page.mouse.move(*at(x, y))
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(*at(x, y), steps=10)
        page.mouse.up()
        wait_for_answer(page)


def draw_with_touch(page, strokes, canvas: str = "#canvas") -> None:
    """The same with a finger: touch events through the DevTools protocol."""
    at = _mapping(page, canvas)
    cdp = page.context.new_cdp_session(page)
    for stroke in strokes:
        points = [at(x, y) for x, y in stroke]
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [_touch(*points[0])]}
        )
        for (xa, ya), (xb, yb) in itertools.pairwise(points):
            for k in range(1, 11):
                t = k / 10
                point = _touch(xa + t * (xb - xa), ya + t * (yb - ya))
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        wait_for_answer(page)
    cdp.detach()


def _touch(x: float, y: float) -> dict[str, float]:
    return {"x": x, "y": y, "radiusX": 1, "radiusY": 1, "force": 1, "id": 0}

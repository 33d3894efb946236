"""Headless Chromium for the page tests: Debian's ``chromium``, driven by Playwright.

Playwright's own browser downloads are never used: ``CHROMIUM`` is the system
browser (or ``$SKDIGITS_CHROMIUM``), ``None`` when it is not installed.
"""

from __future__ import annotations

import itertools
import os
import shutil

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


def canvas_origin(page) -> tuple[float, float]:
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    assert (box["width"], box["height"]) == (280, 280)
    return box["x"], box["y"]


def draw_with_mouse(page, strokes) -> None:
    """Each stroke: press, move through its points in small steps, release; wait for the answer."""
    x0, y0 = canvas_origin(page)
    for stroke in strokes:
        (x, y), *rest = stroke
        page.mouse.move(x0 + x, y0 + y)
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(x0 + x, y0 + y, steps=10)
        page.mouse.up()
        page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)")


def draw_with_touch(page, strokes) -> None:
    """The same with a finger: touch events through the DevTools protocol."""
    x0, y0 = canvas_origin(page)
    cdp = page.context.new_cdp_session(page)
    for stroke in strokes:
        points = [(x0 + x, y0 + y) for x, y in stroke]
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [_touch(*points[0])]}
        )
        for (xa, ya), (xb, yb) in itertools.pairwise(points):
            for k in range(1, 11):
                t = k / 10
                point = _touch(xa + t * (xb - xa), ya + t * (yb - ya))
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)")
    cdp.detach()


def _touch(x: float, y: float) -> dict[str, float]:
    return {"x": x, "y": y, "radiusX": 1, "radiusY": 1, "force": 1, "id": 0}

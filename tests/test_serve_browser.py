"""End to end: the real server on loopback, the drawing page in headless Chromium.

A person's drawing is replayed stroke by stroke with mouse (and touch) events on
the page that ``skdigits serve`` serves; the test reads the label and the bars the
page shows. Chromium is Debian's ``chromium`` package (``.ci/run`` installs it),
driven by Playwright through ``executable_path``; Playwright's own browser
downloads are never used. Without Chromium the tests are skipped, saying so.

``SKDIGITS_UPDATE_SCREENSHOT=1`` also writes the page, as the README shows it, to
``docs/serve.png``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "serve.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed (apt-get install chromium; .ci/run installs it)",
    ),
]

# Strokes in canvas pixels (the canvas is 280 x 280), each a polyline drawn with
# the button held down; a person would draw them so.
SEVEN = [[(80, 60), (200, 60), (120, 230)]]
FOUR = [[(100, 50), (80, 150), (200, 150)], [(170, 80), (170, 240)]]
ONE = [[(140, 50), (140, 230)]]


@pytest.fixture(scope="module")
def server_url(exported_model):
    """``skdigits serve`` on a free loopback port, with the shared pipeline exported to ONNX."""
    model = exported_model
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "skdigits", "serve", str(model), "--port", str(port)],
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1].decode()
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 720, "height": 500},
            reduced_motion="reduce",  # bars drawn at once: stable screenshots
            has_touch=True,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context, server_url):
    page = browser_context.new_page()
    page.goto(server_url + "/")
    page.wait_for_function("document.body.dataset.state === 'empty'")
    yield page
    page.close()


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


def shown(page) -> tuple[str, dict[str, float], str]:
    """The label, the ten bars' percentages by digit, and the highlighted digit."""
    bars = {
        li.get_attribute("data-digit"): float(li.locator(".pct").inner_text().rstrip(" %"))
        for li in page.locator("#bars li").all()
    }
    top = page.locator("#bars li.top").get_attribute("data-digit")
    return page.inner_text("#label"), bars, top


def test_drawing_a_seven_shows_7_and_ten_bars(page):
    draw_with_mouse(page, SEVEN)
    assert page.evaluate("document.body.dataset.state") == "done"
    label, bars, top = shown(page)
    assert label == "7"
    assert top == "7"
    assert sorted(bars) == [str(d) for d in range(10)]
    assert max(bars, key=bars.__getitem__) == "7"
    assert sum(bars.values()) == pytest.approx(100, abs=0.6)
    width = page.locator("#bars li.top .fill").evaluate("e => e.getBoundingClientRect().width")
    track = page.locator("#bars li.top .track").evaluate("e => e.getBoundingClientRect().width")
    assert width == pytest.approx(track * bars["7"] / 100, abs=2)
    if os.environ.get("SKDIGITS_UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))


def test_a_four_in_two_strokes_then_clear(page):
    draw_with_mouse(page, FOUR[:1])  # the first stroke alone is answered too
    assert page.inner_text("#label").isdigit()
    draw_with_mouse(page, FOUR[1:])
    assert shown(page)[0] == "4"

    page.click("#clear")
    assert page.inner_text("#label") == ""
    assert page.locator("#bars li.top").count() == 0
    ink = page.evaluate(
        "() => { const c = document.getElementById('canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s; }"
    )
    assert ink == 0  # the canvas is black again


def test_drawing_with_a_finger(page):
    draw_with_touch(page, ONE)
    assert shown(page)[0] == "1"


def test_a_single_click_is_answered(page):
    x0, y0 = canvas_origin(page)
    page.mouse.click(x0 + 140, y0 + 140)  # a dot: a mark to read all the same
    page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)")
    assert page.evaluate("document.body.dataset.state") == "done"
    assert page.inner_text("#label").isdigit()
    assert page.inner_text("#status") == ""


def test_a_refused_request_shows_the_servers_message(page):
    page.route(
        "**/predict",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body='{"error": "image is blank: no digit found"}',
        ),
    )
    draw_with_mouse(page, ONE)
    assert page.evaluate("document.body.dataset.state") == "error"
    assert page.inner_text("#status") == "image is blank: no digit found"
    assert page.inner_text("#label") == ""

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

import os

import pytest

from tests._support import REPO
from tests._support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NO_CHROMIUM,
    canvas_origin,
    draw_with_mouse,
    draw_with_touch,
)
from tests._support.servers import running_server, skdigits_serve

SCREENSHOT = REPO / "docs" / "serve.png"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

# Strokes in canvas pixels (the canvas is 280 x 280), each a polyline drawn with
# the button held down; a person would draw them so.
SEVEN = [[(80, 60), (200, 60), (120, 230)]]
FOUR = [[(100, 50), (80, 150), (200, 150)], [(170, 80), (170, 240)]]
ONE = [[(140, 50), (140, 230)]]


@pytest.fixture(scope="module")
def server_url(exported_model):
    """``skdigits serve`` on a free loopback port, with the shared pipeline exported to ONNX."""
    with running_server(skdigits_serve(exported_model)) as server:
        yield server.url


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


def test_the_page_icon_loads_without_a_request_that_fails(page):
    """A headful browser asks for the page's icon, ``/favicon.ico`` when the page names
    none (a 404 in the console); headless Chromium skips it, so the test fetches and
    decodes the icon the way the browser would."""
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.reload()
    page.wait_for_function("document.body.dataset.state === 'empty'")
    href, status, width = page.evaluate(
        """async () => {
            const link = document.querySelector('link[rel~="icon"]');
            const href = link ? link.href : new URL("/favicon.ico", location).href;
            const reply = await fetch(href);
            const img = new Image();
            img.src = href;
            const width = await img.decode().then(() => img.naturalWidth, () => 0);
            return [href, reply.status, width];
        }"""
    )
    assert href.startswith("data:image/svg+xml,"), href
    assert status == 200
    assert width > 0
    assert failed == []

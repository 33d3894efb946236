"""End to end: the real server on loopback, the drawing page in headless Chromium.

A person's drawing is replayed stroke by stroke with mouse (and touch) events on
the page that ``skdigits serve`` serves; the test reads the label and the bars the
page shows. Chromium is Debian's ``chromium`` package (``.ci/run`` installs it),
driven by Playwright through ``executable_path``; Playwright's own browser
downloads are never used. Without Chromium the tests are skipped, saying so.

The page's number mode is driven the same way: "42" written on its wide canvas
is sent to ``POST /read`` and shown with a box round each digit.

``SKDIGITS_UPDATE_SCREENSHOT=1`` also writes the page, as the docs show it, to
``docs/serve.png`` (a digit) and ``docs/read.png`` (a number read).
"""

from __future__ import annotations

import os

import pytest

from tests._support import REPO
from tests._support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FORTY_TWO,
    NO_CHROMIUM,
    WIDE,
    canvas_origin,
    draw_with_mouse,
    draw_with_touch,
)
from tests._support.servers import running_server, skdigits_serve, uvicorn_factory

SCREENSHOT = REPO / "docs" / "serve.png"
READ_SCREENSHOT = REPO / "docs" / "read.png"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

# Strokes in canvas pixels (the canvas is 280 x 280), each a polyline drawn with
# the button held down; a person would draw them so.
SEVEN = [[(80, 60), (200, 60), (120, 230)]]
FOUR = [[(100, 50), (80, 150), (200, 150)], [(170, 80), (170, 240)]]
ONE = [[(140, 50), (140, 230)]]
# No digit: a zigzag scribble, and a capital A.
SCRIBBLE = [[(40, 60), (240, 80), (50, 120), (240, 140), (40, 190), (240, 220)]]
LETTER_A = [[(60, 240), (140, 40), (220, 240)], [(95, 160), (185, 160)]]


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


@pytest.fixture
def number_page(browser_context, server_url):
    """The page opened in number mode (``/#number``), wide enough to show 840 x 280."""
    page = browser_context.new_page()
    page.set_viewport_size({"width": 920, "height": 620})
    page.goto(server_url + "/#number")
    page.wait_for_function("document.body.dataset.state === 'empty'")
    yield page
    page.close()


def answered(page, route: str, draw, strokes, **where) -> dict:
    """Draw ``strokes``; the JSON answer of ``route`` (``"predict"`` or ``"read"``) to the last."""
    draw(page, strokes[:-1], **where)
    with page.expect_response(lambda r: r.url.endswith("/" + route)) as reply:
        draw(page, strokes[-1:], **where)
    assert reply.value.ok
    return reply.value.json()


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
    assert page.locator("#label.refused, #bars.refused").count() == 0
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


@pytest.mark.parametrize(
    ("route", "canvas", "strokes", "status"),
    [
        ("predict", "#canvas", ONE, "#status"),
        ("read", "#number-canvas", FORTY_TWO, "#number-status"),
    ],
    ids=["digit", "number"],
)
def test_a_refused_request_shows_the_servers_message(page, route, canvas, strokes, status):
    if canvas != "#canvas":
        page.locator("label", has_text="A number").click()
    page.route(
        f"**/{route}",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body='{"error": "image \'upload\' is blank: no digit found"}',
        ),
    )
    draw_with_mouse(page, strokes[:1], canvas=canvas)
    assert page.evaluate("document.body.dataset.state") == "error"
    assert page.inner_text(status) == "image 'upload' is blank: no digit found"
    assert page.inner_text("#label") == ""
    assert shown_reading(page) == ("", [], [])


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


# ---------------------------------------------------------------- not a digit


@pytest.fixture(scope="module")
def strict_server_url(exported_model):
    """The same model served with a digit threshold of 1: only the surest digits pass, so
    a scribble is "not a digit" whatever the small model makes of it."""
    env = {
        **os.environ,
        "SKDIGITS_SERVE_MODEL": str(exported_model),
        "SKDIGITS_SERVE_DIGIT_THRESHOLD": "1",
    }
    with running_server(uvicorn_factory("--log-level", "warning"), env=env) as server:
        yield server.url


@pytest.mark.parametrize("strokes", [SCRIBBLE, LETTER_A], ids=["scribble", "letter"])
def test_what_is_no_digit_shows_not_a_digit_and_its_bars(
    browser_context, strict_server_url, strokes
):
    page = browser_context.new_page()
    page.goto(strict_server_url + "/")
    page.wait_for_function("document.body.dataset.state === 'empty'")
    answer = answered(page, "predict", draw_with_mouse, strokes)
    assert answer["is_digit"] == [False]
    label, bars, top = shown(page)
    assert label == "not a digit"
    guess = str(answer["labels"][0])
    assert page.inner_text("#confidence").startswith(f"best guess {guess}, ")
    assert top == guess  # the best guess is still marked among the bars
    assert sorted(bars) == [str(d) for d in range(10)]
    assert sum(bars.values()) == pytest.approx(100, abs=0.6)
    assert bars[guess] == pytest.approx(100 * max(answer["probabilities"][0]), abs=0.06)
    page.click("#clear")  # the next drawing starts plain
    assert page.inner_text("#label") == ""
    assert page.locator("#label.refused, #bars.refused").count() == 0
    page.close()


# ---------------------------------------------------------------- a number


def shown_reading(page) -> tuple[str, list[tuple[str, float]], list[dict[str, float]]]:
    """The text read, each digit's label and percentage, and the boxes as shown on screen."""
    digits = [
        (li.locator(".digit").inner_text(), float(li.locator(".pct").inner_text().rstrip(" %")))
        for li in page.locator("#number-digits li").all()
    ]
    boxes = [box.bounding_box() for box in page.locator("#boxes .digit-box").all()]
    return page.inner_text("#number-text"), digits, boxes


def assert_reads_42(page, answer: dict) -> None:
    """The page shows "42", a box on each digit where ``/read`` put it, and their probabilities."""
    (reading,) = answer["readings"]
    assert reading["text"] == "42"
    text, digits, boxes = shown_reading(page)
    assert text == "42"
    assert [label for label, _ in digits] == ["4", "2"]
    for (_, pct), digit in zip(digits, reading["digits"], strict=True):
        assert pct == pytest.approx(100 * digit["probability"], abs=0.06)
    canvas = page.locator("#number-canvas").bounding_box()
    scale = canvas["width"] / WIDE[0]
    assert len(boxes) == 2
    for box, digit in zip(boxes, reading["digits"], strict=True):
        x0, y0, x1, y1 = digit["box"]
        assert box["x"] == pytest.approx(canvas["x"] + x0 * scale, abs=1.5)
        assert box["y"] == pytest.approx(canvas["y"] + y0 * scale, abs=1.5)
        assert box["width"] == pytest.approx((x1 - x0) * scale, abs=1.5)
        assert box["height"] == pytest.approx((y1 - y0) * scale, abs=1.5)
    # The 4 is drawn in x 170-300 of the canvas, the 2 in 400-545: each box holds its digit.
    assert reading["digits"][0]["box"][0] < 200 < reading["digits"][0]["box"][2] <= 400
    assert reading["digits"][1]["box"][0] >= 300


def test_writing_42_with_the_mouse_reads_42_with_a_box_on_each_digit(number_page, server_url):
    page = number_page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    assert page.locator("#number-canvas").bounding_box()["width"] == WIDE[0]
    answer = answered(page, "read", draw_with_mouse, FORTY_TWO, canvas="#number-canvas")
    assert page.evaluate("document.body.dataset.state") == "done"
    reads = [url for url in requests if url.endswith("/read")]
    assert len(reads) == len(FORTY_TWO)  # read again after each stroke
    assert all(url.startswith((server_url, "data:")) for url in requests), requests
    assert_reads_42(page, answer)
    four = answer["readings"][0]["digits"][0]
    assert page.locator("#number-digits li").first.get_attribute("aria-label") == (
        f"digit 1: 4, {100 * four['probability']:.1f} %"
    )
    if os.environ.get("SKDIGITS_UPDATE_SCREENSHOT"):
        page.screenshot(path=str(READ_SCREENSHOT))


def test_writing_42_with_a_finger_on_a_narrow_screen(browser_context, server_url):
    page = browser_context.new_page()  # 720 px wide: the canvas is shown smaller than 840
    page.goto(server_url + "/#number")
    page.wait_for_function("document.body.dataset.state === 'empty'")
    assert page.locator("#number-canvas").bounding_box()["width"] < WIDE[0]
    answer = answered(page, "read", draw_with_touch, FORTY_TWO, canvas="#number-canvas")
    assert_reads_42(page, answer)
    page.close()


def test_clear_empties_the_number_canvas_and_its_reading(number_page):
    page = number_page
    draw_with_mouse(page, FORTY_TWO[:2], canvas="#number-canvas")
    assert page.locator("#boxes .digit-box").count() >= 1
    page.click("#number-clear")
    assert shown_reading(page) == ("", [], [])
    assert page.evaluate("document.body.dataset.state") == "empty"
    ink = page.evaluate(
        "() => { const c = document.getElementById('number-canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s; }"
    )
    assert ink == 0


def test_the_mode_switch_shows_one_canvas_at_a_time_and_keeps_each_drawing(page):
    draw_with_mouse(page, SEVEN)
    assert not page.locator("#number-canvas").is_visible()
    page.locator("label", has_text="A number").click()
    assert page.inner_text("h1") == "Write a number"
    assert page.url.endswith("#number")
    assert not page.locator("#canvas").is_visible()
    assert page.locator("#number-canvas").is_visible()
    assert page.evaluate("document.body.dataset.state") == "empty"
    page.locator("label", has_text="One digit").click()
    assert page.inner_text("h1") == "Draw a digit"
    assert page.evaluate("document.body.dataset.state") == "done"
    assert shown(page)[0] == "7"
    canvas_origin(page)  # shown again at 280 x 280
    page.get_by_role("radio", name="One digit").focus()  # and from the keyboard
    page.keyboard.press("ArrowRight")
    assert page.locator("#number-canvas").is_visible()
    assert page.get_by_role("radio", name="A number").is_checked()
    page.evaluate("location.hash = ''")  # a link to the page, or to "#number", switches too
    page.wait_for_function("!document.getElementById('digit-mode').hidden")
    page.evaluate("location.hash = '#number'")
    page.wait_for_function("!document.getElementById('number-mode').hidden")
    assert page.inner_text("h1") == "Write a number"

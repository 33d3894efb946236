"""The static in-browser site: onnxruntime-web's fetcher, the JavaScript preprocessing, the page.

The runtime comes the way users get it: ``npm pack onnxruntime-web@<pinned>`` into the
cache under the data home (fetched once, verified every time). The preprocessing is
checked against :func:`skdigits.io._images.preprocess_digit` twice: on random drawings
run through ``preprocess.mjs`` in Node, and on drawings made in the page's own canvas in
headless Chromium (Debian's ``chromium``, as in ``tests/serve/test_browser.py``), where the
page is served from the exported folder on loopback with every other request blocked.
In the page, "not a digit" follows the model's digit score and threshold, and the wide
canvas reads whole numbers as :func:`skdigits.read_numbers` reads the same pixels
(``test_web_numbers.py`` checks the ported reader step by step in Node).
``SKDIGITS_UPDATE_SCREENSHOT=1`` also writes the page, as the README shows it, to
``docs/web.png``.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import threading

import numpy as np
import pytest

from skdigits import DataError, FetchError
from skdigits._core.errors import WriteError
from skdigits.export import ExportError, _ortweb, export_web, fetch_onnxruntime_web
from skdigits.export._web import WEB_PAGE_FILES
from skdigits.io._images import load_digit_image, preprocess_digit
from skdigits.io._segment import segment_number
from skdigits.reading import read_numbers
from skdigits.runtime._predictor import OnnxDigitClassifier
from tests._support import REPO
from tests._support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NO_CHROMIUM,
    draw_with_mouse,
    draw_with_touch,
)
from tests._support.files import write
from tests._support.web_numbers import draw_on, drawn_numbers, number_strokes, render

STATIC = REPO / "skdigits" / "export" / "web_static"
NODE = shutil.which("node")
SCREENSHOT = REPO / "docs" / "web.png"
#: JavaScript and Python preprocessing agree to this, on 0-255 (measured: one float32 ulp).
PIXEL_TOLERANCE = 1e-3


@pytest.fixture(scope="session")
def ort_web():
    """onnxruntime-web's files, through npm into the data home's cache (once per machine)."""
    try:
        return fetch_onnxruntime_web()
    except FetchError as err:
        if shutil.which("npm") is None:
            pytest.skip(f"npm is not on PATH and onnxruntime-web is not cached: {err}")
        raise


# --- the fetcher ----------------------------------------------------------------------------


def test_the_runtime_is_cached_verified_and_only_the_needed_files(ort_web):
    assert sorted(p.name for p in ort_web.iterdir()) == sorted(_ortweb.ORT_WEB_FILES)
    assert ort_web.name == f"onnxruntime-web-{_ortweb.ORT_WEB_VERSION}"
    assert fetch_onnxruntime_web(download_if_missing=False) == ort_web


def test_a_damaged_cached_file_is_replaced_from_the_named_folder(ort_web, tmp_path):
    home = tmp_path / "home"
    cache = home / ort_web.name
    shutil.copytree(ort_web, cache)
    (cache / "ort.wasm.min.mjs").write_text("alert('tampered')")
    got = fetch_onnxruntime_web(data_home=home, local_dir=ort_web, download_if_missing=False)
    assert (got / "ort.wasm.min.mjs").read_bytes() == (ort_web / "ort.wasm.min.mjs").read_bytes()


def test_every_failing_source_is_listed_in_one_error(ort_web, tmp_path, monkeypatch):
    impostor = tmp_path / "impostor"
    (impostor / "dist").mkdir(parents=True)
    (impostor / "dist" / "ort.wasm.min.mjs").write_text("not the runtime")
    (impostor / f"onnxruntime-web-{_ortweb.ORT_WEB_VERSION}.tgz").write_bytes(b"not a tarball")
    monkeypatch.setenv("PATH", str(tmp_path / "no-npm-here"))
    monkeypatch.setattr(_ortweb, "ORT_WEB_TARBALL_URL", "http://127.0.0.1:9/onnxruntime-web.tgz")

    with pytest.raises(FetchError) as info:
        fetch_onnxruntime_web(data_home=tmp_path / "home", local_dir=impostor, timeout=2)

    message = str(info.value)
    assert "\n" not in message
    for part in (
        "cannot get onnxruntime-web 1.30.0 file(s)",
        "ort.wasm.min.mjs: ort.wasm.min.mjs has SHA-256",
        "onnxruntime-web-1.30.0.tgz has integrity sha512-",
        "npm pack onnxruntime-web@1.30.0: npm is not on PATH",
        "http://127.0.0.1:9/onnxruntime-web.tgz:",
        "`local_dir`",
    ):
        assert part in message
    assert not list((tmp_path / "home").rglob("*.mjs"))  # nothing unverified was kept


@pytest.fixture(scope="session")
def ort_web_tarball(tmp_path_factory, ort_web):
    """The pinned package's tarball, as `npm pack` gives it (from npm's own cache, once)."""
    from skdigits._core.npm import npm_pack

    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH: the tarball tests need `npm pack onnxruntime-web`")
    return npm_pack(_ortweb.ORT_WEB_PACKAGE, tmp_path_factory.mktemp("tarball"), timeout=300)


@pytest.mark.parametrize("route", ["registry download", "named folder"])
def test_the_tarball_is_checked_then_only_three_files_are_taken(
    ort_web, ort_web_tarball, tmp_path, monkeypatch, route
):
    monkeypatch.setenv("PATH", str(tmp_path / "no-npm-here"))  # npm cannot help
    local_dir = None
    if route == "registry download":  # the registry, played by a loopback server
        handler = functools.partial(_QuietHandler, directory=str(ort_web_tarball.parent))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/{ort_web_tarball.name}"
        monkeypatch.setattr(_ortweb, "ORT_WEB_TARBALL_URL", url)
    else:
        local_dir = ort_web_tarball.parent
    try:
        got = fetch_onnxruntime_web(data_home=tmp_path / "home", local_dir=local_dir)
    finally:
        if local_dir is None:
            server.shutdown()
    assert sorted(p.name for p in got.iterdir()) == sorted(_ortweb.ORT_WEB_FILES)
    for name in _ortweb.ORT_WEB_FILES:
        assert (got / name).read_bytes() == (ort_web / name).read_bytes()


# --- the preprocessing: JavaScript against Python on random drawings (Node) ----------------


def random_drawings(n, seed=0):
    """RGBA drawings of every kind: off-centre, tiny, huge, hair-thin, thick, inverted, blank."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    for i in range(n):
        width, height = int(rng.integers(30, 300)), int(rng.integers(30, 300))
        img = Image.new("RGBA", (width, height), (0, 0, 0, 255))
        draw = ImageDraw.Draw(img)
        scale = (0.03, 0.1, 0.4, 1.0)[i % 4]
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        for _ in range(int(rng.integers(1, 4))):
            points = [
                (
                    cx + (rng.uniform(0, width) - width / 2) * scale,
                    cy + (rng.uniform(0, height) - height / 2) * scale,
                )
                for _ in range(int(rng.integers(2, 5)))
            ]
            draw.line(points, fill=(255, 255, 255, 255), width=int(rng.integers(1, 25)))
        rgba = np.asarray(img).copy()
        if i % 9 == 4:
            rgba[..., :3] = 255 - rgba[..., :3]  # dark ink on white paper
        if i % 13 == 6:
            rgba[..., 3] = np.where(rgba[..., 0] > 0, 255, 0)  # strokes on transparency
        if i % 17 == 8:
            rgba[..., :3] = 0  # nothing drawn
        yield rgba


def run_preprocess_mjs(tmp_path, images):
    script = tmp_path / "run.mjs"
    script.write_text(
        f'import {{ preprocess }} from "{(STATIC / "preprocess.mjs").as_uri()}";\n'
        'import { readFileSync } from "node:fs";\n'
        "const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));\n"
        "const out = cases.map(([w, h, b64]) => {\n"
        "  const r = preprocess(new Uint8ClampedArray(Buffer.from(b64, 'base64')), w, h);\n"
        "  return r && Array.from(r);\n"
        "});\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    cases = tmp_path / "cases.json"
    cases.write_text(
        json.dumps(
            [[a.shape[1], a.shape[0], base64.b64encode(a.tobytes()).decode()] for a in images]
        )
    )
    result = subprocess.run(
        [NODE, str(script), str(cases)], capture_output=True, text=True, timeout=120, check=True
    )
    return [
        None if r is None else np.asarray(r, np.float32).reshape(28, 28)
        for r in json.loads(result.stdout)
    ]


def python_preprocess(rgba):
    try:
        return preprocess_digit(rgba)
    except DataError as err:
        if "is blank: no digit found" not in str(err):
            raise
        return None


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed (it comes with npm)")
def test_preprocess_mjs_matches_preprocess_digit_on_300_random_drawings(tmp_path):
    images = list(random_drawings(300))
    got = run_preprocess_mjs(tmp_path, images)
    n_digits = 0
    for i, (js, rgba) in enumerate(zip(got, images, strict=True)):
        py = python_preprocess(rgba)
        assert (js is None) == (py is None), f"drawing {i}: blank on one side only"
        if py is not None:
            n_digits += 1
            assert np.abs(js - py).max() <= PIXEL_TOLERANCE, f"drawing {i}"
    assert n_digits > 250


# --- the page in Chromium ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory, fitted_pipeline, small_mnist, ort_web):
    """The exported folder, as `skdigits export --web` writes it, for the shared pipeline."""
    from skdigits.export import export_onnx

    _, _, X_test, y_test = small_mnist
    d = tmp_path_factory.mktemp("web")
    model = export_onnx(
        fitted_pipeline,
        d / "digits.onnx",
        check_samples=X_test[:200],
        metadata={"test_accuracy": round(float(fitted_pipeline.score(X_test, y_test)), 4)},
    )
    return export_web(model, d / "site", download_if_missing=False), model


def test_the_site_holds_its_files_and_no_external_url(site):
    out, model = site
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "index.html",
            "app.mjs",
            "preprocess.mjs",
            "segment.mjs",
            "read.mjs",
            "model.onnx",
            "model.json",
            *_ortweb.ORT_WEB_FILES,
        ]
    )
    assert (out / "model.onnx").read_bytes() == model.read_bytes()
    assert json.loads((out / "model.json").read_text())["classes"] == list(range(10))
    for name in (*WEB_PAGE_FILES, "model.json"):
        # An inline data: URL loads nothing (the favicon's SVG namespace is only a name).
        text = re.sub(r'data:[^"]*', "", (out / name).read_text())
        assert re.search(r"(https?:)?//[\w.-]+\.\w", text) is None, name
    with pytest.raises(ExportError, match="already holds files"):
        export_web(model, out, download_if_missing=False)


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium, one per module: Playwright's sync API runs one at a time."""
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def web_page(chromium, site):
    """One Chromium page on the site, served on loopback; every other request is blocked."""
    out, _ = site
    with open_site(chromium, out) as page:
        yield page


@contextlib.contextmanager
def open_site(browser, out):
    """A page of ``browser`` on the site in ``out``, served on loopback, once its model
    has loaded; every request elsewhere is blocked (and listed in ``page.requests``)."""
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}/"
    requests = {"served": [], "blocked": []}

    def only_the_site(route):
        url = route.request.url
        if url.startswith(origin):
            requests["served"].append(url.removeprefix(origin))
            route.continue_()
        else:
            requests["blocked"].append(url)
            route.abort()

    context = browser.new_context(viewport={"width": 760, "height": 520}, has_touch=True)
    try:
        context.route("**/*", only_the_site)
        page = context.new_page()
        page.goto(origin)
        page.wait_for_function("['empty', 'error'].includes(document.body.dataset.state)")
        assert page.inner_text("#status") == ""
        assert f"running in onnxruntime-web {_ortweb.ORT_WEB_VERSION}" in page.inner_text("#model")
        page.requests = requests
        yield page
    finally:
        context.close()
        server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.mark.browser
def test_the_page_asks_the_server_for_nothing_missing(chromium, site):
    """No favicon 404: the page names an inline icon. Chromium asks for /favicon.ico only
    when requests are not intercepted, so this page load is not routed."""
    out, _ = site
    missing = []

    class Recording(_QuietHandler):
        def log_request(self, code="-", size="-"):
            if int(code) >= 400:
                missing.append(f"{int(code)} {self.path}")

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Recording, directory=str(out))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = chromium.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_function("['empty', 'error'].includes(document.body.dataset.state)")
        assert page.evaluate("document.body.dataset.state") == "empty"
        page.wait_for_timeout(500)  # the icon is asked for after the load
        page.close()
    finally:
        server.shutdown()
    assert missing == []


@pytest.fixture
def page(web_page):
    web_page.click("#clear")
    assert web_page.inner_text("#label") == ""
    return web_page


def canvas_png(page) -> io.BytesIO:
    url = page.evaluate("document.getElementById('canvas').toDataURL('image/png')")
    return io.BytesIO(base64.b64decode(url.split(",", 1)[1]))


def shown(page):
    label = page.inner_text("#label")
    proba = [float(page.get_attribute(f"#p{i}", "data-p")) for i in range(10)]
    return label, np.asarray(proba)


def expected_label(clf, x):
    """What the page should show for the image ``x``: its label, or "not a digit"."""
    return str(clf.predict(x)[0]) if clf.is_digit(x)[0] else "not a digit"


# Twenty digits as a person draws them, stroke by stroke, on the 280 x 280 canvas.
SEVEN = [[(80, 60), (200, 60), (120, 230)]]
FOUR = [[(100, 50), (80, 150), (200, 150)], [(170, 80), (170, 240)]]
ONE = [[(140, 50), (140, 230)]]
ZERO = [
    [
        (140, 50),
        (95, 80),
        (85, 140),
        (95, 200),
        (140, 230),
        (185, 200),
        (195, 140),
        (185, 80),
        (140, 50),
    ]
]
TWO = [[(90, 90), (120, 55), (170, 60), (185, 100), (100, 220), (200, 220)]]
THREE = [[(90, 60), (190, 70), (130, 130), (190, 170), (160, 225), (90, 215)]]
SIX = [[(180, 50), (110, 120), (95, 190), (140, 230), (185, 190), (160, 145), (100, 170)]]
DIGITS = [SEVEN, FOUR, ONE, ZERO, TWO, THREE, SIX]
DRAWN = [7, 4, 1, 0, 2, 3, 6]


def moved(strokes, dx=0, dy=0, scale=1.0):
    return [
        [(140 + (x - 140) * scale + dx, 140 + (y - 140) * scale + dy) for x, y in s]
        for s in strokes
    ]


DRAWINGS = [
    *DIGITS,
    *(moved(d, -40, 20, 0.6) for d in DIGITS),  # smaller, off-centre
    *(moved(d, 30, -25, 0.5) for d in DIGITS[:6]),
]


@pytest.mark.browser
def test_twenty_drawn_digits_are_read_in_the_page_as_in_python(page, site):
    _, model = site
    clf = OnnxDigitClassifier(model)
    assert len(DRAWINGS) >= 20
    labels = []
    for i, strokes in enumerate(DRAWINGS):
        page.click("#clear")
        (draw_with_touch if i % 3 == 2 else draw_with_mouse)(page, strokes)
        assert page.evaluate("document.body.dataset.state") == "done"
        label, proba = shown(page)
        # What Python makes of the same canvas: its PNG through skdigits' own steps.
        x = load_digit_image(canvas_png(page))
        _, expected_proba = clf.predict_with_proba(x)
        assert page.evaluate("window.skdigits.lastScore") == pytest.approx(
            float(clf.digit_score(x)[0]), abs=1e-5
        )
        assert label == expected_label(clf, x)
        assert np.abs(proba - expected_proba[0]).max() <= 1e-5
        labels.append(label)
        if i == 0 and os.environ.get("SKDIGITS_UPDATE_SCREENSHOT"):
            page.screenshot(path=str(SCREENSHOT))
    # And they are the digits drawn (each one clear enough for the small test model).
    assert labels == [str(DRAWN[i % len(DIGITS)]) for i in range(len(DRAWINGS))]
    assert page.requests["blocked"] == []
    assert set(page.requests["served"]) >= {
        "",
        "app.mjs",
        "model.onnx",
        "ort-wasm-simd-threaded.wasm",
    }


@pytest.mark.browser
def test_a_blank_canvas_gives_no_digit_and_clear_resets(page):
    page.evaluate("window.skdigits.predictCanvas()")
    page.wait_for_function("document.body.dataset.state === 'nodigit'")
    assert page.inner_text("#label") == ""
    assert page.inner_text("#status") == "no digit"
    assert page.get_attribute("#p0", "data-p") is None


# Strokes drawn straight on the page's canvas: the page's own renderer, any line width.
_DRAW = """([strokes, width]) => {
  const ctx = document.getElementById('canvas').getContext('2d');
  ctx.lineWidth = width;
  for (const s of strokes) {
    ctx.beginPath(); ctx.moveTo(s[0][0], s[0][1]);
    for (const [x, y] of s.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }
  return window.skdigits.predictCanvas();
}"""


@pytest.mark.browser
def test_page_preprocessing_matches_preprocess_digit_on_60_drawings(page, site):
    _, model = site
    clf = OnnxDigitClassifier(model)
    rng = np.random.default_rng(0)
    kinds = [(1.0, 0, 18), (0.3, 60, 18), (0.15, 0, 6), (1.25, 0, 30), (0.8, 40, 3), (0.5, 80, 40)]
    worst = 0.0
    for i in range(60):
        scale, offset, width = kinds[i % len(kinds)]
        strokes = moved(DIGITS[i % len(DIGITS)], *(rng.uniform(-offset, offset, 2)), scale)
        page.click("#clear")
        page.evaluate(_DRAW, [strokes, width])
        page.wait_for_function("['done', 'nodigit'].includes(document.body.dataset.state)")
        js = np.asarray(page.evaluate("window.skdigits.lastInput"), np.float32).reshape(28, 28)
        py = load_digit_image(canvas_png(page))
        worst = max(worst, float(np.abs(js - py).max()))
        assert np.abs(js - py).max() <= PIXEL_TOLERANCE, f"drawing {i}"
        assert page.inner_text("#label") == expected_label(clf, py)
    assert worst <= PIXEL_TOLERANCE


@pytest.mark.browser
def test_a_residual_net_reads_in_the_page_as_in_python(
    chromium, resnet_pipeline, small_mnist, ort_web, tmp_path
):
    """The ResNet's graph (batch normalisation, residual additions, global average
    pooling) runs in onnxruntime-web as in onnxruntime."""
    from skdigits.export import export_onnx

    _, _, X_test, _ = small_mnist
    model = export_onnx(resnet_pipeline, tmp_path / "resnet.onnx", check_samples=X_test[:200])
    out = export_web(model, tmp_path / "site", download_if_missing=False)
    clf = OnnxDigitClassifier(model)
    with open_site(chromium, out) as page:
        for i, strokes in enumerate(DIGITS):
            page.click("#clear")
            (draw_with_touch if i % 2 else draw_with_mouse)(page, strokes)
            assert page.evaluate("document.body.dataset.state") in ("done", "nodigit")
            label, proba = shown(page)
            x = load_digit_image(canvas_png(page))
            _, expected_proba = clf.predict_with_proba(x)
            assert label == expected_label(clf, x)
            assert np.abs(proba - expected_proba[0]).max() <= 1e-5
        assert page.requests["blocked"] == []


def test_cli_writes_the_site_from_an_onnx_file(site, tmp_path, capsys):
    from skdigits.cli.main import main

    _, model = site
    out = tmp_path / "site"
    assert main(["export", str(model), "--web", str(out), "--offline"]) == 0
    assert f"wrote the in-browser site for {model} to {out}/" in capsys.readouterr().out
    assert (out / "index.html").is_file()
    assert (out / "ort-wasm-simd-threaded.wasm").is_file()
    with pytest.raises(SystemExit) as usage:
        main(["export", str(model), "--web", str(out), "-o", str(tmp_path / "x.onnx")])
    assert usage.value.code == 2
    assert "argument -o/--output: not allowed with argument --web" in capsys.readouterr().err


def test_cli_gates_a_pipeline_before_writing_its_site(
    fitted_pipeline, mnist, ort_web, tmp_path, capsys
):
    from skdigits import save_model
    from skdigits.cli.main import main

    saved = save_model(fitted_pipeline, tmp_path / "m.skdigits")
    out = tmp_path / "site"
    argv = ["export", str(saved), "--web", str(out), "--check-images", "100", "--offline"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "parity of the site's model.onnx on 100 MNIST test images: labels identical" in text
    clf = OnnxDigitClassifier(out / "model.onnx")
    assert clf.metadata["parity_n_samples"] == 100
    _, _, X_test, _ = mnist
    assert clf.predict(X_test[:50]).tolist() == fitted_pipeline.predict(X_test[:50]).tolist()


# --- the folder is written whole ---------------------------------------------------------------


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def old_site(site, tmp_path):
    """A copy of the exported site, to be replaced; and a second, different model."""
    from tests._support.onnx_models import build_model

    out, _ = site
    old = shutil.copytree(out, tmp_path / "site")
    return old, build_model(tmp_path / "other.onnx")


def test_a_site_write_that_fails_midway_keeps_the_old_site(old_site, ort_web, monkeypatch):
    """A file-size limit (real EFBIG: Python ignores SIGXFSZ) stops the copy of the 14 MB
    WebAssembly file: the old site stays byte for byte, and no part of a new one is left."""
    import resource

    out, other = old_site
    before = _snapshot(out)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, hard))
    try:
        with pytest.raises(WriteError) as info:
            export_web(other, out, download_if_missing=False, force=True)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert str(info.value).startswith(f"cannot write {out}: the file exceeds the file-size limit")
    assert str(info.value).endswith("; the old site is kept")
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["other.onnx", "site"]


@pytest.mark.parametrize("swap", ["exchange", "rename aside"])
def test_a_replaced_site_is_all_new(old_site, ort_web, monkeypatch, swap):
    from skdigits._core import atomic

    if swap == "rename aside":  # where renameat2 is missing
        monkeypatch.setattr(atomic, "exchange_paths", lambda a, b: False)
    out, other = old_site
    before = _snapshot(out)
    write(out / "model.json", b"{half a file")  # what a killed file-by-file writer left
    (out / "app.mjs").unlink()
    assert export_web(other, out, download_if_missing=False, force=True) == out
    after = _snapshot(out)
    assert sorted(after) == sorted(before)
    assert after["model.onnx"] == other.read_bytes() != before["model.onnx"]
    assert after["app.mjs"] == before["app.mjs"]
    assert json.loads(after["model.json"])["test_accuracy"] == 0.9765  # the new model's
    assert sorted(p.name for p in out.parent.iterdir()) == ["other.onnx", "site"]


def test_model_json_is_strict_json_when_the_metadata_is_not_finite(ort_web, tmp_path):
    """A browser's JSON.parse refuses NaN: a non-finite number is written as null."""
    from tests._support.onnx_models import METADATA, build_model

    model = build_model(tmp_path / "nan.onnx", metadata={**METADATA, "test_accuracy": "nan"})
    out = export_web(model, tmp_path / "site", download_if_missing=False)

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    info = json.loads((out / "model.json").read_text(), parse_constant=refuse)
    assert info["test_accuracy"] is None
    assert info["classes"] == list(range(10))


# --- "not a digit": the model's digit score against its threshold ---------------------------


@pytest.fixture(scope="module")
def scored_sites(tmp_path_factory, ort_web):
    """Sites of the fixed linear model, each with two digits drawn as pictures whose
    scores its threshold lies between: with the `digit_score` output; with the
    threshold only, the page computing the score its `digit_score_kind` names (the
    top probability when none is named, or the two likeliest classes'); and with
    neither (every drawing is a digit, as before)."""
    from skdigits.runtime import digit_score_from_proba
    from tests._support.onnx_models import METADATA, build_model

    d = tmp_path_factory.mktemp("scored")
    pictures = [
        render(number_strokes([digit], height=200, origin=(90, 40)), width=18, size=(280, 280))
        for digit in range(10)
    ]
    plain = OnnxDigitClassifier(build_model(d / "plain.onnx"))
    proba = plain.predict_proba(np.stack([preprocess_digit(p) for p in pictures]))
    sites = {}
    for kind, score_kind, output in [
        ("score output", "max_probability", "digit_score"),
        ("threshold only", "max_probability", None),
        ("threshold only, top two", "top2_probability", None),
        ("neither", None, None),
    ]:
        scores = digit_score_from_proba(proba, score_kind or "max_probability")
        low, high = int(np.argmin(scores)), int(np.argmax(scores))
        assert scores[high] - scores[low] > 0.05  # far apart: the last bits cannot flip it
        metadata = {**METADATA}
        if score_kind is not None:
            metadata["digit_threshold"] = repr((float(scores[low]) + float(scores[high])) / 2)
            if score_kind != "max_probability":
                metadata["digit_score_kind"] = score_kind
        path = d / f"{kind.replace(' ', '-').replace(',', '')}.onnx"
        model = build_model(path, metadata=metadata, score_output=output)
        site = export_web(model, d / path.stem, download_if_missing=False)
        sites[kind] = (site, pictures[low], pictures[high])
    return sites, plain


_PUT_DIGIT = """async ([b64, selector, action]) => {
  const grey = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const canvas = document.querySelector(selector);
  const image = new ImageData(canvas.width, canvas.height);
  grey.forEach((v, i) => image.data.set([v, v, v, 255], 4 * i));
  canvas.getContext('2d').putImageData(image, 0, 0);
  return window.skdigits[action]();
}"""


def put_picture(page, grey, selector="#canvas", action="predictCanvas"):
    """Put a greyscale picture on a canvas of the page and run the page on it."""
    return page.evaluate(_PUT_DIGIT, [base64.b64encode(grey.tobytes()).decode(), selector, action])


@pytest.mark.browser
@pytest.mark.parametrize(
    "kind", ["score output", "threshold only", "threshold only, top two", "neither"]
)
def test_a_drawing_under_the_threshold_shows_not_a_digit(chromium, scored_sites, kind):
    sites, plain = scored_sites
    site, unsure, sure = sites[kind]
    with open_site(chromium, site) as page:
        put_picture(page, unsure)
        page.wait_for_function("document.body.dataset.state === 'done'")
        label = str(plain.predict(preprocess_digit(unsure))[0])
        rejected = kind != "neither"
        assert page.inner_text("#label") == ("not a digit" if rejected else label)
        assert page.evaluate("document.body.dataset.digit") == ("no" if rejected else "yes")
        assert page.inner_text("#confidence").startswith("best guess") == rejected
        assert page.get_attribute("#p0", "data-p") is not None  # the bars still show
        put_picture(page, sure)
        page.wait_for_function("document.body.dataset.digit === 'yes'")
        assert page.inner_text("#label") == str(plain.predict(preprocess_digit(sure))[0])
        assert page.inner_text("#confidence").endswith(" % sure")
        # A number: read as read_numbers reads it with this model (whole marks under
        # the threshold left out as noise), each digit's score the model's own.
        model = OnnxDigitClassifier(site / "model.onnx")
        for _, grey in drawn_numbers(6, seed=3):
            reading = put_picture(page, grey, "#number-canvas", "readNumberCanvas")
            try:
                (expected,) = read_numbers(model, grey)
            except DataError:
                assert reading is None
                continue
            assert reading["text"] == expected.text
            assert [d["box"] for d in reading["digits"]] == [list(d.box) for d in expected.digits]
            # Each digit's score, from the same candidate Python cut out.
            candidates = segment_number(grey).images[[d["candidate"] for d in reading["digits"]]]
            scores = model.digit_score(candidates)
            assert [d["digit_score"] for d in reading["digits"]] == pytest.approx(scores, abs=1e-5)
            assert shown_reading(page)[0] == expected.text


# --- a whole number on the wide canvas ------------------------------------------------------

FORTY_TWO = number_strokes([4, 2], height=170, gap=0.45, origin=(260, 55))


@pytest.fixture
def number_page(web_page):
    web_page.click("#number-clear")
    assert web_page.inner_text("#number-text") == ""
    assert web_page.evaluate("document.body.dataset.numberState") == "empty"
    return web_page


def shown_reading(page):
    """The number the page shows: its text, each digit's box (as read) and each digit's
    entry in the list: its label and probability, and the percentage shown."""
    reading = page.evaluate("window.skdigits.lastReading")
    digits = page.locator("#number-digits li").evaluate_all(
        "els => els.map(e => [e.dataset.digit, Number(e.dataset.p),"
        " e.querySelector('.pct').textContent])"
    )
    boxes = [d["box"] for d in reading["digits"]] if reading else []
    return page.inner_text("#number-text"), boxes, digits


@pytest.mark.browser
@pytest.mark.parametrize("touch", [False, True], ids=["mouse", "touch"])
def test_42_written_on_the_wide_canvas_is_read_with_a_box_and_probability_per_digit(
    number_page, site, touch
):
    page = number_page
    draw_on(page, "#number-canvas", FORTY_TWO, touch=touch)
    page.wait_for_function("['done', 'error'].includes(document.body.dataset.numberState)")
    text, boxes, digits = shown_reading(page)
    assert text == "42"
    assert len(boxes) == 2
    assert boxes[0][2] <= boxes[1][0]  # left to right, apart
    assert [label for label, *_ in digits] == ["4", "2"]
    assert all(0.0 < p <= 1.0 and shown == f"{100 * p:.1f} %" for _, p, shown in digits)
    # Each box is drawn over its digit's ink, in the page's pixels.
    canvas = page.locator("#number-canvas").bounding_box()
    scale = canvas["width"] / 840
    for (x0, y0, x1, y1), el in zip(boxes, page.locator(".digit-box").all(), strict=True):
        drawn = el.bounding_box()
        assert drawn["x"] == pytest.approx(canvas["x"] + x0 * scale, abs=1)
        assert drawn["y"] == pytest.approx(canvas["y"] + y0 * scale, abs=1)
        assert drawn["width"] == pytest.approx((x1 - x0) * scale, abs=1)
        assert drawn["height"] == pytest.approx((y1 - y0) * scale, abs=1)
    # Python reads the same canvas the same way.
    (py,) = read_numbers(site[1], number_png(page))
    assert py.text == "42"
    assert [list(d.box) for d in py.digits] == boxes
    assert [d.probability for d in py.digits] == pytest.approx([d[1] for d in digits], abs=1e-5)
    assert page.requests["blocked"] == []


@pytest.mark.browser
def test_a_blank_wide_canvas_reads_no_number_and_clear_resets(number_page):
    page = number_page
    digit_shown = page.inner_text("#label")
    assert page.evaluate("window.skdigits.readNumberCanvas()") is None
    assert page.evaluate("document.body.dataset.numberState") == "nonumber"
    assert page.inner_text("#number-status") == "no number"
    draw_on(page, "#number-canvas", FORTY_TWO[:1])
    page.wait_for_function("document.body.dataset.numberState === 'done'")
    assert page.inner_text("#number-text") != ""
    page.click("#number-clear")
    assert shown_reading(page) == ("", [], [])
    assert page.inner_text("#label") == digit_shown  # the digit pad is left alone


def number_png(page) -> io.BytesIO:
    url = page.evaluate("document.getElementById('number-canvas').toDataURL('image/png')")
    return io.BytesIO(base64.b64decode(url.split(",", 1)[1]))


#: Drawn numbers the page reads exactly as read_numbers does (text, boxes, each
#: digit's probability to 1e-5); measured: all 60.
N_NUMBERS = 60


@pytest.mark.browser
def test_the_page_reads_60_drawn_numbers_as_read_numbers_does(number_page, site):
    _, model = site
    clf = OnnxDigitClassifier(model)
    right = 0
    for i, (digits, grey) in enumerate(drawn_numbers(N_NUMBERS)):
        js = put_picture(number_page, grey, "#number-canvas", "readNumberCanvas")
        (py,) = read_numbers(clf, grey)
        assert js["text"] == py.text, f"number {i} ({digits})"
        assert [d["box"] for d in js["digits"]] == [list(d.box) for d in py.digits], f"number {i}"
        assert [d["probability"] for d in js["digits"]] == pytest.approx(
            [d.probability for d in py.digits], abs=1e-5
        )
        right += py.text == digits
    # The small test model reads most of them right too (the drawings are numbers).
    assert right >= N_NUMBERS // 2

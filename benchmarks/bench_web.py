"""Latency of the in-browser page (``skdigits export --web``) next to the served page, in Chromium.

Exports MODEL as a static site, serves it from a thread on 127.0.0.1 (every request
outside it blocked) and drives headless Chromium (Debian's ``chromium``, through
Playwright, as the tests do):

- **load**: ``--loads`` fresh browser contexts (empty HTTP cache) each open the page;
  the time from navigation to a ready model (module scripts, 14 MB of WASM compiled,
  the ONNX session created and run once on a blank image) and the page's own timing
  of its first prediction (preprocessing, ``session.run``, drawing the bars) are
  reported as medians;
- **per prediction**: ``--strokes`` strokes drawn with the mouse; from the pen lifting
  to the answer shown, timed from Python around ``mouse.up()``, and the page's own
  timing of the same work (medians and 90th percentiles);
- the same strokes on ``skdigits serve MODEL``'s page (one worker on loopback), whose
  answer is a ``POST /predict`` of the canvas PNG, for comparison.

Without ``--model`` the contract-conformant random-weight MLP of
``bench_inference.py`` is used (latency does not depend on the weights).

    python benchmarks/bench_web.py [--model PATH.onnx] [--loads 5] [--strokes 40]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench_inference import build_fallback_model
from bench_serve import free_port, start_server, wait_until_healthy

CHROMIUM = os.environ.get("SKDIGITS_CHROMIUM") or shutil.which("chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
STROKE = [(80, 60), (200, 60), (120, 230)]  # a seven


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def serve_folder(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def start_service(model: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``skdigits serve MODEL`` (one worker) on a free loopback port, once it answers."""
    port = free_port()
    proc = start_server("1-worker", model, port)
    try:
        wait_until_healthy(port, proc)
    except BaseException:
        proc.terminate()
        raise
    return proc, f"http://127.0.0.1:{port}/"


def open_page(browser, origin: str):
    context = browser.new_context(viewport={"width": 760, "height": 520})
    context.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith(origin) else r.abort()
    )
    page = context.new_page()
    start = time.perf_counter()
    page.goto(origin)
    page.wait_for_function("document.body.dataset.state === 'empty'", timeout=120_000)
    return context, page, (time.perf_counter() - start) * 1e3


def stroke_latencies(page, n: int) -> list[float]:
    """Milliseconds from the pen lifting to the answer shown, for ``n`` strokes."""
    box = page.locator("#canvas").bounding_box()
    x0, y0 = box["x"], box["y"]
    times = []
    for _ in range(n):
        page.click("#clear")
        (x, y), *rest = STROKE
        page.mouse.move(x0 + x, y0 + y)
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(x0 + x, y0 + y, steps=10)
        start = time.perf_counter()
        page.mouse.up()
        page.wait_for_function("document.body.dataset.state === 'done'")
        times.append((time.perf_counter() - start) * 1e3)
    return times


def summary(times: list[float]) -> str:
    p90 = sorted(times)[int(0.9 * (len(times) - 1))]
    return f"median {statistics.median(times):6.1f} ms, p90 {p90:6.1f} ms (n={len(times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an exported .onnx model")
    parser.add_argument("--loads", type=int, default=5, help="fresh page loads (default: 5)")
    parser.add_argument("--strokes", type=int, default=40, help="strokes per page (default: 40)")
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("Chromium is not installed (apt-get install chromium)")

    from playwright.sync_api import sync_playwright

    from skdigits.export import export_web

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-web-") as scratch:
        model = args.model or build_fallback_model(Path(scratch) / "mlp.onnx")
        site = export_web(model, Path(scratch) / "site")
        server, origin = serve_folder(site)
        service, service_url = start_service(model)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                ready, first = [], []
                for _ in range(args.loads):
                    context, page, ms = open_page(browser, origin)
                    ready.append(ms)
                    stroke_latencies(page, 1)
                    first.append(page.evaluate("window.skdigits.timings.firstPredictionMs"))
                    context.close()
                context, page, _ = open_page(browser, origin)
                stroke_latencies(page, 3)  # warm-up
                web = stroke_latencies(page, args.strokes)
                inside = page.evaluate("window.skdigits.timings.predictionsMs")[-args.strokes :]
                context.close()
                context, page, _ = open_page(browser, service_url)
                stroke_latencies(page, 3)
                served = stroke_latencies(page, args.strokes)
                context.close()
                browser.close()
        finally:
            service.terminate()
            service.wait(timeout=30)
            server.shutdown()

    print(f"model: {'random-weight 784-100-10 MLP' if args.model is None else args.model}")
    print(
        f"cores: {os.cpu_count()}, load average before {load_before:.1f}, "
        f"after {os.getloadavg()[0]:.1f}"
    )
    print(f"in-browser page, load to model ready ({args.loads} fresh loads): {summary(ready)}")
    print(f"in-browser page, first prediction (page's timing):       {summary(first)}")
    print(f"in-browser page, pen up to answer shown:                 {summary(web)}")
    print(f"in-browser page, preprocess + run + bars (page's timing): {summary(inside)}")
    print(f"served page (POST /predict), pen up to answer shown:     {summary(served)}")


if __name__ == "__main__":
    main()

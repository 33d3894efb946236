"""The real service under faults on loopback: stalled clients, floods, slow models, big uploads.

``skdigits serve`` (uvicorn with httptools) runs on 127.0.0.1 under an
address-space limit; every client here is bounded in count and time. Times are
printed (``pytest -s``), not asserted: a shared machine makes them noise. What
is asserted is what a client sees (status codes, closed connections, answers)
and peak memory; the limits on time are guards against a hang, and the only
ones below a default say that a configured timeout, not the default, acted.
"""

from __future__ import annotations

import collections
import contextlib
import json
import resource
import selectors
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from skdigits.io._images import MAX_IMAGE_PIXELS
from skdigits.serve._limits import decode_memory_bound
from tests._support.hostile import MiB, png
from tests._support.onnx_models import build_model
from tests._support.photos import long_strip_png, many_page_tiff
from tests._support.servers import get, post, running_server, skdigits_serve

SERVER_ADDRESS_SPACE = 6 * 1024 * MiB
HANG_SECONDS = 20  # how long a test waits for the server before it calls it hung

JSON_IMAGE = json.dumps({"pixels": np.zeros((28, 28), int).tolist()}).encode()


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (SERVER_ADDRESS_SPACE, SERVER_ADDRESS_SPACE))


def limited_server(argv: list[str]):
    """``running_server`` under the address-space limit, with warnings only."""
    return running_server(argv, preexec_fn=_limit_address_space)


def serve_argv(model: Path, *flags: str) -> list[str]:
    return skdigits_serve(model, "--log-level", "warning", *flags)


def peak_rss(pid: int) -> int:
    """VmHWM of a process: its peak resident memory so far, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def test_the_service_drops_stalled_clients_and_keeps_answering(tmp_path):
    """Slowloris, stalled bodies, a huge header block and an idle keep-alive connection are
    all dropped by their configured timeouts, while valid requests keep getting answers."""
    model = build_model(tmp_path / "m.onnx")
    flags = ["--header-timeout", "1", "--body-timeout", "1", "--keep-alive-timeout", "1"]
    flags += ["--max-header-bytes", "16384", "--limit-concurrency", "200"]
    with limited_server(serve_argv(model, *flags)) as server:
        port = server.port
        start = time.monotonic()
        closed: dict[str, float] = {}
        replies: dict[str, bytes] = collections.defaultdict(bytes)
        sockets: dict[str, socket.socket] = {}

        def connect(name: str, first: bytes) -> None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(first)
            sock.setblocking(False)
            sockets[name] = sock

        for i in range(20):  # slowloris: a header line every 0.3 s, never the blank line
            connect(f"slow{i}", b"POST /predict HTTP/1.1\r\nHost: x\r\n")
        for i in range(5):  # a large Content-Length, then 4 bytes
            connect(
                f"stall{i}",
                b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                b"Content-Length: 100000\r\n\r\nabcd",
            )
        connect("keepalive", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        huge = socket.create_connection(("127.0.0.1", port), timeout=5)
        with contextlib.suppress(OSError):  # the server may close before all is sent
            huge.sendall(b"GET /healthz HTTP/1.1\r\n" + b"X-Filler: " + b"a" * 100_000 + b"\r\n")
        huge_reply = huge.recv(4096)
        huge.close()

        selector = selectors.DefaultSelector()
        for name, sock in sockets.items():
            selector.register(sock, selectors.EVENT_READ, name)
        answers: list[tuple[int, float]] = []
        next_trickle = next_request = time.monotonic()
        # Until every stalled client is gone and 8 valid request pairs were answered.
        while (sockets or len(answers) < 8) and time.monotonic() - start < HANG_SECONDS:
            now = time.monotonic()
            if now >= next_trickle:
                next_trickle = now + 0.3
                for name, sock in list(sockets.items()):
                    if name.startswith("slow"):
                        with contextlib.suppress(BlockingIOError, OSError):
                            sock.send(b"X-Slow: 1\r\n")
            if now >= next_request:  # valid traffic meanwhile, on fresh connections
                next_request = now + 0.25
                t0 = time.monotonic()
                status = get(port, "/healthz")[0]
                status2 = post(port, JSON_IMAGE, "application/json")[0]
                answers.append((max(status, status2), time.monotonic() - t0))
            for key, _ in selector.select(timeout=0.05):
                name = key.data
                try:
                    chunk = sockets[name].recv(65536)
                except (ConnectionResetError, BrokenPipeError):
                    chunk = b""
                except BlockingIOError:
                    continue
                replies[name] += chunk
                if not chunk:
                    closed[name] = time.monotonic() - start
                    selector.unregister(sockets[name])
                    sockets.pop(name).close()
        for sock in sockets.values():
            sock.close()

    assert not sockets, f"still open after {HANG_SECONDS} s: {sorted(sockets)}"
    slow = [closed[f"slow{i}"] for i in range(20)]
    stalled = [closed[f"stall{i}"] for i in range(5)]
    for i in range(5):
        assert replies[f"stall{i}"].startswith(b"HTTP/1.1 408 "), replies[f"stall{i}"][:200]
    assert replies["keepalive"].startswith(b"HTTP/1.1 200 ")
    assert huge_reply.startswith(b"HTTP/1.1 431 "), huge_reply[:200]
    assert len(answers) >= 8, answers
    assert all(status == 200 for status, _ in answers), answers
    # Closed before the defaults (10 s headers, 30 s body, 5 s keep-alive) could
    # have acted: the flags of 1 s took effect.
    assert max(slow) < 10, slow
    assert max(stalled) < 30, stalled
    assert closed["keepalive"] < 5, closed
    print(
        f"slowloris closed after {min(slow):.2f}-{max(slow):.2f} s; stalled bodies after "
        f"{min(stalled):.2f}-{max(stalled):.2f} s; keep-alive after {closed['keepalive']:.2f} s; "
        f"{len(answers)} valid request pairs, slowest {max(s for _, s in answers) * 1000:.0f} ms"
    )


def test_the_service_caps_concurrent_connections(tmp_path):
    model = build_model(tmp_path / "m.onnx")
    argv = serve_argv(model, "--limit-concurrency", "4", "--header-timeout", "5")
    with limited_server(argv) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(4)]
        try:
            status, body = get(server.port, "/healthz")
            assert status == 503, body
        finally:
            for sock in idle:
                sock.close()
        # The server notices the closed connections on its own time: poll, bounded.
        deadline = time.monotonic() + HANG_SECONDS
        while (status := get(server.port, "/healthz")[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status == 200


# A model that holds every prediction until the test opens its gate, so the test
# knows a prediction is running without timing one; it says when one has started.
GATED_MODEL_SERVER = """
import sys, time
from pathlib import Path
import uvicorn
from skdigits.serve import create_app

app = create_app(sys.argv[1])
classifier = app.state.classifier
real = classifier.predict_with_score
started, gate = Path(sys.argv[2]), Path(sys.argv[3])

def gated(X):
    started.touch()
    deadline = time.monotonic() + 60
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return real(X)

classifier.predict_with_score = gated
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[4]), log_level="warning")
"""


def test_a_slow_json_prediction_never_blocks_the_event_loop(tmp_path):
    model = build_model(tmp_path / "m.onnx")
    started, gate = tmp_path / "started", tmp_path / "gate"
    argv = [sys.executable, "-c", GATED_MODEL_SERVER, str(model), str(started), str(gate)]
    with limited_server(argv) as server:
        outcome: dict[str, Any] = {}

        def predict() -> None:
            outcome["status"] = post(server.port, JSON_IMAGE, "application/json", timeout=60)[0]

        worker = threading.Thread(target=predict)
        worker.start()
        try:
            deadline = time.monotonic() + HANG_SECONDS
            while not started.exists():
                assert time.monotonic() < deadline, "the prediction never started"
                time.sleep(0.01)
            # The prediction is held; a blocked event loop could not answer this.
            status = get(server.port, "/healthz", timeout=HANG_SECONDS)[0]
            still_predicting = worker.is_alive()
        finally:
            gate.touch()
            worker.join(timeout=60)
    assert status == 200
    assert still_predicting
    assert outcome == {"status": 200}


def large_digit_png(side: int = 4096) -> bytes:
    """A white stroke on black, ``side`` pixels square: about 25 KB of PNG."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (side, side), 0)
    ImageDraw.Draw(img).line(
        [(side // 3, side // 5), (side // 2, 4 * side // 5)], fill=255, width=side // 20
    )
    return png(img)


#: Peak resident memory the server may reach under 40 concurrent 4096x4096 uploads
#: with the default --decode-concurrency 2: two decodes of about 150 MB each, plus
#: the process itself (about 90 MB) and the 40 bodies waiting their turn.
UPLOAD_PEAK_BOUND = 600 * MiB


def test_peak_memory_under_40_concurrent_large_uploads_is_set_by_configuration(tmp_path):
    model = build_model(tmp_path / "m.onnx")
    image = large_digit_png()
    with limited_server(serve_argv(model)) as server:
        before = peak_rss(server.process.pid)
        statuses: list[int] = []

        def upload() -> None:
            statuses.append(post(server.port, image, "image/png", timeout=120)[0])

        t0 = time.monotonic()
        clients = [threading.Thread(target=upload) for _ in range(40)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=180)
        seconds = time.monotonic() - t0
        peak = peak_rss(server.process.pid)
        assert get(server.port, "/healthz")[0] == 200
    assert statuses == [200] * 40, statuses
    assert peak <= UPLOAD_PEAK_BOUND, peak / MiB
    print(
        f"40 uploads of {len(image)} bytes (4096x4096) in {seconds:.1f} s; server peak "
        f"{peak / MiB:.0f} MB (at start {before / MiB:.0f} MB)"
    )


def small_digit_png() -> bytes:
    """A 28x28 PNG of a white bar on black: a "1" any model answers."""
    from PIL import Image

    pixels = np.zeros((28, 28), np.uint8)
    pixels[4:24, 12:16] = 255
    return png(Image.fromarray(pixels))


def test_many_page_tiffs_do_not_hold_the_decode_slots(tmp_path):
    """Two uploads of a 3.7 MB TIFF of 36,000 pages fill both decode slots at once; a
    28x28 PNG from another client is still answered at once. Counting the pages for the
    message once took 18 s each, and the PNG waited 50 s."""
    model = build_model(tmp_path / "m.onnx")
    tiff = many_page_tiff(36_000)
    answers: dict[str, tuple[int, bytes, float]] = {}

    def send(name: str, body: bytes, content_type: str) -> None:
        t0 = time.monotonic()
        status, reply = post(server.port, body, content_type, timeout=HANG_SECONDS)
        answers[name] = (status, reply, time.monotonic() - t0)

    with limited_server(serve_argv(model)) as server:
        clients = [
            threading.Thread(target=send, args=(f"tiff{i}", tiff, "image/tiff")) for i in range(2)
        ]
        for client in clients:
            client.start()
        send("png", small_digit_png(), "image/png")
        for client in clients:
            client.join(timeout=HANG_SECONDS)
    for name in ("tiff0", "tiff1"):
        status, reply, _ = answers[name]
        assert status == 422, reply
        assert b"is animated or has several pages" in reply
    assert answers["png"][0] == 200
    assert max(seconds for _, _, seconds in answers.values()) < 5, answers
    print({name: f"{seconds:.2f} s" for name, (_, _, seconds) in answers.items()})


def test_two_large_photos_at_once_stay_within_two_decode_slots(tmp_path):
    """Two 16-megapixel photos decoded at once (the photo path once took 546 MB each)
    and two 191x87,838 strips: the server's peak grows by at most two decode bounds."""
    from PIL import Image

    model = build_model(tmp_path / "m.onnx")
    side = 4096
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    page = 200 - 80 * xs + 20 * ys
    page[side // 4 : 3 * side // 4, side // 2 : side // 2 + side // 14] = 30
    photo = png(Image.fromarray(page.astype(np.uint8)).convert("RGBA"))
    strip = long_strip_png()
    with limited_server(serve_argv(model)) as server:
        assert post(server.port, small_digit_png(), "image/png")[0] == 200  # everything imported
        before = peak_rss(server.process.pid)
        statuses: list[int] = []
        bodies = [photo, photo, strip, strip]
        clients = [
            threading.Thread(
                target=lambda b=body: statuses.append(
                    post(server.port, b, "image/png", timeout=HANG_SECONDS * 3)[0]
                )
            )
            for body in bodies
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=HANG_SECONDS * 3)
        peak = peak_rss(server.process.pid)
    assert sorted(statuses) == [200, 200, 422, 422], statuses
    assert peak - before <= 2 * decode_memory_bound(MAX_IMAGE_PIXELS), (peak - before) / MiB
    print(f"server peak {peak / MiB:.0f} MB, {(peak - before) / MiB:.0f} MB over its start")


def dotted_page(side: int = 4096) -> bytes:
    """A white page of ``side``² pixels with a 2-pixel dot every 16: 65,536 marks, about 29 KB."""
    from PIL import Image

    page = np.full((side, side), 255, np.uint8)
    page[::16, ::16] = 0
    page[1::16, ::16] = 0
    return png(Image.fromarray(page))


def post_read(port: int, body: bytes, timeout: float) -> tuple[int, bytes]:
    """``POST /read`` of a PNG on a fresh connection: the status and the body."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/read", body=body, headers={"Content-Type": "image/png"})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def test_pages_of_thousands_of_marks_sent_to_read_do_not_hold_predict(tmp_path):
    """Six pages of 65,536 dots (16 MP each) sent to /read at once: each is refused for
    its marks, and a 28x28 PNG sent to /predict meanwhile is answered at once, since
    pages are read in fewer at a time than there are decode slots (sharing them all, the
    PNG waited 1.2 s, for pages to be refused). The server's peak memory grows by at
    most the two decode slots' bound."""
    model = build_model(tmp_path / "m.onnx")
    page, pages = dotted_page(), 6
    answers: dict[str, tuple[int, bytes, float]] = {}

    def send(name: str, call: Any, *args: Any) -> None:
        t0 = time.monotonic()
        status, reply = call(*args)
        answers[name] = (status, reply, time.monotonic() - t0)

    with limited_server(serve_argv(model)) as server:
        assert post(server.port, small_digit_png(), "image/png")[0] == 200  # all imported
        before = peak_rss(server.process.pid)
        clients = [
            threading.Thread(
                target=send, args=(f"page{i}", post_read, server.port, page, HANG_SECONDS * 3)
            )
            for i in range(pages)
        ]
        for client in clients:
            client.start()
        time.sleep(0.5)  # the pages are in
        send("png", post, server.port, small_digit_png(), "image/png", HANG_SECONDS)
        for client in clients:
            client.join(timeout=HANG_SECONDS * 3)
        peak = peak_rss(server.process.pid)
    for i in range(pages):
        status, reply, _ = answers[f"page{i}"]
        assert status == 422, reply
        assert b"breaks into 65536 pieces of writing, over the limit of 256" in reply
    assert answers["png"][0] == 200
    reads = sorted(seconds for name, (_, _, seconds) in answers.items() if name != "png")
    # Well within the quickest refusal: the PNG waited for no page.
    assert answers["png"][2] < min(5, reads[0] / 2), (answers["png"], reads)
    assert reads[-1] < HANG_SECONDS * 3, reads
    assert peak - before <= 2 * decode_memory_bound(MAX_IMAGE_PIXELS), (peak - before) / MiB
    print(
        f"{pages} pages of 65,536 dots: refused in {reads[0]:.2f}-{reads[-1]:.2f} s; "
        f"/predict answered in {answers['png'][2]:.2f} s; server peak "
        f"{(peak - before) / MiB:.0f} MB over its start"
    )


def test_the_most_marks_read_cost_a_decode_slots_bound(tmp_path):
    """A 16 MP page of 250 separate strokes, just under the limit of 256 marks, is read
    whole: 250 digits in about 0.3 s, the server growing by less than one decode bound."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (4096, 4096), 255)
    draw = ImageDraw.Draw(img)
    for k in range(250):
        draw.line([(10 + 16 * k, 1000), (16 + 16 * k, 3000)], fill=0, width=5)
    model = build_model(tmp_path / "m.onnx")
    with limited_server(serve_argv(model)) as server:
        assert post(server.port, small_digit_png(), "image/png")[0] == 200  # all imported
        before = peak_rss(server.process.pid)
        t0 = time.monotonic()
        status, reply = post_read(server.port, png(img), HANG_SECONDS)
        seconds = time.monotonic() - t0
        peak = peak_rss(server.process.pid)
    assert status == 200, reply[:300]
    (reading,) = json.loads(reply)["readings"]
    assert len(reading["digits"]) == 250
    assert seconds < HANG_SECONDS, seconds
    assert peak - before <= decode_memory_bound(MAX_IMAGE_PIXELS), (peak - before) / MiB
    print(
        f"250 marks read in {seconds:.2f} s; server peak "
        f"{(peak - before) / MiB:.0f} MB over its start"
    )

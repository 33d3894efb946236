"""A bounded load test of ``skdigits serve`` on loopback: requests per second and latency.

Starts each server setup in a subprocess on 127.0.0.1 (a free port each), waits
for ``GET /healthz``, sends each ``--warmup`` requests, then exactly
``--requests`` single-image JSON requests ``POST /predict {"pixels": 28x28}`` per
setup over ``--concurrency`` keep-alive connections, in ``--rounds`` rounds in
which the setups take turns (so other work on the machine weighs on all of them
alike), stops the servers and prints requests per second (overall, and the
slowest and fastest round), the 50th/99th percentile latency and the CPU time per
request, with PASS or MISS against the targets (≥ 1,500 requests/s with p99 ≤
20 ms). Every response must be 200 with labels; the run stops by itself, and gives
up after ``--timeout`` seconds.

The load generator is a minimal HTTP/1.1 client on asyncio (uvloop when
installed) that sends pre-encoded requests, so that it takes as little CPU as
possible from the server: on a two-core machine they share the cores, and the
figures are those of server and client together.

Setups (``--setups``):

- ``1-worker``: ``skdigits serve MODEL`` (uvicorn, one process, uvloop + httptools);
- ``2-workers``: ``skdigits serve MODEL --workers 2``;
- ``1-worker-h11``: the same app under uvicorn's pure-Python HTTP parser and
  asyncio's loop (what uvicorn runs without uvloop and httptools);
- ``1-worker-stalled``: ``1-worker`` while ``--stalled`` slowloris clients (20) hold
  connections open, each sending a header line every 0.3 s and never the blank
  line, reopened whenever the server drops them: next to ``1-worker``, what
  stalled clients cost everyone else (``tests/security/test_service.py`` checks
  that they are dropped and valid requests answered, and prints their latency).

The images are MNIST test images when the data set is cached (else seeded
synthetic strokes), cycled, so the JSON bodies vary as real ones do. Without
``--model``, a contract-conformant 784-100-10 MLP with random weights is built
with ``onnx.helper`` (speed does not depend on the weights).

    python benchmarks/bench_serve.py [--model PATH.onnx] [--requests 20000] [--rounds 4]
        [--concurrency 8] [--setups 1-worker,2-workers,1-worker-h11]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from bench_inference import build_fallback_model  # same contract model, one builder

TARGET_RPS = 1500.0
TARGET_P99_MS = 20.0
SETUPS = ("1-worker", "2-workers", "1-worker-h11", "1-worker-stalled")


def load_images(n: int = 256) -> tuple[np.ndarray, str]:
    """``n`` raw 28x28 uint8 images: MNIST test images if cached, else synthetic strokes."""
    try:
        from skdigits.datasets import fetch_mnist

        X, _ = fetch_mnist(subset="test", return_X_y=True, download_if_missing=False)
        return X[:n], "MNIST test images"
    except Exception:
        rng = np.random.default_rng(0)
        X = np.zeros((n, 28, 28), dtype=np.uint8)
        for image in X:
            top, left = rng.integers(4, 12, size=2)
            image[top : top + 14, left : left + 3] = rng.integers(128, 256, size=(14, 3))
        return X, "synthetic strokes"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(setup: str, model: Path, port: int) -> subprocess.Popen[bytes]:
    python = sys.executable
    if setup in ("1-worker", "2-workers", "1-worker-stalled"):
        workers = "2" if setup == "2-workers" else "1"
        argv = [python, "-m", "skdigits", "serve", str(model), "--port", str(port)]
        argv += ["--workers", workers, "--log-level", "warning"]
        env = dict(os.environ)
    elif setup == "1-worker-h11":
        argv = [python, "-m", "uvicorn", "--factory", "skdigits.serve.app:create_app_from_env"]
        argv += ["--port", str(port), "--http", "h11", "--loop", "asyncio"]
        argv += ["--no-access-log", "--log-level", "warning"]
        env = {**os.environ, "SKDIGITS_SERVE_MODEL": str(model)}
    else:
        raise SystemExit(f"unknown setup {setup!r}; choose from {', '.join(SETUPS)}")
    return subprocess.Popen(argv, env=env)


def wait_until_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server did not answer /healthz within {timeout:.0f} s")


def encode_requests(images: np.ndarray, port: int) -> list[bytes]:
    requests = []
    for image in images:
        body = json.dumps({"pixels": image.tolist()}, separators=(",", ":")).encode()
        head = (
            f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        requests.append(head + body)
    return requests


async def drive(port: int, requests: list[bytes], total: int, concurrency: int) -> list[int]:
    """Send exactly ``total`` requests over ``concurrency`` connections; latencies in ns."""
    latencies: list[int] = []
    counter = iter(range(total))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                start = time.perf_counter_ns()
                writer.write(requests[i % len(requests)])
                head = await reader.readuntil(b"\r\n\r\n")
                status = head[9:12]
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter_ns() - start)
                if status != b"200" or not body.startswith(b'{"labels":'):
                    raise RuntimeError(f"request failed: {head[:12]!r} {body[:200]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies


async def hold_stalled(port: int, n: int, ready: asyncio.Event, stop: asyncio.Event) -> int:
    """Keep ``n`` slowloris connections open (``ready`` once they are) until ``stop``.

    Returns how many the server dropped, and were reopened, meanwhile.
    """

    async def stalled() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /predict HTTP/1.1\r\nHost: x\r\n")
        return reader, writer

    clients = [await stalled() for _ in range(n)]
    ready.set()
    reopened = 0
    try:
        while not stop.is_set():
            for i, (reader, writer) in enumerate(clients):
                if reader.at_eof() or writer.is_closing():  # dropped by the server
                    writer.close()
                    clients[i] = await stalled()
                    reopened += 1
                else:
                    writer.write(b"X-Slow: 1\r\n")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.3)
    finally:
        for _, writer in clients:
            writer.close()
    return reopened


def process_tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of ``root`` and its descendants (Linux ``/proc``), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    tree, total = {root}, 0.0
    for pid in sorted(cpu):  # children have larger ids than their parents, as a rule
        if pid == root or parents.get(pid) in tree:
            tree.add(pid)
            total += cpu[pid]
    return total


class Server:
    """One setup's server process and what was measured against it."""

    def __init__(self, setup: str, model: Path, images: np.ndarray, stalled: int = 0) -> None:
        self.setup = setup
        self.stalled = stalled if setup == "1-worker-stalled" else 0
        self.dropped = 0  # stalled clients the server closed while measured
        self.port = free_port()
        self.process = start_server(setup, model, self.port)
        self.requests = encode_requests(images, self.port)
        self.latencies: list[int] = []
        self.seconds = self.server_cpu = self.client_cpu = 0.0
        self.round_rps: list[float] = []

    async def load(self, n: int, concurrency: int, *, record: bool = True) -> None:
        server_cpu = process_tree_cpu_seconds(self.process.pid)
        client_cpu = time.process_time()
        ready, stop = asyncio.Event(), asyncio.Event()
        holding = asyncio.create_task(hold_stalled(self.port, self.stalled, ready, stop))
        await ready.wait()  # the stalled clients are connected before the load starts
        start = time.perf_counter()
        latencies = await drive(self.port, self.requests, n, concurrency)
        elapsed = time.perf_counter() - start
        stop.set()
        dropped = await holding
        if record:
            self.client_cpu += time.process_time() - client_cpu
            self.server_cpu += process_tree_cpu_seconds(self.process.pid) - server_cpu
            self.seconds += elapsed
            self.latencies += latencies
            self.round_rps.append(n / elapsed)
            self.dropped += dropped

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def summary(self) -> dict[str, float]:
        ms = np.array(self.latencies) / 1e6
        n = len(self.latencies)
        return {
            "rps": n / self.seconds,
            "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max()),
            "server_us": 1e6 * self.server_cpu / n,
            "client_us": 1e6 * self.client_cpu / n,
            "rps_low": min(self.round_rps),
            "rps_high": max(self.round_rps),
        }


def run_rounds(servers: list[Server], args: argparse.Namespace) -> None:
    """Warm every server up, then load them in turn, round after round (order rotating)."""
    per_round = [args.requests // args.rounds] * args.rounds
    per_round[-1] += args.requests - sum(per_round)

    async def main() -> None:
        for server in servers:
            await server.load(args.warmup, args.concurrency, record=False)
        for i, n in enumerate(per_round):
            for server in servers[i % len(servers) :] + servers[: i % len(servers)]:
                await server.load(n, args.concurrency)

    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(asyncio.wait_for(main(), timeout=args.timeout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an exported .onnx model")
    parser.add_argument("--requests", type=int, default=20_000, help="measured requests per setup")
    parser.add_argument("--warmup", type=int, default=1_000, help="requests before measuring")
    parser.add_argument("--rounds", type=int, default=4, help="rounds the requests are split in")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--setups", default=",".join(SETUPS), help="comma-separated setups")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for it all, at most")
    parser.add_argument(
        "--stalled", type=int, default=20, help="slowloris clients of 1-worker-stalled"
    )
    args = parser.parse_args(argv)
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    for setup in setups:
        if setup not in SETUPS:
            parser.error(f"unknown setup {setup!r}; choose from {', '.join(SETUPS)}")
    if not (args.requests >= args.rounds >= 1 and args.concurrency >= 1 and args.warmup >= 0):
        parser.error("need --requests >= --rounds >= 1, --concurrency >= 1, --warmup >= 0")

    images, source = load_images()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build_fallback_model(Path(tmp) / "mlp.onnx")
        print(
            f"model: {model if args.model else 'random-weight 784-100-10 MLP'}; "
            f"bodies: {source}; {args.requests} requests per setup in {args.rounds} rounds "
            f"taking turns, after {args.warmup} warm-up; {args.concurrency} keep-alive "
            f"connections; {os.cpu_count()} CPUs shared by server and client; "
            f"load average before: {os.getloadavg()[0]:.2f}"
        )
        servers: list[Server] = []
        try:
            for setup in setups:
                servers.append(Server(setup, model, images, args.stalled))
            for server in servers:
                wait_until_healthy(server.port, server.process)
            run_rounds(servers, args)
        finally:
            for server in servers:
                server.stop()

    print(
        f"{'setup':<16} {'req/s':>7} {'rounds':>11} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'server CPU':>11} {'client CPU':>11}  verdict"
    )
    results = {server.setup: server.summary() for server in servers}
    for setup, r in results.items():
        ok = r["rps"] >= TARGET_RPS and r["p99"] <= TARGET_P99_MS
        print(
            f"{setup:<16} {r['rps']:>7.0f} {r['rps_low']:>5.0f}-{r['rps_high']:<5.0f} "
            f"{r['p50']:>7.2f} {r['p99']:>7.2f} {r['max']:>7.2f} "
            f"{r['server_us']:>8.0f} µs {r['client_us']:>8.0f} µs  {'PASS' if ok else 'MISS'}"
        )
    if {"1-worker", "1-worker-stalled"} <= results.keys():
        calm, stalled = results["1-worker"], results["1-worker-stalled"]
        dropped = next(s.dropped for s in servers if s.setup == "1-worker-stalled")
        print(
            f"with {args.stalled} stalled clients held open (dropped and reopened {dropped} "
            f"times): p99 {stalled['p99']:.2f} ms vs {calm['p99']:.2f} ms without "
            f"({stalled['p99'] / calm['p99']:.2f}x), {stalled['rps'] / calm['rps']:.2f}x "
            "the requests per second"
        )
    best = max(results, key=lambda s: results[s]["rps"])
    print(
        f"targets: >= {TARGET_RPS:.0f} req/s with p99 <= {TARGET_P99_MS:.0f} ms; fastest: {best}. "
        "CPU: CPU time per request of the server processes and of this load generator. "
        f"Load average after: {os.getloadavg()[0]:.2f} (other work on the machine "
        "shares the cores)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

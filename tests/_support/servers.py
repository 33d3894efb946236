"""Real servers on loopback: one start-up (a free port, then ``GET /healthz``) for every test.

``running_server`` starts a command whose last argument is the port, waits until
it answers ``/healthz`` with 200, yields it and stops it; ``skdigits_serve`` is
the command line of ``skdigits serve MODEL ... --port`` and ``uvicorn_factory``
that of the environment's app factory. ``get`` and ``post`` are
bounded stdlib clients.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

STARTUP_SECONDS = 60  # a guard against a server that never comes up, not a speed check


@dataclasses.dataclass(frozen=True)
class Server:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def skdigits_serve(model: Path, *flags: str) -> list[str]:
    """``python -m skdigits serve MODEL FLAGS --port``: ``running_server`` adds the port."""
    return [sys.executable, "-m", "skdigits", "serve", str(model), *flags, "--port"]


def uvicorn_factory(*flags: str) -> list[str]:
    """``uvicorn --factory`` on :func:`skdigits.serve.app.create_app_from_env`, which
    reads its model and options from ``SKDIGITS_SERVE_*`` variables; ``running_server``
    adds the port."""
    app = "skdigits.serve.app:create_app_from_env"
    return [sys.executable, "-m", "uvicorn", "--factory", app, *flags, "--port"]


@contextlib.contextmanager
def running_server(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Server]:
    """Run ``argv`` plus a free port as its last argument until it answers ``/healthz``.

    Its stderr goes to a temporary file (a pipe nobody reads could fill and stall
    the server) and is shown if the server exits or never answers.
    """
    port = free_port()
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [*argv, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            preexec_fn=preexec_fn,
        )

        def said() -> str:
            stderr.seek(0)
            return stderr.read().decode(errors="replace")[-2000:]

        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"the server exited with status {proc.returncode}: {said()}")
                with contextlib.suppress(OSError):
                    if get(port, "/healthz", timeout=1)[0] == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not start within {STARTUP_SECONDS} s: {said()}")
                time.sleep(0.1)
            yield Server(port, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def get(port: int, path: str, timeout: float = 5) -> tuple[int, bytes]:
    """``GET path`` on a fresh connection: the status and the body."""
    return _request(port, "GET", path, None, {}, timeout)


def post(port: int, body: bytes, content_type: str, timeout: float = 5) -> tuple[int, bytes]:
    """``POST /predict`` on a fresh connection: the status and the body."""
    return _request(port, "POST", "/predict", body, {"Content-Type": content_type}, timeout)


def _request(
    port: int, method: str, path: str, body: bytes | None, headers: dict[str, str], timeout: float
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()

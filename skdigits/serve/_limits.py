"""Connection limits uvicorn lacks: a deadline and a size limit for each request's headers.

uvicorn's keep-alive timer is reset by every byte, so a client sending one header
byte every few seconds (slowloris) holds its connection for ever, and httptools
accepts header blocks of any size. :class:`GuardedHttpToolsProtocol` and
:class:`GuardedH11Protocol` are uvicorn's two HTTP protocols with one addition:
from the moment a connection opens, and again after each response, the next
request's whole header block must arrive within ``header_timeout`` seconds and
``max_header_bytes`` bytes; otherwise the connection is closed (with ``431`` when
too large). The request body's deadline is the application's (``body_timeout``
in :func:`skdigits.serve.create_app`), since the body is read as the app asks for it.

The limits are read from the environment (``SKDIGITS_SERVE_HEADER_TIMEOUT``,
``SKDIGITS_SERVE_MAX_HEADER_BYTES``), which ``skdigits serve`` sets and uvicorn's
worker processes inherit.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "DECODE_BYTES_PER_PIXEL",
    "DECODE_WORKING_BYTES",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_HEADER_BYTES",
    "GuardedH11Protocol",
    "decode_memory_bound",
    "guarded_protocol",
]

#: Memory one image decode may take per pixel of the image, in bytes: Pillow's
#: decoded picture (up to 4 bytes a pixel) and one conversion or premultiplied copy
#: of it (up to 4 more). Measured peaks over the interpreter for 4096x4096 files
#: (``python -c`` loading each with ``load_digit_image`` and reading VmHWM): RGB PNG
#: 75 MB, RGBA PNG 132 MB, palette PNG with transparency 148 MB, 16-bit grey PNG
#: 100 MB, LZW TIFF 34 MB, JPEG 23 MB (decoded at reduced scale).
DECODE_BYTES_PER_PIXEL = 9
#: Memory the preprocessing after decoding takes, whatever the image: the picture is
#: shrunk to ``skdigits.io.WORKING_PIXELS`` (1 MP) before any float copy, and the
#: photo path needs about 30 bytes per working pixel.
DECODE_WORKING_BYTES = 32 * 1024 * 1024


def decode_memory_bound(max_pixels: int) -> int:
    """The most memory one image decode takes, in bytes, for images of ``max_pixels``."""
    return DECODE_BYTES_PER_PIXEL * max_pixels + DECODE_WORKING_BYTES


#: Seconds a client has to send a request's whole header block.
DEFAULT_HEADER_TIMEOUT = 10.0
#: The largest header block accepted, in bytes (request line included).
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
HEADER_TIMEOUT_ENV = "SKDIGITS_SERVE_HEADER_TIMEOUT"
MAX_HEADER_BYTES_ENV = "SKDIGITS_SERVE_MAX_HEADER_BYTES"

_END_OF_HEADERS = b"\r\n\r\n"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


class _HeaderGuard:
    """The mixin: ``transport``, ``loop``, ``cycle`` and the callbacks are uvicorn's."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._header_timeout = float(os.environ.get(HEADER_TIMEOUT_ENV, DEFAULT_HEADER_TIMEOUT))
        self._max_header_bytes = int(os.environ.get(MAX_HEADER_BYTES_ENV, DEFAULT_MAX_HEADER_BYTES))
        self._header_timer: asyncio.TimerHandle | None = None
        self._await_headers()

    def _await_headers(self) -> None:
        """Start the clock for the next request's header block."""
        self._cancel_header_timer()
        self._header_bytes = 0
        self._header_tail = b""
        self._awaiting_headers = True
        self._header_timer = self.loop.call_later(self._header_timeout, self._headers_timed_out)

    def _cancel_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        # A request whose headers arrived (pipelined, still running) is not stalled.
        busy = self.cycle is not None and not self.cycle.response_complete
        if self._awaiting_headers and not busy and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            window = self._header_tail + data
            end = window.find(_END_OF_HEADERS)
            seen = self._header_bytes + (
                len(data) if end < 0 else end + len(_END_OF_HEADERS) - len(self._header_tail)
            )
            if seen > self._max_header_bytes:
                self._refuse_large_headers()
                return
            if end < 0:
                self._header_bytes = seen
                self._header_tail = window[-(len(_END_OF_HEADERS) - 1) :]
            else:
                self._awaiting_headers = False
                self._cancel_header_timer()
        super().data_received(data)  # type: ignore[misc]

    def _refuse_large_headers(self) -> None:
        self._awaiting_headers = False
        self._cancel_header_timer()
        body = (
            b'{"error": "the request headers exceed %d bytes; send fewer or shorter headers"}'
            % self._max_header_bytes
        )
        if not self.transport.is_closing():
            self.transport.write(_TOO_LARGE % (len(body), body))
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]


class GuardedH11Protocol(_HeaderGuard, H11Protocol):
    """uvicorn's h11 protocol with the header deadline and size limit."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is optional
    GuardedHttpToolsProtocol: type | None = None
else:

    class GuardedHttpToolsProtocol(_HeaderGuard, HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools protocol with the header deadline and size limit."""


def guarded_protocol() -> type:
    """The fastest guarded protocol installed: httptools', else h11's (as uvicorn's "auto")."""
    return GuardedHttpToolsProtocol or GuardedH11Protocol

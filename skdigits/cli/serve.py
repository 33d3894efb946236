"""``skdigits serve``: the prediction service and drawing page, run by uvicorn.

Imports numpy, onnxruntime and the web stack only; never TensorFlow.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
from typing import Any

from .._core.errors import MissingDependencyError, SkdigitsError
from .._core.values import quoted
from ._common import Command, option_group, port_number, positive_int, unit_interval


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds, got {quoted(text, 20)}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds, got {quoted(text, 20)}"
        )
    return value


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=port_number, default=8000, help="port, 0-65535 (default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="server processes, each with its own copy of the model (default: %(default)s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=positive_int,
        metavar="N",
        help="refuse larger request bodies with 413 (default: 4 MiB)",
    )
    parser.add_argument(
        "--max-batch",
        type=positive_int,
        metavar="N",
        help="refuse JSON batches, or uploads to /read, of more images with 413 (default: 256)",
    )
    parser.add_argument(
        "--digit-threshold",
        type=unit_interval,
        metavar="T",
        help="the digit score (0-1) below which /predict says 'not a digit' (default: the "
        "threshold stored in the model, which keeps 99 %% of its validation digits)",
    )


def _add_limit_options(group: Any) -> None:
    group.add_argument(
        "--header-timeout",
        type=_positive_float,
        metavar="S",
        default=10.0,
        help="close a connection whose request headers take longer (default: %(default)g s)",
    )
    group.add_argument(
        "--body-timeout",
        type=_positive_float,
        metavar="S",
        default=30.0,
        help="answer 408 and close when the body takes longer (default: %(default)g s)",
    )
    group.add_argument(
        "--keep-alive-timeout",
        type=_positive_float,
        metavar="S",
        default=5.0,
        help="close an idle keep-alive connection after S seconds (default: %(default)g s)",
    )
    group.add_argument(
        "--max-header-bytes",
        type=positive_int,
        metavar="N",
        default=64 * 1024,
        help="answer 431 and close on a larger header block (default: %(default)s)",
    )
    group.add_argument(
        "--limit-concurrency",
        type=positive_int,
        metavar="N",
        default=100,
        help="answer 503 once N connections or requests are open (default: %(default)s)",
    )
    group.add_argument(
        "--max-image-pixels",
        type=positive_int,
        metavar="N",
        help="refuse larger images before decoding (default: 16777216, 4096x4096)",
    )
    group.add_argument(
        "--decode-concurrency",
        type=positive_int,
        metavar="N",
        default=2,
        help="images decoded at once, about 9 bytes per pixel each; /read reads at most N-1 "
        "pages at once, so /predict always has a slot (default: %(default)s)",
    )


def _add_log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log a line per request (off by default: logging costs throughput)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (default: %(default)s)",
    )


# The web stack is imported only when the command runs: other commands, and
# installs without the `serve` extra, never pay for it.
COMMAND = Command(
    "serve",
    help="serve an ONNX model over HTTP, with a drawing page",
    description="""
        Serve an ONNX model: POST /predict (an image, or JSON pixels), POST /read
        (whole numbers written in images), GET /metadata, GET /healthz,
        GET /openapi.json, and a page at / to draw a digit on.
    """,
    examples=(
        "skdigits serve model.onnx                  # http://127.0.0.1:8000/",
        "skdigits serve model.onnx --host 0.0.0.0 --port 8080 --workers 2",
        "curl -F image=@seven.png http://127.0.0.1:8000/predict",
        "curl -F image=@year.png 'http://127.0.0.1:8000/read?length=4'",
    ),
    model="an .onnx file written by `skdigits export`",
    options=(
        _add_server_options,
        option_group(
            "limits against slow or hostile clients (per worker process)",
            _add_limit_options,
            "Each bounds what a client can hold: time, header bytes, connections, pixels.",
        ),
        _add_log_options,
    ),
)


def check_port_free(host: str, port: int) -> None:
    """Refuse, in one line, a port another program listens on (uvicorn would log and exit 3)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise SkdigitsError(f"--host {host!r} is not an address to listen on ({err})") from err
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise SkdigitsError(
                    f"port {port} on {host} is already in use (another server, or an earlier "
                    "skdigits serve?); stop it or choose another with --port"
                ) from err
            raise SkdigitsError(
                f"cannot listen on {host}:{port} ({err.strerror or err}); choose another "
                "--host or --port"
            ) from err


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError as err:
        raise MissingDependencyError(
            "serving needs uvicorn, which is not installed; "
            'install it with: pip install "skdigits[serve]"'
        ) from err
    from ..serve._limits import HEADER_TIMEOUT_ENV, MAX_HEADER_BYTES_ENV, guarded_protocol
    from ..serve.app import DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY_BYTES, create_app

    max_body_bytes = args.max_body_bytes or DEFAULT_MAX_BODY_BYTES
    max_batch = args.max_batch or DEFAULT_MAX_BATCH
    app_limits = {
        "max_body_bytes": max_body_bytes,
        "max_batch": max_batch,
        "body_timeout": args.body_timeout,
        "max_image_pixels": args.max_image_pixels,
        "decode_concurrency": args.decode_concurrency,
        "digit_threshold": args.digit_threshold,
    }
    # Load the model here, whatever the number of workers: a bad file is one line
    # on stderr and exit status 1, before any port is opened.
    app = create_app(args.model, **app_limits)
    check_port_free(args.host, args.port)
    # The connection guard reads its limits from the environment, as do worker
    # processes building their own app (uvicorn imports the factory by name).
    env = {
        HEADER_TIMEOUT_ENV: str(args.header_timeout),
        MAX_HEADER_BYTES_ENV: str(args.max_header_bytes),
        "SKDIGITS_SERVE_MODEL": str(args.model.resolve()),
    }
    env.update(
        {f"SKDIGITS_SERVE_{k.upper()}": str(v) for k, v in app_limits.items() if v is not None}
    )
    os.environ.update(env)
    uvicorn.run(
        app if args.workers == 1 else "skdigits.serve.app:create_app_from_env",
        factory=args.workers > 1,
        workers=args.workers,
        host=args.host,
        port=args.port,
        access_log=args.access_log,
        log_level=args.log_level,
        server_header=False,
        http=guarded_protocol(),
        timeout_keep_alive=args.keep_alive_timeout,
        limit_concurrency=args.limit_concurrency,
        h11_max_incomplete_event_size=args.max_header_bytes,
    )
    return 0

"""The prediction service: one ONNX model behind an ASGI application (Starlette).

Routes:

- ``POST /predict``: a PNG/JPEG (or GIF, BMP, TIFF, WebP, PNM) image, sent as the
  raw body (``Content-Type: image/png``...) or as the ``image`` field of a
  ``multipart/form-data`` upload, is prepared as ``skdigits predict`` prepares image
  files (:func:`skdigits.io.load_digit_image`); JSON ``{"pixels": ...}`` holds
  one MNIST-layout image (28 rows of 28 values) or a batch of them, with optional
  ``"scale"`` (``"auto"``, ``"255"``, ``"1"``) and ``"invert"`` (``"auto"``,
  ``"yes"``, ``"no"``) as ``skdigits predict`` takes them: by default values all
  within [0, 1] are multiplied by 255 and dark-on-light images inverted. The answer is
  ``{"labels": [...], "probabilities": [[...], ...], "classes": [...], "is_digit":
  [...], "digit_score": [...], "digit_threshold": T}``: as ``skdigits predict
  --json`` says for each row, ``is_digit`` is false where the digit score is below
  the threshold ("not a digit"; the label is still the model's best guess). The
  query parameter ``accept_all=1`` takes every image for a digit, as
  ``--accept-all`` does.
- ``POST /read``: the whole number written in each image (a raw image body, or
  one or more ``image`` files of a ``multipart/form-data`` upload), read as
  ``skdigits read`` reads files (:func:`skdigits.read_numbers`), with the optional
  query parameter ``length`` (``4`` or ``4-6`` digits). The answer is
  ``{"model": ..., "readings": [...]}``, each reading as ``skdigits read --json``
  writes it; in an upload of several files an unreadable one is a reading with
  an ``error`` field, while a single image that cannot be read is a 422.
- ``GET /metadata``: the model's ONNX metadata; ``GET /healthz``: liveness.
- ``GET /``: the drawing page; ``GET /openapi.json``: the OpenAPI schema.

Every bad request is answered with a 4xx status and ``{"error": "..."}``: 400 for
an empty body or malformed JSON or multipart, 404 and 405 for unknown routes and
methods, 413 for a body over ``max_body_bytes`` or a batch over ``max_batch``, 415
for another content type, 422 for well-formed input that is not a digit image
(wrong shape, values out of range, not an image, blank, too many pixels) or,
on ``/read``, a picture that is no number (blank, over 256 separate marks).

This module is on the deployment path: it imports numpy, onnxruntime (through
:mod:`skdigits.runtime`), Pillow (through :mod:`skdigits.io`, when an image
arrives) and the web stack; never TensorFlow, Keras or scikit-learn.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
from collections.abc import AsyncGenerator
from importlib import resources
from typing import Any

import numpy as np

from .._core.errors import DataError, MissingDependencyError
from .._core.page import inline_shared
from .._core.values import quoted
from ..io._inputs import INVERT_CHOICES, SCALE_CHOICES, to_mnist_convention
from ..reading._read import parse_length, read_numbers
from ..runtime._predictor import OnnxDigitClassifier

try:
    import orjson
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import FormData, UploadFile
    from starlette.exceptions import HTTPException
    from starlette.formparsers import MultiPartException, MultiPartParser
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingDependencyError(
        f"serving needs {err.name or 'the web stack'}, which is not installed; "
        'install it with: pip install "skdigits[serve]"'
    ) from err

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_DECODE_CONCURRENCY",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BODY_BYTES",
    "create_app",
    "create_app_from_env",
]

#: The largest request body accepted, in bytes: a phone photo of a digit fits, and so
#: does a JSON batch of ``DEFAULT_MAX_BATCH`` images written as integers.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
#: The most images one JSON request may hold.
DEFAULT_MAX_BATCH = 256
#: Seconds a client has to send the whole request body once its headers are in.
DEFAULT_BODY_TIMEOUT = 30.0
#: Images decoded at once per worker process. One decode takes at most about 9 bytes
#: per pixel plus 32 MB (:func:`skdigits.serve._limits.decode_memory_bound`; measured
#: 75 MB for a 4096x4096 RGB PNG, 148 MB for the worst kind, a palette PNG with
#: transparency), so with the default 16-megapixel limit two at once bound decoding
#: to about 370 MB however many uploads arrive; the others wait their turn.
DEFAULT_DECODE_CONCURRENCY = 2
_JSON_TYPES = ("application/json",)
_IMAGE_TYPES = ("application/octet-stream", "")  # plus image/*: sniffed by Pillow
_FORM_TYPE = "multipart/form-data"
_FORM_FIELD = "image"
_NAME_CHARS = 100  # of an uploaded file's name, in messages and answers
_PIXELS_HINT = (
    'send {"pixels": [[...28 values...], ...28 rows]} for one image or '
    '{"pixels": [image, ...]} for a batch, intensities 0-255 (or 0-1: see "scale")'
)


def create_app(
    model_path: str | os.PathLike[str],
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_image_pixels: int | None = None,
    decode_concurrency: int = DEFAULT_DECODE_CONCURRENCY,
    digit_threshold: float | None = None,
) -> Starlette:
    """Build the ASGI application serving one ONNX model.

    The model is loaded (and validated) once, here; every request shares it.

    Parameters
    ----------
    model_path : str or path-like
        An ``.onnx`` file written by ``skdigits export``.
    max_body_bytes : int, default=4194304
        Larger request bodies are refused with 413 before they are read whole.
    max_batch : int, default=256
        JSON requests holding more images are refused with 413.
    body_timeout : float, default=30.0
        Seconds to receive the whole body; a client that stalls longer is answered
        408 and disconnected.
    max_image_pixels : int, default=None
        Larger images are refused with 422 from their header, before decoding;
        ``None`` means :data:`skdigits.io.MAX_IMAGE_PIXELS` (16 megapixels).
    decode_concurrency : int, default=2
        Images decoded at once; further uploads wait. With ``max_image_pixels``
        this bounds the memory decoding takes (about 9 bytes per pixel plus 32 MB
        each), whatever the number of clients. ``/read`` reads a page in one of
        these slots, and at most ``decode_concurrency - 1`` pages at once (one when
        it is 1), so a slot is always left for ``/predict``.
    digit_threshold : float, default=None
        The digit score (0-1) below which ``/predict`` answers ``is_digit``
        false, "not a digit"; ``None`` means the threshold stored in the model
        (:attr:`~skdigits.runtime.OnnxDigitClassifier.digit_threshold_`), as
        ``skdigits predict --digit-threshold`` overrides it. ``/read`` reads with
        the model's own, as ``skdigits read`` does.

    Returns
    -------
    starlette.applications.Starlette
        Run it with any ASGI server, e.g. ``uvicorn`` (``skdigits serve`` does).

    Raises
    ------
    ModelFileError
        If ``model_path`` is missing or not a valid skdigits ONNX model.
    ValueError
        If a limit is not a positive number, or ``digit_threshold`` not in [0, 1].

    Examples
    --------
    >>> from skdigits.serve import create_app
    >>> app = create_app("mnist.onnx", max_batch=64)  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, port=8000)  # doctest: +SKIP
    """
    _check_limits(
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        body_timeout=body_timeout,
        max_image_pixels=max_image_pixels,
        decode_concurrency=decode_concurrency,
        digit_threshold=digit_threshold,
    )
    classifier = OnnxDigitClassifier(model_path)
    service = _DigitService(
        classifier,
        os.path.basename(os.fspath(model_path)),
        max_body_bytes,
        max_batch,
        body_timeout=float(body_timeout),
        max_image_pixels=max_image_pixels,
        decode_concurrency=decode_concurrency,
        digit_threshold=float(
            classifier.digit_threshold_ if digit_threshold is None else digit_threshold
        ),
    )
    return _starlette_app(service)


def _check_limits(
    *,
    max_body_bytes: int,
    max_batch: int,
    body_timeout: float,
    max_image_pixels: int | None,
    decode_concurrency: int,
    digit_threshold: float | None,
) -> None:
    """Refuse, with ValueError, a limit that is not a positive integer (or number of
    seconds), or a digit threshold outside [0, 1]."""
    integers = {
        "max_body_bytes": max_body_bytes,
        "max_batch": max_batch,
        "decode_concurrency": decode_concurrency,
        "max_image_pixels": 1 if max_image_pixels is None else max_image_pixels,
    }
    for name, value in integers.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
    if isinstance(body_timeout, bool) or not isinstance(body_timeout, int | float):
        raise ValueError(f"`body_timeout` must be a positive number, got {body_timeout!r}")
    if not body_timeout > 0:
        raise ValueError(f"`body_timeout` must be a positive number, got {body_timeout!r}")
    if digit_threshold is not None and not (
        isinstance(digit_threshold, int | float)
        and not isinstance(digit_threshold, bool)
        and 0.0 <= digit_threshold <= 1.0  # NaN fails too
    ):
        raise ValueError(f"`digit_threshold` must be a number in [0, 1], got {digit_threshold!r}")


def _starlette_app(service: _DigitService) -> Starlette:
    """The application routing :data:`_ROUTES` to ``service``, with the package's error pages."""
    routes = [Route(r.path, getattr(service, r.handler), methods=[r.method]) for r in _ROUTES]
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: _http_error,
            DataError: _data_error,
            Exception: _server_error,
        },
    )
    # The routes are exact: "/predict/" is a 404, not a redirect a client may not follow.
    app.router.redirect_slashes = False
    app.state.classifier = service.classifier
    return app


def create_app_from_env() -> Starlette:
    """:func:`create_app` configured by environment variables, for ASGI servers' factories.

    ``SKDIGITS_SERVE_MODEL`` (required), ``SKDIGITS_SERVE_MAX_BODY_BYTES``,
    ``SKDIGITS_SERVE_MAX_BATCH``, ``SKDIGITS_SERVE_BODY_TIMEOUT``,
    ``SKDIGITS_SERVE_MAX_IMAGE_PIXELS``, ``SKDIGITS_SERVE_DECODE_CONCURRENCY`` and
    ``SKDIGITS_SERVE_DIGIT_THRESHOLD``.
    Each uvicorn worker process calls it once:
    ``uvicorn --factory --workers 2 skdigits.serve.app:create_app_from_env``.
    """
    model = os.environ.get("SKDIGITS_SERVE_MODEL")
    if not model:
        raise DataError("set SKDIGITS_SERVE_MODEL to the .onnx file to serve")
    env = os.environ.get
    pixels = env("SKDIGITS_SERVE_MAX_IMAGE_PIXELS")
    threshold = env("SKDIGITS_SERVE_DIGIT_THRESHOLD")
    return create_app(
        model,
        max_body_bytes=int(env("SKDIGITS_SERVE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
        max_batch=int(env("SKDIGITS_SERVE_MAX_BATCH", DEFAULT_MAX_BATCH)),
        body_timeout=float(env("SKDIGITS_SERVE_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT)),
        max_image_pixels=int(pixels) if pixels else None,
        decode_concurrency=int(
            env("SKDIGITS_SERVE_DECODE_CONCURRENCY", DEFAULT_DECODE_CONCURRENCY)
        ),
        digit_threshold=float(threshold) if threshold else None,
    )


# ---------------------------------------------------------------- responses


def _json(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


def _error(status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": message}, status_code, headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {
        404: f"no route {request.url.path}; the routes are GET /, POST /predict, "
        "POST /read, GET /metadata, GET /healthz and GET /openapi.json",
        405: f"{request.method} is not allowed on {request.url.path}; "
        f"use {(exc.headers or {}).get('Allow', 'another method')}",
    }
    message = messages.get(exc.status_code, exc.detail)
    return _error(exc.status_code, message, dict(exc.headers or {}))


async def _data_error(request: Request, exc: Exception) -> Response:
    return _error(422, str(exc))


async def _server_error(request: Request, exc: Exception) -> Response:
    # Only a bug lands here; the server still logs the traceback.
    return _error(500, f"internal error ({type(exc).__name__}); please report it")


class _RequestError(HTTPException):
    """A bad request, answered with its status and message as JSON."""


# ---------------------------------------------------------------- the service


class _DigitService:
    """The route handlers, sharing one classifier and the limits."""

    def __init__(
        self,
        classifier: OnnxDigitClassifier,
        model_name: str,
        max_body_bytes: int,
        max_batch: int,
        *,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        max_image_pixels: int | None = None,
        decode_concurrency: int = DEFAULT_DECODE_CONCURRENCY,
        digit_threshold: float = 0.0,
    ):
        self.classifier = classifier
        self.model_name = model_name
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch
        self.body_timeout = body_timeout
        self.max_image_pixels = max_image_pixels
        self.digit_threshold = digit_threshold
        # Bound on the pixels decoded at once; created here, bound to the loop on first use.
        self._decoding = asyncio.Semaphore(decode_concurrency)
        self._reading = asyncio.Semaphore(max(1, decode_concurrency - 1))
        self.classes = classifier.classes_.tolist()
        self._page = inline_shared(_read_static("index.html").decode("utf-8")).encode("utf-8")
        self._metadata = orjson.dumps(classifier.metadata)
        self._openapi = orjson.dumps(
            _openapi_schema(self.classes, max_body_bytes, max_batch, max_image_pixels)
        )

    async def index(self, request: Request) -> Response:
        return Response(self._page, media_type="text/html; charset=utf-8")

    async def metadata(self, request: Request) -> Response:
        return Response(self._metadata, media_type="application/json")

    async def healthz(self, request: Request) -> Response:
        return _json({"status": "ok"})

    async def openapi(self, request: Request) -> Response:
        return Response(self._openapi, media_type="application/json")

    async def predict(self, request: Request) -> Response:
        # --accept-all's threshold: every score is at least 0, every image a digit.
        threshold = 0.0 if _query_flag(request, "accept_all") else self.digit_threshold
        content_type = _content_type(request)
        body = await self._body(request, " or JSON pixels")
        # Every model call runs in a worker thread, so the loop keeps answering
        # (/healthz included) however slow the model; image decodes also wait for
        # one of `decode_concurrency` slots, which bounds their memory.
        if content_type in _JSON_TYPES or content_type.endswith("+json"):
            return await run_in_threadpool(self._predict_json, body, threshold)
        if content_type.startswith("image/") or content_type in _IMAGE_TYPES:
            async with self._decoding:
                return await run_in_threadpool(self._predict_image, body, threshold)
        if content_type == _FORM_TYPE:
            upload = await self._form_image(request, body)
            async with self._decoding:
                return await run_in_threadpool(self._predict_image, upload, threshold)
        raise _RequestError(
            415,
            f"unsupported Content-Type {quoted(content_type)}; send image/png, image/jpeg, "
            f"multipart/form-data (field {_FORM_FIELD!r}) or application/json",
        )

    async def read(self, request: Request) -> Response:
        lengths = _query_length(request)
        content_type = _content_type(request)
        body = await self._body(request, "")
        if content_type.startswith("image/") or content_type in _IMAGE_TYPES:
            uploads = [("upload", body)]
        elif content_type == _FORM_TYPE:
            uploads = await self._form_files(request, body)
        else:
            raise _RequestError(
                415,
                f"unsupported Content-Type {quoted(content_type)}; send image/png, image/jpeg "
                f"or multipart/form-data (one or more files {_FORM_FIELD!r})",
            )
        rows = []
        for name, data in uploads:
            # Decoding, cutting and classifying one picture hold one decode slot, as a
            # decode for /predict does, and pages are read in fewer at once than there
            # are slots: pages of hostile writing never keep /predict from every slot.
            async with self._reading, self._decoding:
                rows.append(await run_in_threadpool(self._read_one, name, data, lengths))
        if len(rows) == 1 and "error" in rows[0]:
            raise DataError(rows[0]["error"])
        return _json({"model": self.model_name, "readings": rows})

    # ------------------------------------------------------------ reading

    async def _body(self, request: Request, also: str) -> bytes:
        """The whole body within ``body_timeout``, refusing an empty one (400)."""
        try:
            body = await asyncio.wait_for(self._read_body(request), self.body_timeout)
        except TimeoutError:
            raise _RequestError(
                408,
                f"the request body did not arrive within {self.body_timeout:g} s; "
                "send it at once, or raise --body-timeout",
                headers={"connection": "close"},
            ) from None
        if not body:
            raise _RequestError(
                400,
                "the request body is empty; send an image (Content-Type: image/png or "
                f"image/jpeg, or a multipart field {_FORM_FIELD!r}){also}",
            )
        return body

    async def _read_body(self, request: Request) -> bytes:
        """The whole body, refusing with 413 as soon as it is known to be too large."""
        limit = self.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise _RequestError(
                    400, f"invalid Content-Length {quoted(declared)}; send a number of bytes"
                )
            if int(declared) > limit:
                raise _RequestError(413, _too_large(int(declared), limit))
            # The server reads exactly Content-Length bytes: the limit holds.
            return await request.body()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _RequestError(413, _too_large(size, limit, more=True))
            chunks.append(chunk)
        return b"".join(chunks)

    async def _form(self, request: Request, body: bytes, max_files: int) -> FormData:
        """The parsed multipart upload (the body is already read and bounded).

        Starlette's own multipart parser reads the bounded body; ``request.form()``
        would read the request's stream again, which the size check consumed.
        """

        async def bounded_body() -> AsyncGenerator[bytes, None]:
            yield body

        parser = MultiPartParser(
            request.headers, bounded_body(), max_files=max_files, max_fields=10
        )
        try:
            return await parser.parse()
        except MultiPartException as err:  # the multipart parser's own wording, rephrased
            if "Too many files" in err.message and max_files == 1:
                raise _RequestError(
                    422,
                    f"the multipart upload holds more than one file; send one image, as the "
                    f"field {_FORM_FIELD!r}, per request",
                ) from err
            if "Too many files" in err.message:
                raise _RequestError(
                    413,
                    f"the multipart upload holds more than {max_files} files, over the limit "
                    "per request; split it",
                ) from err
            raise _RequestError(
                400,
                f"the multipart body is malformed ({quoted(err.message, 80)}); "
                f"send {'one file field' if max_files == 1 else 'file fields'} {_FORM_FIELD!r}",
            ) from err

    async def _form_image(self, request: Request, body: bytes) -> io.BytesIO:
        """The ``image`` file of a multipart upload to /predict: exactly one."""
        form = await self._form(request, body, 1)
        try:
            if len(form.getlist(_FORM_FIELD)) > 1:
                raise _RequestError(
                    422,
                    f"the multipart upload has {len(form.getlist(_FORM_FIELD))} fields "
                    f"{_FORM_FIELD!r}; send one image per request",
                )
            (upload,) = _uploads(form, "the image file")
            return io.BytesIO(await upload.read())
        finally:
            await form.close()

    async def _form_files(self, request: Request, body: bytes) -> list[tuple[str, bytes]]:
        """Each ``image`` file of a multipart upload to /read, with its file name."""
        form = await self._form(request, body, self.max_batch)
        try:
            named = []
            for k, upload in enumerate(_uploads(form, "each image file")):
                name = upload.filename or (f"upload {k + 1}" if k else "upload")
                named.append((name[:_NAME_CHARS], await upload.read()))
            return named
        finally:
            await form.close()

    # ------------------------------------------------------------ predicting

    def _prediction(self, images: Any, threshold: float) -> Response:
        """The answer for ``images``: labels, probabilities and the digit decision.

        ``is_digit`` and ``digit_score`` are what ``skdigits predict --json`` writes
        in each row (the score rounded to 6 places, the decision taken before).
        """
        labels, proba, scores = self.classifier.predict_with_score(images)
        return _json(
            {
                "labels": labels,
                "probabilities": proba,
                "classes": self.classes,
                "is_digit": (scores >= threshold).tolist(),
                "digit_score": [round(float(score), 6) for score in scores],
                "digit_threshold": threshold,
            }
        )

    def _predict_json(self, body: bytes, threshold: float) -> Response:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            raise _RequestError(400, f"the body is not valid JSON ({err}); {_PIXELS_HINT}") from err
        if not isinstance(document, dict) or "pixels" not in document:
            got = "an object without it" if isinstance(document, dict) else _json_type(document)
            raise DataError(f'expected a JSON object with "pixels", got {got}; {_PIXELS_HINT}')
        pixels = document["pixels"]
        if not isinstance(pixels, list):
            raise DataError(f'"pixels" is {_json_type(pixels)}, not a list; {_PIXELS_HINT}')
        try:
            array = np.asarray(pixels)
        except (TypeError, ValueError) as err:  # ragged rows
            raise DataError(
                f'"pixels" is not a regular array (rows or images of unequal length); '
                f"{_PIXELS_HINT}"
            ) from err
        if array.dtype.kind not in "uif":
            raise DataError(
                f'"pixels" must hold numbers only, found {_dtype_words(array)}; {_PIXELS_HINT}'
            )
        is_batch = array.ndim == 3 or (array.ndim == 2 and array.shape[1] == 784)
        if is_batch and len(array) > self.max_batch:
            raise _RequestError(
                413,
                f"the batch holds {len(array)} images, over the limit of {self.max_batch} "
                "per request; split it",
            )
        try:
            images = to_mnist_convention(
                array,
                scale=_convention(document, "scale", SCALE_CHOICES),
                invert=_convention(document, "invert", INVERT_CHOICES),
            )
            return self._prediction(images, threshold)
        except DataError as err:
            # The classifier names its input X; here it is the "pixels" field.
            message = str(err)
            if message.startswith("X "):
                message = '"pixels" ' + message[2:]
            raise DataError(message) from err

    def _predict_image(self, image: bytes | io.BytesIO, threshold: float) -> Response:
        from ..io._images import load_digit_image

        source = image if isinstance(image, io.BytesIO) else io.BytesIO(image)
        source.name = "upload"  # messages say "image 'upload' is ...", not "<in-memory file>"
        pixels = load_digit_image(source, max_pixels=self.max_image_pixels)
        return self._prediction(pixels, threshold)

    def _read_one(self, name: str, data: bytes, lengths: tuple[int, int] | None) -> dict[str, Any]:
        """The reading of one picture, or a row with its ``error``, as ``skdigits read`` has it."""
        source = io.BytesIO(data)
        source.name = name  # messages say "image 'year.png' is ...", not "<in-memory file>"
        try:
            _check_pixels(source, self.max_image_pixels)
            (reading,) = read_numbers(self.classifier, source, length=lengths)
        except DataError as err:
            return {"input": name, "text": None, "probability": None, "error": str(err)}
        return {"input": name, **reading.to_dict()}


# ---------------------------------------------------------------- helpers


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _query_length(request: Request) -> tuple[int, int] | None:
    """The ``length`` query parameter of /read as (fewest, most) digits; None when absent."""
    values = request.query_params.getlist("length")
    if not values:
        return None
    if len(values) > 1:
        raise _RequestError(400, "the query parameter `length` is given twice; give it once")
    try:
        return parse_length(values[0])
    except DataError as err:
        raise _RequestError(
            400, f"the query parameter `length` is malformed: {err}; e.g. ?length=4 or ?length=4-6"
        ) from err


_FLAG_VALUES = {"": True, "1": True, "true": True, "yes": True}
_FLAG_VALUES |= {"0": False, "false": False, "no": False}


def _query_flag(request: Request, name: str) -> bool:
    """A yes/no query parameter (``?name=1``, ``?name=0``, ``?name``); False when absent."""
    values = request.query_params.getlist(name)
    if not values:
        return False
    if len(values) > 1:
        raise _RequestError(400, f"the query parameter `{name}` is given twice; give it once")
    try:
        return _FLAG_VALUES[values[0].strip().lower()]
    except KeyError:
        raise _RequestError(
            400,
            f"the query parameter `{name}` must be 1 or 0 (true or false), got "
            f"{quoted(values[0], 20)}; e.g. ?{name}=1",
        ) from None


def _uploads(form: FormData, what: str) -> list[UploadFile]:
    """The files of the field ``image``, refusing an upload without one or with text in it."""
    uploads = form.getlist(_FORM_FIELD)
    if not uploads:
        fields = ", ".join(quoted(k) for k in form) or "none"
        raise _RequestError(
            422,
            f"the multipart upload has no field {_FORM_FIELD!r} (fields: {fields}); "
            f"send {what} as {_FORM_FIELD!r}",
        )
    if not all(isinstance(upload, UploadFile) for upload in uploads):
        raise _RequestError(
            422, f"the multipart field {_FORM_FIELD!r} is text, not a file; upload a file"
        )
    return [upload for upload in uploads if isinstance(upload, UploadFile)]


def _check_pixels(source: io.BytesIO, max_pixels: int | None) -> None:
    """Refuse a picture over the service's pixel limit from its header, before decoding.

    The reader itself holds pictures to the package's limit; the service may set a
    lower one, as it does for /predict. What is no image is left for the reader to say.
    """
    if max_pixels is None:
        return
    from PIL import Image

    from ..io._images import _check_size, _source_name

    try:
        with Image.open(source) as img:
            size = img.size
    except Exception:  # the reader names what is wrong with it
        return
    finally:
        source.seek(0)
    _check_size(size, _source_name(source), max_pixels)


def _convention(document: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    """The request's "scale" or "invert" (default "auto"), as skdigits predict takes them."""
    value = document.get(key, "auto")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = format(value, "g")  # "scale": 1 or 255, as numbers
    if value not in choices:
        got = quoted(value) if isinstance(value, str) else _json_type(value)
        raise DataError(
            f'"{key}" must be one of {", ".join(map(repr, choices))} (default "auto"), got {got}'
        )
    return str(value)


def _too_large(size: int, limit: int, *, more: bool = False) -> str:
    over = "at least " if more else ""
    return (
        f"the request body is {over}{size} bytes, over the limit of {limit}; "
        "send a smaller image or split the batch"
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an object" if isinstance(value, dict) else "a list"


def _dtype_words(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind == "b":
        return "booleans"
    if kind == "U":
        return "strings"
    return "nulls, objects, numbers too large, or a mix"


def _read_static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error_response(why: str) -> dict[str, Any]:
    return {"description": why, "content": _json_content({"$ref": "#/components/schemas/Error"})}


@dataclasses.dataclass(frozen=True)
class _RouteSpec:
    """One route: how it is served and how the OpenAPI schema describes it."""

    path: str
    method: str
    handler: str  # the _DigitService method that answers it
    summary: str
    ok: str  # what a 200 answer holds
    ok_content: dict[str, Any]
    errors: tuple[tuple[str, str], ...] = ()  # (status, why) pairs
    documented: bool = True


# The one table of routes: create_app serves these and _openapi_schema describes
# them, so the schema cannot miss a route or describe one that is gone.
_ROUTES = (
    _RouteSpec(
        "/predict",
        "POST",
        "predict",
        "Predict the digit in an image, or in raw MNIST-layout pixels",
        "One label, one row of probabilities and the digit decision per image",
        _json_content({"$ref": "#/components/schemas/Prediction"}),
        errors=(
            ("400", "Empty body, malformed JSON or multipart"),
            ("413", "Body or batch over the limit"),
            ("415", "Unsupported Content-Type"),
            ("422", "Not a digit image: wrong shape or values, undecodable, blank"),
        ),
    ),
    _RouteSpec(
        "/read",
        "POST",
        "read",
        "Read the whole number (several digits) written in each image",
        "One reading per image: the text, its probability, each digit with its box",
        _json_content({"$ref": "#/components/schemas/Readings"}),
        errors=(
            ("400", "Empty body, malformed multipart or `length`"),
            ("413", "Body or number of files over the limit"),
            ("415", "Unsupported Content-Type"),
            (
                "422",
                "A single image that is no number: undecodable, blank, too large, "
                "over 256 separate marks, not of `length` digits",
            ),
        ),
    ),
    _RouteSpec(
        "/metadata",
        "GET",
        "metadata",
        "The model's ONNX metadata (classes, test accuracy, ...)",
        "metadata_props, JSON values decoded",
        _json_content({"type": "object"}),
    ),
    _RouteSpec(
        "/healthz",
        "GET",
        "healthz",
        "Liveness",
        "The service is up",
        _json_content({"type": "object", "properties": {"status": {"const": "ok"}}}),
    ),
    _RouteSpec("/", "GET", "index", "The drawing page", "HTML", {"text/html": {}}),
    _RouteSpec(
        "/openapi.json",
        "GET",
        "openapi",
        "This description",
        "OpenAPI 3.1",
        _json_content({"type": "object"}),
        documented=False,
    ),
)


def _operation(route: _RouteSpec) -> dict[str, Any]:
    responses = {"200": {"description": route.ok, "content": route.ok_content}}
    responses.update((status, _error_response(why)) for status, why in route.errors)
    return {"summary": route.summary, "responses": responses}


def _openapi_schema(
    classes: list[Any], max_body_bytes: int, max_batch: int, max_image_pixels: int | None
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the routes in :data:`_ROUTES`."""
    from .._version import __version__
    from ..io._images import MAX_IMAGE_PIXELS
    from ..io._segment import MAX_PIECES

    paths = {r.path: {r.method.lower(): _operation(r)} for r in _ROUTES if r.documented}
    paths["/predict"]["post"].update(
        description=(
            "An image (raw body or multipart field `image`) is prepared as "
            "`skdigits predict` prepares image files: greyscale, inverted if dark "
            "on light, cropped, fitted into 20x20 and centred by mass in 28x28. "
            "JSON pixels are MNIST-layout images, not cropped or centred: "
            '`"scale"` says their range (`"auto"`, the default, multiplies values all '
            'within [0, 1] by 255; `"255"` or `"1"` says which it is) and `"invert"` '
            'their polarity (`"auto"`, the default, inverts an image whose border is '
            'light, a dark digit on light paper; `"yes"` or `"no"` decides). '
            "`skdigits predict` takes the same `--scale` and `--invert`. "
            "Each image gets a label (the model's best guess) and `is_digit`: false, "
            '"not a digit", when its `digit_score` is below `digit_threshold` (the one '
            "stored in the model, or the service's own), as `skdigits predict --json` "
            "says in each row; `?accept_all=1` takes every image for a digit, as "
            "`--accept-all` does. "
            f"Bodies are limited to {max_body_bytes} bytes, batches to {max_batch} images."
        ),
        parameters=[_ACCEPT_ALL_PARAMETER],
        requestBody=_predict_request_body(),
    )
    pixels = MAX_IMAGE_PIXELS if max_image_pixels is None else max_image_pixels
    paths["/read"]["post"].update(
        description=(
            "Each image (the raw body, or each multipart file `image`: repeat the field "
            "for several) holds one number written on a line, dark on light or light on "
            "dark, drawn or photographed; it is read as `skdigits read` reads files: its "
            "ink is cut into candidate digits, every candidate classified, and the "
            "reading is the sequence the model is surest of. Each reading is what "
            "`skdigits read --json` prints for a file. A single image that cannot be "
            "read is answered 422 with its error; in an upload of several, such an image "
            "is a reading with an `error` field (and `text` null) and the others are read. "
            f"Bodies are limited to {max_body_bytes} bytes, uploads to {max_batch} files, "
            f"images to {pixels} pixels and {MAX_PIECES} separate marks."
        ),
        parameters=[_LENGTH_PARAMETER],
        requestBody=_read_request_body(),
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "skdigits prediction service",
            "version": __version__,
            "description": "Handwritten digit (MNIST) recognition with an ONNX model.",
        },
        "paths": paths,
        "components": {"schemas": {**_schemas(len(classes), max_batch), **_read_schemas()}},
    }


_PIXEL = {"type": "number", "minimum": 0, "maximum": 255}


def _pixel_examples() -> list[dict[str, Any]]:
    """One request of each documented shape and convention (blank images, to stay short)."""
    image = [[0] * 28 for _ in range(28)]
    paper = [[1.0] * 28 for _ in range(28)]
    return [
        {"pixels": image},
        {"pixels": [0] * 784},
        {"pixels": [image, image]},
        {"pixels": [[0] * 784, [0] * 784], "scale": "255", "invert": "no"},
        {"pixels": paper, "scale": "1", "invert": "yes"},
        {"pixels": image, "scale": 255},
    ]


def _example_row(label: int, top: float) -> list[float]:
    """Ten probabilities summing to 1, ``top`` on ``label``: a row of the documented answer."""
    rest = round((1 - top) / 9, 4)
    row = [rest] * 10
    row[label] = round(1 - 9 * rest, 4)
    return row


def _predict_request_body() -> dict[str, Any]:
    binary = {"schema": {"type": "string", "contentMediaType": "image/*"}}
    upload = {
        "type": "object",
        "required": [_FORM_FIELD],
        "properties": {_FORM_FIELD: {"type": "string", "format": "binary"}},
    }
    return {
        "required": True,
        "content": {
            "image/png": binary,
            "image/jpeg": binary,
            _FORM_TYPE: {"schema": upload},
            **_json_content({"$ref": "#/components/schemas/PixelsRequest"}),
        },
    }


_ACCEPT_ALL_PARAMETER = {
    "name": "accept_all",
    "in": "query",
    "required": False,
    "description": "`1` (or `true`) takes every image for a digit: `is_digit` true for each "
    "and `digit_threshold` 0, the scores still given, as `skdigits predict --accept-all`; "
    "`0` (or `false`, the default) applies the threshold.",
    "schema": {"type": "string", "enum": ["", "1", "0", "true", "false", "yes", "no"]},
    "examples": {"accept all": {"value": "1"}, "apply the threshold": {"value": "0"}},
}

_LENGTH_PARAMETER = {
    "name": "length",
    "in": "query",
    "required": False,
    "description": "The number of digits each image holds (`4`), or the fewest and most "
    "(`4-6`), as `skdigits read --length` takes it: a form field's length.",
    "schema": {"type": "string", "pattern": r"^\s*\d{1,6}\s*(-\s*\d{1,6}\s*)?$"},
    "examples": {"exact": {"value": "4"}, "range": {"value": "4-6"}},
}


def _read_request_body() -> dict[str, Any]:
    binary = {"schema": {"type": "string", "contentMediaType": "image/*"}}
    upload = {
        "type": "object",
        "required": [_FORM_FIELD],
        "properties": {
            _FORM_FIELD: {
                "description": "One or more image files, one number each.",
                "type": "array",
                "items": {"type": "string", "format": "binary"},
            }
        },
    }
    return {
        "required": True,
        "content": {
            "image/png": binary,
            "image/jpeg": binary,
            _FORM_TYPE: {"schema": upload, "encoding": {_FORM_FIELD: {"contentType": "image/*"}}},
        },
    }


def _read_schemas() -> dict[str, Any]:
    probability = {"type": "number", "minimum": 0, "maximum": 1}
    digit = {
        "type": "object",
        "required": ["label", "probability", "box"],
        "properties": {
            "label": {"type": "integer"},
            "probability": probability,
            "box": {
                "description": "The digit's ink in the image's pixels: x0, y0, x1, y1, "
                "the ends exclusive.",
                "type": "array",
                "minItems": 4,
                "maxItems": 4,
                "items": {"type": "integer", "minimum": 0},
            },
        },
    }
    reading = {
        "type": "object",
        "required": ["input", "text", "probability"],
        "properties": {
            "input": {
                "description": "The file's name in the upload; `upload` for a raw body.",
                "type": "string",
            },
            "text": {
                "description": "The digits read; null with `error`.",
                "anyOf": [{"type": "string"}, {"type": "null"}],
            },
            "probability": {
                "description": "Of the whole reading: the product of its digits'.",
                "anyOf": [probability, {"type": "null"}],
            },
            "digits": {"type": "array", "items": {"$ref": "#/components/schemas/DigitReading"}},
            "error": {"description": "Why this image could not be read.", "type": "string"},
        },
    }
    example = {
        "model": "mnist.onnx",
        "readings": [
            {
                "input": "year.png",
                "text": "2026",
                "probability": 0.9712,
                "digits": [
                    {"label": 2, "probability": 0.9958, "box": [12, 8, 40, 52]},
                    {"label": 0, "probability": 0.9921, "box": [47, 10, 77, 50]},
                    {"label": 2, "probability": 0.9903, "box": [86, 9, 118, 51]},
                    {"label": 6, "probability": 0.9927, "box": [125, 6, 151, 50]},
                ],
            },
            {
                "input": "blank.png",
                "text": None,
                "probability": None,
                "error": "image 'blank.png' is blank: no digit found; ...",
            },
        ],
    }
    return {
        "Readings": {
            "type": "object",
            "required": ["model", "readings"],
            "properties": {
                "model": {"description": "The served model file's name.", "type": "string"},
                "readings": {"type": "array", "items": {"$ref": "#/components/schemas/Reading"}},
            },
            "examples": [example],
        },
        "Reading": reading,
        "DigitReading": digit,
    }


def _schemas(n_classes: int, max_batch: int) -> dict[str, Any]:
    row = {"$ref": "#/components/schemas/Row"}
    image = {"type": "array", "minItems": 28, "maxItems": 28, "items": row}
    flat = {"type": "array", "minItems": 784, "maxItems": 784, "items": _PIXEL}
    pixels = {
        "description": (
            "One image (28 rows of 28 values, or one flat row of 784) or a batch of them "
            f"(at most {max_batch}); intensities 0-255, or 0-1 (see `scale`), white digit "
            "on black or dark on light (see `invert`)."
        ),
        "anyOf": [
            image,
            flat,
            {"type": "array", "minItems": 1, "maxItems": max_batch, "items": image},
            {"type": "array", "minItems": 1, "maxItems": max_batch, "items": flat},
        ],
    }
    unit = {"type": "number", "minimum": 0, "maximum": 1}
    probabilities = {"type": "array", "minItems": n_classes, "maxItems": n_classes, "items": unit}
    return {
        "PixelsRequest": {
            "type": "object",
            "required": ["pixels"],
            "properties": {
                "pixels": pixels,
                "scale": {
                    "description": "The pixels' range: auto (values all within [0, 1] are "
                    "multiplied by 255), 255 or 1.",
                    "enum": [*SCALE_CHOICES, 255, 1],
                    "default": "auto",
                },
                "invert": {
                    "description": "Invert to white on black: auto (when the border is "
                    "light), yes or no.",
                    "enum": list(INVERT_CHOICES),
                    "default": "auto",
                },
            },
            "examples": _pixel_examples(),
        },
        "Row": {"type": "array", "minItems": 28, "maxItems": 28, "items": _PIXEL},
        "Prediction": {
            "type": "object",
            "required": [
                "labels",
                "probabilities",
                "classes",
                "is_digit",
                "digit_score",
                "digit_threshold",
            ],
            "properties": {
                "labels": {
                    "description": "The best guess for each image, even one that is not a digit.",
                    "type": "array",
                    "items": {"type": "integer"},
                },
                "probabilities": {"type": "array", "items": probabilities},
                "classes": {"type": "array", "items": {"type": "integer"}},
                "is_digit": {
                    "description": "Whether each image is taken for a digit: its digit score "
                    'is at least `digit_threshold`. False means "not a digit".',
                    "type": "array",
                    "items": {"type": "boolean"},
                },
                "digit_score": {
                    "description": "How much each image looks like a digit (higher for more; "
                    "the model's `digit_score` output), rounded to 6 places.",
                    "type": "array",
                    "items": unit,
                },
                "digit_threshold": {
                    "description": "The threshold applied: the model's, the service's, or 0 "
                    "with `accept_all`.",
                    **unit,
                },
            },
            "examples": [
                {
                    "labels": [7, 4],
                    "probabilities": [_example_row(7, 0.97), _example_row(4, 0.41)],
                    "classes": list(range(10)),
                    "is_digit": [True, False],
                    "digit_score": [0.97, 0.41],
                    "digit_threshold": 0.62,
                }
            ],
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
    }

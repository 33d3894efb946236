"""The prediction service and drawing page: an ASGI app serving an exported ONNX model.

Needs the ``serve`` extra (Starlette, uvicorn, orjson, python-multipart, Pillow);
imports numpy, onnxruntime and the web stack only. Run it with ``skdigits serve
model.onnx`` or any ASGI server.
"""

from __future__ import annotations

from .app import DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY_BYTES, create_app, create_app_from_env

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_BODY_BYTES", "create_app", "create_app_from_env"]

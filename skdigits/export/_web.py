"""The static site: the drawing page, the ONNX model and onnxruntime-web in one folder.

``export_web(model, out_dir)`` writes a folder any static file server can serve, with
no network access needed and no external URL loaded: ``index.html``, its two ES
modules (``app.mjs``, the page; ``preprocess.mjs``, the MNIST preparation of
:mod:`skdigits.io` ported to JavaScript), ``model.onnx``, ``model.json`` (the
model's classes and metadata for the page) and onnxruntime-web's three files
(:data:`~skdigits.export._ortweb.ORT_WEB_FILES`), fetched into a verified cache.
The drawing pad and answer bars are those of the page ``skdigits serve`` serves,
inlined into ``index.html`` and ``app.mjs`` as they are written (:mod:`skdigits._core.page`).
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from .._core.atomic import atomic_path, write_bytes_atomic
from .._core.page import inline_shared
from ._gate import ExportError
from ._ortweb import ORT_WEB_FILES, ORT_WEB_VERSION, fetch_onnxruntime_web

__all__ = ["WEB_PAGE_FILES", "export_web"]

#: The page's own files, shipped in the package (``skdigits/export/web_static``).
WEB_PAGE_FILES = ("index.html", "app.mjs", "preprocess.mjs")
MODEL_FILE = "model.onnx"
MODEL_INFO_FILE = "model.json"
# What the page reads from the model's metadata (the rest stays in the ONNX file).
_PAGE_METADATA = ("classes", "test_accuracy", "architecture", "skdigits_version")


def export_web(
    model: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    ort_web_dir: str | os.PathLike[str] | None = None,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    force: bool = False,
) -> Path:
    """Write the in-browser drawing page for an exported ONNX model into ``out_dir``.

    Parameters
    ----------
    model : str or path-like
        An ``.onnx`` file written by :func:`~skdigits.export.export_onnx` (so it
        has passed the parity gate); it is checked with
        :class:`~skdigits.runtime.OnnxDigitClassifier` first.
    out_dir : str or path-like
        The folder to write; created if missing. A folder that already holds files
        is refused unless ``force``, and then only the site's own files are replaced.
    ort_web_dir : str or path-like, default=None
        A folder holding onnxruntime-web (its files, the package, or its tarball);
        see :func:`~skdigits.export.fetch_onnxruntime_web`.
    data_home : str or path-like, default=None
        Where onnxruntime-web is cached.
    download_if_missing : bool, default=True
        If False, onnxruntime-web must come from the cache or ``ort_web_dir``.
    force : bool, default=False
        Write into a folder that already holds files.

    Returns
    -------
    Path
        ``out_dir``. Serve it (``python -m http.server -d DIR``) and open ``index.html``.

    Examples
    --------
    >>> from skdigits.export import export_web
    >>> export_web("mnist.onnx", "site/")  # doctest: +SKIP
    """
    from ..runtime._predictor import OnnxDigitClassifier

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; pass a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(
            f"{out} already holds files; pass force=True (--force) to replace the site's "
            "files in it, or choose an empty folder"
        )
    metadata = OnnxDigitClassifier(model).metadata  # refuses anything not ours
    runtime = fetch_onnxruntime_web(
        data_home=data_home, local_dir=ort_web_dir, download_if_missing=download_if_missing
    )

    out.mkdir(parents=True, exist_ok=True)
    static = resources.files("skdigits.export") / "web_static"
    for name in WEB_PAGE_FILES:  # with the drawing pad shared with `skdigits serve` inlined
        page = inline_shared((static / name).read_text(encoding="utf-8"))
        write_bytes_atomic(out / name, page.encode("utf-8"))
    for name in ORT_WEB_FILES:
        _copy_atomic(runtime / name, out / name)
    _copy_atomic(Path(model), out / MODEL_FILE)
    info: dict[str, Any] = {key: metadata[key] for key in _PAGE_METADATA if key in metadata}
    info.update(model=MODEL_FILE, onnxruntime_web=ORT_WEB_VERSION)
    write_bytes_atomic(
        out / MODEL_INFO_FILE, json.dumps(info, indent=2, default=str).encode("utf-8")
    )
    return out


def _copy_atomic(source: Path, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        shutil.copyfile(source, tmp)

"""The static site: the drawing page, the ONNX model and onnxruntime-web in one folder.

``export_web(model, out_dir)`` writes a folder any static file server can serve, with
no network access needed and no external URL loaded: ``index.html``, its ES modules
(``app.mjs``, the page; ``preprocess.mjs``, the MNIST preparation of
:mod:`skdigits.io` ported to JavaScript; ``segment.mjs`` and ``read.mjs``, the
number reader of :func:`skdigits.read_numbers` ported likewise), ``model.onnx``,
``model.json`` (the model's classes, its digit threshold and other metadata for the
page, strict JSON) and onnxruntime-web's three files
(:data:`~skdigits.export._ortweb.ORT_WEB_FILES`), fetched into a verified cache.
The drawing pad and answer bars are those of the page ``skdigits serve`` serves,
inlined into ``index.html`` and ``app.mjs`` as they are written (:mod:`skdigits._core.page`).

The folder is written as a whole: built in a hidden temporary beside it, then
renamed into place (:func:`~skdigits._core.atomic.atomic_dir`), so a full disk or a
kill leaves the old site complete, never half of a new one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from .._core.atomic import atomic_dir
from .._core.page import inline_shared
from .._core.values import dumps_json
from ._gate import ExportError
from ._ortweb import ORT_WEB_FILES, ORT_WEB_VERSION, fetch_onnxruntime_web

__all__ = ["SITE_FILES", "WEB_PAGE_FILES", "check_site_folder", "export_web"]

#: The page's own files, shipped in the package (``skdigits/export/web_static``).
WEB_PAGE_FILES = ("index.html", "app.mjs", "preprocess.mjs", "segment.mjs", "read.mjs")
MODEL_FILE = "model.onnx"
MODEL_INFO_FILE = "model.json"
#: Every file of a site: a folder holding only these may be replaced with ``force``.
SITE_FILES = frozenset({*WEB_PAGE_FILES, *ORT_WEB_FILES, MODEL_FILE, MODEL_INFO_FILE})
# What the page reads from the model's metadata (the rest stays in the ONNX file).
_PAGE_METADATA = (
    "classes",
    "test_accuracy",
    "architecture",
    "skdigits_version",
    "digit_threshold",
    "digit_score_kind",
)


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
        The folder to write; created if missing. It is built beside its place and
        renamed in whole. A folder that already holds files is refused unless
        ``force``, and even then unless it holds only a site's files.
    ort_web_dir : str or path-like, default=None
        A folder holding onnxruntime-web (its files, the package, or its tarball);
        see :func:`~skdigits.export.fetch_onnxruntime_web`.
    data_home : str or path-like, default=None
        Where onnxruntime-web is cached.
    download_if_missing : bool, default=True
        If False, onnxruntime-web must come from the cache or ``ort_web_dir``.
    force : bool, default=False
        Replace the site already in ``out_dir``.

    Returns
    -------
    Path
        ``out_dir``. Serve it (``python -m http.server -d DIR``) and open ``index.html``.

    Raises
    ------
    ExportError
        If ``out_dir`` cannot hold the site (see :func:`check_site_folder`), or
        the model is not one the page can run (ORT format, flat ``[N, 784]`` input).
    WriteError
        If the folder cannot be written (full disk, read-only); the old one is kept.

    Examples
    --------
    >>> from skdigits.export import export_web
    >>> export_web("mnist.onnx", "site/")  # doctest: +SKIP
    """
    out = Path(out_dir)
    check_site_folder(out, force=force, inputs=[Path(model)])
    metadata = _check_page_can_run(Path(model))
    runtime = fetch_onnxruntime_web(
        data_home=data_home, local_dir=ort_web_dir, download_if_missing=download_if_missing
    )
    info: dict[str, Any] = {key: metadata[key] for key in _PAGE_METADATA if key in metadata}
    info.update(model=MODEL_FILE, onnxruntime_web=ORT_WEB_VERSION)
    with atomic_dir(out, replace=True) as site:
        static = resources.files("skdigits.export") / "web_static"
        for name in WEB_PAGE_FILES:  # with the drawing pad shared with `skdigits serve` inlined
            page = inline_shared((static / name).read_text(encoding="utf-8"))
            (site / name).write_text(page, encoding="utf-8")
        for name in ORT_WEB_FILES:
            shutil.copyfile(runtime / name, site / name)
        shutil.copyfile(model, site / MODEL_FILE)
        # Strict JSON: the browser's parser refuses the NaN Python would write.
        (site / MODEL_INFO_FILE).write_text(dumps_json(info, indent=2), encoding="utf-8")
    return out


def _check_page_can_run(model: Path) -> dict[str, Any]:
    """The model's metadata, once it is known the page can run it (it feeds [1, 28, 28])."""
    from ..runtime._checks import is_ort_format
    from ..runtime._predictor import OnnxDigitClassifier, quiet_session

    metadata = OnnxDigitClassifier(model).metadata  # refuses anything not ours
    with open(model, "rb") as fh:
        head = fh.read(8)
    if is_ort_format(head):  # the page loads .onnx files
        raise ExportError(
            f"{model} is in onnxruntime's ORT format; the page loads ONNX: pass the .onnx "
            "model (export the pipeline again without the ORT format)"
        )
    session = quiet_session(str(model))
    dims = session.get_inputs()[0].shape
    if len(dims) != 3:
        raise ExportError(
            f"{model} takes flat images ({dims}); the page feeds [1, 28, 28] images: "
            "pass a model exported by skdigits (input `pixels` [N, 28, 28])"
        )
    return metadata


def check_site_folder(
    out: str | os.PathLike[str], *, force: bool, inputs: Iterable[Path] = ()
) -> None:
    """Refuse a folder the site cannot be written to, before any work is done.

    Refused: a link to nothing, a file, a folder holding an input (replacing the
    site would delete it), a folder that already holds files unless ``force``,
    and, even with ``force``, one holding anything but a site's files; and a
    folder whose parent may not be written.

    Raises
    ------
    ExportError
        Naming the folder and what to do.
    """
    out = Path(out)
    if out.is_symlink() and not out.exists():
        raise ExportError(
            f"{out} is a symbolic link to {os.readlink(out)}, which does not exist; "
            "create that folder, remove the link, or pass another folder for the site"
        )
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; pass a folder for the site (created if missing)")
    for source in inputs:
        if out.is_dir() and source.resolve().is_relative_to(out.resolve()):
            raise ExportError(
                f"the input {source} is inside {out}, which the site replaces as a whole; "
                "write the site to another folder"
            )
    if out.is_dir():
        _check_replaceable(out, force=force)
    _check_parent_writable(out)


def _check_replaceable(out: Path, *, force: bool) -> None:
    try:
        entries = sorted(os.scandir(out), key=lambda entry: entry.name)
    except OSError as err:
        raise ExportError(f"cannot read the folder {out} ({err.strerror}); pass another") from err
    if entries and not force:
        raise ExportError(
            f"{out} already holds files; pass force=True to replace the site in it, "
            "or choose an empty folder",
            cli_words={"force=True": "--force"},
        )
    foreign = [
        entry
        for entry in entries
        if entry.name not in SITE_FILES or not entry.is_file(follow_symlinks=False)
    ]
    if foreign:
        shown = ", ".join(_describe(entry) for entry in foreign[:3])
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise ExportError(
            f"{out} holds {shown}{more}, not a site's files; replacing the site would "
            "delete them: move them away, or choose an empty or new folder"
        )


def _describe(entry: os.DirEntry[str]) -> str:
    kind = (
        " (a link)"
        if entry.is_symlink()
        else " (a folder)"
        if entry.is_dir(follow_symlinks=False)
        else ""
    )
    return f"{entry.name[:60]!r}{kind}"


def _check_parent_writable(out: Path) -> None:
    nearest = Path(os.path.abspath(out.resolve() if out.exists() else out)).parent
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    if not nearest.is_dir():
        raise ExportError(f"cannot write the site {out}: {nearest} is not a folder")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise ExportError(
            f"cannot write the site {out}: the folder {nearest} is not writable; "
            "pass a folder where you may write"
        )

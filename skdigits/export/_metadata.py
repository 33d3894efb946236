"""The metadata an exported ONNX model carries, and reading it back with onnxruntime only.

Every value in ``model.metadata_props`` is a string; lists and dicts are JSON.
:func:`read_metadata` decodes them, so ``skdigits info`` needs neither
TensorFlow nor the ``onnx`` package.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._core.errors import ModelFileError
from .._version import __version__
from ..runtime._checks import METADATA_DECODERS, decode_metadata, inspect_onnx, read_model_bytes
from ..runtime._digit_score import DIGIT_SCORE_KIND
from ._gate import ExportError

PRODUCER_NAME = "skdigits"
INPUT_NAME = "pixels"
INPUT_LAYOUT = "N x 28 x 28 float32 raw pixel intensities in [0, 255], white digit on black"
SCALING = "x / 255 inside the graph"
DOC_STRING = (
    "skdigits MNIST digit classifier. Input `pixels`: float32 [N, 28, 28], raw pixel "
    "intensities 0-255, white digit on black (skdigits' predictor also accepts uint8 "
    "and casts). Outputs `label`: int64 [N], the predicted class; `probabilities`: "
    "float32 [N, n_classes], rows summing to 1; `digit_score`: float32 [N], higher "
    "for an image more like a digit (see the `digit_score_kind` and `digit_threshold` "
    "metadata: below the threshold, not a digit)."
)

#: Keys written by the export; a caller's ``metadata`` may not replace them.
RESERVED_KEYS = frozenset(
    {
        "skdigits_version",
        "classes",
        "input_name",
        "input_layout",
        "scaling",
        "opset",
        "hyperparameters",
        "output_activation",
        "architecture",
        "temperature",
        "digit_score_kind",
        "digit_threshold",
        "parity_max_abs_diff",
        "parity_n_samples",
    }
)

# How read_metadata decodes each known key; any other value stays a string.
# One decoder table for the exporter and the predictor (the dependency points
# this way: the inference module must not import the exporter).
_DECODERS = METADATA_DECODERS


def _jsonable(value: Any) -> Any:
    """``value`` if JSON can hold it, its Python value if a NumPy scalar, else its repr."""
    if isinstance(value, np.generic):
        value = value.item()
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


def build_metadata(
    clf: Any,
    classes: np.ndarray,
    *,
    opset: int,
    extra: Mapping[str, Any] | None = None,
    digit_threshold: float | None = None,
) -> dict[str, str]:
    """The ``metadata_props`` of an exported model, as strings.

    Parameters
    ----------
    clf : DigitClassifier
        The fitted classifier.
    classes : ndarray of int64
        Its class labels.
    opset : int
        The ONNX opset of the graph.
    extra : mapping, default=None
        The caller's additions, e.g. ``{"test_accuracy": 0.97}``; strings are kept,
        other values stored as JSON. Keys written by the export are refused.
    digit_threshold : float, default=None
        The threshold of the ``digit_score`` output; None: the one ``clf`` uses.
    """
    # The parameters are what fit used: nothing overrides them at fit time.
    params = {key: _jsonable(value) for key, value in clf.get_params(deep=False).items()}
    props = {
        "skdigits_version": __version__,
        "classes": json.dumps(classes.tolist()),
        "input_name": INPUT_NAME,
        "input_layout": INPUT_LAYOUT,
        "scaling": SCALING,
        "opset": str(opset),
        "test_accuracy": "unknown",
        "hyperparameters": json.dumps(params, sort_keys=True),
        "output_activation": str(params["output_activation"]),
        "architecture": str(params["architecture"]),
        # In the graph already (before its Softmax); here so a reader can tell.
        "temperature": repr(float(getattr(clf, "temperature_", 1.0))),
        "digit_score_kind": DIGIT_SCORE_KIND,
        "digit_threshold": repr(
            float(clf._threshold_in_use() if digit_threshold is None else digit_threshold)
        ),
    }
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or key in RESERVED_KEYS:
            raise ExportError(
                f"metadata key {key!r} is not allowed: the export writes "
                f"{sorted(RESERVED_KEYS)} itself; choose another name"
            )
        if key == "test_accuracy":
            try:
                accuracy = float(value)
            except (TypeError, ValueError) as err:
                raise ExportError(
                    f"metadata `test_accuracy` must be a number, got {value!r}"
                ) from err
            if not math.isfinite(accuracy):  # a page or `info --json` cannot show NaN
                raise ExportError(
                    f"metadata `test_accuracy` must be a finite number, got {value!r}"
                )
            props[key] = repr(accuracy)
        else:
            props[key] = value if isinstance(value, str) else json.dumps(_jsonable(value))
    return props


def set_metadata(model: Any, props: Mapping[str, str]) -> None:
    """Write ``props`` into ``model.metadata_props``, replacing keys already there."""
    current = {p.key: p.value for p in model.metadata_props}
    current.update(props)
    del model.metadata_props[:]
    for key, value in current.items():
        model.metadata_props.add(key=key, value=value)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Read the metadata of an ONNX model exported by skdigits, with onnxruntime only.

    Parameters
    ----------
    path : str or path-like
        An ``.onnx`` file written by :func:`~skdigits.export.export_onnx`.

    Returns
    -------
    dict
        Every metadata property, decoded: ``classes`` (list), ``hyperparameters``
        (dict), ``opset`` (int), ``test_accuracy`` (float, or None if unknown),
        ``parity_max_abs_diff`` (float), ``parity_n_samples`` (int); other values
        are strings. Also ``producer_name`` and ``doc_string``.

    Raises
    ------
    ModelFileError
        If the file is missing, not ONNX, or not exported by skdigits.
    """
    from ..runtime._predictor import quiet_session

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"{path} does not exist or is not a file; pass the path of an .onnx model "
            "written by skdigits' export"
        )
    name = str(path)
    data = read_model_bytes(name, name)
    info = inspect_onnx(data, name)  # operators, external data, UTF-8: before onnxruntime
    try:
        quiet_session(data)
    except Exception as err:  # onnxruntime raises its own types for a bad file
        message = " ".join(str(err).split())[:300]
        raise ModelFileError(f"{path} is not a valid ONNX model ({message})") from err
    if "skdigits_version" not in info.metadata:
        raise ModelFileError(
            f"{path} is an ONNX model but was not exported by skdigits (it has no "
            "`skdigits_version` metadata); export one with skdigits.export.export_onnx"
        )
    decoded = decode_metadata(info.metadata, name, strict=True)
    decoded["producer_name"] = info.producer_name
    decoded["doc_string"] = info.doc_string
    return decoded

"""What an ONNX or ORT model file may hold, checked before onnxruntime reads it.

A hand-written reader of just enough of the ONNX protobuf and of the ORT flatbuffer
to refuse, before any session is built: operators outside
:data:`ALLOWED_OPERATORS` (no control flow, nothing that allocates from a value),
external data, subgraphs, metadata that is not UTF-8 or does not decode within
bounds, pickles and zip archives passed as models, and input files (an image, an
array) given where the model belongs. Also what the predictor and the pipeline
share about their input and output: :class:`ScaledInputWarning` and the check
that a model's probabilities are finite. Standard library and numpy only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import stat
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .._core.errors import DataError, ModelFileError, one_line
from ..io._inputs import sniff_format

_EXPORT_HINT = "export one with `skdigits export`"
# Protobuf cannot hold more; an ONNX file this big is not one of ours.
_MAX_MODEL_BYTES = 2**31 - 1


# How metadata values are decoded, here and by skdigits.export.read_metadata. Any
# other value, or one that does not decode, stays the string it is; only `classes`
# must decode.
def _number(value: str) -> float | None:
    """A measured figure: a float, or None when it was not measured."""
    return None if value in ("unknown", "null", "None", "") else float(value)


def _temperature(value: str) -> float:
    """The probabilities' temperature: a finite positive number, as the export writes it."""
    temperature = float(value)
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"a temperature is finite and positive, got {temperature}")
    return temperature


def _digit_threshold(value: str) -> float:
    """The digit score's threshold: a number in [0, 1], as the export writes it."""
    threshold = float(value)
    if not 0.0 <= threshold <= 1.0:  # NaN fails too
        raise ValueError(f"a digit threshold is in [0, 1], got {threshold}")
    return threshold


METADATA_DECODERS: dict[str, Callable[[str], Any]] = {
    "classes": json.loads,
    "hyperparameters": json.loads,
    "training_settings": json.loads,
    "opset": int,
    "temperature": _temperature,
    "digit_threshold": _digit_threshold,
    "parity_max_abs_diff": float,
    "parity_n_samples": int,
    # Figures measured at training and export keep their type: numbers, not text.
    **dict.fromkeys(
        (
            "test_accuracy",
            "train_accuracy",
            "validation_accuracy",
            "fit_seconds",
            "fp32_test_accuracy",
            "int8_test_accuracy",
            "int8_speedup_measured",
        ),
        _number,
    ),
}


#: The operators a model may use, by domain: exactly those skdigits' exporters emit
#: (tf2onnx for the MLP and the CNN at opsets 13-18, the skl2onnx converters and the
#: temperature of the probabilities, ``Log`` and ``Mul`` before a ``Softmax``, the
#: digit score's ``TopK`` (and ``ReduceMax`` of models exported before it),
#: ``skdigits.export.quantize`` dynamic and static, and the ORT format's fusions of
#: ``skdigits.export.export_ort``), plus a few of their plain
#: feed-forward relatives. Control flow (``Loop``, ``If``, ``Scan``) and operators that
#: allocate from a value (``ConstantOfShape``, ``Expand``, ``Tile``, ``Range``) are
#: left out on purpose: a graph using them can loop or allocate without bound, and is
#: not one skdigits wrote. To support a new exporter, add what it emits here.
# fmt: off
ALLOWED_OPERATORS: dict[str, frozenset[str]] = {
    "": frozenset({
        # tf2onnx: Dense and Conv nets, and the pipeline's own nodes
        "Add", "ArgMax", "Cast", "Concat", "Conv", "Div", "Flatten", "Gather", "Gemm",
        "Identity", "MatMul", "MaxPool", "Mul", "ReduceSum", "Relu", "Reshape", "Shape",
        "Sigmoid", "Slice", "Softmax", "Squeeze", "Transpose", "Unsqueeze",
        # the residual net's batch normalisation and global average pooling
        "BatchNormalization", "GlobalAveragePool",
        # the temperature of the probabilities (elementwise; nothing allocates)
        "Log",
        # the digit score: the largest probabilities of each row (a constant k of at
        # most 2 here; TopK's output is never larger than its input) and their sum
        "ReduceMax", "TopK",
        # int8 quantisation, dynamic and static (QDQ, and QOperator after fusion)
        "ConvInteger", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger",
        "QLinearConv", "QLinearMatMul", "QuantizeLinear",
    }),
    # the ORT format's ahead-of-time fusions (skdigits.export.export_ort, "Fixed" style)
    "com.microsoft": frozenset({"FusedConv", "FusedGemm"}),
}
# fmt: on
_DEFAULT_DOMAINS = ("", "ai.onnx")
# Bounds on the work of reading a model's structure and metadata.
_MAX_PROTO_FIELDS = 1_000_000
_ORT_FORMAT_ID = b"ORTM"  # the flatbuffer file identifier of onnxruntime's own format
#: The first bytes of a zip archive, as a saved ``.skdigits`` pipeline is.
ZIP_MAGIC = b"PK\x03\x04"
_MAX_JSON_DEPTH = 32
_MAX_CLASSES = 1_000


class _ProtoError(ValueError):
    """The bytes are not the protobuf of an ONNX model."""


@dataclasses.dataclass
class OnnxModelInfo:
    """What skdigits reads from an ONNX file before onnxruntime sees it.

    Attributes
    ----------
    metadata : dict of str to str
        ``metadata_props``, decoded from UTF-8.
    producer_name, doc_string : str
    """

    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    producer_name: str = ""
    doc_string: str = ""


def is_ort_format(head: bytes) -> bool:
    """Whether a model file's first bytes are onnxruntime's own (flatbuffer) format."""
    return head[4:8] == _ORT_FORMAT_ID


def inspect_onnx(data: bytes, name: str) -> OnnxModelInfo:
    """Check an ONNX model's structure against skdigits' contract; return its metadata.

    Reads the protobuf (or, for an ORT-format file, the flatbuffer) directly: the
    inference path has no ``onnx`` package. Nothing is copied but names and
    metadata. Refuses with :class:`~skdigits.ModelFileError`:

    - operators outside :data:`ALLOWED_OPERATORS`, and subgraphs (control flow);
    - tensors stored as external data: the model is loaded from bytes, so a
      relative external path would be read from the working directory;
    - model-local functions and training information, which skdigits never writes;
    - metadata that is not UTF-8.
    """
    if is_ort_format(data):
        return _inspect_ort(data, name)
    info = OnnxModelInfo()
    budget = [_MAX_PROTO_FIELDS]
    try:
        for field, value in _fields(memoryview(data), budget):
            if field == 7:
                _check_graph(value, name, budget)
            elif field == 14:
                raw_key, raw_text = _string_pair(value, budget)
                key = _utf8(raw_key, name, "a metadata key")
                info.metadata[key] = _utf8(raw_text, name, f"metadata `{key}`")
            elif field == 2:
                info.producer_name = _utf8(value, name, "producer_name")
            elif field == 6:
                info.doc_string = _utf8(value, name, "doc_string")
            elif field in (20, 25):
                what = "training information" if field == 20 else "model-local functions"
                raise ModelFileError(
                    f"{name} holds {what}, which skdigits' models never use; {_EXPORT_HINT}"
                )
    except _ProtoError as err:
        raise ModelFileError(
            f"{name} is not a valid ONNX model (malformed protobuf: {err}); {_EXPORT_HINT}"
        ) from err
    return info


def _check_graph(graph: memoryview, name: str, budget: list[int]) -> None:
    for field, value in _fields(graph, budget):
        if field == 1:  # node
            _check_node(value, name, budget)
        elif field == 5:  # initializer
            _check_tensor(value, name, budget)
        elif field == 15:  # sparse_initializer
            _check_sparse_tensor(value, name, budget)


def _check_node(node: memoryview, name: str, budget: list[int]) -> None:
    op_type, domain, attributes = "", "", []
    for field, value in _fields(node, budget):
        if field == 4:
            op_type = _utf8(value, name, "an operator name")
        elif field == 7:
            domain = _utf8(value, name, "an operator domain")
        elif field == 5:
            attributes.append(value)
    _check_operator(op_type, domain, name)
    for attribute in attributes:
        for field, value in _fields(attribute, budget):
            if field in (6, 11):  # g, graphs
                _refuse_subgraph(op_type, name)
            if field in (5, 10):  # t, tensors
                _check_tensor(value, name, budget)
            elif field in (22, 23):  # sparse_tensor, sparse_tensors
                _check_sparse_tensor(value, name, budget)


def _check_operator(op_type: str, domain: str, name: str) -> None:
    if not op_type:  # every node names its operator: a file without one is damaged
        raise _ProtoError("a node without an operator name")
    allowed = ALLOWED_OPERATORS.get("" if domain in _DEFAULT_DOMAINS else domain, frozenset())
    if op_type not in allowed:
        where = f" of domain {domain!r}" if domain not in _DEFAULT_DOMAINS else ""
        raise ModelFileError(
            f"{name} uses operator {op_type!r}{where}, which skdigits' exporters never emit "
            "(only those in skdigits.runtime._checks.ALLOWED_OPERATORS run; control flow and "
            f"allocation from values never do); {_EXPORT_HINT}"
        )


def _refuse_subgraph(op_type: str, name: str) -> None:
    raise ModelFileError(
        f"{name} has operator {op_type!r} with a subgraph; skdigits' models are "
        f"plain feed-forward graphs; {_EXPORT_HINT}"
    )


def _refuse_external_data(name: str) -> None:
    raise ModelFileError(
        f"{name} stores tensors as external data (in files beside it); skdigits' "
        f"models hold all their weights and never read other files; {_EXPORT_HINT}"
    )


def _check_tensor(tensor: memoryview, name: str, budget: list[int]) -> None:
    for field, value in _fields(tensor, budget):
        if field == 13 or (field == 14 and value == 1):  # external_data, EXTERNAL
            _refuse_external_data(name)


def _check_sparse_tensor(sparse: memoryview, name: str, budget: list[int]) -> None:
    for field, value in _fields(sparse, budget):
        if field in (1, 2):  # values, indices
            _check_tensor(value, name, budget)


def _string_pair(entry: memoryview, budget: list[int]) -> tuple[memoryview, memoryview]:
    key = text = memoryview(b"")
    for field, value in _fields(entry, budget):
        if field == 1:
            key = value
        elif field == 2:
            text = value
    return key, text


def _utf8(value: Any, name: str, what: str) -> str:
    if not isinstance(value, memoryview):
        raise ModelFileError(f"{name} has a malformed {what}; {_EXPORT_HINT}")
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as err:
        raise ModelFileError(
            f"{name} has {what} that is not UTF-8 text ({one_line(err)}); {_EXPORT_HINT}"
        ) from err


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise _ProtoError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _ProtoError("varint longer than 10 bytes")


def _fields(data: memoryview, budget: list[int]) -> Any:
    """Yield ``(field number, value)``: an int, or a memoryview for length-delimited fields."""
    if not isinstance(data, memoryview):  # a message field sent as a number
        raise _ProtoError("a message field has the wire type of a number")
    pos, end = 0, len(data)
    while pos < end:
        budget[0] -= 1
        if budget[0] < 0:
            raise _ProtoError(f"more than {_MAX_PROTO_FIELDS} fields")
        tag, pos = _varint(data, pos)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise _ProtoError("field number 0")
        if wire == 0:
            value, pos = _varint(data, pos)
            yield field, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > end:
                raise _ProtoError("a field runs past the end of its message")
            yield field, data[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            if pos > end:
                raise _ProtoError("a fixed-size field runs past the end of its message")
            yield field, None
        else:
            raise _ProtoError(f"unsupported wire type {wire}")


# ---------------------------------------------------------------- the ORT format
#
# An ORT-format file is a flatbuffer (schema: onnxruntime/core/flatbuffers/schema/ort.fbs).
# Only the fields the checks need are read; the numbers are the schema's field indices:
# InferenceSession.model 1; Model.producer_name 2, doc_string 6, graph 7,
# metadata_props 9; Graph.initializers 0, nodes 2, sparse_initializers 7;
# Node.domain 2, op_type 5, attributes 10; Attribute.t 6, g 7, tensors 11, graphs 12;
# Tensor.external_data_offset 6; SparseTensor.values 0, indices 1;
# StringStringEntry.key 0, value 1.


class _Flatbuffer:
    """Bounds-checked reads of flatbuffer tables, vectors and strings."""

    def __init__(self, data: bytes, budget: list[int]) -> None:
        self.data = memoryview(data)
        self.budget = budget

    def _u32(self, pos: int) -> int:
        if not 0 <= pos <= len(self.data) - 4:
            raise _ProtoError("an offset points outside the file")
        return int.from_bytes(self.data[pos : pos + 4], "little")

    def root(self) -> int:
        return self._u32(0)

    def _field(self, table: int, index: int) -> int | None:
        """The absolute position of field ``index`` of the table at ``table``, if present."""
        self.budget[0] -= 1
        if self.budget[0] < 0:
            raise _ProtoError(f"more than {_MAX_PROTO_FIELDS} fields")
        if not 0 <= table <= len(self.data) - 4:
            raise _ProtoError("a table lies outside the file")
        vtable = table - int.from_bytes(self.data[table : table + 4], "little", signed=True)
        if not 0 <= vtable <= len(self.data) - 4:
            raise _ProtoError("a table's vtable lies outside the file")
        size = int.from_bytes(self.data[vtable : vtable + 2], "little")
        slot = 4 + 2 * index
        if slot + 2 > size or vtable + slot + 2 > len(self.data):
            return None
        offset = int.from_bytes(self.data[vtable + slot : vtable + slot + 2], "little")
        return table + offset if offset else None

    def table(self, table: int, index: int) -> int | None:
        at = self._field(table, index)
        return None if at is None else at + self._u32(at)

    def tables(self, table: int, index: int) -> list[int]:
        at = self.table(table, index)  # a vector: its length, then one offset per element
        if at is None:
            return []
        count = self._u32(at)
        if count > self.budget[0]:
            raise _ProtoError(f"a vector of {count} entries")
        return [at + 4 + 4 * i + self._u32(at + 4 + 4 * i) for i in range(count)]

    def string(self, table: int, index: int) -> memoryview:
        at = self.table(table, index)
        if at is None:
            return memoryview(b"")
        length = self._u32(at)
        if at + 4 + length > len(self.data):
            raise _ProtoError("a string runs past the end of the file")
        return self.data[at + 4 : at + 4 + length]

    def int64(self, table: int, index: int, default: int) -> int:
        at = self._field(table, index)
        if at is None:
            return default
        if at + 8 > len(self.data):
            raise _ProtoError("a number runs past the end of the file")
        return int.from_bytes(self.data[at : at + 8], "little", signed=True)


def _inspect_ort(data: bytes, name: str) -> OnnxModelInfo:
    """:func:`inspect_onnx` for onnxruntime's ORT format: the same checks, on the flatbuffer."""
    fb = _Flatbuffer(data, [_MAX_PROTO_FIELDS])
    info = OnnxModelInfo()
    try:
        model = fb.table(fb.root(), 1)
        if model is None:
            raise _ProtoError("no model in the session")
        info.producer_name = _utf8(fb.string(model, 2), name, "producer_name")
        info.doc_string = _utf8(fb.string(model, 6), name, "doc_string")
        for entry in fb.tables(model, 9):
            key = _utf8(fb.string(entry, 0), name, "a metadata key")
            info.metadata[key] = _utf8(fb.string(entry, 1), name, f"metadata `{key}`")
        graph = fb.table(model, 7)
        if graph is None:
            raise _ProtoError("no graph in the model")
        for tensor in fb.tables(graph, 0):
            _check_ort_tensor(fb, tensor, name)
        for sparse in fb.tables(graph, 7):
            for index in (0, 1):  # values, indices
                part = fb.table(sparse, index)
                if part is not None:
                    _check_ort_tensor(fb, part, name)
        for node in fb.tables(graph, 2):
            op_type = _utf8(fb.string(node, 5), name, "an operator name")
            _check_operator(op_type, _utf8(fb.string(node, 2), name, "a domain"), name)
            for attribute in fb.tables(node, 10):
                if fb.table(attribute, 7) is not None or fb.tables(attribute, 12):
                    _refuse_subgraph(op_type, name)
                value = fb.table(attribute, 6)
                for each in ([value] if value is not None else []) + fb.tables(attribute, 11):
                    _check_ort_tensor(fb, each, name)
    except _ProtoError as err:
        raise ModelFileError(
            f"{name} is not a valid ONNX model (ORT format, malformed flatbuffer: {err}); "
            f"{_EXPORT_HINT}"
        ) from err
    return info


def _check_ort_tensor(fb: _Flatbuffer, tensor: int, name: str) -> None:
    if fb.int64(tensor, 6, -1) >= 0:  # external_data_offset: the data lives in another file
        _refuse_external_data(name)


# ---------------------------------------------------------------- metadata


def decode_metadata(raw: dict[str, str], name: str, *, strict: bool) -> dict[str, Any]:
    """``metadata_props`` decoded with :data:`METADATA_DECODERS`.

    ``classes`` must decode (it labels the predictions); so must every known key if
    ``strict``. Otherwise a value that does not decode stays the string it is.
    Decoding is bounded: JSON nested deeper than 32 levels, integers of thousands
    of digits and numbers too large for their type count as malformed, never as a
    ``RecursionError`` or ``OverflowError``.
    """
    metadata: dict[str, Any] = dict(raw)
    for key, decode in METADATA_DECODERS.items():
        if key not in raw:
            continue
        try:
            value = decode(raw[key])
            _check_depth(value)
        except (ValueError, RecursionError, OverflowError, TypeError) as err:
            if strict or key == "classes":
                shown = raw[key] if len(raw[key]) <= 60 else raw[key][:57] + "..."
                raise ModelFileError(
                    f"{name} has malformed `{key}` metadata {shown!r} ({one_line(err)[:120]}); "
                    f"{_EXPORT_HINT}"
                ) from err
            continue
        metadata[key] = value
    return metadata


def _check_depth(value: Any) -> None:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested more than {_MAX_JSON_DEPTH} levels deep")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


# ---------------------------------------------------------------- input and output


class ScaledInputWarning(UserWarning):
    """Float pixels that all lie in (0, 1]: probably scaled to [0, 1] already.

    Every skdigits model expects raw intensities in [0, 255] and scales them
    itself; such input reads as near-black images and gives wrong answers. Both
    :class:`~skdigits.runtime.OnnxDigitClassifier` and
    :class:`~skdigits.PixelScaler` (so a fitted pipeline) draw it, never changing
    the result. Silence it with ``warnings.simplefilter("ignore", ScaledInputWarning)``
    when dim raw images are what you mean.
    """


def warn_scaled_input(high: float, *, stacklevel: int) -> None:
    """Draw :class:`ScaledInputWarning` for float input whose largest pixel is ``high``.

    Callers draw it for float input whose values all lie in [0, 1] and are not
    all zero. ``stacklevel`` counts from the caller, as for :func:`warnings.warn`.
    """
    warnings.warn(
        f"every pixel of X is at most {high:g}: are the images already scaled to [0, 1]? "
        "The model expects raw intensities in [0, 255]; multiply them by 255",
        ScaledInputWarning,
        stacklevel=stacklevel + 1,
    )


def check_finite_outputs(proba: np.ndarray, name: str) -> None:
    """Raise :class:`ModelFileError` unless every probability a model gave is finite.

    The input was checked before the model ran, so NaN or infinity here is the
    model's fault (NaN weights, an overflow); its argmax would be a made-up label.
    """
    # The sum of probabilities in [0, 1] is finite exactly when each one is, and one
    # reduction is cheaper than isfinite's array (this runs on every prediction).
    if math.isfinite(np.add.reduce(proba, axis=None)):
        return
    bad = np.flatnonzero(~np.isfinite(proba).all(axis=1))
    if bad.size == 0:  # finite values whose sum overflowed
        return
    rows = ", ".join(map(str, bad[:5].tolist())) + (", ..." if bad.size > 5 else "")
    raise ModelFileError(
        f"{name} gave probabilities that are not finite (NaN or infinity) for {bad.size} "
        f"of {len(proba)} images (rows {rows}): the model is broken, not the input; "
        f"train it again, or {_EXPORT_HINT} from a sound pipeline"
    )


def check_true_labels(y: np.ndarray, classes: np.ndarray, *, what: str, fix: str) -> np.ndarray:
    """``y`` as int64, unless it holds what no prediction can equal.

    Strings, NaN, fractions or labels outside ``classes`` (one-based digits, say)
    would make an accuracy of 0, or a little more, without a word. Whole floats
    (``7.0``, as pandas often holds labels) are taken. ``what`` names ``y`` in the
    message and ``fix`` ends it.
    """
    integral = y.dtype.kind in "iu" or (
        y.dtype.kind == "f" and bool(np.all(np.isfinite(y) & (y == np.round(y))))
    )
    if not integral:
        raise DataError(
            f"{what} holds {y.dtype} values; true labels must be integers among the "
            f"model's classes ({_span(classes)})"
        )
    unknown = ~np.isin(y, classes)
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        raise DataError(
            f"{what} has label {y[first]:g} at index {first}, which the model does not "
            f"predict (its classes are {_span(classes)}); {fix}"
        )
    return y.astype(np.int64, copy=False)


def _span(classes: np.ndarray) -> str:
    """The classes for a message: ``0-9`` when they run without a gap, else a short list."""
    lo, hi = int(classes.min()), int(classes.max())
    if hi - lo + 1 == len(classes):
        return f"{lo}-{hi}"
    return ", ".join(map(str, classes[:10].tolist())) + (", ..." if len(classes) > 10 else "")


# Input files given where a model belongs (the arguments swapped), by their first bytes.
_INPUT_KINDS = {
    **{kind: f"a {kind} image" for kind in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WebP", "PNM")},
    "IDX": "an IDX data file",
    "npy": "a NumPy .npy array",
    "gzip": "a gzip file (of IDX data?)",
    "PDF": "a PDF document",
    "text": "a text file",
}


def input_file_kind(head: bytes) -> str | None:
    """What a file is, from its first bytes, if it is input data no model ever is.

    Returns prose such as ``"a PNG image"`` or ``"a NumPy .npy array"``, or None
    when the bytes may be a model (ONNX, ORT, a zip archive, a pickle, anything
    else).
    """
    return _INPUT_KINDS.get(sniff_format(head[:64]))


# ---------------------------------------------------------------- helpers


def looks_like_pickle(head: bytes) -> bool:
    """Whether bytes start like a pickle of protocol 2 or later (``\\x80`` then 2-5).

    ONNX files are protobuf, whose first byte is a field tag, never ``0x80``.
    """
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def read_model_bytes(path: str, name: str) -> bytes:
    """The whole file, read once: both sessions are built from the same bytes."""
    try:
        info = os.stat(path)
    except FileNotFoundError as err:
        raise ModelFileError(f"ONNX model file {name} does not exist; {_EXPORT_HINT}") from err
    except OSError as err:
        raise ModelFileError(
            f"cannot read ONNX model file {name} ({one_line(err)}); {_EXPORT_HINT}"
        ) from err
    if stat.S_ISDIR(info.st_mode):
        raise ModelFileError(
            f"{name} is a directory, not an ONNX model file; pass the .onnx file, or {_EXPORT_HINT}"
        )
    if not stat.S_ISREG(info.st_mode):
        raise ModelFileError(f"{name} is not a regular file; pass an .onnx file")
    if info.st_size == 0:
        raise ModelFileError(f"ONNX model file {name} is empty; {_EXPORT_HINT}")
    if info.st_size > _MAX_MODEL_BYTES:
        raise ModelFileError(
            f"{name} has {info.st_size} bytes, more than an ONNX file can hold; "
            f"pass an .onnx file, or {_EXPORT_HINT}"
        )
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as err:
        raise ModelFileError(
            f"cannot read ONNX model file {name} ({one_line(err)}); {_EXPORT_HINT}"
        ) from err
    if looks_like_pickle(data[:2]):
        raise ModelFileError(
            f"{name} is a Python pickle (joblib?), not an ONNX model, and is never loaded "
            f"here because unpickling runs code; {_EXPORT_HINT}"
        )
    if data.startswith(ZIP_MAGIC):
        raise ModelFileError(
            f"{name} is a zip archive (a saved .skdigits pipeline?), not an ONNX model; "
            f"convert a saved pipeline with `skdigits export`"
        )
    kind = input_file_kind(data)
    if kind is not None:
        raise ModelFileError(
            f"{name} is {kind}, not a model; pass an .onnx model file (images go to "
            f"predict()), or {_EXPORT_HINT}"
        )
    return data

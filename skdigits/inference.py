"""OnnxDigitClassifier: predict digits with an exported ONNX model, through onnxruntime only.

This is the deployment path (``skdigits predict``, the web service), so the module
imports numpy, onnxruntime and the standard library and nothing else: no
TensorFlow, Keras, scikit-learn or ``onnx`` (a test proves it in a fresh
interpreter with those modules blocked). Nothing in a model file is unpickled or
executed; onnxruntime parses the protobuf.

The model must follow the contract ``skdigits export`` writes:

- input ``pixels``: float32 ``[N, 28, 28]`` (or ``[N, 784]``), raw intensities
  0–255, white digit on black; the ÷255 scaling is inside the graph;
- outputs ``label``: int64 ``[N]`` and ``probabilities``: float32
  ``[N, n_classes]``, rows summing to 1;
- ``metadata_props`` such as ``classes`` (a JSON list) and ``test_accuracy``.

Anything else is refused on load with :class:`~skdigits.ModelFileError`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort

from ._errors import DataError, ModelFileError, one_line

__all__ = ["OnnxDigitClassifier"]

_SIDE = 28
_N_PIXELS = _SIDE * _SIDE
_INPUT = "pixels"
_LABEL = "label"
_PROBA = "probabilities"
_EXPORT_HINT = "export one with `skdigits export`"
_SHAPES_HINT = (
    "expected one image (28, 28), a batch (n, 28, 28), one flat image (784,) or flat rows (n, 784)"
)
_RANGE_HINT = (
    "pixels must be raw intensities in [0, 255], white digit on black "
    "(if yours are already scaled to [0, 1], multiply them by 255)"
)
# Batches of at least this many images go to the multi-threaded session; smaller
# ones to the single-threaded one (the crossover measured: README, "Benchmarks").
_LARGE_BATCH = 64
# Protobuf cannot hold more; an ONNX file this big is not one of ours.
_MAX_MODEL_BYTES = 2**31 - 1


# How metadata values are decoded, here and by skdigits.export.read_metadata. Any
# other value, or one that does not decode, stays the string it is; only `classes`
# must decode.
def _number(value: str) -> float | None:
    """A measured figure: a float, or None when it was not measured."""
    return None if value in ("unknown", "null", "None", "") else float(value)


METADATA_DECODERS: dict[str, Callable[[str], Any]] = {
    "classes": json.loads,
    "hyperparameters": json.loads,
    "training_settings": json.loads,
    "opset": int,
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
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")

#: The operators a model may use, by domain: exactly those skdigits' exporters emit
#: (tf2onnx for the MLP and the CNN at opsets 13-18, the skl2onnx converters,
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
_MAX_JSON_DEPTH = 32
_MAX_CLASSES = 1_000


_BITS_255 = int(np.array(255, dtype=np.float32).view(np.uint32))
_BITS_1 = int(np.array(1, dtype=np.float32).view(np.uint32))
_MAX = np.maximum.reduce
# Builtin dtypes are singletons: `is` spares a numpy call per prediction.
_FLOAT32 = np.dtype(np.float32)
_UINT8 = np.dtype(np.uint8)
_UINT32 = np.dtype(np.uint32)
_FEW_PIXELS = _LARGE_BATCH * _N_PIXELS


class OnnxDigitClassifier:
    """Predict handwritten digits with an ONNX model exported by ``skdigits export``.

    The file is read and validated once; predictions reuse the same onnxruntime
    session, so a call costs little more than the model itself.

    Parameters
    ----------
    path : str or path-like
        The ``.onnx`` file.
    intra_op_num_threads : int, default=None
        Threads onnxruntime may use inside one operator. ``None`` routes each call
        by its size: fewer than 64 images run single-threaded (lowest latency),
        larger batches on a second session with onnxruntime's default (one thread
        per physical core; created on the first large batch). An integer uses one
        session with that setting for every call (``0`` is onnxruntime's default).
    inter_op_num_threads : int, default=None
        Threads for running independent operators in parallel; ``None`` leaves
        onnxruntime's default.
    providers : sequence of str, default=None
        onnxruntime execution providers; ``None`` means ``["CPUExecutionProvider"]``,
        the fastest for a model this small.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,), dtype int64
        The labels, from the model's ``classes`` metadata (``0 .. n_classes - 1``
        when absent).
    metadata : dict
        The model's ``metadata_props``, decoded as
        :func:`skdigits.export.read_metadata` does: ``classes`` and
        ``hyperparameters`` from JSON, ``opset`` and ``parity_n_samples`` as
        int, ``parity_max_abs_diff`` as float, the measured figures
        (``test_accuracy``, ``train_accuracy``, ``validation_accuracy``,
        ``fit_seconds`` and the int8 ones) as float, or None when not measured;
        other values, and informational ones that do not decode, as strings.
    n_features_in_ : int
        784, the pixels of one image.
    path : str
        The file the model was read from.

    Notes
    -----
    Input may be one image ``(28, 28)``, a batch ``(n, 28, 28)``, one flat image
    ``(784,)`` or flat rows ``(n, 784)``, of uint8, any integer or any float
    dtype, or nested lists. It reaches onnxruntime as C-contiguous float32: without
    a copy when it already is, otherwise with exactly one. Values must be finite raw
    intensities in [0, 255] (one pass over the pixels; none for uint8): anything
    else raises :class:`~skdigits.DataError` naming the first bad pixel, and float
    images that all lie in (0, 1] draw a ``UserWarning`` (probably scaled twice).
    A batch of zero images ``(0, 28, 28)`` or ``(0, 784)`` returns empty results
    of the usual shapes and dtypes without running the model: an empty batch is
    a normal thing for a serving loop to receive.

    One instance may be shared between threads: onnxruntime sessions are
    thread-safe and nothing else changes after loading.

    Threads: calls of fewer than 64 images run on a single-threaded session,
    larger ones on onnxruntime's default pool, the faster setting for each
    (measured with ``benchmarks/bench_inference.py --thread-sweep``; the figures
    are in the README, "Benchmarks"). On a machine kept busy by other work, pass
    ``intra_op_num_threads=1``.

    Examples
    --------
    >>> from skdigits.inference import OnnxDigitClassifier
    >>> clf = OnnxDigitClassifier("mnist.onnx")  # doctest: +SKIP
    >>> clf.predict(X_test[:3])  # doctest: +SKIP
    array([7, 2, 1])
    >>> labels, proba = clf.predict_with_proba(X_test)  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        intra_op_num_threads: int | None = None,
        inter_op_num_threads: int | None = None,
        providers: Sequence[str] | None = None,
    ) -> None:
        self.path = os.fsdecode(path)
        self._name = _quoted(self.path)
        self._model_bytes = read_model_bytes(self.path, self._name)
        # Checked before onnxruntime parses anything: operators, subgraphs, external data.
        self._info = inspect_onnx(self._model_bytes, self._name)
        self._inter_op_num_threads = inter_op_num_threads
        self._providers = list(providers) if providers is not None else ["CPUExecutionProvider"]
        self._lock = threading.Lock()

        if intra_op_num_threads is None:
            self._session = self._new_session(1)
            # With one core the default is one thread too: nothing to route.
            self._large_batch = _LARGE_BATCH if (os.cpu_count() or 1) > 1 else None
        else:
            self._session = self._new_session(intra_op_num_threads)
            self._large_batch = None
        self._large_session: ort.InferenceSession | None = None

        try:
            self._flat_input = self._check_contract(self._session)
            self._output_names = [o.name for o in self._session.get_outputs()]
        except UnicodeDecodeError as err:  # onnxruntime hands names over as str
            raise ModelFileError(
                f"{self._name} has input or output names that are not UTF-8 text "
                f"({one_line(err)}); {_EXPORT_HINT}"
            ) from err
        self._input_shape: tuple[int, ...] = (_N_PIXELS,) if self._flat_input else (_SIDE, _SIDE)
        self._label_index = self._output_names.index(_LABEL)
        self._proba_index = self._output_names.index(_PROBA)
        self.metadata = decode_metadata(self._info.metadata, self._name, strict=False)
        self.classes_ = self._read_classes(self._session)
        self.n_features_in_ = _N_PIXELS

    # ------------------------------------------------------------ predicting

    def predict(self, X: Any) -> np.ndarray:
        """Predict the digit shown in each image.

        Parameters
        ----------
        X : array-like of shape (28, 28), (n, 28, 28), (784,) or (n, 784)
            Raw pixel intensities in [0, 255], white digit on black.

        Returns
        -------
        labels : ndarray of shape (n,), dtype int64
            One label per image (``n`` = 1 for a single image).
        """
        return self._run(X)[self._label_index]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class for each image.

        Parameters
        ----------
        X : array-like
            As for :meth:`predict`.

        Returns
        -------
        proba : ndarray of shape (n, n_classes), dtype float32
            Rows sum to 1; columns follow :attr:`classes_`.
        """
        return self._run(X)[self._proba_index]

    def predict_with_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(predict(X), predict_proba(X))`` from a single run of the model.

        Returns
        -------
        labels : ndarray of shape (n,), dtype int64
        proba : ndarray of shape (n, n_classes), dtype float32
        """
        outputs = self._run(X)
        return outputs[self._label_index], outputs[self._proba_index]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy: the fraction of images whose predicted label equals ``y``.

        Parameters
        ----------
        X : array-like of shape (n, 28, 28) or (n, 784)
            Raw pixel intensities in [0, 255].
        y : array-like of shape (n,)
            The true labels.

        Returns
        -------
        accuracy : float
        """
        labels = self.predict(X)
        y = np.asarray(y).reshape(-1)
        if y.shape != labels.shape:
            raise DataError(
                f"X has {labels.shape[0]} images but y has {y.size} labels; "
                "pass one label per image"
            )
        if labels.size == 0:
            raise DataError("X and y are empty; scoring needs at least one image")
        return float(np.mean(labels == y))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    # ------------------------------------------------------------ internals

    def _run(self, X: Any) -> list[np.ndarray]:
        x = self._as_pixels(X)
        n = x.shape[0]
        if n == 0:
            return self._empty_outputs()
        session = self._session
        if self._large_batch is not None and n >= self._large_batch:
            session = self._large_session or self._make_large_session()
        return self._session_run(session, self._output_names, x)

    def _session_run(
        self, session: ort.InferenceSession, names: list[str], x: np.ndarray
    ) -> list[np.ndarray]:
        """``session.run``, its failures translated: the input was checked, so the model failed."""
        try:
            return session.run(names, {_INPUT: x})
        except Exception as err:  # onnxruntime's errors share no base class but Exception
            message = _ORT_PREFIX.sub("", one_line(err)).rstrip(".")
            raise ModelFileError(
                f"{self._name} failed while predicting (onnxruntime: {message[:300]}); "
                f"the model is not one skdigits exported: {_EXPORT_HINT}"
            ) from err

    def _as_pixels(self, X: Any) -> np.ndarray:
        """``X`` as C-contiguous float32 in the model's input shape, validated.

        A single image costs about as much here as the model itself, so the common
        case (a float32 or uint8 ndarray) takes as few numpy calls as it can.
        """
        arr = X if isinstance(X, np.ndarray) else _asarray(X)
        dtype = arr.dtype
        if dtype is not _FLOAT32 and dtype is not _UINT8 and dtype.kind not in "uif":
            raise DataError(
                f"X has dtype {dtype}; pixels must be numbers (uint8, integer or float)"
            )
        shape = arr.shape
        ndim = len(shape)
        if shape[-2:] == (_SIDE, _SIDE) and (ndim == 3 or ndim == 2):
            n = shape[0] if ndim == 3 else 1
        elif shape[-1:] == (_N_PIXELS,) and (ndim == 2 or ndim == 1):
            n = shape[0] if ndim == 2 else 1
        else:
            raise DataError(f"X has shape {shape}; {_SHAPES_HINT}")
        if dtype is _FLOAT32 and arr.flags.c_contiguous:
            x = arr
        elif dtype.kind == "f" and dtype.itemsize > 4:
            with np.errstate(over="ignore"):  # too large for float32: inf, refused below
                x = np.ascontiguousarray(arr, dtype=np.float32)
        else:  # one copy, whatever the dtype and layout
            x = np.ascontiguousarray(arr, dtype=np.float32)
        # Checked after the conversion, so every dtype needs the same float32 check
        # (values beyond float32 become infinite, and are caught). uint8 is 0-255.
        if dtype is not _UINT8 and n:
            _check_values(x, arr)
        if x.shape == self._input_shape:  # one image
            return x[np.newaxis]
        target = (n, *self._input_shape)
        return x if x.shape == target else x.reshape(target)

    def _empty_outputs(self) -> list[np.ndarray]:
        outputs: list[np.ndarray] = [np.empty(0)] * 2
        outputs[self._label_index] = np.empty(0, dtype=np.int64)
        outputs[self._proba_index] = np.empty((0, len(self.classes_)), dtype=np.float32)
        return outputs

    def _new_session(self, intra_op_num_threads: int | None) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if intra_op_num_threads is not None:
            options.intra_op_num_threads = intra_op_num_threads
        if self._inter_op_num_threads is not None:
            options.inter_op_num_threads = self._inter_op_num_threads
        try:
            return ort.InferenceSession(self._model_bytes, options, providers=self._providers)
        # onnxruntime's errors (InvalidProtobuf, InvalidGraph, Fail, ...) share no
        # base class but Exception; every one means the file is not a usable model.
        except Exception as err:
            message = _ORT_PREFIX.sub("", one_line(err)).rstrip(".")
            raise ModelFileError(
                f"{self._name} is not a valid ONNX model (onnxruntime: {message}); {_EXPORT_HINT}"
            ) from err

    def _make_large_session(self) -> ort.InferenceSession:
        with self._lock:
            if self._large_session is None:
                self._large_session = self._new_session(None)
            return self._large_session

    def _check_contract(self, session: ort.InferenceSession) -> bool:
        """Raise unless the model has the contract's input and outputs; True if flat."""
        inputs, outputs = session.get_inputs(), session.get_outputs()
        not_ours = f"{self._name} is not an skdigits digit model"
        got_in = ", ".join(_describe(a) for a in inputs) or "none"
        if len(inputs) != 1 or inputs[0].name != _INPUT or inputs[0].type != "tensor(float)":
            raise ModelFileError(
                f"{not_ours}: its input is {got_in}, expected 'pixels' float [N, 28, 28]; "
                f"{_EXPORT_HINT}"
            )
        dims = list(inputs[0].shape)
        flat = len(dims) == 2 and dims[1] == _N_PIXELS
        if not (flat or (len(dims) == 3 and dims[1:] == [_SIDE, _SIDE])):
            raise ModelFileError(
                f"{not_ours}: its input is {got_in}, expected 'pixels' float [N, 28, 28] "
                f"(or [N, 784]); {_EXPORT_HINT}"
            )
        if isinstance(dims[0], int):
            raise ModelFileError(
                f"{not_ours}: its input {got_in} has a fixed batch size of {dims[0]}, "
                f"expected a symbolic one (N); {_EXPORT_HINT}"
            )
        kinds = {o.name: (o.type, len(o.shape)) for o in outputs}
        expected = {_LABEL: ("tensor(int64)", 1), _PROBA: ("tensor(float)", 2)}
        if len(outputs) != 2 or kinds != expected:
            got_out = ", ".join(_describe(o) for o in outputs) or "none"
            raise ModelFileError(
                f"{not_ours}: its outputs are {got_out}, expected 'label' int64 [N] and "
                f"'probabilities' float [N, n_classes]; {_EXPORT_HINT}"
            )
        return flat

    def _read_classes(self, session: ort.InferenceSession) -> np.ndarray:
        width = session.get_outputs()[self._proba_index].shape[1]
        if "classes" in self.metadata:
            classes = self.metadata["classes"]
            if not (
                isinstance(classes, list)
                and 1 <= len(classes) <= _MAX_CLASSES
                and all(
                    isinstance(c, int) and not isinstance(c, bool) and -(2**63) <= c < 2**63
                    for c in classes
                )
            ):
                shown = " ".join(repr(classes).split())
                raise ModelFileError(
                    f"{self._name} has `classes` metadata {shown[:60]}, expected a JSON "
                    f"list of integers (1 to {_MAX_CLASSES}, within int64); {_EXPORT_HINT}"
                )
            if isinstance(width, int) and width != len(classes):
                raise ModelFileError(
                    f"{self._name} lists {len(classes)} classes in its metadata but its "
                    f"probabilities have {width} columns; {_EXPORT_HINT}"
                )
            return np.asarray(classes, dtype=np.int64)
        if not isinstance(width, int):  # symbolic: ask the model once
            blank = np.zeros((1, *self._input_shape), dtype=np.float32)
            width = self._session_run(self._session, [_PROBA], blank)[0].shape[1]
        return np.arange(width, dtype=np.int64)


# ---------------------------------------------------------------- the model's structure


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
    if data[4:8] == _ORT_FORMAT_ID:  # onnxruntime's own (flatbuffer) format
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
            "(only those in skdigits.inference.ALLOWED_OPERATORS run; control flow and "
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
    if data.startswith(b"PK\x03\x04"):
        raise ModelFileError(
            f"{name} is a zip archive (a saved .skdigits pipeline?), not an ONNX model; "
            f"convert a saved pipeline with `skdigits export`"
        )
    return data


def _check_values(x: np.ndarray, original: np.ndarray) -> None:
    """Raise unless ``x`` (C-contiguous float32) is finite and in [0, 255]; warn if
    all of a float ``original`` is in (0, 1]. Messages quote ``original``.

    One pass over the pixels, not two (``min`` and ``max``): read as uint32, the
    bits of non-negative floats sort as the floats do, and those of negative
    numbers, NaN and infinity all lie above the bits of 255.
    """
    bits = np.frombuffer(x, dtype=_UINT32)  # a flat view: x is C-contiguous float32
    # For a few images argmax is cheaper than max (far less set-up); for many, max.
    top = int(bits[bits.argmax()] if bits.size < _FEW_PIXELS else _MAX(bits))
    if top > _BITS_255:
        _raise_range_error(original)  # returns only for -0.0, which is 0
    elif 0 < top <= _BITS_1 and original.dtype.kind == "f":
        warnings.warn(
            f"every pixel of X is at most {float(x.max()):g}: are the images already "
            "scaled to [0, 1]? The model expects raw intensities in [0, 255]; multiply "
            "them by 255",
            UserWarning,
            stacklevel=5,  # the caller of predict*
        )


def _asarray(X: Any) -> np.ndarray:
    try:
        return np.asarray(X)
    except (TypeError, ValueError) as err:  # ragged lists, for one
        raise DataError(
            f"X cannot be read as an array of pixels ({one_line(err)}); {_SHAPES_HINT}"
        ) from err


def _raise_range_error(arr: np.ndarray) -> None:
    """Raise the DataError that names the first bad pixel of ``arr``, if there is one."""
    if arr.dtype.kind == "f":
        for test, what in ((np.isnan, "NaN"), (np.isinf, "infinity")):
            bad = test(arr)
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                raise DataError(f"X contains {what} (first at index {where}); {_RANGE_HINT}")
    low, high = arr.min(), arr.max()
    if low < 0:
        where = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise DataError(
            f"X has negative values, down to {low} (first at index {where}); {_RANGE_HINT}"
        )
    if high > 255:
        where = tuple(int(i) for i in np.argwhere(arr > 255)[0])
        raise DataError(
            f"X has values above 255, up to {high} (first at index {where}); {_RANGE_HINT}"
        )


def _describe(arg: Any) -> str:
    """A model input or output as ``'name' type [dims]``, for messages."""
    dtype = str(arg.type).removeprefix("tensor(").removesuffix(")")
    dims = ", ".join("N" if d is None else str(d) for d in arg.shape)
    return f"{arg.name!r} {dtype} [{dims}]"


def _quoted(path: str) -> str:
    return f"'{path}'" if path.isprintable() else repr(path)

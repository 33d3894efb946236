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
  ``[N, n_classes]``, rows summing to 1, and (from the export of the digit
  score on) ``digit_score``: float32 ``[N]``;
- ``metadata_props`` such as ``classes`` (a JSON list), ``digit_threshold``
  and ``test_accuracy``.

Anything else is refused on load with :class:`~skdigits.ModelFileError`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnxruntime as ort

from .._core.errors import DataError, ModelFileError, one_line
from ._checks import (
    _EXPORT_HINT,
    _MAX_CLASSES,
    check_finite_outputs,
    check_true_labels,
    decode_metadata,
    inspect_onnx,
    read_model_bytes,
    warn_scaled_input,
)
from ._digit_score import DIGIT_SCORE_KINDS, DIGIT_SCORE_OUTPUT, digit_score_from_proba

__all__ = ["OnnxDigitClassifier"]

_SIDE = 28
_N_PIXELS = _SIDE * _SIDE
_INPUT = "pixels"
_LABEL = "label"
_PROBA = "probabilities"
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

_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")


_BITS_255 = int(np.array(255, dtype=np.float32).view(np.uint32))
_BITS_1 = int(np.array(1, dtype=np.float32).view(np.uint32))
_MAX = np.maximum.reduce
# Builtin dtypes are singletons: `is` spares a numpy call per prediction.
_FLOAT32 = np.dtype(np.float32)
_UINT8 = np.dtype(np.uint8)
_UINT32 = np.dtype(np.uint32)
_FEW_PIXELS = _LARGE_BATCH * _N_PIXELS
# onnxruntime's own log lines (coloured "[W:onnxruntime:...]" on stderr) are for its
# developers; skdigits says what went wrong in its own words. Errors only, per session.
_ORT_ERRORS_ONLY = 3


def quiet_session(source: str | bytes, *, options: ort.SessionOptions | None = None):
    """An onnxruntime CPU session that logs errors only (its warnings are for its developers).

    For every session skdigits builds outside the predictor (the export's parity
    gate, int8 checks, the web site's check), so no command prints onnxruntime's
    coloured ``[W:onnxruntime...]`` lines before its own. Per session: the global
    logger is never changed.
    """
    options = options or ort.SessionOptions()
    options.log_severity_level = _ORT_ERRORS_ONLY
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def _check_providers(providers: Sequence[str] | None) -> list[str]:
    """The execution providers asked for, refused unless onnxruntime has each one.

    onnxruntime itself prints a banner to stdout for an unknown name and runs on
    the CPU instead: a service asked for CUDA would silently run elsewhere.
    """
    if providers is None:
        return ["CPUExecutionProvider"]
    if isinstance(providers, str):
        providers = [providers]
    available = ort.get_available_providers()
    for provider in providers:
        # onnxruntime also takes (name, options) pairs
        name = provider[0] if isinstance(provider, tuple) and provider else provider
        if name not in available:
            raise DataError(
                f"`providers` holds {str(name)[:80]!r}, which this onnxruntime does not "
                f"have; it has {', '.join(available)} (install onnxruntime-gpu for CUDA)"
            )
    return list(providers)


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
    digit_threshold_ : float
        The digit score below which :meth:`is_digit` says "not a digit": the
        model's ``digit_threshold`` metadata, or 0.0 (every image a digit) for a
        model exported before it.
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
    images that all lie in (0, 1] draw a
    :class:`~skdigits.runtime.ScaledInputWarning` (probably scaled twice). A model
    that answers NaN or infinite probabilities raises
    :class:`~skdigits.ModelFileError` naming the rows, rather than a made-up label.
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
    >>> from skdigits.runtime._predictor import OnnxDigitClassifier
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
        self._providers = _check_providers(providers)
        self._lock = threading.Lock()
        self._run_options = ort.RunOptions()
        self._run_options.log_severity_level = _ORT_ERRORS_ONLY

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
        self._score_index = (
            self._output_names.index(DIGIT_SCORE_OUTPUT)
            if DIGIT_SCORE_OUTPUT in self._output_names
            else None
        )
        self.metadata = decode_metadata(self._info.metadata, self._name, strict=False)
        self.digit_threshold_ = self._read_digit_threshold()
        self.classes_ = self._read_classes(self._session)
        self._check_outputs_agree()
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

    def digit_score(self, X: Any) -> np.ndarray:
        """How much each image looks like a digit, higher for more.

        The model's ``digit_score`` output; for a model exported without one, the
        largest probability of each row (the same score, computed here). ``X``
        is as for :meth:`predict`.

        Returns
        -------
        scores : ndarray of shape (n,), dtype float32
        """
        return self.predict_with_score(X)[2]

    def is_digit(self, X: Any) -> np.ndarray:
        """Whether each image is taken for a digit: ``digit_score(X) >= digit_threshold_``.

        :meth:`predict` still gives every image a label; this says which to believe.

        Returns
        -------
        ndarray of bool, shape (n,)
        """
        return self.digit_score(X) >= self.digit_threshold_

    def predict_with_score(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(predict(X), predict_proba(X), digit_score(X))`` from a single run of the model.

        Returns
        -------
        labels : ndarray of shape (n,), dtype int64
        proba : ndarray of shape (n, n_classes), dtype float32
        scores : ndarray of shape (n,), dtype float32
        """
        outputs = self._run(X)
        proba = outputs[self._proba_index]
        if self._score_index is None:
            scores = digit_score_from_proba(proba, self._score_kind)
        else:
            scores = outputs[self._score_index]
        return outputs[self._label_index], proba, scores

    def score(self, X: Any, y: Any) -> float:
        """Accuracy: the fraction of images whose predicted label equals ``y``.

        Parameters
        ----------
        X : array-like of shape (n, 28, 28) or (n, 784)
            Raw pixel intensities in [0, 255].
        y : array-like of shape (n,)
            The true labels: integers (or whole floats) among :attr:`classes_`.
            Strings, NaN, fractions or other labels raise
            :class:`~skdigits.DataError`: no prediction could equal them.

        Returns
        -------
        accuracy : float
        """
        labels = self.predict(X)
        y = check_true_labels(
            np.asarray(y).reshape(-1), self.classes_, what="y", fix="pass the matching labels"
        )
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
        outputs = self._session_run(session, self._output_names, x)
        check_finite_outputs(outputs[self._proba_index], self._name)
        return outputs

    def _session_run(
        self, session: ort.InferenceSession, names: list[str], x: np.ndarray
    ) -> list[np.ndarray]:
        """``session.run``, its failures translated: the input was checked, so the model failed."""
        try:
            return session.run(names, {_INPUT: x}, self._run_options)
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
        outputs: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(self._output_names)
        outputs[self._label_index] = np.empty(0, dtype=np.int64)
        outputs[self._proba_index] = np.empty((0, len(self.classes_)), dtype=np.float32)
        return outputs

    def _new_session(self, intra_op_num_threads: int | None) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.log_severity_level = _ORT_ERRORS_ONLY
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
        if DIGIT_SCORE_OUTPUT in kinds:  # optional: models exported before it lack it
            expected[DIGIT_SCORE_OUTPUT] = ("tensor(float)", 1)
        if len(outputs) != len(expected) or kinds != expected:
            got_out = ", ".join(_describe(o) for o in outputs) or "none"
            raise ModelFileError(
                f"{not_ours}: its outputs are {got_out}, expected 'label' int64 [N], "
                f"'probabilities' float [N, n_classes] and optionally 'digit_score' "
                f"float [N]; {_EXPORT_HINT}"
            )
        return flat

    def _read_digit_threshold(self) -> float:
        """The ``digit_threshold`` metadata (0.0 when absent), refused when malformed.

        Without a ``digit_score`` output the score is computed here, so it must be
        one computed here (:data:`~skdigits.runtime.DIGIT_SCORE_KINDS`); a model
        that names none is scored by its top probability, as before scores had names.
        """
        raw = self._info.metadata
        kind = raw.get("digit_score_kind", "max_probability")
        self._score_kind = kind
        if self._score_index is None and kind not in DIGIT_SCORE_KINDS:
            raise ModelFileError(
                f"{self._name} names the digit score {kind[:40]!r} but has no "
                f"'digit_score' output to give it; {_EXPORT_HINT}"
            )
        if "digit_threshold" not in raw:
            return 0.0
        threshold = self.metadata["digit_threshold"]
        if not isinstance(threshold, float):  # left undecoded: malformed
            decode_metadata({"digit_threshold": raw["digit_threshold"]}, self._name, strict=True)
        return float(threshold)

    def _check_outputs_agree(self) -> None:
        """Run a blank image once: the outputs' shapes and its label must follow the classes.

        A ``label`` output that is the column's index where ``classes`` says
        otherwise (or probabilities wider than the classes) would mislabel every
        prediction without a word.
        """
        blank = np.zeros((1, *self._input_shape), dtype=np.float32)
        outputs = self._session_run(self._session, self._output_names, blank)
        label, proba = outputs[self._label_index], outputs[self._proba_index]
        n_classes = len(self.classes_)
        if self._score_index is not None and outputs[self._score_index].shape != (1,):
            raise ModelFileError(
                f"{self._name} answers one image with a digit score of shape "
                f"{outputs[self._score_index].shape}, expected (1,); {_EXPORT_HINT}"
            )
        if proba.shape != (1, n_classes) or label.shape != (1,):
            raise ModelFileError(
                f"{self._name} answers one image with labels of shape {label.shape} and "
                f"probabilities of shape {proba.shape}, expected (1,) and (1, {n_classes}); "
                f"{_EXPORT_HINT}"
            )
        if np.isfinite(proba).all():  # NaN is said when it is predicted
            expected = self.classes_[int(proba.argmax())]
            if int(label[0]) != int(expected):
                raise ModelFileError(
                    f"{self._name} labels a blank image {int(label[0])} where its "
                    f"probabilities point to class {int(expected)}: its `label` output does "
                    f"not follow its `classes` metadata; {_EXPORT_HINT}"
                )

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
        warn_scaled_input(float(x.max()), stacklevel=5)  # the caller of predict*


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

"""int8 quantisation of an exported model, gated on test accuracy instead of parity.

An int8 graph cannot match the pipeline to 1e-5, so the parity gate does not
apply. Instead the fp32 and int8 models both classify a labelled test set and
the int8 model is accepted only if it loses at most ``max_accuracy_loss``
(a fraction: 0.003 is 0.3 points). Two onnxruntime methods:

- ``"dynamic"``: weights int8, activations quantised per batch at run time
  (``MatMulInteger``/``ConvInteger``); needs no calibration data.
- ``"static"`` (the default, as onnxruntime recommends for x86): the graph is
  first prepared by onnxruntime's ``quant_pre_process`` (shape inference and
  graph optimisation), then weights and activations become signed int8 in QDQ
  format, weights per channel, activation ranges calibrated on training images
  (``QLinearMatMul``/``QLinearConv`` after onnxruntime's graph fusion).

Only ``Conv``, ``MatMul`` and ``Gemm`` are quantised: the ÷255, the row
normalisation and the label lookup stay float, so the input and output contract
of the fp32 model is unchanged. Where int8 costs too much accuracy,
:func:`export_int8_onnx` keeps the layers int8 hurts most (the last, then also
the first) in fp32 and tries again. It also refuses, unless told otherwise, to
write an int8 model that ran slower than the fp32 one. Imports onnx and
onnxruntime only.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._core.atomic import temporary_dir_beside
from ._gate import ExportError, as_check_images, check_opset, check_parity
from ._metadata import INPUT_NAME, set_metadata
from ._onnx import refuse_existing, to_onnx_model, write_new_files

METHODS = ("dynamic", "static")

#: The default accuracy gate: at most 0.3 points lost on the test set.
MAX_ACCURACY_LOSS = 0.003

_QUANTIZED_OPS = ["Conv", "MatMul", "Gemm"]


class AccuracyGateError(ExportError):
    """The int8 model loses more test accuracy than allowed; nothing is written."""


class SlowerThanFp32Error(ExportError):
    """int8 ran slower than fp32 and ``allow_slower`` was not given; nothing is written."""


@dataclass(frozen=True)
class QuantizationReport:
    """The accuracy of the fp32 and int8 models on the same labelled images.

    Attributes
    ----------
    method : str
        ``"dynamic"`` or ``"static"``.
    n_samples : int
        Number of test images classified.
    fp32_accuracy, int8_accuracy : float
        Fractions of correct labels.
    max_accuracy_loss : float
        The largest ``fp32_accuracy - int8_accuracy`` that passes.
    fp32_images_per_s, int8_images_per_s : float
        Throughput of each model while it classified those images (batches of
        1,000, one onnxruntime session each, after a warm-up batch, the best of
        three passes); NaN if not measured. A rough guide, not a benchmark.
    fp32_bytes, int8_bytes : int
        Sizes of the serialised models (0 if not measured).
    fp32_nodes : tuple of str
        Nodes that int8 would have cost too much accuracy and were kept in fp32.
    """

    method: str
    n_samples: int
    fp32_accuracy: float
    int8_accuracy: float
    max_accuracy_loss: float = MAX_ACCURACY_LOSS
    fp32_images_per_s: float = float("nan")
    int8_images_per_s: float = float("nan")
    fp32_bytes: int = 0
    int8_bytes: int = 0
    fp32_nodes: tuple[str, ...] = ()

    @property
    def size_ratio(self) -> float:
        """int8 file size over fp32 file size (NaN if not measured)."""
        return self.int8_bytes / self.fp32_bytes if self.fp32_bytes else float("nan")

    @property
    def speedup(self) -> float:
        """int8 throughput over fp32 throughput (NaN if not measured)."""
        return self.int8_images_per_s / self.fp32_images_per_s

    @property
    def accuracy_loss(self) -> float:
        """``fp32_accuracy - int8_accuracy`` (negative if int8 is better)."""
        return self.fp32_accuracy - self.int8_accuracy

    @property
    def passed(self) -> bool:
        return self.accuracy_loss <= self.max_accuracy_loss + 1e-12

    def __str__(self) -> str:
        text = (
            f"int8 ({self.method}) on {self.n_samples} test images: accuracy "
            f"{self.int8_accuracy:.2%} vs fp32 {self.fp32_accuracy:.2%}, cost "
            f"{100 * self.accuracy_loss:+.2f} points (allowed {100 * self.max_accuracy_loss:.2f})"
        )
        if np.isfinite(self.speedup):
            text += f"; throughput {self.speedup:.2f}x fp32's"
        if self.fp32_bytes:
            text += f"; size {self.int8_bytes:,} vs {self.fp32_bytes:,} bytes"
        if self.fp32_nodes:
            text += f"; kept in fp32: {', '.join(self.fp32_nodes)}"
        return text


class _CalibrationImages:
    """onnxruntime's ``CalibrationDataReader`` protocol over raw images, in batches."""

    def __init__(self, images: np.ndarray, batch_size: int = 100) -> None:
        self._batches = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
        self._it: Iterator[np.ndarray] = iter(self._batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        return None if batch is None else {INPUT_NAME: batch}

    def rewind(self) -> None:
        self._it = iter(self._batches)


def compute_nodes(model: Any) -> list[str]:
    """Names of the nodes int8 quantises (``Conv``, ``MatMul``, ``Gemm``), in graph order."""
    return [node.name for node in model.graph.node if node.op_type in _QUANTIZED_OPS]


def quantize_int8(
    model: Any,
    *,
    method: str = "static",
    calibration_images: Any = None,
    nodes_to_exclude: Any = None,
    scratch_dir: str | Path | None = None,
) -> Any:
    """Quantise an fp32 skdigits ONNX model to int8 with onnxruntime's tools.

    Parameters
    ----------
    model : onnx.ModelProto or bytes
        An fp32 model from :func:`skdigits.export.to_onnx_model`.
    method : {"static", "dynamic"}, default="static"
        ``"static"``: ``quant_pre_process``, then QDQ with signed int8 activations
        and per-channel signed int8 weights, calibrated on ``calibration_images``.
    calibration_images : array-like of shape (n, 28, 28), default=None
        Raw training images (0–255) for ``method="static"``; a few hundred suffice.
    nodes_to_exclude : sequence of str, default=None
        Node names (see :func:`compute_nodes`) to leave in fp32.
    scratch_dir : str or path-like, default=None
        An existing folder for onnxruntime's input and output files; None uses a
        temporary folder of the system's. :func:`export_int8_onnx` passes one
        beside its destination, so a killed export leaves nothing elsewhere.

    Returns
    -------
    onnx.ModelProto
        The int8 model, with the fp32 model's metadata plus ``quantization``
        (``"int8"``) and ``quantization_method``.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if method not in METHODS:
        raise ExportError(f"`method` must be one of {METHODS}, got {method!r}")
    if isinstance(model, bytes):
        model = onnx.load_from_string(model)
    props = {p.key: p.value for p in model.metadata_props}
    with contextlib.ExitStack() as stack:
        tmp = (
            Path(scratch_dir)
            if scratch_dir is not None
            else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        )
        src, dst = tmp / "fp32.onnx", tmp / "int8.onnx"
        onnx.save(model, src)
        exclude = list(nodes_to_exclude or [])
        if method == "dynamic":
            quantize_dynamic(
                src,
                dst,
                op_types_to_quantize=_QUANTIZED_OPS,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=exclude,
            )
        else:
            _quantize_static(src, dst, calibration_images, exclude)
        quantized = onnx.load(dst)
    set_metadata(quantized, {**props, "quantization": "int8", "quantization_method": method})
    return quantized


def _quantize_static(src: Path, dst: Path, calibration_images: Any, exclude: list[str]) -> None:
    """QDQ int8 of the model at ``src`` into ``dst``, calibrated on ``calibration_images``."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calibration_images is None:
        raise ExportError(
            "`method='static'` calibrates activation ranges on real images; pass "
            "`calibration_images` (e.g. 500 MNIST training images)"
        )
    reader = _CalibrationImages(as_check_images(calibration_images))
    prepared = src.parent / "prepared.onnx"
    # ONNX's own shape inference suffices for these static graphs; the
    # symbolic one would add a dependency (sympy) for nothing.
    quant_pre_process(src, prepared, skip_symbolic_shape=True)
    quantize_static(
        prepared,
        dst,
        reader,
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=_QUANTIZED_OPS,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        nodes_to_exclude=exclude,
    )


def _classify(
    model: Any, images: Any, batch_size: int = 1000, passes: int = 1
) -> tuple[np.ndarray, float]:
    """ONNX labels of ``images`` and images per second (best of ``passes``, after a warm-up)."""
    from ..runtime._predictor import quiet_session

    data = model if isinstance(model, bytes) else model.SerializeToString()
    session = quiet_session(data)
    images = as_check_images(images)
    session.run(["label"], {INPUT_NAME: images[:batch_size]})  # warm-up
    best = 0.0
    for _ in range(passes):
        start = time.perf_counter()
        batches = [
            session.run(["label"], {INPUT_NAME: images[i : i + batch_size]})[0]
            for i in range(0, len(images), batch_size)
        ]
        best = max(best, len(images) / max(time.perf_counter() - start, 1e-9))
    return np.concatenate(batches), best


def onnx_accuracy(model: Any, images: Any, labels: Any, *, batch_size: int = 1000) -> float:
    """The fraction of ``images`` whose ONNX ``label`` equals ``labels`` (onnxruntime, CPU)."""
    predicted, _ = _classify(model, images, batch_size)
    return float((predicted == np.asarray(labels)).mean())


def check_accuracy(
    fp32_model: Any,
    int8_model: Any,
    images: Any,
    labels: Any,
    *,
    method: str = "static",
    max_accuracy_loss: float = MAX_ACCURACY_LOSS,
    fp32_nodes: Any = (),
) -> QuantizationReport:
    """Classify ``images`` with both models; refuse an int8 model that loses too much.

    Raises :class:`AccuracyGateError` if ``fp32 - int8`` accuracy exceeds
    ``max_accuracy_loss``.

    Returns
    -------
    QuantizationReport
    """
    labels = np.asarray(labels)
    fp32_labels, fp32_speed = _classify(fp32_model, images, passes=3)
    int8_labels, int8_speed = _classify(int8_model, images, passes=3)
    report = QuantizationReport(
        method=method,
        n_samples=len(labels),
        fp32_accuracy=float((fp32_labels == labels).mean()),
        int8_accuracy=float((int8_labels == labels).mean()),
        max_accuracy_loss=float(max_accuracy_loss),
        fp32_images_per_s=fp32_speed,
        int8_images_per_s=int8_speed,
        fp32_bytes=_size(fp32_model),
        int8_bytes=_size(int8_model),
        fp32_nodes=tuple(fp32_nodes),
    )
    if not report.passed:
        raise AccuracyGateError(
            f"{report}; the int8 model was not written. Try the other quantisation "
            "`method`, or raise `max_accuracy_loss` if that cost is acceptable",
            cli_words={
                "`method`": "--quantize-method",
                "`max_accuracy_loss`": "--max-accuracy-loss",
            },
        )
    return report


def _size(model: Any) -> int:
    return len(model if isinstance(model, bytes) else model.SerializeToString())


def export_int8_onnx(
    pipeline: Any,
    path: str | Path,
    *,
    test_images: Any,
    test_labels: Any,
    method: str = "static",
    calibration_images: Any = None,
    max_accuracy_loss: float = MAX_ACCURACY_LOSS,
    allow_slower: bool = False,
    opset: int = 17,
    metadata: Mapping[str, Any] | None = None,
    check_samples: Any = None,
    force: bool = False,
) -> QuantizationReport:
    """Export ``pipeline`` as an int8 ONNX model, gated on test accuracy, written atomically.

    Three gates, in order (see Raises): the fp32 graph's parity with the pipeline, the
    int8 graph's accuracy on ``test_images`` (tried again with the last, then also the
    first, quantisable layer kept in fp32), and its speed against fp32.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted skdigits pipeline.
    path : str or path-like
        Destination ``.onnx`` file.
    test_images, test_labels : array-like
        Labelled raw images for the accuracy gate (the full MNIST test set).
    method : {"static", "dynamic"}, default="static"
    calibration_images : array-like, default=None
        Raw training images; required for ``method="static"``.
    max_accuracy_loss : float, default=0.003
        Largest accepted accuracy loss as a fraction (0.003 = 0.3 points).
    allow_slower : bool, default=False
        Write the int8 model even if it ran slower than fp32 (it is still about a
        quarter of the size).
    opset : int, default=17
    metadata : mapping, default=None
        Extra ``metadata_props`` for the fp32 graph (kept in the int8 one).
    check_samples : array-like, default=None
        Raw images for the fp32 parity gate; None uses the first 1,000 test images.
    force : bool, default=False
        Replace ``path`` if it exists.

    Returns
    -------
    QuantizationReport
        Its accuracies, speed-up and sizes are also stored in the file's metadata
        (``quantization``, ``fp32_test_accuracy``, ``int8_test_accuracy`` ...).

    Raises
    ------
    ParityError
        If the fp32 graph does not reproduce the pipeline.
    AccuracyGateError
        If the int8 graph loses more than ``max_accuracy_loss`` even with the first
        and last layers in fp32.
    SlowerThanFp32Error
        If the int8 graph ran slower than fp32 and ``allow_slower`` is False.
    """
    path = Path(path)
    check_opset(opset)
    refuse_existing(path, force)
    if not 0.0 <= float(max_accuracy_loss) < 1.0:
        raise ExportError(f"`max_accuracy_loss` is a fraction in [0, 1), got {max_accuracy_loss!r}")
    fp32 = _parity_checked_fp32(pipeline, opset, metadata, check_samples, test_images)
    int8, report = _quantize_within_gate(
        fp32,
        test_images,
        test_labels,
        method=method,
        calibration_images=calibration_images,
        max_accuracy_loss=max_accuracy_loss,
        scratch_beside=path,
    )
    _check_speed(report, allow_slower=allow_slower)
    set_metadata(int8, _int8_metadata(report))
    write_new_files({path: int8.SerializeToString()}, force=force)
    return report


def _parity_checked_fp32(
    pipeline: Any,
    opset: int,
    metadata: Mapping[str, Any] | None,
    check_samples: Any,
    test_images: Any,
) -> Any:
    """The pipeline's fp32 ONNX model, checked against it by the parity gate.

    ``check_samples`` None checks on the first 1,000 ``test_images``.
    """
    if check_samples is None:
        check_samples = np.asarray(test_images)[:1000]
    # Not export_onnx: the int8 file must not carry the fp32 graph's parity metadata.
    fp32 = to_onnx_model(pipeline, opset=opset, metadata=metadata)
    check_parity(fp32.SerializeToString(), pipeline, check_samples)
    return fp32


def _check_speed(report: QuantizationReport, *, allow_slower: bool) -> None:
    """Refuse an int8 model that ran slower than fp32, unless ``allow_slower``."""
    if report.speedup < 1.0 and not allow_slower:
        raise SlowerThanFp32Error(
            f"{report}; the int8 model ran slower than fp32 on this CPU, so it was not "
            "written. Keep the fp32 model, or pass allow_slower=True if the smaller file "
            "matters more",
            cli_words={"allow_slower=True": "--allow-slower"},
        )


def _quantize_within_gate(
    fp32: Any,
    test_images: Any,
    test_labels: Any,
    *,
    method: str,
    calibration_images: Any,
    max_accuracy_loss: float,
    scratch_beside: Path,
) -> tuple[Any, QuantizationReport]:
    """Quantise ``fp32`` to int8 until it passes :func:`check_accuracy`; return both.

    First every quantisable layer is int8; if that loses too much, the last layer
    stays fp32, then the first and the last (the layers int8 hurts most). The last
    try's :class:`AccuracyGateError` propagates. onnxruntime's scratch files go in a
    fresh folder beside ``scratch_beside``, so a killed export leaves nothing elsewhere.
    """

    def attempt(keep: list[str]) -> tuple[Any, QuantizationReport]:
        with temporary_dir_beside(scratch_beside) as scratch:
            int8 = quantize_int8(
                fp32,
                method=method,
                calibration_images=calibration_images,
                nodes_to_exclude=keep,
                scratch_dir=scratch,
            )
        report = check_accuracy(
            fp32,
            int8,
            test_images,
            test_labels,
            method=method,
            max_accuracy_loss=max_accuracy_loss,
            fp32_nodes=keep,
        )
        return int8, report

    nodes = compute_nodes(fp32)
    *tries, last = [[], nodes[-1:], [*nodes[:1], *nodes[-1:]] if len(nodes) > 1 else nodes[-1:]]
    for keep in tries:
        with contextlib.suppress(AccuracyGateError):  # then keep more layers in fp32
            return attempt(keep)
    return attempt(last)


def _int8_metadata(report: QuantizationReport) -> dict[str, str]:
    """What the int8 file records of the accuracy gate (quantize_int8 records the method)."""
    return {
        "fp32_test_accuracy": repr(report.fp32_accuracy),
        "int8_test_accuracy": repr(report.int8_accuracy),
        "test_accuracy": repr(report.int8_accuracy),
        "accuracy_gate_n_samples": str(report.n_samples),
        "int8_speedup_measured": f"{report.speedup:.2f}",
        "int8_fp32_nodes": ",".join(report.fp32_nodes),
    }

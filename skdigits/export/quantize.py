"""int8 quantisation of an exported model, gated on test accuracy instead of parity.

An int8 graph cannot match the pipeline to 1e-5, so the parity gate does not
apply. Instead the fp32 and int8 models both classify a labelled test set and
the int8 model is accepted only if it loses at most ``max_accuracy_loss``
(a fraction: 0.003 is 0.3 points). Two onnxruntime methods:

- ``"dynamic"``: weights int8, activations quantised per batch at run time
  (``MatMulInteger``/``ConvInteger``); needs no calibration data.
- ``"static"``: weights and activations int8 in QDQ format, activation ranges
  calibrated on training images (``QLinearMatMul``/``QLinearConv`` after
  onnxruntime's graph fusion).

Only ``Conv``, ``MatMul`` and ``Gemm`` are quantised: the ÷255, the row
normalisation and the label lookup stay float, so the input and output contract
of the fp32 model is unchanged. Imports onnx and onnxruntime only.
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

from .._atomic import temporary_dir_beside, write_bytes_atomic
from ._gate import ExportError, as_check_images, check_opset, check_parity
from ._metadata import INPUT_NAME, set_metadata

METHODS = ("dynamic", "static")

#: The default accuracy gate: at most 0.3 points lost on the test set.
MAX_ACCURACY_LOSS = 0.003

_QUANTIZED_OPS = ["Conv", "MatMul", "Gemm"]


class AccuracyGateError(ExportError):
    """The int8 model loses more test accuracy than allowed; nothing is written."""


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
        1,000, one onnxruntime session each, after a warm-up batch); NaN if
        not measured. One pass on this machine: a rough guide, not a benchmark.
    """

    method: str
    n_samples: int
    fp32_accuracy: float
    int8_accuracy: float
    max_accuracy_loss: float = MAX_ACCURACY_LOSS
    fp32_images_per_s: float = float("nan")
    int8_images_per_s: float = float("nan")

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


def quantize_int8(
    model: Any,
    *,
    method: str = "dynamic",
    calibration_images: Any = None,
    scratch_dir: str | Path | None = None,
) -> Any:
    """Quantise an fp32 skdigits ONNX model to int8 with onnxruntime's tools.

    Parameters
    ----------
    model : onnx.ModelProto or bytes
        An fp32 model from :func:`skdigits.export.to_onnx_model`.
    method : {"dynamic", "static"}, default="dynamic"
    calibration_images : array-like of shape (n, 28, 28), default=None
        Raw training images (0–255) for ``method="static"``; a few hundred suffice.
    scratch_dir : str or path-like, default=None
        An existing folder for onnxruntime's input and output files; None uses a
        temporary folder of the system's. :func:`export_int8_onnx` passes one
        beside its destination, so a killed export leaves nothing elsewhere.

    Returns
    -------
    onnx.ModelProto
        The int8 model, with the fp32 model's metadata plus ``quantization``.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic, quantize_static

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
        if method == "dynamic":
            quantize_dynamic(
                src, dst, op_types_to_quantize=_QUANTIZED_OPS, weight_type=QuantType.QInt8
            )
        else:
            if calibration_images is None:
                raise ExportError(
                    "`method='static'` calibrates activation ranges on real images; pass "
                    "`calibration_images` (e.g. 500 MNIST training images)"
                )
            reader = _CalibrationImages(as_check_images(calibration_images))
            quantize_static(
                src,
                dst,
                reader,
                op_types_to_quantize=_QUANTIZED_OPS,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
            )
        quantized = onnx.load(dst)
    set_metadata(quantized, {**props, "quantization": f"int8-{method}"})
    return quantized


def _classify(model: Any, images: Any, batch_size: int = 1000) -> tuple[np.ndarray, float]:
    """ONNX labels for ``images`` and the images per second it took (after a warm-up batch)."""
    import onnxruntime as ort

    data = model if isinstance(model, bytes) else model.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    images = as_check_images(images)
    session.run(["label"], {INPUT_NAME: images[:batch_size]})  # warm-up
    start = time.perf_counter()
    batches = [
        session.run(["label"], {INPUT_NAME: images[i : i + batch_size]})[0]
        for i in range(0, len(images), batch_size)
    ]
    seconds = time.perf_counter() - start
    return np.concatenate(batches), len(images) / max(seconds, 1e-9)


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
    method: str = "dynamic",
    max_accuracy_loss: float = MAX_ACCURACY_LOSS,
) -> QuantizationReport:
    """Classify ``images`` with both models; refuse an int8 model that loses too much.

    Raises :class:`AccuracyGateError` if ``fp32 - int8`` accuracy exceeds
    ``max_accuracy_loss``.

    Returns
    -------
    QuantizationReport
    """
    labels = np.asarray(labels)
    fp32_labels, fp32_speed = _classify(fp32_model, images)
    int8_labels, int8_speed = _classify(int8_model, images)
    report = QuantizationReport(
        method=method,
        n_samples=len(labels),
        fp32_accuracy=float((fp32_labels == labels).mean()),
        int8_accuracy=float((int8_labels == labels).mean()),
        max_accuracy_loss=float(max_accuracy_loss),
        fp32_images_per_s=fp32_speed,
        int8_images_per_s=int8_speed,
    )
    if not report.passed:
        raise AccuracyGateError(
            f"{report}; the int8 model was not written. Try the other quantisation "
            "method, or raise the allowed loss (--max-accuracy-loss) if that cost is acceptable"
        )
    return report


def export_int8_onnx(
    pipeline: Any,
    path: str | Path,
    *,
    test_images: Any,
    test_labels: Any,
    method: str = "dynamic",
    calibration_images: Any = None,
    max_accuracy_loss: float = MAX_ACCURACY_LOSS,
    opset: int = 17,
    metadata: Mapping[str, Any] | None = None,
    check_samples: Any = None,
    force: bool = False,
) -> QuantizationReport:
    """Export ``pipeline`` as an int8 ONNX model, gated on test accuracy, written atomically.

    The fp32 graph is first checked against the pipeline (the parity gate of
    :func:`skdigits.export.export_onnx`); the int8 graph must then lose at most
    ``max_accuracy_loss`` of the fp32 graph's accuracy on ``test_images``.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted skdigits pipeline.
    path : str or path-like
        Destination ``.onnx`` file.
    test_images, test_labels : array-like
        Labelled raw images for the accuracy gate (the full MNIST test set).
    method : {"dynamic", "static"}, default="dynamic"
    calibration_images : array-like, default=None
        Raw training images; required for ``method="static"``.
    max_accuracy_loss : float, default=0.003
        Largest accepted accuracy loss as a fraction (0.003 = 0.3 points).
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
        Its accuracies are also stored in the file's metadata
        (``quantization``, ``fp32_test_accuracy``, ``int8_test_accuracy``).

    Raises
    ------
    ParityError
        If the fp32 graph does not reproduce the pipeline.
    AccuracyGateError
        If the int8 graph loses more than ``max_accuracy_loss``.
    """
    from . import _refuse_existing, to_onnx_model

    path = Path(path)
    check_opset(opset)
    _refuse_existing(path, force)
    if not 0.0 <= float(max_accuracy_loss) < 1.0:
        raise ExportError(f"`max_accuracy_loss` is a fraction in [0, 1), got {max_accuracy_loss!r}")
    fp32 = to_onnx_model(pipeline, opset=opset, metadata=metadata)
    if check_samples is None:
        check_samples = np.asarray(test_images)[:1000]
    check_parity(fp32.SerializeToString(), pipeline, check_samples)

    with temporary_dir_beside(path) as scratch:
        int8 = quantize_int8(
            fp32, method=method, calibration_images=calibration_images, scratch_dir=scratch
        )
    report = check_accuracy(
        fp32, int8, test_images, test_labels, method=method, max_accuracy_loss=max_accuracy_loss
    )
    set_metadata(
        int8,
        {
            "quantization": "int8",
            "quantization_method": method,
            "fp32_test_accuracy": repr(report.fp32_accuracy),
            "int8_test_accuracy": repr(report.int8_accuracy),
            "test_accuracy": repr(report.int8_accuracy),
            "accuracy_gate_n_samples": str(report.n_samples),
            "int8_speedup_measured": f"{report.speedup:.2f}",
        },
    )
    _refuse_existing(path, force)
    write_bytes_atomic(path, int8.SerializeToString())
    return report

"""Temperature scaling: one number, fitted on held-out images, that makes probabilities honest.

A net's probabilities ``p`` (the softmax of its logits ``z``, or an ensemble's
average) become ``softmax(log(p) / T)``. For a softmax net that is exactly
``softmax(z / T)`` (Guo et al. 2017), since ``log p = z - logsumexp(z)``; for an
ensemble it is one temperature on the averaged log-probabilities, which is the
model that is predicted and exported. A sigmoid net's normalised outputs get the
same map, a power ``p ** (1 / T)`` normalised: one parameter too, and it halves the
seed recipe's calibration error, but it cannot reach a softmax net's (the logit of
each sigmoid, the better scale, is lost to float32 rounding near 1, so ONNX could
not reproduce it). ``T > 1`` softens an overconfident net, ``T < 1`` sharpens
an underconfident one (label smoothing); the label is the argmax of the net's own
probabilities either way.

:func:`apply_temperature` is the float32 computation that the ONNX export repeats
node for node.
"""

from __future__ import annotations

import math

import numpy as np

from ..model_io._bounds import TEMPERATURE
from ._training import normalize_rows

#: The fewest held-out images a temperature is fitted on; with fewer, T stays 1.
MIN_CALIBRATION_SAMPLES = 50

# log(p) of a probability that underflowed to 0 counts as this while fitting: the
# smallest normal float32, so such a row costs a large but finite loss.
_LOG_TINY = math.log(float(np.finfo(np.float32).tiny))


def calibration_logits(activations: np.ndarray) -> np.ndarray:
    """``log(p)`` of the normalised output activations ``p`` (float32): what ``T`` divides.

    The ONNX head computes the same, node for node. A probability of 0 gives ``-inf``.
    """
    with np.errstate(divide="ignore"):
        return np.log(normalize_rows(activations))


def fit_temperature(logits: np.ndarray, y_index: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of held-out labels.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
        :func:`calibration_logits` of held-out images.
    y_index : ndarray of shape (n_samples,)
        The column of each image's true class.

    Returns
    -------
    float
        ``T`` in :data:`skdigits.model_io._bounds.TEMPERATURE`, found by a bounded
        search on ``log T`` (Brent's method, to 0.01 % of ``T``).
    """
    from scipy.optimize import minimize_scalar

    z0 = np.maximum(np.asarray(logits, dtype=np.float64), _LOG_TINY)
    rows = np.arange(len(z0))

    def nll(log_t: float) -> float:
        z = z0 / math.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[rows, y_index]))

    bounds = (math.log(TEMPERATURE.low), math.log(TEMPERATURE.high))
    found = minimize_scalar(nll, bounds=bounds, method="bounded", options={"xatol": 1e-4})
    return float(min(max(math.exp(found.x), TEMPERATURE.low), TEMPERATURE.high))


def apply_temperature(activations: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(calibration_logits * (1 / T))`` in float32; the normalised activations at T = 1.

    The same operations, in the same order and precision, as the ONNX graph
    (``Mul`` by the float32 ``1 / T``, then ``Softmax``, maximum subtracted).
    """
    if temperature == 1.0:
        return normalize_rows(activations)
    z = calibration_logits(activations) * inverse_temperature(temperature)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True, dtype=np.float32)


def inverse_temperature(temperature: float) -> np.float32:
    """``1 / T`` as the float32 that both the NumPy and the ONNX computation multiply by."""
    return np.float32(1.0 / float(temperature))

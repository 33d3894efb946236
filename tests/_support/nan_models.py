"""ONNX models that load and run but answer NaN: contract-shaped, numerically broken.

Built on :func:`tests._support.onnx_models.build_model`: the logits are divided by
each image's total ink, so a blank image gives ``B / 0`` (infinite logits) and
Softmax answers NaN for that row only, while every image with ink gets finite
probabilities. A test can then check that only the blank rows are named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests._support.onnx_models import build_model, helper, numpy_helper


def build_nan_for_blank_model(path: Path) -> Path:
    """Write a model whose probabilities are NaN for blank (all-zero) images."""
    nodes = [
        helper.make_node("ReduceSum", ["rows", "ink_axes"], ["ink"], keepdims=1),
        helper.make_node("Div", ["logits", "ink"], ["broken"]),
    ]
    inits = [numpy_helper.from_array(np.array([1], dtype=np.int64), "ink_axes")]
    return build_model(path, nodes, inits, logits="broken")

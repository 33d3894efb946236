"""Tiny ONNX models built with ``onnx.helper`` that honour skdigits' export contract.

``pixels`` float32 [N, 28, 28] of raw 0-255 values in; ``label`` and
``probabilities`` out; a linear softmax whose weights ``W`` and ``B`` are fixed
here, so a test can compute the same answers in numpy.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
TensorProto, helper, numpy_helper = onnx.TensorProto, onnx.helper, onnx.numpy_helper

METADATA = {
    "skdigits_version": "0.1.0",
    "classes": json.dumps(list(range(10))),
    "input_name": "pixels",
    "input_layout": "NHW",
    "scaling": "divide by 255 inside the graph",
    "opset": "17",
    "test_accuracy": "0.9765",
    "hyperparameters": json.dumps({"hidden_units": 100, "epochs": 10}),
    "output_activation": "softmax",
    "architecture": "mlp",
}

rng_weights = np.random.default_rng(1234)
W = rng_weights.normal(0.0, 0.05, size=(784, 10)).astype(np.float32)
B = rng_weights.normal(0.0, 0.5, size=10).astype(np.float32)


def build_model(
    path: Path,
    extra_nodes: list[Any] = (),  # type: ignore[assignment]
    extra_inits: list[Any] = (),  # type: ignore[assignment]
    *,
    metadata: dict[str, str] | None = None,
    input_name: str = "pixels",
    input_shape: list[int | str] | None = None,
    output_names: tuple[str, str] = ("label", "probabilities"),
    logits: str = "logits",
    proba_width: int | str = 10,
    external: bool = False,
    score_output: str | None = None,
    score_keepdims: bool = False,
) -> Path:
    """Write a contract-shaped linear softmax model: pixels → ÷255 → rows @ W + B.

    Hostile variants: ``extra_nodes`` (and their ``extra_inits``) sit between the
    logits and Softmax, which reads the tensor named ``logits``; ``proba_width``
    declares the probabilities' width; ``external`` stores ``W`` as external data
    in ``secret.txt`` beside the model. ``score_output`` adds a third output of
    that name, the largest probability of each row (``[N]``, or ``[N, 1]`` with
    ``score_keepdims``), as the export's ``digit_score``.
    """
    label, proba = output_names
    if input_shape is None:
        input_shape = ["N", 28, 28]
    n_in = math.prod(int(d) for d in input_shape[1:])
    weights = numpy_helper.from_array(np.resize(W, (n_in, 10)), "W")  # W itself for 784 pixels
    if external:
        weights.ClearField("raw_data")
        weights.data_location = TensorProto.EXTERNAL
        length = str(n_in * 10 * 4)
        for key, value in (("location", "secret.txt"), ("offset", "0"), ("length", length)):
            weights.external_data.add(key=key, value=value)
    inits = [
        numpy_helper.from_array(np.array(255.0, dtype=np.float32), "scale"),
        numpy_helper.from_array(np.array([-1, n_in]), "rows_shape"),
        weights,
        numpy_helper.from_array(B, "B"),
        *extra_inits,
    ]
    nodes = [
        helper.make_node("Div", [input_name, "scale"], ["scaled"]),
        helper.make_node("Reshape", ["scaled", "rows_shape"], ["rows"]),
        helper.make_node("MatMul", ["rows", "W"], ["logits0"]),
        helper.make_node("Add", ["logits0", "B"], ["logits"]),
        *extra_nodes,
        helper.make_node("Softmax", [logits], [proba], axis=-1),
        helper.make_node("ArgMax", [proba], ["index"], axis=1, keepdims=0),
        helper.make_node("Cast", ["index"], [label], to=TensorProto.INT64),
    ]
    outputs = [
        helper.make_tensor_value_info(label, TensorProto.INT64, ["N"]),
        helper.make_tensor_value_info(proba, TensorProto.FLOAT, ["N", proba_width]),
    ]
    if score_output is not None:
        keep = int(score_keepdims)
        nodes.append(
            helper.make_node("ReduceMax", [proba], [score_output], axes=[1], keepdims=keep)
        )
        shape = ["N", 1] if keep else ["N"]
        outputs.append(helper.make_tensor_value_info(score_output, TensorProto.FLOAT, shape))
    graph = helper.make_graph(
        nodes,
        "digits",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)],
        outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, METADATA if metadata is None else metadata)
    if not external:  # the checker would look for secret.txt
        onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path

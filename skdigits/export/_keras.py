"""Keras → ONNX: the fitted net through tf2onnx, with the classifier's head merged after it.

tf2onnx converts the Keras net alone, as a ``tf.function`` over float32
``[N, n_features]`` rows (``tf2onnx.convert.from_keras`` fails on Keras 3).
:func:`classifier_to_onnx` then merges, with ``onnx.compose``, the head that
:class:`~skdigits.DigitClassifier` computes in NumPy::

    rows ─▶ Keras net ─▶ activations ─ReduceSum─Div─▶ p ─ArgMax─Gather classes─▶ label
                                                       └─Log─Mul 1/T─Softmax─▶ probabilities

(with a temperature of 1, ``p`` is the ``probabilities`` output itself).
:func:`add_digit_score` then gives the whole exported graph (a pipeline, or a
``CalibratedClassifierCV`` around pipelines) its third output::

    probabilities ─TopK, ReduceSum over classes─▶ digit_score

The ÷255 is not in this graph: the skl2onnx converter of
:class:`~skdigits.PixelScaler` adds it as a ``Div`` node (see :mod:`._skl2onnx`).
Converting a ``tf.function`` that also divides would be shorter, but TensorFlow's
graph optimiser rewrites ``x / 255`` as ``x * (1 / 255)``, which differs from
PixelScaler in the last bit for 126 of the 256 intensities.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.deps import require
from ..estimator._calibration import inverse_temperature
from ..runtime._digit_score import (
    DIGIT_SCORE_KIND,
    DIGIT_SCORE_KINDS,
    DIGIT_SCORE_OUTPUT,
    score_terms,
)
from ._gate import ExportError, class_labels

require("onnx", feature="ONNX export")
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def keras_net_to_onnx(model: Any, *, n_features: int, opset: int) -> onnx.ModelProto:
    """Convert a Keras model taking float32 rows ``[N, n_features]`` with tf2onnx.

    Returns
    -------
    onnx.ModelProto
        One input (the rows) and one float32 output (the model's output
        activations), using only operators of the default ONNX domain and no subgraphs.
    """
    from ..nn._tf import import_keras

    import_keras(feature="ONNX export")
    import tensorflow as tf

    tf2onnx = require("tf2onnx", feature="ONNX export")

    signature = [tf.TensorSpec([None, n_features], tf.float32, name="rows")]

    @tf.function(input_signature=signature)
    def net(rows):
        return {"activations": model(rows, training=False)}

    try:
        proto, _ = tf2onnx.convert.from_function(net, input_signature=signature, opset=opset)
    except Exception as err:  # tf2onnx raises many types
        raise ExportError(
            f"tf2onnx could not convert the Keras model at opset {opset} ({err!r}); "
            "try another `opset`, or report this with your tensorflow and tf2onnx versions"
        ) from err
    _check_net(proto.graph)
    # tf2onnx also declares ai.onnx.ml, which no node of the net uses.
    default = [o for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    del proto.opset_import[:]
    proto.opset_import.extend(default)
    return proto


def _check_net(graph: onnx.GraphProto) -> None:
    """Refuse what the rest of the export cannot embed or serve."""
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ExportError(
            f"tf2onnx produced a graph with inputs {[i.name for i in graph.input]} and "
            f"outputs {[o.name for o in graph.output]}; expected one of each"
        )
    if graph.output[0].type.tensor_type.elem_type != TensorProto.FLOAT:
        raise ExportError(
            "the Keras model's output is not float32 (a mixed-precision policy?); "
            "export a float32 model"
        )
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise ExportError(
                f"tf2onnx emitted operator {node.op_type!r} of domain {node.domain!r}; "
                "the export supports only standard ONNX operators"
            )
        if any(
            a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
            for a in node.attribute
        ):
            raise ExportError(
                f"tf2onnx emitted operator {node.op_type!r} with a subgraph; the export "
                "supports only the plain feed-forward nets skdigits builds"
            )


def classification_head(
    classes: np.ndarray,
    like: onnx.ModelProto,
    *,
    temperature: float = 1.0,
) -> onnx.ModelProto:
    """``probabilities = activations / row sums``; ``label = classes[argmax(probabilities)]``.

    The same float32 operations as ``normalize_rows`` (skdigits.estimator)
    and :meth:`DigitClassifier.predict`; ArgMax, like NumPy, takes the first
    maximum. With a ``temperature`` other than 1, ``probabilities`` is instead
    ``Softmax(Mul(Log(p), 1 / T))`` of those probabilities ``p``, as
    ``predict_proba`` computes it; the label is still the argmax of ``p``, as
    ``predict``'s is. The model has the opsets and
    IR version of ``like``, so the two merge.
    """
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "class_axis")
    table = numpy_helper.from_array(np.asarray(classes, dtype=np.int64), "classes")
    initializers = [axes, table]
    calibrated = temperature != 1.0
    normalized = "net_probabilities" if calibrated else "probabilities"
    nodes = [
        helper.make_node(
            "ReduceSum", ["activations", "class_axis"], ["row_sum"], keepdims=1, name="sum_rows"
        ),
        helper.make_node("Div", ["activations", "row_sum"], [normalized], name="normalize"),
        helper.make_node(
            "ArgMax", [normalized], ["class_index"], axis=1, keepdims=0, name="argmax"
        ),
        helper.make_node(
            "Gather", ["classes", "class_index"], ["label"], axis=0, name="lookup_label"
        ),
    ]
    if calibrated:
        scale = np.asarray(inverse_temperature(temperature), dtype=np.float32)
        initializers.append(numpy_helper.from_array(scale, "inverse_temperature"))
        nodes += [
            helper.make_node("Log", [normalized], ["logits"], name="log"),
            helper.make_node("Mul", ["logits", "inverse_temperature"], ["tempered"], name="temper"),
            helper.make_node("Softmax", ["tempered"], ["probabilities"], axis=1, name="calibrate"),
        ]
    n_classes = len(classes)
    graph = helper.make_graph(
        nodes,
        "classification_head",
        [helper.make_tensor_value_info("activations", TensorProto.FLOAT, ["N", n_classes])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes]),
        ],
        initializer=initializers,
    )
    return helper.make_model(
        graph, opset_imports=list(like.opset_import), ir_version=like.ir_version
    )


def classifier_to_onnx(clf: Any, *, opset: int) -> onnx.ModelProto:
    """A fitted DigitClassifier as ONNX: float32 rows in, ``label`` and ``probabilities`` out."""
    net = keras_net_to_onnx(clf.model_, n_features=int(clf.X_shape_[1]), opset=opset)
    temperature = float(getattr(clf, "temperature_", 1.0))
    head = classification_head(class_labels(clf), like=net, temperature=temperature)
    return onnx.compose.merge_models(
        net, head, io_map=[(net.graph.output[0].name, "activations")], prefix1="keras_"
    )


def add_digit_score(
    model: onnx.ModelProto, n_classes: int, *, kind: str = DIGIT_SCORE_KIND
) -> None:
    """Add the ``digit_score`` output, float32 ``[N]``, computed from ``probabilities``.

    The graph's form of :func:`skdigits.runtime.digit_score_from_proba` (the
    score named ``kind``): ``TopK`` takes the largest (two) probabilities of each
    row and ``ReduceSum`` adds them, the very float32 sum NumPy computes.
    ``ReduceSum`` takes its axes as an input from opset 13, as an attribute before.
    """
    if kind not in DIGIT_SCORE_KINDS:
        raise ExportError(
            f"no ONNX form of the digit score {kind!r}; expected {DIGIT_SCORE_KIND!r}"
        )
    graph = model.graph
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    k = numpy_helper.from_array(
        np.array([score_terms(n_classes, kind)], dtype=np.int64), "digit_score_k"
    )
    graph.initializer.append(k)
    graph.node.append(
        helper.make_node(
            "TopK",
            ["probabilities", k.name],
            ["digit_score_top", "digit_score_top_indices"],
            axis=1,
            name="digit_score_topk",
        )
    )
    if opset >= 13:
        axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "digit_score_axes")
        graph.initializer.append(axes)
        node = helper.make_node(
            "ReduceSum",
            ["digit_score_top", axes.name],
            [DIGIT_SCORE_OUTPUT],
            keepdims=0,
            name="digit_score_sum",
        )
    else:
        node = helper.make_node(
            "ReduceSum",
            ["digit_score_top"],
            [DIGIT_SCORE_OUTPUT],
            axes=[1],
            keepdims=0,
            name="digit_score_sum",
        )
    graph.node.append(node)
    graph.output.append(helper.make_tensor_value_info(DIGIT_SCORE_OUTPUT, TensorProto.FLOAT, ["N"]))

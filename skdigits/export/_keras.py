"""Keras → ONNX: the fitted net through tf2onnx, and the pipeline's graph built around it.

The route
---------
tf2onnx converts the Keras net alone, as a ``tf.function`` over float32
``[N, n_features]`` rows (``tf2onnx.convert.from_keras`` fails on Keras 3). The
pipeline's own arithmetic is then added as plain ONNX nodes:

    pixels ─Div 255─Reshape [N, 784]─▶ Keras net ─▶ activations
    activations ─ReduceSum─Div─▶ probabilities ─ArgMax─Gather classes─▶ label

Converting a ``tf.function`` that also does the ÷255 would be shorter, but
TensorFlow's graph optimiser rewrites ``x / 255`` as ``x * (1 / 255)``, which
differs from :class:`~skdigits.PixelScaler` in the last bit for 126 of the 256
intensities. A ``Div`` node is exact (IEEE division on both sides). The same
node builders serve the skl2onnx converters (:mod:`._skl2onnx`), so both routes
compute the same graph.

The builders return ONNX ``NodeProto`` and ``TensorProto`` lists; every tensor
name they invent comes from a ``fresh(seed) -> unique name`` callable, so the
pieces can be placed in any graph without clashes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._deps import require
from .._version import __version__
from ._gate import ExportError, check_exportable, check_opset, class_labels
from ._metadata import DOC_STRING, INPUT_NAME, PRODUCER_NAME, build_metadata, set_metadata

require("onnx", feature="ONNX export")
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

#: Divisor of the scaling step, the same float32 value PixelScaler divides by.
MAX_PIXEL = np.float32(255.0)

Fresh = Callable[[str], str]
Pieces = tuple[list[onnx.NodeProto], list[onnx.TensorProto]]


class UniqueNames:
    """``fresh(seed)``: ``seed``, or ``seed_1``, ``seed_2`` ... once ``seed`` is taken."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def __call__(self, seed: str) -> str:
        name, i = seed, 0
        while name in self._taken:
            i += 1
            name = f"{seed}_{i}"
        self._taken.add(name)
        return name


def _const(fresh: Fresh, seed: str, value: Any) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), fresh(seed))


def keras_net_to_onnx(model: Any, *, n_features: int, opset: int) -> onnx.ModelProto:
    """Convert a Keras model taking float32 rows ``[N, n_features]`` with tf2onnx.

    Returns
    -------
    onnx.ModelProto
        One input (the rows) and one output (the model's output activations),
        using only operators of the default ONNX domain.
    """
    from .._tf import import_keras

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
    graph = proto.graph
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
    return proto


def keras_net_pieces(net: onnx.ModelProto, rows: str, activations: str, fresh: Fresh) -> Pieces:
    """The nodes and initializers of ``net``, renamed to read ``rows`` and write ``activations``.

    Every other tensor and node name gets a fresh ``keras_`` name, so the net
    can join a graph that already has names of its own.
    """
    graph = net.graph
    renamed = {graph.input[0].name: rows, graph.output[0].name: activations, "": ""}

    def new_name(old: str) -> str:
        if old not in renamed:
            renamed[old] = fresh(f"keras_{old}")
        return renamed[old]

    initializers = []
    for tensor in graph.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(tensor)
        copy.name = new_name(tensor.name)
        initializers.append(copy)
    nodes = []
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
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.domain = ""
        del copy.input[:]
        del copy.output[:]
        copy.input.extend(new_name(name) for name in node.input)
        copy.output.extend(new_name(name) for name in node.output)
        copy.name = fresh(f"keras_{node.name or node.op_type}")
        nodes.append(copy)
    return nodes, initializers


def scaling_pieces(pixels: str, rows: str, n_features: int, fresh: Fresh) -> Pieces:
    """PixelScaler as ONNX: ``rows = reshape(pixels / 255, [-1, n_features])`` (float32)."""
    divisor = _const(fresh, "max_pixel", MAX_PIXEL)
    shape = _const(fresh, "rows_shape", np.array([-1, n_features], dtype=np.int64))
    scaled = fresh("scaled")
    nodes = [
        helper.make_node("Div", [pixels, divisor.name], [scaled], name=fresh("scale")),
        helper.make_node("Reshape", [scaled, shape.name], [rows], name=fresh("flatten")),
    ]
    return nodes, [divisor, shape]


def classification_pieces(
    activations: str, label: str, probabilities: str, classes: np.ndarray, fresh: Fresh
) -> Pieces:
    """``probabilities = activations / row sums``; ``label = classes[argmax(probabilities)]``.

    The same float32 operations as :func:`skdigits.classifier.normalize_rows`
    and :meth:`DigitClassifier.predict`; ArgMax, like NumPy, takes the first
    maximum.
    """
    axes = _const(fresh, "class_axis", np.array([1], dtype=np.int64))
    class_table = _const(fresh, "classes", np.asarray(classes, dtype=np.int64))
    row_sum, index = fresh("row_sum"), fresh("class_index")
    nodes = [
        helper.make_node(
            "ReduceSum", [activations, axes.name], [row_sum], keepdims=1, name=fresh("sum_rows")
        ),
        helper.make_node("Div", [activations, row_sum], [probabilities], name=fresh("normalize")),
        helper.make_node(
            "ArgMax", [probabilities], [index], axis=1, keepdims=0, name=fresh("argmax")
        ),
        helper.make_node(
            "Gather", [class_table.name, index], [label], axis=0, name=fresh("lookup_label")
        ),
    ]
    return nodes, [axes, class_table]


def pipeline_to_onnx(
    pipeline: Any, *, opset: int = 17, metadata: dict[str, Any] | None = None
) -> onnx.ModelProto:
    """Convert a fitted ``Pipeline(PixelScaler, DigitClassifier)`` to an ONNX model.

    See :func:`skdigits.export.to_onnx_model`.
    """
    opset = check_opset(opset)
    _, clf = check_exportable(pipeline)
    classes = class_labels(clf)
    n_features = int(clf.n_features_in_)
    props = build_metadata(clf, classes, opset=opset, extra=metadata)

    net = keras_net_to_onnx(clf.model_, n_features=n_features, opset=opset)
    fresh = UniqueNames()
    for name in (INPUT_NAME, "label", "probabilities"):
        fresh(name)
    rows, activations = fresh("rows"), fresh("activations")
    pieces = [
        scaling_pieces(INPUT_NAME, rows, n_features, fresh),
        keras_net_pieces(net, rows, activations, fresh),
        classification_pieces(activations, "label", "probabilities", classes, fresh),
    ]
    nodes = [node for part, _ in pieces for node in part]
    initializers = [tensor for _, part in pieces for tensor in part]

    graph = helper.make_graph(
        nodes,
        "skdigits_mnist",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 28, 28])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(classes)]),
        ],
        initializer=initializers,
    )
    opset_id = helper.make_opsetid("", opset)
    model = helper.make_model(
        graph,
        opset_imports=[opset_id],
        ir_version=helper.find_min_ir_version_for([opset_id]),
        producer_name=PRODUCER_NAME,
        producer_version=__version__,
        doc_string=DOC_STRING,
    )
    set_metadata(model, props)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as err:
        raise ExportError(
            f"the converted ONNX model is invalid ({err}); please report this"
        ) from err
    return model

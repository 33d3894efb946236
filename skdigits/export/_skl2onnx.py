"""skl2onnx converters and shape calculators for PixelScaler and DigitClassifier.

After :func:`register_converters`, ``skl2onnx.to_onnx`` converts a skdigits
pipeline, alone or inside a larger scikit-learn pipeline:

- ``PixelScaler``: ``Div`` by 255 and ``Reshape`` to ``[N, n_features]``; the
  input may be ``[N, 28, 28]`` or ``[N, 784]`` (non-float inputs are cast first).
- ``DigitClassifier``: a classifier to skl2onnx (default parser, option
  ``zipmap``), whose outputs are ``label`` (int64) and ``probabilities``
  (float32). Its converter embeds the Keras net converted by tf2onnx, renamed
  into the skl2onnx graph, then normalises rows and looks up the label.

Both converters use the node builders of :mod:`._keras`, so a model converted
here computes exactly what :func:`~skdigits.export.export_onnx` writes.
"""

from __future__ import annotations

import math
from typing import Any

from .._deps import require
from ._gate import MAX_OPSET, MIN_OPSET, ExportError, class_labels

require("onnx", feature="skl2onnx conversion of skdigits models")
require("skl2onnx", feature="skl2onnx conversion of skdigits models")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from skl2onnx import update_registered_converter  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType  # noqa: E402
from skl2onnx.common.utils import check_input_and_output_numbers  # noqa: E402

from ._keras import (  # noqa: E402
    Pieces,
    classification_pieces,
    keras_net_pieces,
    keras_net_to_onnx,
    scaling_pieces,
)

PIXEL_SCALER_ALIAS = "SkdigitsPixelScaler"
DIGIT_CLASSIFIER_ALIAS = "SkdigitsDigitClassifier"


def _add_pieces(scope: Any, container: Any, pieces: Pieces) -> None:
    """Add nodes and initializers built by :mod:`._keras` to an skl2onnx container."""
    nodes, tensors = pieces
    for tensor in tensors:
        # add_initializer copies only raw_data from a TensorProto: make sure it has it.
        raw = numpy_helper.from_array(numpy_helper.to_array(tensor), tensor.name)
        container.add_initializer(raw.name, raw.data_type, list(raw.dims), raw)
    for node in nodes:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(
            node.op_type,
            list(node.input),
            list(node.output),
            op_domain="",
            name=scope.get_unique_operator_name(node.name or node.op_type),
            **attrs,
        )


def _float_input(scope: Any, operator: Any, container: Any) -> str:
    """The name of operator's input as float32, casting it if needed."""
    variable = operator.inputs[0]
    if isinstance(variable.type, FloatTensorType):
        return variable.full_name
    cast = scope.get_unique_variable_name(f"{variable.full_name}_float")
    container.add_node(
        "Cast",
        [variable.full_name],
        [cast],
        name=scope.get_unique_operator_name("cast_to_float"),
        to=TensorProto.FLOAT,
    )
    return cast


# --- PixelScaler ------------------------------------------------------------------


def pixel_scaler_shape(operator: Any) -> None:
    """Output: float32 ``[N, n_features]`` from an input ``[N, ...]`` of that many pixels."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    n_features = int(operator.raw_operator.n_features_in_)
    shape = list(operator.inputs[0].type.shape or [])
    trailing = shape[1:]
    known = bool(trailing) and all(isinstance(d, int) for d in trailing)
    if known and math.prod(trailing) != n_features:
        raise ExportError(
            f"PixelScaler was fitted on {n_features} pixels per image, but the ONNX "
            f"input has shape {shape}; declare an input of shape [None, 28, 28] or "
            f"[None, {n_features}]"
        )
    batch = shape[0] if shape else None
    operator.outputs[0].type = FloatTensorType([batch, n_features])


def convert_pixel_scaler(scope: Any, operator: Any, container: Any) -> None:
    """``Div`` by 255 (exactly as PixelScaler) and ``Reshape`` to ``[N, n_features]``."""
    pixels = _float_input(scope, operator, container)
    n_features = int(operator.raw_operator.n_features_in_)
    pieces = scaling_pieces(
        pixels, operator.outputs[0].full_name, n_features, scope.get_unique_variable_name
    )
    _add_pieces(scope, container, pieces)


# --- DigitClassifier --------------------------------------------------------------


def digit_classifier_shape(operator: Any) -> None:
    """Outputs: ``label`` int64 ``[N]`` and ``probabilities`` float32 ``[N, n_classes]``."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    classes = class_labels(operator.raw_operator)  # refuses string labels, with the reason
    batch = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([batch])
    operator.outputs[1].type = FloatTensorType([batch, len(classes)])


def convert_digit_classifier(scope: Any, operator: Any, container: Any) -> None:
    """Embed the Keras net (via tf2onnx), then normalise rows and look up the label.

    The net is converted at ``min(target_opset, 18)``, tf2onnx's highest; its
    operators (MatMul, Add, Relu, Softmax or Sigmoid, Reshape) mean the same
    in every later opset, so the graph stays valid in a newer model.
    """
    clf = operator.raw_operator
    classes = class_labels(clf)
    if len(clf.X_shape_) != 2:
        raise ExportError(
            f"DigitClassifier was fitted on inputs of shape {tuple(clf.X_shape_)}; the "
            "converter needs flat rows: put a PixelScaler before it"
        )
    target = int(container.target_opset)
    if target < MIN_OPSET:
        raise ExportError(f"DigitClassifier needs `target_opset` >= {MIN_OPSET}, got {target}")
    net = keras_net_to_onnx(
        clf.model_, n_features=int(clf.X_shape_[1]), opset=min(target, MAX_OPSET)
    )
    fresh = scope.get_unique_variable_name
    rows = _float_input(scope, operator, container)
    activations = fresh("keras_activations")
    label, probabilities = (v.full_name for v in operator.outputs)
    _add_pieces(scope, container, keras_net_pieces(net, rows, activations, fresh))
    _add_pieces(
        scope,
        container,
        classification_pieces(activations, label, probabilities, classes, fresh),
    )


def register_converters() -> None:
    """Register both converters with skl2onnx; see :func:`skdigits.export.register_converters`."""
    from ..classifier import DigitClassifier
    from ..preprocessing import PixelScaler

    update_registered_converter(
        PixelScaler, PIXEL_SCALER_ALIAS, pixel_scaler_shape, convert_pixel_scaler
    )
    # Declaring `zipmap` makes skl2onnx use its default classifier parser, whose
    # ZipMap asks for `nocl` (class indices instead of labels): only False is offered.
    update_registered_converter(
        DigitClassifier,
        DIGIT_CLASSIFIER_ALIAS,
        digit_classifier_shape,
        convert_digit_classifier,
        options={"zipmap": [False, True], "nocl": [False]},
    )

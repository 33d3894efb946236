"""skl2onnx converters for PixelScaler and DigitClassifier, and the pipeline's ONNX assembly.

This is the one route from a fitted pipeline to ONNX: :func:`pipeline_to_onnx`
(behind :func:`~skdigits.export.to_onnx_model` and every ``export_*``) calls
``skl2onnx.to_onnx`` through the converters registered here, then writes the
skdigits header and metadata. After :func:`register_converters`, skl2onnx also
converts a skdigits pipeline inside a larger scikit-learn pipeline:

- ``PixelScaler``: ``Div`` by 255 and ``Reshape`` to ``[N, n_features]``; the
  input may be ``[N, 28, 28]`` or ``[N, 784]`` (non-float inputs are cast first).
- ``DigitClassifier``: a classifier to skl2onnx (default parser, option
  ``zipmap``), whose outputs are ``label`` (int64) and ``probabilities``
  (float32). Its converter embeds the graph of :func:`._keras.classifier_to_onnx`
  with skl2onnx's ``add_onnx_graph``, which gives its tensors unique names.
- ``sklearn.calibration.CalibratedClassifierCV`` around a skdigits pipeline
  (``method="sigmoid"``; the pipeline itself, or in a ``FrozenEstimator``): each
  fold's pipeline through the two converters above, Platt's sigmoid per class,
  rows normalised, folds averaged, as scikit-learn computes it, in standard ONNX
  operators only. skl2onnx's own converter handles every other one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._core.deps import require
from .._version import __version__
from ._gate import MAX_OPSET, MIN_OPSET, ExportError, check_exportable, check_opset, class_labels
from ._metadata import DOC_STRING, INPUT_NAME, PRODUCER_NAME, build_metadata, set_metadata

require("onnx", feature="ONNX export")
require("skl2onnx", feature="ONNX export")
import onnx  # noqa: E402
from onnx import TensorProto  # noqa: E402
from skl2onnx import to_onnx, update_registered_converter  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType  # noqa: E402
from skl2onnx.common.utils import check_input_and_output_numbers  # noqa: E402
from skl2onnx.helpers.integration import add_onnx_graph  # noqa: E402

PIXEL_SCALER_ALIAS = "SkdigitsPixelScaler"
DIGIT_CLASSIFIER_ALIAS = "SkdigitsDigitClassifier"
CALIBRATED_ALIAS = "SklearnCalibratedClassifierCV"

#: Divisor of the scaling step, the same float32 value PixelScaler divides by.
MAX_PIXEL = np.float32(255.0)


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
    """``Div`` by 255 (exactly as PixelScaler: IEEE division) and ``Reshape`` to rows."""
    pixels = operator.inputs[0].full_name
    if not isinstance(operator.inputs[0].type, FloatTensorType):
        pixels = scope.get_unique_variable_name(f"{pixels}_float")
        container.add_node(
            "Cast",
            [operator.inputs[0].full_name],
            [pixels],
            name=scope.get_unique_operator_name("cast_to_float"),
            to=TensorProto.FLOAT,
        )
    n_features = int(operator.raw_operator.n_features_in_)
    divisor = scope.get_unique_variable_name("max_pixel")
    shape = scope.get_unique_variable_name("rows_shape")
    scaled = scope.get_unique_variable_name("scaled")
    container.add_initializer(divisor, TensorProto.FLOAT, [], [float(MAX_PIXEL)])
    container.add_initializer(shape, TensorProto.INT64, [2], [-1, n_features])
    container.add_node(
        "Div", [pixels, divisor], [scaled], name=scope.get_unique_operator_name("scale")
    )
    container.add_node(
        "Reshape",
        [scaled, shape],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("flatten"),
    )


# --- DigitClassifier --------------------------------------------------------------


def digit_classifier_shape(operator: Any) -> None:
    """Outputs: ``label`` int64 ``[N]`` and ``probabilities`` float32 ``[N, n_classes]``."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    classes = class_labels(operator.raw_operator)  # refuses string labels, with the reason
    if not isinstance(operator.inputs[0].type, FloatTensorType):
        raise ExportError(
            f"DigitClassifier's ONNX converter takes float32 rows, got "
            f"{operator.inputs[0].type}; put a PixelScaler before it (it casts)"
        )
    batch = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([batch])
    operator.outputs[1].type = FloatTensorType([batch, len(classes)])


def convert_digit_classifier(scope: Any, operator: Any, container: Any) -> None:
    """Embed the Keras net (via tf2onnx) and the head that normalises rows and finds the label.

    The net is converted at ``min(target_opset, 18)``, tf2onnx's highest; its
    operators (MatMul, Add, Relu, Softmax or Sigmoid, Reshape) mean the same
    in every later opset, so the graph stays valid in a newer model.
    """
    from ._keras import classifier_to_onnx

    clf = operator.raw_operator
    if len(clf.X_shape_) != 2:
        raise ExportError(
            f"DigitClassifier was fitted on inputs of shape {tuple(clf.X_shape_)}; the "
            "converter needs flat rows: put a PixelScaler before it"
        )
    target = int(container.target_opset)
    if target < MIN_OPSET:
        raise ExportError(f"DigitClassifier needs `target_opset` >= {MIN_OPSET}, got {target}")
    graph = classifier_to_onnx(clf, opset=min(target, MAX_OPSET))
    # add_onnx_graph does not rename initializers apart from those of an earlier
    # embedded net (another fold of a CalibratedClassifierCV): later ones get a prefix.
    prefix = scope.get_unique_variable_name("digit_classifier")
    if prefix != "digit_classifier":
        graph = onnx.compose.add_prefix(graph, f"{prefix}_")
    add_onnx_graph(scope, operator, container, graph)


# --- CalibratedClassifierCV around a skdigits pipeline -----------------------------


def calibrated_pipelines(model: Any) -> list[Any] | None:
    """The skdigits pipelines a fitted ``CalibratedClassifierCV`` calibrates, else None."""
    from sklearn.pipeline import Pipeline

    from ..estimator._classifier import DigitClassifier
    from ..estimator._scaler import PixelScaler

    pipelines = []
    for calibrated in getattr(model, "calibrated_classifiers_", None) or ():
        inner = calibrated.estimator
        if type(inner).__name__ == "FrozenEstimator":
            inner = inner.estimator
        steps = [step for _, step in inner.steps] if isinstance(inner, Pipeline) else []
        if [type(step) for step in steps] != [PixelScaler, DigitClassifier]:
            return None
        pipelines.append(inner)
    return pipelines or None


def calibrated_shape(operator: Any) -> None:
    """As skl2onnx's classifiers: ``label`` int64 ``[N]``, ``probabilities`` float32 ``[N, C]``."""
    if calibrated_pipelines(operator.raw_operator) is None:
        return _SKL2ONNX_CALIBRATED[0](operator)
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    batch = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([batch])
    operator.outputs[1].type = FloatTensorType([batch, len(operator.raw_operator.classes_)])


def convert_calibrated(scope: Any, operator: Any, container: Any) -> None:
    """Each fold's pipeline, Platt's ``1 / (1 + exp(a p + b))`` per class, normalised, averaged."""
    model = operator.raw_operator
    pipelines = calibrated_pipelines(model)
    if pipelines is None:
        return _SKL2ONNX_CALIBRATED[1](scope, operator, container)
    if model.method != "sigmoid":
        raise ExportError(
            f"CalibratedClassifierCV(method={model.method!r}) around a skdigits pipeline is "
            "not exported; use method='sigmoid', or the pipeline's own temperature "
            "(DigitClassifier(calibration='temperature'), the default)"
        )
    classes = class_labels(model)
    folds = [
        _platt(scope, container, operator.inputs, pipe, calibrated.calibrators, classes)
        for pipe, calibrated in zip(pipelines, model.calibrated_classifiers_, strict=True)
    ]
    total = folds[0]
    for fold in folds[1:]:
        added = scope.get_unique_variable_name("fold_sum")
        container.add_node(
            "Add", [total, fold], [added], name=scope.get_unique_operator_name("calibrated_add")
        )
        total = added
    count = scope.get_unique_variable_name("calibrated_n_folds")
    container.add_initializer(count, TensorProto.FLOAT, [], [float(len(folds))])
    proba = operator.outputs[1].full_name
    container.add_node(
        "Div", [total, count], [proba], name=scope.get_unique_operator_name("calibrated_mean")
    )
    index, table = (
        scope.get_unique_variable_name("calibrated_index"),
        scope.get_unique_variable_name("calibrated_classes"),
    )
    container.add_initializer(table, TensorProto.INT64, [len(classes)], classes.tolist())
    container.add_node(
        "ArgMax",
        [proba],
        [index],
        axis=1,
        keepdims=0,
        name=scope.get_unique_operator_name("calibrated_argmax"),
    )
    container.add_node(
        "Gather",
        [table, index],
        [operator.outputs[0].full_name],
        axis=0,
        name=scope.get_unique_operator_name("calibrated_label"),
    )


def _platt(
    scope: Any, container: Any, inputs: Any, pipeline: Any, calibrators: Any, classes: Any
) -> str:
    """One fold: its pipeline's probabilities through each class's sigmoid, rows normalised."""
    scaler, clf = pipeline[0], pipeline[-1]
    if not np.array_equal(class_labels(clf), classes):
        raise ExportError(
            f"a fold's pipeline has classes {clf.classes_.tolist()}, not the calibrated "
            f"model's {classes.tolist()}; fit CalibratedClassifierCV on data of every class"
        )
    rows = scope.declare_local_variable("rows", FloatTensorType())
    scale = scope.declare_local_operator(PIXEL_SCALER_ALIAS, scaler)
    scale.inputs, scale.outputs = list(inputs), [rows]
    label = scope.declare_local_variable("fold_label", Int64TensorType())
    proba = scope.declare_local_variable("fold_probabilities", FloatTensorType())
    net = scope.declare_local_operator(DIGIT_CLASSIFIER_ALIAS, clf)
    net.inputs, net.outputs = [rows], [label, proba]
    names = {
        k: scope.get_unique_variable_name(k) for k in ("neg_a", "neg_b", "z", "zb", "s", "sum")
    }
    neg_a = [-float(c.a_) for c in calibrators]
    neg_b = [-float(c.b_) for c in calibrators]
    container.add_initializer(names["neg_a"], TensorProto.FLOAT, [len(neg_a)], neg_a)
    container.add_initializer(names["neg_b"], TensorProto.FLOAT, [len(neg_b)], neg_b)
    axis = scope.get_unique_variable_name("platt_axis")
    container.add_initializer(axis, TensorProto.INT64, [1], [1])
    out = scope.get_unique_variable_name("fold_calibrated")
    op = scope.get_unique_operator_name
    container.add_node("Mul", [proba.full_name, names["neg_a"]], [names["z"]], name=op("platt_a"))
    container.add_node("Add", [names["z"], names["neg_b"]], [names["zb"]], name=op("platt_b"))
    container.add_node("Sigmoid", [names["zb"]], [names["s"]], name=op("platt"))
    container.add_node(
        "ReduceSum", [names["s"], axis], [names["sum"]], keepdims=1, name=op("platt_sum")
    )
    container.add_node("Div", [names["s"], names["sum"]], [out], name=op("platt_normalize"))
    return out


#: skl2onnx's own shape calculator and converter of CalibratedClassifierCV, for
#: every one that calibrates something other than a skdigits pipeline.
_SKL2ONNX_CALIBRATED: list[Any] = []


def register_converters() -> None:
    """Register both converters with skl2onnx; see :func:`skdigits.export.register_converters`."""
    from ..estimator._classifier import DigitClassifier
    from ..estimator._scaler import PixelScaler

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
    _register_calibrated()


def _register_calibrated() -> None:
    from skl2onnx.operator_converters.calibrated_classifier_cv import (
        convert_sklearn_calibrated_classifier_cv,
    )
    from skl2onnx.shape_calculators.linear_classifier import (
        calculate_linear_classifier_output_shapes,
    )
    from sklearn.calibration import CalibratedClassifierCV

    if not _SKL2ONNX_CALIBRATED:
        _SKL2ONNX_CALIBRATED.extend(
            [
                calculate_linear_classifier_output_shapes,
                convert_sklearn_calibrated_classifier_cv,
            ]
        )
    update_registered_converter(
        CalibratedClassifierCV,
        CALIBRATED_ALIAS,
        calibrated_shape,
        convert_calibrated,
        options={"zipmap": [False, True], "nocl": [False, True]},
    )


# --- The pipeline -----------------------------------------------------------------


def pipeline_to_onnx(
    pipeline: Any, *, opset: int = 17, metadata: Mapping[str, Any] | None = None
) -> onnx.ModelProto:
    """Convert a fitted ``Pipeline(PixelScaler, DigitClassifier)`` to an ONNX model.

    A fitted ``CalibratedClassifierCV(method="sigmoid")`` around such pipelines is
    converted too; its metadata describes the first fold's classifier. See
    :func:`skdigits.export.to_onnx_model`.
    """
    opset = check_opset(opset)
    folds = calibrated_pipelines(pipeline)
    for fold in folds or [pipeline]:
        _, clf = check_exportable(fold)
    # A calibrated ensemble has its own probabilities: no fold's threshold fits
    # them, so its digit score is reported with a threshold of 0.0 (every image).
    props = build_metadata(
        clf,
        class_labels(clf),
        opset=opset,
        extra=metadata,
        digit_threshold=0.0 if folds else None,
    )
    register_converters()
    model = to_onnx(
        pipeline,
        initial_types=[(INPUT_NAME, FloatTensorType([None, 28, 28]))],
        options={type(clf): {"zipmap": False}, type(pipeline): {"zipmap": False}},
        target_opset=opset,
        name="skdigits_mnist",
    )
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "N"  # skl2onnx leaves it unnamed
    from ._keras import add_digit_score

    add_digit_score(model, len(class_labels(clf)))
    model.producer_name, model.producer_version = PRODUCER_NAME, __version__
    model.domain, model.doc_string = "", DOC_STRING
    set_metadata(model, props)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as err:
        raise ExportError(
            f"the converted ONNX model is invalid ({err}); please report this"
        ) from err
    return model

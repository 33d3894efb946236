"""How SciKeras trains a DigitClassifier's Keras model: the wrapper's subclass hooks.

SciKeras builds, compiles and fits the Keras model through overridable hooks;
this mixin fills them from DigitClassifier's own parameters: which net to build
(and whether to reuse a traced one), the compile settings (label smoothing,
``steps_per_execution``), the fit-time wrapper (distillation, ensembles), the
callbacks, and seeding that keeps TensorFlow's kernel cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._core.deps import require
from ..nn import _reuse
from ..nn._callbacks import training_callbacks
from ..nn._distill import distilling
from ..nn._ensemble import training_members
from ..nn._networks import NET_PARAMS, build_network
from ..nn._tf import first_traces_unreported, import_keras, seed_from, seeded
from ._outliers import with_exposure

keras = import_keras(feature="DigitClassifier")
require("scikeras", feature="DigitClassifier")

from scikeras.utils.transformers import ClassifierLabelEncoder  # noqa: E402
from scikeras.wrappers import KerasClassifier  # noqa: E402


class KerasTrainingHooks(KerasClassifier):
    """SciKeras' ``KerasClassifier`` with its build, compile and fit hooks filled in.

    Each hook reads :class:`~skdigits.estimator.DigitClassifier`'s parameters,
    which that subclass declares; nothing here is a parameter of its own.
    """

    def _keras_build_fn(self, meta: dict[str, Any]) -> Any:
        params = {name: getattr(self, name) for name in NET_PARAMS}
        seed = seed_from(self.random_state)

        def build() -> Any:
            return build_network(meta, seed=seed, **params)

        if self.reuse_models and self.teacher is None:
            return _reuse.reuse(self, build, seed, meta, self._get_compile_kwargs())
        return build()

    def _one_hot_targets(self) -> bool:
        # Label smoothing, the uniform targets of outliers and the rows added
        # with them need one-hot targets.
        added = self.outlier_exposure > 0.0 or self.digit_variants > 0.0
        return self.label_smoothing > 0.0 or added

    @property
    def target_encoder(self):
        # SciKeras one-hot encodes targets when it sees a categorical cross-entropy loss.
        if self._one_hot_targets():
            categories = "auto" if self.classes_ is None else [self.classes_]
            return ClassifierLabelEncoder(loss="categorical_crossentropy", categories=categories)
        return super().target_encoder

    def _get_compile_kwargs(self) -> dict[str, Any]:
        kwargs = super()._get_compile_kwargs()
        kwargs["steps_per_execution"] = int(self.steps_per_execution)
        if kwargs.get("metrics") is None:
            kwargs["metrics"] = ["accuracy"]
        if self._one_hot_targets():
            kwargs["loss"] = keras.losses.CategoricalCrossentropy(
                label_smoothing=float(self.label_smoothing)
            )
        return kwargs

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        # With outlier exposure, non-digits join the training rows (never the
        # validation rows). With a teacher, Keras trains a wrapper of both nets, and
        # with an ensemble one of its members; model_ stays the student or the ensemble.
        if self.outlier_exposure > 0.0 or self.digit_variants > 0.0:
            X, y, sample_weight, fit_kwargs = with_exposure(
                self, X, y, sample_weight, initial_epoch
            )
            kwargs = {**fit_kwargs, **kwargs}
        args = (X, y, sample_weight, warm_start, epochs, initial_epoch)
        wrapper: contextlib.AbstractContextManager[None]
        if self.teacher is not None:
            wrapper = distilling(self)
        elif self.ensemble_size > 1:
            wrapper = training_members(self)
        else:
            wrapper = contextlib.nullcontext()
            build_training_state(self.model_, *args[:2])
        with wrapper, self._scikeras_seeding(), first_traces_unreported():
            result = super()._fit_keras_model(*args, **kwargs)
        trace_predict_step(self.model_, args[0])
        return result

    def _build_keras_model(self):
        with self._scikeras_seeding():
            return super()._build_keras_model()

    @contextlib.contextmanager
    def _scikeras_seeding(self) -> Iterator[None]:
        # SciKeras seeds Python, NumPy and TensorFlow around building the model and
        # around Keras' fit, through `tf.random.set_seed`, which also empties
        # TensorFlow's kernel cache (see `framework_random_state`). This seeds them
        # the same way, with the same seed, without that: SciKeras is told there is
        # none for the block.
        seed = self._random_state  # type: ignore[has-type]
        self._random_state = None
        try:
            with seeded(seed, keras=False):
                yield
        finally:
            self._random_state = seed

    def _initialize_callbacks(self) -> None:
        # SciKeras has no public way to add callbacks made from other parameters:
        # it builds its fit callbacks from `callbacks` and `fit__callbacks` here,
        # and this adds ours to that list (a warm-started fit keeps them).
        super()._initialize_callbacks()
        own: list[Any] = self._fit_callbacks  # type: ignore[has-type]
        rate = self.get_params()["optimizer__learning_rate"]
        extra = training_callbacks(self.lr_schedule, rate, self.early_stopping, self.patience)
        self._fit_callbacks = [*own, *extra]


def build_training_state(model: Any, X: Any, y: Any) -> None:
    """Create a new model's optimizer and metric variables before Keras traces its training step.

    Keras creates them inside the first trace, and TensorFlow then traces the step a
    second time (a function that created variables is traced again without): about
    0.35 s of every new model's first fit on one core. The metrics are built from one
    real sample, so they resolve to the same kind as in training, and reset.
    """
    if model.optimizer is None or model.optimizer.built:
        return  # a taken or warm-started model: built already
    model.optimizer.build(model.trainable_variables)
    model.compute_metrics(X[:1], y[:1], model(X[:1], training=False))
    model.reset_metrics()


def trace_predict_step(model: Any, X: Any) -> None:
    """Trace a fitted model's prediction step once, for batches of any size of rows like ``X``.

    ``predict_on_batch`` calls Keras' predict function, which otherwise traces on
    its first call and again for the first batch of another size; TensorFlow
    counts those traces by the function's code, shared by every Keras model, so a
    few folds of a search predicted once each read as a loop that retraces. Traced
    here with the batch size left open (``get_concrete_function``, which the
    retracing count leaves out), each later call of any batch size reuses it.
    """
    import tensorflow as tf

    model.make_predict_function()
    step = model.predict_function
    if not hasattr(step, "get_concrete_function"):
        return  # run_eagerly: nothing is traced
    if not isinstance(X, np.ndarray):
        return  # several inputs: left to Keras
    rows = tf.TensorSpec((None, *X.shape[1:]), tf.as_dtype(X.dtype))
    step.get_concrete_function([(rows,)])  # the structure predict_on_batch passes


def normalize_rows(proba: np.ndarray) -> np.ndarray:
    """Divide each row by its sum (float32), so class scores become probabilities.

    The ONNX export performs the same division in the graph.
    """
    proba = np.asarray(proba, dtype=np.float32)
    return proba / proba.sum(axis=1, keepdims=True, dtype=np.float32)

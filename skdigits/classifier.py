"""DigitClassifier: the reference Keras net as a first-class scikit-learn classifier."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ._tf import import_keras, seed_from, seeded

keras = import_keras(feature="DigitClassifier")

from sklearn.base import BaseEstimator  # noqa: E402
from sklearn.utils import ClassifierTags  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

from . import _reuse  # noqa: E402
from ._deps import require  # noqa: E402
from ._validation import (  # noqa: E402
    check_known_labels,
    check_labels,
    check_params,
    check_partial_fit_classes,
    check_X,
)
from .distill import distilling, fit_teacher  # noqa: E402
from .ensemble import training_members  # noqa: E402
from .networks import NET_PARAMS, build_network, training_callbacks  # noqa: E402

require("scikeras", feature="DigitClassifier")
from scikeras.utils.transformers import ClassifierLabelEncoder  # noqa: E402
from scikeras.wrappers import KerasClassifier  # noqa: E402

#: Images per compiled prediction step.
_PREDICT_CHUNK = 1024


class DigitClassifier(KerasClassifier):
    """The reference MNIST net (or a CNN) wrapped as a scikit-learn classifier.

    SciKeras' ``KerasClassifier`` training Flatten → Dense(``hidden_units``, relu)
    → Dense(n_classes, ``output_activation``) with Adam and sparse categorical
    cross-entropy. Beyond ``KerasClassifier``: ``is_classifier`` is True (an integer
    ``cv`` means stratified folds); ``random_state`` seeds TensorFlow for ``fit``
    only; warm starts keep ``classes_``; feature names are checked as scikit-learn
    does; ``predict_proba`` rows sum to one. Named recipes expand into these
    parameters: :func:`skdigits.presets.preset_params`.

    Parameters
    ----------
    hidden_units : int, default=100
        Width of the MLP's hidden layer.
    output_activation : {"softmax", "sigmoid"}, default="softmax"
    architecture : {"mlp", "cnn"}, default="mlp"
        The reference net, or :func:`~skdigits.networks.build_cnn` with
        ``conv_filters`` (3 x 3 filters per block) and ``dense_units`` (0: no
        dense layer). Both take ``[N, 784]`` rows.
    conv_filters : tuple of int, default=(32, 64)
    dense_units : int, default=128
    ensemble_size : int, default=1
        How many such nets, each from its own seeds and trained on its own loss,
        one model averages (:mod:`skdigits.ensemble`); exported as one graph.
    optimizer : str or keras optimizer class, default="adam"
        Its parameters are routed with the ``optimizer__`` prefix.
    optimizer__learning_rate : float, default=0.001
    loss : str, default="sparse_categorical_crossentropy"
    metrics : list of str or None, default=None
        None means ``["accuracy"]``.
    batch_size : int, default=32
    epochs : int, default=10
    validation_split : float, default=0.2
        Fraction from the end of the training data, as Keras takes it, for the
        per-epoch validation loss and accuracy.
    lr_schedule : {"constant", "cosine", "exponential", "onecycle"}, default="constant"
        The learning rate over one ``fit``
        (:class:`~skdigits.networks.LearningRateSchedule`).
    early_stopping : bool, default=False
        Stop when ``val_accuracy`` has not improved for ``patience`` epochs and
        restore the best weights (needs ``validation_split > 0``).
    patience : int, default=3
    augment : float or None, default=None
        Strength of random transformations while training
        (:func:`~skdigits.networks.augmentation_layers`); none are exported.
    augmentations : str or tuple of str, default="shift+rotate+zoom"
        Which of ``"shift"``, ``"rotate"``, ``"zoom"``, ``"shear"``, ``"elastic"``
        and ``"thickness"`` ``augment`` applies.
    label_smoothing : float, default=0.0
        Keras' ``CategoricalCrossentropy(label_smoothing=...)``; default loss only.
    teacher : str, Pipeline, DigitClassifier or None, default=None
        Knowledge distillation (:mod:`skdigits.distill`): a preset name (that
        recipe, without label smoothing, fitted first on the same images), the
        path of a saved model, or an estimator. Only the student is kept.
    distill_temperature : float, default=4.0
    distill_alpha : float, default=0.9
        Weight of the soft-target loss; the label loss has ``1 - distill_alpha``.
    random_state : int, RandomState instance or None, default=None
        With an int, repeated fits on the same data give bit-identical predictions.
    warm_start : bool, default=False
        Keep the weights and ``classes_`` of the previous ``fit``.
    class_weight : dict, "balanced" or None, default=None
    verbose : int, default=0
        Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch.
    steps_per_execution : int, default=128
        Batches per call of Keras' compiled training step; batch callbacks (and
        so ``lr_schedule``) then act once per call.
    reuse_models : bool, default=False
        Let a later fit of the same net in this process reuse this one's traced
        Keras model once the estimator is collected or fits again, with fresh
        weights: same results, about a second less per fit (:mod:`skdigits._reuse`).
        Keep the estimator, not just its ``model_``, while you use the model.
    model, build_fn, validation_batch_size, callbacks, shuffle, run_eagerly
        SciKeras' parameters, with SciKeras' defaults.
    **kwargs
        Routed parameters (``optimizer__beta_1``, ``fit__...``, ``callbacks__...``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : keras.Model
    history_ : dict
        Per-epoch ``loss``, ``accuracy``, ``val_loss`` and ``val_accuracy``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` was given a DataFrame with string columns.

    Examples
    --------
    >>> from skdigits import DigitClassifier
    >>> DigitClassifier(epochs=2, random_state=0)
    DigitClassifier(epochs=2, random_state=0)
    """

    def __init__(
        self,
        hidden_units: int = 100,
        output_activation: str = "softmax",
        *,
        architecture: str = "mlp",
        conv_filters: Any = (32, 64),
        dense_units: int = 128,
        ensemble_size: int = 1,
        optimizer: Any = "adam",
        optimizer__learning_rate: float = 0.001,
        loss: Any = "sparse_categorical_crossentropy",
        metrics: Any = None,
        batch_size: int = 32,
        epochs: int = 10,
        validation_split: float = 0.2,
        lr_schedule: str = "constant",
        early_stopping: bool = False,
        patience: int = 3,
        augment: float | None = None,
        augmentations: str = "shift+rotate+zoom",
        label_smoothing: float = 0.0,
        teacher: Any = None,
        distill_temperature: float = 4.0,
        distill_alpha: float = 0.9,
        random_state: Any = None,
        warm_start: bool = False,
        class_weight: Any = None,
        verbose: int = 0,
        model: Any = None,
        build_fn: Any = None,
        validation_batch_size: int | None = None,
        callbacks: Any = None,
        shuffle: bool = True,
        run_eagerly: bool = False,
        steps_per_execution: int = 128,
        reuse_models: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model=model,
            build_fn=build_fn,
            warm_start=warm_start,
            random_state=random_state,
            optimizer=optimizer,
            optimizer__learning_rate=optimizer__learning_rate,
            loss=loss,
            metrics=metrics,
            batch_size=batch_size,
            validation_batch_size=validation_batch_size,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            shuffle=shuffle,
            run_eagerly=run_eagerly,
            epochs=epochs,
            class_weight=class_weight,
            **kwargs,
        )
        self.hidden_units = hidden_units
        self.output_activation = output_activation
        self.architecture = architecture
        self.conv_filters = conv_filters
        self.dense_units = dense_units
        self.ensemble_size = ensemble_size
        self.lr_schedule = lr_schedule
        self.early_stopping = early_stopping
        self.patience = patience
        self.augment = augment
        self.augmentations = augmentations
        self.label_smoothing = label_smoothing
        self.steps_per_execution = steps_per_execution
        self.reuse_models = reuse_models
        self.teacher = teacher
        self.distill_temperature = distill_temperature
        self.distill_alpha = distill_alpha

    __repr__ = BaseEstimator.__repr__  # scikit-learn's: only what differs from the defaults

    def _validate_params(self) -> None:
        # scikit-learn's name for the check of parameters at fit (and a grid's, before it).
        check_params(self)

    def _validate_data(self, X=None, y=None, reset: bool = False, y_numeric: bool = False):
        if X is not None:
            X = check_X(self, X, reset=reset)
        return super()._validate_data(X, y, reset=reset, y_numeric=y_numeric)

    # --- the Keras model and how SciKeras trains it (SciKeras' subclass hooks) ----------

    def _keras_build_fn(self, meta: dict[str, Any]) -> Any:
        params = {name: getattr(self, name) for name in NET_PARAMS}
        seed = seed_from(self.random_state)

        def build() -> Any:
            return build_network(meta, seed=seed, **params)

        if self.reuse_models and self.teacher is None:
            return _reuse.reuse(self, build, seed, meta, self._get_compile_kwargs())
        return build()

    @property
    def target_encoder(self):
        # Label smoothing needs one-hot targets; SciKeras one-hot encodes them
        # when it sees a categorical cross-entropy loss.
        if self.label_smoothing > 0.0:
            categories = "auto" if self.classes_ is None else [self.classes_]
            return ClassifierLabelEncoder(loss="categorical_crossentropy", categories=categories)
        return super().target_encoder

    def _get_compile_kwargs(self) -> dict[str, Any]:
        kwargs = super()._get_compile_kwargs()
        kwargs["steps_per_execution"] = int(self.steps_per_execution)
        if kwargs.get("metrics") is None:
            kwargs["metrics"] = ["accuracy"]
        if self.label_smoothing > 0.0:
            kwargs["loss"] = keras.losses.CategoricalCrossentropy(
                label_smoothing=float(self.label_smoothing)
            )
        return kwargs

    def _fit_keras_model(self, *args, **kwargs):
        # With a teacher, Keras trains a wrapper of both nets, and with an ensemble
        # one of its members; model_ stays the student or the ensemble.
        wrapper: contextlib.AbstractContextManager[None]
        if self.teacher is not None:
            wrapper = distilling(self)
        elif self.ensemble_size > 1:
            wrapper = training_members(self)
        else:
            wrapper = contextlib.nullcontext()
            _build_training_state(self.model_, *args[:2])
        with wrapper, self._scikeras_seeding():
            return super()._fit_keras_model(*args, **kwargs)

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

    # --- scikit-learn API ---------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Train a fresh model (with ``warm_start``, the last one) on scaled ``X`` and labels ``y``.

        ``X`` has shape (n_samples, n_features) or (n_samples, height, width), already
        scaled (a :class:`PixelScaler` before it); returns ``self``.
        """
        self._validate_params()
        y = check_labels(y)
        classes = self.classes_ if self.warm_start and self.initialized_ else None  # type: ignore[has-type]
        if classes is not None:
            check_known_labels(y, classes, "the first fit (warm_start keeps its classes)")
        if self.teacher is not None:
            self.teacher_ = fit_teacher(self, X, y)
        with seeded(seed_from(self.random_state)):
            super().fit(X, y, sample_weight=sample_weight, **kwargs)
        if classes is not None:
            self.classes_ = classes  # SciKeras resets it, and sets it again only when fresh
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None, **kwargs):
        """Train for one epoch on ``(X, y)``, keeping the current weights.

        As scikit-learn's ``MLPClassifier.partial_fit``: the first call needs
        ``classes`` (every label of all calls) and fixes them; later calls may
        omit it, and their ``y`` may hold any subset of those classes.

        Returns
        -------
        self : DigitClassifier
        """
        self._validate_params()
        y = check_labels(y, min_classes=1)
        classes = check_partial_fit_classes(classes, self.classes_ if self.initialized_ else None)
        check_known_labels(y, classes, "`classes`")
        if self.teacher is not None and not hasattr(self, "teacher_"):
            self.teacher_ = fit_teacher(self, X, y)
        with seeded(seed_from(self.random_state)):
            super().partial_fit(X, y, classes=classes, sample_weight=sample_weight, **kwargs)
        return self

    def predict_proba(self, X, **kwargs):
        """Class probabilities; each row sums to one (float32, shape (n_samples, n_classes))."""
        check_is_fitted(self, "model_")
        if kwargs:  # SciKeras' route, for predict arguments such as callbacks
            raw = np.asarray(self._predict_raw(X, **kwargs), dtype=np.float32)
        else:
            # Keras' predict would trace a loop of steps_per_execution batches,
            # seconds per fit; one compiled step per chunk gives the same numbers.
            X, _ = self._validate_data(X, reset=False)
            X = self.feature_encoder_.transform(X)
            raw = np.concatenate(
                [
                    np.asarray(self.model_.predict_on_batch(X[i : i + _PREDICT_CHUNK]))
                    for i in range(0, len(X), _PREDICT_CHUNK)
                ]
            ).astype(np.float32, copy=False)
        # The Keras outputs are already one column per class; SciKeras' decoder
        # would squeeze a single-sample batch to 1-D.
        return normalize_rows(raw.reshape(raw.shape[0], -1))

    def predict_log_proba(self, X, **kwargs):
        """Logarithm of :meth:`predict_proba` (``-inf`` where a probability is 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X, **kwargs))

    def predict(self, X, **kwargs):
        """Predicted class label for each sample."""
        proba = self.predict_proba(X, **kwargs)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        # SciKeras lists ClassifierMixin after BaseEstimator, whose tags then win:
        # scikit-learn >= 1.6 would see no classifier. Say what this estimator is.
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(multi_class=True, multi_label=False)
        tags.target_tags.required = True
        tags.target_tags.multi_output = False
        tags.target_tags.single_output = True
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags


def _build_training_state(model: Any, X: Any, y: Any) -> None:
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


def normalize_rows(proba: np.ndarray) -> np.ndarray:
    """Divide each row by its sum (float32), so class scores become probabilities.

    The ONNX export performs the same division in the graph.
    """
    proba = np.asarray(proba, dtype=np.float32)
    return proba / proba.sum(axis=1, keepdims=True, dtype=np.float32)

"""DigitClassifier: the reference Keras net as a first-class scikit-learn classifier."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._tf import import_keras, seed_from, seeded

keras = import_keras(feature="DigitClassifier")

import scipy.sparse as sp  # noqa: E402
from sklearn.base import BaseEstimator  # noqa: E402
from sklearn.utils import ClassifierTags  # noqa: E402
from sklearn.utils.validation import check_is_fitted, validate_data  # noqa: E402

from ._deps import require  # noqa: E402
from ._validation import (  # noqa: E402
    check_known_labels,
    check_labels,
    check_params,
)
from .distill import distillation_model, fit_teacher  # noqa: E402
from .networks import LearningRateSchedule, augmentation_kinds, build_cnn, build_mlp  # noqa: E402

require("scikeras", feature="DigitClassifier")
from scikeras.utils.transformers import ClassifierLabelEncoder  # noqa: E402
from scikeras.wrappers import KerasClassifier  # noqa: E402

#: Images per compiled prediction step.
_PREDICT_CHUNK = 1024


class DigitClassifier(KerasClassifier):
    """The reference MNIST net (or a CNN) wrapped as a scikit-learn classifier.

    A subclass of SciKeras' ``KerasClassifier`` whose model is
    Flatten → Dense(``hidden_units``, relu) → Dense(n_classes,
    ``output_activation``), trained with Adam and sparse categorical
    cross-entropy. Compared with ``KerasClassifier`` it is a classifier to
    scikit-learn ≥ 1.6 (``is_classifier`` is True, so an integer ``cv`` means
    stratified folds); seeds TensorFlow from ``random_state`` for the duration of
    ``fit`` only; keeps ``classes_`` across warm-started fits; checks feature names
    as scikit-learn does; and returns ``predict_proba`` rows that sum to one
    whatever the output activation. Named recipes are factories of these
    parameters: see :func:`skdigits.presets.preset_params`.

    Parameters
    ----------
    hidden_units : int, default=100
        Width of the hidden Dense layer of the MLP.
    output_activation : {"softmax", "sigmoid"}, default="softmax"
        Activation of the output layer; ``"sigmoid"`` is the original recipe's.
    architecture : {"mlp", "cnn"}, default="mlp"
        The reference net, or convolution blocks (:func:`~skdigits.networks.build_cnn`;
        ``hidden_units`` is then unused). Both take ``[N, 784]`` rows.
    conv_filters : tuple of int, default=(32, 64)
        The CNN's convolution blocks: the number of 3 x 3 filters of each.
    dense_units : int, default=128
        Width of the CNN's dense layer before the output (0: none).
    optimizer : str or keras optimizer class, default="adam"
        Its own parameters are routed with the ``optimizer__`` prefix.
    optimizer__learning_rate : float, default=0.001
    loss : str, default="sparse_categorical_crossentropy"
    metrics : list of str or None, default=None
        Metrics in the training history; None means ``["accuracy"]``.
    batch_size : int, default=32
    epochs : int, default=10
        Passes over the training data in ``fit``.
    validation_split : float, default=0.2
        Fraction taken from the end of the training data, as Keras does, to
        report validation loss and accuracy after every epoch.
    lr_schedule : {"constant", "cosine", "exponential", "onecycle"}, default="constant"
        The learning rate over the steps of one ``fit``: constant, cosine decay to
        zero, exponential decay to 1 % of it, or one cycle (a warm-up over the first
        20 % of the steps, then cosine decay).
    early_stopping : bool, default=False
        Stop when the validation accuracy has not improved for ``patience``
        epochs and restore the best epoch's weights (needs ``validation_split > 0``).
    patience : int, default=3
    augment : float or None, default=None
        Strength of the random transformations, while training only (1.0: shifts
        and zoom up to 10 %, rotations up to 10 degrees, shear up to 0.3, elastic
        displacements up to 1.5 px, strokes up to 1 px thinner or thicker). The
        exported graph has none of them.
    augmentations : str or tuple of str, default="shift+rotate+zoom"
        Which of ``"shift"``, ``"rotate"``, ``"zoom"``, ``"shear"``, ``"elastic"``
        and ``"thickness"`` ``augment`` applies (:mod:`skdigits.networks`).
    label_smoothing : float, default=0.0
        Train towards ``1 - label_smoothing`` for the true class (Keras'
        ``CategoricalCrossentropy(label_smoothing=...)``); default ``loss`` only.
    teacher : str, Pipeline, DigitClassifier or None, default=None
        Knowledge distillation (Hinton et al. 2015): train on a teacher's soft
        targets as well as the labels. A preset name (``"fast"``: fit that preset
        on the same data first, with this ``random_state``), the path of a saved
        ``.skdigits`` model, or a fitted pipeline or classifier. The teacher sees
        the same augmented images as this net (:mod:`skdigits.distill`); the fitted
        estimator keeps only its own net, so it saves and exports without the teacher.
    distill_temperature : float, default=4.0
        Temperature of the soft targets (both nets' logits are divided by it).
    distill_alpha : float, default=0.9
        Weight of the soft-target loss (scaled by the temperature squared); the
        label loss has ``1 - distill_alpha``.
    random_state : int, RandomState instance or None, default=None
        With an int, repeated fits on the same data give bit-identical predictions.
    warm_start : bool, default=False
        Keep the weights and ``classes_`` of the previous ``fit``.
    class_weight : dict, "balanced" or None, default=None
    verbose : int, default=0
        Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch.
    steps_per_execution : int, default=128
        Batches Keras runs in one call of its compiled training step: the same
        arithmetic in the same order, without Python's per-batch overhead. Batch
        callbacks (and so a ``lr_schedule``) then act once per execution.
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
        self.lr_schedule = lr_schedule
        self.early_stopping = early_stopping
        self.patience = patience
        self.augment = augment
        self.augmentations = augmentations
        self.label_smoothing = label_smoothing
        self.steps_per_execution = steps_per_execution
        self.teacher = teacher
        self.distill_temperature = distill_temperature
        self.distill_alpha = distill_alpha

    __repr__ = BaseEstimator.__repr__  # scikit-learn's: only what differs from the defaults

    def _validate_params(self) -> None:
        # scikit-learn's name for the check of parameters at fit (and a grid's, before it).
        check_params(self)

    def _validate_data(self, X=None, y=None, reset: bool = False, y_numeric: bool = False):
        if X is not None:
            # Feature names first (scikit-learn's own check); then SciKeras'.
            validate_data(self, X, reset=reset, skip_check_array=True, ensure_2d=False)
            if not sp.issparse(X) and not isinstance(X, np.ndarray):
                X = np.asarray(X)
            if sp.issparse(X):
                raise TypeError(
                    "Sparse data was passed to DigitClassifier, but dense data is required; "
                    "use X.toarray() to convert to a dense numpy array"
                )
            n_expected = getattr(self, "n_features_in_", None)
            shape = np.shape(X)
            if not reset and n_expected is not None and len(shape) >= 2 and shape[1] != n_expected:
                raise ValueError(
                    f"X has {shape[1]} features, but DigitClassifier is expecting "
                    f"{n_expected} features as input; pass images of the shape used in fit"
                )
        return super()._validate_data(X, y, reset=reset, y_numeric=y_numeric)

    # --- the Keras model and how SciKeras trains it (SciKeras' subclass hooks) ----------

    def _keras_build_fn(self, meta: dict[str, Any]) -> Any:
        kinds = augmentation_kinds(self.augmentations)
        seed = seed_from(self.random_state)
        if self.architecture == "cnn":
            return build_cnn(
                meta,
                self.output_activation,
                self.augment,
                kinds,
                tuple(self.conv_filters),
                self.dense_units,
                seed=seed,
            )
        return build_mlp(
            meta, self.hidden_units, self.output_activation, self.augment, kinds, seed=seed
        )

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

    def _training_callbacks(self) -> list[Any]:
        """The Keras callbacks ``lr_schedule`` and ``early_stopping`` ask for."""
        callbacks: list[Any] = []
        if self.lr_schedule != "constant":
            rate = self.get_params()["optimizer__learning_rate"]
            callbacks.append(LearningRateSchedule(rate, self.lr_schedule))
        if self.early_stopping:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_accuracy", patience=int(self.patience), restore_best_weights=True
                )
            )
        return callbacks

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        # With a teacher, Keras trains a wrapper that runs both nets on the same
        # augmented batch; model_ stays (and ends as) the student alone.
        if self.teacher is None:
            return super()._fit_keras_model(
                X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
            )
        student: Any = self.model_  # type: ignore[has-type]
        teacher: Any = self.teacher_  # type: ignore[has-type]
        self.model_ = distillation_model(
            student,
            teacher.model_,
            temperature=float(self.distill_temperature),
            alpha=float(self.distill_alpha),
            compile_kwargs=self._get_compile_kwargs(),
        )
        try:
            return super()._fit_keras_model(
                X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
            )
        finally:
            self.model_ = student

    def _initialize_callbacks(self) -> None:
        # SciKeras has no public way to add callbacks made from other parameters:
        # it builds its fit callbacks from `callbacks` and `fit__callbacks` here,
        # and this adds ours to that list (a warm-started fit keeps them).
        super()._initialize_callbacks()
        own: list[Any] = self._fit_callbacks  # type: ignore[has-type]
        self._fit_callbacks = [*own, *self._training_callbacks()]

    def _fit_teacher(self, X: Any, y: Any) -> Any:
        if not sp.issparse(X):
            X = np.asarray(X)
        return fit_teacher(
            self.teacher,
            X,
            y,
            seed_from(self.random_state),
            self.verbose,
            float(self.validation_split),
        )

    # --- scikit-learn API ---------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Build a fresh model (or, with ``warm_start``, keep the last one) and train it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, height, width)
            Training samples, already scaled (use a :class:`PixelScaler` before it).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : DigitClassifier
        """
        self._validate_params()
        y = check_labels(y)
        classes: np.ndarray | None = None
        if self.warm_start and self.initialized_:
            classes = self.classes_  # type: ignore[has-type]
        if classes is not None:
            check_known_labels(y, classes, "the first fit (warm_start keeps its classes)")
        if self.teacher is not None:
            self.teacher_ = self._fit_teacher(X, y)
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
        if not self.initialized_:
            if classes is None:
                raise ValueError(
                    "`classes` must be passed on the first call to partial_fit, e.g. "
                    "classes=np.arange(10) for digits"
                )
            classes = np.unique(classes)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"`classes`={np.unique(classes).tolist()} is not the same as on the first "
                f"call to partial_fit, was {self.classes_.tolist()}"
            )
        else:
            classes = self.classes_
        check_known_labels(y, classes, "`classes`")
        if self.teacher is not None and not hasattr(self, "teacher_"):
            self.teacher_ = self._fit_teacher(X, y)
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


def normalize_rows(proba: np.ndarray) -> np.ndarray:
    """Divide each row by its sum (float32), so class scores become probabilities.

    The ONNX export performs the same division in the graph.
    """
    proba = np.asarray(proba, dtype=np.float32)
    return proba / proba.sum(axis=1, keepdims=True, dtype=np.float32)

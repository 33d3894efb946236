"""DigitClassifier: the reference Keras net as a first-class scikit-learn classifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import ClassifierTags
from sklearn.utils.validation import check_is_fitted

from ..model_io._bounds import check_network_size
from ..nn._tf import seed_from, seeded
from ..runtime._digit_score import digit_score_from_proba, fit_digit_threshold
from ._calibration import (
    MIN_CALIBRATION_SAMPLES,
    apply_temperature,
    calibration_logits,
    fit_temperature,
)
from ._params import (
    PARAMETER_CONSTRAINTS,
    TEACHER_EXPECTED,
    check_known_labels,
    check_labels,
    check_network,
    check_param_values,
    check_params,
    check_partial_fit_classes,
    check_X,
)
from ._teacher import fit_teacher
from ._training import KerasTrainingHooks, normalize_rows


def _is_teacher(value: Any) -> bool:
    """Whether ``value`` can be a ``teacher``: None, a string, or a skdigits estimator."""
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, Pipeline):
        return bool(value.steps) and isinstance(value.steps[-1][1], DigitClassifier)
    return isinstance(value, DigitClassifier)


#: The parameter table with the one rule that needs this class: what a teacher is.
_CONSTRAINTS = {**PARAMETER_CONSTRAINTS, "teacher": (_is_teacher, TEACHER_EXPECTED)}


def check_classifier_params(params: Mapping[str, Any]) -> None:
    """Judge DigitClassifier parameters given as a dict, as ``fit`` would, building nothing.

    For a search that checks every candidate before the first fit: each takes
    microseconds. Names are the classifier's own (``hidden_units``, not
    ``clf__hidden_units``); a name left out is not judged. The net they describe
    is sized for MNIST (784 pixels, 10 classes).

    Raises
    ------
    skdigits.model_io.ParameterError
        One line naming the parameter, the range it must be in, and the value.
    """
    check_param_values(params, _CONSTRAINTS)
    check_network_size(params)


def _n_features(X: Any) -> int:
    """Values per sample of ``X`` (an array, a DataFrame, a sparse matrix or nested lists)."""
    shape = getattr(X, "shape", None)
    return int(np.prod((shape if shape is not None else np.asarray(X).shape)[1:]))


#: Images per compiled prediction step.
_PREDICT_CHUNK = 1024


def _net_rows(model: Any, X: np.ndarray) -> np.ndarray:
    """The Keras net's output activations for encoded rows ``X`` (float32).

    Keras' predict would trace a loop of steps_per_execution batches, seconds per
    fit; one compiled step per chunk gives the same numbers.
    """
    raw = np.concatenate(
        [
            np.asarray(model.predict_on_batch(X[i : i + _PREDICT_CHUNK]))
            for i in range(0, len(X), _PREDICT_CHUNK)
        ]
    )
    return raw.reshape(raw.shape[0], -1).astype(np.float32, copy=False)


class DigitClassifier(KerasTrainingHooks):
    """The reference MNIST net (or a CNN) wrapped as a scikit-learn classifier.

    SciKeras' ``KerasClassifier`` training Flatten → Dense(``hidden_units``, relu)
    → Dense(n_classes, ``output_activation``) with Adam and sparse categorical
    cross-entropy. Beyond ``KerasClassifier``: ``is_classifier`` is True (an integer
    ``cv`` means stratified folds); ``random_state`` seeds TensorFlow for ``fit``
    only; warm starts keep ``classes_``; feature names are checked as scikit-learn
    does; ``predict_proba`` rows sum to one. Named recipes expand into these
    parameters: :func:`skdigits.estimator.preset_params`.

    Sizes, counts and rates are bounded by one table
    (:data:`skdigits.model_io.PARAMETER_BOUNDS`), which ``fit`` applies before
    any training and loading a saved model applies too: ``fit`` raises
    :class:`~skdigits.model_io.ParameterError` for what could not be saved.

    Parameters
    ----------
    hidden_units : int, default=100
        Width of the MLP's hidden layer (at most 10,000).
    output_activation : {"softmax", "sigmoid"}, default="softmax"
    architecture : {"mlp", "cnn", "resnet"}, default="mlp"
        The reference net; :func:`~skdigits.nn.build_cnn` with ``conv_filters``
        (3 x 3 filters per block) and ``dense_units`` (0: no dense layer); or
        the pre-activation residual net :func:`~skdigits.nn.build_resnet`, one
        stage per entry of ``conv_filters`` (its widths) of ``residual_blocks``
        blocks each (its depth). All take ``[N, 784]`` rows.
    conv_filters : tuple of int, default=(32, 64)
    dense_units : int, default=128
        The CNN's only.
    residual_blocks : int, default=1
        The ResNet's only: residual blocks per stage (1 to 8).
    ensemble_size : int, default=1
        How many such nets, each from its own seeds and trained on its own loss,
        one model averages (:mod:`skdigits.nn`); exported as one graph.
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
        (:class:`~skdigits.nn.LearningRateSchedule`).
    early_stopping : bool, default=False
        Stop when ``val_accuracy`` has not improved for ``patience`` epochs and
        restore the best weights (needs ``validation_split > 0``).
    patience : int, default=3
    calibration : {"temperature", None}, default="temperature"
        At the end of every ``fit`` and ``partial_fit``, fit one temperature
        ``T`` on the validation images (the last ``validation_split`` of the
        rows, which Keras holds out), minimising their negative log-likelihood;
        ``predict_proba`` is then ``softmax(log(p) / T)`` of the net's
        probabilities ``p``, which for a softmax net is ``softmax(logits / T)``
        (Guo et al. 2017). ``predict``'s labels never change. ``T`` stays 1 with
        None, with ``validation_split=0``, or with fewer than 50 validation
        images. An ensemble gets one ``T`` on its averaged probabilities; a
        distilling student sees its teacher's uncalibrated soft targets.
    digit_threshold : float in [0, 1] or None, default=None
        The digit score below which :meth:`is_digit` says "not a digit". None
        uses ``digit_threshold_``, fitted at the end of every ``fit`` and
        ``partial_fit`` on the validation images (as the temperature is) so that
        99 % of them are kept: the 1 % quantile of their digit scores. With
        ``validation_split=0`` or fewer than 50 validation images the fitted
        threshold is 0.0, and every image is a digit. A float sets the threshold
        without refitting; 0.0 accepts every image.
    outlier_exposure : float, default=0.0
        Outlier exposure (Hendrycks et al. 2019): draw this many pictures that
        are no digit per training image (:func:`skdigits.io.make_nondigits`:
        letters and symbols, pen scribbles, textures, fragments of the training
        digits, specks; in ``[0, 1]``, as :class:`PixelScaler` gives) and train
        on them too, with the uniform distribution as their target and half a
        digit's weight. The net then spreads its probability over the classes
        for what is no digit, and the digit score tells digits from other
        pictures far better. The validation images stay digits, so
        ``val_accuracy`` is MNIST's; the training ``accuracy`` Keras reports
        counts every outlier as a miss. 0 trains on digits only; default loss
        only, and not with a ``teacher``.
    digit_variants : float, default=0.0
        Draw this many digits in other hands per training image and train on
        them too, with their labels (:func:`skdigits.io.make_digit_variants`):
        half typeset in the training fonts, half training digits redrawn along
        their skeletons with a pen from a hair to a marker. With outlier
        exposure, a net otherwise doubts digits that do not look written with
        MNIST's pen. Default loss only, and not with a ``teacher``.
    augment : float or None, default=None
        Strength of random transformations while training
        (:func:`~skdigits.nn.augmentation_layers`); none are exported.
    augmentations : str or tuple of str, default="shift+rotate+zoom"
        Which of ``"shift"``, ``"rotate"``, ``"zoom"``, ``"shear"``, ``"elastic"``
        and ``"thickness"`` ``augment`` applies.
    label_smoothing : float, default=0.0
        Keras' ``CategoricalCrossentropy(label_smoothing=...)``; default loss only.
    teacher : str, Pipeline, DigitClassifier or None, default=None
        Knowledge distillation (:mod:`skdigits.nn`): a preset name (that
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
        weights: same results, about a second less per fit (:mod:`skdigits.nn`).
        Keep the estimator, not just its ``model_``, while you use the model.
    model, build_fn, validation_batch_size, callbacks, shuffle, run_eagerly
        SciKeras' parameters, with SciKeras' defaults.
    **kwargs
        Routed parameters (``optimizer__beta_1``, ``fit__...``, ``callbacks__...``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : keras.Model
    temperature_ : float
        The fitted temperature (1.0: probabilities as the net gives them).
    digit_threshold_ : float
        The digit threshold fitted on the validation images (see
        ``digit_threshold``); 0.0 for a model saved before it existed.
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
        residual_blocks: int = 1,
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
        calibration: str | None = "temperature",
        digit_threshold: float | None = None,
        outlier_exposure: float = 0.0,
        digit_variants: float = 0.0,
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
        self.residual_blocks = residual_blocks
        self.ensemble_size = ensemble_size
        self.lr_schedule = lr_schedule
        self.early_stopping = early_stopping
        self.patience = patience
        self.calibration = calibration
        self.digit_threshold = digit_threshold
        self.outlier_exposure = outlier_exposure
        self.digit_variants = digit_variants
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
        check_params(self, _CONSTRAINTS)

    def _validate_data(self, X=None, y=None, reset: bool = False, y_numeric: bool = False):
        if X is not None:
            X = check_X(self, X, reset=reset)
        return super()._validate_data(X, y, reset=reset, y_numeric=y_numeric)

    # --- scikit-learn API ---------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Train a fresh model (with ``warm_start``, the last one) on scaled ``X`` and labels ``y``.

        ``X`` has shape (n_samples, n_features) or (n_samples, height, width), already
        scaled (a :class:`PixelScaler` before it); returns ``self``.
        """
        self._validate_params()
        y = check_labels(y)
        check_network(self, _n_features(X), len(np.unique(y)))
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
        check_network(self, _n_features(X), len(classes))
        check_known_labels(y, classes, "`classes`")
        if self.teacher is not None and not hasattr(self, "teacher_"):
            self.teacher_ = fit_teacher(self, X, y)
        with seeded(seed_from(self.random_state)):
            super().partial_fit(X, y, classes=classes, sample_weight=sample_weight, **kwargs)
        return self

    def predict_proba(self, X, **kwargs):
        """Class probabilities; each row sums to one (float32, shape (n_samples, n_classes)).

        Calibrated by ``temperature_`` (see ``calibration``).
        """
        outputs = self._net_outputs(X, **kwargs)
        return apply_temperature(outputs, self._temperature())

    def _net_outputs(self, X, **kwargs):
        """The Keras net's output activations, one column per class (float32)."""
        check_is_fitted(self, "model_")
        if kwargs:  # SciKeras' route, for predict arguments such as callbacks
            raw = np.asarray(self._predict_raw(X, **kwargs), dtype=np.float32)
        else:
            X, _ = self._validate_data(X, reset=False)
            X = self.feature_encoder_.transform(X)
            return _net_rows(self.model_, X)
        # The Keras outputs are already one column per class; SciKeras' decoder
        # would squeeze a single-sample batch to 1-D.
        return raw.reshape(raw.shape[0], -1)

    def predict_log_proba(self, X, **kwargs):
        """Logarithm of :meth:`predict_proba` (``-inf`` where a probability is 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X, **kwargs))

    def predict(self, X, **kwargs):
        """Predicted class label for each sample.

        The class of the largest of the net's own probabilities, which the
        temperature keeps largest: labels are the same with or without
        ``calibration``, bit for bit.
        """
        proba = normalize_rows(self._net_outputs(X, **kwargs))
        return self.classes_[np.argmax(proba, axis=1)]

    def digit_score(self, X, **kwargs):
        """How much each image looks like a digit, higher for more (float32, shape (n,)).

        The largest calibrated probability of each row
        (:func:`~skdigits.runtime.digit_score_from_proba`), the same number as
        the exported ONNX graph's ``digit_score`` output.
        """
        return digit_score_from_proba(self.predict_proba(X, **kwargs))

    def is_digit(self, X, **kwargs):
        """Whether each image is taken for a digit: its digit score reaches the threshold.

        The threshold is ``digit_threshold`` when set, else ``digit_threshold_``
        (fitted to keep 99 % of the validation digits). ``predict`` still gives
        every image a label; this says which of them to believe.

        Returns
        -------
        ndarray of bool, shape (n_samples,)
        """
        return self.digit_score(X, **kwargs) >= self._threshold_in_use()

    def _threshold_in_use(self) -> float:
        """The digit threshold in use: ``digit_threshold`` if set, else ``digit_threshold_``."""
        check_is_fitted(self, "model_")
        override = getattr(self, "digit_threshold", None)  # absent in an older pickle
        if override is not None:
            return float(override)
        # A model loaded from a file written before the threshold has none: 0.0.
        return float(getattr(self, "digit_threshold_", 0.0))

    def _temperature(self) -> float:
        # A model loaded from a file written before calibration has none: T = 1.
        return float(getattr(self, "temperature_", 1.0))

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        # SciKeras' last step of fit and partial_fit, with the rows and encoded
        # labels exactly as Keras sees them (so the same held-out split).
        result = super()._fit_keras_model(
            X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
        )
        held_out = self._held_out(X, y)
        self.temperature_ = 1.0
        self.digit_threshold_ = 0.0
        if held_out is not None:
            activations, y_index = held_out
            if self.calibration is not None:
                logits = calibration_logits(activations)
                self.temperature_ = fit_temperature(logits, y_index)
            proba = apply_temperature(activations, self.temperature_)
            self.digit_threshold_ = fit_digit_threshold(digit_score_from_proba(proba))
        return result

    def _held_out(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """The net's activations and class indices of the rows Keras held out for validation.

        None when there are fewer than 50 of them: nothing is fitted on so few.
        """
        split = float(self.validation_split)
        if split == 0.0 or not isinstance(X, np.ndarray):
            return None
        start = int(np.floor(len(X) * (1.0 - split)))  # Keras' train_validation_split
        if len(X) - start < MIN_CALIBRATION_SAMPLES:
            return None
        y_val = np.asarray(y)[start:]
        # Encoded labels: class indices, or one-hot rows with label smoothing.
        y_index = y_val.argmax(axis=1) if y_val.ndim == 2 and y_val.shape[1] > 1 else y_val
        activations = _net_rows(self.model_, X[start:])
        return activations, np.asarray(y_index).reshape(-1).astype(np.intp)

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

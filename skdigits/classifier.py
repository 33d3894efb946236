"""DigitClassifier: the reference Keras net as a first-class scikit-learn classifier."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ._tf import import_keras, seeded

keras = import_keras(feature="DigitClassifier")

import scipy.sparse as sp  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.utils import ClassifierTags  # noqa: E402
from sklearn.utils.multiclass import type_of_target  # noqa: E402
from sklearn.utils.validation import check_is_fitted, column_or_1d  # noqa: E402

from ._deps import require  # noqa: E402

require("scikeras", feature="DigitClassifier")
from scikeras.wrappers import KerasClassifier  # noqa: E402

OUTPUT_ACTIVATIONS = ("softmax", "sigmoid")


def build_mlp(
    meta: dict[str, Any], hidden_units: int = 100, output_activation: str = "softmax"
) -> Any:
    """Build the reference net: Flatten → Dense(hidden_units, relu) → Dense(n_classes).

    Parameters
    ----------
    meta : dict
        SciKeras' fit-time metadata; ``X_shape_`` and ``n_classes_`` are used.
    hidden_units : int, default=100
        Width of the hidden layer.
    output_activation : {"softmax", "sigmoid"}, default="softmax"
        Activation of the output layer.

    Returns
    -------
    keras.Sequential
        An uncompiled model; SciKeras compiles it with the estimator's
        ``optimizer``, ``loss`` and ``metrics``.
    """
    return keras.Sequential(
        [
            keras.Input(shape=tuple(meta["X_shape_"][1:]), name="pixels"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(hidden_units, activation="relu", name="hidden"),
            keras.layers.Dense(meta["n_classes_"], activation=output_activation, name="output"),
        ],
        name="digit_mlp",
    )


class _ClassifierMixinFirst(type):
    """Put ``ClassifierMixin`` before ``BaseEstimator`` in the method resolution order.

    SciKeras declares ``KerasClassifier(BaseWrapper, ClassifierMixin)`` with
    ``BaseWrapper`` deriving from ``BaseEstimator``, so the mixin lands after the
    base class and scikit-learn >= 1.6 takes ``BaseEstimator``'s tags ("not a
    classifier"). A subclass cannot reorder its parent's bases, but its class can
    choose its own resolution order: this moves the one mixin and keeps the rest.
    """

    def mro(cls) -> list[type]:
        order = super().mro()
        if ClassifierMixin in order and BaseEstimator in order:
            order.remove(ClassifierMixin)
            order.insert(order.index(BaseEstimator), ClassifierMixin)
        return order


class DigitClassifier(KerasClassifier, metaclass=_ClassifierMixinFirst):
    """The reference MNIST net wrapped as a scikit-learn classifier.

    A subclass of SciKeras' ``KerasClassifier`` whose model is
    Flatten → Dense(``hidden_units``, relu) → Dense(n_classes,
    ``output_activation``), trained with Adam and sparse categorical
    cross-entropy. Compared with ``KerasClassifier`` it

    - is a classifier to scikit-learn ≥ 1.6 (``is_classifier`` is True, so an
      integer ``cv`` means stratified folds), with tags that say what it accepts;
    - seeds TensorFlow from ``random_state`` for the duration of ``fit`` only,
      restoring every global random state and TensorFlow's determinism flag
      afterwards, so a later unseeded fit still works;
    - returns ``predict_proba`` rows that sum to one whatever the output
      activation: sigmoid scores are divided by their sum.

    A note on ``output_activation="sigmoid"`` under Keras 3: the sigmoid layer
    caches its pre-activation logits and sparse categorical cross-entropy trains
    on those, exactly as for softmax. The sigmoid recipe therefore learns the same
    weights and predicts the same labels as the softmax one (measured: identical
    loss curves); only the reported probabilities differ.

    Parameters
    ----------
    hidden_units : int, default=100
        Width of the hidden Dense layer.
    output_activation : {"softmax", "sigmoid"}, default="softmax"
        Activation of the output layer. ``"sigmoid"`` reproduces the original
        recipe exactly.
    optimizer : str or keras optimizer class, default="adam"
        Optimizer; its own parameters are routed with the ``optimizer__`` prefix.
    optimizer__learning_rate : float, default=0.001
        Learning rate of the optimizer (Adam's default).
    loss : str, default="sparse_categorical_crossentropy"
        Training loss.
    metrics : list of str or None, default=None
        Metrics reported in the training history; None means ``["accuracy"]``.
    batch_size : int, default=32
        Mini-batch size for training and prediction.
    epochs : int, default=10
        Number of passes over the training data.
    validation_split : float, default=0.2
        Fraction of the training data, taken from its end as Keras does, held
        out to report validation loss and accuracy after every epoch.
    verbose : int, default=0
        Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch.
    random_state : int, RandomState instance or None, default=None
        Seed for weight initialisation and shuffling. With an int, repeated fits
        on the same data give identical predictions, also across processes.
    **kwargs
        Any other SciKeras parameter (``callbacks``, ``shuffle``,
        ``warm_start``, ``optimizer__beta_1``, ``fit__...`` ...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen during fit.
    model_ : keras.Model
        The fitted Keras model.
    history_ : dict
        Per-epoch ``loss``, ``accuracy``, ``val_loss`` and ``val_accuracy``.
    n_features_in_ : int
        Number of features (pixels) seen during fit.

    Examples
    --------
    >>> from skdigits import DigitClassifier, PixelScaler
    >>> from sklearn.pipeline import make_pipeline
    >>> pipe = make_pipeline(PixelScaler(), DigitClassifier(epochs=2, random_state=0))
    """

    def __init__(
        self,
        hidden_units: int = 100,
        output_activation: str = "softmax",
        *,
        optimizer: Any = "adam",
        optimizer__learning_rate: float = 0.001,
        loss: Any = "sparse_categorical_crossentropy",
        metrics: Any = None,
        batch_size: int = 32,
        epochs: int = 10,
        validation_split: float = 0.2,
        verbose: int = 0,
        random_state: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            optimizer=optimizer,
            optimizer__learning_rate=optimizer__learning_rate,
            loss=loss,
            metrics=metrics,
            batch_size=batch_size,
            epochs=epochs,
            validation_split=validation_split,
            verbose=verbose,
            random_state=random_state,
            **kwargs,
        )
        self.hidden_units = hidden_units
        self.output_activation = output_activation

    # --- model --------------------------------------------------------------------

    def _keras_build_fn(self, meta: dict[str, Any]) -> Any:
        return build_mlp(
            meta, hidden_units=self.hidden_units, output_activation=self.output_activation
        )

    def _get_compile_kwargs(self) -> dict[str, Any]:
        kwargs = super()._get_compile_kwargs()
        if kwargs.get("metrics") is None:
            kwargs["metrics"] = ["accuracy"]
        return kwargs

    def _check_params(self) -> None:
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"`output_activation` must be one of {OUTPUT_ACTIVATIONS}, "
                f"got {self.output_activation!r}"
            )
        if (
            isinstance(self.hidden_units, bool)
            or not isinstance(self.hidden_units, int | np.integer)
            or self.hidden_units < 1
        ):
            raise ValueError(
                f"`hidden_units` must be a positive integer, got {self.hidden_units!r}"
            )
        if not 0.0 <= float(self.validation_split) < 1.0:
            raise ValueError(f"`validation_split` must be in [0, 1), got {self.validation_split!r}")

    # --- seeding: ours instead of SciKeras' (see skdigits._tf.seeded) -----------------

    @contextmanager
    def _own_seeding(self) -> Iterator[None]:
        seed = getattr(self, "_random_state", None)
        self._random_state = None  # stop SciKeras from applying its own seeding
        try:
            with seeded(seed):
                yield
        finally:
            self._random_state = seed

    def _build_keras_model(self) -> Any:
        with self._own_seeding():
            return super()._build_keras_model()

    def _fit_keras_model(self, *args: Any, **kwargs: Any) -> None:
        with self._own_seeding():
            super()._fit_keras_model(*args, **kwargs)

    # --- scikit-learn API ---------------------------------------------------------------

    def _validate_data(self, X=None, y=None, reset: bool = False, y_numeric: bool = False):
        if X is not None:
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

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Build a fresh model and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, height, width)
            Training samples, already scaled (use a :class:`PixelScaler` before it).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : DigitClassifier
        """
        self._check_params()
        y = _check_labels(y)
        return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def partial_fit(self, X, y, classes=None, sample_weight=None, **kwargs):
        """Train for one more epoch, keeping the current weights."""
        self._check_params()
        y = _check_labels(y)
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight, **kwargs)

    def predict_proba(self, X, **kwargs):
        """Class probabilities; each row sums to one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, height, width)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype float32
        """
        check_is_fitted(self, "model_")
        # The Keras outputs are already one column per class; SciKeras' decoder
        # would squeeze a single-sample batch to 1-D.
        raw = np.asarray(self._predict_raw(X, **kwargs), dtype=np.float32)
        return normalize_rows(raw.reshape(raw.shape[0], -1))

    def predict(self, X, **kwargs):
        """Predicted class label for each sample."""
        proba = self.predict_proba(X, **kwargs)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        # SciKeras lists ClassifierMixin after BaseEstimator, whose tags then win:
        # scikit-learn >= 1.6 sees no classifier. Say what this estimator is.
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(multi_class=True, multi_label=False)
        tags.target_tags.required = True
        tags.target_tags.multi_output = False
        tags.target_tags.single_output = True
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags


def _check_labels(y: Any) -> np.ndarray:
    """Refuse targets a single-output classifier cannot learn, with the reason."""
    if y is None:
        raise ValueError(
            "DigitClassifier requires y to be passed, but the target y is None; "
            "pass the class label of each sample"
        )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)  # scikit-learn's DataConversionWarning
    target_type = type_of_target(y)
    if target_type not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {target_type!r}. DigitClassifier needs one class "
            "label per sample (integers or strings), e.g. y of shape (n_samples,)"
        )
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(
            f"DigitClassifier needs samples of at least 2 classes, got 1 class: {classes.tolist()}"
        )
    return y


def normalize_rows(proba: np.ndarray) -> np.ndarray:
    """Divide each row by its sum (float32), so class scores become probabilities.

    The ONNX export performs the same division in the graph; the two agree to
    about 1e-7 (the row sums are added in a different order).
    """
    proba = np.asarray(proba, dtype=np.float32)
    return proba / proba.sum(axis=1, keepdims=True, dtype=np.float32)

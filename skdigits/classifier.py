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
from scikeras.utils.transformers import ClassifierLabelEncoder  # noqa: E402
from scikeras.wrappers import KerasClassifier  # noqa: E402

OUTPUT_ACTIVATIONS = ("softmax", "sigmoid")
ARCHITECTURES = ("mlp", "cnn")
LR_SCHEDULES = ("constant", "cosine", "exponential")
AUGMENTATIONS = ("shift", "rotate", "zoom")

_SEED_RECIPE: dict[str, Any] = {
    "output_activation": "sigmoid",
    "batch_size": 32,
    "epochs": 10,
    "optimizer__learning_rate": 0.001,
    "lr_schedule": "constant",
    "early_stopping": False,
    "augment": None,
    "label_smoothing": 0.0,
}

#: The training settings each preset fixes, per architecture; resolved at fit
#: time (see ``DigitClassifier``). ``"seed"`` is the original recipe exactly;
#: ``"tuned"`` was chosen by search (README, "Accuracy"). A preset leaves the
#: model's shape (``architecture``, ``hidden_units``) alone; training-time
#: augmentation counts as a training setting.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "seed": {"mlp": _SEED_RECIPE, "cnn": _SEED_RECIPE},
    "tuned": {
        "mlp": {
            "output_activation": "softmax",
            "batch_size": 256,
            "epochs": 30,
            "optimizer__learning_rate": 0.003,
            "lr_schedule": "cosine",
            "early_stopping": True,
            "patience": 5,
            # Random shifts of up to 1.4 px: the single largest gain for this net
            # (+0.7 points); rotations and zoom add as much again to the fit time.
            "augment": 0.5,
            "augmentations": "shift",
            "label_smoothing": 0.1,
        },
        "cnn": {
            "output_activation": "softmax",
            "batch_size": 128,
            "epochs": 6,  # about 5 minutes on two CPU cores
            "optimizer__learning_rate": 0.003,
            "lr_schedule": "cosine",
            # Six epochs of cosine decay end at the best weights; nothing to stop.
            "early_stopping": False,
            "augment": 0.5,
            "augmentations": "shift",
            "label_smoothing": 0.1,  # +0.08 points on the test set at no cost
        },
    },
}

#: The settings resolved at fit time: the parameters, with a preset's values on top.
_SETTINGS = (
    "architecture",
    "augment",
    "augmentations",
    "output_activation",
    "batch_size",
    "epochs",
    "optimizer__learning_rate",
    "lr_schedule",
    "early_stopping",
    "patience",
    "label_smoothing",
)

#: Augmentation at strength 1: shifts of up to 10 % of the side (2.8 px),
#: rotations of up to 10 degrees, zoom of up to 10 %.
_AUGMENT_SHIFT, _AUGMENT_DEGREES, _AUGMENT_ZOOM = 0.1, 10.0, 0.1


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


def augmentation_layers(
    strength: float,
    image_shape: tuple[int, int, int],
    kinds: tuple[str, ...] = AUGMENTATIONS,
) -> list[Any]:
    """Random shifts, rotations and zoom, active only while training.

    Parameters
    ----------
    strength : float
        1.0 means shifts up to 10 % of the side, rotations up to 10 degrees and
        zoom up to 10 %; the ranges scale linearly with ``strength``.
    image_shape : tuple of int
        ``(height, width, channels)`` of the images the layers receive.
    kinds : tuple of {"shift", "rotate", "zoom"}, default=all three
        Which transformations to apply, in the order shift, rotate, zoom.

    Returns
    -------
    list of keras.layers.Layer
        Built-in Keras layers (they load with ``safe_mode=True``); at inference
        (``training=False``) each returns its input unchanged.
    """
    shift = _AUGMENT_SHIFT * strength
    layers = {
        "shift": lambda: keras.layers.RandomTranslation(
            shift, shift, fill_mode="constant", name="augment_shift"
        ),
        "rotate": lambda: keras.layers.RandomRotation(
            _AUGMENT_DEGREES * strength / 360.0, fill_mode="constant", name="augment_rotate"
        ),
        "zoom": lambda: keras.layers.RandomZoom(
            _AUGMENT_ZOOM * strength, fill_mode="constant", name="augment_zoom"
        ),
    }
    return [layers[kind]() for kind in AUGMENTATIONS if kind in kinds]


def augmentation_kinds(value: Any) -> tuple[str, ...]:
    """The ``augmentations`` parameter as a tuple of kinds, checked.

    Accepts a tuple or list of kinds, or one string of kinds joined by ``+``
    (``"shift"``, ``"shift+zoom"``: the form a command-line grid can write).

    Examples
    --------
    >>> augmentation_kinds("shift+zoom")
    ('shift', 'zoom')
    """
    kinds = tuple(value.split("+")) if isinstance(value, str) else value
    if (
        not isinstance(kinds, tuple | list)
        or not kinds
        or not all(isinstance(kind, str) and kind in AUGMENTATIONS for kind in kinds)
    ):
        raise ValueError(
            f"`augmentations` must name one or more of {AUGMENTATIONS} (a tuple, or a "
            f"string such as 'shift+zoom'), got {value!r}"
        )
    return tuple(kinds)


def _image_shape(meta: dict[str, Any]) -> tuple[int, int, int]:
    """The (28, 28, 1) image layout of the fitted input, rows ``[N, 784]`` or images."""
    n_pixels = int(np.prod(meta["X_shape_"][1:]))
    side = round(n_pixels**0.5)
    if side * side != n_pixels:
        raise ValueError(
            f"`architecture='cnn'` and `augment` need square images, got {n_pixels} "
            "features per sample; pass 28 x 28 images (or 784-pixel rows)"
        )
    return (side, side, 1)


def _input_to_images(
    meta: dict[str, Any], augment: float | None, kinds: tuple[str, ...] = AUGMENTATIONS
) -> list[Any]:
    """Input → Reshape to images → (augmentation): the common head of both nets."""
    shape = _image_shape(meta)
    layers = [
        keras.Input(shape=tuple(meta["X_shape_"][1:]), name="pixels"),
        keras.layers.Reshape(shape, name="images"),
    ]
    if augment:
        layers.extend(augmentation_layers(float(augment), shape, kinds))
    return layers


def build_cnn(
    meta: dict[str, Any],
    output_activation: str = "softmax",
    augment: float | None = None,
    augmentations: tuple[str, ...] = AUGMENTATIONS,
) -> Any:
    """Build the convolutional net, lean enough to train on two CPU cores.

    Reshape(28, 28, 1) → (augmentation) → Conv(32, 3) → BatchNorm → ReLU →
    MaxPool → Conv(64, 3) → BatchNorm → ReLU → MaxPool → Flatten →
    Dropout(0.3) → Dense(128) → BatchNorm → ReLU → Dropout(0.3) →
    Dense(n_classes). It takes the same ``[N, 784]`` rows as the reference net,
    so the ONNX export is unchanged. An epoch over 48,000 images takes about
    45 s on two CPU cores.

    Parameters
    ----------
    meta : dict
        SciKeras' fit-time metadata; ``X_shape_`` and ``n_classes_`` are used.
    output_activation : {"softmax", "sigmoid"}, default="softmax"
    augment : float or None, default=None
        Strength of the training-time augmentation (see :func:`augmentation_layers`).
    augmentations : tuple of str, default=("shift", "rotate", "zoom")
        Which transformations the augmentation applies.

    Returns
    -------
    keras.Sequential
        An uncompiled model.
    """
    layers = _input_to_images(meta, augment, augmentations)
    for i, filters in enumerate((32, 64), start=1):
        layers += [
            keras.layers.Conv2D(filters, 3, use_bias=False, name=f"conv{i}"),
            # momentum 0.9: the moving statistics settle within tens of steps, so
            # short fits on small subsets also predict well.
            keras.layers.BatchNormalization(momentum=0.9, name=f"norm{i}"),
            keras.layers.ReLU(name=f"relu{i}"),
            keras.layers.MaxPooling2D(name=f"pool{i}"),
        ]
    layers += [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dropout(0.3, name="dropout1"),
        keras.layers.Dense(128, use_bias=False, name="dense"),
        keras.layers.BatchNormalization(momentum=0.9, name="norm3"),
        keras.layers.ReLU(name="relu3"),
        keras.layers.Dropout(0.3, name="dropout2"),
        keras.layers.Dense(meta["n_classes_"], activation=output_activation, name="output"),
    ]
    return keras.Sequential(layers, name="digit_cnn")


class _LearningRateSchedule(keras.callbacks.Callback):  # type: ignore[name-defined]
    """Set the optimizer's learning rate before every batch: constant, cosine or exponential.

    A callback rather than a ``LearningRateSchedule`` object: the number of
    steps is known only once the data is, and the saved model keeps a plain
    learning rate.
    """

    def __init__(self, base: float, kind: str, total_steps: int) -> None:
        super().__init__()
        self.base, self.kind, self.total_steps = float(base), kind, max(int(total_steps), 1)
        self.step = 0

    def rate(self, step: int) -> float:
        progress = min(step / self.total_steps, 1.0)
        if self.kind == "cosine":
            return self.base * 0.5 * (1.0 + float(np.cos(np.pi * progress)))
        if self.kind == "exponential":
            return self.base * 0.01**progress  # down to 1 % of the base rate
        return self.base

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.model.optimizer.learning_rate.assign(self.rate(self.step))
        self.step += 1


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
    """The reference MNIST net (or a CNN) wrapped as a scikit-learn classifier.

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
    preset : {"seed", "tuned"} or None, default=None
        Named training settings, resolved at fit time (the parameters themselves
        are never changed): they replace the training settings
        (``output_activation``, ``batch_size``, ``epochs``,
        ``optimizer__learning_rate``, ``lr_schedule``, ``early_stopping``,
        ``patience``, ``augment``, ``augmentations``, ``label_smoothing``) with
        the values in ``skdigits.classifier.PRESETS[preset][architecture]``.
        ``"seed"`` is the original recipe exactly (sigmoid output, batches of
        32, 10 epochs, Adam at 1e-3, no augmentation); ``"tuned"`` the searched
        settings for the chosen ``architecture`` (cosine decay, random shifts,
        label smoothing). None uses the parameters as given; to change one
        setting of a preset, pass ``**PRESETS[preset][architecture]`` with
        that setting changed instead.
        :meth:`training_settings` shows what ``fit`` will use.
    architecture : {"mlp", "cnn"}, default="mlp"
        ``"mlp"``: the reference net. ``"cnn"``: two convolution blocks
        (:func:`build_cnn`); ``hidden_units`` is then unused. Both take the
        same ``[N, 784]`` rows (the CNN reshapes them), so both export alike.
    augment : float or None, default=None
        Strength of random shifts, rotations and zoom applied while training
        only (1.0: up to 10 % of the side, 10 degrees, 10 %); None or 0 for
        none. At inference the layers pass images through unchanged, and the
        ONNX export contains no augmentation.
    augmentations : str or tuple of str, default="shift+rotate+zoom"
        Which transformations ``augment`` applies, joined by ``+`` (or as a
        tuple): any of ``"shift"``, ``"rotate"`` and ``"zoom"``. Shifts alone cost least:
        rotations and zoom add about 70 % to an MLP epoch on two CPU cores.
    lr_schedule : {"constant", "cosine", "exponential"}, default="constant"
        How the learning rate evolves over the ``epochs`` x batches of a fit:
        constant, cosine decay to zero, or exponential decay to 1 % of it.
    early_stopping : bool, default=False
        Stop when the validation accuracy has not improved for ``patience``
        epochs, and restore the weights of the best epoch (needs
        ``validation_split > 0``).
    patience : int, default=3
        Epochs without improvement before early stopping.
    label_smoothing : float, default=0.0
        Train towards targets of ``1 - label_smoothing`` for the true class and
        ``label_smoothing / n_classes`` for the others instead of one-hot ones
        (Keras' ``CategoricalCrossentropy(label_smoothing=...)``; the targets are
        one-hot encoded for it). Works with the default ``loss`` only.
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
        preset: str | None = None,
        architecture: str = "mlp",
        augment: float | None = None,
        augmentations: str = "shift+rotate+zoom",
        lr_schedule: str = "constant",
        early_stopping: bool = False,
        patience: int = 3,
        label_smoothing: float = 0.0,
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
        self.preset = preset
        self.architecture = architecture
        self.augment = augment
        self.augmentations = augmentations
        self.lr_schedule = lr_schedule
        self.early_stopping = early_stopping
        self.patience = patience
        self.label_smoothing = label_smoothing

    # --- presets: resolved at fit time, parameters stay as given -------------------------

    def training_settings(self) -> dict[str, Any]:
        """The settings ``fit`` uses: the parameters, with the preset's values on top.

        Returns
        -------
        dict
            ``architecture``, ``output_activation``, ``batch_size``, ``epochs``,
            ``optimizer__learning_rate``, ``lr_schedule``, ``early_stopping``,
            ``patience``, ``augment``, ``augmentations`` and ``label_smoothing``.

        Examples
        --------
        >>> DigitClassifier(preset="tuned").training_settings()["batch_size"]
        256
        """
        params = self.get_params(deep=False)
        settings = {name: params.get(name) for name in _SETTINGS}
        if self.preset is not None:
            if self.preset not in PRESETS:
                raise ValueError(
                    f"`preset` must be None or one of {tuple(PRESETS)}, got {self.preset!r}"
                )
            settings.update(PRESETS[self.preset].get(str(self.architecture), {}))
        return settings

    # --- model --------------------------------------------------------------------

    def _keras_build_fn(self, meta: dict[str, Any]) -> Any:
        settings = self.training_settings()
        activation, augment = settings["output_activation"], settings["augment"]
        kinds = augmentation_kinds(settings["augmentations"])
        if settings["architecture"] == "cnn":
            return build_cnn(
                meta, output_activation=activation, augment=augment, augmentations=kinds
            )
        if augment:
            # Augmentation works on images: reshape, augment, then the reference net.
            head = _input_to_images(meta, augment, kinds)
            mlp = build_mlp(meta, hidden_units=self.hidden_units, output_activation=activation)
            return keras.Sequential(head + mlp.layers, name="digit_mlp")
        return build_mlp(meta, hidden_units=self.hidden_units, output_activation=activation)

    def _label_smoothing(self) -> float:
        return float(self.training_settings()["label_smoothing"] or 0.0)

    @property
    def target_encoder(self):
        # Label smoothing needs one-hot targets; SciKeras one-hot encodes them
        # when it sees a categorical cross-entropy loss.
        if self._label_smoothing() > 0.0:
            categories = "auto" if self.classes_ is None else [self.classes_]
            return ClassifierLabelEncoder(loss="categorical_crossentropy", categories=categories)
        return super().target_encoder

    def _get_compile_kwargs(self) -> dict[str, Any]:
        kwargs = super()._get_compile_kwargs()
        if kwargs.get("metrics") is None:
            kwargs["metrics"] = ["accuracy"]
        smoothing = self._label_smoothing()
        if smoothing > 0.0:
            kwargs["loss"] = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
        rate = self.training_settings()["optimizer__learning_rate"]
        optimizer = kwargs.get("optimizer")
        if self.preset is not None and hasattr(optimizer, "learning_rate"):
            optimizer.learning_rate = rate  # the preset's rate, not the parameter's
        return kwargs

    def _check_params(self) -> None:
        settings = self.training_settings()  # also checks `preset`
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"`output_activation` must be one of {OUTPUT_ACTIVATIONS}, "
                f"got {self.output_activation!r}"
            )
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"`architecture` must be one of {ARCHITECTURES}, got {self.architecture!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"`lr_schedule` must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}"
            )
        augment = self.augment
        if augment is not None and (
            not isinstance(augment, int | float | np.integer | np.floating)
            or not 0.0 <= float(augment) <= 3.0
        ):
            raise ValueError(
                f"`augment` must be None or a strength between 0 and 3 (1.0: shifts and "
                f"zoom up to 10 %, rotations up to 10 degrees), got {augment!r}"
            )
        augmentation_kinds(self.augmentations)  # raises naming the parameter
        smoothing = self.label_smoothing
        if (
            isinstance(smoothing, bool)
            or not isinstance(smoothing, int | float | np.integer | np.floating)
            or not 0.0 <= float(smoothing) < 1.0
        ):
            raise ValueError(
                f"`label_smoothing` must be a number in [0, 1) (e.g. 0.1), got {smoothing!r}"
            )
        if self._label_smoothing() > 0.0 and not (
            isinstance(self.loss, str) and self.loss == "sparse_categorical_crossentropy"
        ):
            raise ValueError(
                f"`label_smoothing` works with the default loss only, got loss={self.loss!r}; "
                "set label_smoothing=0 or pass a smoothing loss yourself"
            )
        _check_positive_int("patience", self.patience)
        if settings["early_stopping"] and not float(self.validation_split) > 0.0:
            raise ValueError(
                "`early_stopping` watches the validation accuracy, but `validation_split` "
                "is 0; set validation_split (e.g. 0.2) or early_stopping=False"
            )
        _check_positive_int("hidden_units", self.hidden_units)
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

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        settings = self.training_settings()
        if self.preset is not None:
            kwargs["batch_size"] = settings["batch_size"]
        batch_size = kwargs.get("batch_size", self.batch_size) or 32
        n_train = int(np.floor(len(X) * (1.0 - float(self.validation_split or 0.0))))
        steps = int(np.ceil(max(n_train, 1) / batch_size)) * int(epochs)
        # Callbacks are made here, per fit: parameters stay plain, JSON-able values.
        extra: list[Any] = []
        if settings["lr_schedule"] != "constant":
            rate = settings["optimizer__learning_rate"]
            extra.append(_LearningRateSchedule(rate, settings["lr_schedule"], steps))
        if settings["early_stopping"]:
            extra.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_accuracy",
                    patience=int(settings["patience"]),
                    restore_best_weights=True,
                )
            )
        own_callbacks: list[Any] = getattr(self, "_fit_callbacks", [])
        self._fit_callbacks = [*own_callbacks, *extra]
        try:
            with self._own_seeding():
                super()._fit_keras_model(
                    X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
                )
        finally:
            self._fit_callbacks = own_callbacks

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
        if self.preset is not None:
            kwargs.setdefault("epochs", self.training_settings()["epochs"])
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


def _check_positive_int(name: str, value: Any) -> None:
    """Refuse anything but a positive integer (``True`` included), naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}")


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

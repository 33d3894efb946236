"""Several nets in one Keras model: trained each on its own loss, averaged in one graph.

``DigitClassifier(ensemble_size=k)`` builds ``k`` copies of its net, each from
its own seeds (initial weights, dropout, augmentation), behind one input, and
averages their probabilities with a ``keras.layers.Average``. The model is an
ordinary functional Keras model, so prediction, saving and the ONNX export see
one net: the exported graph runs the ``k`` members and the average, and the
parity gate checks it like any other.

Training is independent, as in an ensemble of separate fits: on each batch every
member minimises its own loss (the gradient of their sum reaches each member from
its own loss only), not the loss of the average, which would let the members
lean on each other. The trainer wrapper lives only for the duration of ``fit``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ._tf import import_keras

keras = import_keras(feature="ensembles")

import tensorflow as tf  # noqa: E402

#: The name of the averaging layer, by which an ensemble model is recognised.
AVERAGE = "ensemble_average"


def assemble(members: list[Any], input_shape: tuple[int, ...], name: str) -> Any:
    """One functional model: the input → each member → the average of their outputs."""
    for i, member in enumerate(members, start=1):
        member.name = f"member{i}"
    pixels = keras.Input(shape=input_shape, name="pixels")
    average = keras.layers.Average(name=AVERAGE)([member(pixels) for member in members])
    return keras.Model(pixels, average, name=name)


def is_ensemble(model: Any) -> bool:
    """Whether ``model`` was made by :func:`assemble`."""
    return any(layer.name == AVERAGE for layer in model.layers)


def members(model: Any) -> list[Any]:
    """The nets an ensemble averages, in order; ``[model]`` for a single net."""
    if not is_ensemble(model):
        return [model]
    return [layer for layer in model.layers if layer.name.startswith("member")]


class FitWrapper(keras.Model):  # type: ignore[name-defined]
    """A Keras model that trains ``inner`` for one ``fit`` and is then dropped.

    It predicts what ``inner`` predicts; a subclass's ``train_step`` computes its
    own loss and ends with :meth:`finish_step`. Keras points every fit callback
    at the model it fits; afterwards they point at ``inner`` again, so no
    callback keeps (or pickles, with the estimator) the wrapper.
    """

    @property
    def inner(self) -> Any:
        """The net this wrapper trains."""
        raise NotImplementedError

    def call(self, x: Any, training: Any = None) -> Any:
        return self.inner(x, training=training)

    def fit(self, *args: Any, callbacks: Any = None, **kwargs: Any) -> Any:
        try:
            return super().fit(*args, callbacks=callbacks, **kwargs)
        finally:
            for callback in callbacks or ():
                callback.set_model(self.inner)

    def finish_step(
        self, tape: Any, loss: Any, data: tuple[Any, Any, Any], y_pred: Any, shown_loss: Any = None
    ) -> Any:
        """Step ``inner``'s weights down ``loss``'s gradient; record ``shown_loss``
        (default ``loss``) as the step's loss and return the metrics."""
        weights = self.inner.trainable_variables
        self.optimizer.apply(tape.gradient(loss, weights), weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss if shown_loss is None else shown_loss)
        x, y, sample_weight = data
        return self.compute_metrics(x, y, y_pred, sample_weight)


@contextlib.contextmanager
def training_with(estimator: Any, wrapper: FitWrapper) -> Iterator[None]:
    """Within the block, ``estimator.model_`` is ``wrapper``, compiled with the
    estimator's loss and metrics and its net's own optimizer (so a warm start
    continues its state); afterwards ``model_`` is the net again."""
    net = estimator.model_
    wrapper.compile(**{**estimator._get_compile_kwargs(), "optimizer": net.optimizer})
    estimator.model_ = wrapper
    try:
        yield
    finally:
        estimator.model_ = net


class EnsembleTrainer(FitWrapper):
    """Keras model that trains each member of ``ensemble`` on its own loss.

    It predicts what the ensemble predicts (validation scores the average). Used
    by ``DigitClassifier.fit`` and discarded afterwards, so it is never saved.
    """

    def __init__(self, ensemble: Any) -> None:
        super().__init__(name="ensemble_trainer")
        self.ensemble = ensemble
        self.nets = members(ensemble)

    @property
    def inner(self) -> Any:
        return self.ensemble

    def train_step(self, data: Any) -> Any:
        x, y, sample_weight = data = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            outputs = [net(x, training=True) for net in self.nets]
            losses = [
                self.compute_loss(x=x, y=y, y_pred=out, sample_weight=sample_weight)
                for out in outputs
            ]
            total = keras.ops.sum(keras.ops.stack(losses))
        y_pred = keras.ops.mean(keras.ops.stack(outputs), axis=0)
        # Shown: the members' mean loss.
        return self.finish_step(tape, total, data, y_pred, shown_loss=total / len(losses))


def training_members(estimator: Any) -> contextlib.AbstractContextManager[None]:
    """Within the block, ``estimator.model_`` is an :class:`EnsembleTrainer` of its
    ensemble, which SciKeras' fit then trains; afterwards it is the ensemble again."""
    return training_with(estimator, EnsembleTrainer(estimator.model_))

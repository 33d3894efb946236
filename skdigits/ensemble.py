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

    Keras points every fit callback at the model it fits; afterwards they point
    at ``inner`` again, so no callback keeps (or pickles, with the estimator)
    the wrapper.
    """

    @property
    def inner(self) -> Any:
        """The net this wrapper trains."""
        raise NotImplementedError

    def fit(self, *args: Any, callbacks: Any = None, **kwargs: Any) -> Any:
        try:
            return super().fit(*args, callbacks=callbacks, **kwargs)
        finally:
            for callback in callbacks or ():
                callback.set_model(self.inner)


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

    def call(self, x: Any, training: Any = None) -> Any:
        return self.ensemble(x, training=training)

    def train_step(self, data: Any) -> Any:
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            outputs = [net(x, training=True) for net in self.nets]
            losses = [
                self.compute_loss(x=x, y=y, y_pred=out, sample_weight=sample_weight)
                for out in outputs
            ]
            total = keras.ops.sum(keras.ops.stack(losses))
        weights = self.ensemble.trainable_variables
        self.optimizer.apply(tape.gradient(total, weights), weights)
        y_pred = keras.ops.mean(keras.ops.stack(outputs), axis=0)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(total / len(losses))  # the members' mean loss
        return self.compute_metrics(x, y, y_pred, sample_weight)


@contextlib.contextmanager
def training_members(estimator: Any) -> Iterator[None]:
    """Within the block, ``estimator.model_`` is an :class:`EnsembleTrainer` of it.

    SciKeras' fit then trains the wrapper with the ensemble's own optimizer (so a
    warm start continues its state); afterwards ``model_`` is the ensemble again.
    """
    net = estimator.model_
    trainer = EnsembleTrainer(net)
    trainer.compile(**{**estimator._get_compile_kwargs(), "optimizer": net.optimizer})
    estimator.model_ = trainer
    try:
        yield
    finally:
        estimator.model_ = net

"""Keras callbacks made from DigitClassifier parameters: the learning-rate schedule and
early stopping."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._tf import import_keras

keras = import_keras(feature="DigitClassifier")


def training_callbacks(
    lr_schedule: str, learning_rate: float, early_stopping: bool, patience: int
) -> list[Any]:
    """The Keras callbacks a ``lr_schedule`` and ``early_stopping`` ask for."""
    callbacks: list[Any] = []
    if lr_schedule != "constant":
        callbacks.append(LearningRateSchedule(learning_rate, lr_schedule))
    if early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", patience=int(patience), restore_best_weights=True
            )
        )
    return callbacks


class LearningRateSchedule(keras.callbacks.Callback):  # type: ignore[name-defined]
    """Set the optimizer's learning rate before every batch.

    ``kind`` is ``"constant"``; ``"cosine"`` (decay to zero); ``"exponential"``
    (decay to 1 % of the base rate); or ``"onecycle"`` (Smith's one-cycle: a
    linear warm-up from 4 % of the base rate over the first 20 % of the steps,
    then cosine decay to zero), which lets a large batch train at a high rate.

    A callback rather than a ``LearningRateSchedule`` object, so the saved model
    keeps a plain learning rate. The schedule spans the steps of one ``fit``,
    read from the ``steps`` and ``epochs`` Keras gives every callback.
    """

    WARM_UP = 0.2

    def __init__(self, base: float, kind: str) -> None:
        super().__init__()
        self.base, self.kind = float(base), kind
        self.epoch, self.total_steps = 0, 1

    def rate(self, step: int) -> float:
        progress = min(step / self.total_steps, 1.0)
        if self.kind == "onecycle":
            if progress < self.WARM_UP:
                return self.base * (0.04 + 0.96 * progress / self.WARM_UP)
            progress = (progress - self.WARM_UP) / (1.0 - self.WARM_UP)
            return self.base * 0.5 * (1.0 + float(np.cos(np.pi * progress)))
        if self.kind == "cosine":
            return self.base * 0.5 * (1.0 + float(np.cos(np.pi * progress)))
        if self.kind == "exponential":
            return self.base * 0.01**progress  # down to 1 % of the base rate
        return self.base

    def on_train_begin(self, logs: Any = None) -> None:
        self.epoch, self.total_steps = (
            0,
            max(int(self.params["steps"] or 1) * int(self.params["epochs"]), 1),
        )

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        # `batch` counts batches, also when Keras runs several per call
        # (steps_per_execution): the rate then steps once per call.
        step = self.epoch * int(self.params["steps"] or 1) + batch
        self.model.optimizer.learning_rate.assign(self.rate(step))

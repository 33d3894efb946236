"""Fit a pipeline on MNIST and score it on the same splits Keras used."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from ._evaluation import Evaluation, evaluate_predictions


def keras_split_index(n_samples: int, validation_split: float) -> int:
    """Where Keras cuts ``validation_split`` off the end of the training arrays."""
    return math.floor(n_samples * (1.0 - validation_split))


@dataclass(frozen=True)
class TrainingResult:
    """A fitted pipeline with its scores on the training, validation and test data."""

    pipeline: Any
    fit_seconds: float
    train: Evaluation
    validation: Evaluation | None
    test: Evaluation

    def metrics(self) -> dict[str, float | None]:
        """The accuracies and fit time as plain numbers, for metadata and JSON."""
        return {
            "train_accuracy": self.train.accuracy,
            "validation_accuracy": self.validation.accuracy if self.validation else None,
            "test_accuracy": self.test.accuracy,
            "fit_seconds": self.fit_seconds,
        }

    def format(self) -> str:
        """The report a person reads after training."""
        lines = [
            f"fit time: {self.fit_seconds:.1f} s",
            f"train accuracy:      {self.train.accuracy:.4f} ({self.train.n_samples} images)",
        ]
        if self.validation is not None:
            lines.append(
                f"validation accuracy: {self.validation.accuracy:.4f} "
                f"({self.validation.n_samples} images)"
            )
        lines.append(
            f"test accuracy:       {self.test.accuracy:.4f} ({self.test.n_samples} images)"
        )
        lines.append("")
        lines.append(self.test.format(title="test set"))
        return "\n".join(lines)


def fit_and_evaluate(pipeline, X_train, y_train, X_test, y_test) -> TrainingResult:
    """Fit ``pipeline`` on the training data and score it on each split.

    The training accuracy is measured on the part Keras trained on and the
    validation accuracy on the part it held out (the last ``validation_split``
    of the training arrays), both after training, with the final weights.
    """
    start = time.perf_counter()
    pipeline.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start

    labels = pipeline.classes_
    validation_split = float(pipeline[-1].get_params().get("validation_split", 0.0) or 0.0)
    cut = keras_split_index(len(X_train), validation_split)
    train = evaluate_predictions(y_train[:cut], pipeline.predict(X_train[:cut]), labels=labels)
    validation = None
    if cut < len(X_train):
        validation = evaluate_predictions(
            y_train[cut:], pipeline.predict(X_train[cut:]), labels=labels
        )
    test = evaluate_predictions(y_test, pipeline.predict(X_test), labels=labels)
    return TrainingResult(pipeline, fit_seconds, train, validation, test)

"""The seed's own Keras code, shared by the fit benchmarks as the side to beat.

Its net (784-100-10), Adam at 0.001, sparse categorical cross-entropy, batches of
32 and an 80/20 validation split, written in plain Keras with the ÷255 done by
hand, so that a benchmark compares skdigits against what a user would write.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fit_seed_keras(
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    output_activation: str = "sigmoid",
    steps_per_execution: int | None = None,
) -> Any:
    """Scale, build, compile and fit the seed's net; return the fitted Keras model.

    ``steps_per_execution`` None keeps Keras' default (one batch a call).
    """
    from skdigits.nn._tf import import_keras

    keras = import_keras()
    Xs = X.reshape(len(X), -1).astype(np.float32) / np.float32(255)
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Flatten(),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(10, activation=output_activation),
        ]
    )
    spe = {} if steps_per_execution is None else {"steps_per_execution": steps_per_execution}
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        **spe,
    )
    model.fit(Xs, y, epochs=epochs, batch_size=32, validation_split=0.2, verbose=0)
    return model

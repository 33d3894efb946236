"""Shared, expensive fixtures: real MNIST loaded once, a small pipeline fitted once."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST as ``(X_train, y_train, X_test, y_test)``, from the cache or a source."""
    from skdigits.datasets import fetch_mnist

    X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    return X_train, y_train, X_test, y_test


@pytest.fixture(scope="session")
def small_mnist(mnist):
    """The first 3,000 training and 1,000 test images: enough to learn, quick to fit."""
    X_train, y_train, X_test, y_test = mnist
    return X_train[:3000], y_train[:3000], X_test[:1000], y_test[:1000]


@pytest.fixture(scope="session")
def fitted_pipeline(small_mnist):
    """One pipeline fitted once (3 epochs, seeded) and shared by many tests; do not refit it."""
    from skdigits import make_pipeline

    X, y, _, _ = small_mnist
    return make_pipeline(epochs=3, random_state=0).fit(X, y)


@pytest.fixture
def rng():
    return np.random.default_rng(0)

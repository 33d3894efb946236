"""Determinism: the same data, parameters and random_state give bit-identical predictions.

Two fresh interpreters fit the same pipeline on the same 600 images and each
prints the SHA-256 of ``predict_proba(X_test[:200]).tobytes()``; the hashes must
be equal. Separate processes rule out state left behind by an earlier fit.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("scikeras")

FIT_AND_HASH = """
import hashlib, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from skdigits import fetch_mnist, make_pipeline

X, y = fetch_mnist(subset="train", return_X_y=True)
X_test, _ = fetch_mnist(subset="test", return_X_y=True)
pipe = make_pipeline(epochs=1, random_state=0, verbose=0).fit(X[:600], y[:600])
proba = pipe.predict_proba(X_test[:200])
print("SHA256", hashlib.sha256(proba.tobytes()).hexdigest(), proba.dtype, proba.shape)
"""


def test_two_processes_predict_bit_identically(mnist):  # mnist: the data is in the cache
    # The child finds MNIST where the parent did: $SKDIGITS_DATA if set, else the default.
    env = dict(os.environ)
    # Both at once: the wall time of one fit, and each sees the other's CPU contention.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FIT_AND_HASH],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    lines = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        (line,) = [x for x in out.splitlines() if x.startswith("SHA256 ")]
        lines.append(line)
    assert lines[0].endswith("float32 (200, 10)"), lines[0]
    assert lines[0] == lines[1]


def test_a_thread_drawing_from_python_random_does_not_change_a_seeded_fit(small_mnist):
    """Keras seeds unseeded layers from Python's global ``random``, which other threads
    of the process may use too (a Dask worker's event loop does); a seeded fit must not."""
    import random
    import threading

    import numpy as np

    from skdigits import make_pipeline

    X, y, X_test, _ = small_mnist
    # Dense initializers and augmentation layers: both draw seeds.
    pipe = make_pipeline(epochs=1, random_state=0, augment=0.5)

    def fit_proba():
        return pipe.fit(X[:300], y[:300]).predict_proba(X_test[:100])

    quiet = fit_proba()
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            random.random()

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    try:
        busy = fit_proba()
    finally:
        stop.set()
        thread.join()
    np.testing.assert_array_equal(busy, quiet)

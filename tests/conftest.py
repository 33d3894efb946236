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


@pytest.fixture(scope="session")
def resnet_pipeline(small_mnist):
    """A small pre-activation ResNet (two stages of 8 and 16 filters) with shift
    augmentation, fitted once on the 3,000 small images; do not refit it."""
    from skdigits import make_pipeline

    X, y, _, _ = small_mnist
    return make_pipeline(
        architecture="resnet",
        conv_filters=(8, 16),
        epochs=6,
        batch_size=64,
        optimizer__learning_rate=0.01,
        lr_schedule="onecycle",
        steps_per_execution=1,
        augment=0.5,
        augmentations="shift",
        random_state=0,
    ).fit(X, y)


@pytest.fixture(scope="session")
def fast_pipeline(mnist):
    """The ``fast`` preset fitted on all 60,000 training images (80/20 split), random_state 1.

    A few minutes on two cores: tests using it carry
    ``@pytest.mark.xdist_group("fast_pipeline")`` so that one worker fits it once.
    """
    from skdigits import make_pipeline

    X_train, y_train, _, _ = mnist
    return make_pipeline(preset="fast", random_state=1).fit(X_train, y_train)


@pytest.fixture(scope="session")
def exported_model(fitted_pipeline, small_mnist, tmp_path_factory):
    """``fitted_pipeline`` exported once to ONNX, gated on 200 test images, with its
    test accuracy (rounded to 4 places) in the metadata; shared, so only read it."""
    from skdigits.export import export_onnx

    _, _, X_test, y_test = small_mnist
    accuracy = round(float(fitted_pipeline.score(X_test, y_test)), 4)
    path = tmp_path_factory.mktemp("exported") / "digits.onnx"
    return export_onnx(
        fitted_pipeline, path, check_samples=X_test[:200], metadata={"test_accuracy": accuracy}
    )


@pytest.fixture(scope="session")
def cli_trained(tmp_path_factory, mnist):
    """One model trained, reported on and exported through the command line itself.

    ``skdigits train --subset 1000 --epochs 2 --random-state 0 --report ...`` then
    ``skdigits export``; shared by the CLI and report tests, so only read it.
    Returns a namespace: ``saved``, ``onnx``, ``report`` (folder) and ``output``
    (what ``train`` printed).
    """
    import contextlib
    import io
    import types

    from skdigits.cli.main import main

    d = tmp_path_factory.mktemp("cli")
    saved, onnx_file, report = d / "m.skdigits", d / "m.onnx", d / "train-report"
    argv = ["train", "--subset", "1000", "--epochs", "2", "--random-state", "0", "-q"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([*argv, "-o", str(saved), "--report", str(report)]) == 0
        assert main(["export", str(saved), "-o", str(onnx_file), "--check-images", "500"]) == 0
    return types.SimpleNamespace(
        saved=saved, onnx=onnx_file, report=report, output=printed.getvalue()
    )


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# Installed before anything else in a fresh interpreter: importing any module
# whose top-level package is in BLOCKED fails, as if it were not installed.
_BLOCKER_PRELUDE = """
import importlib.abc, sys
BLOCKED = set({blocked!r})

class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
        return None

sys.meta_path.insert(0, _Block())
"""


@pytest.fixture
def run_blocked():
    """Run a script in a fresh interpreter in which the given packages cannot be imported.

    The script sees the set ``BLOCKED`` (it may change it) and ``sys``; extra
    arguments reach it as ``sys.argv[1:]``. Returns the finished process.
    """
    import subprocess
    import sys
    import textwrap

    def run(script, blocked, *args, timeout=300):
        source = _BLOCKER_PRELUDE.format(blocked=sorted(blocked)) + textwrap.dedent(script)
        return subprocess.run(
            [sys.executable, "-c", source, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run

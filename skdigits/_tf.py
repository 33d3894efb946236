"""Importing TensorFlow and Keras quietly, and seeding them without lasting side effects."""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from ._deps import require


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ start-up messages bypass Python."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield  # stderr is not a real file (e.g. captured): nothing to silence
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def size_thread_pools_from_env() -> None:
    """Let a thread limit set through ``OMP_NUM_THREADS`` apply to TensorFlow as well.

    joblib's process workers (``n_jobs=k``) and Dask's nannies set
    ``OMP_NUM_THREADS`` (``cpu_count // k``, and 1) so that parallel jobs do not
    oversubscribe the cores. TensorFlow ignores that variable and sizes its
    intra-op and inter-op pools to every core; it reads ``TF_NUM_INTRAOP_THREADS``
    and ``TF_NUM_INTEROP_THREADS`` once, when its runtime starts. So, before the
    import, an unset ``TF_NUM_INTRAOP_THREADS`` takes the value of
    ``OMP_NUM_THREADS`` and an unset ``TF_NUM_INTEROP_THREADS`` at most 2.
    Variables already set are left alone.
    """
    if "TF_NUM_INTRAOP_THREADS" in os.environ:
        return
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()  # "4,2" means nested
    if not omp.isdigit() or int(omp) < 1:
        return
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(int(omp))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(min(int(omp), 2)))


def import_keras(*, feature: str = "training") -> ModuleType:
    """Import Keras (TensorFlow backend) without TensorFlow's start-up log noise.

    The messages about CUDA, oneDNN and absl are printed by C++ code at import
    time; they say nothing useful on a CPU machine and alarm users. Python errors
    are not affected: an ImportError still surfaces, naming the extra to install.
    A thread limit given by ``OMP_NUM_THREADS`` (as joblib and Dask workers set
    it) is applied to TensorFlow's thread pools (:func:`size_thread_pools_from_env`).
    """
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["keras"]
    if "tensorflow" not in sys.modules:
        size_thread_pools_from_env()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _stderr_silenced():
        require("tensorflow", feature=feature)
        keras = require("keras", feature=feature)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with TensorFlow
        pass
    return keras


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Make TensorFlow/Keras deterministic under ``seed``, then restore every global.

    SciKeras' own context manager sets ``TF_DETERMINISTIC_OPS`` *before* asking
    TensorFlow whether op determinism was already on; TensorFlow reads that
    variable, answers yes, and determinism is never switched off again, so the
    next unseeded fit fails ("Random ops require a seed"). This version saves
    and restores the Python, NumPy, TensorFlow and Keras seeds and the
    determinism flag, and does not touch the environment.
    """
    if seed is None:
        yield
        return
    import tensorflow as tf
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils
    from tensorflow.python.eager import context
    from tensorflow.python.framework import config

    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - the legacy global is what Keras seeds
    tf_seed = context.global_seed()
    keras_seed = global_state.get_global_attribute(rng_utils.GLOBAL_RANDOM_SEED)
    keras_gen = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
    was_deterministic = config.is_op_determinism_enabled()
    try:
        rng_utils.set_random_seed(int(seed))
        config.enable_op_determinism()
        yield
    finally:
        if not was_deterministic:
            config.disable_op_determinism()
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002
        tf.random.set_seed(tf_seed)
        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, keras_seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, keras_gen)

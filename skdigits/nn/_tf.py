"""Importing TensorFlow and Keras quietly, seeding them without lasting side effects, and
keeping each new model's first traces from being reported as retracing."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from .._core.deps import require


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

    Hand-written because no library serves: ``threadpoolctl`` (scikit-learn's)
    limits BLAS and OpenMP pools, not TensorFlow's, which only these variables
    size, and only before TensorFlow starts.
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


def seed_from(random_state: object) -> int | None:
    """An integer seed from ``random_state`` (an int, a ``RandomState`` or None).

    A ``RandomState`` gives one draw from a copy of it: the caller's is untouched,
    and the same state always gives the same seed.
    """
    if isinstance(random_state, np.random.RandomState):
        draw = np.random.RandomState()
        draw.set_state(random_state.get_state())
        return int(draw.randint(2**31 - 1))
    return None if random_state is None else int(random_state)  # type: ignore[call-overload]


@contextlib.contextmanager
def framework_random_state(seed: int | None = None, *, keras: bool = True) -> Iterator[None]:
    """Save TensorFlow's global seed, Keras' and TensorFlow's op determinism; restore them.

    With a ``seed``, TensorFlow's global seed is ``seed`` inside (and, with
    ``keras``, Keras' global seed too, its generator drawn anew from it), as
    ``keras.utils.set_random_seed`` sets them, but without ``tf.random.set_seed``'s
    emptying of TensorFlow's kernel cache: that makes the next call of every
    traced function instantiate it again (0.25 s a fit of the reference net on
    one core, measured), and Keras 3 draws only stateless random numbers, so
    nothing in a fit needs it. The eager op-seed stream the caller had is put
    back as it was, not restarted.

    The one place skdigits reaches past the public APIs, because they cannot
    undo what they set: Keras' ``set_random_seed`` has no getter for the seed
    it replaces, TensorFlow has none for its global seed nor a way to set it
    that keeps the kernel cache, and ``enable_op_determinism`` has no public
    ``disable`` nor a way to ask whether it was on. ``tests/nn/test_tf.py`` fails,
    naming each call, if a release moves one.
    """
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils
    from tensorflow.python.eager import context
    from tensorflow.python.framework import config

    eager = context.context()
    tf_seed, tf_stream = eager._seed, getattr(eager, "_rng", None)  # set with a first seed
    keras_seed = global_state.get_global_attribute(rng_utils.GLOBAL_RANDOM_SEED)
    keras_gen = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
    was_deterministic = config.is_op_determinism_enabled()
    try:
        if seed is not None:
            # What `_set_global_seed` does, less TFE_ContextClearCaches.
            eager._seed, eager._rng = seed, random.Random(seed)
            if keras:
                global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
                global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
        yield
    finally:
        if not was_deterministic:
            config.disable_op_determinism()
        eager._seed, eager._rng = tf_seed, tf_stream
        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, keras_seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, keras_gen)


@contextlib.contextmanager
def seeded(seed: int | None, *, keras: bool = True) -> Iterator[None]:
    """Make TensorFlow/Keras deterministic under ``seed``, then restore every global.

    Inside, Python, NumPy, TensorFlow and (with ``keras``) Keras are seeded with
    ``seed``, as ``keras.utils.set_random_seed(seed)`` seeds them, and
    TensorFlow's op determinism is on; afterwards every one of them is as it
    was, so a later unseeded fit is unaffected. ``keras=False`` is what SciKeras
    seeds around building and fitting the model (:meth:`DigitClassifier._scikeras_seeding`).
    """
    if seed is None:
        yield
        return
    import tensorflow as tf

    import_keras()
    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - the legacy global is what Keras seeds
    try:
        with framework_random_state(int(seed), keras=keras):
            random.seed(int(seed))
            np.random.seed(int(seed))  # noqa: NPY002
            tf.config.experimental.enable_op_determinism()
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002


class _KerasStepRetracing(logging.Filter):
    """Drops TensorFlow's "frequent retracing" warning about Keras' own step functions only."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            "triggered tf.function retracing" in message
            and "TensorFlowTrainer._make_function" in message
        )


@contextlib.contextmanager
def first_traces_unreported() -> Iterator[None]:
    """Inside, TensorFlow does not report a new Keras model's first traces as retracing.

    Every Keras model makes its own training and evaluation functions and traces
    each once, on its first call; the data of one ``fit`` keep one element spec,
    so later calls reuse that trace. TensorFlow's retracing detector, though,
    keys its counts by the Python code of the traced function, which all Keras
    models share: the first traces of five new models in a row (five folds of a
    search, each fitted for an epoch or two) read as one function retraced five
    times, and it logs a long warning that advises a fix for a loop that does
    not exist. Only that warning, and only about Keras' step functions, is
    dropped, by a filter on the ``tensorflow`` logger that lives as long as the
    block: warnings about the caller's own functions, and everything else
    TensorFlow logs, pass.
    """
    logger = logging.getLogger("tensorflow")
    keras_steps = _KerasStepRetracing()
    logger.addFilter(keras_steps)
    try:
        yield
    finally:
        logger.removeFilter(keras_steps)

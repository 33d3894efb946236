"""Keras models whose training loop is already traced, kept for later fits of the same net.

Tracing TensorFlow's training and validation loops takes about a second per fit
of the reference net on two cores: most of a short fit in a grid search, where
every candidate and fold fits a new model. With ``reuse_models=True`` a
:class:`~skdigits.DigitClassifier` gives its Keras model to this process's pool
when the estimator is garbage-collected (or fits again), and a later fit of the
same configuration takes it. The taken model gets the freshly initialised
weights and optimizer state of a new build of the net, so it trains exactly as
that new model would: the same seed gives bit-identical predictions
(``tests/nn/test_reuse.py``). Only the traced functions survive.

A seeded net's initial values depend only on its configuration and its seed, so
they are kept too: a later fit with the same seed (every candidate and fold of a
seeded search) copies them into the taken model and builds no new one.

The pool holds at most :data:`IDLE_PER_CONFIGURATION` idle models for each of
:data:`MAX_IDLE` configurations, least recently released first out, and twice as
many sets of initial values; :func:`clear` empties both. Two a configuration,
because a Dask worker keeps a finished task's arguments (the fitted clone among
them) until the client has collected its result: the next fit of the same net
starts while that model is still taken, so two models take turns.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

#: Configurations with an idle model kept at most.
MAX_IDLE = 4
#: Idle models kept at most for one configuration.
IDLE_PER_CONFIGURATION = 2

#: The estimator parameters that shape the traced graph (the learning rate is a
#: variable of the optimizer and the seed only sets initial values: neither is here).
GRAPH_PARAMS = (
    "hidden_units",
    "output_activation",
    "architecture",
    "conv_filters",
    "dense_units",
    "residual_blocks",
    "ensemble_size",
    "augment",
    "augmentations",
    "label_smoothing",
    "outlier_exposure",
    "digit_variants",
    "loss",
    "metrics",
    "steps_per_execution",
    "run_eagerly",
)

_lock = threading.Lock()
#: configuration -> its idle models, the latest released last.
_idle: OrderedDict[Any, list[Any]] = OrderedDict()
#: Released (key, model) pairs not yet in ``_idle``. A release runs whenever the
#: garbage collector runs, possibly inside a locked block of this thread, so it
#: only appends here (thread-safe, no lock); the pool's users drain it.
_released: deque[tuple[Any, Any]] = deque()
#: The release of each owner's current model, run when the owner is collected.
_owners: weakref.WeakKeyDictionary[Any, weakref.finalize[Any, Any]] = weakref.WeakKeyDictionary()
#: (configuration, seed) -> the initial value of every layer variable of a new build;
#: (configuration, optimizer settings) -> those of a new optimizer's variables.
_initial: OrderedDict[Any, list[Any]] = OrderedDict()


def _release(key: Any, model: Any) -> None:
    _released.append((key, model))


def _take(key: Any) -> Any:
    """The idle model for ``key`` or None, after moving every release into the pool."""
    with _lock:
        while _released:
            released_key, model = _released.popleft()
            models = _idle.setdefault(released_key, [])
            models.append(model)
            del models[:-IDLE_PER_CONFIGURATION]
            _idle.move_to_end(released_key)
        while len(_idle) > MAX_IDLE:
            _idle.popitem(last=False)
        waiting = _idle.get(key)
        if not waiting:
            return None
        model = waiting.pop()
        if not waiting:
            del _idle[key]
        return model


def clear() -> None:
    """Drop every idle model of this process."""
    with _lock:
        _released.clear()
        _idle.clear()
        _initial.clear()


def _settings(optimizer: Any, *leave_out: str) -> str:
    """``optimizer``'s configuration less ``leave_out``, as a hashable string. Its name
    is never a setting: Keras numbers each optimizer's (adam, adam_1, ...)."""
    config = optimizer.get_config()
    return repr({k: v for k, v in config.items() if k != "name" and k not in leave_out})


def configuration(estimator: Any, meta: dict[str, Any], optimizer: Any) -> Any:
    """What must match for a traced model to serve another fit: a hashable key."""
    params = estimator.get_params()
    graph = tuple((name, repr(params[name])) for name in GRAPH_PARAMS)
    data = (tuple(meta["X_shape_"][1:]), int(meta["n_classes_"]))
    settings = _settings(optimizer, "learning_rate")
    return (type(estimator).__qualname__, graph, type(optimizer).__qualname__, settings, data)


def _layer_variables(model: Any) -> list[Any]:
    """Every layer's variables: weights, normalisation statistics and the seed
    states of dropout and augmentation (which ``get_weights`` leaves out)."""
    return [variable for layer in model.layers for variable in layer.variables]


def _remember(key: Any, values: list[Any]) -> list[Any]:
    with _lock:
        _initial[key] = values
        _initial.move_to_end(key)
        while len(_initial) > 2 * MAX_IDLE:
            _initial.popitem(last=False)
    return values


def _optimizer_initial(key: Any, optimizer: Any, net: Any) -> list[Any]:
    """The variables of a new optimizer like ``optimizer``, built on ``net``'s, as
    values: the iteration count, the learning rate and the zeroed moments."""
    settings = (key, _settings(optimizer))
    with _lock:
        values = _initial.get(settings)
    if values is None:
        state = type(optimizer).from_config(optimizer.get_config())
        state.build(net.trainable_variables)
        values = _remember(settings, [variable.numpy() for variable in state.variables])
    return values


def _reset_into(pooled: Any, layers: list[Any], optimizer: list[Any]) -> bool:
    """Give ``pooled`` the initial ``layers`` values and the ``optimizer`` state of a new model."""
    try:  # the configuration matched, so these line up; if not, use a new model
        pairs = list(zip(_layer_variables(pooled), layers, strict=True))
        pairs += list(zip(pooled.optimizer.variables, optimizer, strict=True))
    except ValueError:
        return False
    for mine, theirs in pairs:
        mine.assign(theirs)
    pooled.reset_metrics()
    return True


def _new_model(
    build: Callable[[], Any], compile_kwargs: dict[str, Any], remember_as: Any
) -> tuple[Any, list[Any]]:
    """A new compiled build and its initial layer values, kept as ``remember_as`` if given."""
    model = build()
    model.compile(**compile_kwargs)
    initial = [variable.numpy() for variable in _layer_variables(model)]
    if remember_as is not None:
        _remember(remember_as, initial)
    return model, initial


def reuse(
    owner: Any,
    build: Callable[[], Any],
    seed: int | None,
    meta: dict[str, Any],
    compile_kwargs: dict[str, Any],
) -> Any:
    """The compiled model ``owner`` fits: an idle traced one reset to a new build's
    initial state, else the new build itself.

    ``build()`` makes the uncompiled net; with a ``seed`` whose initial values
    are kept, it is not called when a traced model is idle. Either way the model
    is released to the pool when ``owner`` is collected or builds its next model.
    """
    with _lock:
        previous = _owners.pop(owner, None)
    if previous is not None:
        previous()  # the owner's last model is free now: it may serve this very fit
    optimizer = compile_kwargs["optimizer"]
    key = configuration(owner, meta, optimizer)
    pooled = _take(key)
    with _lock:
        initial = _initial.get((key, seed)) if seed is not None else None
    fresh = None
    if pooled is None or initial is None:
        fresh, initial = _new_model(
            build, compile_kwargs, (key, seed) if seed is not None else None
        )
    if pooled is not None and _reset_into(
        pooled, initial, _optimizer_initial(key, optimizer, pooled)
    ):
        model = pooled
    else:  # no idle model, or (guarded) one whose variables do not line up
        model = fresh if fresh is not None else _new_model(build, compile_kwargs, None)[0]
    with _lock:
        _owners[owner] = weakref.finalize(owner, _release, key, model)
    return model

"""reuse_models: a later fit takes a collected estimator's traced Keras model and
trains exactly as a new model would."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skdigits import make_pipeline
from skdigits.estimator import _training as training_hooks
from skdigits.nn import _reuse


@pytest.fixture(autouse=True)
def empty_pool():
    _reuse.clear()
    yield
    _reuse.clear()


def _fit(data, **params):
    X, y, X_test = data
    pipe = make_pipeline(epochs=1, random_state=0, **params).fit(X, y)
    return pipe, pipe.predict_proba(X_test)


@pytest.fixture(scope="module")
def data(small_mnist):
    X, y, X_test, _ = small_mnist
    return X[:600], y[:600], X_test[:200]


@pytest.mark.parametrize(
    "params",
    [{}, {"architecture": "cnn", "augment": 0.5, "conv_filters": (8, 16), "dense_units": 32}],
    ids=["mlp", "cnn-augmented"],
)
def test_a_reused_model_predicts_bit_identically_to_a_new_one(data, params, monkeypatch):
    _, new = _fit(data, **params)  # reuse_models off: a new model every time
    first, _ = _fit(data, reuse_models=True, **params)
    traced = first[-1].model_
    del first
    gc.collect()
    builds = []
    build_network = training_hooks.build_network
    monkeypatch.setattr(
        training_hooks, "build_network", lambda *a, **k: builds.append(1) or build_network(*a, **k)
    )
    second, reused = _fit(data, reuse_models=True, **params)
    assert second[-1].model_ is traced  # the collected estimator's model served this fit
    assert not builds  # with the same seed, its kept initial values: no new net was built
    np.testing.assert_array_equal(reused, new)


def test_another_seed_and_learning_rate_reuse_the_model_with_their_own_values(data):
    X, y, X_test = data
    _fit(data, reuse_models=True)
    gc.collect()
    params = {"random_state": 7, "optimizer__learning_rate": 0.01}
    new = make_pipeline(epochs=1, **params).fit(X, y).predict_proba(X_test)
    pipe = make_pipeline(epochs=1, reuse_models=True, **params).fit(X, y)
    np.testing.assert_array_equal(pipe.predict_proba(X_test), new)


def test_a_refit_reuses_its_own_model_and_another_net_never_does(data):
    X, y, _ = data
    pipe = make_pipeline(epochs=1, random_state=0, reuse_models=True).fit(X, y)
    own = pipe[-1].model_
    assert pipe.fit(X, y)[-1].model_ is own
    del pipe
    gc.collect()
    wider = make_pipeline(epochs=1, random_state=0, hidden_units=50, reuse_models=True).fit(X, y)
    assert wider[-1].model_ is not own
    assert wider[-1].model_.get_layer("hidden").units == 50


def test_a_search_with_reused_models_finds_the_same_scores(data):
    X, y, _ = data
    grid = {"clf__optimizer__learning_rate": [1e-3, 1e-2]}
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    scores = [
        GridSearchCV(make_pipeline(epochs=1, random_state=0, reuse_models=reuse), grid, cv=cv)
        .fit(X, y)
        .cv_results_["mean_test_score"]
        for reuse in (False, True)
    ]
    np.testing.assert_array_equal(scores[1], scores[0])


def test_two_estimators_alive_at_once_still_reuse_when_both_are_collected(data, monkeypatch):
    """As on a Dask worker, which keeps a finished task's fitted clone until the client
    collects the result: the next fit of the same net starts while that clone still
    holds its model, so two models must take turns."""
    X, y, X_test = data
    first = make_pipeline(epochs=1, random_state=0, reuse_models=True).fit(X, y)
    second = make_pipeline(epochs=1, random_state=0, reuse_models=True).fit(X, y)
    traced = {id(first[-1].model_), id(second[-1].model_)}
    expected = second.predict_proba(X_test)
    del first, second
    gc.collect()
    builds = []
    build_network = training_hooks.build_network
    monkeypatch.setattr(
        training_hooks, "build_network", lambda *a, **k: builds.append(1) or build_network(*a, **k)
    )
    third = make_pipeline(epochs=1, random_state=0, reuse_models=True).fit(X, y)
    fourth = make_pipeline(epochs=1, random_state=0, reuse_models=True).fit(X, y)  # third alive
    assert {id(third[-1].model_), id(fourth[-1].model_)} == traced
    assert not builds
    np.testing.assert_array_equal(fourth.predict_proba(X_test), expected)


def test_a_reused_fit_builds_no_new_optimizer_either(data, monkeypatch):
    """The optimizer's initial state is kept too (per optimizer settings, not per name):
    only the first reused fit of a net and a setting builds one."""
    for _ in range(2):
        _fit(data, reuse_models=True)
        gc.collect()
    from skdigits.nn._tf import import_keras

    adam = import_keras().optimizers.Adam
    builds = []
    build = adam.build
    monkeypatch.setattr(adam, "build", lambda self, v: builds.append(1) or build(self, v))
    _fit(data, reuse_models=True)
    assert not builds

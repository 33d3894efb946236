"""DigitClassifier and the pipeline as a scikit-learn user sees them."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold, check_cv, cross_val_score
from sklearn.utils import get_tags

from skdigits import DigitClassifier, make_pipeline


def test_the_classifier_and_the_pipeline_are_classifiers():
    assert is_classifier(DigitClassifier())
    assert is_classifier(make_pipeline())
    tags = get_tags(DigitClassifier())
    assert tags.estimator_type == "classifier"
    assert tags.classifier_tags.multi_label is False
    assert tags.target_tags.required is True
    assert isinstance(
        check_cv(3, np.arange(30) % 3, classifier=is_classifier(make_pipeline())), StratifiedKFold
    )


def test_defaults_are_the_reference_recipe():
    params = DigitClassifier().get_params()
    assert params["hidden_units"] == 100
    assert params["epochs"] == 10
    assert params["validation_split"] == 0.2
    assert params["optimizer"] == "adam"
    assert params["loss"] == "sparse_categorical_crossentropy"
    assert params["output_activation"] == "softmax"


def test_fitted_model_is_the_reference_net(fitted_pipeline):
    model = fitted_pipeline[-1].model_
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Flatten", "Dense", "Dense"]
    assert model.get_layer("hidden").units == 100
    assert model.get_layer("hidden").activation.__name__ == "relu"
    assert model.get_layer("output").units == 10
    assert type(model.optimizer).__name__ == "Adam"
    assert set(fitted_pipeline[-1].history_) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(fitted_pipeline[-1].history_["loss"]) == 3


def test_small_pipeline_learns_digits(fitted_pipeline, small_mnist):
    _, _, X_test, y_test = small_mnist
    assert fitted_pipeline.score(X_test, y_test) > 0.85
    assert fitted_pipeline.classes_.tolist() == list(range(10))


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_probabilities_sum_to_one_for_either_output(small_mnist, activation):
    X, y, X_test, _ = small_mnist
    pipe = make_pipeline(output_activation=activation, epochs=1, random_state=0)
    proba = pipe.fit(X[:1000], y[:1000]).predict_proba(X_test[:200])
    assert proba.shape == (200, 10)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (proba >= 0).all()
    np.testing.assert_array_equal(pipe.predict(X_test[:200]), pipe.classes_[proba.argmax(1)])


def test_raw_sigmoid_scores_do_not_sum_to_one_but_probabilities_do(small_mnist):
    X, y, X_test, _ = small_mnist
    pipe = make_pipeline(output_activation="sigmoid", epochs=1, random_state=0).fit(
        X[:500], y[:500]
    )
    raw = pipe[-1].model_.predict(pipe[0].transform(X_test[:50]), verbose=0)
    assert np.abs(raw.sum(axis=1) - 1).max() > 0.05  # what the original recipe returned
    np.testing.assert_allclose(pipe.predict_proba(X_test[:50]).sum(axis=1), 1.0, atol=1e-6)


def test_integer_cv_uses_stratified_folds(mnist):
    # Samples sorted by label: plain KFold would test each fold on a class the
    # model never saw in training and score 0; stratified folds score well.
    X_train, y_train, _, _ = mnist
    idx = np.concatenate([np.flatnonzero(y_train == d)[:200] for d in (0, 1, 2)])
    X, y = X_train[idx], y_train[idx]
    scores = cross_val_score(make_pipeline(epochs=3, random_state=0), X, y, cv=3)
    assert scores.min() > 0.8, scores


def test_same_random_state_gives_identical_predictions(small_mnist):
    X, y, X_test, _ = small_mnist
    fit = lambda: make_pipeline(epochs=1, random_state=7).fit(X[:800], y[:800])  # noqa: E731
    p1, p2 = fit().predict_proba(X_test), fit().predict_proba(X_test)
    np.testing.assert_array_equal(p1, p2)
    p3 = make_pipeline(epochs=1, random_state=8).fit(X[:800], y[:800]).predict_proba(X_test)
    assert not np.array_equal(p1, p3)


def test_seeded_fit_leaves_no_global_state_behind(small_mnist):
    from tensorflow.python.framework import config

    X, y, _, _ = small_mnist
    np.random.seed(123)  # noqa: NPY002 - the legacy global stream is the one at stake
    expected_next = np.random.RandomState(123).rand()
    make_pipeline(epochs=1, random_state=0).fit(X[:300], y[:300])
    assert np.random.rand() == expected_next  # noqa: NPY002  # numpy's global stream is untouched
    assert not config.is_op_determinism_enabled()
    # TensorFlow's eager random stream goes on where it was (tf.random.set_seed
    # would restart it), as does every later draw of the caller's.
    import tensorflow as tf

    tf.random.set_seed(5)
    expected = [tf.random.uniform([2]).numpy() for _ in range(2)]
    tf.random.set_seed(5)
    first = tf.random.uniform([2]).numpy()
    make_pipeline(epochs=1, random_state=0).fit(X[:300], y[:300])
    np.testing.assert_array_equal([first, tf.random.uniform([2]).numpy()], expected)
    tf.random.set_seed(None)
    # The failure SciKeras 0.13 shows: an unseeded fit after a seeded one must still work.
    unseeded = make_pipeline(epochs=1).fit(X[:300], y[:300])
    assert unseeded.predict(X[:5]).shape == (5,)


def test_pickle_joblib_and_clone_round_trip(fitted_pipeline, small_mnist, tmp_path):
    _, _, X_test, _ = small_mnist
    expected = fitted_pipeline.predict_proba(X_test)

    restored = pickle.loads(pickle.dumps(fitted_pipeline))
    np.testing.assert_array_equal(restored.predict_proba(X_test), expected)

    joblib.dump(fitted_pipeline, tmp_path / "pipe.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "pipe.joblib").predict_proba(X_test), expected
    )

    fresh = clone(fitted_pipeline)
    assert fresh.get_params()["clf__random_state"] == 0
    assert not hasattr(fresh[-1], "model_")


def test_routed_parameters_reach_keras(small_mnist):
    X, y, _, _ = small_mnist
    pipe = make_pipeline(epochs=1, random_state=0)
    pipe.set_params(clf__optimizer__learning_rate=0.0123, clf__hidden_units=17, clf__batch_size=64)
    assert pipe.get_params()["clf__optimizer__learning_rate"] == 0.0123
    pipe.fit(X[:300], y[:300])
    model = pipe[-1].model_
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.0123)
    assert model.get_layer("hidden").units == 17
    assert len(pipe[-1].history_["loss"]) == 1


def test_grid_search_over_the_pipeline(small_mnist):
    X, y, _, _ = small_mnist
    search = GridSearchCV(
        make_pipeline(epochs=1, random_state=0),
        {"clf__hidden_units": [4, 64]},
        cv=2,
    ).fit(X[:1200], y[:1200])
    assert search.best_params_ == {"clf__hidden_units": 64}
    assert search.cv_results_["mean_test_score"].shape == (2,)
    assert search.predict(X[:3]).shape == (3,)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"output_activation": "tanh"}, "`output_activation` must be one of"),
        ({"hidden_units": 0}, "`hidden_units` must be a positive integer"),
        ({"validation_split": 1.5}, r"`validation_split` must be a finite number in \[0, 1\)"),
        ({"steps_per_execution": 0}, "`steps_per_execution` must be a positive integer"),
        ({"epochs": 2.5}, "`epochs` must be a positive integer"),
    ],
)
def test_bad_parameters_are_named(params, message):
    rng = np.random.default_rng(0)  # refused before any training: random data will do
    with pytest.raises(ValueError, match=message):
        DigitClassifier(**params).fit(rng.random((20, 784)), np.arange(20) % 10)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_steps_per_execution_trains_the_same_weights_faster(small_mnist, activation):
    """Several batches a call: same arithmetic, same order, so seeded weights are equal."""
    X, y, X_test, _ = small_mnist
    fits = {
        spe: make_pipeline(
            output_activation=activation, epochs=1, random_state=0, steps_per_execution=spe
        ).fit(X[:1200], y[:1200])
        for spe in (1, 128)
    }
    assert fits[128][-1].model_.steps_per_execution == 128  # the parameter reached Keras
    for a, b in zip(
        fits[1][-1].model_.get_weights(), fits[128][-1].model_.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # Prediction runs the same weights in another loop: equal to the last bit or two.
    np.testing.assert_allclose(
        fits[1].predict_proba(X_test), fits[128].predict_proba(X_test), rtol=0, atol=1e-6
    )
    assert DigitClassifier().steps_per_execution == 128


def test_single_class_and_continuous_targets_are_refused():
    X = np.random.default_rng(0).random((20, 4))
    with pytest.raises(ValueError, match="at least 2 classes"):
        DigitClassifier(epochs=1).fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="Unknown label type"):
        DigitClassifier(epochs=1).fit(X, np.linspace(0, 1, 20))


def test_predict_before_fit_says_so(rng):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make_pipeline().predict(rng.integers(0, 256, (2, 28, 28), dtype=np.uint8))


@pytest.mark.slow
def test_seed_recipe_on_full_mnist_reaches_97_percent(mnist):
    """The original recipe (sigmoid output, 10 epochs, 80/20 split) on all 60,000 images.

    One run's test accuracy depends on the seed (measured here: 96.8 %, 97.4 %
    and 97.8 % for seeds 0, 1, 2), so the claim is about the mean of three seeds.
    """
    from skdigits.analysis._training import fit_and_evaluate

    X_train, y_train, X_test, y_test = mnist
    accuracies = []
    for seed in range(3):
        pipe = make_pipeline(output_activation="sigmoid", random_state=seed)
        result = fit_and_evaluate(pipe, X_train, y_train, X_test, y_test)
        print(f"seed {seed}:", result.format(), sep="\n")
        assert result.train.n_samples == 48_000
        assert result.validation is not None
        assert result.validation.n_samples == 12_000
        assert result.test.n_samples == 10_000
        assert result.test.accuracy >= 0.96
        accuracies.append(result.test.accuracy)
    assert np.mean(accuracies) >= 0.97, accuracies


@pytest.mark.parametrize("params", [{}, {"label_smoothing": 0.1}], ids=["sparse", "one-hot"])
def test_building_the_training_state_first_changes_nothing_learned(
    small_mnist, params, monkeypatch
):
    """fit creates the optimizer's and the metrics' variables before Keras traces
    (so the training step is traced once): the weights and the history are what
    Keras' own creation inside the trace gives, sparse or one-hot targets alike."""
    from skdigits.estimator import _training

    X, y, _, _ = small_mnist

    def fit():
        return make_pipeline(epochs=2, random_state=0, **params).fit(X[:600], y[:600])[-1]

    built = fit()
    monkeypatch.setattr(_training, "build_training_state", lambda *args: None)
    keras_own = fit()
    assert built.history_ == keras_own.history_
    for a, b in zip(built.model_.get_weights(), keras_own.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

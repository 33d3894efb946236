"""
Search hyper-parameters with GridSearchCV
=========================================

The pipeline is an ordinary scikit-learn estimator, so
:class:`~sklearn.model_selection.GridSearchCV` searches it unchanged, with the
classifier's parameters routed as ``clf__<name>``. An integer ``cv`` means
stratified folds, because :class:`~skdigits.DigitClassifier` is a classifier to
scikit-learn (``is_classifier`` is true).

``clf__reuse_models=True`` lets each fit take the traced Keras model of an
earlier fit of the same net in the same process, with new weights copied in:
the scores are bit-identical, the fits faster. ``skdigits search`` turns it on.
"""

# %%
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from skdigits import fetch_mnist, make_pipeline

X, y = fetch_mnist(subset="train", return_X_y=True)
X, y = X[:1500], y[:1500]

pipe = make_pipeline(epochs=1, random_state=0, reuse_models=True)

# %%
# Cross-validate one candidate
# ----------------------------
print(cross_val_score(pipe, X, y, cv=3))

# %%
# Search a small grid
# -------------------
# Four candidates, three folds each, then a refit of the best on all 1,500
# images. With an integer ``random_state`` on the pipeline and on the folds,
# running the search again gives identical ``cv_results_``.
search = GridSearchCV(
    pipe,
    {"clf__hidden_units": [50, 100], "clf__optimizer__learning_rate": [1e-3, 3e-3]},
    cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
)
search.fit(X, y)
print("best:", search.best_params_, f"{search.best_score_:.3f}")

# %%
# The candidates, best first (the table ``skdigits search`` prints).
from skdigits.analysis import format_results

print(format_results(search.cv_results_))

# %%
# The refitted best pipeline scores on the test images like any estimator.
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
print(f"test accuracy: {search.score(X_test[:2000], y_test[:2000]):.3f}")

"""
Export to ONNX and predict with onnxruntime
===========================================

:func:`skdigits.export_onnx` turns a fitted pipeline into one ONNX graph, the
division by 255 included, and writes it only after onnxruntime reproduced the
pipeline's labels exactly and its probabilities within 1e-5 on the check
images. :func:`skdigits.load_predictor` opens it as an
:class:`~skdigits.runtime.OnnxDigitClassifier`, which needs numpy and
onnxruntime only: no TensorFlow, Keras or scikit-learn on the machine that
serves it.

The ONNX file goes to a temporary directory that is removed at the end.
"""

# %%
# Fit a small pipeline
# --------------------
import tempfile
from pathlib import Path

import numpy as np

from skdigits import export_onnx, fetch_mnist, load_predictor, make_pipeline

X, y = fetch_mnist(subset="train", return_X_y=True)
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
pipe = make_pipeline(epochs=2, random_state=0).fit(X[:2000], y[:2000])

# %%
# Export, parity-checked
# ----------------------
# ``check_samples`` are the raw images the parity gate compares on; the command
# line uses 1,000 MNIST test images. ``metadata`` adds entries to the file's
# metadata, such as the test accuracy measured here.
tmp = tempfile.TemporaryDirectory()
path = Path(tmp.name) / "digits.onnx"
accuracy = pipe.score(X_test[:2000], y_test[:2000])
export_onnx(pipe, path, check_samples=X_test[:500], metadata={"test_accuracy": round(accuracy, 4)})
print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")

# %%
# Predict without TensorFlow
# --------------------------
# The predictor takes one image ``(28, 28)``, a batch ``(n, 28, 28)`` or flat
# rows ``(n, 784)``, uint8 or float, in MNIST's convention (0-255, white on
# black).
clf = load_predictor(path)
print(type(clf).__name__, clf.classes_)
labels, proba = clf.predict_with_proba(X_test[:2000])
print("labels of the first ten:", labels[:10], "truth:", y_test[:10])
print(f"onnxruntime accuracy: {clf.score(X_test[:2000], y_test[:2000]):.3f}")

# %%
# The ONNX model and the Keras pipeline agree.
keras_proba = pipe.predict_proba(X_test[:2000])
print("same labels:", np.array_equal(labels, pipe.predict(X_test[:2000])))
print(f"largest probability difference: {np.abs(proba - keras_proba).max():.1e}")

# %%
# The file carries its own description: classes, input layout, the training
# hyper-parameters and the parity measured at export.
for key in ("skdigits_version", "classes", "input_layout", "test_accuracy"):
    print(f"{key}: {clf.metadata.get(key)}")

# %%
tmp.cleanup()

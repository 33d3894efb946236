"""A saved-model format that cannot run code when loaded.

A fitted pipeline is saved as one zip archive (``.skdigits``) holding

- ``manifest.json``: format version, the skdigits version, each step's class
  (from a fixed list) and its parameters as plain JSON, the fitted class labels
  and input shape, the training history, and free-form metadata (metrics);
- ``model.keras``: the Keras model in Keras' own format, loaded with
  ``safe_mode=True`` so that no serialized Python code (lambdas) is executed.

Unlike pickle or joblib, loading never imports or calls anything named by the
file: the classes are looked up in ``_STEP_CLASSES`` and the parameters are
JSON scalars, lists and dicts.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_path
from ._errors import ModelFileError
from ._version import __version__

FORMAT = "skdigits-pipeline"
FORMAT_VERSION = 1
SUFFIX = ".skdigits"
_MANIFEST = "manifest.json"
_KERAS = "model.keras"
_MAX_MANIFEST_BYTES = 10 * 1024 * 1024


def _json_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON, refusing objects the safe format cannot store."""
    out = {}
    for key, value in params.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise ModelFileError(
                f"cannot save parameter `{name}__{key}`={value!r}: the safe model format "
                "stores only numbers, strings, booleans, lists and dicts; set it to a "
                "plain value (e.g. an optimizer name) or use joblib for your own use"
            ) from err
        out[key] = value
    return out


def save_model(pipeline, path, *, metadata: dict[str, Any] | None = None) -> Path:
    """Save a fitted skdigits pipeline to ``path`` atomically.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted ``Pipeline([("scale", PixelScaler()), ("clf", DigitClassifier())])``.
    path : str or path-like
        Destination; ``.skdigits`` is the conventional suffix.
    metadata : dict, default=None
        JSON-serialisable extras kept in the manifest (e.g. test accuracy).

    Returns
    -------
    Path
        The path written.
    """
    from sklearn.pipeline import Pipeline

    from .classifier import DigitClassifier
    from .preprocessing import PixelScaler

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise ModelFileError(
            f"save_model expects a skdigits Pipeline of PixelScaler and DigitClassifier, "
            f"got {type(pipeline).__name__}; build one with skdigits.make_pipeline()"
        )
    (scale_name, scaler), (clf_name, clf) = pipeline.steps
    if not isinstance(scaler, PixelScaler) or not isinstance(clf, DigitClassifier):
        raise ModelFileError(
            "save_model expects the steps PixelScaler then DigitClassifier, got "
            f"{type(scaler).__name__} then {type(clf).__name__}"
        )
    if not hasattr(clf, "model_"):
        raise ModelFileError("the pipeline is not fitted yet; call fit(X, y) before saving")

    classes = np.asarray(clf.classes_)
    params = clf.get_params(deep=False)
    teacher_note = None
    if params.get("teacher") is not None and not isinstance(params["teacher"], str):
        # A teacher given as an estimator cannot be stored as JSON, and the
        # student needs none to predict: the file says so instead.
        teacher_note = f"an in-memory {type(params['teacher']).__name__} (not saved)"
        params["teacher"] = None
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skdigits_version": __version__,
        "steps": [
            {"name": scale_name, "class": "PixelScaler", "params": {}},
            {
                "name": clf_name,
                "class": "DigitClassifier",
                "params": _json_params(clf_name, params),
            },
        ],
        "teacher": teacher_note if teacher_note else params.get("teacher"),
        "classes": classes.tolist(),
        "classes_dtype": classes.dtype.str,
        "input_shape": [int(d) for d in clf.X_shape_[1:]],
        "input_dtype": np.dtype(clf.X_dtype_).str,
        "scaler_n_features_in": int(scaler.n_features_in_),
        "history": {k: [float(v) for v in vals] for k, vals in clf.history_.items()},
        "metadata": metadata or {},
    }
    manifest_bytes = json.dumps(manifest, indent=2, allow_nan=False).encode()

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        keras_file = Path(tmp) / _KERAS
        clf.model_.save(keras_file)
        with atomic_path(path) as part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_MANIFEST, manifest_bytes)
            zf.write(keras_file, _KERAS)
    return path


def load_metadata(path) -> dict[str, Any]:
    """Read a saved model's manifest (no TensorFlow needed)."""
    with _open_archive(path) as zf:
        return _read_manifest(zf, path)


def load_model(path):
    """Load a pipeline saved by :func:`save_model`; nothing in the file is executed.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    sklearn.pipeline.Pipeline
        The fitted pipeline, ready for ``predict``.
    """
    from sklearn.pipeline import Pipeline

    from ._tf import import_keras
    from .classifier import DigitClassifier
    from .preprocessing import PixelScaler

    keras = import_keras(feature="loading a saved model")
    step_classes = {"PixelScaler": PixelScaler, "DigitClassifier": DigitClassifier}

    with _open_archive(path) as zf:
        manifest = _read_manifest(zf, path)
        try:
            steps_spec = manifest["steps"]
            names = [s["class"] for s in steps_spec]
            if names != ["PixelScaler", "DigitClassifier"]:
                raise ModelFileError(
                    f"{path}: unexpected pipeline steps {names}; this version of skdigits "
                    "loads PixelScaler then DigitClassifier"
                )
            classes = np.asarray(manifest["classes"], dtype=np.dtype(manifest["classes_dtype"]))
            input_shape = tuple(int(d) for d in manifest["input_shape"])
            input_dtype = np.dtype(manifest["input_dtype"])
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, ModelFileError):
                raise
            raise ModelFileError(
                f"{path}: the manifest is incomplete or malformed ({err!r}); "
                "re-save the model with `skdigits train`"
            ) from err
        if classes.dtype.kind not in "iub" and classes.dtype.kind not in "U":
            raise ModelFileError(f"{path}: class labels of dtype {classes.dtype} are not allowed")

        steps = []
        for spec in steps_spec:
            params = spec.get("params", {})
            if not isinstance(params, dict):
                raise ModelFileError(f"{path}: parameters of step {spec['name']!r} are not a dict")
            params = _without_legacy_preset(params)
            try:
                steps.append((spec["name"], step_classes[spec["class"]](**params)))
            except TypeError as err:
                raise ModelFileError(
                    f"{path}: step {spec['class']} does not accept these parameters ({err}); "
                    "the file was written by an incompatible skdigits version"
                ) from err
        pipeline = Pipeline(steps)
        scaler, clf = pipeline[0], pipeline[-1]

        # Set up the fitted state (encoders, classes_, shapes) without training,
        # then put the saved weights in place of the fresh model.
        X_stub = np.zeros((len(classes), *input_shape), dtype=input_dtype)
        scaler.fit(X_stub)
        clf.initialize(X_stub, classes)
        with tempfile.TemporaryDirectory() as tmp:
            keras_file = Path(tmp) / _KERAS
            try:
                keras_file.write_bytes(zf.read(_KERAS))
                clf.model_ = keras.saving.load_model(keras_file, safe_mode=True)
            except KeyError as err:
                raise ModelFileError(f"{path}: the archive has no {_KERAS}") from err
            except Exception as err:  # Keras raises many types for a bad file
                raise ModelFileError(
                    f"{path}: the Keras model inside could not be loaded safely ({err}); "
                    "re-save it with `skdigits train`"
                ) from err
        clf.history_ = defaultdict(list, manifest.get("history", {}))
    return pipeline


def _without_legacy_preset(params: dict[str, Any]) -> dict[str, Any]:
    """Files from skdigits 0.1 stored ``preset``, which then replaced parameters at fit time.

    Spelling the preset out gives the parameters that model was trained with.
    """
    if "preset" not in params:
        return params
    from .presets import preset_params

    rest = {k: v for k, v in params.items() if k != "preset"}
    if params["preset"] is None:
        return rest
    return {**rest, **preset_params(params["preset"], rest.get("architecture"))}


def _open_archive(path) -> zipfile.ZipFile:
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory; pass the path of a {SUFFIX} model file")
    if not path.exists():
        raise ModelFileError(f"{path} does not exist; train one with `skdigits train -o {path}`")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ModelFileError(
            f"{path} is not a skdigits model file ({err}); pass a {SUFFIX} file written by "
            "`skdigits train`"
        ) from err


def _read_manifest(zf: zipfile.ZipFile, path) -> dict[str, Any]:
    try:
        info = zf.getinfo(_MANIFEST)
    except KeyError as err:
        raise ModelFileError(
            f"{path} is a zip file but not a skdigits model (no {_MANIFEST}); "
            f"pass a {SUFFIX} file written by `skdigits train`"
        ) from err
    if info.file_size > _MAX_MANIFEST_BYTES:
        raise ModelFileError(f"{path}: {_MANIFEST} is implausibly large ({info.file_size} bytes)")
    try:
        manifest = json.loads(zf.read(info))
    except (ValueError, zipfile.BadZipFile, OSError) as err:
        raise ModelFileError(f"{path}: {_MANIFEST} is corrupt ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a skdigits model file (format is not {FORMAT!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {manifest.get('format_version')!r}, this skdigits "
            f"reads version {FORMAT_VERSION}; upgrade skdigits or re-train"
        )
    return manifest

"""A saved-model format that cannot run code when loaded.

A fitted pipeline is saved as one zip archive (``.skdigits``) holding

- ``manifest.json``: format version, the skdigits version, each step's class
  (from a fixed list) and its parameters as plain JSON, the fitted class labels
  and input shape, the fitted temperature of the probabilities (absent in
  older files: 1) and the fitted digit threshold (absent in older files: 0.0,
  every image a digit), the training history, and free-form metadata (metrics);
- ``model.keras``: the Keras model in Keras' own format, loaded with
  ``safe_mode=True`` so that no serialized Python code (lambdas) is executed.

Unlike pickle or joblib, loading never imports or calls anything named by the
file: each step's class is looked up in a table the caller passes (the
estimator layer's ``save_model`` and ``load_model`` are the public entry
points) and the parameters are JSON scalars, lists and dicts.

Hand-written because no kept library serves: ``skops.io`` secures scikit-learn
and NumPy objects but has no safe loader for a Keras model, and Keras' own
``.keras`` format (used inside) holds the network only, not the pipeline around it.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._core.atomic import atomic_path, temporary_dir_beside
from .._core.deps import require
from .._core.errors import ModelFileError, one_line
from .._core.files import open_regular
from .._core.values import is_finite_number, is_integer, strict_json
from .._version import __version__
from ..nn._tf import import_keras
from ._bounds import (
    DIGIT_THRESHOLD,
    MAX_CLASSES,
    MAX_WEIGHTS,
    PARAMETER_BOUNDS,
    TEMPERATURE,
    bound_words,
    count_weights,
    describe,
    is_calibration,
    within_bounds,
)

FORMAT = "skdigits-pipeline"
FORMAT_VERSION = 1
SUFFIX = ".skdigits"
_MANIFEST = "manifest.json"
_KERAS = "model.keras"
_MAX_MANIFEST_BYTES = 10 * 1024 * 1024

# Bounds checked before anything is extracted, decoded or built, so that a small
# file cannot make skdigits allocate gigabytes. Each is far above what skdigits
# writes: the tuned CNN's model.keras is a few MB, the reference MLP's 1 MB.
#: The largest uncompressed size of one archive member (and of one member of the
#: Keras archive inside), in bytes.
MAX_MEMBER_BYTES = 256 * 1024 * 1024
#: The highest compression ratio allowed for a member over 1 MiB: weights are
#: random floats and compress less than 2:1; a bomb of zeros compresses 1000:1.
MAX_COMPRESSION_RATIO = 50
_RATIO_FREE_BYTES = 1024 * 1024
_MAX_MEMBERS = 64
_MAX_KERAS_CONFIG_BYTES = 4 * 1024 * 1024
# Bounds on the manifest's values; the parameters' are the table in _bounds.py.
_N_PIXELS = 784
_MAX_HISTORY = 100_000
_MAX_METADATA_DEPTH = 100
# Parameters that name Python objects (a model function, callbacks): the safe
# format stores none, so a manifest that sets one was not written by skdigits.
_OBJECT_PARAMS = ("model", "build_fn", "callbacks")
# Keras config keys holding layer sizes or shapes, bounded before Keras builds the model.
_KERAS_SIZE_KEYS = frozenset(
    {
        "units",
        "filters",
        "batch_shape",
        "batch_input_shape",
        "shape",
        "target_shape",
        "input_dim",
        "output_dim",
        "kernel_size",
    }
)
_MAX_KERAS_SIZE = 10_000_000


def _json_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON, refusing objects the safe format cannot store.

    NumPy numbers and arrays (a grid over ``np.arange``) are stored as the Python
    values they hold; a NaN or infinite number is refused, as loading would refuse it.
    """
    out = {}
    for key, value in params.items():
        try:
            out[key] = json.loads(json.dumps(value, allow_nan=False, default=_numpy_value))
        except ValueError as err:
            raise ModelFileError(
                f"cannot save parameter `{name}__{key}`={describe(value)}: it holds a NaN or "
                "infinite number, which the safe model format does not store; set a finite value"
            ) from err
        except (TypeError, RecursionError) as err:
            raise ModelFileError(
                f"cannot save parameter `{name}__{key}`={describe(value)}: the safe model format "
                "stores only numbers, strings, booleans, lists and dicts; set it to a "
                "plain value (e.g. an optimizer name) or use joblib for your own use"
            ) from err
    return out


def _numpy_value(value: Any) -> Any:
    """``json.dumps``' ``default``: a NumPy scalar or array as Python values."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json_metadata(metadata: Any) -> dict[str, Any]:
    """``metadata`` as strict JSON: NaN and inf become null (as ``info --json`` prints
    them), NumPy values Python ones; anything else JSON cannot hold is refused."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ModelFileError(
            f"cannot save metadata {describe(metadata)}: it must be a dict, e.g. "
            "{'test_accuracy': 0.98}"
        )
    try:
        clean = strict_json(metadata)
        json.dumps(clean, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:
        raise ModelFileError(
            f"cannot save metadata {describe(metadata)} ({one_line(err)[:120]}); pass "
            "numbers, strings, booleans, lists and dicts with string keys"
        ) from err
    if _depth(clean) > _MAX_METADATA_DEPTH:
        raise ModelFileError(
            f"cannot save metadata nested over {_MAX_METADATA_DEPTH} levels deep; "
            "pass a flatter dict"
        )
    return clean


def _depth(value: Any) -> int:
    """How deeply ``value``'s lists and dicts nest (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return deepest


def write_pipeline(pipeline, path, *, metadata: dict[str, Any] | None = None) -> Path:
    """Write a fitted, already checked ``Pipeline(PixelScaler, DigitClassifier)`` atomically.

    The writing half of :func:`skdigits.save_model`, which checks the pipeline
    first and documents the parameters; returns the path written.
    """
    scaler, clf = pipeline.steps[0][1], pipeline.steps[-1][1]
    (scale_name, _), (clf_name, _) = pipeline.steps
    _check_finite(clf, path)
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
        "temperature": float(getattr(clf, "temperature_", 1.0)),
        "digit_threshold": float(getattr(clf, "digit_threshold_", 0.0)),
        # The last epochs only, as many as a manifest holds (a long run of partial_fit).
        "history": {
            k: [float(v) for v in vals][-_MAX_HISTORY:]
            for k, vals in getattr(clf, "history_", {}).items()  # none when only initialized
        },
        "metadata": _json_metadata(metadata),
    }
    path = Path(path)
    if path.exists() and not path.is_file():
        # Renaming the new file onto a device (/dev/null, as root) or a FIFO would
        # replace it; onto a directory it fails half-way.
        raise ModelFileError(
            f"cannot save to {path}: it is a directory, device or pipe, not a file; "
            f"pass a file path such as model{SUFFIX}"
        )
    # What loading would refuse is refused here, before anything is written.
    _check_manifest(manifest, path, saving=True)
    manifest_bytes = json.dumps(manifest, indent=2, allow_nan=False).encode()
    if len(manifest_bytes) > _MAX_MANIFEST_BYTES:
        raise ModelFileError(
            f"cannot save {path}: its manifest would be {len(manifest_bytes):,} bytes, over "
            f"the {_MAX_MANIFEST_BYTES:,} a model file may hold; pass less metadata"
        )
    # The Keras file is written in a scratch folder beside the destination (never
    # the system's temporary folder): a killed save leaves it where the next save
    # to the same path removes it.
    with temporary_dir_beside(path) as tmp:
        keras_file = tmp / _KERAS
        clf.model_.save(keras_file)
        if keras_file.stat().st_size > MAX_MEMBER_BYTES:
            raise ModelFileError(
                f"cannot save {path}: the Keras model is {keras_file.stat().st_size:,} bytes, "
                f"over the {MAX_MEMBER_BYTES:,} a model file may hold; train a smaller net"
            )
        with atomic_path(path) as part:
            _write_archive(part, manifest_bytes, keras_file, zipfile.ZIP_DEFLATED)
            with zipfile.ZipFile(part) as zf:
                info = zf.getinfo(_KERAS)
            if info.file_size / max(info.compress_size, 1) > MAX_COMPRESSION_RATIO:
                # Weights that compress like a bomb (mostly zeros) are stored as they
                # are, so that loading does not take the file for one.
                _write_archive(part, manifest_bytes, keras_file, zipfile.ZIP_STORED)
    return path


def _check_finite(clf: Any, path: Any) -> None:
    """Refuse a net whose training diverged: NaN or infinite weights or losses.

    Such a model would predict nothing meaningful; saved, it would load and
    answer for every image as if it could.
    """
    history = getattr(clf, "history_", {})
    losses = [v for values in history.values() for v in values]
    if not np.isfinite(np.asarray(losses, dtype=np.float64)).all() or not all(
        np.isfinite(w).all() for w in clf.model_.get_weights()
    ):
        raise ModelFileError(
            f"cannot save {path}: the model's weights or training losses are NaN or "
            "infinite (its training diverged); train again with a lower learning rate"
        )


def _write_archive(part: Path, manifest_bytes: bytes, keras_file: Path, compression: int) -> None:
    with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_MANIFEST, manifest_bytes)
        zf.write(keras_file, _KERAS, compress_type=compression)


def load_metadata(path) -> dict[str, Any]:
    """Read a saved model's manifest (no TensorFlow needed)."""
    with _open_archive(path) as zf:
        manifest = _read_manifest(zf, path)
    _check_manifest(manifest, path)
    return manifest


def read_pipeline(path, step_classes: dict[str, Any]):
    """Read a pipeline written by :func:`write_pipeline`; nothing in the file is executed.

    Parameters
    ----------
    path : str or path-like
    step_classes : dict
        What builds each step, by the class name the manifest stores
        (``"PixelScaler"``, ``"DigitClassifier"``, the only two a manifest may
        name): a class or a function taking the step's parameters as keywords.

    Returns
    -------
    sklearn.pipeline.Pipeline
        The fitted pipeline, ready for ``predict``.
    """
    # A missing training extra is said first; then the whole file is bounded and
    # validated before TensorFlow is even imported.
    require("sklearn.pipeline", feature="loading a saved model")
    with _open_archive(path) as zf:
        manifest = _read_manifest(zf, path)
        keras_bytes = _read_member(zf, _KERAS, path)
    spec = _check_manifest(manifest, path)
    keras_config = _check_keras_archive(keras_bytes, path)
    _restore_class_weight(spec)
    _restore_tuples(spec)

    pipeline = _build_pipeline(spec, path, step_classes)
    expected = _initialize(pipeline, spec, path)
    if keras_config["weights_bytes"] < 4 * expected:
        raise ModelFileError(
            f"{path}: the stored weights ({keras_config['weights_bytes']} bytes) are too few "
            f"for the network the manifest describes ({expected} float32 values); "
            "re-save the model with `skdigits train`"
        )
    model = _load_keras(keras_bytes, path)
    if int(model.count_params()) != expected:
        raise ModelFileError(
            f"{path}: the Keras model inside has {int(model.count_params())} weights but "
            f"the manifest describes a network of {expected}; the file was altered or "
            "assembled from two models: re-save it with `skdigits train`"
        )
    clf = pipeline[-1]
    clf.model_ = model
    clf.history_ = defaultdict(list, spec["history"])
    clf.temperature_ = spec["temperature"]
    clf.digit_threshold_ = spec["digit_threshold"]
    return pipeline


def _restore_tuples(spec: dict[str, Any]) -> None:
    """``conv_filters`` as the tuple it was fitted with: JSON wrote it as a list, and a
    loaded model's ``get_params()`` is to say what the saved one said."""
    params = spec["steps"][1]["params"]
    if isinstance(params.get("conv_filters"), list):
        params["conv_filters"] = tuple(params["conv_filters"])


def _restore_class_weight(spec: dict[str, Any]) -> None:
    """Integer classes as the keys of ``class_weight`` again: JSON wrote them as strings,
    and a refit of the loaded model would find no weight for class ``0`` under ``"0"``."""
    params = spec["steps"][1]["params"]
    weights = params.get("class_weight")
    if isinstance(weights, dict) and spec["classes"].dtype.kind in "iu":
        known = {str(c): c.item() for c in spec["classes"]}
        params["class_weight"] = {known.get(k, k): w for k, w in weights.items()}


def _build_pipeline(spec: dict[str, Any], path: Any, step_classes: dict[str, Any]) -> Any:
    """The unfitted pipeline the manifest describes; its classes come from the caller's table."""
    from sklearn.pipeline import Pipeline

    steps = []
    for step in spec["steps"]:
        try:
            steps.append((step["name"], step_classes[step["class"]](**step["params"])))
        except (TypeError, ValueError) as err:  # an unknown legacy preset is a ValueError
            raise ModelFileError(
                f"{path}: step {step['class']} does not accept these parameters "
                f"({one_line(err)}); the file was written by an incompatible skdigits version"
            ) from err
    return Pipeline(steps)


def _initialize(pipeline: Any, spec: dict[str, Any], path: Any) -> int:
    """Set up the fitted state (encoders, classes_, shapes) without training.

    Returns the number of weights of the fresh network, which the saved one
    must match. Every size this builds from was bounded by _check_manifest.
    """
    X_stub = np.zeros((len(spec["classes"]), *spec["input_shape"]), dtype=spec["input_dtype"])
    try:
        pipeline[0].fit(X_stub)
        pipeline[-1].initialize(X_stub, spec["classes"])
    except (TypeError, ValueError) as err:
        raise ModelFileError(
            f"{path}: the manifest's parameters do not build a network ({one_line(err)}); "
            "re-save the model with `skdigits train`"
        ) from err
    return int(pipeline[-1].model_.count_params())


def _load_keras(keras_bytes: bytes, path: Any) -> Any:
    """The Keras model inside, loaded with ``safe_mode=True`` (no serialized code runs)."""
    keras = import_keras(feature="loading a saved model")
    # Loaded from a scratch folder: Keras' public loader reads only named files. Its
    # contents were bounded above (at most MAX_MEMBER_BYTES); a load killed midway
    # leaves a hidden .part folder that the next load removes once stale.
    with temporary_dir_beside(Path(tempfile.gettempdir()) / "skdigits-load") as tmp:
        keras_file = tmp / _KERAS
        keras_file.write_bytes(keras_bytes)  # a full disk here is a WriteError, not the model's
        try:
            return keras.saving.load_model(keras_file, safe_mode=True)
        except Exception as err:  # Keras raises many types for a bad file
            raise ModelFileError(
                f"{path}: the Keras model inside could not be loaded safely "
                f"({one_line(err)}); re-save it with `skdigits train`"
            ) from err


@contextlib.contextmanager
def _open_archive(path: Any) -> Iterator[zipfile.ZipFile]:
    """The archive at ``path``, read from the descriptor checked to be a regular file.

    A device (``/dev/zero``) or a FIFO is refused before a byte is read: zipfile
    would read the one until memory ran out and wait on the other for ever.
    """
    path = Path(path)
    with open_regular(
        path,
        "model file",
        missing_hint=f"train one with `skdigits train -o {path}`",
        example=f"model{SUFFIX}",
        error=ModelFileError,
    ) as fh:
        try:
            archive = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
            raise ModelFileError(
                f"{path} is not a skdigits model file ({one_line(err)[:120]}); pass a {SUFFIX} "
                "file written by `skdigits train`"
            ) from err
        with archive:
            yield archive


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
    manifest = _parse_json(_read_member(zf, _MANIFEST, path), f"{path}: {_MANIFEST}")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a skdigits model file (format is not {FORMAT!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {manifest.get('format_version')!r}, this skdigits "
            f"reads version {FORMAT_VERSION}; upgrade skdigits or re-train"
        )
    return manifest


def _check_member(info: zipfile.ZipInfo, where: str) -> None:
    """Refuse a member whose declared size or compression ratio is a bomb's.

    zipfile never yields more than a member's declared size (it fails the CRC
    check instead), so checking the declaration bounds what extraction can cost.
    """
    if info.file_size > MAX_MEMBER_BYTES:
        raise ModelFileError(
            f"{where}: member {info.filename!r} unpacks to {info.file_size} bytes, over the "
            f"limit of {MAX_MEMBER_BYTES}; this is not a model skdigits wrote"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > _RATIO_FREE_BYTES and ratio > MAX_COMPRESSION_RATIO:
        raise ModelFileError(
            f"{where}: member {info.filename!r} is compressed {ratio:.0f}:1 "
            f"({info.compress_size} bytes unpacking to {info.file_size}), over the limit of "
            f"{MAX_COMPRESSION_RATIO}:1; this looks like a zip bomb, not a saved model"
        )


def _check_members(zf: zipfile.ZipFile, where: str) -> None:
    members = zf.infolist()
    if len(members) > _MAX_MEMBERS:
        raise ModelFileError(
            f"{where}: the archive has {len(members)} members, over the limit of "
            f"{_MAX_MEMBERS}; this is not a model skdigits wrote"
        )
    for info in members:
        _check_member(info, where)


def _read_member(zf: zipfile.ZipFile, name: str, path: Any) -> bytes:
    """One member's bytes, after the archive's members passed :func:`_check_members`."""
    _check_members(zf, str(path))
    try:
        return zf.read(name)
    except KeyError as err:
        raise ModelFileError(f"{path}: the archive has no {name}") from err
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as err:
        raise ModelFileError(
            f"{path}: {name} is corrupt ({one_line(err)}); re-save the model with `skdigits train`"
        ) from err


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _parse_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    # ValueError covers bad JSON, bad UTF-8 and integers of over 4300 digits;
    # RecursionError a document nested thousands deep.
    except (ValueError, RecursionError) as err:
        raise ModelFileError(f"{where} is corrupt ({one_line(err)[:200]})") from err


def _check_manifest(manifest: dict[str, Any], path: Any, *, saving: bool = False) -> dict[str, Any]:
    """Validate the manifest's structure and bound its values; return what load_model needs.

    Runs before anything is built from the file: every size (parameters, the
    net's weights, classes, input shape, history) is bounded here, every type
    checked, so a crafted manifest ends in one ModelFileError instead of a
    KeyError, TypeError, MemoryError or a 31 GB tensor. With ``saving``, the
    manifest about to be written is checked, so no file is saved that loading
    would refuse; the message then says what cannot be saved.
    """

    def bad(what: str) -> ModelFileError:
        if saving:
            return ModelFileError(
                f"cannot save {path}: the model's {what}, which a {SUFFIX} file cannot hold"
            )
        return ModelFileError(
            f"{path}: the manifest's {what}; re-save the model with `skdigits train`"
        )

    steps = _check_steps(manifest.get("steps"), bad, path)
    classes = _check_classes(manifest, bad)
    shape, input_dtype = _check_input(manifest, bad)
    n_weights = count_weights(
        steps[1]["params"], n_features=math.prod(shape), n_classes=len(classes)
    )
    if n_weights > MAX_WEIGHTS:
        raise bad(f"network has {n_weights:,} weights, expected at most {MAX_WEIGHTS:,}")
    history = manifest.get("history", {})
    if not isinstance(history, dict) or len(history) > 64:
        raise bad(f"`history` is {describe(history)}, expected an object of lists")
    for key, values in history.items():
        if (
            not isinstance(values, list)
            or len(values) > _MAX_HISTORY
            or not all(is_finite_number(v) for v in values)
        ):
            raise bad(f"`history` entry {key!r} is {describe(values)}, not a list of numbers")
    metadata = manifest.get("metadata", {})
    if not isinstance(metadata, dict):
        raise bad(f"`metadata` is {describe(metadata)}, expected an object")
    temperature = manifest.get("temperature", 1.0)  # files from before calibration: none
    if not TEMPERATURE.accepts(temperature):
        raise bad(f"`temperature` is {describe(temperature)}, expected {TEMPERATURE.words}")
    threshold = manifest.get("digit_threshold", 0.0)  # files from before it: every image
    if not DIGIT_THRESHOLD.accepts(threshold):
        raise bad(f"`digit_threshold` is {describe(threshold)}, expected {DIGIT_THRESHOLD.words}")
    return {
        "temperature": float(temperature),
        "digit_threshold": float(threshold),
        "steps": steps,
        "classes": classes,
        "input_shape": shape,
        "input_dtype": input_dtype,
        "history": history,
    }


def _check_steps(
    steps: Any, bad: Callable[[str], ModelFileError], path: Any
) -> list[dict[str, Any]]:
    """The manifest's two steps, PixelScaler then DigitClassifier, with bounded parameters."""
    if not isinstance(steps, list) or len(steps) != 2:
        raise bad(f"`steps` is {describe(steps)}, expected a list of 2 steps")
    out_steps: list[dict[str, Any]] = []
    for step in steps:
        if not isinstance(step, dict):
            raise bad(f"step {describe(step)} is not an object")
        name, cls, params = step.get("name"), step.get("class"), step.get("params", {})
        if not isinstance(name, str) or not name or len(name) > 100 or "__" in name:
            raise bad(f"step name {describe(name)} is not a short step name")
        if not isinstance(cls, str):
            raise bad(f"step class {describe(cls)} is not a string")
        if not isinstance(params, dict):
            raise bad(f"parameters of step {name!r} are {describe(params)}, not an object")
        out_steps.append({"name": name, "class": cls, "params": params})
    names = [s["class"] for s in out_steps]
    if names != ["PixelScaler", "DigitClassifier"]:
        raise ModelFileError(
            f"{path}: unexpected pipeline steps {names}; this version of skdigits "
            "loads PixelScaler then DigitClassifier"
        )
    if out_steps[0]["name"] == out_steps[1]["name"]:
        raise bad(f"steps share the name {out_steps[0]['name']!r}")
    params = out_steps[1]["params"]
    for key, value in params.items():
        if key.split("__", 1)[0] in _OBJECT_PARAMS and value is not None:
            raise bad(
                f"parameter `{key}` is {describe(value)}: the safe format stores no "
                "model functions or callbacks"
            )
    if not is_calibration(params.get("calibration")):
        raise bad(
            f"`calibration` is {describe(params['calibration'])}, expected 'temperature' or None"
        )
    # The table DigitClassifier.fit applies: what could not be trained is not loaded.
    for key in PARAMETER_BOUNDS.keys() & params.keys():
        if not within_bounds(key, params[key]):
            raise bad(f"`{key}` is {describe(params[key])}, expected {bound_words(key)}")
    return out_steps


def _check_classes(manifest: dict[str, Any], bad: Callable[[str], ModelFileError]) -> np.ndarray:
    """The classes: 1 to MAX_CLASSES distinct integers or short strings, as ``classes_dtype``."""
    classes = manifest.get("classes")
    if not isinstance(classes, list) or not 1 <= len(classes) <= MAX_CLASSES:
        raise bad(f"`classes` is {describe(classes)}, expected a list of 1 to {MAX_CLASSES}")
    ints = all(is_integer(c) and -(2**63) <= c < 2**63 for c in classes)
    strings = all(isinstance(c, str) and len(c) <= 100 for c in classes)
    if not (ints or strings) or len(set(classes)) != len(classes):
        raise bad("`classes` are not distinct integers (or short strings)")
    dtype = _dtype(manifest.get("classes_dtype"), "iubU", bad, "classes_dtype")
    try:
        return np.asarray(classes, dtype=dtype)
    except (OverflowError, TypeError, ValueError) as err:
        raise bad(f"`classes` do not fit `classes_dtype` {dtype} ({one_line(err)})") from err


def _check_input(manifest: dict[str, Any], bad: Any) -> tuple[tuple[int, ...], np.dtype]:
    """The input's shape ([28, 28] or [784]) and dtype; the scaler's 784 features."""
    shape = manifest.get("input_shape")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(is_integer(d) and d >= 1 for d in shape)
        or math.prod(shape) != _N_PIXELS
    ):
        raise bad(f"`input_shape` is {describe(shape)}, expected [28, 28] or [784]")
    input_dtype = _dtype(manifest.get("input_dtype"), "uif", bad, "input_dtype")
    n_in = manifest.get("scaler_n_features_in", _N_PIXELS)
    if n_in != _N_PIXELS or not is_integer(n_in):
        raise bad(f"`scaler_n_features_in` is {describe(n_in)}, expected 784")
    return tuple(shape), input_dtype


def _dtype(text: Any, kinds: str, bad: Any, key: str) -> np.dtype:
    try:
        dtype = np.dtype(text) if isinstance(text, str) and len(text) <= 8 else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in kinds or dtype.itemsize > 400:
        raise bad(f"`{key}` is {describe(text)}, not an allowed dtype")
    return dtype


def _check_keras_archive(data: bytes, path: Any) -> dict[str, Any]:
    """Bound the Keras archive inside before Keras opens it: members and layer sizes."""
    import io

    where = f"{path}: {_KERAS}"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            _check_members(inner, where)
            config_info = inner.getinfo("config.json")
            if config_info.file_size > _MAX_KERAS_CONFIG_BYTES:
                raise ModelFileError(
                    f"{where}: config.json is implausibly large ({config_info.file_size} bytes)"
                )
            config = _parse_json(inner.read(config_info), f"{where}: config.json")
            weights = [i.file_size for i in inner.infolist() if i.filename.endswith(".h5")]
    except KeyError as err:
        raise ModelFileError(
            f"{where} has no config.json; re-save it with `skdigits train`"
        ) from err
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as err:
        raise ModelFileError(
            f"{where} is not a valid Keras archive ({one_line(err)}); re-save it with "
            "`skdigits train`"
        ) from err
    _check_keras_sizes(config, where)
    return {"weights_bytes": sum(weights)}


def _check_keras_sizes(config: Any, where: str) -> None:
    """Refuse a Keras config whose layer sizes or shapes would allocate gigabytes."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _KERAS_SIZE_KEYS:
                    dims = value if isinstance(value, list) else [value]
                    size = math.prod(d for d in dims if is_integer(d) and d > 0)
                    if size > _MAX_KERAS_SIZE or any(is_integer(d) and d < 0 for d in dims):
                        raise ModelFileError(
                            f"{where}: config.json declares {key} {describe(value)}, outside "
                            "what skdigits builds; this is not a model skdigits wrote"
                        )
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)

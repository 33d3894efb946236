"""The saved-model format: faithful round trip, and nothing in a file gets to run."""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile

import numpy as np
import pytest

from skdigits import ModelFileError, load_model, make_pipeline, save_model
from skdigits.model_io._format import load_metadata


@pytest.fixture(scope="module")
def saved(fitted_pipeline, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "model.skdigits"
    save_model(fitted_pipeline, path, metadata={"metrics": {"test_accuracy": 0.9}})
    return path


def test_round_trip_predicts_identically(fitted_pipeline, saved, small_mnist):
    _, _, X_test, _ = small_mnist
    loaded = load_model(saved)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), fitted_pipeline.predict_proba(X_test)
    )
    assert loaded.get_params(deep=True)["clf__hidden_units"] == 100
    assert loaded[-1].classes_.tolist() == list(range(10))
    assert loaded[-1].history_["loss"] == pytest.approx(fitted_pipeline[-1].history_["loss"])


def test_metadata_is_readable_without_loading_the_model(saved):
    meta = load_metadata(saved)
    assert meta["metadata"]["metrics"]["test_accuracy"] == 0.9
    assert meta["steps"][1]["class"] == "DigitClassifier"
    assert meta["classes"] == list(range(10))


def test_the_archive_holds_no_pickle(saved):
    with zipfile.ZipFile(saved) as zf:
        assert sorted(zf.namelist()) == ["manifest.json", "model.keras"]
        for name in zf.namelist():
            assert b"\x80\x04\x95" not in zf.read(name)[:64]  # pickle protocol 4 header


def _rewrite_manifest(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "manifest.json":
                manifest = json.loads(data)
                change(manifest)
                data = json.dumps(manifest).encode()
            zout.writestr(item, data)
    return dst


def test_a_file_from_before_calibration_loads_at_temperature_one(saved, tmp_path):
    def older(manifest):
        del manifest["temperature"]
        del manifest["steps"][1]["params"]["calibration"]

    loaded = load_model(_rewrite_manifest(saved, tmp_path / "old.skdigits", older))
    assert loaded[-1].temperature_ == 1.0
    assert loaded[-1].calibration == "temperature"  # a refit calibrates, as any new fit


def test_the_digit_threshold_survives_a_save_and_older_files_accept_every_image(
    fitted_pipeline, saved, tmp_path
):
    from skdigits.estimator import is_digit

    loaded = load_model(saved)
    assert loaded[-1].digit_threshold_ == fitted_pipeline[-1].digit_threshold_ > 0.0
    assert loaded[-1].digit_threshold is None

    def older(manifest):
        del manifest["digit_threshold"]
        del manifest["steps"][1]["params"]["digit_threshold"]

    old = load_model(_rewrite_manifest(saved, tmp_path / "old.skdigits", older))
    assert old[-1].digit_threshold_ == 0.0
    assert is_digit(old, np.zeros((3, 28, 28), np.uint8)).all()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "digit_threshold",
            1.5,
            r"`digit_threshold` is 1\.5, expected a finite number in \[0, 1\]",
        ),
        ("digit_threshold", -0.5, r"`digit_threshold` is -0\.5"),
        ("digit_threshold", "0.5", r"`digit_threshold` is '0\.5'"),
        ("digit_threshold", None, r"`digit_threshold` is None"),
        ("digit_threshold_param", 2.0, r"`digit_threshold`.* 2\.0"),
        ("temperature", 0.0, r"`temperature` is 0\.0, expected a finite number in \[0\.01, 100\]"),
        ("temperature", -2.0, r"`temperature` is -2\.0"),
        ("temperature", 1e300, r"`temperature` is 1e\+300"),
        ("temperature", "1.5", r"`temperature` is '1\.5'"),
        ("temperature", None, r"`temperature` is None"),
        ("calibration", "isotonic", r"`calibration` is 'isotonic', expected 'temperature' or None"),
    ],
)
def test_a_manifest_with_a_bad_temperature_or_threshold_is_refused(
    saved, tmp_path, key, value, message
):
    def change(manifest):
        if key in ("temperature", "digit_threshold"):
            manifest[key] = value
        elif key == "digit_threshold_param":
            manifest["steps"][1]["params"]["digit_threshold"] = value
        else:
            manifest["steps"][1]["params"][key] = value

    path = _rewrite_manifest(saved, tmp_path / "bad.skdigits", change)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_a_manifest_naming_another_class_is_refused(saved, tmp_path):
    def evil(m):
        m["steps"][1]["class"] = "os.system"

    path = _rewrite_manifest(saved, tmp_path / "evil.skdigits", evil)
    with pytest.raises(ModelFileError, match="unexpected pipeline steps"):
        load_model(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a skdigits model file"),
        (b"\x80\x04\x95 pickled", "not a skdigits model file"),
    ],
    ids=["empty", "pickle"],
)
def test_files_that_are_not_models_are_refused(tmp_path, content, message):
    path = tmp_path / "model.skdigits"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nope.skdigits")
    with pytest.raises(ModelFileError, match="is a directory"):
        load_model(tmp_path)


def test_saving_an_unfitted_pipeline_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="not fitted"):
        save_model(make_pipeline(), tmp_path / "m.skdigits")
    assert not (tmp_path / "m.skdigits").exists()


def test_a_failed_save_keeps_the_old_file(fitted_pipeline, saved, tmp_path, monkeypatch):
    target = tmp_path / "keep.skdigits"
    target.write_bytes(saved.read_bytes())
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(fitted_pipeline[-1].model_), "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_model(fitted_pipeline, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.skdigits"]


def test_save_model_writes_its_scratch_files_beside_the_target_only(
    fitted_pipeline, tmp_path, monkeypatch
):
    import tempfile

    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    target = tmp_path / "out" / "m.skdigits"
    seen: list[set[str]] = []
    real_save = type(fitted_pipeline[-1].model_).save

    def spying_save(model, path, *args, **kwargs):
        seen.append({p.name for p in target.parent.iterdir()})
        return real_save(model, path, *args, **kwargs)

    monkeypatch.setattr(type(fitted_pipeline[-1].model_), "save", spying_save)
    save_model(fitted_pipeline, target)
    assert list(system_temp.iterdir()) == []  # nothing in the system's temporary folder
    assert any(re.fullmatch(r"\.m\.skdigits\..+\.part", n) for n in seen[0]), seen
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.skdigits"]
    assert load_model(target).predict(np.zeros((1, 28, 28), np.uint8)).shape == (1,)


# ---------------------------------------------------------------- what a file cannot hold


@pytest.fixture
def copy(saved):
    """A fresh copy of the saved pipeline, free to change (the shared fixture is not)."""
    return load_model(saved)


def _strict(data: bytes) -> dict:
    def refuse(name):
        raise ValueError(f"{name} in the manifest")

    return json.loads(data, parse_constant=refuse)


def test_non_finite_and_numpy_metadata_is_saved_as_strict_json(copy, tmp_path):
    path = tmp_path / "m.skdigits"
    metadata = {"val_accuracy": float("nan"), "loss": np.float32(np.inf), "n": np.int64(3)}
    save_model(copy, path, metadata=metadata)
    with zipfile.ZipFile(path) as zf:
        manifest = _strict(zf.read("manifest.json"))  # NaN would not parse
    assert manifest["metadata"] == {"val_accuracy": None, "loss": None, "n": 3}
    assert load_metadata(path)["metadata"]["n"] == 3


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ([1, 2], r"cannot save metadata \[1, 2\]: it must be a dict"),
        ({"when": object()}, r"cannot save metadata .*pass numbers, strings, booleans, lists"),
        ({(1, 2): "tuple key"}, r"cannot save metadata .*with string keys"),
    ],
    ids=["a-list", "an-object", "a-tuple-key"],
)
def test_metadata_json_cannot_hold_is_refused_and_the_old_file_kept(
    copy, saved, tmp_path, metadata, message
):
    target = tmp_path / "keep.skdigits"
    target.write_bytes(saved.read_bytes())
    with pytest.raises(ModelFileError, match=message) as info:
        save_model(copy, target, metadata=metadata)
    assert "\n" not in str(info.value)
    assert target.read_bytes() == saved.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["keep.skdigits"]


def test_numpy_parameters_from_a_grid_are_saved_as_python_numbers(copy, tmp_path):
    copy[-1].set_params(hidden_units=np.int64(100), optimizer__learning_rate=np.float32(0.001))
    path = save_model(copy, tmp_path / "m.skdigits")
    params = load_model(path)[-1].get_params()
    assert type(params["hidden_units"]) is int
    assert params["hidden_units"] == 100
    assert params["optimizer__learning_rate"] == pytest.approx(0.001)


def test_a_non_finite_parameter_is_refused_at_save_naming_it(copy, tmp_path):
    copy[-1].set_params(class_weight={0: float("nan")})
    with pytest.raises(
        ModelFileError, match=r"parameter `clf__class_weight`=\{0: nan\}: it holds a NaN"
    ):
        save_model(copy, tmp_path / "m.skdigits")
    assert list(tmp_path.iterdir()) == []


def test_labels_a_model_file_cannot_hold_are_refused_at_save_not_at_load(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, (20, 784))
    pipe = make_pipeline(hidden_units=4, epochs=1, random_state=0).fit(X, np.arange(20.0) % 2)
    with pytest.raises(
        ModelFileError,
        match=r"cannot save .*m\.skdigits: the model's `classes` are not distinct integers "
        r"\(or short strings\), which a \.skdigits file cannot hold",
    ):
        save_model(pipe, tmp_path / "m.skdigits")
    assert list(tmp_path.iterdir()) == []


def test_a_model_of_zeros_is_not_taken_for_a_zip_bomb(tmp_path):
    """3 MB of zero weights deflate over 50:1; they are stored as they are, and load."""
    X, y = np.zeros((10, 784), np.uint8), np.arange(10)
    pipe = make_pipeline(hidden_units=1000)
    pipe[-1].initialize(pipe[0].fit_transform(X), y)  # built, never trained: no optimizer state
    model = pipe[-1].model_
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    path = save_model(pipe, tmp_path / "zeros.skdigits")
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("model.keras")
    assert info.file_size > 3_000_000
    assert info.compress_type == zipfile.ZIP_STORED
    loaded = load_model(path)
    assert not any(w.any() for w in loaded[-1].model_.get_weights())


def test_a_history_longer_than_a_file_holds_keeps_its_last_epochs(copy, tmp_path):
    copy[-1].history_ = {"loss": [float(i) for i in range(100_005)]}
    path = save_model(copy, tmp_path / "m.skdigits")
    history = load_model(path)[-1].history_["loss"]
    assert len(history) == 100_000
    assert history[-1] == 100_004.0


def test_class_weight_keeps_integer_classes_through_a_save(copy, tmp_path):
    copy[-1].set_params(class_weight={0: 2.0, 7: 0.5})
    loaded = load_model(save_model(copy, tmp_path / "m.skdigits"))
    assert loaded[-1].get_params()["class_weight"] == {0: 2.0, 7: 0.5}  # not {"0": 2.0, ...}


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_saving_onto_a_directory_or_a_pipe_is_refused_and_it_stays(copy, tmp_path, kind):
    target = tmp_path / "target"
    if kind == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)
    with pytest.raises(ModelFileError, match=r"cannot save to .*target: it is a directory, device"):
        save_model(copy, target)
    assert target.is_dir() if kind == "directory" else stat.S_ISFIFO(target.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["target"]


@pytest.mark.parametrize("where", ["weights", "history"])
def test_a_model_whose_training_diverged_is_refused_at_save(copy, tmp_path, where):
    if where == "weights":
        model = copy[-1].model_
        model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    else:
        copy[-1].history_ = {"loss": [0.5, float("nan")]}
    with pytest.raises(
        ModelFileError, match=r"weights or training losses are NaN or infinite \(its training"
    ):
        save_model(copy, tmp_path / "m.skdigits")
    assert list(tmp_path.iterdir()) == []

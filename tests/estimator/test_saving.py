"""The saved-model format: faithful round trip, and nothing in a file gets to run."""

from __future__ import annotations

import json
import re
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

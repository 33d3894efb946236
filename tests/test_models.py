"""skdigits.models: one route from a model file of any kind to a predictor."""

from __future__ import annotations

import pickle

import pytest

from skdigits import ModelFileError, load_predictor
from skdigits.models import model_kind


def test_a_pickle_is_refused_in_python_naming_the_keyword(tmp_path):
    path = tmp_path / "model.bin"  # no pickle suffix: found by its first bytes
    path.write_bytes(pickle.dumps({"not": "a model"}))
    assert model_kind(path) == "pickle"
    with pytest.raises(ModelFileError, match=r"pass allow_pickle=True only if you trust the file"):
        load_predictor(path)


def test_the_kind_follows_the_suffix_or_the_content(tmp_path):
    assert model_kind(tmp_path / "m.onnx") == "onnx"
    assert model_kind(tmp_path / "m.skdigits") == "skdigits"
    assert model_kind(tmp_path / "m.joblib") == "pickle"


def test_a_missing_onnx_file_is_one_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_predictor(tmp_path / "nothing.onnx")

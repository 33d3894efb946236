"""skdigits.models: one route from a model file of any kind to a predictor."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from skdigits import ModelFileError, load_predictor
from skdigits.models import PipelinePredictor, model_kind


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


def test_a_saved_pipeline_under_another_name_is_opened_as_one(tmp_path):
    import zipfile

    path = tmp_path / "model"  # a .skdigits archive renamed: its content says what it is
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", "{}")
    assert model_kind(path) == "skdigits"
    assert model_kind(tmp_path / "missing") == "onnx"  # the ONNX reader says it is missing


def test_a_missing_onnx_file_is_one_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_predictor(tmp_path / "nothing.onnx")


def test_an_input_file_given_as_the_model_is_named_for_what_it_is(tmp_path):
    from tests._support.hostile import png_bytes

    path = tmp_path / "seven.skdigits"  # the suffix does not decide: the content does
    path.write_bytes(png_bytes())
    with pytest.raises(
        ModelFileError, match=r"seven\.skdigits' is a PNG image, not a model; pass a model file"
    ):
        load_predictor(path)


class _BrokenPipeline:
    """Stands in for a fitted pipeline whose network answers NaN for the second image."""

    classes_ = np.arange(10)

    def predict_proba(self, X):
        if len(X) == 0:  # as scikit-learn's check_array refuses an empty batch
            raise ValueError("Found array with 0 sample(s) (shape=(0, 784))")
        proba = np.full((len(X), 10), 0.1, dtype=np.float32)
        proba[1:2] = np.nan
        return proba


def test_a_pipeline_answering_nan_is_named_not_argmaxed():
    predictor = PipelinePredictor(_BrokenPipeline(), "'m.skdigits'")
    with pytest.raises(ModelFileError, match=r"'m\.skdigits' gave probabilities that are not "):
        predictor.predict_with_proba(np.zeros((3, 28, 28), np.uint8))
    assert predictor.predict_with_proba(np.zeros((1, 28, 28), np.uint8))[0].tolist() == [0]


def test_an_empty_batch_gives_empty_results_from_a_pipeline_too():
    # What `skdigits predict m.skdigits` asks when no input could be read.
    labels, proba = PipelinePredictor(_BrokenPipeline()).predict_with_proba(
        np.zeros((0, 28, 28), np.float32)
    )
    assert labels.shape == (0,)
    assert proba.shape == (0, 10)

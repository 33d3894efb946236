"""Shared by the hostile-input tests: the files they attack with, and no network."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from skdigits.datasets import _mnist
from tests._support.files import write
from tests._support.hostile import (
    NOISE,
    X10,
    Y10,
    Evil,
    save_npy,
)
from tests._support.onnx_models import build_model


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Models and inputs shared by the tables: a good synthetic ONNX model, foreign ones, pickles.

    ``marker`` is the file the pickles create if they are ever loaded.
    """
    import joblib

    d = tmp_path_factory.mktemp("hostile")
    # The refusals prove something only if loading this pickle would run its code.
    probe = d / "probe"
    pickle.loads(pickle.dumps(Evil(probe))).close()  # what loads returns: the open file
    assert probe.exists(), "the pickle the tests attack with must run code when unpickled"
    evil = pickle.dumps(Evil(d / "PWNED"))
    out = {
        "onnx": build_model(d / "digits.onnx"),
        "cifar_onnx": build_model(d / "cifar.onnx", input_shape=["N", 3, 32, 32]),
        "other_outputs_onnx": build_model(
            d / "other.onnx", output_names=("output_label", "output_probability")
        ),
        "evil_pkl": write(d / "evil.pkl", evil),
        "evil_joblib": write(d / "evil.joblib", evil),
        "evil_as_onnx": write(d / "evil.onnx", evil),
        "digits_npy": save_npy(d / "digits.npy", np.zeros((3, 28, 28), np.uint8)),
        "object_npy": d / "object.npy",
        "nan_npy": save_npy(d / "nan.npy", np.full((2, 28, 28), np.nan)),
        "noise_npy": save_npy(d / "noise.npy", NOISE),
        "readme": write(d / "README.md", b"# My digits\n\nSee the .npy files.\n"),
        "model_zip": d / "m.skdigits",
        "npz": d / "a.npz",
        "dict_joblib": d / "dict.joblib",
        "marker": d / "PWNED",
    }
    with zipfile.ZipFile(out["model_zip"], "w") as archive:
        archive.writestr("manifest.json", "{}")
    np.savez(out["npz"], images=X10, labels=Y10)
    np.save(out["object_npy"], np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    joblib.dump({"not": "a model"}, out["dict_joblib"])
    return out


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No case reaches the network; the real MNIST cache is read, never written."""
    monkeypatch.setattr(_mnist, "DOWNLOAD_SOURCES", ())

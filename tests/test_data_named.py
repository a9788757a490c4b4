"""Named data sets the Keras way: Keras cache, optional mirror, clear errors."""

import gzip
import os
import pickle

import numpy as np
import pytest

from keras_gan_stable.data import load_arrays
from keras_gan_stable.data.named import keras_cache_dir
from test_data import _raises_one_line  # the shared one-line check


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh HOME with no Keras home override and no data mirror."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv("KERAS_GAN_STABLE_DATA", raising=False)
    cache = tmp_path / ".keras" / "datasets"
    assert keras_cache_dir() == str(cache)
    return cache


def _fake_mnist(cache, rng):
    cache.mkdir(parents=True)
    arrays = {"x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "y_train": np.arange(6, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
              "y_test": np.arange(4, dtype=np.uint8) + 5}
    np.savez(cache / "mnist.npz", **arrays)
    return arrays


def test_mnist_from_the_keras_cache_offline(home, rng):
    arrays = _fake_mnist(home, rng)
    x, y = load_arrays("mnist", labels=True, download=False)
    # uint8 -> [-1, 1] is x / 127.5 - 1, exact to float32 rounding.
    np.testing.assert_allclose(x[..., 0], arrays["x_train"] / 127.5 - 1.0,
                               atol=1e-6)
    np.testing.assert_array_equal(y, arrays["y_train"])
    assert x.shape == (6, 28, 28, 1)
    # The default (download=None) finds the cache and never goes online.
    np.testing.assert_array_equal(load_arrays("mnist"), x)
    xt, yt = load_arrays("mnist", split="test", labels=True)
    np.testing.assert_array_equal(yt, arrays["y_test"])
    xa, ya = load_arrays("mnist", split="all", labels=True)
    np.testing.assert_array_equal(xa, np.concatenate([x, xt]))
    np.testing.assert_array_equal(ya, np.concatenate([y, yt]))
    _raises_one_line(lambda: load_arrays("mnist", split="valid"), "split='valid'",
              "'train', 'test', 'all'")


def test_missing_named_set_names_the_path_and_download(home, monkeypatch):
    path = str(home / "mnist.npz")
    _raises_one_line(lambda: load_arrays("mnist", download=False), path,
              "download=True", "--download")
    # With the offline machine's default, keras.datasets tries the network
    # and fails; the error still names the cache path and the option.
    monkeypatch.setattr("keras.datasets.mnist.load_data", _offline)
    _raises_one_line(lambda: load_arrays("mnist"), path, "download=True",
              "no network")
    _raises_one_line(lambda: load_arrays("cifar100", download=False),
              str(home / "cifar-100-python-target"), "download=True")


def _offline(*args, **kwargs):
    raise Exception("URL fetch failure on https://x: no network")


def test_mirror_holds_mnist_test_only(home, monkeypatch):
    from keras_gan_stable.data.idx import read_idx

    mirror = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "shared", "data")
    monkeypatch.setenv("KERAS_GAN_STABLE_DATA", mirror)
    msg = _raises_one_line(lambda: load_arrays("mnist", download=False),
                    "only the test split", "split='test'", "download=True")
    assert mirror in msg
    x, y = load_arrays("mnist", split="test", labels=True, max_samples=50)
    raw = read_idx(os.path.join(mirror, "mnist", "t10k-images-idx3-ubyte.gz"))
    np.testing.assert_allclose(x[..., 0], raw[:50] / 127.5 - 1.0, atol=1e-6)
    assert y.shape == (50,)


def test_fashion_and_cifar_caches(home, rng):
    fm = home / "fashion-mnist"
    fm.mkdir(parents=True)
    imgs = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    for prefix in ("train", "t10k"):
        with gzip.open(fm / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28]))
            f.write(imgs.tobytes())
        with gzip.open(fm / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    x, y = load_arrays("fashion_mnist", labels=True)
    np.testing.assert_allclose(x[..., 0], imgs / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(y, [7, 8, 9])
    # CIFAR batches as keras.datasets caches them: rows of 3x32x32 planes.
    folder = home / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    planes = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        planes[name] = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": planes[name].reshape(2, -1),
                         b"labels": [1, 2]}, f)
    x = load_arrays("cifar10", split="test")
    expected = planes["test_batch"].transpose(0, 2, 3, 1) / 127.5 - 1.0
    np.testing.assert_allclose(x, expected, atol=1e-6)
    assert load_arrays("cifar10").shape == (10, 32, 32, 3)


def test_split_on_a_single_set_source_and_tfds():
    from keras_gan_stable.data.loaders import tfds_split

    _raises_one_line(lambda: load_arrays("digits", split="test"), "split='test'",
              "split=None")
    assert tfds_split("tfds:mnist", None) == "train"
    assert tfds_split("tfds:mnist:test", None) == "test"
    assert tfds_split("tfds:mnist", "all") == "all"
    _raises_one_line(lambda: tfds_split("tfds:mnist:test", "train"), "'test'",
              "split='train'", "one place")

"""Streaming image folders: tf.data and PyDataset give the in-memory values."""

import os

import numpy as np
import pytest
from PIL import Image

from keras_gan_stable.data import DataError
from keras_gan_stable.data import ImageFolderDataset
from keras_gan_stable.data import load_arrays
from keras_gan_stable.data import load_dataset


def _folder(root, n_per_class=5, size=(10, 12), mode="RGB"):
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        os.makedirs(root / cls / "deep", exist_ok=True)
        for i in range(n_per_class):
            shape = size + ((3,) if mode == "RGB" else ())
            sub = "deep" if i % 2 else ""
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8),
                            mode=mode).save(root / cls / sub / f"{i}.png")
    return root


def _sorted_rows(x, y):
    # Order-free comparison: sort samples by their bytes.
    keys = [xi.tobytes() + bytes([int(yi)]) for xi, yi in zip(x, y)]
    order = np.argsort(keys)
    return x[order], y[order]


def test_tf_data_stream_equals_in_memory(tmp_path):
    folder = str(_folder(tmp_path))
    x, y = load_arrays(folder, labels=True, image_size=(8, 6))
    for stream in (True, None):  # None: a small folder stays in memory
        ds = load_dataset(folder, batch_size=3, labels=True, stream=stream,
                          image_size=(8, 6), seed=1, drop_remainder=False)
        batches = list(ds.as_numpy_iterator())
        assert [len(b[0]) for b in batches] == [3, 3, 3, 1]
        sx = np.concatenate([b[0] for b in batches])
        sy = np.concatenate([b[1] for b in batches])
        # Same PIL decoding and the same float32 scaling: equal values.
        ex, ey = _sorted_rows(x, y)
        gx, gy = _sorted_rows(sx, sy)
        np.testing.assert_array_equal(gx, ex)
        np.testing.assert_array_equal(gy, ey)
    assert not np.array_equal(sx, x)  # shuffled
    ordered = np.concatenate(list(load_dataset(
        folder, batch_size=5, stream=True, shuffle=False,
        image_size=(8, 6)).as_numpy_iterator()))
    np.testing.assert_array_equal(ordered, x)


def test_streamed_folder_errors_match_in_memory(tmp_path):
    folder = _folder(tmp_path / "f")
    Image.fromarray(np.zeros((20, 16, 3), np.uint8)).save(folder / "big.png")
    for stream in (True, False):
        with pytest.raises(DataError, match="different sizes.*image_size"):
            load_dataset(str(folder), stream=stream, batch_size=2)
    os.remove(folder / "big.png")
    bad = folder / "a" / "broken.png"
    bad.write_bytes((folder / "b" / "0.png").read_bytes()[:60])
    # A truncated file passes the header scan and fails on decoding, with
    # the file named, mid-epoch.
    ds = load_dataset(str(folder), stream=True, batch_size=11, shuffle=False)
    with pytest.raises(Exception, match="Corrupt image file .*broken.png"):
        list(ds.as_numpy_iterator())
    with pytest.raises(DataError, match="fewer than one batch"):
        load_dataset(str(folder), stream=True, batch_size=64)
    with pytest.raises(DataError, match="split='test'"):
        load_dataset(str(folder), stream=True, split="test")


@pytest.mark.multibackend
def test_pydataset_streams_the_in_memory_values(tmp_path):
    folder = str(_folder(tmp_path, mode="L"))
    x, y = load_arrays(folder, labels=True)
    ds = ImageFolderDataset(folder, batch_size=4, labels=True, seed=3)
    assert len(ds) == 2  # 10 images, remainder dropped
    first = [ds[i] for i in range(len(ds))]
    bx = np.concatenate([b[0] for b in first])
    by = np.concatenate([b[1] for b in first])
    assert bx.shape == (8, 10, 12, 1) and bx.dtype == np.float32
    # Every streamed image is one of the folder's, with its label.
    for img, label in zip(bx, by):
        match = [i for i in range(len(x)) if np.array_equal(x[i], img)]
        assert len(match) == 1 and y[match[0]] == label
    ds.on_epoch_end()
    assert not np.array_equal(ds[0][0], first[0][0])  # a new order
    plain = ImageFolderDataset(folder, batch_size=3, shuffle=False,
                               drop_remainder=False)
    assert len(plain) == 4
    np.testing.assert_array_equal(np.concatenate(
        [plain[i] for i in range(4)]), x)
    with pytest.raises(DataError, match="fewer than one batch"):
        ImageFolderDataset(folder, batch_size=64)


@pytest.mark.multibackend
def test_gan_fits_a_streamed_folder(tmp_path):
    import keras

    from keras_gan_stable import GAN

    folder = str(_folder(tmp_path, n_per_class=4, size=(6, 6), mode="L"))
    # Dense networks: the backend's data plumbing is under test, and they
    # compile in a fraction of a convolutional GAN's time on JAX.
    g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(36, "tanh"),
                          keras.layers.Reshape((6, 6, 1))])
    d = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(1)])
    gan = GAN(g, d, latent_dim=4)
    gan.compile(n_critic=1)
    ds = ImageFolderDataset(folder, batch_size=4)
    gan.fit(ds, epochs=1, verbose=0)
    # Two batches of 4 = two D and two G steps.
    assert int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)) == 2

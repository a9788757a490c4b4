"""Data loaders: every source against an independent reading, every bad input."""

import gzip
import os

import numpy as np
import pytest
from PIL import Image

from keras_gan_stable.data import DataError
from keras_gan_stable.data import load_arrays
from keras_gan_stable.data import load_dataset
from keras_gan_stable.data import mixture_modes
from keras_gan_stable.data.paths import data_path


def _raises_one_line(fn, *fragments):
    with pytest.raises(DataError) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


# ---------------------------------------------------------------------- #
# Built-in sources
# ---------------------------------------------------------------------- #
def test_digits_match_scikit_learn():
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = load_arrays("digits", image_size=8, labels=True)
    np.testing.assert_allclose(x[..., 0], d.images / 8.0 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(y, d.target)
    big = load_arrays("digits")  # default: resized to 32x32
    assert big.shape == (1797, 32, 32, 1) and big.dtype == np.float32
    assert big.min() >= -1.0 and big.max() <= 1.0
    # Bilinear upsampling keeps each image's mean grey level closely.
    np.testing.assert_allclose(big.mean(axis=(1, 2, 3)),
                               x.mean(axis=(1, 2, 3)), atol=0.06)


@pytest.mark.parametrize("name,n_modes,std", [("ring8", 8, 0.01),
                                              ("grid25", 25, 0.05)])
def test_mixtures_have_the_published_modes(name, n_modes, std):
    centres, s = mixture_modes(name)
    assert centres.shape == (n_modes, 2) and s == std
    if name == "ring8":
        np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 1.0,
                                   atol=1e-6)
    else:
        assert sorted(set(centres[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    x, y = load_arrays(name, num_samples=20000, labels=True)
    assert x.shape == (20000, 2)
    residual = x - centres[y]
    np.testing.assert_allclose(residual.std(axis=0), std, rtol=0.05)
    nearest = np.linalg.norm(x[:, None] - centres[None], axis=-1).argmin(1)
    np.testing.assert_array_equal(nearest, y)
    assert np.bincount(y, minlength=n_modes).min() > 20000 / n_modes * 0.8


def test_mnist_idx_file_matches_reader():
    from keras_gan_stable.data.idx import load_mnist_test

    ref_x, ref_y = load_mnist_test()
    path = data_path("mnist", "t10k-images-idx3-ubyte.gz")
    x, y = load_arrays(path, labels=True, max_samples=500)
    np.testing.assert_allclose(x, ref_x[:500], atol=1e-6)
    np.testing.assert_array_equal(y, ref_y[:500])
    # Independent decoding of the first image from the raw bytes.
    with gzip.open(path, "rb") as f:
        raw = f.read(16 + 784)
    first = np.frombuffer(raw[16:], np.uint8).reshape(28, 28)
    np.testing.assert_allclose(x[0, ..., 0], first / 127.5 - 1.0, atol=1e-6)


def test_corrupt_idx_file(tmp_path):
    path = tmp_path / "bad-images-idx3-ubyte.gz"
    path.write_bytes(b"not gzip at all")
    _raises_one_line(lambda: load_arrays(str(path)), str(path))


# ---------------------------------------------------------------------- #
# Image folders
# ---------------------------------------------------------------------- #
def _write_folder(root, size=(12, 10), mode="L"):
    rng = np.random.default_rng(0)
    arrays = {}
    for cls in ("cat", "dog"):
        os.makedirs(root / cls / "nested", exist_ok=True)
        for i in range(3):
            shape = (size[1], size[0]) + (() if mode == "L" else (3,))
            a = rng.integers(0, 256, shape, dtype=np.uint8)
            sub = "nested" if i == 2 else ""
            p = root / cls / sub / f"{i}.png"
            Image.fromarray(a, mode=mode).save(p)
            arrays[str(p)] = (a, cls)
    return arrays


def test_image_folder_values_and_labels(tmp_path):
    arrays = _write_folder(tmp_path)
    x, y = load_arrays(str(tmp_path), labels=True)
    assert x.shape == (6, 10, 12, 1)
    files = sorted(arrays)  # the loader walks in sorted order
    for i, f in enumerate(sorted(arrays, key=lambda p: (
            os.path.relpath(p, tmp_path).split(os.sep)[0],
            os.path.dirname(p), p))):
        a, cls = arrays[f]
        np.testing.assert_allclose(x[i, ..., 0], a / 127.5 - 1.0, atol=1e-6)
        assert y[i] == {"cat": 0, "dog": 1}[cls]
    assert len(files) == 6


def test_image_folder_rgb_to_grey_matches_pil(tmp_path):
    arrays = _write_folder(tmp_path, mode="RGB")
    x = load_arrays(str(tmp_path))
    assert x.shape[-1] == 3
    grey = load_arrays(str(tmp_path), channels=1)
    f = sorted(arrays)[0]
    ref = np.asarray(Image.open(f).convert("L"), np.float32) / 127.5 - 1.0
    assert any(np.allclose(g[..., 0], ref, atol=1e-6) for g in grey)


def test_image_folder_mixed_sizes(tmp_path):
    _write_folder(tmp_path)
    Image.fromarray(np.zeros((20, 16), np.uint8)).save(tmp_path / "big.png")
    _raises_one_line(lambda: load_arrays(str(tmp_path)), "different sizes",
                     "image_size")
    x = load_arrays(str(tmp_path), image_size=(8, 8))
    assert x.shape == (7, 8, 8, 1)
    # A constant image stays constant when resized.
    assert any(np.allclose(img, -1.0) for img in x)


def test_image_folder_errors(tmp_path):
    _raises_one_line(lambda: load_arrays(str(tmp_path / "missing")),
                     "does not exist", str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    _raises_one_line(lambda: load_arrays(str(empty)), "holds no PNG/JPEG",
                     str(empty))
    _write_folder(tmp_path / "data")
    bad = tmp_path / "data" / "cat" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    _raises_one_line(lambda: load_arrays(str(tmp_path / "data")),
                     "Corrupt image file", str(bad))
    # A truncated file passes the header check and fails on decoding.
    good = tmp_path / "data" / "dog" / "0.png"
    bad.write_bytes(good.read_bytes()[:60])
    _raises_one_line(lambda: load_arrays(str(tmp_path / "data")),
                     "Corrupt image file", str(bad))
    _raises_one_line(lambda: load_arrays("digits", channels=2),
                     "channels=2")


# ---------------------------------------------------------------------- #
# NumPy files
# ---------------------------------------------------------------------- #
def test_npz_and_npy_values(tmp_path, rng):
    u8 = rng.integers(0, 256, (10, 8, 8), dtype=np.uint8)
    labels = np.arange(10) % 3
    np.savez(tmp_path / "d.npz", images=u8, labels=labels)
    x, y = load_arrays(str(tmp_path / "d.npz"), labels=True)
    np.testing.assert_allclose(x[..., 0], u8 / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(y, labels)
    f = rng.uniform(-1, 1, (10, 8, 8, 3)).astype("float32")
    np.save(tmp_path / "f.npy", f)
    np.testing.assert_array_equal(load_arrays(str(tmp_path / "f.npy")), f)
    g = (f + 1.0) * 0.5  # [0, 1] floats need their range stated
    np.save(tmp_path / "g.npy", g)
    _raises_one_line(lambda: load_arrays(str(tmp_path / "g.npy")),
                     "value_range=(0, 1)")
    np.testing.assert_allclose(
        load_arrays(str(tmp_path / "g.npy"), value_range=(0, 1)), f,
        atol=1e-6)
    # RGB -> grey with the ITU-R 601 weights, grey -> RGB by repetition.
    grey = load_arrays(str(tmp_path / "f.npy"), channels=1)
    np.testing.assert_allclose(grey[..., 0], f @ [0.299, 0.587, 0.114],
                               atol=1e-5)
    rgb = load_arrays(str(tmp_path / "d.npz"), channels=3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_numpy_bad_inputs(tmp_path):
    x = np.zeros((4, 8, 8, 1), "float32")
    x[2, 3, 3] = np.nan
    np.save(tmp_path / "nan.npy", x)
    _raises_one_line(lambda: load_arrays(str(tmp_path / "nan.npy")),
                     "NaN", "index 2", "nan.npy")
    np.save(tmp_path / "range.npy", np.full((4, 8, 8), 255.0, "float32"))
    _raises_one_line(lambda: load_arrays(str(tmp_path / "range.npy")),
                     "[255, 255]", "value_range")
    np.save(tmp_path / "int.npy", np.zeros((4, 8, 8), "int64"))
    _raises_one_line(lambda: load_arrays(str(tmp_path / "int.npy")),
                     "int64", "uint8")
    np.save(tmp_path / "ch.npy", np.zeros((4, 8, 8, 2), "uint8"))
    _raises_one_line(lambda: load_arrays(str(tmp_path / "ch.npy")),
                     "found 2 channels")
    np.save(tmp_path / "chw.npy", np.zeros((4, 3, 8, 8), "uint8"))
    _raises_one_line(lambda: load_arrays(str(tmp_path / "chw.npy")),
                     "channels-first", "np.transpose")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object),
            allow_pickle=True)
    _raises_one_line(lambda: load_arrays(str(tmp_path / "obj.npy")),
                     "obj.npy", "object arrays")
    np.savez(tmp_path / "keys.npz", foo=np.zeros((2, 8, 8)),
             bar=np.zeros(2))
    _raises_one_line(lambda: load_arrays(str(tmp_path / "keys.npz")),
                     "'images'", "keys.npz")
    np.save(tmp_path / "nolabels.npy", np.zeros((4, 8, 8), "uint8"))
    _raises_one_line(lambda: load_arrays(str(tmp_path / "nolabels.npy"),
                                         labels=True), "labels=False")
    _raises_one_line(lambda: load_arrays(str(tmp_path / "none.npz")),
                     "does not exist")


def test_unknown_source_and_tfds_offline(tmp_path):
    _raises_one_line(lambda: load_arrays("celeba"), "Unknown data source",
                     "'celeba'", "tfds:")
    msg = _raises_one_line(
        lambda: load_dataset("tfds:mnist", data_dir=str(tmp_path)),
        "tfds:mnist is not available offline", str(tmp_path), "tfds build")
    assert "download=True" in msg
    _raises_one_line(lambda: load_dataset("tfds:no_such_set_xyz"),
                     "not a TensorFlow Datasets name")


def test_load_dataset_matches_arrays():
    x, y = load_arrays("digits", labels=True, max_samples=100)
    ds = load_dataset("digits", batch_size=32, labels=True, max_samples=100,
                      shuffle=False)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 3  # 100 // 32, remainder dropped
    bx = np.concatenate([b[0] for b in batches])
    by = np.concatenate([b[1] for b in batches])
    np.testing.assert_allclose(bx, x[:96], atol=1e-6)
    np.testing.assert_array_equal(by, y[:96])
    shuffled = np.concatenate(list(load_dataset(
        "digits", batch_size=50, max_samples=100, seed=1).as_numpy_iterator()))
    # The same images, in another order.
    np.testing.assert_allclose(np.sort(shuffled.ravel()),
                               np.sort(x.ravel()), atol=1e-6)
    assert not np.allclose(shuffled, x)
    _raises_one_line(lambda: load_dataset("digits", batch_size=4096),
                     "fewer than one batch")

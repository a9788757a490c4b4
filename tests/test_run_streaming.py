"""The run API streams large image folders (`data.stream`) and stays exact:
the lazy `FolderImages` view holds the in-memory values, a streamed run
trains bitwise as the in-memory one, and resumes bitwise."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from keras_gan_stable.callbacks.checkpoint import ResumableBatches
from keras_gan_stable.callbacks.checkpoint import list_checkpoints
from resume_check import stop_on_batch
from keras_gan_stable.data import DataError
from keras_gan_stable.data import load_arrays
from keras_gan_stable.data import loaders
from keras_gan_stable.data.folder_array import FolderImages
from keras_gan_stable.data.folder_array import should_stream
from keras_gan_stable.run import Run
from keras_gan_stable.run import RunConfig
from keras_gan_stable.run import _real_images
from keras_gan_stable.utils.config import ConfigError


def _folder(root, n=40, size=(8, 8), mode="RGB"):
    """`n` random PNGs in two class sub-folders (one nested deeper)."""
    rng = np.random.default_rng(0)
    for i in range(n):
        sub = os.path.join(root, "ab"[i % 2], "deep" if i % 3 == 0 else "")
        os.makedirs(sub, exist_ok=True)
        shape = size + ((3,) if mode == "RGB" else ())
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8),
                        mode=mode).save(os.path.join(sub, f"{i:03d}.png"))
    return str(root)


@pytest.mark.parametrize("mode,kwargs", [
    ("RGB", {}),
    ("L", {}),
    ("RGB", {"image_size": (6, 10)}),           # resized on decode
    ("L", {"image_size": 5, "channels": 3}),    # grey -> RGB, resized
    ("RGB", {"channels": 1, "max_samples": 25, "value_range": (0, 510)}),
])
def test_folder_view_holds_the_in_memory_arrays(tmp_path, mode, kwargs):
    folder = _folder(tmp_path / "f", mode=mode)
    x, y = load_arrays(folder, labels=True, **kwargs)
    view = FolderImages(folder, **kwargs)
    assert view.shape == x.shape and view.dtype == x.dtype == np.float32
    assert (view.ndim, len(view)) == (4, len(x))
    np.testing.assert_array_equal(view.labels, y)
    # Same PIL decoding, same float32 arithmetic: equal bits, any indexing.
    np.testing.assert_array_equal(view[:], x)
    np.testing.assert_array_equal(view[3], x[3])
    np.testing.assert_array_equal(view[-1], x[-1])
    np.testing.assert_array_equal(view[5:17:3], x[5:17:3])
    idx = np.array([7, 0, 7, len(x) - 1, -2])
    np.testing.assert_array_equal(view[idx], x[idx])
    np.testing.assert_array_equal(view[y == 1], x[y == 1])
    np.testing.assert_array_equal(np.asarray(view), x)
    with pytest.raises(IndexError, match="out of bounds"):
        view[np.array([0, len(x)])]


def test_view_resized_and_batched_like_the_array(tmp_path):
    folder = _folder(tmp_path / "f")
    view = FolderImages(folder, workers=3)
    resized = view.with_image_size(12)
    np.testing.assert_array_equal(resized[:], load_arrays(folder,
                                                          image_size=12))
    np.testing.assert_array_equal(view.labels, resized.labels)
    x, y = load_arrays(folder, labels=True)
    lazy = ResumableBatches(view, 8, y=view.labels, seed=3)
    eager = ResumableBatches(x, 8, y=y, seed=3)
    assert lazy.x is view  # not decoded into memory
    for epoch, index in ((0, 0), (0, 4), (2, 1)):
        for a, b in zip(lazy.batch(epoch, index), eager.batch(epoch, index)):
            np.testing.assert_array_equal(a, b)


def test_auto_streams_above_the_decoded_size(tmp_path, monkeypatch):
    """`auto` streams when N x H x W x C (uint8 bytes) exceeds the limit:
    40 RGB 8x8 images are 7,680 bytes, 20 of them 3,840, grey 2,560."""
    folder = _folder(tmp_path / "f")
    grey = _folder(tmp_path / "g", mode="L")
    monkeypatch.setattr(loaders, "STREAM_ABOVE_BYTES", 7680)
    assert not should_stream(folder, "auto")
    assert should_stream(folder, True) and not should_stream(folder, False)
    monkeypatch.setattr(loaders, "STREAM_ABOVE_BYTES", 7679)
    assert should_stream(folder, "auto")
    assert not should_stream(folder, "auto", max_samples=20)  # 3,840
    # 20 x 8 x 16 x 3 = 7,680 bytes.
    assert should_stream(folder, "auto", max_samples=20, image_size=(8, 16))
    assert not should_stream(grey, "auto")  # 2,560
    assert should_stream(grey, "auto", channels=3)
    assert not should_stream("digits", True)  # not a folder: in memory


def test_metrics_decode_only_the_images_they_use(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "f")
    x, y = load_arrays(folder, labels=True)
    calls = []
    decode = loaders.decode_image
    monkeypatch.setattr(loaders, "decode_image",
                        lambda *a: calls.append(a[0]) or decode(*a))
    d = RunConfig(data={"source": folder, "stream": True}).to_dict()["data"]
    real, labels = _real_images(folder, d, (10, 8, 8, 3), num=10, seed=4)
    assert len(calls) == 10  # 10 of the 40 files decoded, no more
    idx = np.sort(np.random.default_rng(4).choice(40, 10, replace=False))
    np.testing.assert_array_equal(real, x[idx])
    np.testing.assert_array_equal(labels, y[idx])


# ---------------------------------------------------------------------- #
# Runs: 40 12x12 images, resized to 16 for sngan (`fitting_size`), two
# classes (`labels: auto`), 5 steps an epoch, 2 epochs.
# ---------------------------------------------------------------------- #
def _config(folder, stream):
    return RunConfig.from_recipe("sngan", overrides=[
        f"data.source={folder}", f"data.stream={stream}", "data.labels=auto",
        "model.width=8", "model.latent_dim=8", "train.batch_size=8",
        "train.epochs=2", "output.samples=4", "output.fid_samples=0",
        "output.tensorboard=false", "output.plots=false",
        "output.export=false"])


def _final_state(run_dir):
    newest = list_checkpoints(os.path.join(run_dir, "checkpoints"))[0]
    return np.load(os.path.join(newest, "state.npz"))


def _assert_same_state(a, b):
    # Keys are "<position>:<variable path>": compare by position.
    assert len(a.files) == len(b.files) > 10
    for ka, kb in zip(sorted(a.files), sorted(b.files)):
        assert ka.split(":")[0] == kb.split(":")[0]
        np.testing.assert_array_equal(a[ka], b[kb], err_msg=ka)


@pytest.fixture(scope="module")
def in_memory_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    folder = _folder(root / "data", size=(12, 12))
    run = Run(_config(folder, "false"), out_dir=str(root / "memory"),
              verbose=0)
    assert isinstance(run.batches.x, np.ndarray)
    run.fit()
    return folder, str(root / "memory")


def test_streamed_run_trains_bitwise_as_in_memory(in_memory_run, tmp_path):
    folder, memory = in_memory_run
    run = Run(_config(folder, "true"), out_dir=str(tmp_path / "s"),
              verbose=0)
    assert isinstance(run.batches.x, FolderImages)
    assert run.data_shape == (16, 16, 3) and run.num_classes == 2
    run.fit()
    _assert_same_state(_final_state(memory), _final_state(str(tmp_path / "s")))


def test_streamed_run_stopped_mid_epoch_resumes_bitwise(in_memory_run,
                                                        tmp_path):
    folder, memory = in_memory_run
    out = str(tmp_path / "s")
    # The budget is spent on the 7th batch (epoch 2, batch 2).
    stopped = stop_on_batch(
        Run(_config(folder, "true"), out_dir=out, verbose=0), 7)
    assert stopped.fit()["stopped_by_time_budget"]
    meta = json.load(open(os.path.join(list_checkpoints(
        os.path.join(out, "checkpoints"))[0], "meta.json")))
    assert (meta["epoch"], meta["batch"]) == (1, 2)
    resumed = Run.resume_from(out, verbose=0)
    assert isinstance(resumed.batches.x, FolderImages)
    resumed.fit()
    _assert_same_state(_final_state(memory), _final_state(out))


def test_bad_stream_value_is_one_line(tmp_path):
    for value in ("yes", 1, None):
        with pytest.raises(ConfigError) as info:
            RunConfig(data={"stream": value})
        msg = str(info.value)
        assert "\n" not in msg and "data.stream" in msg, msg
        assert repr(value) in msg and "'auto'" in msg, msg
    with pytest.raises(ConfigError, match="data.stream='maybe'"):
        RunConfig.from_recipe("sngan", overrides=["data.stream=maybe"])
    # Streaming asked for a source that is not a folder.
    with pytest.raises(DataError) as info:
        Run(RunConfig(data={"source": "digits", "stream": True}),
            out_dir=str(tmp_path / "r"))
    msg = str(info.value)
    assert "\n" not in msg and "data.stream=true" in msg, msg
    assert "'digits'" in msg and "data.stream=auto" in msg, msg
    with pytest.raises(DataError, match="does not exist"):  # a typo'd path
        Run(RunConfig(data={"source": str(tmp_path / "nope"),
                            "stream": True}), out_dir=str(tmp_path / "r"))

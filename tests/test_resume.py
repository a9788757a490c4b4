"""Checkpoint format, damaged-checkpoint fallback and exact resume after
SIGKILL (`keras_gan_stable.callbacks.checkpoint`)."""

import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from keras import ops

from keras_gan_stable import GAN
from keras_gan_stable.augment import AdaptiveAugment
from keras_gan_stable.callbacks.checkpoint import ResumableBatches
from keras_gan_stable.callbacks.checkpoint import ResumableCheckpoint
from keras_gan_stable.callbacks.checkpoint import checkpoint_variables
from keras_gan_stable.callbacks.checkpoint import list_checkpoints
from keras_gan_stable.callbacks.checkpoint import restore_checkpoint
from keras_gan_stable.callbacks.checkpoint import save_checkpoint

LATENT = 8


def _tiny_gan(**kwargs):
    g = keras.Sequential([
        keras.Input((LATENT,)),
        keras.layers.Dense(8 * 8, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("tanh"),
        keras.layers.Reshape((8, 8, 1)),
    ], name="g")
    d = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, strides=2, padding="same"),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Flatten(),
        keras.layers.Dense(1),
    ], name="d")
    return GAN(g, d, latent_dim=LATENT, seed=0, **kwargs)


def _values(model):
    return [np.array(ops.convert_to_numpy(v))
            for _, v in checkpoint_variables(model)]


def _images(n=32, seed=0):
    return np.random.default_rng(seed).uniform(
        -1, 1, (n, 8, 8, 1)).astype("float32")


@pytest.mark.multibackend
def test_checkpoint_round_trip_restores_every_variable(tmp_path):
    gan = _tiny_gan(ema_decay=0.9)
    gan.compile(augment=AdaptiveAugment(adjustment_images=64, interval=1),
                skip_nonfinite=True)
    gan.fit(_images(), batch_size=16, epochs=1, verbose=0)
    saved = _values(gan)
    path = save_checkpoint(gan, str(tmp_path), epoch=1,
                           data_state={"epoch": 1})
    assert os.path.basename(path) == "ckpt-0000000002"  # 2 G steps
    gan.fit(_images(seed=1), batch_size=16, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(saved, _values(gan)))
    meta = restore_checkpoint(gan, str(tmp_path))
    assert meta["epoch"] == 1 and meta["data_state"] == {"epoch": 1}
    assert meta["images_seen"] == 32
    for a, b in zip(saved, _values(gan)):
        np.testing.assert_array_equal(a, b)
    # Optimizer state and counters are part of it.
    assert int(ops.convert_to_numpy(gan.d_optimizer.iterations)) == 2
    assert int(ops.convert_to_numpy(gan.images_seen)) == 32


@pytest.mark.multibackend
def test_truncated_checkpoint_is_detected_and_previous_used(tmp_path):
    gan = _tiny_gan()
    gan.compile()
    x = _images()
    gan.fit(x, batch_size=16, epochs=1, verbose=0)
    first = _values(gan)
    save_checkpoint(gan, str(tmp_path), epoch=1)
    gan.fit(x, batch_size=16, epochs=1, verbose=0)
    newest = save_checkpoint(gan, str(tmp_path), epoch=2)
    assert len(list_checkpoints(str(tmp_path))) == 2
    state = os.path.join(newest, "state.npz")
    size = os.path.getsize(state)
    with open(state, "r+b") as f:  # a write cut short
        f.truncate(size // 2)
    skipped = []
    with pytest.warns(UserWarning, match="truncated"):
        meta = restore_checkpoint(
            gan, str(tmp_path), on_skip=lambda p, r: skipped.append(p))
    assert skipped == [newest]
    assert meta["epoch"] == 1
    for a, b in zip(first, _values(gan)):
        np.testing.assert_array_equal(a, b)
    # A checkpoint without its completeness record (meta.json) is skipped.
    os.remove(os.path.join(meta["path"], "meta.json"))
    with pytest.warns(UserWarning, match="meta.json"):
        assert restore_checkpoint(gan, str(tmp_path)) is None


def test_keep_prunes_old_checkpoints_and_mismatch_is_refused(tmp_path):
    gan = _tiny_gan()
    gan.compile()
    x = _images()
    for epoch in range(3):
        gan.fit(x, batch_size=16, epochs=1, verbose=0)
        save_checkpoint(gan, str(tmp_path), epoch=epoch + 1, keep=2)
    names = [os.path.basename(p) for p in list_checkpoints(str(tmp_path))]
    assert names == ["ckpt-0000000006", "ckpt-0000000004"]
    other = _tiny_gan(ema_decay=0.9)  # more variables
    other.compile()
    with pytest.raises(ValueError, match="other variables"):
        restore_checkpoint(other, str(tmp_path))


class _Stateful(keras.callbacks.Callback):
    """Stands for ProgressiveGrowing: exposes get_state/set_state."""

    def __init__(self):
        super().__init__()
        self.state = {"level": 0, "alpha": 0.0}

    def on_epoch_end(self, epoch, logs=None):
        self.state = {"level": epoch + 1, "alpha": 0.25 * (epoch + 1)}

    def get_state(self):
        return dict(self.state)

    def set_state(self, state):
        self.state = dict(state)


def test_fit_resumes_epoch_data_position_and_callback_state(tmp_path):
    x = _images(64)
    data = ResumableBatches(x, batch_size=16, seed=5)
    gan = _tiny_gan()
    gan.compile()
    stateful = _Stateful()
    gan.fit(data.stream(), steps_per_epoch=data.steps_per_epoch, epochs=2,
            verbose=0, callbacks=[ResumableCheckpoint(str(tmp_path), data=data,
                                                      verbose=0), stateful])
    # A new process would build everything again:
    data2 = ResumableBatches(x, batch_size=16, seed=5)
    gan2 = _tiny_gan()
    gan2.compile()
    stateful2 = _Stateful()
    ckpt = ResumableCheckpoint(str(tmp_path), data=data2, verbose=0)
    history = gan2.fit(data2.stream(), steps_per_epoch=4, epochs=3,
                       verbose=0, callbacks=[ckpt, stateful2])
    assert ckpt.restored["epoch"] == 2
    assert len(history.history["d_loss"]) == 1  # only epoch 3 ran
    assert stateful2.state == {"level": 3, "alpha": 0.75}
    assert data2.get_state() == {"epoch": 2, "seed": 5}
    assert int(ops.convert_to_numpy(gan2.g_optimizer.iterations)) == 12


def test_backup_and_restore_contract_manifest_and_multi_worker(
        tmp_path, monkeypatch):
    import json

    gan = _tiny_gan()
    gan.compile()
    gan.fit(_images(), batch_size=16, epochs=1, verbose=0)
    ckpt = ResumableCheckpoint(str(tmp_path / "c"), save_freq=3, keep=2,
                               verbose=0)
    assert isinstance(ckpt, keras.callbacks.BackupAndRestore)
    assert ckpt.backup_dir == str(tmp_path / "c")
    with pytest.raises(ValueError, match="save_freq"):
        ResumableCheckpoint(str(tmp_path), save_freq="batch")
    ckpt.set_model(gan)
    # A non-chief worker of a multi-worker job takes part in the save but
    # leaves no checkpoint; the chief (worker 0 without a chief task) does.
    cluster = {"worker": ["a:1", "b:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    if keras.backend.backend() == "tensorflow":
        assert ckpt.save(epoch=1) is None
        assert list_checkpoints(str(tmp_path / "c")) == []
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    path = ckpt.save(epoch=1, batch=1)
    manifest = json.load(open(tmp_path / "c" / "manifest.json"))
    assert manifest["checkpoints"] == [{
        "name": os.path.basename(path), "step": 2, "epoch": 1, "batch": 1,
        "state_sha256": json.load(open(os.path.join(path, "meta.json")))[
            "state_sha256"]}]
    # Keras' contract outside GAN.fit: on_train_begin restores and sets the
    # epoch fit() starts from.
    other = ResumableCheckpoint(str(tmp_path / "c"), verbose=0)
    other.set_model(gan)
    other.on_train_begin()
    assert other.restored["path"] == path and gan._initial_epoch == 1
    gan._initial_epoch = None


def test_resumable_batches_resume_mid_epoch():
    x = np.arange(12, dtype="float32")[:, None]
    a = ResumableBatches(x, batch_size=3, seed=2)
    stream = a.stream()
    seen = [next(stream)[0] for _ in range(6)]  # epoch 0 and half of 1
    b = ResumableBatches(x, batch_size=3, seed=2)
    b.set_state(a.get_state(epoch=1, batch=2))
    assert a.get_state(epoch=1, batch=2) == {"epoch": 1, "batch": 2,
                                            "seed": 2}
    resumed = b.stream()
    np.testing.assert_array_equal(next(resumed)[0], next(stream)[0])
    np.testing.assert_array_equal(next(resumed)[0], next(stream)[0])
    # Then epoch 2 from its first batch, as the uninterrupted stream.
    np.testing.assert_array_equal(next(resumed)[0], next(stream)[0])
    assert len(seen) == 6


def test_resumable_batches_order_is_a_function_of_the_epoch():
    x = np.arange(10, dtype="float32")[:, None]
    a = ResumableBatches(x, batch_size=5, seed=1)
    stream = a.stream()
    epoch0 = np.concatenate([next(stream)[0] for _ in range(2)])
    epoch1 = np.concatenate([next(stream)[0] for _ in range(2)])
    b = ResumableBatches(x, batch_size=5, seed=1)
    b.set_state({"epoch": 1})
    resumed = b.stream()
    np.testing.assert_array_equal(
        np.concatenate([next(resumed)[0] for _ in range(2)]), epoch1)
    assert sorted(epoch0[:, 0]) == list(range(10))
    assert not np.array_equal(epoch0, epoch1)
    expected = np.random.default_rng([1, 1]).permutation(10)
    np.testing.assert_array_equal(epoch1[:, 0], expected)


# --------------------------------------------------------------------------
# SIGKILL and resume, in child processes
# --------------------------------------------------------------------------
_CHILD = r"""
import os, sys, time
mode, ckpt_dir, out, marker = sys.argv[1:5]
import keras
if keras.backend.backend() == "tensorflow":
    import tensorflow as tf
    tf.config.experimental.enable_op_determinism()
import numpy as np
from keras import ops
keras.utils.set_random_seed(0)
sys.path.insert(0, os.path.join(os.getcwd(), "tests"))
from test_resume import _tiny_gan, _images
from keras_gan_stable.augment import AdaptiveAugment, DiffAugment
from keras_gan_stable.callbacks.checkpoint import (
    ResumableBatches, ResumableCheckpoint, checkpoint_variables)

class Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if mode == "crash" and epoch + 1 == 2:
            open(marker, "w").write("checkpoint written")
            time.sleep(600)  # killed here

data = ResumableBatches(_images(64), batch_size=16, seed=3)
gan = _tiny_gan(ema_decay=0.8, ema_rampup=0.5)
gan.compile(augment=AdaptiveAugment(adjustment_images=256, interval=1, seed=7,
                                    transforms="xflip,translation,brightness"),
            instance_noise=0.1, instance_noise_steps=12, skip_nonfinite=True)
callbacks = []
if mode != "straight":
    callbacks = [ResumableCheckpoint(ckpt_dir, data=data, verbose=0), Crash()]
gan.fit(data.stream(), steps_per_epoch=data.steps_per_epoch, epochs=4,
        verbose=0, callbacks=callbacks)
np.savez(out, *[np.asarray(ops.convert_to_numpy(v))
                for _, v in checkpoint_variables(gan)])
"""


def _run_child(backend, args, tmp_path, popen=False):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="")
    cmd = [sys.executable, "-c", _CHILD] + [str(a) for a in args]
    cwd = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if popen:
        return subprocess.Popen(cmd, env=env, cwd=cwd,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    res = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_resume_after_sigkill_matches_straight_run(backend, tmp_path):
    ckpt = tmp_path / "ckpt"
    marker = tmp_path / "marker"
    straight = tmp_path / "straight.npz"
    resumed = tmp_path / "resumed.npz"
    _run_child(backend, ["straight", ckpt, straight, marker], tmp_path)
    proc = _run_child(backend, ["crash", ckpt, tmp_path / "x.npz", marker],
                      tmp_path, popen=True)
    deadline = time.time() + 400
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.time() < deadline, "the child never reached epoch 2"
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert [os.path.basename(p) for p in list_checkpoints(str(ckpt))] == [
        "ckpt-0000000008", "ckpt-0000000004"]
    _run_child(backend, ["resume", ckpt, resumed, marker], tmp_path)
    a, b = np.load(straight), np.load(resumed)
    assert len(a.files) == len(b.files) > 20
    for key in a.files:
        if backend == "tensorflow":
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-8,
                                       err_msg=key)


# --------------------------------------------------------------------------
# The command line: SIGKILL mid-epoch, `--resume`, bitwise equal
# --------------------------------------------------------------------------
_TINY_RUN = ["--recipe", "sngan", "--epochs", "3", "--quiet",
             "--set", "model.width=8", "--set", "model.latent_dim=8",
             "--set", "data.max_samples=96", "--set", "data.image_size=16",
             "--set", "train.batch_size=8", "--set", "train.ema=0.9",
             "--set", "output.samples=4", "--set", "output.fid_samples=0",
             "--set", "output.tensorboard=false", "--set", "output.export=false",
             "--set", "output.checkpoint_steps=5"]


def _cli(args, cwd, popen=False, backend="tensorflow"):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               TF_DETERMINISTIC_OPS="1", PYTHONHASHSEED="0",
               CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.path.dirname(os.path.dirname(
                   os.path.abspath(__file__))))
    cmd = [sys.executable, "-m", "keras_gan_stable", "train"] + args
    if popen:
        return subprocess.Popen(cmd, env=env, cwd=cwd,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    res = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def _newest_state(run_dir):
    newest = list_checkpoints(os.path.join(run_dir, "checkpoints"))[0]
    return np.load(os.path.join(newest, "state.npz"))


def _manifest(run_dir):
    import json

    try:
        with open(os.path.join(run_dir, "checkpoints", "manifest.json")) as f:
            return json.load(f)["checkpoints"]
    except (OSError, ValueError, KeyError):
        return []


@pytest.mark.slow
def test_cli_resume_after_sigkill_mid_epoch_is_bitwise_exact(tmp_path):
    """`train` killed mid-epoch (after a mid-epoch checkpoint), then
    `train --resume`: the final weights, both optimizers, the EMA copy, the
    RNG states and even the epoch metrics equal an uninterrupted run bit for
    bit on TensorFlow; history.json holds every epoch once."""
    import json

    _cli(_TINY_RUN + ["--out", "straight"], tmp_path)
    # 96 images / 8 = 12 steps an epoch; kill after a checkpoint inside
    # epoch 2 (step 15 or 20), i.e. with data position (epoch 1, batch > 0).
    proc = _cli(_TINY_RUN + ["--out", "killed"], tmp_path, popen=True)
    deadline = time.time() + 300
    while True:
        entries = _manifest(str(tmp_path / "killed"))
        if any(e["epoch"] == 1 and e["batch"] > 0 for e in entries):
            break
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline, "no mid-epoch checkpoint in time"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    state = json.loads((tmp_path / "killed" / "run_state.json").read_text())
    assert state["finished"] is False
    _cli(["--resume", "killed", "--quiet"], tmp_path)
    a, b = _newest_state(str(tmp_path / "straight")), _newest_state(
        str(tmp_path / "killed"))
    assert len(a.files) == len(b.files) > 20
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    h_a = json.loads((tmp_path / "straight" / "history.json").read_text())
    h_b = json.loads((tmp_path / "killed" / "history.json").read_text())
    assert h_a["epoch"] == h_b["epoch"] == [1, 2, 3]
    assert h_a == h_b
    leftovers = [p for p in os.listdir(tmp_path / "killed" / "checkpoints")
                 if "tmp" in p]
    assert leftovers == []
    # A finished run is not trained again (answered before any build).
    from keras_gan_stable.cli import main

    with pytest.raises(SystemExit) as info:
        main(["train", "--resume", str(tmp_path / "killed")])
    assert info.value.code == 2


def test_a_stop_on_an_epochs_last_batch_is_saved(tmp_path):
    """A time budget that runs out on the last batch of an epoch ends fit()
    at an epoch boundary between two scheduled saves: that position must be
    saved, or a resumed run would restart from the previous save."""

    class StopAt(keras.callbacks.Callback):
        def __init__(self, step):
            super().__init__()
            self.step = step

        def on_train_batch_end(self, batch, logs=None):
            if int(ops.convert_to_numpy(self.model.g_optimizer.iterations)) \
                    == self.step:
                self.model.stop_training = True

    x = _images(64)
    data = ResumableBatches(x, batch_size=16, seed=5)  # 4 steps an epoch
    gan = _tiny_gan()
    gan.compile()
    ckpt = ResumableCheckpoint(str(tmp_path), data=data, verbose=0,
                               save_every_epochs=100)
    gan.fit(data.stream(), steps_per_epoch=4, epochs=10, verbose=0,
            callbacks=[StopAt(8), ckpt])  # the last batch of epoch 2
    saved = _values(gan)
    assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path))] \
        == ["ckpt-0000000008"]
    gan2 = _tiny_gan()
    gan2.compile()
    meta = restore_checkpoint(gan2, str(tmp_path))
    assert meta["epoch"] == 2 and meta["batch"] == 0
    for a, b in zip(saved, _values(gan2)):
        np.testing.assert_array_equal(a, b)

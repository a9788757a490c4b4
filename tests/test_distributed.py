"""Multi-device and multi-worker training (keras_gan_stable.distribute).

Each distributed configuration runs in a subprocess, since devices (TF
logical CPUs, XLA host devices, TF_CONFIG) must be set before the framework
starts. The subprocess scripts live in `tests/distributed/`; they train the
same tiny WGAN-GP with spectral normalisation on one device with the global
batch and on two replicas, and save every logged loss and weight.
"""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import keras

from keras_gan_stable import distribute

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "distributed")
BACKEND = keras.backend.backend()
RTOL, ATOL = 1e-5, 1e-7


def _env(backend, **extra):
    env = dict(os.environ)
    env.update({"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2",
                "PYTHONHASHSEED": "0"})
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _run_script(name, out, backend, timeout, **env):
    proc = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, name), str(out)],
        env=_env(backend, **env), capture_output=True, text=True,
        timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    data = np.load(out)
    runs = {}
    for key in data.files:
        run, name_ = key.split("|", 1)
        runs.setdefault(run, {})[name_] = data[key]
    return runs


def _assert_same(one, two):
    assert sorted(one) == sorted(two)
    for key in one:
        np.testing.assert_allclose(two[key], one[key], rtol=RTOL, atol=ATOL,
                                   err_msg=key)


def _max_gap(one, two, prefix):
    return max(float(np.max(np.abs(one[k] - two[k])))
               for k in one if k.startswith(prefix) and one[k].size)


# ---------------------------------------------------------------------- #
# Two replicas equal one device with the global batch
# ---------------------------------------------------------------------- #
@pytest.mark.slow
def test_tf_mirrored_two_replicas_match_one_device(tmp_path):
    runs = _run_script("tf_mirrored.py", tmp_path / "tf.npz", "tensorflow",
                       timeout=900)
    # Injected z, z_g and eps (WGAN-GP + SN, n_critic=2, SGD): 3 steps.
    _assert_same(runs["one-none-1"], runs["two-none-1"])
    # The model's own noise: replicas draw the global batch's noise and keep
    # their rows, so even un-injected runs match.
    _assert_same(runs["one-none-0"], runs["two-none-0"])
    # Synchronised BatchNorm in G: statistics of the global batch.
    _assert_same(runs["one-sync-1"], runs["two-sync-1"])
    # Per-replica BatchNorm normalises each half on its own: a different
    # computation by design.
    assert _max_gap(runs["one-batch-1"], runs["two-batch-1"], "w/") > 1e-4
    # The non-finite guard: a NaN image in one replica's part of one D
    # update skips that update on every replica, as on one device (where
    # it is skipped once), and leaves no NaN in any weight.
    assert float(runs["one-guard"]["nonfinite_skips"]) == 1.0
    assert all(np.isfinite(v).all() for k, v in runs["one-guard"].items()
               if k.startswith("w/"))
    _assert_same(runs["one-guard"], runs["two-guard"])
    # Optimizers created outside strategy.scope() are refused.
    assert int(runs["misuse"]["optimizer_outside_scope"]) == 1
    for name, run in runs.items():  # 3 steps of a global batch of 16 images
        if name != "misuse":
            assert int(run["images_seen"]) in (-1, 48)


@pytest.mark.slow
def test_jax_data_parallel_two_devices_match_one_device(tmp_path):
    runs = _run_script(
        "jax_data_parallel.py", tmp_path / "jax.npz", "jax", timeout=900,
        XLA_FLAGS="--xla_force_host_platform_device_count=2")
    _assert_same(runs["one-none-1"], runs["two-none-1"])
    # The step sees the global batch: BatchNorm statistics are global.
    _assert_same(runs["one-sync-1"], runs["two-sync-1"])
    for run in runs.values():
        assert int(run["images_seen"]) in (-1, 48)


# ---------------------------------------------------------------------- #
# Two worker processes (MultiWorkerMirroredStrategy on 127.0.0.1)
# ---------------------------------------------------------------------- #
def _free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _launch_workers(out, mode, timeout):
    """Starts two workers; returns their (return code, output) and the
    seconds until both had ended."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    scratch = out / "tmp"
    scratch.mkdir()
    procs = []
    start = time.monotonic()
    for index in range(2):
        config = {"cluster": cluster, "task": {"type": "worker",
                                               "index": index}}
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(SCRIPTS, "tf_multi_worker.py"),
             str(out), mode],
            env=_env("tensorflow", TF_CONFIG=json.dumps(config),
                     TMPDIR=str(scratch)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    results = []
    for proc in procs:
        left = max(1.0, timeout - (time.monotonic() - start))
        try:
            output, _ = proc.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            pytest.fail(f"A worker hung past {timeout} s:\n{output[-3000:]}")
        results.append((proc.returncode, output))
    return results, time.monotonic() - start


@pytest.mark.slow
def test_multi_worker_trains_together_and_chief_writes_one_checkpoint(
        tmp_path):
    results, _ = _launch_workers(tmp_path, "train", timeout=600)
    for rc, output in results:
        assert rc == 0, output[-3000:]
    # One checkpoint, by the chief; the other worker's copy was deleted.
    from keras_gan_stable.callbacks.checkpoint import (
        list_checkpoints, restore_checkpoint)

    saved = list_checkpoints(str(tmp_path / "ckpt"))
    assert len(saved) == 1, os.listdir(tmp_path / "ckpt")
    assert not [d for d in os.listdir(tmp_path / "tmp")
                if d.startswith("keras_gan_stable_worker_")]
    w0 = np.load(tmp_path / "worker0.npz")
    w1 = np.load(tmp_path / "worker1.npz")
    for key in w0.files:
        np.testing.assert_array_equal(w0[key], w1[key])

    # The two workers' step equals one device on the global batch, and the
    # checkpoint holds the trained weights.
    sys.path.insert(0, SCRIPTS)
    try:
        import common
    finally:
        sys.path.remove(SCRIPTS)
    gan = common.build_gan("none")
    gan.fit(common.tf_dataset(common.global_batches(True)), epochs=1,
            steps_per_epoch=common.STEPS, verbose=0)
    reference = [keras.ops.convert_to_numpy(v.value) for v in gan.weights]
    for i, ref in enumerate(reference):
        np.testing.assert_allclose(w0[f"{i:03d}"], ref, rtol=RTOL, atol=ATOL)
    restored = common.build_gan("none")
    meta = restore_checkpoint(restored, str(tmp_path / "ckpt"))
    assert meta["step"] == common.STEPS and meta["epoch"] == 1
    for i, v in enumerate(restored.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(v.value), w0[f"{i:03d}"])


@pytest.mark.slow
def test_killed_worker_gives_clear_error_not_hang(tmp_path):
    results, seconds = _launch_workers(tmp_path, "kill", timeout=420)
    (rc0, out0), (rc1, out1) = results
    assert rc1 == 1 and "worker 1 stops now" in out1, out1[-2000:]
    # The survivor ends with WorkerFailureError (exit code 3), in bounded time.
    assert rc0 == 3, out0[-3000:]
    message = (tmp_path / "error0.txt").read_text()
    assert message.startswith("Multi-worker training stopped")
    assert "Restart every worker" in message
    assert not (tmp_path / "worker0.npz").exists()
    assert seconds < 420


# ---------------------------------------------------------------------- #
# In-process checks
# ---------------------------------------------------------------------- #
@pytest.mark.multibackend
def test_shard_batch_layout_reassembles_the_global_step():
    k, replicas, b = 3, 2, 2
    n = k * replicas * b
    images = np.arange(n, dtype="float32").reshape(n, 1)
    batch = {"images": images, "eps": np.arange(n, dtype="float32"),
             "z_g": np.arange(replicas * b, dtype="float32").reshape(-1, 1)}
    shards = [distribute.shard_batch(batch, r, replicas, n_critic=k)
              for r in range(replicas)]
    for i in range(k):
        # D update i of every replica, in replica order, is the one-device
        # D update i: rows [i * R * B, (i + 1) * R * B).
        step_i = np.concatenate(
            [s["images"][i * b:(i + 1) * b] for s in shards], axis=0)
        np.testing.assert_array_equal(
            step_i, images[i * replicas * b:(i + 1) * replicas * b])
    np.testing.assert_array_equal(shards[1]["eps"], [2, 3, 6, 7, 10, 11])
    np.testing.assert_array_equal(
        np.concatenate([s["z_g"] for s in shards]), batch["z_g"])
    # Tuples and bare arrays keep their structure.
    x, y = distribute.shard_batch((images, images[:, 0]), 0, replicas, k)
    np.testing.assert_array_equal(x[:, 0], y)
    with pytest.raises(ValueError, match="multiple of n_critic"):
        distribute.shard_batch(images[:10], 0, replicas, n_critic=k)
    with pytest.raises(ValueError, match="replica_id"):
        distribute.shard_batch(images, 2, replicas, n_critic=k)


@pytest.mark.multibackend
def test_backend_support_is_stated_plainly():
    if BACKEND == "torch":
        for make in (distribute.get_strategy, distribute.data_parallel):
            with pytest.raises(NotImplementedError,
                               match="not supported on the PyTorch backend"):
                make()
    elif BACKEND == "tensorflow":
        with pytest.raises(ValueError, match="get_strategy"):
            distribute.data_parallel()
    else:
        with pytest.raises(ValueError, match="data_parallel"):
            distribute.get_strategy()
    assert distribute.num_replicas() == 1


@pytest.mark.multibackend
def test_sync_batch_normalization_is_batch_norm_over_the_global_batch(rng):
    layer = distribute.SyncBatchNormalization(momentum=0.5, epsilon=1e-3)
    assert layer.synchronized == (BACKEND == "tensorflow")
    config = layer.get_config()
    assert "synchronized" not in config  # loads on every backend
    clone = distribute.SyncBatchNormalization.from_config(config)
    assert clone.momentum == 0.5 and clone.epsilon == 1e-3
    # One device: the statistics of the batch, as plain BatchNorm.
    x = rng.normal(2.0, 3.0, (16, 5)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.moving_mean), 0.5 * x.mean(0),
        rtol=1e-5)
    with pytest.raises(ValueError, match="synchronized=False"):
        distribute.SyncBatchNormalization(synchronized=False)


@pytest.mark.multibackend
def test_resumable_checkpoint_writes_only_on_the_chief(tmp_path, rng,
                                                      monkeypatch):
    """Multi-worker mode of the one checkpoint system: the chief writes the
    checkpoint that a restore reads back bitwise; another worker takes part
    in each save (its scratch copy) but leaves nothing behind."""
    from keras_gan_stable import GAN
    from keras_gan_stable.callbacks import ResumableCheckpoint
    from keras_gan_stable.callbacks import checkpoint as ckpt_module

    def make():
        keras.utils.set_random_seed(0)
        g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        gan = GAN(g, d, latent_dim=2, seed=0)
        gan.compile(d_optimizer=keras.optimizers.SGD(0.1),
                    g_optimizer=keras.optimizers.SGD(0.1), loss="hinge")
        return gan

    x = rng.normal(size=(8, 2)).astype("float32")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    writes = []
    real_save = ckpt_module.save_checkpoint

    def counting_save(model, directory, **kwargs):
        writes.append(directory)
        return real_save(model, directory, **kwargs)

    monkeypatch.setattr(ckpt_module, "save_checkpoint", counting_save)
    # A worker that is not the chief: two saves happen, none remains.
    monkeypatch.setattr(distribute, "is_chief", lambda strategy=None: False)
    worker = make()
    worker.fit(x, batch_size=8, epochs=2, verbose=0, callbacks=[
        ResumableCheckpoint(str(tmp_path / "w"), verbose=0)])
    assert len(writes) == 2 and not (tmp_path / "w").exists()
    assert os.listdir(scratch) == []
    # The chief: its checkpoints are the library's resumable ones.
    monkeypatch.setattr(distribute, "is_chief", lambda strategy=None: True)
    chief = make()
    chief.fit(x, batch_size=8, epochs=2, verbose=0, callbacks=[
        ResumableCheckpoint(str(tmp_path / "c"), verbose=0)])
    assert len(ckpt_module.list_checkpoints(str(tmp_path / "c"))) == 2
    other = make()
    meta = ckpt_module.restore_checkpoint(other, str(tmp_path / "c"))
    assert meta["epoch"] == 2
    for a, b in zip(chief.weights, other.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a.value),
                                      keras.ops.convert_to_numpy(b.value))
    # The worker trained the same steps as the chief.
    for a, b in zip(chief.weights, worker.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a.value),
                                      keras.ops.convert_to_numpy(b.value))
    assert not hasattr(distribute, "ChiefCheckpoint")


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TF_CONFIG is TF's")
def test_is_chief_and_strategy_arguments_from_tf_config(monkeypatch):
    import tensorflow as tf

    def config(task_type, index, chief=False):
        cluster = {"worker": ["a:1", "b:2"]}
        if chief:
            cluster["chief"] = ["c:3"]
        return json.dumps({"cluster": cluster,
                           "task": {"type": task_type, "index": index}})

    for value, expected in ((config("worker", 0), True),
                            (config("worker", 1), False),
                            (config("worker", 0, chief=True), False),
                            (config("chief", 0, chief=True), True)):
        monkeypatch.setenv("TF_CONFIG", value)
        assert distribute.is_chief() is expected, value
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        distribute.is_chief()
    monkeypatch.delenv("TF_CONFIG")
    assert distribute.is_chief()
    with pytest.raises(ValueError, match="needs the environment variable"):
        distribute.get_strategy(multi_worker=True)
    with pytest.raises(ValueError, match="timeout_seconds"):
        distribute.get_strategy(timeout_seconds=0)
    strategy = distribute.get_strategy()
    assert isinstance(strategy, tf.distribute.MirroredStrategy)

    # Collective failures become one WorkerFailureError that says what to do.
    with pytest.raises(distribute.WorkerFailureError,
                       match="Restart every worker.*unhealthy"):
        with distribute.worker_failure_errors(30):
            raise tf.errors.UnavailableError(
                None, None, "Graph execution error:\nThe following tasks are "
                "unhealthy (stopped sending heartbeats)")
    with pytest.raises(KeyError):
        with distribute.worker_failure_errors():
            raise KeyError("unrelated errors pass through")

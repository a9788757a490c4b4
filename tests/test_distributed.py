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
    for run in runs.values():  # 3 steps of a global batch of 16 images
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

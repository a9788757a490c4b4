"""JAX keras.distribution.DataParallel on 2 host devices against one device.

Usage: XLA_FLAGS=--xla_force_host_platform_device_count=2 \
       KERAS_BACKEND=jax python jax_data_parallel.py OUT.npz
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
flag = "--xla_force_host_platform_device_count=2"
if flag not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import keras  # noqa: E402

import common  # noqa: E402
from keras_gan_stable import distribute  # noqa: E402


def run(devices, norm, inject):
    if devices is None:
        keras.distribution.set_distribution(None)
    else:
        distribution = distribute.data_parallel(devices)
        assert distribute.num_replicas() == len(devices)
        assert len(distribution.device_mesh.devices.ravel()) == 2
    gan = common.build_gan(norm)
    data = common.tf_dataset(common.global_batches(inject))
    recorder = common.Recorder()
    gan.fit(data, epochs=1, steps_per_epoch=common.STEPS, verbose=0,
            callbacks=[recorder])
    out = common.result(gan, recorder)
    out["images_seen"] = int(keras.ops.convert_to_numpy(
        gan.images_seen)) if hasattr(gan, "images_seen") else -1
    if devices is not None:
        # The variables really live on both devices.
        kernel = gan.discriminator.trainable_variables[0].value
        assert len(kernel.sharding.device_set) == 2, kernel.sharding
    return out


def main(path):
    devices = jax.devices()
    assert len(devices) == 2, devices
    runs = {}
    # Un-injected noise and per-replica BatchNorm need no check here: the
    # step sees the global batch, so both are global by construction.
    for norm, inject in (("none", True), ("sync", True)):
        runs[f"one-{norm}-{int(inject)}"] = run(None, norm, inject)
        runs[f"two-{norm}-{int(inject)}"] = run(devices, norm, inject)
    keras.distribution.set_distribution(None)
    common.save(path, runs)


if __name__ == "__main__":
    main(sys.argv[1])

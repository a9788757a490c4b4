"""TF MirroredStrategy on 2 logical CPU devices against one device.

Usage: KERAS_BACKEND=tensorflow python tf_mirrored.py OUT.npz
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import common  # noqa: E402
from keras_gan_stable import distribute  # noqa: E402


def run(strategy, norm, inject, guard=False):
    with strategy.scope():
        gan = common.build_gan(norm, guard=guard)
    data = common.tf_dataset(common.global_batches(inject, nan=guard))
    if strategy.num_replicas_in_sync > 1:
        data = distribute.distribute_dataset(strategy, data,
                                             n_critic=common.N_CRITIC)
    recorder = common.Recorder()
    gan.fit(data, epochs=1, steps_per_epoch=common.STEPS, verbose=0,
            callbacks=[recorder])
    out = common.result(gan, recorder)
    out["images_seen"] = int(gan.images_seen.numpy()) if hasattr(
        gan, "images_seen") else -1
    out["nonfinite_skips"] = float(gan.nonfinite_skips.numpy())
    return out


def _optimizer_outside_scope(strategy):
    """Optimizers made outside the scope would not sum the replicas'
    gradients: the step must refuse them (1) instead of training (0)."""
    import keras

    d_opt, g_opt = keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)
    with strategy.scope():
        gan = common.build_gan("none")
        gan.compile(d_optimizer=d_opt, g_optimizer=g_opt, loss="wasserstein")
    data = distribute.distribute_dataset(
        strategy, common.tf_dataset(common.global_batches(True)),
        n_critic=1)
    try:
        gan.fit(data, epochs=1, steps_per_epoch=1, verbose=0)
    except ValueError as e:
        return int("inside `strategy.scope()`" in str(e))
    return 0


def main(path):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert two.num_replicas_in_sync == 2
    runs = {"misuse": {"optimizer_outside_scope": _optimizer_outside_scope(
        two)}}
    for norm, inject in (("none", True), ("none", False), ("sync", True),
                         ("batch", True)):
        runs[f"one-{norm}-{int(inject)}"] = run(one, norm, inject)
        runs[f"two-{norm}-{int(inject)}"] = run(two, norm, inject)
    # The non-finite guard with a NaN image in one replica's part only.
    runs["one-guard"] = run(one, "none", True, guard=True)
    runs["two-guard"] = run(two, "none", True, guard=True)
    common.save(path, runs)


if __name__ == "__main__":
    main(sys.argv[1])

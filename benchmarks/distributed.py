"""Images per second of the SNGAN ResNet train step on 1 against 2 devices.

TensorFlow: `OneDeviceStrategy("/cpu:0")` against `MirroredStrategy` over
two logical CPU devices. JAX: no distribution against
`keras.distribution.DataParallel` over two XLA host devices. Both
configurations live in one process and are timed in alternating rounds, so
they share the machine's load; the table reports the ratio 2 / 1.

Two logical devices on one CPU share its cores, so little gain is expected:
the run shows that the multi-device path works on the real architecture and
measures its overhead (per-replica split, all-reduce of every update's
gradients). On a machine with several GPUs the same code spreads the step.

Usage:
    python benchmarks/distributed.py --backend tensorflow
    python benchmarks/distributed.py --backend jax --width 32 --steps 3
"""

import argparse
import json
import os
import platform
import sys
import time


def _args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="tensorflow",
                   choices=("tensorflow", "jax"))
    p.add_argument("--width", type=int, default=32,
                   help="SNGAN ResNet width (paper: G 256, D 128)")
    p.add_argument("--batch", type=int, default=32,
                   help="global images per D update")
    p.add_argument("--n-critic", type=int, default=5, help="SNGAN's n_dis")
    p.add_argument("--steps", type=int, default=3, help="steps per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=None)
    return p.parse_args()


ARGS = _args()
os.environ["KERAS_BACKEND"] = ARGS.backend
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if ARGS.backend == "jax":
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_force_host_platform_device_count=2")
else:
    import tensorflow as tf

    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from keras_gan_stable import GAN, distribute  # noqa: E402


def networks(width):
    try:
        from keras_gan_stable.architectures.sngan import (
            sngan_resnet_discriminator, sngan_resnet_generator)
    except ImportError:
        from keras_gan_stable import dcgan_discriminator, dcgan_generator
        from keras_gan_stable.layers.spectral_normalization import (
            SpectralNormalization)

        g = dcgan_generator(128, (32, 32, 3), width=width)
        d = dcgan_discriminator((32, 32, 3), width=width, normalization="none")
        sn_d = keras.models.clone_model(
            d, clone_function=lambda l: SpectralNormalization(l)
            if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense)) else l)
        return g, sn_d, "DCGAN + SN (SNGAN ResNet builders not found)"
    return (sngan_resnet_generator(128, (32, 32, 3), width=width),
            sngan_resnet_discriminator((32, 32, 3), width=width),
            "SNGAN ResNet 32x32")


def build():
    keras.utils.set_random_seed(0)
    g, d, name = networks(ARGS.width)
    gan = GAN(g, d, latent_dim=128, seed=0)
    # SNGAN's CIFAR-10 setting: hinge loss, Adam(2e-4, 0, 0.9), n_dis 5.
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, 0.0, 0.9),
                g_optimizer=keras.optimizers.Adam(2e-4, 0.0, 0.9),
                loss="hinge", n_critic=ARGS.n_critic)
    return gan, name


def images():
    from keras_gan_stable.data.cifar import load_cifar10_from_tar

    x, _ = load_cifar10_from_tar(max_per_class=64)
    return x.astype("float32")  # [640, 32, 32, 3] in [-1, 1]


def tf_configs(x, global_batch):
    import tensorflow as tf

    def dataset():
        return (tf.data.Dataset.from_tensor_slices(x).repeat()
                .batch(global_batch, drop_remainder=True))

    configs = []
    for label, strategy in (
            ("1 device", tf.distribute.OneDeviceStrategy("/cpu:0")),
            ("2 devices", tf.distribute.MirroredStrategy(
                ["/cpu:0", "/cpu:1"]))):
        with strategy.scope():
            gan, name = build()
        data = dataset()
        if strategy.num_replicas_in_sync > 1:
            data = distribute.distribute_dataset(strategy, data,
                                                 n_critic=ARGS.n_critic)
        configs.append((label, gan, data, None))
    return configs, name


def jax_configs(x, global_batch):
    import jax
    import tensorflow as tf

    def dataset():
        return (tf.data.Dataset.from_tensor_slices(x).repeat()
                .batch(global_batch, drop_remainder=True))

    configs = []
    for label, devices in (("1 device", None), ("2 devices", jax.devices())):
        keras.distribution.set_distribution(None)
        dist = None
        if devices is not None:
            dist = distribute.data_parallel(devices)
        gan, name = build()
        configs.append((label, gan, dataset(), dist))
    keras.distribution.set_distribution(None)
    return configs, name


def main():
    global_batch = ARGS.n_critic * ARGS.batch
    x = images()
    make = tf_configs if ARGS.backend == "tensorflow" else jax_configs
    configs, name = make(x, global_batch)
    times = {label: [] for label, *_ in configs}
    for round_ in range(ARGS.rounds + 1):  # round 0 compiles
        for label, gan, data, dist in configs:
            if ARGS.backend == "jax":
                keras.distribution.set_distribution(dist)
            start = time.perf_counter()
            gan.fit(data, epochs=1, steps_per_epoch=ARGS.steps, verbose=0)
            seconds = time.perf_counter() - start
            if round_:
                times[label].append(seconds)
    rows = []
    for label, values in times.items():
        best = min(values)
        rows.append({"config": label,
                     "seconds_per_step": best / ARGS.steps,
                     "images_per_s": global_batch * ARGS.steps / best})
    ratio = rows[1]["images_per_s"] / rows[0]["images_per_s"]
    print(f"\n{name}, width {ARGS.width}, backend {ARGS.backend}, n_critic "
          f"{ARGS.n_critic}, global batch {global_batch} real images/step "
          f"(best of {ARGS.rounds} rounds x {ARGS.steps} steps)")
    print(f"{'config':<10} {'s/step':>8} {'images/s':>9}")
    for r in rows:
        print(f"{r['config']:<10} {r['seconds_per_step']:>8.3f} "
              f"{r['images_per_s']:>9.1f}")
    print(f"ratio 2 devices / 1 device: {ratio:.2f}")
    out = ARGS.out or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   "results", "distributed.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    results = {}
    if os.path.exists(out):  # one entry per backend
        with open(out) as f:
            results = json.load(f)
    results[ARGS.backend] = {
        "model": name, "width": ARGS.width, "n_critic": ARGS.n_critic,
        "global_batch": global_batch, "steps": ARGS.steps,
        "rounds": ARGS.rounds, "rows": rows, "ratio_2_over_1": ratio,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(), "python": sys.version.split()[0],
        "keras": keras.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    print("wrote", out)


if __name__ == "__main__":
    main()

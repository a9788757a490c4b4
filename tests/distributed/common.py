"""Networks, data and runs shared by the multi-device scripts.

Each script configures its devices (TF logical CPUs, XLA host devices)
before importing this module, then compares runs on one device with runs on
two replicas and writes every loss and weight to an `.npz` file for the test.
"""

import numpy as np
import keras

from keras_gan_stable import GAN
from keras_gan_stable.distribute import SyncBatchNormalization

LATENT = 8
N_CRITIC = 2
REPLICAS = 2
B = 4  # per-replica batch of one D update
STEPS = 3
IMAGE = (8, 8, 1)


def spectral_normalization():
    try:
        from keras_gan_stable.layers.spectral_normalization import (
            SpectralNormalization)
    except ImportError:  # pragma: no cover - the layer ships with the library
        return lambda layer: layer
    return SpectralNormalization


def build_gan(norm="none", seed=3, guard=False):
    """A tiny WGAN-GP with spectral normalisation in D and a G EMA.

    norm: normalisation in G: "none", "batch" (per replica) or "sync".
    guard: compile with `skip_nonfinite`.
    """
    keras.utils.set_random_seed(seed)
    sn = spectral_normalization()
    z = keras.Input((LATENT,))
    x = keras.layers.Dense(4 * 4 * 8)(z)
    x = keras.layers.Reshape((4, 4, 8))(x)
    if norm == "batch":
        x = keras.layers.BatchNormalization(momentum=0.5)(x)
    elif norm == "sync":
        x = SyncBatchNormalization(momentum=0.5)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same",
                                     activation="tanh")(x)
    g = keras.Model(z, x, name="g")
    images = keras.Input(IMAGE)
    y = sn(keras.layers.Conv2D(8, 3, strides=2, padding="same"))(images)
    y = keras.layers.LeakyReLU(0.2)(y)
    y = keras.layers.Flatten()(y)
    y = sn(keras.layers.Dense(1))(y)
    d = keras.Model(images, y, name="d")
    # The generator EMA is part of `gan.weights`, so it is compared too.
    gan = GAN(g, d, LATENT, seed=1, ema_decay=0.9)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.05),
                g_optimizer=keras.optimizers.SGD(0.05),
                loss="wasserstein", penalty="gp", penalty_weight=10.0,
                n_critic=N_CRITIC, skip_nonfinite=guard)
    return gan


# Step 1, D update 0, row 1 of replica 1's part (distribute.shard_batch: D
# update i of replica r is global rows i*R*B + r*B ... + B).
NAN_AT = (1, B + 1)


def global_batches(inject=True, seed=0, nan=False):
    """STEPS global batches as one device would consume them; `nan` puts a
    NaN pixel into one image at `NAN_AT` (step, row)."""
    rng = np.random.default_rng(seed)
    n = N_CRITIC * REPLICAS * B
    out = []
    for _ in range(STEPS):
        batch = {"images": rng.uniform(-1, 1, (n,) + IMAGE).astype("float32")}
        if inject:
            batch["z"] = rng.standard_normal((n, LATENT)).astype("float32")
            batch["eps"] = rng.uniform(0, 1, (n,)).astype("float32")
            batch["z_g"] = rng.standard_normal(
                (REPLICAS * B, LATENT)).astype("float32")
        out.append(batch)
    if nan:
        step, row = NAN_AT
        out[step]["images"][row, 0, 0, 0] = np.nan
    return out


def tf_dataset(batches):
    import tensorflow as tf

    spec = {k: tf.TensorSpec(v.shape, v.dtype) for k, v in batches[0].items()}
    return tf.data.Dataset.from_generator(lambda: iter(batches),
                                          output_signature=spec)


class Recorder(keras.callbacks.Callback):
    """Keeps the logs of every train step."""

    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append({k: float(v) for k, v in (logs or {}).items()})


def result(gan, recorder):
    """Losses per step and every weight (by path), as numpy."""
    out = {}
    keys = ("d_loss", "g_loss", "d_real", "d_fake", "gp")
    for key in keys:
        out["log/" + key] = np.array([log[key] for log in recorder.logs])
    # Layer names differ between runs of one process: key by position.
    for i, v in enumerate(gan.weights):
        name = f"w/{i:03d}/{v.path.split('/')[-1]}"
        out[name] = np.array(keras.ops.convert_to_numpy(v.value))
    return out


def save(path, runs):
    flat = {}
    for name, values in runs.items():
        for key, value in values.items():
            flat[f"{name}|{key}"] = value
    np.savez(path, **flat)

"""One GAN train step against a hand-written plain-PyTorch step.

Same initial weights (drawn with NumPy and assigned on every backend), the
same real batch, and the noise z, z_g and the interpolation weights eps
injected through the batch dict: the losses, the gradients, the updated
weights and the BatchNorm statistics of one `train_on_batch` must equal
those of `reference.torch_gan_step.reference_train_step` on TensorFlow, JAX
and PyTorch, to `rtol=1e-4, atol=1e-6` in float32.
"""

import numpy as np
import pytest

import keras

from keras_gan_stable import GAN, dcgan_discriminator, dcgan_generator

torch = pytest.importorskip("torch")

from reference.torch_gan_step import reference_train_step  # noqa: E402
from reference.torch_nets import TorchChain, to_numpy  # noqa: E402

pytestmark = pytest.mark.multibackend

LATENT = 8
B = 4
TOL = dict(rtol=1e-4, atol=1e-6)


class GradientRecorder(keras.layers.Layer):
    """Non-trainable copies of the gradients of the last update of each
    variable: assigned inside the step, so they survive `jit` and
    `tf.function` like any other model state."""

    def __init__(self, variables, **kwargs):
        super().__init__(**kwargs)
        self.paths = [v.path for v in variables]
        self.index = {id(v): i for i, v in enumerate(variables)}
        self.slots = [
            self.add_weight(shape=v.shape, initializer="zeros",
                            trainable=False, name=f"grad_{i}")
            for i, v in enumerate(variables)
        ]
        self.built = True  # state made above; nothing to build from inputs

    def record(self, grads, variables):
        for g, v in zip(grads, variables):
            self.slots[self.index[id(v)]].assign(g)

    def values(self):
        return {p: to_numpy(s) for p, s in zip(self.paths, self.slots)}


class RecordingGAN(GAN):
    """A GAN that records its gradients through the `_apply_gradients` hook."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorder = GradientRecorder(
            self.discriminator.trainable_variables
            + self.generator.trainable_variables)

    def _apply_gradients(self, optimizer, grads, variables, **kwargs):
        self.recorder.record(grads, variables)
        return super()._apply_gradients(optimizer, grads, variables, **kwargs)


def set_weights(model, rng):
    """Backend-independent initial weights (BN statistics included)."""
    for v in model.weights:
        name = v.path.split("/")[-1]
        shape = tuple(v.shape)
        if name == "moving_variance":
            value = rng.uniform(0.5, 1.5, shape)
        elif name == "moving_mean":
            value = rng.normal(0.0, 0.1, shape)
        elif name == "gamma":
            value = 1.0 + rng.normal(0.0, 0.1, shape)
        elif name in ("beta", "bias"):
            value = rng.normal(0.0, 0.1, shape)
        else:  # kernels: [..., in, out] and transposed [..., out, in]
            fan_in = int(np.prod(shape[:-1]))
            value = rng.normal(0.0, 1.0, shape) / np.sqrt(fan_in)
        v.assign(value.astype("float32"))


def small_nets_without_bn():
    """16x16 G and D with no normalisation (the Adam comparison)."""
    layers = keras.layers
    z = keras.Input((LATENT,))
    x = layers.Dense(4 * 4 * 8)(z)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Reshape((4, 4, 8))(x)
    x = layers.Conv2DTranspose(4, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2DTranspose(1, 3, strides=2, padding="same")(x)
    x = layers.Activation("tanh")(x)
    g = keras.Model(z, x, name="g")
    img = keras.Input((16, 16, 1))
    y = layers.Conv2D(4, 3, strides=2, padding="same")(img)
    y = layers.LeakyReLU(0.2)(y)
    y = layers.Conv2D(8, 4, strides=2, padding="same")(y)
    y = layers.LeakyReLU(0.2)(y)
    y = layers.Flatten()(y)
    y = layers.Dense(1)(y)
    return g, keras.Model(img, y, name="d")


CASES = {
    # WGAN-GP with ProGAN's drift, two critic updates per G update.
    "wgan_gp": dict(loss="wasserstein", penalty=("gp", 10.0), d_norm="layer",
                    n_critic=2, drift=1e-3),
    # Hinge with BatchNorm in D as well as G: four BN-state updates per step.
    "hinge": dict(loss="hinge", penalty=None, d_norm="batch", n_critic=1),
    # Non-saturating + R1 (gamma = 10 enters as gamma / 2), smoothed labels.
    "ns_r1": dict(loss="non_saturating", penalty=("r1", 10.0), d_norm="none",
                  n_critic=1, label_smoothing=0.1),
    # Adam (DCGAN / WGAN-GP settings) on networks without BatchNorm.
    "adam_wgan_gp": dict(loss="wasserstein", penalty=("gp", 10.0),
                         d_norm=None, n_critic=1, adam=True),
}


def _run_case(case):
    rng = np.random.default_rng(7)
    if case.get("adam"):
        G, D = small_nets_without_bn()
        shape = (16, 16, 1)
    else:
        shape = (32, 32, 1)
        G = dcgan_generator(LATENT, shape, width=4)
        D = dcgan_discriminator(shape, width=4, normalization=case["d_norm"])
    set_weights(G, rng)
    set_weights(D, rng)
    k = case["n_critic"]
    batch = {
        "images": rng.uniform(-1, 1, (k * B,) + shape).astype("float32"),
        "z": rng.standard_normal((k * B, LATENT)).astype("float32"),
        "z_g": rng.standard_normal((B, LATENT)).astype("float32"),
        "eps": rng.uniform(0, 1, (k * B,)).astype("float32"),
    }
    ref_G, ref_D = TorchChain(G), TorchChain(D)
    if case.get("adam"):
        opt_spec = ("adam", 1e-3, 0.5, 0.9, 1e-7)
        d_opt = keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9, epsilon=1e-7)
        g_opt = keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9, epsilon=1e-7)
    else:
        opt_spec = ("sgd", 0.1)
        d_opt, g_opt = keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)
    penalty = case["penalty"]
    gan = RecordingGAN(G, D, latent_dim=LATENT, seed=0)
    gan.compile(d_opt, g_opt, loss=case["loss"],
                penalty=None if penalty is None else penalty[0],
                penalty_weight=None if penalty is None else penalty[1],
                n_critic=k, drift=case.get("drift", 0.0),
                label_smoothing=case.get("label_smoothing", 0.0))
    logs = gan.train_on_batch(batch, return_dict=True)
    ref_logs, ref_d_grads, ref_g_grads = reference_train_step(
        ref_G, ref_D, batch["images"], batch["z"], batch["z_g"], batch["eps"],
        loss=case["loss"], penalties=[] if penalty is None else [penalty],
        n_critic=k, d_opt=opt_spec, g_opt=opt_spec,
        drift=case.get("drift", 0.0),
        label_smoothing=case.get("label_smoothing", 0.0))
    return gan, logs, ref_G, ref_D, ref_logs, ref_d_grads, ref_g_grads


@pytest.mark.parametrize("name", sorted(CASES))
def test_train_step_matches_plain_pytorch(name):
    case = CASES[name]
    gan, logs, ref_G, ref_D, ref_logs, ref_d_grads, ref_g_grads = _run_case(case)
    assert sorted(logs) == sorted(ref_logs)
    assert sum(bool(np.abs(g).max() > 0)
               for g in {**ref_d_grads, **ref_g_grads}.values()) >= 8
    for key, expected in ref_logs.items():
        np.testing.assert_allclose(float(logs[key]), expected, **TOL,
                                   err_msg=f"log {key}")
    grads = gan.recorder.values()
    for path, expected in {**ref_d_grads, **ref_g_grads}.items():
        np.testing.assert_allclose(grads[path], expected.numpy(), **TOL,
                                   err_msg=f"gradient of {path}")
    for net, ref in ((gan.discriminator, ref_D), (gan.generator, ref_G)):
        for v in net.trainable_variables:
            np.testing.assert_allclose(
                to_numpy(v), ref.params[v.path].detach().numpy(), **TOL,
                err_msg=f"updated weight {v.path}")
        for v in net.non_trainable_variables:
            np.testing.assert_allclose(
                to_numpy(v), ref.state[v.path].numpy(), **TOL,
                err_msg=f"state {v.path}")
    n_bn_states = sum(len(r.state) for r in (ref_D, ref_G))
    assert n_bn_states == {"hinge": 10, "adam_wgan_gp": 0}.get(name, 6)
    assert int(to_numpy(gan.d_optimizer.iterations)) == case["n_critic"]
    assert int(to_numpy(gan.g_optimizer.iterations)) == 1

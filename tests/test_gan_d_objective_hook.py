"""GAN's discriminator-objective hook: a term added there trains D exactly
as the same term added by an existing option (ProGAN's drift)."""

import numpy as np

import keras
from keras import ops

from keras_gan_stable.models.gan import GAN

DRIFT = 0.25


class _DriftByHook(GAN):
    def _discriminator_objective(self, adversarial, real, real_logits,
                                 fake_logits, labels, training=True):
        extra = self._reduce(ops.square(ops.reshape(real_logits, (-1,))))
        return adversarial + DRIFT * extra, {"hook": extra}


def _nets(seed):
    keras.utils.set_random_seed(seed)
    z = keras.Input((3,))
    g = keras.Model(z, keras.layers.Dense(4, activation="tanh")(z))
    x = keras.Input((4,))
    h = keras.layers.Dense(5, activation="relu")(x)
    return g, keras.Model(x, keras.layers.Dense(1)(h))


def test_hook_term_equals_drift_option():
    rng = np.random.default_rng(0)
    batch = {"images": rng.uniform(-1, 1, (6, 4)).astype("float32"),
             "z": rng.standard_normal((6, 3)).astype("float32"),
             "z_g": rng.standard_normal((3, 3)).astype("float32")}
    runs = []
    for cls, drift in ((GAN, DRIFT), (_DriftByHook, 0.0), (GAN, 0.0)):
        g, d = _nets(1)
        gan = cls(g, d, latent_dim=3)
        gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1),
                    drift=drift, n_critic=2, data_range=None)
        logs = gan.train_on_batch(batch, return_dict=True)
        runs.append(([np.asarray(ops.convert_to_numpy(v))
                      for v in g.weights + d.weights], logs))
    (by_option, _), (by_hook, _), (plain, _) = runs
    # The same float32 operations in another order: 1e-6 relative.
    for a, b, c in zip(by_option, by_hook, plain):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # The term changes D's update (the test would see a hook left out).
    assert max(np.abs(a - c).max() for a, c in zip(by_option, plain)) > 1e-4

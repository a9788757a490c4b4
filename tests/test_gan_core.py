"""The GAN model: n_critic scheduling, input checks, sampling, `.keras` files."""

import os

import numpy as np
import pytest

import keras
from keras import ops

from keras_gan_stable import GAN, dcgan_discriminator, dcgan_generator

LATENT = 8


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


@keras.saving.register_keras_serializable(package="keras_gan_stable_tests")
class SeenProbe(keras.layers.Layer):
    """Identity layer that records which real samples D is trained on.

    Real images carry their index + 2 in pixel (0, 0, 0); generated images
    are in (-1, 1). In training calls, `seen[i]` counts the calls that saw
    sample i and `when[i]` sums the number of the D-on-real call (1, 2, ...)
    that saw it.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = n

    def build(self, input_shape):
        self.seen = self.add_weight(shape=(self.n,), initializer="zeros",
                                    trainable=False, name="seen")
        self.when = self.add_weight(shape=(self.n,), initializer="zeros",
                                    trainable=False, name="when")
        self.calls = self.add_weight(shape=(), initializer="zeros",
                                     trainable=False, name="calls")

    def call(self, x, training=False):
        if training:
            tag = x[:, 0, 0, 0]
            real = ops.cast(tag > 1.5, "float32")
            calls = self.calls + ops.max(real)
            ids = ops.cast(ops.round(tag - 2.0) * real, "int32")
            hits = ops.sum(ops.one_hot(ids, self.n) * real[:, None], axis=0)
            self.calls.assign(calls)
            self.seen.assign(self.seen + hits)
            self.when.assign(self.when + hits * calls)
        return x

    def get_config(self):
        return {**super().get_config(), "n": self.n}


def probe_gan(n, shape=(8, 8, 1)):
    z = keras.Input((LATENT,))
    g = keras.layers.Dense(int(np.prod(shape)), activation="tanh")(z)
    G = keras.Model(z, keras.layers.Reshape(shape)(g))
    img = keras.Input(shape)
    x = SeenProbe(n, name="probe")(img)
    x = keras.layers.Flatten()(x)
    D = keras.Model(img, keras.layers.Dense(1)(x))
    return GAN(G, D, latent_dim=LATENT, seed=0)


@pytest.mark.multibackend
def test_n_critic_5_trains_d_on_5_distinct_batches_per_g_update():
    k, b, steps = 5, 3, 2
    n = k * b * steps
    images = np.random.default_rng(0).uniform(
        -1, 1, (n, 8, 8, 1)).astype("float32")
    images[:, 0, 0, 0] = np.arange(n) + 2.0  # sample ids
    gan = probe_gan(n)
    # The id tags lie outside [-1, 1]: turn the range check off.
    gan.compile(keras.optimizers.SGD(1e-3), keras.optimizers.SGD(1e-3),
                loss="non_saturating", n_critic=k, data_range=None)
    gan.fit(images, batch_size=k * b, epochs=1, shuffle=False, verbose=0)
    probe = gan.discriminator.get_layer("probe")
    # Each real sample was trained on exactly once...
    np.testing.assert_array_equal(_np(probe.seen), np.ones(n))
    # ... in D update number i // b + 1: five distinct consecutive slices of
    # b samples per train step, none shared with the generator step.
    np.testing.assert_array_equal(_np(probe.when), np.arange(n) // b + 1)
    assert float(_np(probe.calls)) == k * steps
    # Both optimizers' state advanced (on JAX only through GANOptimizer).
    assert int(_np(gan.d_optimizer.iterations)) == k * steps
    assert int(_np(gan.g_optimizer.iterations)) == steps
    assert int(_np(gan.optimizer.iterations)) == steps


@pytest.mark.multibackend
def test_predict_generate_and_evaluate():
    G = dcgan_generator(LATENT, (28, 28, 1), width=4)
    D = dcgan_discriminator((28, 28, 1), width=4)
    gan = GAN(G, D, latent_dim=LATENT, seed=0)
    gan.compile(loss="hinge")
    a = gan.generate(5, seed=3)
    b = gan.generate(5, seed=3, batch_size=2)
    assert a.shape == (5, 28, 28, 1)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(a, gan.generate(5, seed=4))
    assert np.abs(a).max() <= 1.0
    z, _ = gan.sample_latents(5, seed=3)
    np.testing.assert_allclose(gan.predict(z, verbose=0), a, rtol=1e-5,
                               atol=1e-6)
    # evaluate() reports the hinge losses on the real data and changes
    # nothing.
    x = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    before = [_np(v).copy() for v in gan.weights]
    logs = gan.evaluate({"images": x, "z": z[:8] if len(z) >= 8 else
                         np.tile(z, (2, 1))[:8]}, batch_size=8, verbose=0,
                        return_dict=True)
    for v, old in zip(gan.weights, before):
        np.testing.assert_array_equal(_np(v), old)
    zz = np.tile(z, (2, 1))[:8]
    real = _np(D(x, training=False)).ravel()
    fake = _np(D(G(zz, training=False), training=False)).ravel()
    expected_d = np.mean(np.maximum(1 - real, 0) + np.maximum(1 + fake, 0))
    np.testing.assert_allclose(logs["d_loss"], expected_d, rtol=1e-4)
    np.testing.assert_allclose(logs["g_loss"], -fake.mean(), rtol=1e-4,
                               atol=1e-6)


# --------------------------------------------------------------------------
# Clear errors before training
# --------------------------------------------------------------------------
def _small_gan(shape=(28, 28, 1), d_norm="layer"):
    G = dcgan_generator(LATENT, shape, width=4)
    D = dcgan_discriminator(shape, width=4, normalization=d_norm)
    return GAN(G, D, latent_dim=LATENT)


@pytest.mark.multibackend
def test_generator_output_must_match_discriminator_input():
    G = dcgan_generator(LATENT, (32, 32, 1), width=4)
    D = dcgan_discriminator((28, 28, 1), width=4)
    with pytest.raises(ValueError, match=r"output shape \(32, 32, 1\) differs "
                       r"from the discriminator's input shape \(28, 28, 1\)"):
        GAN(G, D, latent_dim=LATENT)
    with pytest.raises(ValueError, match="latent_dim=16"):
        GAN(dcgan_generator(LATENT, (28, 28, 1), width=4), D, latent_dim=16)
    with pytest.raises(ValueError, match="latent_dim"):
        GAN(G, D, latent_dim=0)


@pytest.mark.multibackend
def test_compile_arguments_are_checked():
    gan = _small_gan()
    with pytest.raises(ValueError, match="Unknown GAN loss.*'wgan_gp_hinge'"):
        gan.compile(loss="wgan_gp_hinge")
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match=f"n_critic={bad}"):
            gan.compile(n_critic=bad)
    with pytest.raises(ValueError, match="weight.*>= 0.*-10.0"):
        gan.compile(loss="wasserstein", penalty="gp", penalty_weight=-10.0)
    with pytest.raises(ValueError, match="drift"):
        gan.compile(drift=-0.1)
    with pytest.raises(ValueError, match="weight_clip"):
        gan.compile(weight_clip=0.0)
    with pytest.raises(ValueError, match="d_optimizer.*g_optimizer"):
        gan.compile(optimizer="adam")
    opt = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two distinct optimizer"):
        gan.compile(d_optimizer=opt, g_optimizer=opt)


@pytest.mark.multibackend
def test_gradient_penalty_with_batch_norm_in_d_is_refused():
    gan = _small_gan(d_norm="batch")
    with pytest.raises(ValueError, match="BatchNormalization.*"
                       "LayerNormalization"):
        gan.compile(loss="wasserstein", penalty="gp")
    gan.compile(loss="hinge")  # no penalty: BatchNorm is fine


@pytest.mark.multibackend
def test_bad_datasets_fail_before_training():
    gan = _small_gan()
    gan.compile(loss="hinge", n_critic=2)
    w0 = [_np(v).copy() for v in gan.trainable_variables]
    cases = [
        (np.zeros((16, 28, 28), "float32"), "shape \\(28, 28\\).*takes "
         "\\(28, 28, 1\\)"),  # wrong rank
        (np.zeros((16, 32, 32, 1), "float32"), "\\(32, 32, 1\\)"),  # size
        (np.zeros((1, 28, 28, 1), "float32"), "fewer than `n_critic=2`"),
        (np.zeros((0, 28, 28, 1), "float32"), "empty"),
        (np.full((4, 28, 28, 1), np.nan, "float32"), "NaN"),
    ]
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            gan.fit(data, batch_size=4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="batch_size=5.*n_critic=2"):
        gan.fit(np.zeros((10, 28, 28, 1), "float32"), batch_size=5,
                verbose=0)
    for v, old in zip(gan.trainable_variables, w0):
        np.testing.assert_array_equal(_np(v), old)
    fresh = _small_gan()
    with pytest.raises(RuntimeError, match="compile"):
        fresh.fit(np.zeros((4, 28, 28, 1), "float32"))


def test_bad_tf_dataset_fails_before_training():
    import tensorflow as tf

    gan = _small_gan()
    gan.compile(loss="hinge")
    ds = tf.data.Dataset.from_tensor_slices(
        np.zeros((8, 28, 28, 3), "float32")).batch(4)
    with pytest.raises(ValueError, match=r"\(28, 28, 3\).*\(28, 28, 1\)"):
        gan.fit(ds, epochs=1, verbose=0)


# --------------------------------------------------------------------------
# .keras round trip
# --------------------------------------------------------------------------
def test_keras_file_round_trip_resumes_training(tmp_path):
    # TensorFlow pass only: on JAX the three compilations of this GP step
    # cost minutes of CPU; the saving tests cover the other backends.
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    batch = {"images": x[:8], "z": rng.standard_normal((8, LATENT)).astype(
        "float32"), "z_g": rng.standard_normal((4, LATENT)).astype("float32"),
        "eps": rng.uniform(0, 1, 8).astype("float32")}
    gan = _small_gan()
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9),
                keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9),
                loss="wasserstein", penalty="gp", penalty_weight=10.0,
                n_critic=2)
    gan.fit(x, batch_size=8, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, GAN)
    assert loaded.n_critic == 2 and loaded.loss_fn.name == "wasserstein"
    assert [p.get_config() for p in loaded.penalties] == [
        {"kind": "gp", "weight": 10.0, "target": 1.0}]
    np.testing.assert_allclose(float(_np(loaded.d_optimizer.learning_rate)),
                               1e-3, rtol=1e-6)
    np.testing.assert_array_equal(loaded.generate(4, seed=1),
                                  gan.generate(4, seed=1))
    for a, b in ((gan.d_optimizer, loaded.d_optimizer),
                 (gan.g_optimizer, loaded.g_optimizer)):
        assert len(a.variables) == len(b.variables) > 2
        for va, vb in zip(a.variables, b.variables):
            np.testing.assert_array_equal(_np(va), _np(vb))
    assert int(_np(loaded.d_optimizer.iterations)) == 4  # 2 steps x n_critic
    # The same next step from the original and from the reloaded model.
    logs_a = gan.train_on_batch(batch, return_dict=True)
    logs_b = loaded.train_on_batch(batch, return_dict=True)
    for key in logs_a:
        np.testing.assert_allclose(logs_b[key], logs_a[key], rtol=1e-5,
                                   atol=1e-6, err_msg=key)
    for va, vb in zip(gan.weights, loaded.weights):
        np.testing.assert_allclose(_np(vb), _np(va), rtol=1e-5, atol=1e-6)
    assert int(_np(loaded.g_optimizer.iterations)) == 3

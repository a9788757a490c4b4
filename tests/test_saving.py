"""`.keras` round trips (safe_mode on): same samples, same state, same next step."""

import importlib

import keras
import numpy as np
import pytest

from keras_gan_stable import GAN
from keras_gan_stable import dcgan_discriminator
from keras_gan_stable import dcgan_generator

LATENT = 8
SHAPE = (28, 28, 1)


def _batch(seed, n=8, k=1):
    rng = np.random.default_rng(seed)
    return {
        "images": rng.uniform(-1, 1, (k * n,) + SHAPE).astype("float32"),
        "z": rng.standard_normal((k * n, LATENT)).astype("float32"),
        "z_g": rng.standard_normal((n, LATENT)).astype("float32"),
        "eps": rng.uniform(0, 1, (k * n,)).astype("float32"),
    }


def _one_step(gan, batch):
    import tensorflow as tf  # noqa: F401  (tf.data for a dict of arrays)

    ds = tf.data.Dataset.from_tensors(batch)
    return gan.fit(ds, epochs=1, verbose=0).history


def _weights(model):
    return [keras.ops.convert_to_numpy(v) for v in model.weights]


def _opt_state(gan):
    return [keras.ops.convert_to_numpy(v) for v in gan.optimizer.variables]


def _round_trip(gan, tmp_path, name="gan.keras"):
    path = str(tmp_path / name)
    gan.save(path)
    return keras.saving.load_model(path, safe_mode=True)


def _check_same(gan, loaded):
    np.testing.assert_array_equal(gan.generate(6, seed=3),
                                  loaded.generate(6, seed=3))
    x = np.random.default_rng(4).uniform(-1, 1, (5,) + SHAPE).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(gan.discriminator(x, training=False)),
        keras.ops.convert_to_numpy(loaded.discriminator(x, training=False)),
        rtol=1e-6, atol=1e-6)
    for a, b in zip(_weights(gan), _weights(loaded)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_opt_state(gan), _opt_state(loaded)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.multibackend
def test_gan_round_trip_generates_identically_and_continues(tmp_path):
    g = dcgan_generator(LATENT, SHAPE, width=4)
    d = dcgan_discriminator(SHAPE, width=4, normalization="layer")
    gan = GAN(g, d, latent_dim=LATENT, seed=1)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.0),
                g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.0),
                loss="wasserstein", penalty="gp", penalty_weight=5.0,
                n_critic=2)
    _one_step(gan, _batch(0, k=2))
    loaded = _round_trip(gan, tmp_path)
    assert isinstance(loaded, GAN)
    config = loaded.get_compile_config()
    assert config["loss"] == "wasserstein" and config["n_critic"] == 2
    assert [p["kind"] if isinstance(p, dict) and "kind" in p else p
            for p in config["penalty"]] == [
        p["kind"] if isinstance(p, dict) and "kind" in p else p
        for p in gan.get_compile_config()["penalty"]]
    assert float(keras.ops.convert_to_numpy(
        loaded.d_optimizer.learning_rate)) == pytest.approx(1e-3)
    assert int(keras.ops.convert_to_numpy(loaded.d_optimizer.iterations)) == 2
    assert int(keras.ops.convert_to_numpy(loaded.g_optimizer.iterations)) == 1
    _check_same(gan, loaded)
    # The same next step (injected noise) from the original and the copy.
    before = _weights(loaded.generator)
    batch = _batch(1, k=2)
    h1 = _one_step(gan, batch)
    h2 = _one_step(loaded, batch)
    np.testing.assert_allclose(h1["d_loss"], h2["d_loss"], rtol=1e-5)
    np.testing.assert_allclose(h1["g_loss"], h2["g_loss"], rtol=1e-5)
    for a, b in zip(_weights(gan), _weights(loaded)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(not np.array_equal(a, b)
               for a, b in zip(before, _weights(loaded.generator)))
    assert int(keras.ops.convert_to_numpy(loaded.d_optimizer.iterations)) == 4


@pytest.mark.multibackend
def test_generator_round_trip(tmp_path):
    g = dcgan_generator(LATENT, SHAPE, width=4, num_classes=3)
    path = str(tmp_path / "g.keras")
    g.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    z = np.random.default_rng(0).standard_normal((4, LATENT)).astype("float32")
    y = np.array([0, 1, 2, 1], "int32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(g([z, y], training=False)),
        keras.ops.convert_to_numpy(loaded([z, y], training=False)))


def _builders():
    """Every architecture family with custom layers that is installed."""
    out = []
    for module, g_name, d_name in (
            ("keras_gan_stable.architectures.sngan", "sngan_cnn_generator",
             "sngan_cnn_discriminator"),
            ("keras_gan_stable.architectures.sngan", "sngan_resnet_generator",
             "sngan_resnet_discriminator"),
            ("keras_gan_stable.architectures.sagan", "sagan_generator",
             "sagan_discriminator")):
        try:
            mod = importlib.import_module(module)
            out.append(pytest.param(getattr(mod, g_name),
                                    getattr(mod, d_name), id=g_name))
        except (ImportError, AttributeError):
            continue
    return out


@pytest.mark.parametrize("g_fn,d_fn", _builders())
def test_custom_layer_architectures_round_trip(tmp_path, g_fn, d_fn):
    """Spectral norm vectors, conditional BN, attention: all registered."""
    shape = (32, 32, 1)
    g = g_fn(latent_dim=LATENT, image_shape=shape, width=8, num_classes=3)
    d = d_fn(image_shape=shape, width=8, num_classes=3)
    gan = GAN(g, d, latent_dim=LATENT, num_classes=3)
    gan.compile(loss="hinge")
    rng = np.random.default_rng(0)
    loaded = _round_trip(gan, tmp_path)
    np.testing.assert_array_equal(gan.generate(4, seed=0),
                                  loaded.generate(4, seed=0))
    x = rng.uniform(-1, 1, (4,) + shape).astype("float32")
    y = np.array([0, 1, 2, 0], "int32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(gan.discriminator([x, y], training=False)),
        keras.ops.convert_to_numpy(loaded.discriminator([x, y],
                                                        training=False)),
        rtol=1e-5, atol=1e-6)
    for a, b in zip(_weights(gan), _weights(loaded)):  # incl. SN vectors u
        np.testing.assert_array_equal(a, b)

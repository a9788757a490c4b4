"""The generator EMA kept inside the GAN (`GAN(..., ema_decay=...)`)."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_gan_stable import GAN

LATENT = 8


def _np(x):
    return np.array(ops.convert_to_numpy(x))


def _gan(**kwargs):
    g = keras.Sequential([
        keras.Input((LATENT,)),
        keras.layers.Dense(16),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("tanh"),
        keras.layers.Dense(4 * 4, activation="tanh"),
        keras.layers.Reshape((4, 4, 1)),
    ], name="g")
    d = keras.Sequential([
        keras.Input((4, 4, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(1),
    ], name="d")
    return GAN(g, d, latent_dim=LATENT, seed=0, **kwargs)


class _RecordG(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.trajectory = []

    def on_train_batch_end(self, batch, logs=None):
        g = self.model.generator  # reading self.model syncs JAX's state
        self.trajectory.append([_np(w) for w in g.weights])


@pytest.mark.multibackend
@pytest.mark.parametrize("rampup", [None, 0.5])
def test_ema_follows_the_reference_recursion(rampup):
    decay = 0.9
    gan = _gan(ema_decay=decay, ema_rampup=rampup)
    gan.compile()
    g = gan.generator
    w0 = [_np(w) for w in g.weights]
    np.testing.assert_array_equal(w0[0], _np(gan.ema_generator.weights[0]))
    rec = _RecordG()
    x = np.random.default_rng(0).uniform(-1, 1, (48, 4, 4, 1)).astype(
        "float32")
    gan.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[rec])
    trainable = [w.trainable for w in g.weights]
    ema = [w.copy() for w in w0]
    half_life = math.log(0.5) / math.log(decay)
    for t, weights in enumerate(rec.trajectory, start=1):
        beta = decay
        if rampup is not None:  # StyleGAN2-ADA: half-life <= rampup * t
            beta = 0.5 ** (1.0 / min(half_life, rampup * t))
        for i, w in enumerate(weights):
            ema[i] = w + beta * (ema[i] - w) if trainable[i] else w.copy()
    got = [_np(w) for w in gan.ema_generator.weights]
    assert len(got) == len(ema) == 8  # 2 dense x 2, BN gamma/beta/mean/var
    for i, (a, b) in enumerate(zip(got, ema)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6,
                                   err_msg=g.weights[i].path)
    # The average differs from the last weights; BN statistics are copies.
    final = rec.trajectory[-1]
    assert not np.allclose(got[0], final[0])
    for i, tr in enumerate(trainable):
        if not tr:
            np.testing.assert_array_equal(got[i], final[i])
    # EMA weights are not trained: not in the GAN's trainable variables.
    ids = {id(v) for v in gan.trainable_variables}
    assert not any(id(v) in ids for v in gan.ema_generator.weights)


@pytest.mark.multibackend
def test_generate_samples_from_the_ema_generator_by_default():
    gan = _gan(ema_decay=0.5)
    gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (16, 4, 4, 1)).astype(
        "float32")
    gan.fit(x, batch_size=8, epochs=1, verbose=0)
    z, _ = gan.sample_latents(5, seed=3)
    from_ema = _np(gan.ema_generator(z, training=False))
    from_g = _np(gan.generator(z, training=False))
    assert not np.allclose(from_ema, from_g)
    np.testing.assert_allclose(gan.generate(5, seed=3), from_ema, atol=1e-6)
    np.testing.assert_allclose(gan.generate(5, seed=3, use_ema=False), from_g,
                               atol=1e-6)
    plain = _gan()
    plain.compile()
    assert plain.ema_generator is None
    with pytest.raises(ValueError, match="ema_decay"):
        plain.generate(2, use_ema=True)


def test_ema_arguments_are_validated_and_serialised(tmp_path):
    with pytest.raises(ValueError, match="ema_decay"):
        _gan(ema_decay=1.0)
    with pytest.raises(ValueError, match="ema_rampup"):
        _gan(ema_rampup=0.05)
    gan = _gan(ema_decay=0.99, ema_rampup=0.05)
    gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (16, 4, 4, 1)).astype(
        "float32")
    gan.fit(x, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.ema_decay == 0.99 and loaded.ema_rampup == 0.05
    for a, b in zip(gan.ema_generator.weights, loaded.ema_generator.weights):
        np.testing.assert_array_equal(_np(a), _np(b))
    np.testing.assert_allclose(loaded.generate(3, seed=1),
                               gan.generate(3, seed=1), atol=1e-6)

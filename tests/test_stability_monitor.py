"""`StabilityMonitor`: statistics, alarms and checkpointable state."""

import json

import keras
import numpy as np
import pytest
from keras import ops
from scipy.spatial.distance import pdist

from keras_gan_stable import GAN
from keras_gan_stable.callbacks.stability_monitor import StabilityMonitor
from keras_gan_stable.callbacks.stability_monitor import mean_pairwise_distance
from keras_gan_stable.callbacks.stability_monitor import pixel_features


def _disc(shape=(28, 28, 1)):
    return keras.Sequential([keras.Input(shape), keras.layers.Flatten(),
                             keras.layers.Dense(1)], name="d")


class _ConstantImage(keras.layers.Layer):
    """A collapsed generator: one image whatever z is."""

    def __init__(self, image, **kwargs):
        super().__init__(**kwargs)
        self.image = np.asarray(image, "float32")

    def call(self, z, training=False):
        n = ops.shape(z)[0]
        return ops.broadcast_to(ops.convert_to_tensor(self.image)[None],
                                (n,) + self.image.shape)


class _RealImages(keras.layers.Layer):
    """A perfect 'generator': returns real images chosen by z."""

    def __init__(self, bank, **kwargs):
        super().__init__(**kwargs)
        self.bank = np.asarray(bank, "float32")

    def call(self, z, training=False):
        idx = ops.cast(ops.abs(z[:, 0]) * 1e4, "int32") % len(self.bank)
        return ops.take(ops.convert_to_tensor(self.bank), idx, axis=0)


def test_mean_pairwise_distance_matches_scipy(rng):
    f = rng.normal(size=(20, 7))
    np.testing.assert_allclose(mean_pairwise_distance(f), pdist(f).mean(),
                               rtol=1e-10)
    x = rng.normal(size=(3, 32, 32, 3))
    np.testing.assert_allclose(
        pixel_features(x),
        x.reshape(3, 16, 2, 16, 2, 3).mean(axis=(2, 4)).reshape(3, -1),
        rtol=1e-5, atol=1e-6)


def test_collapse_alarm_fires_for_one_image_and_not_for_real_images(
        mnist_test_set):
    images = mnist_test_set[0]
    reference, bank = images[:256], images[256:2256]
    collapsed = GAN(_ConstantImage(images[0]), _disc(), latent_dim=4)
    monitor = StabilityMonitor(real_images=reference, num_samples=64,
                               verbose=0)
    gen, real = monitor.check_diversity(collapsed)
    assert gen == 0.0 and real > 1.0
    assert [e["alarm"] for e in monitor.events] == ["collapse"]

    perfect = GAN(_RealImages(bank), _disc(), latent_dim=4)
    monitor = StabilityMonitor(real_images=reference, num_samples=64,
                               verbose=0)
    gen, real = monitor.check_diversity(perfect)
    assert 0.8 < gen / real < 1.25
    assert monitor.events == []


def _series_monitor(**kwargs):
    gan = GAN(_ConstantImage(np.zeros((28, 28, 1))), _disc(), latent_dim=4)
    monitor = StabilityMonitor(verbose=0, every=10, **kwargs)
    monitor.set_model(gan)
    return monitor


def test_divergence_and_nonfinite_alarms_on_a_loss_series(rng):
    monitor = _series_monitor(divergence_window=50, divergence_threshold=10.0,
                              stop_on=("divergence",))
    steady = 1.0 + 0.05 * rng.normal(size=120)
    for v in steady:
        monitor.on_train_batch_end(0, {"d_loss_step": v, "g_loss_step": v})
    assert monitor.events == []  # noise within the spread: quiet
    monitor.on_train_batch_end(0, {"d_loss_step": 1.0, "g_loss_step": 9.0})
    assert [(e["alarm"], e["step"]) for e in monitor.events] == [
        ("divergence", 121)]
    assert monitor.model.stop_training
    monitor.on_train_batch_end(0, {"d_loss_step": float("nan"),
                                   "g_loss_step": 1.0})
    assert monitor.events[-1]["alarm"] == "nonfinite"
    monitor.on_train_batch_end(0, {"nonfinite_skips": 0.0})
    monitor.on_train_batch_end(0, {"nonfinite_skips": 2.0})
    assert monitor.events[-1]["alarm"] == "nonfinite"
    assert monitor.events[-1]["value"] == 2.0


def test_overfitting_alarm_needs_r_t_high_for_patience_checks():
    monitor = _series_monitor(overfit_threshold=0.9, overfit_patience=3)
    for r in [0.95] * 20 + [0.5] * 10 + [0.95] * 20:  # 2 high checks, reset
        monitor.on_train_batch_end(0, {"r_t": r})
    assert monitor.events == []
    for r in [0.95] * 10:
        monitor.on_train_batch_end(0, {"r_t": r})
    assert [e["alarm"] for e in monitor.events] == ["overfitting"]
    assert [h["step"] for h in monitor.history] == [10, 20, 30, 40, 50, 60]
    np.testing.assert_allclose([h["r_t"] for h in monitor.history],
                               [0.95, 0.95, 0.5, 0.95, 0.95, 0.95])


def test_state_round_trip_is_json_serialisable(rng):
    monitor = _series_monitor()
    for v in rng.normal(size=30):
        monitor.on_train_batch_end(0, {"d_loss_step": v, "g_loss_step": v,
                                       "d_loss": v, "r_t": 0.99})
    state = json.loads(json.dumps(monitor.get_state()))
    other = _series_monitor()
    other.set_state(state)
    assert other.get_state() == monitor.get_state()


def test_spectral_norm_sigma_is_logged():
    from keras_gan_stable.layers.spectral_normalization import (
        SpectralNormalization)

    d = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                          SpectralNormalization(keras.layers.Dense(5)),
                          keras.layers.Dense(1)], name="d")
    gan = GAN(_ConstantImage(np.zeros((28, 28, 1))), d, latent_dim=4)
    monitor = StabilityMonitor(verbose=0)
    sigmas = monitor.spectral_sigmas(gan)
    assert len(sigmas) == 1
    kernel = np.asarray(ops.convert_to_numpy(d.layers[1].layer.kernel))
    top = np.linalg.svd(kernel, compute_uv=False)[0]
    # The layer's power-iteration estimate of the top singular value.
    np.testing.assert_allclose(list(sigmas.values())[0], top, rtol=0.03)


@pytest.mark.slow
def test_overfitting_alarm_fires_when_d_memorises_a_tiny_set(mnist_test_set):
    """16 training images, a D that learns 10x faster than G: D separates
    its training set (r_t -> 1) and the alarm fires; the per-step
    statistics are logged along the way."""
    from keras_gan_stable.architectures.dcgan import dcgan_discriminator
    from keras_gan_stable.architectures.dcgan import dcgan_generator

    tiny = mnist_test_set[0][:16]
    gan = GAN(dcgan_generator(16, (28, 28, 1), width=8),
              dcgan_discriminator((28, 28, 1), width=8, normalization="none"),
              latent_dim=16, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    monitor = StabilityMonitor(every=10, overfit_threshold=0.9,
                               overfit_patience=3, verbose=0,
                               stop_on=("overfitting",))
    data = np.concatenate([tiny] * 40)  # 640 images: 40 steps of 16
    gan.fit(data, batch_size=16, epochs=5, verbose=0, callbacks=[monitor])
    assert gan.track_stats  # turned on by the monitor
    alarms = monitor.alarms("overfitting")
    assert len(alarms) == 1 and alarms[0]["value"] > 0.9
    assert monitor.history[-1]["step"] == alarms[0]["step"]  # stopped there
    for key in ("d_grad_norm", "g_grad_norm", "d_real", "d_fake", "r_t"):
        assert all(np.isfinite(h[key]) for h in monitor.history), key

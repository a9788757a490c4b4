"""The DCGAN learns MNIST: samples move measurably closer to the data.

TensorFlow only, reduced width. The distance is the Frechet distance between
Gaussians fitted to simple fixed features (4x4 average-pooled pixels, 49
dimensions), the FID formula without an Inception network:
||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)).
"""

import numpy as np
import pytest
import scipy.linalg

import keras

from keras_gan_stable import GAN, dcgan_discriminator, dcgan_generator

pytestmark = pytest.mark.slow


def pooled_features(images):
    x = np.asarray(images, "float64")[..., 0]  # [N, 28, 28]
    return x.reshape(len(x), 7, 4, 7, 4).mean(axis=(2, 4)).reshape(len(x), -1)


def frechet_distance(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum()
                 + np.trace(s_a + s_b - 2.0 * covmean))


def test_frechet_distance_formula():
    # Two Gaussians with covariances s^2 I and t^2 I in d dimensions:
    # FD = |mu_a - mu_b|^2 + d (s - t)^2.
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, (200_000, 3))
    b = rng.normal(0.5, 2.0, (200_000, 3))
    np.testing.assert_allclose(frechet_distance(a, b),
                               3 * 0.25 + 3 * 1.0, rtol=2e-2)


def test_dcgan_moves_samples_towards_mnist(mnist_test_set):
    images, _ = mnist_test_set
    latent = 32
    gan = GAN(dcgan_generator(latent, (28, 28, 1), width=16),
              dcgan_discriminator((28, 28, 1), width=16),
              latent_dim=latent, seed=0)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                keras.optimizers.Adam(2e-4, beta_1=0.5),
                loss="non_saturating")
    data = pooled_features(images[:2000])
    fd_init = frechet_distance(pooled_features(gan.generate(2000, seed=1)),
                               data)
    # 156 whole batches per epoch: one batch shape, one traced step.
    history = gan.fit(images[:156 * 64], batch_size=64, epochs=3,
                      shuffle=True, verbose=0)
    fd_trained = frechet_distance(
        pooled_features(gan.generate(2000, seed=1)), data)
    # The floor: the distance between two halves of the data itself.
    fd_data = frechet_distance(pooled_features(images[2000:4000]), data)
    print(f"FD pooled pixels: init {fd_init:.2f}, after 3 epochs (468 steps) "
          f"{fd_trained:.2f}, data vs data {fd_data:.3f}")
    assert np.isfinite(history.history["d_loss"][-1])
    assert fd_trained < 0.25 * fd_init  # measured: 36.5 -> 2.2
    assert fd_data < 0.1 * fd_trained  # the metric can still tell them apart

"""The GAN objectives against their formulas on hand-picked logits."""

import numpy as np
import pytest

import keras

from keras_gan_stable import GAN, losses

pytestmark = pytest.mark.multibackend

R = np.array([2.0, -1.0, 0.5, 0.0], "float32")  # D logits on real samples
F = np.array([0.5, -3.0, -0.2, 1.0], "float32")  # D logits on fakes


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


def log_sigmoid(x):
    return -np.log1p(np.exp(-np.asarray(x, "float64")))


def log_one_minus_sigmoid(x):
    return -np.log1p(np.exp(np.asarray(x, "float64")))


def test_hinge_by_hand():
    # relu(1 - r) + relu(1 + f): [0 + 1.5, 2 + 0, 0.5 + 0.8, 1 + 2]
    loss = losses.get("hinge")
    np.testing.assert_allclose(_np(loss.discriminator_loss(R, F)),
                               [1.5, 2.0, 1.3, 3.0], rtol=1e-6)
    np.testing.assert_allclose(_np(loss.generator_loss(F)), -F, rtol=1e-6)


def test_wasserstein_by_hand():
    loss = losses.get("wasserstein")
    np.testing.assert_allclose(_np(loss.discriminator_loss(R, F)),
                               [-1.5, -2.0, -0.7, 1.0], rtol=1e-6)
    np.testing.assert_allclose(_np(loss.generator_loss(F)),
                               [-0.5, 3.0, 0.2, -1.0], rtol=1e-6)
    assert loss.is_wasserstein


def test_least_squares_by_hand():
    # ((r - 1)^2 + f^2) / 2 and (f - 1)^2 / 2
    loss = losses.get("least_squares")
    np.testing.assert_allclose(_np(loss.discriminator_loss(R, F)),
                               [0.625, 6.5, 0.145, 1.0], rtol=1e-6)
    np.testing.assert_allclose(_np(loss.generator_loss(F)),
                               [0.125, 8.0, 0.72, 0.0], rtol=1e-6)


def test_cross_entropy_losses_match_log_sigmoid_formulas():
    # D maximises log D(x) + log(1 - D(G(z))) with D = sigmoid(logit).
    d_expected = -log_sigmoid(R) - log_one_minus_sigmoid(F)
    for name in ("minimax", "non_saturating"):
        np.testing.assert_allclose(
            _np(losses.get(name).discriminator_loss(R, F)), d_expected,
            rtol=1e-6)
    # Minimax G minimises log(1 - D(G(z))); non-saturating G minimises
    # -log D(G(z)).
    np.testing.assert_allclose(_np(losses.get("minimax").generator_loss(F)),
                               log_one_minus_sigmoid(F), rtol=1e-6)
    np.testing.assert_allclose(
        _np(losses.get("non_saturating").generator_loss(F)),
        -log_sigmoid(F), rtol=1e-6)
    # A hand value: logit 0 gives D = 1/2, so each term is log 2.
    np.testing.assert_allclose(
        _np(losses.get("non_saturating").discriminator_loss([0.0], [0.0])),
        [2 * np.log(2.0)], rtol=1e-6)


def test_label_smoothing():
    # One-sided smoothing: the real target becomes 1 - s.
    s = 0.1
    ns = losses.get("non_saturating", label_smoothing=s)
    expected = (-(1 - s) * log_sigmoid(R) - s * log_one_minus_sigmoid(R)
                - log_one_minus_sigmoid(F))
    np.testing.assert_allclose(_np(ns.discriminator_loss(R, F)), expected,
                               rtol=1e-6)
    # The generator's target stays 1.
    np.testing.assert_allclose(_np(ns.generator_loss(F)), -log_sigmoid(F),
                               rtol=1e-6)
    ls = losses.get("least_squares", label_smoothing=s)
    np.testing.assert_allclose(_np(ls.discriminator_loss(R, F)),
                               0.5 * (R - 0.9) ** 2 + 0.5 * F ** 2, rtol=1e-6)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.get("non_saturating", label_smoothing=1.0)


def test_logits_of_any_shape_reduce_per_sample():
    # [N, 1] and patch maps [N, H, W, 1] give one value per sample (the
    # mean over the patch logits).
    loss = losses.get("wasserstein")
    np.testing.assert_allclose(
        _np(loss.discriminator_loss(R[:, None], F[:, None])), F - R, rtol=1e-6)
    patch_r = np.stack([R, R + 1.0], axis=1).reshape(4, 1, 2, 1)
    patch_f = np.stack([F, F - 1.0], axis=1).reshape(4, 2, 1, 1)
    np.testing.assert_allclose(
        _np(loss.discriminator_loss(patch_r, patch_f)), F - R - 1.0,
        rtol=1e-6, atol=1e-6)


def test_names_aliases_and_unknown_names():
    assert isinstance(losses.get("wgan"), losses.Wasserstein)
    assert isinstance(losses.get("NS"), losses.NonSaturating)
    assert isinstance(losses.get("lsgan"), losses.LeastSquares)
    inst = losses.Hinge()
    assert losses.get(inst) is inst
    with pytest.raises(ValueError, match="Unknown GAN loss.*'relativistic'"):
        losses.get("relativistic")


def test_drift_term_enters_the_critic_gradient():
    """ProGAN's drift `eps_drift * D(x_real)^2` on a linear critic.

    D(x) = w.x and G(z) = z V (both linear, no bias); with the Wasserstein
    loss the critic gradient is mean(G(z)) - mean(x) + 2 eps_drift
    mean((w.x) x), so one SGD step with learning rate 1 moves w by minus
    that.
    """
    rng = np.random.default_rng(3)
    d, latent, n, drift = 6, 3, 8, 0.25
    w = rng.normal(size=(d, 1)).astype("float32")
    v = rng.normal(size=(latent, d)).astype("float32")
    x = rng.normal(size=(n, d)).astype("float32")
    z = rng.normal(size=(n, latent)).astype("float32")
    G = keras.Sequential([keras.Input((latent,)),
                          keras.layers.Dense(d, use_bias=False)])
    D = keras.Sequential([keras.Input((d,)),
                          keras.layers.Dense(1, use_bias=False)])
    G.layers[0].kernel.assign(v)
    D.layers[0].kernel.assign(w)
    gan = GAN(G, D, latent_dim=latent)
    gan.compile(keras.optimizers.SGD(1.0), keras.optimizers.SGD(0.0),
                loss="wasserstein", drift=drift)
    logs = gan.train_on_batch({"images": x, "z": z, "z_g": z},
                              return_dict=True)
    fake = z @ v
    r = x @ w
    grad = (fake.mean(0) - x.mean(0))[:, None] + 2 * drift * (
        r * x).mean(0)[:, None]
    np.testing.assert_allclose(_np(D.layers[0].kernel), w - grad, rtol=1e-5,
                               atol=1e-6)
    # The logged d_loss is the adversarial part alone.
    np.testing.assert_allclose(float(logs["d_loss"]),
                               (fake @ w).mean() - r.mean(), rtol=1e-5,
                               atol=1e-6)

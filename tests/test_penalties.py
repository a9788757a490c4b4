"""Gradient penalties against closed forms on a linear discriminator.

For D(x) = w.x the input gradient is w at every x, so the two-sided WGAN-GP
penalty is (||w|| - 1)^2, the one-sided one max(0, ||w|| - 1)^2 and R1/R2
are ||w||^2, whatever the samples; their gradients w.r.t. w are
2 (||w|| - 1) w / ||w||, 2 max(0, ||w|| - 1) w / ||w|| and 2 w.
"""

import numpy as np
import pytest

import keras

from keras_gan_stable import GAN, GradientPenalty, penalties
from keras_gan_stable import backend as gan_backend

pytestmark = pytest.mark.multibackend

D_IN = 6
N = 5
KINDS = ("gp", "gp_one_sided", "r1", "r2")


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


def linear_critic(w):
    D = keras.Sequential([keras.Input((D_IN,)),
                          keras.layers.Dense(1, use_bias=False)])
    D.layers[0].kernel.assign(np.asarray(w, "float32").reshape(D_IN, 1))
    return D


def closed_form(kind, w):
    norm = np.linalg.norm(w)
    value = {"gp": (norm - 1) ** 2, "gp_one_sided": max(norm - 1, 0) ** 2,
             "r1": norm ** 2, "r2": norm ** 2}[kind]
    grad = {"gp": 2 * (norm - 1) * w / norm,
            "gp_one_sided": 2 * max(norm - 1, 0) * w / norm,
            "r1": 2 * w, "r2": 2 * w}[kind]
    return value, grad


def penalty_and_gradient(kind, D, x):
    """The library's penalty (mean over samples) and its gradient w.r.t. w,
    through the backend's double back-propagation."""
    p = GradientPenalty(kind)
    x = keras.ops.convert_to_tensor(x)

    def objective():
        grads = gan_backend.input_gradient(lambda t: D(t), x)
        value = keras.ops.mean(p.per_sample(grads))
        return value, value

    value, _, grads = gan_backend.value_and_grad(
        objective, D.trainable_variables)
    return float(_np(value)), _np(grads[0]).reshape(-1)


def _direction(rng):
    u = rng.normal(size=D_IN)
    return u / np.linalg.norm(u)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("norm", [2.5, 0.4])
def test_linear_critic_closed_form(kind, norm):
    rng = np.random.default_rng(0)
    w = norm * _direction(rng)
    x = rng.normal(size=(N, D_IN)).astype("float32")
    value, grad = penalty_and_gradient(kind, linear_critic(w), x)
    expected_value, expected_grad = closed_form(kind, w)
    np.testing.assert_allclose(value, expected_value, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-6)
    if kind == "gp_one_sided" and norm < 1:
        assert value == 0.0 and np.all(grad == 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_penalty_gradient_matches_finite_differences(kind):
    rng = np.random.default_rng(1)
    w = 1.7 * _direction(rng)
    x = rng.normal(size=(N, D_IN)).astype("float32")
    D = linear_critic(w)
    _, grad = penalty_and_gradient(kind, D, x)
    h = 1e-2
    fd = np.zeros(D_IN)
    for i in range(D_IN):
        values = []
        for sign in (1, -1):
            wi = w.copy()
            wi[i] += sign * h
            D.layers[0].kernel.assign(wi.astype("float32").reshape(D_IN, 1))
            values.append(penalty_and_gradient(kind, D, x)[0])
        fd[i] = (values[0] - values[1]) / (2 * h)
    # Central differences: truncation O(h^2), float32 rounding ~1e-7 / h.
    np.testing.assert_allclose(grad, fd, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_zero_input_gradient_is_finite(kind):
    # D = 0: the gradient norm is 0, where d sqrt(s)/ds is infinite without
    # the epsilon inside the root.
    x = np.random.default_rng(2).normal(size=(N, D_IN)).astype("float32")
    value, grad = penalty_and_gradient(kind, linear_critic(np.zeros(D_IN)), x)
    expected = {"gp": 1.0, "gp_one_sided": 0.0, "r1": 0.0, "r2": 0.0}[kind]
    np.testing.assert_allclose(value, expected, atol=1e-5)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, 0.0, atol=1e-6)


def test_interpolates_use_one_weight_per_sample():
    real = np.arange(12, dtype="float32").reshape(3, 2, 2, 1)
    fake = -np.ones((3, 2, 2, 1), "float32")
    eps = np.array([0.0, 0.25, 1.0], "float32")
    x = _np(GradientPenalty("gp").inputs(real, fake, eps))
    np.testing.assert_allclose(x[0], fake[0])
    np.testing.assert_allclose(x[1], 0.25 * real[1] - 0.75)
    np.testing.assert_allclose(x[2], real[2])
    assert GradientPenalty("r1").inputs(real, fake, eps) is real
    assert GradientPenalty("r2").inputs(real, fake, eps) is fake


@pytest.mark.parametrize("kind", KINDS)
def test_logged_penalty_of_a_train_step(kind):
    """Through `GAN.train_step`: the logged value is the closed form, and the
    critic update is SGD on the weighted penalty (gamma / 2 for R1/R2)."""
    rng = np.random.default_rng(4)
    w = 2.0 * _direction(rng)
    G = keras.Sequential([keras.Input((3,)), keras.layers.Dense(D_IN)])
    D = linear_critic(w)
    gan = GAN(G, D, latent_dim=3, seed=0)
    lr, weight = 0.01, 4.0
    gan.compile(keras.optimizers.SGD(lr), keras.optimizers.SGD(0.0),
                loss="wasserstein", penalty=kind, penalty_weight=weight)
    x = rng.normal(size=(N, D_IN)).astype("float32")
    z = rng.normal(size=(N, 3)).astype("float32")
    fake = _np(G(z))
    logs = gan.train_on_batch({"images": x, "z": z, "z_g": z},
                              return_dict=True)
    value, grad = closed_form(kind, w)
    np.testing.assert_allclose(float(logs[kind]), value, rtol=1e-5)
    scale = weight / 2 if kind in ("r1", "r2") else weight
    critic_grad = fake.mean(0) - x.mean(0) + scale * grad
    np.testing.assert_allclose(_np(D.layers[0].kernel).reshape(-1),
                               w - lr * critic_grad, rtol=1e-5, atol=1e-6)


def test_penalty_arguments_are_checked():
    with pytest.raises(ValueError, match="weight.*>= 0.*-1.0"):
        GradientPenalty("gp", weight=-1.0)
    with pytest.raises(ValueError, match="Unknown gradient penalty.*'r3'"):
        penalties.get("r3")
    with pytest.raises(ValueError, match="target"):
        GradientPenalty("gp", target=0.0)
    [p] = penalties.get("wgan-gp", weight=5.0, target=750.0)
    assert (p.kind, p.weight, p.target, p.scale) == ("gp", 5.0, 750.0, 5.0)
    assert GradientPenalty("r1", weight=10.0).scale == 5.0

"""DiffAugment, AdaptiveAugment (ADA) and annealed instance noise."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_gan_stable import GAN
from keras_gan_stable import backend as gan_backend
from keras_gan_stable.augment import AdaptiveAugment
from keras_gan_stable.augment import DiffAugment
from keras_gan_stable.augment import cutout
from keras_gan_stable.augment import translate

LATENT = 8


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _translate_reference(x, sh, sw, mode):
    n, h, w, c = x.shape
    out = np.zeros_like(x)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                si, sj = i + sh[b], j + sw[b]
                if mode == "reflect":
                    si = abs(si)
                    si = (h - 1) - abs((h - 1) - si)
                    sj = abs(sj)
                    sj = (w - 1) - abs((w - 1) - sj)
                elif not (0 <= si < h and 0 <= sj < w):
                    continue
                out[b, i, j] = x[b, si, sj]
    return out


@pytest.mark.multibackend
@pytest.mark.parametrize("mode", ["zeros", "reflect"])
def test_translate_matches_numpy_reference(mode, rng):
    x = rng.normal(size=(3, 6, 5, 2)).astype("float32")
    sh = np.array([2, -1, 0], "int32")
    sw = np.array([-3, 1, 4], "int32")
    out = _np(translate(ops.convert_to_tensor(x), sh, sw, mode=mode))
    np.testing.assert_allclose(out, _translate_reference(x, sh, sw, mode),
                               atol=1e-6)


@pytest.mark.multibackend
def test_cutout_matches_numpy_reference(rng):
    x = rng.normal(size=(2, 8, 8, 1)).astype("float32")
    out = _np(cutout(ops.convert_to_tensor(x), np.array([0, 5]),
                     np.array([3, 7]), 4, 4))
    ref = x.copy()
    ref[0, 0:2, 1:5] = 0.0  # rows -2..1 clipped, cols 1..4
    ref[1, 3:7, 5:8] = 0.0
    np.testing.assert_array_equal(out, ref)


def _tiny_g_d(image=(8, 8, 3)):
    g = keras.Sequential([
        keras.Input((LATENT,)),
        keras.layers.Dense(int(np.prod(image)), activation="tanh"),
        keras.layers.Reshape(image),
    ])
    d = keras.Sequential([
        keras.Input(image),
        keras.layers.Conv2D(4, 3, padding="same", activation="tanh"),
        keras.layers.Flatten(),
        keras.layers.Dense(1),
    ])
    return g, d


@pytest.mark.multibackend
@pytest.mark.parametrize("augment", [
    DiffAugment(seed=3),
    AdaptiveAugment(initial_p=1.0, adaptive=False, seed=3,
                    transforms="xflip,rotate90,translation,brightness,"
                               "contrast,saturation,cutout"),
])
def test_augment_passes_gradients_to_the_generator(augment, rng):
    """The G gradient through D(augment(G(z))) matches central finite
    differences with the augmentation's random draws held fixed."""
    g, d = _tiny_g_d()
    z = ops.convert_to_tensor(rng.normal(size=(6, LATENT)).astype("float32"))
    state = augment.seed_generator.state
    seed0 = np.array(_np(state))

    def loss():
        state.assign(seed0)  # same augmentation parameters every call
        return ops.mean(d(augment(g(z), training=True)))

    _, _, grads = gan_backend.value_and_grad(lambda: (loss(), None),
                                             g.trainable_variables)
    kernel = g.trainable_variables[0]
    grad = _np(grads[0])
    assert np.abs(grad).max() > 1e-4
    w0 = np.array(_np(kernel))
    eps = 1e-2
    # Directional derivative along the gradient: <grad, grad>.
    direction = grad / np.linalg.norm(grad)
    kernel.assign(w0 + eps * direction)
    up = float(_np(loss()))
    kernel.assign(w0 - eps * direction)
    down = float(_np(loss()))
    kernel.assign(w0)
    numeric = (up - down) / (2 * eps)
    np.testing.assert_allclose(numeric, np.linalg.norm(grad), rtol=2e-2)


@pytest.mark.multibackend
def test_diffaugment_draws_fresh_parameters_and_is_identity_at_inference(rng):
    aug = DiffAugment("translation", seed=0)
    x = ops.convert_to_tensor(rng.normal(size=(64, 8, 8, 1)).astype("float32"))
    np.testing.assert_array_equal(_np(aug(x, training=False)), _np(x))
    out = _np(aug(x, training=True))
    # Translation by t in [-1, 1] pixels (0.125 * 8): the zero-filled border
    # appears in some images, not in all.
    moved = [not np.array_equal(out[i], _np(x)[i]) for i in range(64)]
    assert 0 < sum(moved) < 64


@pytest.mark.multibackend
def test_ada_identity_at_p_zero_and_p_update_rule():
    ada = AdaptiveAugment(target=0.6, interval=2, adjustment_images=100)
    x = ops.convert_to_tensor(
        np.random.default_rng(1).normal(size=(4, 8, 8, 3)).astype("float32"))
    np.testing.assert_allclose(_np(ada(x, training=True)), _np(x), atol=1e-6)
    # Interval 1: signs +,+,+,- (r = 0.5); interval 2: 8 positive (r = 1).
    ada.accumulate(ops.convert_to_tensor(np.array([[1.], [2.]], "float32")))
    ada.update()
    assert float(_np(ada.p)) == 0.0  # not due yet
    ada.accumulate(ops.convert_to_tensor(np.array([3., -1.], "float32")))
    ada.update()  # r_t = 0.5 < 0.6: p = clip(0 - 4/100, 0, 1) = 0
    assert float(_np(ada.p)) == 0.0
    np.testing.assert_allclose(float(_np(ada.r_t)), 0.5)
    for _ in range(2):
        ada.accumulate(ops.convert_to_tensor(np.ones((4,), "float32")))
        ada.update()
    # r_t = 1 > 0.6: p = 0 + 8 / 100.
    np.testing.assert_allclose(float(_np(ada.p)), 0.08, rtol=1e-6)
    # Non-finite logits (a skipped update) count for nothing.
    ada.accumulate(ops.convert_to_tensor(np.array([np.nan, -1.], "float32")))
    assert float(_np(ada.sign_count)) == 1.0


def test_augment_validation_and_config_round_trip():
    with pytest.raises(ValueError, match="policy"):
        DiffAugment("colour")
    with pytest.raises(ValueError, match="target"):
        AdaptiveAugment(target=1.5)
    ada = AdaptiveAugment(target=0.5, interval=3, adjustment_images=1000,
                          transforms="xflip,brightness", seed=4)
    again = AdaptiveAugment.from_config(ada.get_config())
    assert again.get_config() == ada.get_config()
    g, d = _tiny_g_d()
    gan = GAN(g, d, latent_dim=LATENT)
    gan.compile(augment=ada, instance_noise=0.2, instance_noise_steps=10,
                skip_nonfinite=True)
    config = gan.get_compile_config()
    gan2 = GAN(*_tiny_g_d(), latent_dim=LATENT)
    gan2.compile_from_config(config)
    assert isinstance(gan2.augment, AdaptiveAugment)
    assert gan2.augment.get_config()["interval"] == 3
    assert gan2.instance_noise == 0.2 and gan2.skip_nonfinite
    with pytest.raises(ValueError, match="instance_noise_steps"):
        gan2.compile(instance_noise=0.1)


@pytest.mark.multibackend
def test_instance_noise_std_anneals_linearly_to_zero():
    g, d = _tiny_g_d((8, 8, 1))
    gan = GAN(g, d, latent_dim=LATENT, seed=0)
    gan.compile(instance_noise=0.5, instance_noise_steps=4)
    seen = []

    class Log(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(logs["instance_noise"]))

    x = np.zeros((6 * 8, 8, 8, 1), "float32")
    gan.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[Log()])
    # Logged after step t's G update: the std of step t + 1.
    np.testing.assert_allclose(seen, [0.375, 0.25, 0.125, 0.0, 0.0, 0.0],
                               atol=1e-7)


class IdealSampler(keras.layers.Layer):
    """A generator that has already learnt the data: it returns MNIST test
    images chosen by z (a zero-weighted scalar keeps the G update valid)."""

    def __init__(self, bank, **kwargs):
        super().__init__(**kwargs)
        self.bank = np.asarray(bank, "float32")
        self.w = self.add_weight(shape=(), initializer="zeros", name="w")

    def call(self, z, training=False):
        idx = ops.cast(ops.abs(z[:, 0]) * 1e4, "int32") % len(self.bank)
        return ops.take(ops.convert_to_tensor(self.bank), idx, axis=0) + (
            0.0 * self.w)


@pytest.mark.slow
def test_ada_p_grows_faster_on_100_images_than_on_10000(mnist_test_set):
    """Karras et al. 2020: r_t = E[sign(D(x_real))] detects a D that
    memorises its training set, and ADA raises p in response. The generator
    is held at the ideal (it samples the 10,000 MNIST test images), so the
    only difference between the runs is the size of D's training set: 100
    images, which D can memorise, or all 10,000, which it cannot tell from
    the generated ones."""
    from keras_gan_stable.architectures.dcgan import dcgan_discriminator

    images = mnist_test_set[0]
    ps = {}
    steps, batch = 360, 32
    for n in (100, 10_000):
        keras.utils.set_random_seed(0)
        d = dcgan_discriminator((28, 28, 1), width=8, normalization="none")
        gan = GAN(IdealSampler(images), d, latent_dim=4, seed=0)
        ada = AdaptiveAugment(adjustment_images=2_000, interval=4, seed=0)
        gan.compile(d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                    augment=ada)
        reps = int(np.ceil(steps * batch / n))
        data = np.concatenate([images[:n]] * reps)[:steps * batch]
        trace = []

        class Trace(keras.callbacks.Callback):
            def on_train_batch_end(self, step, logs=None):
                trace.append(float(logs["augment_p"]))

        gan.fit(data, batch_size=batch, epochs=1, shuffle=False, verbose=0,
                callbacks=[Trace()])
        # p over the last third: the level the heuristic settles at.
        ps[n] = float(np.mean(trace[2 * steps // 3:]))
    assert ps[100] > 0.1, ps
    assert ps[100] >= 3 * ps[10_000], ps

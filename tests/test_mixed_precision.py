"""Mixed precision in the GAN step: per-network dynamic loss scaling under
`mixed_float16`, augmentation under both half-precision policies."""

import numpy as np
import pytest

import keras
from keras import ops

from keras_gan_stable import GAN, AdaptiveAugment, DiffAugment
from keras_gan_stable.losses import NonSaturating
from layer_test_case import dtype_policy as policy
from numerics import EPS

LATENT = 4
SHAPE = (4, 4, 1)


class TinyLoss(NonSaturating):
    """The non-saturating loss times 1e-7: its gradients w.r.t. D's logits
    (about 1e-7 * 0.5 / B = 6e-9) are below float16's smallest subnormal
    (6e-8), so an unscaled float16 backward pass makes them exactly zero."""

    def discriminator_loss(self, real_logits, fake_logits):
        return 1e-7 * super().discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return 1e-7 * super().generator_loss(fake_logits)


def _nets():
    g = keras.Sequential([
        keras.Input((LATENT,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(int(np.prod(SHAPE)), activation="tanh"),
        keras.layers.Reshape(SHAPE),
    ], name="g")
    d = keras.Sequential([
        keras.Input(SHAPE),
        keras.layers.Flatten(),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(1),
    ], name="d")
    return g, d


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "images": rng.uniform(-1, 1, (8,) + SHAPE).astype("float32"),
        "z": rng.standard_normal((8, LATENT)).astype("float32"),
        "z_g": rng.standard_normal((8, LATENT)).astype("float32"),
    }


def _step(policy_name, weights, loss_scale):
    with policy(policy_name):
        g, d = _nets()
    g.set_weights(weights[0])
    d.set_weights(weights[1])
    gan = GAN(g, d, latent_dim=LATENT)
    # Plain SGD: the update is -lr * gradient, so it shows the gradient
    # itself. lr 1e5 brings the 1e-7-scaled gradients to visible steps.
    gan.compile(d_optimizer=keras.optimizers.SGD(1e5),
                g_optimizer=keras.optimizers.SGD(1e5),
                loss=TinyLoss(), loss_scale=loss_scale)
    gan.train_on_batch(_batch())
    return gan, [[np.asarray(ops.convert_to_numpy(v), "float64")
                  for v in net.trainable_weights] for net in (g, d)]


@pytest.mark.multibackend
def test_loss_scaling_recovers_float16_gradients_that_underflow():
    g, d = _nets()
    weights = (g.get_weights(), d.get_weights())
    before = [[np.asarray(w, "float64") for w in ws] for ws in weights]
    _, ref = _step("float32", weights, loss_scale=None)
    gan, scaled = _step("mixed_float16", weights, loss_scale="auto")
    _, unscaled = _step("mixed_float16", weights, loss_scale=None)
    assert gan.loss_scaling
    for net in (0, 1):
        for w0, r, s, u in zip(before[net], ref[net], scaled[net],
                               unscaled[net]):
            d_ref, d_scaled, d_unscaled = r - w0, s - w0, u - w0
            assert np.abs(d_ref).max() > 1e-4  # float32 sees the gradient
            # Unscaled float16: the gradient underflowed, no update at all.
            np.testing.assert_array_equal(d_unscaled, 0.0)
            # Scaled: float32's update to float16 accuracy. Each gradient is
            # a product of a few float16 roundings (activations, the
            # backward matmuls over at most 16 terms): 16 * eps16 relative.
            tol = 16 * EPS["float16"] * np.abs(d_ref).max()
            np.testing.assert_allclose(d_scaled, d_ref, rtol=0, atol=tol)


@pytest.mark.multibackend
def test_overflow_halves_the_scale_and_skips_the_update():
    class HugeLoss(NonSaturating):
        def discriminator_loss(self, real_logits, fake_logits):
            return 1e6 * super().discriminator_loss(real_logits, fake_logits)

    with policy("mixed_float16"):
        g, d = _nets()
    gan = GAN(g, d, latent_dim=LATENT)
    gan.compile(loss=HugeLoss())
    d_before = [np.array(ops.convert_to_numpy(v)) for v in d.trainable_weights]
    # 1e6 * 2**15 overflows float16 (max 65504): the scaled gradients are
    # Inf, the D update is skipped and its scale halved; G's loss is not
    # scaled up, so its update goes through and its scale stays.
    gan.train_on_batch(_batch())
    assert float(ops.convert_to_numpy(gan.d_loss_scale)) == 2.0 ** 14
    assert float(ops.convert_to_numpy(gan.g_loss_scale)) == 2.0 ** 15
    for a, v in zip(d_before, d.trainable_weights):
        np.testing.assert_array_equal(ops.convert_to_numpy(v), a)
    assert int(ops.convert_to_numpy(gan.d_optimizer.iterations)) == 0
    assert int(ops.convert_to_numpy(gan.g_optimizer.iterations)) == 1


@pytest.mark.multibackend
def test_scale_doubles_after_growth_steps_of_applied_updates():
    with policy("mixed_float16"):
        g, d = _nets()
    gan = GAN(g, d, latent_dim=LATENT)
    gan.compile()
    gan.loss_scale_growth_steps = 2
    for seed in range(3):
        gan.train_on_batch(_batch(seed))
    # Steps 1, 2: grow to 2**16 at the second; step 3 counts one.
    assert float(ops.convert_to_numpy(gan.d_loss_scale)) == 2.0 ** 16
    assert int(ops.convert_to_numpy(gan.d_loss_scale_steps)) == 1


def test_loss_scaling_is_off_in_float32_and_survives_a_keras_file(tmp_path):
    g, d = _nets()
    gan = GAN(g, d, latent_dim=LATENT)
    gan.compile()
    assert not gan.loss_scaling
    assert float(ops.convert_to_numpy(gan.d_loss_scale)) == 1.0
    with policy("mixed_float16"):
        g16, d16 = _nets()
    gan16 = GAN(g16, d16, latent_dim=LATENT)
    gan16.compile()
    gan16.train_on_batch(_batch())
    path = str(tmp_path / "gan.keras")
    gan16.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.loss_scaling
    assert float(ops.convert_to_numpy(loaded.d_loss_scale)) == 2.0 ** 15


def test_loss_scale_argument_is_checked():
    g, d = _nets()
    gan = GAN(g, d, latent_dim=LATENT)
    with pytest.raises(ValueError, match="loss_scale"):
        gan.compile(loss_scale="static")
    with pytest.raises(ValueError, match="LossScaleOptimizer"):
        gan.compile(d_optimizer=keras.optimizers.LossScaleOptimizer(
            keras.optimizers.Adam()))


@pytest.mark.multibackend
@pytest.mark.parametrize("policy_name", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("make", [
    lambda: DiffAugment(seed=3),
    lambda: AdaptiveAugment(initial_p=0.9, adaptive=False, seed=3),
], ids=["diffaugment", "ada"])
def test_augmentation_under_half_precision(policy_name, make):
    x = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 3)).astype(
        "float32")
    ref = np.asarray(ops.convert_to_numpy(make()(x, training=True)))
    with policy(policy_name):
        layer = make()
        compute = layer.compute_dtype
        y = layer(x, training=True)
    half = compute.replace("mixed_", "")
    assert half in ("float16", "bfloat16")
    # The output has the policy's compute dtype (no silent upcast) ...
    assert keras.backend.standardize_dtype(y.dtype) == half
    # ... and the same random transform as in float32: the transforms run
    # in float32 on the half-precision input, so the result is within two
    # roundings to the half type of the float32 one, relative to |x| ~ 4
    # (the colour ops scale by up to 2 and 1.5 around the mean).
    y = np.asarray(ops.convert_to_numpy(ops.cast(y, "float32")))
    np.testing.assert_allclose(y, ref, rtol=0,
                               atol=2 * EPS[half] * 4 * np.abs(ref).max())

    if policy_name != "mixed_float16":
        return  # the GAN step below once, with loss scaling (the harder case)
    # And a GAN step with it trains D under the policy.
    with policy(policy_name):
        g = keras.Sequential([keras.Input((LATENT,)),
                              keras.layers.Dense(8 * 8 * 3, activation="tanh"),
                              keras.layers.Reshape((8, 8, 3))])
        d = keras.Sequential([keras.Input((8, 8, 3)),
                              keras.layers.Conv2D(4, 3, strides=2),
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    gan = GAN(g, d, latent_dim=LATENT, seed=0)
    gan.compile(augment=make())
    before = [np.array(ops.convert_to_numpy(v)) for v in d.trainable_weights]
    logs = gan.train_on_batch(x, return_dict=True)
    assert np.isfinite(float(ops.convert_to_numpy(logs["d_loss"])))
    for a, v in zip(before, d.trainable_weights):
        after = np.asarray(ops.convert_to_numpy(v))
        assert after.dtype == np.float32  # variables stay float32
        assert np.all(np.isfinite(after)) and not np.array_equal(after, a)

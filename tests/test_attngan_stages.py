"""AttnGAN with a discriminator per stage: the packed stage images, each
stage's discriminator at its own resolution, one train step reaching every
discriminator, `generate` reading the final stage."""

import numpy as np
import pytest

import keras

from keras_gan_stable.architectures.damsm import damsm_image_encoder
from keras_gan_stable.architectures.stackgan import (
    stackgan_stage1_discriminator)
from keras_gan_stable.architectures.text_to_image import (
    attngan_generator, multi_stage_discriminator, pack_stage_images,
    stage_images_of, unpack_stage_images)
from keras_gan_stable.models.attngan import AttnGAN
from keras_gan_stable.models.damsm import DAMSM
from keras_gan_stable.text.text_encoder import BiLSTMTextEncoder

NOISE, COND, FEAT, S, B = 3, 2, 8, 16, 4
IDS = np.array([[2, 3, 4, 0], [5, 1, 0, 0], [6, 7, 8, 9], [2, 9, 0, 0]],
               "int32")


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _block_mean(x, f):  # NumPy reference: the mean over f x f squares
    n, s, _, c = x.shape
    return x.reshape(n, s // f, f, s // f, f, c).mean(axis=(2, 4))


def _stage_ds():
    return [stackgan_stage1_discriminator(S >> (1 - k), FEAT, condition_dim=2,
                                          width=4, name=f"stage{k}_d")
            for k in range(2)]


def test_packing_round_trips_exactly_and_real_stages_are_block_means():
    rng = np.random.default_rng(0)
    small = rng.uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    big = rng.uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    packed = _np(pack_stage_images([small, big]))
    assert packed.shape == (2, 16, 16, 6)
    back = unpack_stage_images(packed, 2)
    # The mean of four equal float32 values is that value: exact.
    np.testing.assert_array_equal(_np(back[0]), small)
    np.testing.assert_array_equal(_np(back[1]), big)
    real = _np(stage_images_of(big, 2))
    np.testing.assert_array_equal(real[..., 3:], big)
    # 2x2 means of float32 values: round-off of a few ulps (4 terms).
    np.testing.assert_allclose(_np(unpack_stage_images(real, 2)[0]),
                               _block_mean(big, 2), rtol=0, atol=1e-6)


def test_each_stage_discriminator_sees_its_own_resolution():
    keras.utils.set_random_seed(1)
    ds = _stage_ds()
    md = multi_stage_discriminator(ds, S)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (B, S, S, 3)).astype("float32")
    e = rng.standard_normal((B, FEAT)).astype("float32")
    out = _np(md([_np(stage_images_of(x, 2)), e], training=False))
    assert out.shape == (B, 2)
    # Against each discriminator called alone on the NumPy block means.
    # float32 convolutions over <= 16 * 4 * 4 terms: ~1e-5 relative.
    np.testing.assert_allclose(
        out[:, 0], _np(ds[0]([_block_mean(x, 2), e], training=False))[:, 0],
        rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        out[:, 1], _np(ds[1]([x, e], training=False))[:, 0],
        rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="image_size / 2"):
        multi_stage_discriminator(ds[::-1], S)


def test_a_train_step_reaches_every_stage_and_generate_reads_the_last():
    keras.utils.set_random_seed(2)
    damsm = DAMSM(damsm_image_encoder(S, FEAT, width=4, region_downsamples=1),
                  BiLSTMTextEncoder(12, 4, FEAT))
    damsm({"images": np.zeros((B, S, S, 3), "float32"), "captions": IDS})
    g = attngan_generator(NOISE, FEAT, COND, image_size=S,
                          refinement_stages=1, width=4, residual_blocks=1,
                          stage_images=True)
    assert tuple(g.outputs[0].shape[1:]) == (S, S, 6)
    ds = _stage_ds()
    gan = AttnGAN(g, multi_stage_discriminator(ds, S), NOISE + COND,
                  damsm=damsm, seed=0, image_stages=2)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3),
                g_optimizer=keras.optimizers.Adam(1e-3))
    before = [[_np(v) for v in d.trainable_variables] for d in ds]
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (B, S, S, 3)).astype("float32")
    gan.fit({"images": x, "captions": IDS}, batch_size=B, epochs=1,
            verbose=0)
    for d, old in zip(ds, before):
        assert any(not np.array_equal(a, _np(v))
                   for a, v in zip(old, d.trainable_variables)), d.name
    out = gan.generate(captions=IDS, seed=3)
    assert out.shape == (B, S, S, 3)
    z, _ = gan.sample_latents(B, seed=3)
    full = _np(g(gan._generator_inputs(z, _np(gan.embed(IDS))),
                 training=False))
    np.testing.assert_array_equal(out, full[..., 3:])
    assert AttnGAN.from_config(gan.get_config()).image_stages == 2

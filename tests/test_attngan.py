"""AttnGAN and DM-GAN: the DAMSM term of G's objective, the words reaching
the image (and padding not), config and `.keras` round trips."""

import numpy as np
import pytest

import keras

from keras_gan_stable.architectures.damsm import damsm_image_encoder
from keras_gan_stable.architectures.stackgan import (
    stackgan_stage1_discriminator)
from keras_gan_stable.architectures.text_to_image import (
    attngan_generator, dmgan_generator)
from keras_gan_stable.models.attngan import AttnGAN
from keras_gan_stable.models.damsm import DAMSM, damsm_losses
from keras_gan_stable.models.dmgan import DMGAN
from keras_gan_stable.text.text_encoder import BiLSTMTextEncoder

NOISE, COND, FEAT, S, B = 3, 2, 8, 8, 4
IDS = np.array([[2, 3, 4, 0], [5, 1, 0, 0], [6, 7, 8, 9], [2, 9, 0, 0]],
               "int32")
BUILDERS = {AttnGAN: attngan_generator, DMGAN: dmgan_generator}


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


def tiny_damsm():
    damsm = DAMSM(damsm_image_encoder(S, FEAT, width=4,
                                      region_downsamples=1),
                  BiLSTMTextEncoder(12, 4, FEAT))
    damsm({"images": np.zeros((B, S, S, 3), "float32"), "captions": IDS})
    return damsm


def tiny_gan(cls, damsm, seed=7, **kwargs):
    keras.utils.set_random_seed(seed)
    g = BUILDERS[cls](NOISE, FEAT, COND, image_size=S, refinement_stages=1,
                      width=4, residual_blocks=1)
    d = stackgan_stage1_discriminator(S, FEAT, condition_dim=2, width=4)
    return cls(g, d, latent_dim=NOISE + COND, damsm=damsm, seed=0, **kwargs)


def _batch():
    rng = np.random.default_rng(0)
    return {"images": rng.uniform(-1, 1, (B, S, S, 3)).astype("float32"),
            "captions": IDS,
            "z": rng.standard_normal((B, NOISE + COND)).astype("float32"),
            "z_g": rng.standard_normal((B, NOISE + COND)).astype("float32")}


@pytest.mark.parametrize("cls", [AttnGAN, DMGAN])
def test_damsm_term_of_the_generator_objective(cls):
    damsm = tiny_damsm()
    batch = _batch()
    runs = {}
    for weight in (5.0, 0.0):
        gan = tiny_gan(cls, damsm, damsm_weight=weight)
        g_before = [_np(v) for v in gan.generator.trainable_variables]
        if weight:
            # L_DAMSM of the G step's images (BatchNorm in training mode, so
            # the D update before it leaves them unchanged) against their
            # own captions, from the DAMSM directly.
            words, sentence = damsm.text_encoder(IDS)
            mask = keras.ops.convert_to_tensor((IDS != 0).astype("float32"))
            fake = gan.generator([keras.ops.convert_to_tensor(batch["z_g"]),
                                  sentence, words, mask], training=True)
            local, global_ = damsm.image_encoder(fake)
            terms = damsm_losses(words, IDS != 0, sentence, local, global_)
            expected = sum(float(terms[k]) for k in ("w1", "w2", "s1", "s2"))
        gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05),
                    run_eagerly=True)
        logs = gan.train_on_batch(batch, return_dict=True)
        runs[weight] = (
            logs, g_before,
            [_np(v) for v in gan.generator.trainable_variables],
            [_np(v) for v in gan.discriminator.trainable_variables])
    logs5, before, g5, d5 = runs[5.0]
    logs0, _, g0, d0 = runs[0.0]
    assert "damsm" in logs5 and "damsm" not in logs0
    # float32 sums of a few dozen terms of order 1-10: round-off ~1e-5.
    np.testing.assert_allclose(float(logs5["damsm"]), expected, rtol=1e-4)
    # Same D update (D's loss has no DAMSM term), then G's objective at the
    # same weights differs by exactly lambda * L_DAMSM.
    for a, b in zip(d5, d0):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        float(logs5["g_loss"]) - float(logs0["g_loss"]), 5.0 * expected,
        rtol=1e-4)
    # The step moved G, and the DAMSM gradient moved it differently.
    assert max(np.abs(a - b).max() for a, b in zip(g5, before)) > 1e-4
    assert max(np.abs(a - b).max() for a, b in zip(g5, g0)) > 1e-5


@pytest.mark.parametrize("cls", [AttnGAN, DMGAN])
def test_generated_images_read_the_words_not_the_padding(cls):
    gan = tiny_gan(cls, tiny_damsm())
    text = _np(gan.embed(IDS)).astype("float32")
    images = gan.generate(embeddings=text, seed=3)
    # A padded word's features (row 3 of caption 1; row 0 is the sentence)
    # do not matter; a real word's do.
    padded = text.copy()
    padded[1, 3:, :-1] = 9.0
    np.testing.assert_array_equal(gan.generate(embeddings=padded, seed=3),
                                  images)
    word = text.copy()
    word[1, 1, :-1] += 1.0  # the first word; the sentence row is unchanged
    changed = gan.generate(embeddings=word, seed=3)
    assert np.abs(changed[1] - images[1]).max() > 1e-4
    np.testing.assert_array_equal(changed[0], images[0])


@pytest.mark.parametrize("cls", [AttnGAN, DMGAN])
def test_config_and_keras_file_round_trip(cls, tmp_path):
    gan = tiny_gan(cls, tiny_damsm(), damsm_weight=2.5, ema_decay=0.9)
    gan.compile()
    images = gan.generate(captions=IDS, seed=1)
    clone = cls.from_config(gan.get_config())
    assert clone.get_config() == gan.get_config()
    assert clone.damsm_weight == 2.5 and clone.kl_weight == 1.0
    path = str(tmp_path / "model.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is cls
    assert loaded.text_encoder is loaded.damsm.text_encoder
    np.testing.assert_array_equal(loaded.generate(captions=IDS, seed=1),
                                  images)
    np.testing.assert_array_equal(
        _np(loaded.damsm.encode_captions(IDS)),
        _np(gan.damsm.encode_captions(IDS)))


@pytest.mark.parametrize("builder", [attngan_generator, dmgan_generator])
def test_sentence_affine_starts_as_the_plain_generator(builder, tmp_path):
    from keras_gan_stable.layers import VectorConditionalBatchNormalization

    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((B, NOISE + COND)).astype("float32"),
              rng.standard_normal((B, FEAT)).astype("float32"),
              rng.standard_normal((B, 4, FEAT)).astype("float32"),
              np.ones((B, 4), "float32")]
    kw = dict(image_size=S, refinement_stages=1, width=4,
              residual_blocks=2, max_words=4)
    plain = builder(NOISE, FEAT, COND, **kw)
    tuned = builder(NOISE, FEAT, COND, sentence_affine=True, **kw)
    cbn = [l for l in tuned.layers
           if isinstance(l, VectorConditionalBatchNormalization)]
    # Every feature-map normalisation takes the sentence: (AttnGAN: the
    # joint conv,) 2 x 2 in the residual blocks, the stage's upsampling
    # (the initial stage is at 4 x 4 for 8 px: no upsampling block).
    joint = 1 if builder is attngan_generator else 0
    assert len(cbn) == joint + 4 + 1
    assert all(l.hidden_units == 4 for l in cbn)
    for layer in plain.layers:  # same weights where the layers agree
        if layer.weights and not isinstance(
                layer, keras.layers.BatchNormalization):
            tuned.get_layer(layer.name).set_weights(layer.get_weights())
    # Scale one and shift zero at the start, as BatchNormalization's.
    np.testing.assert_allclose(_np(tuned(inputs, training=True)),
                               _np(plain(inputs, training=True)),
                               rtol=1e-5, atol=1e-5)
    # A sentence-dependent shift then changes the image, caption by caption.
    cbn[-1].beta_kernel.assign(rng.normal(0, 1, cbn[-1].beta_kernel.shape))
    moved = _np(tuned(inputs, training=True))
    assert np.abs(moved - _np(plain(inputs, training=True))).max() > 1e-3
    path = str(tmp_path / "g.keras")
    tuned.save(path)
    np.testing.assert_array_equal(
        _np(keras.saving.load_model(path)(inputs, training=True)), moved)
    with pytest.raises(ValueError, match="sentence_affine='yes'"):
        builder(NOISE, FEAT, COND, sentence_affine="yes", **kw)


def test_clear_errors():
    damsm = tiny_damsm()
    g = attngan_generator(NOISE, FEAT, COND, image_size=S, width=4)
    d = stackgan_stage1_discriminator(S, FEAT, condition_dim=2, width=4)
    with pytest.raises(ValueError, match="DynamicMemory"):
        DMGAN(g, d, latent_dim=NOISE + COND, damsm=damsm)
    with pytest.raises(ValueError, match="damsm_weight=-1.0"):
        AttnGAN(g, d, latent_dim=NOISE + COND, damsm=damsm, damsm_weight=-1)
    with pytest.raises(ValueError, match="pretrained `DAMSM`"):
        AttnGAN(g, d, latent_dim=NOISE + COND, damsm=None)
    wide = attngan_generator(NOISE, 2 * FEAT, COND, image_size=S, width=4)
    with pytest.raises(ValueError, match="sentence features of size 16"):
        AttnGAN(wide, d, latent_dim=NOISE + COND, damsm=damsm)
    d16 = stackgan_stage1_discriminator(S, 2 * FEAT, condition_dim=2,
                                        width=4)
    with pytest.raises(ValueError, match="text encoder makes 8"):
        AttnGAN(wide, d16, latent_dim=NOISE + COND, damsm=damsm)
    with pytest.raises(ValueError, match="refinement_stages"):
        attngan_generator(NOISE, FEAT, COND, image_size=8,
                          refinement_stages=2)


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="exports in-process through the TensorFlow "
                    "backend")
def test_saved_model_takes_strings_and_equals_generate(tmp_path):
    import tensorflow as tf

    from keras_gan_stable.export_text import export_text_to_image
    from keras_gan_stable.text.caption_tokenizer import CaptionTokenizer
    from keras_gan_stable.utils.images import to_uint8

    tok = CaptionTokenizer(max_length=4)
    tok.adapt(["a red circle left", "a blue square top", "green triangle"])
    damsm = DAMSM(damsm_image_encoder(S, FEAT, width=4, region_downsamples=1),
                  BiLSTMTextEncoder(tok.vocabulary_size, 4, FEAT))
    captions = ["a red circle", "blue square top left", "green zebra",
                "triangle"]
    gan = tiny_gan(DMGAN, damsm)
    expected = to_uint8(gan.generate(captions=tok(captions), seed=11))
    path = export_text_to_image(gan, tok, path=str(tmp_path / "m"))
    model = tf.saved_model.load(path)  # kept: its variables live on it
    served = model.generate(tf.constant(captions), tf.constant(11))
    # Same graph, same float32 inputs: the uint8 images agree exactly.
    np.testing.assert_array_equal(served["images"].numpy(), expected)

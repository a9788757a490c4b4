"""DAMSM: the word- and sentence-level losses against a NumPy transcription
of AttnGAN's Eqs. 8-13, and R-precision far above chance after a short fit
on captioned_shapes."""

import numpy as np
import pytest

import keras

from keras_gan_stable.architectures.damsm import damsm_image_encoder
from keras_gan_stable.models.damsm import DAMSM
from keras_gan_stable.models.damsm import damsm_losses
from keras_gan_stable.models.damsm import sentence_match_scores
from keras_gan_stable.models.damsm import word_match_scores
from keras_gan_stable.text.text_encoder import BiLSTMTextEncoder

G1, G2, G3 = 4.0, 5.0, 10.0
STEPS = 120  # fit steps of the R-precision test


def _np_damsm(words, lengths, sentence, local, global_, g1, g2, g3):
    """The paper's formulas, one caption/image pair at a time, float64."""
    b, _, d = words.shape
    regions = local.reshape(b, -1, d)

    def cos(x, y):
        return (x * y).sum(-1) / (np.linalg.norm(x, axis=-1)
                                  * np.linalg.norm(y, axis=-1))

    word_r = np.zeros((b, b))  # [caption i, image j]
    for i in range(b):
        e = words[i, :lengths[i]]  # the caption's words only, [T_i, D]
        for j in range(b):
            v = regions[j]  # [N, D]
            s = e @ v.T  # [T_i, N]
            s_bar = np.exp(s) / np.exp(s).sum(axis=0, keepdims=True)  # Eq. 8
            alpha = np.exp(g1 * s_bar)
            alpha /= alpha.sum(axis=1, keepdims=True)  # Eq. 9
            c = alpha @ v  # region-context vectors [T_i, D]
            word_r[i, j] = np.log(np.exp(g2 * cos(c, e)).sum()) / g2  # Eq. 10
    sent_r = np.array([[cos(sentence[i], global_[j]) for j in range(b)]
                       for i in range(b)])

    def posteriors(r):
        # Eq. 11: P(D_i | Q_i) over the captions for image i; Eq. 12 (by
        # symmetry) P(Q_i | D_i) over the images for caption i.
        ex = np.exp(g3 * r)
        p_d_q = np.array([ex[i, i] / ex[:, i].sum() for i in range(b)])
        p_q_d = np.array([ex[i, i] / ex[i, :].sum() for i in range(b)])
        return -np.log(p_d_q).mean(), -np.log(p_q_d).mean()  # Eq. 13

    w1, w2 = posteriors(word_r)
    s1, s2 = posteriors(sent_r)
    return word_r, sent_r, {"w1": w1, "w2": w2, "s1": s1, "s2": s2}


@pytest.mark.multibackend
def test_damsm_losses_match_numpy_transcription_of_the_paper():
    rng = np.random.default_rng(0)
    b, t, d, r = 5, 6, 8, 3
    lengths = np.array([6, 3, 1, 4, 5])
    mask = np.arange(t)[None] < lengths[:, None]
    # The text encoder's word features are zero at padding.
    words = rng.normal(0, 0.5, (b, t, d)) * mask[..., None]
    sentence = rng.normal(0, 1, (b, d))
    local = rng.normal(0, 0.5, (b, r, r, d))
    global_ = rng.normal(0, 1, (b, d))
    ref_w, ref_s, ref = _np_damsm(words, lengths, sentence, local, global_,
                                  G1, G2, G3)
    f32 = [x.astype("float32") for x in (words, sentence, local, global_)]
    got_w = keras.ops.convert_to_numpy(
        word_match_scores(f32[0], mask, f32[2], G1, G2))
    got_s = keras.ops.convert_to_numpy(sentence_match_scores(f32[1], f32[3]))
    got = {k: float(keras.ops.convert_to_numpy(v)) for k, v in damsm_losses(
        f32[0], mask, f32[1], f32[2], f32[3], G1, G2, G3).items()}
    # float32 against float64: each score is a chain of ~10 reductions over
    # at most D * N = 72 terms of size O(1), so its error is ~1e-6; gamma3 =
    # 10 scales that in the posteriors' logits to ~1e-5 (and the 1e-12
    # inside the norms' roots adds < 1e-11).
    np.testing.assert_allclose(got_w, ref_w, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got_s, ref_s, rtol=0, atol=1e-5)
    for key in ("w1", "w2", "s1", "s2"):
        np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=1e-4,
                                   err_msg=key)
    # The scores are not symmetric, so the two directions differ.
    assert abs(ref["w1"] - ref["w2"]) > 1e-3
    # Padding: features beyond a caption's length change nothing.
    words2 = f32[0].copy()
    words2[1, 3:] = 7.0  # junk at caption 1's padding
    got2 = keras.ops.convert_to_numpy(
        word_match_scores(words2, mask, f32[2], G1, G2))
    np.testing.assert_allclose(got2, got_w, rtol=0, atol=1e-6)


def _tiny_damsm(vocabulary_size, feature_dim=32, image_size=32):
    return DAMSM(damsm_image_encoder(image_size, feature_dim, width=8),
                 BiLSTMTextEncoder(vocabulary_size, embedding_dim=16,
                                   feature_dim=feature_dim),
                 gamma1=G1, gamma2=G2, gamma3=G3)


def test_damsm_fit_raises_r_precision_far_above_chance():
    from keras_gan_stable.data.captioned_shapes import captioned_shapes
    from keras_gan_stable.metrics.r_precision import r_precision
    from keras_gan_stable.text.caption_tokenizer import CaptionTokenizer

    keras.utils.set_random_seed(0)
    images, captions, _ = captioned_shapes(200, 32, seed=0)
    tok = CaptionTokenizer(max_length=20)
    tok.adapt(captions)
    ids = tok(captions)
    damsm = _tiny_damsm(tok.vocabulary_size)
    damsm.compile(optimizer=keras.optimizers.Adam(2e-3))
    before = damsm.evaluate({"images": images, "captions": ids},
                            batch_size=20, verbose=0)
    hist = damsm.fit({"images": images, "captions": ids}, batch_size=20,
                     epochs=STEPS // 10, shuffle=True, verbose=0)
    assert hist.history["loss"][-1] < 0.8 * before
    score = r_precision(damsm.encode_images(images),
                        damsm.encode_captions(ids), num_candidates=100)
    # Chance is 1/100: the hits among 200 images are then Binomial(200,
    # 0.01), mean 2, and P(hits >= 20) < 1e-10, so 0.1 (20 hits) is far
    # above chance. Measured after 120 steps: 0.32-0.62 over initial
    # weights from seeds 1-6 (60 steps gave 0.09-0.21: too close).
    assert score >= 0.1, score



@pytest.mark.multibackend
def test_damsm_fit_loss_is_the_papers_loss_of_its_outputs():
    """The loss `fit()` minimises on this backend equals the NumPy
    transcription applied to the model's own features, and a step moves
    both encoders."""
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, (4, 16, 16, 3)).astype("float32")
    lengths = np.array([5, 2, 3, 1])
    ids = (rng.integers(2, 9, (4, 5)) * (np.arange(5)[None]
                                        < lengths[:, None])).astype("int32")
    damsm = _tiny_damsm(9, feature_dim=8, image_size=16)
    damsm.compile(optimizer=keras.optimizers.SGD(0.1))
    out = {k: np.asarray(keras.ops.convert_to_numpy(v), "float64")
           for k, v in damsm({"images": images, "captions": ids}).items()}
    _, _, ref = _np_damsm(out["words"], lengths, out["sentence"],
                          out["local"], out["global"], G1, G2, G3)
    expected = ref["w1"] + ref["w2"] + ref["s1"] + ref["s2"]
    # The captions as x (a dict) or as y (fit(images, ids)): one loss.
    np.testing.assert_allclose(
        [damsm.evaluate({"images": images, "captions": ids}, verbose=0),
         damsm.evaluate(images, ids, verbose=0)], expected, rtol=0,
        atol=1e-4)
    before = [keras.ops.convert_to_numpy(w).copy()
              for w in damsm.trainable_weights]
    logs = damsm.train_on_batch(images, ids, return_dict=True)
    # The step's loss is computed before its update; float32 features,
    # errors as in the test above.
    np.testing.assert_allclose(logs["loss"], expected, rtol=0, atol=1e-4)
    assert int(keras.ops.convert_to_numpy(damsm.optimizer.iterations)) == 1
    moved = {id(w) for w, b in zip(damsm.trainable_weights, before)
             if not np.array_equal(keras.ops.convert_to_numpy(w), b)}
    for encoder in (damsm.image_encoder, damsm.text_encoder):
        assert moved & {id(w) for w in encoder.trainable_weights}


def test_damsm_config_round_trip_and_errors(tmp_path):
    damsm = _tiny_damsm(9, feature_dim=8, image_size=16)
    x = {"images": np.zeros((2, 16, 16, 3), "float32"),
         "captions": np.array([[2, 3, 0], [4, 0, 0]], "int32")}
    out = damsm(x)
    path = str(tmp_path / "damsm.keras")
    damsm.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert (loaded.gamma1, loaded.gamma2, loaded.gamma3) == (G1, G2, G3)
    again = loaded(x)
    for key in ("local", "global", "words", "sentence"):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(again[key]),
                                      keras.ops.convert_to_numpy(out[key]))
    with pytest.raises(ValueError, match="gamma3=0.0"):
        DAMSM(damsm.image_encoder, damsm.text_encoder, gamma3=0)
    with pytest.raises(ValueError, match="keys \\['images'\\]"):
        damsm({"images": x["images"]})
    with pytest.raises(ValueError, match="images without captions"):
        damsm.compute_loss(y_pred=damsm(x["images"]))
    with pytest.raises(ValueError, match="region_downsamples"):
        damsm_image_encoder(20, 8)


@pytest.mark.parametrize("pooling", ["average", "flatten"])
def test_damsm_image_encoder_global_feature_is_the_pooled_last_map(pooling):
    # v_bar = W_bar pool(f) + b, pool = spatial mean ("average", Inception's)
    # or the row-major flattened map ("flatten": the layout is kept).
    enc = damsm_image_encoder(16, 8, width=4, region_downsamples=1,
                              pooling=pooling)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 3))
    x = x.astype("float32")
    proj = enc.get_layer("global_projection")
    before, = [layer for layer in enc.layers if isinstance(
        layer, (keras.layers.GlobalAveragePooling2D, keras.layers.Flatten))]
    maps = keras.ops.convert_to_numpy(
        keras.Model(enc.input, before.input)(x)).astype("float64")
    pooled = (maps.mean(axis=(1, 2)) if pooling == "average"
              else maps.reshape(len(x), -1))
    kernel, bias = (keras.ops.convert_to_numpy(w).astype("float64")
                    for w in proj.weights)
    assert kernel.shape[0] == pooled.shape[1]
    got = keras.ops.convert_to_numpy(enc(x)[1])
    # A float32 dot product of <= 128 terms of size ~1: error ~1e-6.
    np.testing.assert_allclose(got, pooled @ kernel + bias, rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(ValueError, match="pooling='max'"):
        damsm_image_encoder(16, 8, pooling="max")

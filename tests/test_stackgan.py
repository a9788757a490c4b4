"""StackGAN stage I: one train step against plain PyTorch, the KL term
against its closed form and numerical integration, captions vs embeddings."""

import numpy as np
import pytest

import keras

from keras_gan_stable.architectures.stackgan import (
    stackgan_stage1_discriminator, stackgan_stage1_generator)
from keras_gan_stable.layers.conditioning_augmentation import (
    ConditioningAugmentation)
from keras_gan_stable.models.stackgan import StackGAN
from keras_gan_stable.text.text_encoder import BiLSTMTextEncoder

NOISE, COND, EMB, B = 3, 2, 4, 4
LR = 0.1


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


def tiny_nets():
    layers = keras.layers
    z = keras.Input((NOISE + COND,))
    e = keras.Input((EMB,))
    x = ConditioningAugmentation(COND, name="ca")([z, e])
    x = layers.Dense(16, activation="tanh", name="g_dense")(x)
    x = layers.Reshape((4, 4, 1))(x)
    g = keras.Model([z, e], x, name="g")
    img = keras.Input((4, 4, 1))
    e2 = keras.Input((EMB,))
    y = layers.Concatenate()([layers.Flatten()(img), e2])
    y = layers.Dense(6, name="d1")(y)
    y = layers.LeakyReLU(0.2)(y)
    y = layers.Dense(1, name="d2")(y)
    return g, keras.Model([img, e2], y, name="d")


def _reference_step(params, batch, mismatch_weight):
    """Plain PyTorch: one D update then one G update, SGD, non-saturating.

    D's loss is the matching-aware one of StackGAN's code: real +
    (1 - w) fake + w wrong, the wrong pair being (real image i, caption
    i - 1)."""
    import torch
    import torch.nn.functional as F

    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for k, v in params.items()}
    t = {k: torch.tensor(np.asarray(v, "float64")) for k, v in batch.items()}
    e = t["embeddings"]

    def moments(e):
        m = e @ p["ca_k"] + p["ca_b"]
        return m[:, :COND], m[:, COND:]

    def G(z, e):
        mu, ls = moments(e)
        c = mu + torch.exp(ls) * z[:, NOISE:]
        h = torch.cat([z[:, :NOISE], c], dim=1)
        return torch.tanh(h @ p["g_k"] + p["g_b"])  # [B, 16] = NHWC flat

    def D(flat, e):
        h = torch.cat([flat, e], dim=1) @ p["d1_k"] + p["d1_b"]
        return F.leaky_relu(h, 0.2) @ p["d2_k"] + p["d2_b"]

    d_names = ["d1_k", "d1_b", "d2_k", "d2_b"]
    g_names = ["ca_k", "ca_b", "g_k", "g_b"]
    real = t["images"].reshape(B, -1)
    fake = G(t["z"], e).detach()
    w = mismatch_weight
    wrong = D(real, torch.roll(e, 1, dims=0))
    d_loss = (F.softplus(-D(real, e)).mean()
              + (1 - w) * F.softplus(D(fake, e)).mean()
              + w * F.softplus(wrong).mean())
    grads = torch.autograd.grad(d_loss, [p[n] for n in d_names])
    with torch.no_grad():
        for n, gr in zip(d_names, grads):
            p[n] -= LR * gr
    adv = F.softplus(-D(G(t["z_g"], e), e)).mean()
    mu, ls = moments(e)
    kl = (0.5 * (mu ** 2 + torch.exp(2 * ls) - 1 - 2 * ls).mean(dim=1)).mean()
    grads = torch.autograd.grad(adv + 2.0 * kl, [p[n] for n in g_names])
    with torch.no_grad():
        for n, gr in zip(g_names, grads):
            p[n] -= LR * gr
    # GAN logs G's whole objective as g_loss (as for reconstruction terms).
    logs = {"d_loss": d_loss.item(), "g_loss": (adv + 2.0 * kl).item(),
            "kl": kl.item()}
    if w:
        logs["d_wrong"] = wrong.mean().item()
    return logs, {k: v.detach().numpy() for k, v in p.items()}


def _keras_params(g, d):
    ca = g.get_layer("ca").dense
    return {"ca_k": ca.kernel, "ca_b": ca.bias,
            "g_k": g.get_layer("g_dense").kernel,
            "g_b": g.get_layer("g_dense").bias,
            "d1_k": d.get_layer("d1").kernel, "d1_b": d.get_layer("d1").bias,
            "d2_k": d.get_layer("d2").kernel, "d2_b": d.get_layer("d2").bias}


@pytest.mark.multibackend
@pytest.mark.parametrize("mismatch_weight", [0.0, 0.5])
def test_train_step_matches_plain_pytorch(mismatch_weight):
    pytest.importorskip("torch", reason="the reference step is written in "
                        "PyTorch ([torch] extra; CI installs it)")
    rng = np.random.default_rng(3)
    g, d = tiny_nets()
    variables = _keras_params(g, d)
    for v in variables.values():
        v.assign(rng.normal(0, 0.5, tuple(v.shape)).astype("float32"))
    batch = {
        "images": rng.uniform(-1, 1, (B, 4, 4, 1)).astype("float32"),
        "embeddings": rng.normal(0, 1, (B, EMB)).astype("float32"),
        "z": rng.standard_normal((B, NOISE + COND)).astype("float32"),
        "z_g": rng.standard_normal((B, NOISE + COND)).astype("float32"),
    }
    before = {k: _np(v) for k, v in variables.items()}
    gan = StackGAN(g, d, latent_dim=NOISE + COND, seed=0,
                   mismatch_weight=mismatch_weight)
    gan.compile(keras.optimizers.SGD(LR), keras.optimizers.SGD(LR),
                loss="non_saturating")
    logs = gan.train_on_batch(batch, return_dict=True)
    ref_logs, ref_params = _reference_step(before, batch, mismatch_weight)
    assert ("d_wrong" in logs) == bool(mismatch_weight)
    # float32 sums of at most ~20 terms against float64: 1e-5 is ~50x the
    # round-off and far below any change one SGD step makes (>1e-3).
    for key, expected in ref_logs.items():
        np.testing.assert_allclose(float(logs[key]), expected, rtol=1e-5,
                                   atol=1e-6, err_msg=key)
    assert ref_logs["kl"] > 0.05
    for name, v in variables.items():
        assert np.abs(ref_params[name] - before[name]).max() > 1e-4, name
        np.testing.assert_allclose(_np(v), ref_params[name], rtol=1e-5,
                                   atol=1e-6, err_msg=name)


def test_kl_term_closed_form_and_integration():
    ca = ConditioningAugmentation(3)
    e = np.array([[0.3, -1.0], [2.0, 0.5]], "float32")
    ca([np.zeros((2, 3), "float32"), e])
    ca.dense.kernel.assign(np.array(
        [[0.5, -0.2, 1.0, 0.3, -0.4, 0.1], [0.1, 0.7, -0.3, 0.2, 0.5, -0.6]],
        "float32"))
    ca.dense.bias.assign(np.array([0.1, 0.0, -0.2, 0.0, 0.1, -0.1],
                                  "float32"))
    kl = _np(ca.kl(e))
    m = e.astype("float64") @ _np(ca.dense.kernel) + _np(ca.dense.bias)
    mu, sigma = m[:, :3], np.exp(m[:, 3:])
    # KL(N(mu, s^2) || N(0, 1)) = log(1 / s) + (s^2 + mu^2) / 2 - 1 / 2,
    # averaged over the 3 dimensions.
    closed = (np.log(1 / sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5).mean(1)
    np.testing.assert_allclose(kl, closed, rtol=1e-5)
    # The same by integrating q log(q / p) on a grid (independent of the
    # formula): trapezoid error at step 1e-3 is far below 1e-6.
    x = np.linspace(-12, 12, 24001)
    numeric = np.zeros(2)
    for i in range(2):
        for j in range(3):
            q = np.exp(-0.5 * ((x - mu[i, j]) / sigma[i, j]) ** 2) / (
                sigma[i, j] * np.sqrt(2 * np.pi))
            logp = -0.5 * x ** 2 - 0.5 * np.log(2 * np.pi)
            logq = np.log(np.maximum(q, 1e-300))
            numeric[i] += np.trapezoid(q * (logq - logp), x) / 3
    np.testing.assert_allclose(kl, numeric, rtol=1e-5)
    # The sample uses the last condition_dim entries of z as eps.
    z = np.array([[7.0, 1.0, -1.0, 0.5]] * 2, "float32")
    out = _np(ca([z, e]))
    np.testing.assert_allclose(out[:, 0], 7.0)
    np.testing.assert_allclose(out[:, 1:], mu + sigma * z[:, 1:], rtol=1e-5)


def test_captions_through_the_text_encoder_equal_embeddings(tmp_path):
    rng = np.random.default_rng(0)
    enc = BiLSTMTextEncoder(vocabulary_size=10, embedding_dim=3,
                            feature_dim=EMB)
    ids = np.array([[2, 3, 4, 0], [5, 1, 0, 0], [6, 7, 8, 9], [2, 0, 0, 0]],
                   "int32")
    sentence = _np(enc(ids)[1]).astype("float32")
    batch = {"images": rng.uniform(-1, 1, (B, 4, 4, 1)).astype("float32"),
             "z": rng.standard_normal((B, NOISE + COND)).astype("float32"),
             "z_g": rng.standard_normal((B, NOISE + COND)).astype("float32")}
    results = []
    for text in ({"captions": ids}, {"embeddings": sentence}):
        keras.utils.set_random_seed(5)
        g, d = tiny_nets()
        gan = StackGAN(g, d, latent_dim=NOISE + COND, text_encoder=enc)
        gan.compile(keras.optimizers.SGD(LR), keras.optimizers.SGD(LR))
        logs = gan.train_on_batch({**batch, **text}, return_dict=True)
        results.append((logs, [_np(v) for v in g.trainable_variables]))
    for key in ("d_loss", "g_loss", "kl"):
        np.testing.assert_allclose(float(results[0][0][key]),
                                   float(results[1][0][key]), rtol=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not enc.trainable_weights  # frozen by StackGAN
    # The text encoder travels with a saved model.
    path = str(tmp_path / "with_encoder.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.generate(captions=ids, seed=2),
                               gan.generate(captions=ids, seed=2), atol=1e-6)
    np.testing.assert_allclose(
        loaded.generate(captions=ids, seed=2),
        gan.generate(embeddings=sentence, seed=2), atol=1e-6)


def test_builders_fit_generate_and_config(tmp_path):
    g = stackgan_stage1_generator(noise_dim=4, embedding_dim=6,
                                  condition_dim=3, image_size=16, width=4)
    d = stackgan_stage1_discriminator(image_size=16, embedding_dim=6,
                                      condition_dim=3, width=4)
    assert g.output_shape == (None, 16, 16, 3)
    assert d.output_shape == (None, 1)
    gan = StackGAN(g, d, latent_dim=7, seed=1)
    gan.compile(loss="hinge")
    rng = np.random.default_rng(0)
    data = {"images": rng.uniform(-1, 1, (8, 16, 16, 3)).astype("float32"),
            "embeddings": rng.normal(0, 1, (8, 6)).astype("float32")}
    before = _np(g.trainable_variables[0])
    hist = gan.fit(data, batch_size=4, epochs=1, verbose=0)
    assert set(hist.history) >= {"d_loss", "g_loss", "kl", "d_wrong"}
    evaluated = gan.evaluate(data, batch_size=4, return_dict=True, verbose=0)
    assert set(evaluated) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert np.abs(_np(g.trainable_variables[0]) - before).max() > 0
    a = gan.generate(embeddings=data["embeddings"][:3], seed=4)
    b = gan.generate(embeddings=data["embeddings"][:3], seed=4)
    assert a.shape == (3, 16, 16, 3)
    np.testing.assert_array_equal(a, b)
    # A different caption embedding changes the image for the same noise.
    c = gan.generate(embeddings=data["embeddings"][3:6], seed=4)
    assert np.abs(a - c).max() > 1e-4
    config = gan.get_config()
    again = StackGAN.from_config(config)
    assert again.kl_weight == 2.0 and again.latent_dim == 7
    assert again.mismatch_weight == 0.5
    with pytest.raises(ValueError, match="mismatch_weight=1.5"):
        StackGAN(g, d, latent_dim=7, mismatch_weight=1.5)
    path = str(tmp_path / "stackgan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, StackGAN)
    np.testing.assert_array_equal(
        loaded.generate(embeddings=data["embeddings"][:3], seed=4), a)
    with pytest.raises(ValueError, match="'embeddings'.*'captions'"):
        gan.train_on_batch({"images": data["images"][:4]})
    zz, ee = keras.Input((7,)), keras.Input((6,))
    x = keras.layers.Dense(16 * 16 * 3)(keras.layers.Concatenate()([zz, ee]))
    plain = keras.Model([zz, ee], keras.layers.Reshape((16, 16, 3))(x))
    with pytest.raises(ValueError, match="exactly one Conditioning"):
        StackGAN(plain, d, latent_dim=7)
    with pytest.raises(ValueError, match="latent_dim=9"):
        StackGAN(g, d, latent_dim=9)


def test_conditioning_augmentation_layer_contract(tmp_path):
    from layer_test_case import run_layer_test

    rng = np.random.default_rng(1)
    data = [rng.standard_normal((2, 5)).astype("float32"),
            rng.standard_normal((2, 4)).astype("float32")]
    # Rounding stages: the dense layer, exp(log sigma) and the product.
    run_layer_test(ConditioningAugmentation, {"condition_dim": 2}, data,
                   (2, 5), 2, 0, tmp_path, run_eagerly=True,
                   mixed_precision_depth=3)


def test_ema_generator_and_guard_work_through_gan():
    g = stackgan_stage1_generator(noise_dim=4, embedding_dim=6,
                                  condition_dim=3, image_size=16, width=4)
    d = stackgan_stage1_discriminator(image_size=16, embedding_dim=6,
                                      condition_dim=3, width=4)
    gan = StackGAN(g, d, latent_dim=7, ema_decay=0.5, seed=0)
    gan.compile(loss="hinge", skip_nonfinite=True)
    rng = np.random.default_rng(0)
    e = rng.normal(0, 1, (4, 6)).astype("float32")
    ca, ca_ema = (next(v for v in net.weights
                       if "moments" in v.path and "kernel" in v.path)
                  for net in (gan.generator, gan.ema_generator))
    initial = _np(ca)
    gan.train_on_batch({"images": rng.uniform(-1, 1, (4, 16, 16, 3)).astype(
        "float32"), "embeddings": e})
    # One update with decay 0.5: ema = 0.5 * initial + 0.5 * updated.
    assert np.abs(_np(ca) - initial).max() > 1e-5
    np.testing.assert_allclose(_np(ca_ema), 0.5 * initial + 0.5 * _np(ca),
                               rtol=1e-6, atol=1e-7)
    default = gan.generate(embeddings=e, seed=3)
    np.testing.assert_array_equal(
        default, gan.generate(embeddings=e, seed=3, use_ema=True))
    assert np.abs(default - gan.generate(embeddings=e, seed=3,
                                         use_ema=False)).max() > 1e-6


@pytest.mark.parametrize("normalization", ["layer", "none"])
def test_discriminator_without_batch_norm_scores_each_sample_alone(
        normalization):
    # BatchNorm (the paper's) mixes a batch in training mode; "layer" and
    # "none" do not, so a sample's logit is the same alone or in a batch,
    # and an R1 penalty (per-sample input gradients) is accepted.
    d = stackgan_stage1_discriminator(16, EMB, COND, width=4,
                                      normalization=normalization)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (B, 16, 16, 3)).astype("float32")
    e = rng.normal(size=(B, EMB)).astype("float32")
    both = _np(d([x, e], training=True))
    alone = np.concatenate([_np(d([x[i:i + 1], e[i:i + 1]], training=True))
                            for i in range(B)])
    # Same arithmetic per sample; float32 summation order may differ.
    np.testing.assert_allclose(alone, both, rtol=1e-5, atol=1e-6)
    g = stackgan_stage1_generator(NOISE, EMB, COND, image_size=16, width=4)
    gan = StackGAN(g, d, latent_dim=NOISE + COND)
    gan.compile(loss="non_saturating", penalty="r1", penalty_weight=1.0)
    batched = stackgan_stage1_discriminator(16, EMB, COND, width=4)
    mixed = _np(batched([x, e], training=True))[:1]
    assert not np.allclose(_np(batched([x[:1], e[:1]], training=True)), mixed)
    with pytest.raises(ValueError, match="BatchNormalization"):
        StackGAN(g, batched, latent_dim=NOISE + COND).compile(
            loss="non_saturating", penalty="r1")
    with pytest.raises(ValueError, match="normalization='spectral'"):
        stackgan_stage1_discriminator(16, EMB, COND, normalization="spectral")


def test_projection_term_is_the_inner_product_with_the_4x4_features():
    # logit = concatenation path + <W e, vec(h)> (Miyato & Koyama 2018),
    # h the 4 x 4 features before the concatenation. Check against NumPy:
    # the same network with W = 0 gives the concatenation path, and the
    # difference is (e @ W) . vec(h) in float64 (a float32 sum of 16 * ch
    # = 128 products: rtol ~ 128 * 6e-8, so 1e-5 with margin).
    d = stackgan_stage1_discriminator(16, EMB, COND, width=4,
                                      normalization="none", projection=True)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (B, 16, 16, 3)).astype("float32")
    e = rng.normal(size=(B, EMB)).astype("float32")
    proj = d.get_layer("projection")
    w = rng.normal(size=proj.kernel.shape).astype("float32")
    proj.kernel.assign(w)
    flat = next(layer for layer in d.layers
                if isinstance(layer, keras.layers.Flatten))
    h = _np(keras.Model(d.inputs, flat.output)([x, e]))  # [B, 16 * ch]
    assert h.shape == (B, 16 * 4 * 2)
    with_term = _np(d([x, e]))
    proj.kernel.assign(np.zeros_like(w))
    without = _np(d([x, e]))
    want = np.sum((e.astype("float64") @ w) * h, axis=1, keepdims=True)
    np.testing.assert_allclose(with_term - without, want, rtol=1e-5,
                               atol=1e-5 * np.abs(want).max())
    assert np.abs(want).max() > 1e-3  # the term is not trivially zero
    with pytest.raises(ValueError, match="projection='yes'"):
        stackgan_stage1_discriminator(16, EMB, COND, projection="yes")

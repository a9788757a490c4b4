"""StackGAN stage II: one train step against plain PyTorch (frozen stage I,
stage II's own conditioning augmentation and KL term, mismatched captions),
and the builder's wiring through fit(), generate() and a .keras file."""

import numpy as np
import pytest

import keras

from keras_gan_stable.architectures.stackgan import (
    stackgan_stage1_discriminator, stackgan_stage1_generator,
    stackgan_stage2_generator)
from keras_gan_stable.layers.conditioning_augmentation import (
    ConditioningAugmentation)
from keras_gan_stable.models.stackgan import StackGAN

NOISE, COND, COND2, EMB, B, W, RES = 3, 2, 2, 4, 4, 2, 1
LR = 0.05
BN_EPS = 1e-3  # keras.layers.BatchNormalization's default epsilon


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


def tiny_stage1():
    z = keras.Input((NOISE + COND,))
    e = keras.Input((EMB,))
    x = ConditioningAugmentation(COND, name="ca")([z, e])
    x = keras.layers.Dense(64, activation="tanh", name="g_dense")(x)
    return keras.Model([z, e], keras.layers.Reshape((8, 8, 1))(x), name="g1")


def tiny_d():
    img = keras.Input((16, 16, 1))
    e = keras.Input((EMB,))
    y = keras.layers.Concatenate()([keras.layers.Flatten()(img), e])
    y = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(6, name="d1")(y))
    return keras.Model([img, e], keras.layers.Dense(1, name="d2")(y),
                       name="d")


def _reference_step(p, batch):
    """Plain PyTorch (float64, NCHW): one D update, one G update, SGD."""
    import torch
    import torch.nn.functional as F

    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for k, v in p.items()}
    t = {k: torch.tensor(np.asarray(v, "float64")) for k, v in batch.items()}
    e = t["embeddings"]
    z1 = NOISE + COND

    def conv(x, name, stride=1, bias=False):
        k = p[name + "/kernel"].permute(3, 2, 0, 1)  # HWIO -> OIHW
        pad = 1  # Keras "same" here: 3x3 stride 1, or 4x4 stride 2 even
        b = p[name + "/bias"] if bias else None
        return F.conv2d(x, k, b, stride=stride, padding=pad)

    def bn(x, name):
        return F.batch_norm(x, None, None, p[name + "/gamma"],
                            p[name + "/beta"], training=True, eps=BN_EPS)

    def moments(prefix, e, cond):
        m = e @ p[prefix + "/kernel"] + p[prefix + "/bias"]
        return m[:, :cond], m[:, cond:]

    def G(z, e):
        mu1, ls1 = moments("ca", e, COND)
        c1 = mu1 + torch.exp(ls1) * z[:, NOISE:z1]
        h = torch.cat([z[:, :NOISE], c1], 1) @ p["g_dense/kernel"]
        low = torch.tanh(h + p["g_dense/bias"]).reshape(B, 8, 8, 1)
        x = low.permute(0, 3, 1, 2)
        mu, ls = moments("stage2_conditioning", e, COND2)
        c = mu + torch.exp(ls) * z[:, z1:]
        x = F.relu(conv(x, "stage2_enc0", bias=True))
        x = F.relu(bn(conv(x, "stage2_enc1", 2), "stage2_enc1_bn"))
        x = F.relu(bn(conv(x, "stage2_enc2", 2), "stage2_enc2_bn"))
        x = torch.cat([x, c[:, :, None, None].expand(B, COND2, 2, 2)], 1)
        x = F.relu(bn(conv(x, "stage2_joint"), "stage2_joint_bn"))
        for i in range(RES):
            y = F.relu(bn(conv(x, f"stage2_res{i}a"), f"stage2_res{i}a_bn"))
            y = bn(conv(y, f"stage2_res{i}b"), f"stage2_res{i}b_bn")
            x = F.relu(x + y)
        for i in range(3):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = F.relu(bn(conv(x, f"stage2_up{i}"), f"stage2_up{i}_bn"))
        x = torch.tanh(conv(x, "stage2_out", bias=True))
        return x.permute(0, 2, 3, 1).reshape(B, -1)  # NHWC, flattened

    def D(flat, e):
        h = torch.cat([flat, e], 1) @ p["d1/kernel"] + p["d1/bias"]
        return F.leaky_relu(h, 0.2) @ p["d2/kernel"] + p["d2/bias"]

    d_names = [k for k in p if k.startswith("d")]
    g_names = [k for k in p if k.startswith("stage2")]
    real = t["images"].reshape(B, -1)
    fake = G(t["z"], e).detach()
    d_loss = (F.softplus(-D(real, e)).mean()
              + 0.5 * F.softplus(D(fake, e)).mean()
              + 0.5 * F.softplus(D(real, torch.roll(e, 1, 0))).mean())
    grads = torch.autograd.grad(d_loss, [p[n] for n in d_names])
    with torch.no_grad():
        for n, gr in zip(d_names, grads):
            p[n] -= LR * gr
    adv = F.softplus(-D(G(t["z_g"], e), e)).mean()
    mu, ls = moments("stage2_conditioning", e, COND2)
    kl = (0.5 * (mu ** 2 + torch.exp(2 * ls) - 1 - 2 * ls).mean(1)).mean()
    grads = torch.autograd.grad(adv + 2.0 * kl, [p[n] for n in g_names])
    with torch.no_grad():
        for n, gr in zip(g_names, grads):
            p[n] -= LR * gr
    logs = {"d_loss": d_loss.item(), "g_loss": (adv + 2.0 * kl).item(),
            "kl": kl.item()}
    return logs, {k: v.detach().numpy() for k, v in p.items()}


def _variables(g2, d):
    """Every weight the reference uses, by "layer/weight" (the dense layer
    inside a conditioning augmentation is left out of the name)."""
    return {v.path.replace("/moments", ""): v
            for net in (g2, d) for v in net.weights
            if "moving" not in v.path}


@pytest.mark.multibackend
def test_stage2_step_matches_plain_pytorch():
    pytest.importorskip("torch", reason="the reference step is written in "
                        "PyTorch ([torch] extra; CI installs it)")
    rng = np.random.default_rng(7)
    g1 = tiny_stage1()
    g2 = stackgan_stage2_generator(g1, condition_dim=COND2, width=W,
                                   residual_blocks=RES)
    d = tiny_d()
    variables = _variables(g2, d)
    assert {"ca/kernel", "stage2_conditioning/kernel",
            "g_dense/kernel", "stage2_out/kernel"} <= set(variables)
    for name, v in variables.items():
        scale = 0.2 if name.endswith("beta") else 0.5
        value = rng.normal(0, scale, tuple(v.shape))
        if name.endswith("gamma"):
            value = 1.0 + 0.2 * value
        v.assign(value.astype("float32"))
    batch = {
        "images": rng.uniform(-1, 1, (B, 16, 16, 1)).astype("float32"),
        "embeddings": rng.normal(0, 1, (B, EMB)).astype("float32"),
        "z": rng.standard_normal((B, NOISE + COND + COND2)).astype("float32"),
        "z_g": rng.standard_normal((B, NOISE + COND + COND2)).astype(
            "float32"),
    }
    before = {k: _np(v) for k, v in variables.items()}
    gan = StackGAN(g2, d, latent_dim=NOISE + COND + COND2, seed=0)
    gan.compile(keras.optimizers.SGD(LR), keras.optimizers.SGD(LR),
                loss="non_saturating")
    logs = gan.train_on_batch(batch, return_dict=True)
    ref_logs, ref_params = _reference_step(before, batch)
    # float64 reference; float32 sums of at most ~300 terms (the first
    # dense layer of D), through BatchNorm over 16-value batches (which
    # divides by a standard deviation of order 0.1-1): 1e-4 relative is
    # ~10x that round-off, far below one SGD step's change (> 1e-3).
    for key, expected in ref_logs.items():
        np.testing.assert_allclose(float(logs[key]), expected, rtol=1e-4,
                                   atol=1e-5, err_msg=key)
    for name, v in variables.items():
        moved = np.abs(ref_params[name] - before[name]).max()
        if name.startswith(("ca/", "g_dense/")):
            # Stage I is frozen: its weights do not move at all.
            assert moved == 0.0, name
            np.testing.assert_array_equal(_np(v), before[name], err_msg=name)
        else:
            assert moved > 1e-5, name
            np.testing.assert_allclose(_np(v), ref_params[name], rtol=1e-4,
                                       atol=1e-5, err_msg=name)


def test_stage2_builder_fit_generate_and_save(tmp_path):
    g1 = stackgan_stage1_generator(noise_dim=4, embedding_dim=6,
                                   condition_dim=3, image_size=16, width=4)
    stage1_weights = [_np(v) for v in g1.weights]
    g2 = stackgan_stage2_generator(g1, condition_dim=5, width=4)
    assert g2.input_shape == [(None, 12), (None, 6)]
    assert g2.output_shape == (None, 32, 32, 3)
    assert not g1.trainable and not g1.trainable_weights
    d = stackgan_stage1_discriminator(image_size=32, embedding_dim=6,
                                      condition_dim=3, width=4)
    gan = StackGAN(g2, d, latent_dim=12, seed=1)
    # The KL term is stage II's: the generator's own conditioning layer.
    assert gan._conditioning.name == "stage2_conditioning"
    gan.compile(loss="hinge")
    rng = np.random.default_rng(0)
    data = {"images": rng.uniform(-1, 1, (8, 32, 32, 3)).astype("float32"),
            "embeddings": rng.normal(0, 1, (8, 6)).astype("float32")}
    g2_before = [_np(v) for v in g2.trainable_weights]
    hist = gan.fit(data, batch_size=4, epochs=1, verbose=0)
    assert set(hist.history) >= {"d_loss", "g_loss", "kl", "d_wrong"}
    # Stage I (weights and BatchNorm statistics) is untouched by fit();
    # every stage-II weight moves.
    for a, b in zip(stage1_weights, g1.weights):
        np.testing.assert_array_equal(a, _np(b))
    assert all(np.abs(_np(v) - a).max() > 0
               for v, a in zip(g2.trainable_weights, g2_before))
    a = gan.generate(embeddings=data["embeddings"][:3], seed=4)
    assert a.shape == (3, 32, 32, 3)
    path = str(tmp_path / "stage2.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert len(loaded.generator.trainable_weights) == len(
        g2.trainable_weights)
    np.testing.assert_array_equal(
        loaded.generate(embeddings=data["embeddings"][:3], seed=4), a)
    with pytest.raises(ValueError, match="two-input Keras model"):
        stackgan_stage2_generator(d.layers[1])

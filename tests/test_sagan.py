"""SAGAN generator and discriminator."""

import numpy as np
import pytest

import keras
from keras import ops

from keras_gan_stable import GAN
from keras_gan_stable.architectures.sagan import sagan_compile_kwargs
from keras_gan_stable.architectures.sagan import sagan_discriminator
from keras_gan_stable.architectures.sagan import sagan_generator
from keras_gan_stable.layers.self_attention import SelfAttention2D
from keras_gan_stable.layers.spectral_normalization import (
    SpectralNormalization,
)


def _attention_layers(model):
    return [l for l in model._flatten_layers(include_self=False)
            if isinstance(l, SelfAttention2D)]


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("num_classes", [None, 10])
def test_output_shapes(rng, size, num_classes):
    g = sagan_generator(16, (size, size, 3), width=2, num_classes=num_classes)
    d = sagan_discriminator((size, size, 3), width=2, num_classes=num_classes)
    z = rng.standard_normal((3, 16)).astype("float32")
    labels = np.array([0, 4, 9], "int32")
    images = g([z, labels] if num_classes else z)
    images = ops.convert_to_numpy(images)
    assert images.shape == (3, size, size, 3)
    assert np.all(np.abs(images) <= 1.0)
    logits = d([images, labels] if num_classes else images)
    assert tuple(logits.shape) == (3, 1) and logits.dtype == "float32"
    # The generator has BatchNorm (conditional per class when labelled):
    # in inference mode it depends on the label.
    if num_classes:
        cbn = [l for l in g.layers if "bn" in l.name and hasattr(l, "beta")]
        for layer in cbn:
            layer.beta.assign(rng.standard_normal(layer.beta.shape))
        a = ops.convert_to_numpy(g([z, labels]))
        b = ops.convert_to_numpy(g([z, labels[::-1].copy()]))
        assert not np.allclose(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size,g_default,d_default", [(32, 32, 16),
                                                       (64, 32, 32)])
def test_attention_placement(size, g_default, d_default):
    g = sagan_generator(8, (size, size, 3), width=2)
    d = sagan_discriminator((size, size, 3), width=2)
    for model, res in ((g, g_default), (d, d_default)):
        (layer,) = _attention_layers(model)
        assert tuple(layer.input.shape[1:3]) == (res, res)
        assert layer.spectral_norm
    g = sagan_generator(8, (size, size, 3), width=2,
                        attention_resolutions=(8, 16))
    assert sorted(l.input.shape[1] for l in _attention_layers(g)) == [8, 16]
    d = sagan_discriminator((size, size, 3), width=2,
                            attention_resolutions=8, pool_keys_values=True)
    (layer,) = _attention_layers(d)
    assert layer.input.shape[1] == 8 and layer.pool_keys_values
    assert _attention_layers(sagan_generator(
        8, (size, size, 3), width=2, attention_resolutions=None)) == []


def test_every_weight_is_spectrally_normalised():
    for model in (sagan_generator(8, (32, 32, 3), width=2, num_classes=3),
                  sagan_discriminator((32, 32, 3), width=2, num_classes=3)):
        layers = list(model._flatten_layers(include_self=False))
        wrapped = {id(l.layer) for l in layers
                   if isinstance(l, SpectralNormalization)}
        weighted = [l for l in layers if isinstance(
            l, (keras.layers.Conv2D, keras.layers.Dense,
                keras.layers.Embedding))]
        # G: dense, 3 blocks x 3 convs, 4 attention convs, output conv.
        # D: 4 blocks x 2 convs + 2 shortcuts, 4 attention convs, logit,
        #    class embedding.
        assert len(weighted) == {"sagan_generator": 15,
                                 "sagan_discriminator": 16}[model.name]
        assert [l.name for l in weighted if id(l) not in wrapped] == []


def test_invalid_arguments():
    with pytest.raises(ValueError, match=r"image_shape=\(28, 28, 1\)"):
        sagan_generator(8, (28, 28, 1))
    with pytest.raises(ValueError, match="attention_resolutions=.*64"):
        sagan_generator(8, (32, 32, 3), attention_resolutions=64)
    with pytest.raises(ValueError, match="attention can go at"):
        sagan_discriminator((32, 32, 3), attention_resolutions=(32,))
    with pytest.raises(ValueError, match="width=0"):
        sagan_discriminator((32, 32, 3), width=0)
    with pytest.raises(ValueError, match="num_classes=1"):
        sagan_generator(8, (32, 32, 3), num_classes=1)


def test_compile_kwargs_are_hinge_and_ttur():
    kwargs = sagan_compile_kwargs()
    assert kwargs["loss"] == "hinge" and kwargs["n_critic"] == 1
    d, g = kwargs["d_optimizer"], kwargs["g_optimizer"]
    for opt, lr in ((d, 4e-4), (g, 1e-4)):
        assert isinstance(opt, keras.optimizers.Adam)
        assert np.isclose(float(ops.convert_to_numpy(opt.learning_rate)), lr)
        assert (opt.beta_1, opt.beta_2) == (0.0, 0.9)
    assert sagan_compile_kwargs(n_critic=2)["n_critic"] == 2


@pytest.mark.slow
def test_one_step_moves_attention_by_the_ttur_rates(rng):
    # With beta_1 = 0 the first Adam step is lr * g / (|g| + eps'), i.e.
    # lr * sign(g): after one train step each attention gamma (0 at start)
    # sits at +-4e-4 in D and +-1e-4 in G, the TTUR learning rates.
    num_classes = 3
    g = sagan_generator(8, (32, 32, 3), width=2, num_classes=num_classes,
                        attention_resolutions=16)
    d = sagan_discriminator((32, 32, 3), width=2, num_classes=num_classes)
    gan = GAN(g, d, latent_dim=8, num_classes=num_classes, seed=0)
    gan.compile(**sagan_compile_kwargs())
    images = rng.uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    labels = np.array([0, 1, 2, 1], "int32")
    gan.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    assert int(ops.convert_to_numpy(gan.d_optimizer.iterations)) == 1
    assert int(ops.convert_to_numpy(gan.g_optimizer.iterations)) == 1
    for model, lr in ((d, 4e-4), (g, 1e-4)):
        (layer,) = _attention_layers(model)
        gamma = float(ops.convert_to_numpy(layer.gamma))
        np.testing.assert_allclose(abs(gamma), lr, rtol=0.05)


def _low_frequency_fd(a, b):
    """Frechet distance between Gaussians fitted to 8x8 average-pooled
    images (192 features): a statistic of colour and layout."""
    from scipy import linalg

    def feats(x):
        n = x.shape[0]
        return x.reshape(n, 8, 4, 8, 4, 3).mean(axis=(2, 4)).reshape(n, -1)

    fa, fb = feats(a).astype("float64"), feats(b).astype("float64")
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    ca, cb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    covmean = linalg.sqrtm(ca @ cb).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(ca + cb - 2 * covmean))


@pytest.mark.slow
def test_sagan_learns_cifar10_colour_and_layout(cifar10_subset):
    images, _ = cifar10_subset
    g = sagan_generator(32, (32, 32, 3), width=8, attention_resolutions=16)
    d = sagan_discriminator((32, 32, 3), width=8, attention_resolutions=16)
    gan = GAN(g, d, latent_dim=32, seed=0)
    gan.compile(**sagan_compile_kwargs())
    before = _low_frequency_fd(gan.generate(1000, seed=1), images)
    gan.fit(images, batch_size=32, epochs=4, shuffle=True, verbose=0)
    after = _low_frequency_fd(gan.generate(1000, seed=1), images)
    print(f"low-frequency FD: {before:.4g} -> {after:.4g}")
    assert after < 0.35 * before, (before, after)
    # The attention branches opened.
    for model in (g, d):
        (layer,) = _attention_layers(model)
        assert abs(float(ops.convert_to_numpy(layer.gamma))) > 1e-3

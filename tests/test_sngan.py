"""SNGAN networks, conditional BatchNorm and a short class-conditional run.

Known answers: numpy batch normalisation, the paper's layer tables, the
projection formula, and a Frechet distance (numpy/scipy) that must fall.
"""

import numpy as np
import pytest
import keras
from keras import ops

from keras_gan_stable import GAN
from keras_gan_stable.architectures.sngan import sngan_cnn_discriminator
from keras_gan_stable.architectures.sngan import sngan_cnn_generator
from keras_gan_stable.architectures.sngan import sngan_resnet_discriminator
from keras_gan_stable.architectures.sngan import sngan_resnet_generator
from keras_gan_stable.layers import ConditionalBatchNormalization
from keras_gan_stable.layers import SpectralNormalization


def numpy_of(x):
    return np.array(ops.convert_to_numpy(x))


# ---------------------------------------------------------------------- #
# ConditionalBatchNormalization
# ---------------------------------------------------------------------- #
@pytest.mark.multibackend
def test_conditional_batch_norm_matches_numpy(rng, tmp_path):
    x = rng.standard_normal((6, 3, 3, 4)).astype("float32") * 2.0 + 1.0
    labels = np.array([0, 2, 1, 2, 0, 0], "int32")
    layer = ConditionalBatchNormalization(3, momentum=0.9, epsilon=1e-5)
    layer.build([x.shape, labels.shape])
    gamma = rng.standard_normal((3, 4)).astype("float32")
    beta = rng.standard_normal((3, 4)).astype("float32")
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)

    y = numpy_of(layer([ops.convert_to_tensor(x),
                        ops.convert_to_tensor(labels)], training=True))
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))
    x_hat = (x - mean) / np.sqrt(var + 1e-5)
    expected = x_hat * gamma[labels][:, None, None] + beta[labels][:, None, None]
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)

    # Moving statistics with momentum 0.9 from (0, 1); inference uses them.
    bn = layer.batch_norm
    np.testing.assert_allclose(numpy_of(bn.moving_mean), 0.1 * mean,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy_of(bn.moving_variance), 0.9 + 0.1 * var,
                               rtol=1e-4, atol=1e-5)
    y_inf = numpy_of(layer([ops.convert_to_tensor(x),
                            ops.convert_to_tensor(labels[:, None])]))
    x_hat = (x - 0.1 * mean) / np.sqrt(0.9 + 0.1 * var + 1e-5)
    expected = x_hat * gamma[labels][:, None, None] + beta[labels][:, None, None]
    np.testing.assert_allclose(y_inf, expected, rtol=1e-4, atol=1e-4)

    # Config and weights round trip.
    clone = ConditionalBatchNormalization.from_config(layer.get_config())
    assert clone.num_classes == 3 and clone.momentum == 0.9
    assert clone.epsilon == 1e-5


def test_conditional_batch_norm_starts_as_identity_affine(rng):
    x = rng.standard_normal((8, 5)).astype("float32")
    labels = np.arange(8, dtype="int32") % 4
    layer = ConditionalBatchNormalization(4)
    y = numpy_of(layer([ops.convert_to_tensor(x),
                        ops.convert_to_tensor(labels)], training=True))
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="num_classes=0"):
        ConditionalBatchNormalization(0)
    with pytest.raises(ValueError, match="momentum"):
        ConditionalBatchNormalization(3, momentum=1.5)


# ---------------------------------------------------------------------- #
# Network structure against the paper's tables
# ---------------------------------------------------------------------- #
def _weight_layers(model):
    """(layer, wrapped by SN) for every Dense/Conv/Embedding in a model."""
    found = []
    wrapped = set()
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, SpectralNormalization):
            wrapped.add(id(layer.layer))
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D,
                              keras.layers.Conv2DTranspose,
                              keras.layers.Embedding)):
            found.append((layer, id(layer) in wrapped))
    return found


def test_standard_cnn_follows_table_3():
    d = sngan_cnn_discriminator((32, 32, 3), width=64)
    convs = [(l.kernel_size, l.strides, l.filters)
             for l, _ in _weight_layers(d) if isinstance(l, keras.layers.Conv2D)]
    assert convs == [
        ((3, 3), (1, 1), 64), ((4, 4), (2, 2), 64), ((3, 3), (1, 1), 128),
        ((4, 4), (2, 2), 128), ((3, 3), (1, 1), 256), ((4, 4), (2, 2), 256),
        ((3, 3), (1, 1), 512)]
    assert all(sn for _, sn in _weight_layers(d))
    leaky = [l for l in d.layers if isinstance(l, keras.layers.LeakyReLU)]
    assert len(leaky) == 7 and all(
        abs(l.negative_slope - 0.1) < 1e-7 for l in leaky)

    g = sngan_cnn_generator(128, (48, 48, 3), width=64)  # STL-10: M_g = 6
    dense = [l for l, _ in _weight_layers(g)
             if isinstance(l, keras.layers.Dense)][0]
    assert dense.units == 6 * 6 * 512
    deconvs = [(l.kernel_size, l.strides, l.filters) for l, _ in
               _weight_layers(g) if isinstance(l, keras.layers.Conv2DTranspose)]
    assert deconvs == [((4, 4), (2, 2), 256), ((4, 4), (2, 2), 128),
                       ((4, 4), (2, 2), 64)]
    assert g.output.shape[1:] == (48, 48, 3)


@pytest.mark.parametrize("size", [32, 48, 64])
def test_resnet_shapes_and_spectral_norm_everywhere(size):
    for channels, num_classes in ((1, 10), (3, None)):
        g = sngan_resnet_generator(16, (size, size, channels), width=8,
                                   num_classes=num_classes)
        d = sngan_resnet_discriminator((size, size, channels), width=8,
                                       num_classes=num_classes)
        assert g.output.shape[1:] == (size, size, channels)
        assert tuple(d.output.shape[1:]) == (1,)
        assert all(sn for _, sn in _weight_layers(d))
        assert not any(sn for _, sn in _weight_layers(g))
        cbn = [l for l in g._flatten_layers()
               if isinstance(l, ConditionalBatchNormalization)]
        n_blocks = {32: 3, 48: 3, 64: 4}[size]
        assert len(cbn) == (2 * n_blocks if num_classes else 0)
        embeds = [l for l, sn in _weight_layers(d)
                  if isinstance(l, keras.layers.Embedding)]
        assert len(embeds) == (1 if num_classes else 0)


def test_resnet_32_channel_plan_is_the_papers():
    g = sngan_resnet_generator(128, (32, 32, 3))
    d = sngan_resnet_discriminator((32, 32, 3))
    g_convs = [l.filters for l, _ in _weight_layers(g)
               if isinstance(l, keras.layers.Conv2D)]
    # 3 up-blocks of 256 (conv, conv, shortcut), then the 3x3 conv to RGB.
    assert g_convs == [256] * 9 + [3]
    dense = [l for l, _ in _weight_layers(g)
             if isinstance(l, keras.layers.Dense)][0]
    assert dense.units == 4 * 4 * 256
    d_convs = [l.filters for l, _ in _weight_layers(d)
               if isinstance(l, keras.layers.Conv2D)]
    # Optimized block + 1 down block with shortcuts, 2 blocks without.
    assert d_convs == [128] * 6 + [128] * 4
    pools = [l for l in d.layers
             if isinstance(l, keras.layers.AveragePooling2D)]
    assert len(pools) == 4  # two downsampling blocks: residual + shortcut
    # The same network without SN: same weights, no wrapper, no vectors.
    plain = sngan_resnet_discriminator((32, 32, 3), spectral_norm=False)
    assert not any(sn for _, sn in _weight_layers(plain))
    assert plain.count_params() == sum(
        int(np.prod(v.shape)) for v in d.trainable_weights)


@pytest.mark.multibackend
def test_projection_discriminator_formula(rng):
    d = sngan_resnet_discriminator((32, 32, 1), width=8, num_classes=5)
    x = rng.uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    y = np.array([0, 3, 4, 3], "int32")
    phi_model = keras.Model(d.inputs[0], d.get_layer("global_sum").output)
    phi = numpy_of(phi_model(x))  # [4, 8]
    head = d.get_layer("sn_dense_out")
    embed = d.get_layer("sn_class_embedding")
    w = numpy_of(head.normalized_weight())  # [8, 1]
    b = numpy_of(head.layer.bias)
    e = numpy_of(embed.normalized_weight())  # [5, 8]
    expected = phi @ w + b + np.sum(e[y] * phi, axis=1, keepdims=True)
    logits = numpy_of(d([ops.convert_to_tensor(x), ops.convert_to_tensor(y)]))
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="image_shape"):
        sngan_resnet_generator(128, (40, 40, 3))
    with pytest.raises(ValueError, match="image_shape"):
        sngan_cnn_discriminator((30, 30, 3))
    with pytest.raises(ValueError, match="width"):
        sngan_resnet_discriminator((32, 32, 3), width=0)
    with pytest.raises(ValueError, match="num_classes"):
        sngan_resnet_discriminator((32, 32, 3), num_classes=1)


# ---------------------------------------------------------------------- #
# A short class-conditional run on CIFAR-10 images
# ---------------------------------------------------------------------- #
def _features(images, projection):
    """Fixed random projection of 8x8 average-pooled pixels."""
    n = images.shape[0]
    pooled = images.reshape(n, 8, 4, 8, 4, 3).mean(axis=(2, 4))
    return pooled.reshape(n, -1) @ projection


def frechet_distance(a, b):
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = np.cov(a, rowvar=False)
    cov_b = np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    covmean = np.real(covmean)
    return float(np.sum((mu_a - mu_b) ** 2)
                 + np.trace(cov_a + cov_b - 2.0 * covmean))


@pytest.mark.slow
def test_conditional_sngan_lowers_frechet_distance(cifar10_subset):
    images, labels = cifar10_subset
    images = images.astype("float32")
    labels = labels.astype("int32")
    projection = np.random.default_rng(7).standard_normal(
        (8 * 8 * 3, 32)).astype("float32") / np.sqrt(8 * 8 * 3)
    real = _features(images, projection)

    g = sngan_resnet_generator(64, (32, 32, 3), width=32, num_classes=10)
    d = sngan_resnet_discriminator((32, 32, 3), width=32, num_classes=10)
    gan = GAN(g, d, latent_dim=64, num_classes=10, seed=1)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9),
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9),
        loss="hinge", n_critic=1)

    def fd():
        fake = gan.generate(len(images), seed=3, labels=labels)
        return frechet_distance(real, _features(fake, projection))

    before = fd()
    # 1,600 of the images, batch 32: 50 G steps per epoch, 100 in all.
    history = gan.fit(images[:1600], labels[:1600], batch_size=32, epochs=2,
                      verbose=0)
    after = fd()
    print(f"Frechet distance: {before:.4f} at initialisation, "
          f"{after:.4f} after 100 G steps")
    assert len(history.history["g_loss"]) == 2
    assert int(numpy_of(gan.g_optimizer.iterations)) == 100
    assert after < 0.8 * before, (before, after)

"""ProGAN layers against NumPy references of the paper's formulas."""

import math

import numpy as np
import pytest
from keras import ops

from keras_gan_stable.layers.progan import EqualizedConv2D
from keras_gan_stable.layers.progan import EqualizedDense
from keras_gan_stable.layers.progan import FadeIn
from keras_gan_stable.layers.progan import MinibatchStdDev
from keras_gan_stable.layers.progan import PixelNormalization
from keras_gan_stable.layers.progan import downsample2x
from keras_gan_stable.layers.progan import upsample2x

pytestmark = pytest.mark.multibackend


def _np(x):
    return ops.convert_to_numpy(x)


def _conv_reference(x, w, stride, padding):
    """Direct NumPy cross-correlation with TensorFlow's 'same' padding."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    if padding == "same":
        oh, ow = -(-h // stride), -(-wd // stride)
        ph = max((oh - 1) * stride + kh - h, 0)
        pw = max((ow - 1) * stride + kw - wd, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2),
                       (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, i, j] = np.einsum("nhwc,hwcf->nf", patch, w)
    return out


def test_pixel_normalization_matches_formula(rng):
    x = rng.normal(size=(3, 4, 5, 6)).astype("float32") * 3.0
    y = _np(PixelNormalization()(x))
    ref = x / np.sqrt(np.mean(x.astype("float64") ** 2, axis=-1,
                              keepdims=True) + 1e-8)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.mean(y ** 2, axis=-1)), 1.0,
                               rtol=1e-5)


def test_equalized_dense_scales_unit_weights_at_run_time(rng):
    layer = EqualizedDense(32, gain=math.sqrt(2.0))
    x = rng.normal(size=(5, 64)).astype("float32")
    y = _np(layer(x))
    w = _np(layer.kernel.value)
    # Stored weights are N(0, 1): the He constant is applied in call().
    assert abs(w.std() - 1.0) < 0.1
    layer.bias.assign(np.arange(32, dtype="float32"))
    y = _np(layer(x))
    ref = x @ (w * math.sqrt(2.0) / math.sqrt(64)) + np.arange(32)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size,strides,padding",
                         [(3, 1, "same"), (1, 1, "same"), (4, 1, "valid"),
                          (3, 2, "same")])
def test_equalized_conv_matches_numpy_convolution(rng, kernel_size, strides,
                                                  padding):
    conv = EqualizedConv2D(5, kernel_size, strides=strides, padding=padding,
                           gain=1.7)
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    conv.build(x.shape)
    conv.bias.assign(rng.normal(size=(5,)).astype("float32"))
    y = _np(conv(x))
    w = _np(conv.kernel.value).astype("float64")
    scale = 1.7 / math.sqrt(kernel_size * kernel_size * 3)
    ref = _conv_reference(x.astype("float64"), w * scale, strides, padding)
    ref = ref + _np(conv.bias.value)
    assert y.shape == ref.shape == conv.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def _mbstd_reference(x, group_size):
    """The original implementation's grouping, in NumPy float64."""
    n = x.shape[0]
    g = min(group_size, n)
    y = x.astype("float64").reshape((g, n // g) + x.shape[1:])
    y = y - y.mean(axis=0, keepdims=True)
    y = np.sqrt((y ** 2).mean(axis=0) + 1e-8)          # [M, H, W, C]
    s = y.mean(axis=(1, 2, 3))                          # [M]
    feat = np.tile(s, g)[:, None, None, None] * np.ones(x.shape[:3] + (1,))
    return np.concatenate([x, feat], axis=-1)


@pytest.mark.parametrize("n,group_size", [(8, 4), (4, 4), (6, 8)])
def test_minibatch_stddev_matches_reference(rng, n, group_size):
    x = rng.normal(size=(n, 4, 4, 3)).astype("float32")
    y = _np(MinibatchStdDev(group_size)(x))
    np.testing.assert_allclose(y, _mbstd_reference(x, group_size), rtol=1e-5,
                               atol=1e-6)
    # With one group the statistic is the mean population std over the batch.
    if group_size >= n:
        np.testing.assert_allclose(y[0, 0, 0, -1], x.std(axis=0).mean(),
                                   rtol=1e-5)


def test_minibatch_stddev_rejects_indivisible_batch(rng):
    x = rng.normal(size=(6, 4, 4, 2)).astype("float32")
    with pytest.raises(ValueError, match="multiple of 4"):
        MinibatchStdDev(4)(x)


def test_fade_in_is_exact_at_both_ends_and_linear_between(rng):
    old = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    new = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    fade = FadeIn(alpha=0.0)
    np.testing.assert_array_equal(_np(fade([old, new])), old)
    fade.alpha.assign(1.0)
    np.testing.assert_array_equal(_np(fade([old, new])), new)
    fade.alpha.assign(0.3)
    np.testing.assert_allclose(_np(fade([old, new])), 0.7 * old + 0.3 * new,
                               rtol=1e-6, atol=1e-6)


def test_resampling_matches_numpy(rng):
    x = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    up = _np(upsample2x(x))
    np.testing.assert_array_equal(up, x.repeat(2, axis=1).repeat(2, axis=2))
    down = _np(downsample2x(x))
    ref = x.reshape(2, 2, 2, 2, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(down, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("bad", [
    lambda: EqualizedDense(0),
    lambda: EqualizedConv2D(4, 3, padding="causal"),
    lambda: EqualizedConv2D(4, 0),
    lambda: MinibatchStdDev(group_size=0),
    lambda: FadeIn(alpha=1.5),
    lambda: PixelNormalization(epsilon=-1.0),
])
def test_invalid_arguments_raise_value_error(bad):
    with pytest.raises(ValueError, match="Received"):
        bad()


def test_configs_round_trip():
    layers = [
        PixelNormalization(epsilon=1e-6),
        EqualizedDense(7, gain=1.0, use_bias=False, lr_multiplier=0.5),
        EqualizedConv2D(3, (1, 3), strides=2, padding="valid", gain=1.0),
        MinibatchStdDev(group_size=2, epsilon=1e-6),
        FadeIn(alpha=0.25),
    ]
    for layer in layers:
        config = layer.get_config()
        clone = layer.__class__.from_config(config)
        assert clone.get_config() == config

"""StyleGAN2 layers against NumPy references and analytic properties."""

import numpy as np
import pytest

from keras import ops

from keras_gan_stable.layers.stylegan import FIRDownsample2D
from keras_gan_stable.layers.stylegan import FIRUpsample2D
from keras_gan_stable.layers.stylegan import ModulatedConv2D
from keras_gan_stable.layers.stylegan import NoiseInjection
from keras_gan_stable.layers.stylegan import ToRGB
from keras_gan_stable.layers.stylegan import downsample2d
from keras_gan_stable.layers.stylegan import upsample2d


def np_(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


# ---------------------------------------------------------------- NumPy refs
def np_upfirdn(x, up, down, pad, taps=(1, 3, 3, 1)):
    """upfirdn2d from its definition, one channel at a time: insert up-1
    zeros after each pixel, zero-pad (pad0, pad1), correlate with the
    (symmetric) filter f * up^2, keep every down-th pixel."""
    k = np.asarray(taps, "float64")
    f = np.outer(k, k)
    f = f / f.sum() * up * up
    n, h, w, c = x.shape
    u = np.zeros((n, h * up, w * up, c))
    u[:, ::up, ::up] = x
    u = np.pad(u, ((0, 0), pad, pad, (0, 0)))
    kh = f.shape[0]
    oh, ow = u.shape[1] - kh + 1, u.shape[2] - kh + 1
    out = np.zeros((n, oh, ow, c))
    for i in range(kh):
        for j in range(kh):
            out += f[i, j] * u[:, i:i + oh, j:j + ow]
    return out[:, ::down, ::down]


def np_conv_same(x, k):
    """x [H, W, I], k [kh, kw, I, O] -> [H, W, O], zero 'same' padding."""
    kh = k.shape[0]
    p = kh // 2
    xp = np.pad(x, ((p, kh - 1 - p), (p, kh - 1 - p), (0, 0)))
    h, w = x.shape[:2]
    out = np.zeros((h, w, k.shape[3]))
    for i in range(kh):
        for j in range(kh):
            out += xp[i:i + h, j:j + w] @ k[i, j]
    return out


def np_modconv(layer, x, w, demodulate=True, up=False):
    """The per-sample definition of the paper, in float64."""
    a = np_(layer.affine_kernel) / np.sqrt(w.shape[1])
    s = w.astype("float64") @ a + np_(layer.affine_bias)            # [N, I]
    kernel = np_(layer.kernel)
    kh, _, ci, _ = kernel.shape
    kernel = kernel / np.sqrt(kh * kh * ci)
    if up:
        x = np_upfirdn(x, 2, 1, (2, 1))
    outs = []
    for n in range(x.shape[0]):
        wk = kernel * s[n][None, None, :, None]
        if demodulate:
            wk = wk / np.sqrt((wk ** 2).sum(axis=(0, 1, 2)) + 1e-8)
        outs.append(np_conv_same(x[n], wk) + np_(layer.bias))
    return np.stack(outs)


# ---------------------------------------------------------------- FIR
@pytest.mark.multibackend
def test_fir_resampling_matches_numpy_upfirdn():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 8, 3)).astype("float32")
    # 16 nonzero terms per output: float32 round-off ~ 16 * 1e-7.
    np.testing.assert_allclose(np_(upsample2d(x)), np_upfirdn(x, 2, 1, (2, 1)),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np_(downsample2d(x)),
                               np_upfirdn(x, 1, 2, (1, 1)),
                               rtol=1e-5, atol=1e-5)
    # A constant image keeps its value away from the zero-padded border.
    ones = np.ones((1, 8, 8, 1), "float32")
    np.testing.assert_allclose(np_(upsample2d(ones))[0, 2:-2, 2:-2], 1.0,
                               atol=1e-6)
    np.testing.assert_allclose(np_(downsample2d(ones))[0, 1:-1, 1:-1], 1.0,
                               atol=1e-6)
    assert tuple(FIRUpsample2D()(x).shape) == (2, 16, 16, 3)
    assert tuple(FIRDownsample2D()(x).shape) == (2, 4, 4, 3)


def test_fir_filter_is_validated():
    with pytest.raises(ValueError, match="resample_filter"):
        FIRUpsample2D(resample_filter=[1, -1])
    layer = FIRDownsample2D(resample_filter=[1, 2, 1])
    assert FIRDownsample2D.from_config(layer.get_config()).resample_filter == [
        1.0, 2.0, 1.0]


# ---------------------------------------------------------------- ModConv
def _modconv_inputs(rng, n=3, h=6, c=8, w_dim=5):
    x = rng.standard_normal((n, h, h, c)).astype("float32")
    w = rng.standard_normal((n, w_dim)).astype("float32")
    return x, w


def _randomise(layer, rng):
    for v in layer.weights:
        shape = tuple(v.shape)
        scale = 1.0 if v.path.endswith("kernel") else 0.3
        base = 1.0 if v.path.endswith("affine_bias") else 0.0
        v.assign((base + scale * rng.standard_normal(shape)).astype("float32"))


@pytest.mark.multibackend
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("up,demod", [(False, True), (True, True),
                                      (False, False)])
def test_modulated_conv_paths_equal_per_sample_definition(fused, up, demod):
    rng = np.random.default_rng(1)
    x, w = _modconv_inputs(rng, h=4 if up else 6)
    layer = ModulatedConv2D(7, 3, demodulate=demod, upsample=up, fused=fused)
    layer([x, w])
    _randomise(layer, rng)
    out = np_(layer([x, w]))
    ref = np_modconv(layer, x.astype("float64"), w, demodulate=demod, up=up)
    assert out.shape == ref.shape == (3, 8 if up else 6, 8 if up else 6, 7)
    # Each output sums K = 3*3*8 = 72 products (plus the 72-term
    # demodulation sum): float32 round-off ~ 72 * 1e-7 of the largest term.
    scale = np.abs(ref).max()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.multibackend
def test_fused_and_unfused_paths_agree_and_samples_are_independent():
    rng = np.random.default_rng(2)
    x, w = _modconv_inputs(rng)
    fused = ModulatedConv2D(4, 3, fused=True)
    plain = ModulatedConv2D(4, 3, fused=False)
    fused([x, w])
    plain([x, w])
    _randomise(fused, rng)
    plain.set_weights(fused.get_weights())
    a = np_(fused([x, w]))
    np.testing.assert_allclose(a, np_(plain([x, w])), rtol=1e-5,
                               atol=1e-5 * np.abs(a).max())
    # Sample 0's output ignores the other samples' w (and x).
    w2 = w.copy()
    w2[1:] = rng.standard_normal(w2[1:].shape) * 10
    x2 = x.copy()
    x2[1:] = 0.0
    for layer in (fused, plain):
        base = np_(layer([x, w]))[0]
        np.testing.assert_allclose(np_(layer([x2, w2]))[0], base, rtol=1e-6,
                                   atol=1e-6 * np.abs(base).max())
    assert not np.allclose(np_(fused([x2, w2]))[1], a[1])


def test_demodulation_gives_unit_variance_outputs():
    # x iid N(0, 1): an interior output pixel is sum_k w''_k x_k + b with
    # sum_k w''_k^2 = 1, so over M independent draws its sample variance
    # has mean 1 and std sqrt(2 / M) (Gaussian); 5 sigma with M = 4096.
    rng = np.random.default_rng(3)
    m, c_in, c_out = 4096, 8, 6
    for demod in (True, False):
        layer = ModulatedConv2D(c_out, 3, demodulate=demod, use_bias=False)
        w_one = rng.standard_normal((1, 5)).astype("float32")
        x = rng.standard_normal((m, 3, 3, c_in)).astype("float32")
        w = np.repeat(w_one, m, axis=0)
        layer([x[:2], w[:2]])
        _randomise(layer, rng)
        centre = np_(layer([x, w]))[:, 1, 1, :]             # [M, C_out]
        var = centre.var(axis=0)
        tol = 5 * np.sqrt(2.0 / m)
        if demod:
            np.testing.assert_allclose(var, 1.0, atol=tol)
            np.testing.assert_allclose(centre.mean(axis=0), 0.0,
                                       atol=5 / np.sqrt(m))
            kernels = np_(layer.per_sample_kernels(
                layer.styles(ops.convert_to_tensor(w_one))))
            np.testing.assert_allclose((kernels ** 2).sum(axis=(1, 2, 3)),
                                       1.0, rtol=1e-5)
        else:  # the same layer without demodulation is far from unit
            assert np.abs(var - 1.0).max() > 10 * tol


def test_modulated_conv_initialisation_and_config():
    layer = ModulatedConv2D(4, 3, upsample=True, fused=True)
    x = np.zeros((2, 4, 4, 6), "float32")
    w = np.zeros((2, 10), "float32")
    assert tuple(layer([x, w]).shape) == (2, 8, 8, 4)
    # Style bias starts at 1: with w = 0 every style is exactly 1.
    np.testing.assert_array_equal(np_(layer.styles(ops.convert_to_tensor(w))),
                                  1.0)
    np.testing.assert_array_equal(np_(layer.affine_bias), 1.0)
    assert layer.weight_scale == pytest.approx(1 / np.sqrt(3 * 3 * 6))
    assert layer.affine_scale == pytest.approx(1 / np.sqrt(10))
    # Equalised LR: stored weights are N(0, 1).
    assert 0.8 < np_(layer.kernel).std() < 1.2
    clone = ModulatedConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="filters"):
        ModulatedConv2D(0, 3)
    with pytest.raises(ValueError, match=r"\[x, w\]"):
        ModulatedConv2D(4, 3)(x)


# ---------------------------------------------------------------- Noise
def test_noise_injection():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5, 5, 3)).astype("float32")
    layer = NoiseInjection(seed=1)
    np.testing.assert_array_equal(np_(layer(x)), x)  # strength starts at 0
    strength = np.array([0.5, -1.0, 2.0], "float32")
    layer.strength.assign(strength)
    noise = rng.standard_normal((2, 5, 5, 1)).astype("float32")
    np.testing.assert_allclose(np_(layer(x, noise=noise)),
                               x + noise * strength, rtol=1e-6, atol=1e-6)
    # Random noise: one value per pixel, shared by the channels.
    d = (np_(layer(x)) - x) / strength
    np.testing.assert_allclose(d[..., 0], d[..., 1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d[..., 0], d[..., 2], rtol=1e-5, atol=1e-5)
    assert not np.allclose(np_(layer(x)), np_(layer(x)))  # fresh draws
    assert NoiseInjection.from_config(layer.get_config()).seed == 1


def test_to_rgb_is_modulated_1x1_without_demodulation():
    rng = np.random.default_rng(5)
    x, w = _modconv_inputs(rng, c=6)
    layer = ToRGB(3)
    layer([x, w])
    _randomise(layer, rng)
    ref = np_modconv(layer.conv, x.astype("float64"), w, demodulate=False)
    out = np_(layer([x, w]))
    np.testing.assert_allclose(out, ref, rtol=1e-5,
                               atol=1e-5 * np.abs(ref).max())
    assert ToRGB.from_config(layer.get_config()).channels == 3

"""PSNR and SSIM against `skimage.metrics` on random images."""

import numpy as np
import pytest

from keras_gan_stable import psnr, ssim
from reference.torch_nets import to_numpy

metrics = pytest.importorskip("skimage.metrics")


def _pair(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, shape).astype("float32")
    y = np.clip(x + 0.3 * rng.standard_normal(shape), -1, 1).astype("float32")
    return x, y


def test_psnr_and_ssim_match_skimage():
    x, y = _pair((3, 16, 12, 3), 0)
    # Reductions over <= 576 float32 terms: 1e-4 relative is the bound.
    ref = [metrics.peak_signal_noise_ratio(a, b, data_range=2.0)
           for a, b in zip(x, y)]
    np.testing.assert_allclose(to_numpy(psnr(x, y)), ref, rtol=1e-5)
    ref = [metrics.structural_similarity(a, b, data_range=2.0,
                                         channel_axis=-1)
           for a, b in zip(x, y)]
    np.testing.assert_allclose(to_numpy(ssim(x, y)), ref, rtol=1e-4,
                               atol=1e-5)
    ref = [metrics.structural_similarity(a, b, data_range=2.0,
                                         channel_axis=-1,
                                         gaussian_weights=True, sigma=1.5)
           for a, b in zip(x, y)]
    np.testing.assert_allclose(to_numpy(ssim(x, y, gaussian=True)), ref,
                               rtol=1e-4, atol=1e-5)


def test_known_values_and_errors():
    x, _ = _pair((2, 8, 8, 1), 1)
    np.testing.assert_allclose(to_numpy(ssim(x, x)), 1.0, rtol=1e-5)
    # A constant offset d on data range R: PSNR = 20 log10(R / d).
    np.testing.assert_allclose(to_numpy(psnr(x, x + 0.02)),
                               20 * np.log10(2.0 / 0.02), rtol=1e-4)
    x8, y8 = _pair((2, 8, 8, 1), 2)
    ref = metrics.structural_similarity(x8[0, :, :, 0] * 127.5,
                                        y8[0, :, :, 0] * 127.5,
                                        data_range=255.0)
    np.testing.assert_allclose(
        to_numpy(ssim(x8 * 127.5, y8 * 127.5, data_range=255.0))[0], ref,
        rtol=1e-4)
    with pytest.raises(ValueError, match="same shape"):
        psnr(x, x[:, :4])
    with pytest.raises(ValueError, match="win_size"):
        ssim(x, x, win_size=9)

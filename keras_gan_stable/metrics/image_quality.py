"""Full-reference image quality: PSNR and SSIM, per image, in `keras.ops`.

Both take batches `[N, H, W, C]` (NumPy or backend tensors) and return one
value per image `[N]`, so they serve as training metrics and in benchmarks.
The defaults follow `skimage.metrics` (`peak_signal_noise_ratio`,
`structural_similarity` with its defaults: a 7x7 uniform window, K1 = 0.01,
K2 = 0.03, sample covariances, the mean over the valid window positions and
over channels); `gaussian=True` gives Wang et al.'s 11x11 Gaussian window of
sigma 1.5.
"""

import numpy as np
from keras import ops


def _as_float(x):
    return ops.cast(ops.convert_to_tensor(x), "float32")


def _check_pair(x, y, name):
    sx, sy = tuple(x.shape), tuple(y.shape)
    if len(sx) != 4 or sx != sy:
        raise ValueError(
            f"{name} compares two batches of the same shape [N, H, W, C]. "
            f"Received shapes {sx} and {sy}."
        )


def psnr(x, y, data_range=2.0):
    """Peak signal-to-noise ratio in dB, per image: `10 log10(R^2 / MSE)`.

    Args:
        x, y: `[N, H, W, C]` images.
        data_range: float. Span of the values (2.0 for [-1, 1], 1.0 for
            [0, 1], 255 for uint8). Defaults to `2.0`.
    """
    x, y = _as_float(x), _as_float(y)
    _check_pair(x, y, "psnr")
    mse = ops.mean(ops.square(x - y), axis=(1, 2, 3))
    return 10.0 * ops.log(float(data_range) ** 2 / mse) / np.log(10.0)


def _window(win_size, gaussian, sigma):
    if gaussian:
        r = np.arange(win_size) - (win_size - 1) / 2
        g = np.exp(-(r ** 2) / (2 * sigma ** 2))
        w = np.outer(g, g)
    else:
        w = np.ones((win_size, win_size))
    return (w / w.sum()).astype("float32")


def ssim(x, y, data_range=2.0, win_size=None, gaussian=False, sigma=1.5,
         k1=0.01, k2=0.03):
    """Structural similarity (Wang et al. 2004), per image.

    Local means, variances and the covariance come from a sliding window
    (valid positions only), with the sample (N - 1) normalisation that
    `skimage.metrics.structural_similarity` uses by default; the SSIM map is
    averaged over positions and channels.

    Args:
        x, y: `[N, H, W, C]` images, `H, W >= win_size`.
        data_range: float. Span of the values. Defaults to `2.0`.
        win_size: odd int. Defaults to 7 (11 with `gaussian=True`).
        gaussian: bool. Gaussian window of std `sigma`. Defaults to `False`.
    """
    x, y = _as_float(x), _as_float(y)
    _check_pair(x, y, "ssim")
    if win_size is None:
        win_size = 11 if gaussian else 7
    win_size = int(win_size)
    if win_size < 3 or win_size % 2 == 0 or win_size > min(x.shape[1:3]):
        raise ValueError(
            "`win_size` should be an odd integer >= 3 and at most the image "
            f"height and width {tuple(x.shape[1:3])}. Received: "
            f"`win_size={win_size}`"
        )
    c = x.shape[-1]
    w = _window(win_size, gaussian, sigma)
    kernel = ops.convert_to_tensor(
        np.tile(w[:, :, None, None], (1, 1, c, 1)))      # [k, k, C, 1]

    def filt(t):
        return ops.depthwise_conv(t, kernel, strides=1, padding="valid")

    n_px = win_size * win_size
    cov_norm = n_px / (n_px - 1.0)
    ux, uy = filt(x), filt(y)
    vx = cov_norm * (filt(x * x) - ux * ux)
    vy = cov_norm * (filt(y * y) - uy * uy)
    vxy = cov_norm * (filt(x * y) - ux * uy)
    c1 = (k1 * float(data_range)) ** 2
    c2 = (k2 * float(data_range)) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / (
        (ux * ux + uy * uy + c1) * (vx + vy + c2))
    return ops.mean(s, axis=(1, 2, 3))

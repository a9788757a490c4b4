"""Layers of StyleGAN2 (Karras et al. 2020): modulated convolution, noise
inputs, toRGB, and FIR (`[1, 3, 3, 1]`) up/down-sampling.

Images and feature maps are channels-last `[N, H, W, C]`. All math goes
through `keras.ops`, so the layers run on TensorFlow, JAX and PyTorch.

FIR resampling (the `upfirdn2d` of the reference code, written with a
depthwise convolution): with the separable, normalised filter `f = k k^T /
sum(k)^2`,

- `upsample2d(x)`: insert a zero after every pixel (`[N, 2H, 2W, C]`), pad
  `(2, 1)` per spatial axis, convolve with `4 f` (the gain 4 keeps the
  mean: three of four inserted pixels are zeros);
- `downsample2d(x)`: pad `(1, 1)`, convolve with `f` at stride 2.

Both equal the reference's `upsample2d` / `downsample2d` for the 4-tap
filter (`tests/test_stylegan2_layers.py` checks them against NumPy).
"""

import math

import numpy as np
import keras
from keras import ops

__all__ = [
    "fir_filter",
    "upsample2d",
    "downsample2d",
    "FIRUpsample2D",
    "FIRDownsample2D",
    "ModulatedConv2D",
    "NoiseInjection",
    "ToRGB",
]

_DEFAULT_FILTER = (1, 3, 3, 1)


def fir_filter(taps=_DEFAULT_FILTER):
    """The normalised separable 2D filter `k k^T / sum(k)^2`, `[kh, kw]`."""
    k = np.asarray(taps, dtype="float64")
    if k.ndim != 1 or k.size < 1 or not np.all(np.isfinite(k)) or k.sum() == 0:
        raise ValueError(
            "`resample_filter` should be a 1D list of taps with a nonzero sum, "
            f"such as [1, 3, 3, 1]. Received: `resample_filter={taps!r}`"
        )
    f = np.outer(k, k)
    return (f / f.sum()).astype("float32")


def _depthwise_fir(x, f, stride):
    c = x.shape[-1]
    kernel = np.tile(f[:, :, None, None], (1, 1, int(c), 1))  # [kh, kw, C, 1]
    return ops.depthwise_conv(x, ops.cast(kernel, x.dtype), strides=stride,
                              padding="valid")


def upsample2d(x, taps=_DEFAULT_FILTER):
    """FIR 2x upsampling `[N, H, W, C] -> [N, 2H, 2W, C]`."""
    f = fir_filter(taps)
    kw = f.shape[0]
    _, h, w, c = x.shape
    x = ops.reshape(x, (-1, h, 1, w, 1, c))
    x = ops.pad(x, [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]])
    x = ops.reshape(x, (-1, 2 * h, 2 * w, c))                # zeros inserted
    p0, p1 = (kw + 1) // 2, (kw - 2) // 2                    # (2, 1) for 4 taps
    x = ops.pad(x, [[0, 0], [p0, p1], [p0, p1], [0, 0]])
    return _depthwise_fir(x, f * 4.0, 1)


def downsample2d(x, taps=_DEFAULT_FILTER):
    """FIR 2x downsampling `[N, H, W, C] -> [N, H/2, W/2, C]`."""
    f = fir_filter(taps)
    kw = f.shape[0]
    p0, p1 = (kw - 1) // 2, (kw - 2) // 2                    # (1, 1) for 4 taps
    x = ops.pad(x, [[0, 0], [p0, p1], [p0, p1], [0, 0]])
    return _depthwise_fir(x, f, 2)


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(
            f"`{name}` should be an integer >= {minimum}. Received: "
            f"`{name}={value!r}`"
        )
    return int(value)


def _check_taps(taps):
    fir_filter(taps)
    return [float(t) for t in taps]


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class FIRUpsample2D(keras.layers.Layer):
    """FIR 2x upsampling (`[1, 3, 3, 1]` by default) as a layer.

    Args:
        resample_filter: list of taps of the separable filter. Defaults to
            `[1, 3, 3, 1]`.

    >>> y = FIRUpsample2D()(keras.random.normal((2, 4, 4, 3)))  # [2, 8, 8, 3]
    """

    def __init__(self, resample_filter=_DEFAULT_FILTER, **kwargs):
        super().__init__(**kwargs)
        self.resample_filter = _check_taps(resample_filter)

    def call(self, inputs):
        return upsample2d(inputs, self.resample_filter)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else 2 * h, None if w is None else 2 * w,
                c)

    def get_config(self):
        return {**super().get_config(),
                "resample_filter": self.resample_filter}


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class FIRDownsample2D(keras.layers.Layer):
    """FIR 2x downsampling (`[1, 3, 3, 1]` by default) as a layer.

    Args:
        resample_filter: list of taps of the separable filter. Defaults to
            `[1, 3, 3, 1]`.

    >>> y = FIRDownsample2D()(keras.random.normal((2, 8, 8, 3)))  # [2,4,4,3]
    """

    def __init__(self, resample_filter=_DEFAULT_FILTER, **kwargs):
        super().__init__(**kwargs)
        self.resample_filter = _check_taps(resample_filter)

    def call(self, inputs):
        return downsample2d(inputs, self.resample_filter)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h // 2, None if w is None else w // 2,
                c)

    def get_config(self):
        return {**super().get_config(),
                "resample_filter": self.resample_filter}


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class ModulatedConv2D(keras.layers.Layer):
    """StyleGAN2's modulated convolution, called as `layer([x, w])`.

    A learned affine map turns the latent `w` `[N, w_dim]` into per-sample
    styles `s = A w + b` `[N, C_in]` (`b` initialised to 1, so styles start
    at one). Each sample gets its own kernel

        W'[n, kh, kw, i, o] = W[kh, kw, i, o] * s[n, i]
        W''[n, ..., o] = W'[n, ..., o] / sqrt(sum_{kh, kw, i} W'^2 + 1e-8)

    (demodulation, the second line, restores unit output variance for unit
    input variance). Weights are stored N(0, 1) and scaled at run time by
    `1 / sqrt(fan_in)` (equalised learning rate), the affine's by
    `1 / sqrt(w_dim)`.

    Two computations of the same function:
    - `fused=True`: one grouped convolution whose `N` groups carry the
      per-sample kernels (the reference's `fused_modconv`);
    - `fused=False`: scale the input channels by `s`, convolve with the
      shared `W`, scale the output channels by the demodulation factors
      (cheaper on CPUs; the reference's training path).

    Args:
        filters: int. Output channels.
        kernel_size: int. Square kernel size (3 in StyleGAN2, 1 in toRGB).
        demodulate: bool. Apply weight demodulation. Defaults to `True`.
        upsample: bool. FIR-upsample the input by 2 before the convolution.
            Defaults to `False`.
        fused: bool. Use the grouped-convolution path. Defaults to `False`.
        use_bias: bool. Add a per-channel bias (initialised to 0) to the
            output. Defaults to `True`.
        resample_filter: list of FIR taps used by `upsample`. Defaults to
            `[1, 3, 3, 1]`.

    >>> conv = ModulatedConv2D(32, 3)
    >>> y = conv([keras.random.normal((2, 8, 8, 16)),
    ...           keras.random.normal((2, 64))])          # [2, 8, 8, 32]

    Reference:
        Karras et al., "Analyzing and Improving the Image Quality of
        StyleGAN", CVPR 2020, section 2.2.
    """

    def __init__(self, filters, kernel_size, demodulate=True, upsample=False,
                 fused=False, use_bias=True, resample_filter=_DEFAULT_FILTER,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = _check_int("filters", filters)
        self.kernel_size = _check_int("kernel_size", kernel_size)
        self.demodulate = bool(demodulate)
        self.upsample = bool(upsample)
        self.fused = bool(fused)
        self.use_bias = bool(use_bias)
        self.resample_filter = _check_taps(resample_filter)

    def build(self, input_shape):
        if not (isinstance(input_shape, (list, tuple)) and len(input_shape) == 2
                and isinstance(input_shape[0], (list, tuple))):
            raise ValueError(
                "ModulatedConv2D is called on `[x, w]` (features "
                "`[N, H, W, C]` and latents `[N, w_dim]`). Received input "
                f"shape: {input_shape!r}"
            )
        x_shape, w_shape = input_shape
        c_in, w_dim = int(x_shape[-1]), int(w_shape[-1])
        k = self.kernel_size
        self.affine_scale = 1.0 / math.sqrt(w_dim)
        self.weight_scale = 1.0 / math.sqrt(k * k * c_in)
        self.affine_kernel = self.add_weight(
            shape=(w_dim, c_in), name="affine_kernel",
            initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.affine_bias = self.add_weight(
            shape=(c_in,), name="affine_bias", initializer="ones")
        self.kernel = self.add_weight(
            shape=(k, k, c_in, self.filters), name="kernel",
            initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                        initializer="zeros")

    def styles(self, w):
        """Per-sample styles `s = A w + b`, `[N, C_in]`."""
        a = ops.cast(self.affine_kernel * self.affine_scale, w.dtype)
        return ops.matmul(w, a) + ops.cast(self.affine_bias, w.dtype)

    def per_sample_kernels(self, s):
        """Modulated (and demodulated) kernels `[N, k, k, C_in, C_out]`."""
        kernel = ops.cast(self.kernel * self.weight_scale, s.dtype)
        wk = kernel[None] * s[:, None, None, :, None]
        if self.demodulate:
            wk = wk * ops.rsqrt(
                ops.sum(ops.square(wk), axis=(1, 2, 3), keepdims=True) + 1e-8)
        return wk

    def call(self, inputs):
        x, w = inputs
        s = self.styles(ops.cast(w, x.dtype))                  # [N, C_in]
        if self.upsample:
            x = upsample2d(x, self.resample_filter)
        _, h, wd, c = x.shape
        if self.fused:
            wk = self.per_sample_kernels(s)                   # [N, k, k, C, O]
            k = self.kernel_size
            o = self.filters
            # Sample n's channels become group n: [1, H, W, N * C].
            xg = ops.reshape(ops.transpose(x, (1, 2, 0, 3)), (1, h, wd, -1))
            kg = ops.reshape(ops.transpose(wk, (1, 2, 3, 0, 4)), (k, k, c, -1))
            y = ops.conv(xg, kg, padding="same")              # [1, H, W, N * O]
            y = ops.transpose(ops.reshape(y, (h, wd, -1, o)), (2, 0, 1, 3))
        else:
            kernel = ops.cast(self.kernel * self.weight_scale, x.dtype)
            y = ops.conv(x * s[:, None, None, :], kernel, padding="same")
            if self.demodulate:
                # sum_{k,i} (W s_i)^2 = sum_i s_i^2 sum_k W^2   [N, O]
                d = ops.rsqrt(ops.matmul(
                    ops.square(s), ops.sum(ops.square(kernel), axis=(0, 1)))
                    + 1e-8)
                y = y * d[:, None, None, :]
        if self.bias is not None:
            y = y + ops.cast(self.bias, y.dtype)
        return y

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape[0]
        f = 2 if self.upsample else 1
        return (n, None if h is None else f * h, None if w is None else f * w,
                self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "demodulate": self.demodulate,
            "upsample": self.upsample,
            "fused": self.fused,
            "use_bias": self.use_bias,
            "resample_filter": self.resample_filter,
        }


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class NoiseInjection(keras.layers.Layer):
    """Adds per-pixel Gaussian noise scaled by a learned per-channel strength.

    `y[n, h, w, c] = x[n, h, w, c] + strength[c] * noise[n, h, w]`, one
    noise value per pixel shared by all channels; `strength` starts at 0.
    The noise is drawn from the layer's own seed stream, or given as
    `layer(x, noise=...)` (`[N, H, W, 1]`) to make a call reproducible.

    Args:
        seed: int or `None`. Seed of the noise stream. Defaults to `None`.

    >>> y = NoiseInjection()(keras.random.normal((2, 8, 8, 16)))

    Reference:
        Karras et al., "A Style-Based Generator Architecture for Generative
        Adversarial Networks", CVPR 2019, section 3.2.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.strength = self.add_weight(
            shape=(int(input_shape[-1]),), name="strength",
            initializer="zeros")

    def call(self, inputs, noise=None):
        if noise is None:
            shape = ops.shape(inputs)
            noise = keras.random.normal((shape[0], shape[1], shape[2], 1),
                                        seed=self.seed_generator,
                                        dtype=inputs.dtype)
        noise = ops.cast(noise, inputs.dtype)
        return inputs + noise * ops.cast(self.strength, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class ToRGB(keras.layers.Layer):
    """StyleGAN2's toRGB: a modulated 1x1 convolution without demodulation.

    Called as `layer([x, w])`; returns `[N, H, W, channels]` (plus bias).

    Args:
        channels: int. Image channels (3 for RGB, 1 for grey).
        fused: bool. Grouped-convolution path of the modulated convolution.
            Defaults to `False`.

    >>> rgb = ToRGB(3)([keras.random.normal((2, 8, 8, 16)),
    ...                 keras.random.normal((2, 64))])     # [2, 8, 8, 3]

    Reference:
        Karras et al., "Analyzing and Improving the Image Quality of
        StyleGAN", CVPR 2020, figure 7 (skip generator).
    """

    def __init__(self, channels, fused=False, **kwargs):
        super().__init__(**kwargs)
        self.channels = _check_int("channels", channels)
        self.fused = bool(fused)
        self.conv = ModulatedConv2D(self.channels, 1, demodulate=False,
                                    fused=self.fused, name="conv")

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, inputs):
        return self.conv(inputs)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels,
                "fused": self.fused}

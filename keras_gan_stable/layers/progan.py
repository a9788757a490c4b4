"""Layers of progressive growing (ProGAN, Karras et al. 2018).

`PixelNormalization`, `EqualizedDense` and `EqualizedConv2D` (equalised
learning rate: weights drawn from N(0, 1) and scaled by the He constant at
run time), `MinibatchStdDev`, the `FadeIn` blend that carries the fade-in
weight alpha, and the nearest-upsampling / average-pool resampling used by
the ProGAN networks and the real-image fade.
"""

import math

import keras
from keras import ops


def upsample2x(x):
    """Nearest-neighbour upsampling by 2: `[N, H, W, C] -> [N, 2H, 2W, C]`."""
    return ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)


def downsample2x(x):
    """2x2 average pooling: `[N, H, W, C] -> [N, H/2, W/2, C]`."""
    return ops.average_pool(x, pool_size=2, strides=2, padding="valid")


def resample(x, steps):
    """Upsamples (`steps > 0`) or downsamples (`steps < 0`) by `2**|steps|`.

    One 2x step at a time, so a chain of calls is bitwise identical to one
    call with the summed steps (the ProGAN fades rely on it).
    """
    for _ in range(max(steps, 0)):
        x = upsample2x(x)
    for _ in range(max(-steps, 0)):
        x = downsample2x(x)
    return x


def _check_positive(name, value, kind=float):
    try:
        ok = kind(value) > 0 and not isinstance(value, bool)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"`{name}` should be a positive {kind.__name__}. Received: "
            f"`{name}={value!r}`"
        )
    return kind(value)


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class PixelNormalization(keras.layers.Layer):
    """Pixelwise feature normalisation: each feature vector to unit RMS.

    `y[n, h, w, :] = x[n, h, w, :] / sqrt(mean(x[n, h, w, :]**2) + epsilon)`
    over the last axis. ProGAN's generator applies it after every
    convolution (and to the latent vector) instead of batch normalisation,
    which keeps signal magnitudes from escalating when G and D compete.

    Args:
        epsilon: float. Added inside the square root. Defaults to `1e-8`.

    >>> layer = PixelNormalization()
    >>> y = layer(keras.random.normal((2, 4, 4, 8)))  # unit RMS per pixel

    Reference:
        Karras et al., "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018, section 4.2.
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = _check_positive("epsilon", epsilon)

    def call(self, inputs):
        # In float32: under a mixed policy the squares overflow float16
        # beyond |x| = 256, and epsilon = 1e-8 underflows to 0 in float16.
        x = ops.cast(inputs, "float32")
        inv = ops.rsqrt(
            ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon)
        return ops.cast(x * inv, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class EqualizedDense(keras.layers.Layer):
    """A dense layer with an equalised learning rate.

    The kernel is stored with unit variance (drawn from N(0, 1)) and
    multiplied at run time by the He constant `gain / sqrt(fan_in)`. Every
    weight then has the same dynamic range, so adaptive optimizers (Adam,
    RMSProp) update all layers at the same effective speed.

    Args:
        units: int. Output features.
        gain: float. Gain of the He constant. Defaults to `sqrt(2)` (for
            leaky ReLU); use `1.0` for a linear output layer.
        use_bias: bool. Whether to add a bias (initialised to zero).
            Defaults to `True`.
        lr_multiplier: float. Scales the stored weights' initial range down
            and the run-time constant up by the same factor, which slows
            the layer's effective learning rate by it. Defaults to `1.0`.

    >>> layer = EqualizedDense(64)
    >>> y = layer(keras.random.normal((8, 128)))  # [8, 64]

    Reference:
        Karras et al., "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018, section 4.1.
    """

    def __init__(self, units, gain=math.sqrt(2.0), use_bias=True,
                 lr_multiplier=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_positive("units", units, int)
        self.gain = _check_positive("gain", gain)
        self.use_bias = bool(use_bias)
        self.lr_multiplier = _check_positive("lr_multiplier", lr_multiplier)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.scale = self.gain / math.sqrt(fan_in) * self.lr_multiplier
        self.kernel = self.add_weight(
            shape=(fan_in, self.units), name="kernel",
            initializer=keras.initializers.RandomNormal(
                0.0, 1.0 / self.lr_multiplier))
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), name="bias",
                                        initializer="zeros")

    def call(self, inputs):
        kernel = ops.cast(self.kernel * self.scale, inputs.dtype)
        out = ops.matmul(inputs, kernel)
        if self.bias is not None:
            out = out + ops.cast(self.bias * self.lr_multiplier, out.dtype)
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "gain": self.gain,
            "use_bias": self.use_bias,
            "lr_multiplier": self.lr_multiplier,
        }


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class EqualizedConv2D(keras.layers.Layer):
    """A 2D convolution with an equalised learning rate (channels last).

    The kernel `[kh, kw, c_in, filters]` is stored with unit variance and
    multiplied at run time by `gain / sqrt(kh * kw * c_in)`.

    Args:
        filters: int. Output channels.
        kernel_size: int or tuple of 2 ints.
        strides: int. Defaults to `1`.
        padding: `"same"` or `"valid"`. Defaults to `"same"`.
        gain: float. Gain of the He constant. Defaults to `sqrt(2)`; ProGAN's
            toRGB layers use `1.0`.
        use_bias: bool. Defaults to `True`.

    >>> conv = EqualizedConv2D(32, 3)
    >>> y = conv(keras.random.normal((2, 8, 8, 16)))  # [2, 8, 8, 32]

    Reference:
        Karras et al., "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018, section 4.1.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="same",
                 gain=math.sqrt(2.0), use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.filters = _check_positive("filters", filters, int)
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size, kernel_size)
        kernel_size = tuple(kernel_size)
        if len(kernel_size) != 2 or any(
                not isinstance(k, int) or k < 1 for k in kernel_size):
            raise ValueError(
                "`kernel_size` should be a positive int or a tuple of two. "
                f"Received: `kernel_size={kernel_size!r}`"
            )
        self.kernel_size = kernel_size
        self.strides = _check_positive("strides", strides, int)
        if padding not in ("same", "valid"):
            raise ValueError(
                "`padding` should be 'same' or 'valid'. Received: "
                f"`padding={padding!r}`"
            )
        self.padding = padding
        self.gain = _check_positive("gain", gain)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        c_in = int(input_shape[-1])
        kh, kw = self.kernel_size
        self.scale = self.gain / math.sqrt(kh * kw * c_in)
        self.kernel = self.add_weight(
            shape=(kh, kw, c_in, self.filters), name="kernel",
            initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                        initializer="zeros")

    def call(self, inputs):
        kernel = ops.cast(self.kernel * self.scale, inputs.dtype)
        out = ops.conv(inputs, kernel, strides=self.strides,
                       padding=self.padding)
        if self.bias is not None:
            out = out + ops.cast(self.bias, out.dtype)
        return out

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        kh, kw = self.kernel_size
        s = self.strides

        def size(d, k):
            if d is None:
                return None
            if self.padding == "same":
                return (d + s - 1) // s
            return (d - k) // s + 1

        return (n, size(h, kh), size(w, kw), self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "gain": self.gain,
            "use_bias": self.use_bias,
        }


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the minibatch standard deviation as one more feature map.

    The batch is split into groups of `group_size` samples (sample `n` goes
    to group column `n mod (N / group_size)`, as in the original code); for
    each group the standard deviation of every feature over its members is
    averaged over features and pixels into one number, which is tiled into
    an extra channel of every member. D can then tell a batch of generated
    images that lacks variation from a real one.

    The batch size must be a multiple of `min(group_size, batch_size)`.

    Args:
        group_size: int. Samples per group. Defaults to `4`.
        epsilon: float. Added to the variance before the square root.
            Defaults to `1e-8`.

    >>> y = MinibatchStdDev()(keras.random.normal((8, 4, 4, 16)))  # [8,4,4,17]

    Reference:
        Karras et al., "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018, section 3.
    """

    def __init__(self, group_size=4, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.group_size = _check_positive("group_size", group_size, int)
        self.epsilon = _check_positive("epsilon", epsilon)

    def call(self, inputs):
        shape = ops.shape(inputs)
        n, h, w, c = shape[0], shape[1], shape[2], shape[3]
        if isinstance(n, int):
            g = min(self.group_size, n)
            if n % g:
                raise ValueError(
                    f"MinibatchStdDev with `group_size={self.group_size}` "
                    f"needs a batch size that is a multiple of {g}. Received "
                    f"a batch of {n}. Change the batch size or the group size."
                )
        else:
            g = ops.minimum(self.group_size, n)
        x = ops.cast(inputs, "float32")
        y = ops.reshape(x, (g, -1, h, w, c))                # [G, M, H, W, C]
        y = y - ops.mean(y, axis=0, keepdims=True)
        y = ops.sqrt(ops.mean(ops.square(y), axis=0) + self.epsilon)
        y = ops.mean(y, axis=(1, 2, 3), keepdims=True)      # [M, 1, 1, 1]
        y = ops.tile(y, (g, h, w, 1))                       # [N, H, W, 1]
        return ops.concatenate([inputs, ops.cast(y, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        c = input_shape[-1]
        return tuple(input_shape[:-1]) + (None if c is None else c + 1,)

    def get_config(self):
        return {
            **super().get_config(),
            "group_size": self.group_size,
            "epsilon": self.epsilon,
        }


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class FadeIn(keras.layers.Layer):
    """Blends two inputs: `(1 - alpha) * old + alpha * new`.

    `alpha` is a non-trainable scalar variable of the layer, so changing it
    (`layer.alpha.assign(a)`, typically from a callback every batch) never
    retraces a compiled function. The output is exactly `old` at
    `alpha = 0` and exactly `new` at `alpha = 1`.

    Args:
        alpha: float in [0, 1]. Initial blend weight. Defaults to `1.0`.

    >>> fade = FadeIn(alpha=0.25)
    >>> y = fade([upsampled_old_rgb, new_rgb])

    Reference:
        Karras et al., "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018, figure 2.
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        try:
            alpha = float(alpha)
        except (TypeError, ValueError):
            alpha = float("nan")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(
                f"`alpha` should be in [0, 1]. Received: `alpha={alpha!r}`"
            )
        self.initial_alpha = alpha
        self.alpha = self.add_weight(
            shape=(), name="alpha", trainable=False,
            initializer=keras.initializers.Constant(alpha))
        self.built = True

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        old, new = inputs
        a = ops.cast(self.alpha, new.dtype)
        return (1.0 - a) * old + a * new

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "alpha": self.initial_alpha}

"""StyleGAN2 networks: mapping + skip synthesis generator, residual discriminator.

Generator (Karras et al. 2020, configuration F / skip generator):

- mapping: `z` normalised to unit second moment (and, with `num_classes`,
  concatenated with a normalised embedding of the label), then
  `mapping_layers` equalised dense layers with learning-rate multiplier
  0.01 and `lrelu(0.2) * sqrt(2)`, giving `w` `[N, w_dim]`. The mapping
  tracks `w_avg`, the moving average of `w` that truncation pulls toward;
  the `StyleGAN2` model updates it during training
  (`w_avg <- mean(w) + 0.995 (w_avg - mean(w))`).
- synthesis: a learned constant `[4, 4, C]`; per resolution a modulated 3x3
  convolution (upsampling from 8x8 on), noise, bias, `lrelu * sqrt(2)`, a
  second one, and a toRGB whose output is added to the FIR-upsampled image
  of the previous resolution. It takes `ws` `[N, num_ws, w_dim]`,
  `num_ws = 2 log2(resolution) - 2`: layer `i` reads `ws[:, i]` (a toRGB
  shares the index of the next block's first convolution).

Discriminator (residual): fromRGB 1x1, then per resolution down to 8x8 a
block `x <- (down(conv1x1(x)) + down-conv(conv(x))) / sqrt(2)` with FIR
downsampling; at 4x4 the minibatch standard deviation (group 4), a 3x3
convolution, a dense layer and the output. With `num_classes`, the output
is projection-conditioned: `out(h) + <embed(y), h'> / sqrt(cmap_dim)`.

All weights use the equalised learning rate (`EqualizedConv2D`,
`EqualizedDense` from the ProGAN layers with gain `sqrt(2)` before a leaky
ReLU); the upsampling convolution is "FIR-upsample, then 3x3 convolution",
the downsampling one "3x3 convolution, FIR-downsample" (the reference fuses
these with a strided/transposed convolution and a blur; the function
differs only at the borders).
"""

import math

import numpy as np
import keras
from keras import ops

from keras_gan_stable.layers.progan import EqualizedConv2D
from keras_gan_stable.layers.progan import EqualizedDense
from keras_gan_stable.layers.progan import MinibatchStdDev
from keras_gan_stable.layers.stylegan import FIRDownsample2D
from keras_gan_stable.layers.stylegan import ModulatedConv2D
from keras_gan_stable.layers.stylegan import NoiseInjection
from keras_gan_stable.layers.stylegan import ToRGB
from keras_gan_stable.layers.stylegan import upsample2d

__all__ = [
    "StyleGAN2Mapping",
    "StyleGAN2Synthesis",
    "StyleGAN2Generator",
    "stylegan2_generator",
    "stylegan2_discriminator",
]

_SQRT2 = math.sqrt(2.0)


def _check_resolution(resolution):
    ok = (isinstance(resolution, (int, np.integer)) and not isinstance(
        resolution, bool) and resolution >= 8
        and (resolution & (resolution - 1)) == 0)
    if not ok:
        raise ValueError(
            "`resolution` should be a power of two >= 8 (StyleGAN2 is built "
            f"for 32 to 256 px). Received: `resolution={resolution!r}`"
        )
    return int(resolution)


def _channels(res, channel_base, channel_max):
    return max(1, min(int(channel_base) // res, int(channel_max)))


def _normalize_2nd_moment(x, eps=1e-8):
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + eps)


def _lrelu(x):
    return ops.leaky_relu(x, 0.2) * _SQRT2


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class StyleGAN2Mapping(keras.layers.Layer):
    """The mapping network `z (, label) -> w`, with the tracked `w_avg`.

    Args:
        latent_dim: int. Size of `z`.
        w_dim: int. Size of `w`.
        num_layers: int. Dense layers. Defaults to `8`.
        num_classes: int or `None`. Label embedding for conditional models.
        lr_multiplier: float. Learning-rate multiplier of the dense layers.
            Defaults to `0.01`.
        w_avg_beta: float. Decay of `w_avg`. Defaults to `0.995`.
    """

    def __init__(self, latent_dim, w_dim, num_layers=8, num_classes=None,
                 lr_multiplier=0.01, w_avg_beta=0.995, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.w_dim = int(w_dim)
        self.num_layers = int(num_layers)
        if self.num_layers < 1:
            raise ValueError(
                "`mapping_layers` should be >= 1. Received: "
                f"`mapping_layers={num_layers!r}`"
            )
        self.num_classes = None if num_classes is None else int(num_classes)
        self.lr_multiplier = float(lr_multiplier)
        self.w_avg_beta = float(w_avg_beta)
        self.embed = None
        if self.num_classes:
            self.embed = EqualizedDense(self.w_dim, gain=1.0, name="embed")
        self.dense = [
            EqualizedDense(self.w_dim, gain=1.0,
                           lr_multiplier=self.lr_multiplier, name=f"fc{i}")
            for i in range(self.num_layers)
        ]

    def build(self, input_shape=None):
        width = self.latent_dim
        if self.embed is not None:
            self.embed.build((None, self.num_classes))
            width += self.w_dim
        for layer in self.dense:
            layer.build((None, width))
            width = self.w_dim
        self.w_avg = self.add_weight(shape=(self.w_dim,), name="w_avg",
                                     initializer="zeros", trainable=False)

    def call(self, z, labels=None):
        x = _normalize_2nd_moment(ops.cast(z, "float32"))
        if self.embed is not None:
            if labels is None:
                raise ValueError(
                    "This mapping network is conditional (`num_classes="
                    f"{self.num_classes}`): call it with labels."
                )
            y = ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"),
                            self.num_classes)
            x = ops.concatenate(
                [x, _normalize_2nd_moment(self.embed(y))], axis=-1)
        for layer in self.dense:
            x = _lrelu(layer(x))
        return x

    def update_w_avg(self, w):
        """`w_avg <- mean(w) + beta (w_avg - mean(w))` (no gradient)."""
        m = ops.stop_gradient(ops.mean(ops.cast(w, "float32"), axis=0))
        self.w_avg.assign(m + self.w_avg_beta * (self.w_avg - m))

    def truncate(self, w, psi):
        """`w_avg + psi (w - w_avg)` (the truncation trick)."""
        return self.w_avg + ops.cast(psi, w.dtype) * (w - self.w_avg)

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "w_dim": self.w_dim,
            "num_layers": self.num_layers,
            "num_classes": self.num_classes,
            "lr_multiplier": self.lr_multiplier,
            "w_avg_beta": self.w_avg_beta,
        }


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class StyleGAN2Synthesis(keras.layers.Layer):
    """The skip synthesis network `ws [N, num_ws, w_dim] -> images`.

    `call(ws, noise=None)`: `noise`, when given, is `[N, noise_size]`, the
    per-layer noise maps `[N, H, W]` flattened and concatenated in layer
    order (`noise_shapes`), which makes a call reproducible.

    Args:
        resolution: int. Output size, a power of two >= 8.
        channels: int. Image channels.
        w_dim: int. Size of `w`.
        channel_base, channel_max: int. Feature maps at resolution `r`:
            `min(channel_base // r, channel_max)`.
        fused_modconv: bool. Grouped-convolution path of the modulated
            convolutions. Defaults to `False`.
    """

    def __init__(self, resolution, channels, w_dim, channel_base=16384,
                 channel_max=512, fused_modconv=False, **kwargs):
        super().__init__(**kwargs)
        self.resolution = _check_resolution(resolution)
        self.channels = int(channels)
        self.w_dim = int(w_dim)
        self.channel_base = int(channel_base)
        self.channel_max = int(channel_max)
        self.fused_modconv = bool(fused_modconv)
        self.log2 = int(round(math.log2(self.resolution)))
        self.num_ws = 2 * self.log2 - 2
        self.resolutions = [2 ** i for i in range(2, self.log2 + 1)]
        # (conv, noise, resolution, ws index) in call order.
        self.convs = []
        self.torgbs = []
        index = 0
        fused = self.fused_modconv
        for res in self.resolutions:
            c = _channels(res, self.channel_base, self.channel_max)
            if res > 4:
                self.convs.append((
                    ModulatedConv2D(c, 3, upsample=True, fused=fused,
                                    name=f"b{res}_conv0"),
                    NoiseInjection(name=f"b{res}_noise0"), res, index))
                index += 1
            self.convs.append((
                ModulatedConv2D(c, 3, fused=fused, name=f"b{res}_conv1"),
                NoiseInjection(name=f"b{res}_noise1"), res, index))
            index += 1
            # toRGB shares its index with the next block's first conv.
            self.torgbs.append((ToRGB(self.channels, fused=fused,
                                      name=f"b{res}_torgb"), res, index))
        self.noise_shapes = [(res, res) for _, _, res, _ in self.convs]
        self.noise_size = sum(h * w for h, w in self.noise_shapes)

    def build(self, input_shape=None):
        c4 = _channels(4, self.channel_base, self.channel_max)
        self.const = self.add_weight(
            shape=(4, 4, c4), name="const",
            initializer=keras.initializers.RandomNormal(0.0, 1.0))
        c_prev = c4
        w_shape = (None, self.w_dim)
        for conv, noise, res, _ in self.convs:
            in_res = res // 2 if conv.upsample else res
            conv.build([(None, in_res, in_res, c_prev), w_shape])
            noise.build((None, res, res, conv.filters))
            c_prev = conv.filters
            if not conv.upsample:
                for torgb, r, _ in self.torgbs:
                    if r == res:
                        torgb.build([(None, res, res, c_prev), w_shape])

    def split_noise(self, noise):
        """`[N, noise_size]` -> list of `[N, H, W, 1]`, in layer order."""
        out, start = [], 0
        for h, w in self.noise_shapes:
            out.append(ops.reshape(noise[:, start:start + h * w],
                                   (-1, h, w, 1)))
            start += h * w
        return out

    def call(self, ws, noise=None):
        ws = ops.cast(ws, "float32")
        noises = (self.split_noise(ops.cast(noise, "float32"))
                  if noise is not None else [None] * len(self.convs))
        n = ops.shape(ws)[0]
        x = ops.broadcast_to(self.const[None], (n,) + tuple(self.const.shape))
        img = None
        torgb = {r: (layer, i) for layer, r, i in self.torgbs}
        for (conv, noise_layer, res, i), nz in zip(self.convs, noises):
            x = conv([x, ws[:, i]])
            x = _lrelu(noise_layer(x, noise=nz))
            if not conv.upsample:  # the block's last convolution
                layer, j = torgb[res]
                y = layer([x, ws[:, j]])
                img = y if img is None else upsample2d(img) + y
        return img

    def get_config(self):
        return {
            **super().get_config(),
            "resolution": self.resolution,
            "channels": self.channels,
            "w_dim": self.w_dim,
            "channel_base": self.channel_base,
            "channel_max": self.channel_max,
            "fused_modconv": self.fused_modconv,
        }


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class StyleGAN2Generator(keras.Model):
    """The StyleGAN2 generator: `z` (or `[z, labels]`) to images.

    `generator(z)` maps, truncates toward `w_avg` with `truncation_psi`,
    broadcasts `w` to every layer and synthesises with random noise; the
    `StyleGAN2` model drives `mapping` and `synthesis` directly for style
    mixing and injected noise.

    Args: see `stylegan2_generator`.
    """

    def __init__(self, resolution, channels=3, latent_dim=512, w_dim=512,
                 mapping_layers=8, channel_base=16384, channel_max=512,
                 num_classes=None, fused_modconv=False, truncation_psi=1.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.resolution = _check_resolution(resolution)
        for name, value in (("channels", channels), ("latent_dim", latent_dim),
                            ("w_dim", w_dim), ("channel_base", channel_base),
                            ("channel_max", channel_max)):
            if isinstance(value, bool) or not isinstance(
                    value, (int, np.integer)) or value < 1:
                raise ValueError(
                    f"`{name}` should be a positive integer. Received: "
                    f"`{name}={value!r}`"
                )
        if num_classes is not None and int(num_classes) < 2:
            raise ValueError(
                "`num_classes` should be None (unconditional) or >= 2. "
                f"Received: `num_classes={num_classes!r}`"
            )
        self.channels = int(channels)
        self.latent_dim = int(latent_dim)
        self.w_dim = int(w_dim)
        self.mapping_layers = int(mapping_layers)
        self.channel_base = int(channel_base)
        self.channel_max = int(channel_max)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.fused_modconv = bool(fused_modconv)
        self.truncation_psi = float(truncation_psi)
        self.mapping = StyleGAN2Mapping(
            self.latent_dim, self.w_dim, self.mapping_layers,
            num_classes=self.num_classes, name="mapping")
        self.synthesis = StyleGAN2Synthesis(
            self.resolution, self.channels, self.w_dim, self.channel_base,
            self.channel_max, fused_modconv=self.fused_modconv,
            name="synthesis")
        self.num_ws = self.synthesis.num_ws
        self.image_shape = (self.resolution, self.resolution, self.channels)
        self.build(None)

    def build(self, input_shape=None):
        self.mapping.build()
        self.synthesis.build()
        self.built = True

    def broadcast(self, w):
        """`[N, w_dim] -> [N, num_ws, w_dim]`."""
        return ops.repeat(w[:, None, :], self.num_ws, axis=1)

    def call(self, inputs, training=False, truncation_psi=None, noise=None):
        if self.num_classes:
            z, labels = inputs
        else:
            z, labels = inputs, None
        w = self.mapping(z, labels)
        psi = self.truncation_psi if truncation_psi is None else truncation_psi
        if not (isinstance(psi, (int, float)) and psi == 1.0):
            w = self.mapping.truncate(w, psi)
        return self.synthesis(self.broadcast(w), noise=noise)

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if self.num_classes else input_shape
        return (first[0],) + self.image_shape

    def get_build_config(self):
        return None

    def get_config(self):
        return {
            "name": self.name,
            "resolution": self.resolution,
            "channels": self.channels,
            "latent_dim": self.latent_dim,
            "w_dim": self.w_dim,
            "mapping_layers": self.mapping_layers,
            "channel_base": self.channel_base,
            "channel_max": self.channel_max,
            "num_classes": self.num_classes,
            "fused_modconv": self.fused_modconv,
            "truncation_psi": self.truncation_psi,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def stylegan2_generator(resolution, channels=3, latent_dim=512, w_dim=512,
                        mapping_layers=8, channel_base=16384, channel_max=512,
                        num_classes=None, fused_modconv=False,
                        truncation_psi=1.0, name="stylegan2_generator"):
    """The StyleGAN2 skip generator (mapping + synthesis), built.

    Args:
        resolution: int. Image size, a power of two (32 to 256 px; 8 and 16
            for tests).
        channels: int. Image channels. Defaults to `3`.
        latent_dim: int. Size of `z`. Defaults to `512`.
        w_dim: int. Size of `w`. Defaults to `512`.
        mapping_layers: int. Dense layers of the mapping. Defaults to `8`.
        channel_base, channel_max: int. Feature maps at resolution `r` are
            `min(channel_base // r, channel_max)`. Default `16384`, `512`.
        num_classes: int or `None`. Label-conditional mapping.
        fused_modconv: bool. Grouped-convolution modulated convolutions.
        truncation_psi: float. Default psi of `generator(z)`. Defaults to 1.

    >>> g = stylegan2_generator(32, channels=3, latent_dim=128, w_dim=128,
    ...                         channel_base=2048, channel_max=128)
    >>> images = g(keras.random.normal((4, 128)))     # [4, 32, 32, 3]

    Reference:
        Karras et al., "Analyzing and Improving the Image Quality of
        StyleGAN", CVPR 2020.
    """
    return StyleGAN2Generator(
        resolution, channels=channels, latent_dim=latent_dim, w_dim=w_dim,
        mapping_layers=mapping_layers, channel_base=channel_base,
        channel_max=channel_max, num_classes=num_classes,
        fused_modconv=fused_modconv, truncation_psi=truncation_psi, name=name)


def stylegan2_discriminator(resolution, channels=3, channel_base=16384,
                            channel_max=512, num_classes=None, cmap_dim=None,
                            mbstd_group_size=4, name="stylegan2_discriminator"):
    """The StyleGAN2 residual discriminator (a functional model).

    Args:
        resolution: int. Image size, a power of two >= 8.
        channels: int. Image channels. Defaults to `3`.
        channel_base, channel_max: int. As for the generator.
        num_classes: int or `None`. Projection conditioning: the model then
            takes `[images, labels]`.
        cmap_dim: int. Size of the projection embedding. Defaults to the
            channels at 4x4.
        mbstd_group_size: int. Group of the minibatch standard deviation.
            Defaults to `4`.

    Returns:
        A `keras.Model` mapping images `[N, R, R, C]` (and labels) to logits
        `[N, 1]`.

    Reference:
        Karras et al., "Analyzing and Improving the Image Quality of
        StyleGAN", CVPR 2020 (residual D); Miyato & Koyama, "cGANs with
        Projection Discriminator", ICLR 2018.
    """
    resolution = _check_resolution(resolution)
    log2 = int(round(math.log2(resolution)))
    ch = lambda r: _channels(r, channel_base, channel_max)  # noqa: E731
    img = keras.Input((resolution, resolution, channels), name="images")
    inputs = [img]
    x = EqualizedConv2D(ch(resolution), 1, name=f"b{resolution}_fromrgb")(img)
    x = keras.layers.LeakyReLU(0.2)(x)
    for res in [2 ** i for i in range(log2, 2, -1)]:
        skip = FIRDownsample2D(name=f"b{res}_skip_down")(x)
        skip = EqualizedConv2D(ch(res // 2), 1, gain=1.0, use_bias=False,
                               name=f"b{res}_skip")(skip)
        y = EqualizedConv2D(ch(res), 3, name=f"b{res}_conv0")(x)
        y = keras.layers.LeakyReLU(0.2)(y)
        y = EqualizedConv2D(ch(res // 2), 3, name=f"b{res}_conv1")(y)
        y = FIRDownsample2D(name=f"b{res}_down")(y)
        y = keras.layers.LeakyReLU(0.2)(y)
        x = keras.layers.Add()([skip, y])
        x = keras.layers.Rescaling(math.sqrt(0.5))(x)
    c4 = ch(4)
    x = MinibatchStdDev(group_size=mbstd_group_size, name="b4_mbstd")(x)
    x = EqualizedConv2D(c4, 3, name="b4_conv")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    x = EqualizedDense(c4, name="b4_fc")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        cmap_dim = int(cmap_dim or c4)
        out = EqualizedDense(1, gain=1.0, name="b4_out")(x)
        proj = EqualizedDense(cmap_dim, gain=1.0, name="b4_proj")(x)
        onehot = _OneHot(int(num_classes), name="onehot")(labels)
        cmap = EqualizedDense(cmap_dim, gain=1.0, use_bias=False,
                              name="cmap")(onehot)
        dot = keras.layers.Dot(axes=1)([proj, cmap])
        dot = keras.layers.Rescaling(1.0 / math.sqrt(cmap_dim))(dot)
        out = keras.layers.Add()([out, dot])
    else:
        out = EqualizedDense(1, gain=1.0, name="b4_out")(x)
    return keras.Model(inputs if num_classes else img, out, name=name)


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class _OneHot(keras.layers.Layer):
    """Integer labels `[N]` to one-hot `[N, num_classes]`."""

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)

    def call(self, labels):
        return ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"),
                           self.num_classes)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}

"""ProGAN generator and discriminator with every resolution block built up front.

Both networks work at the target resolution at every stage of training:
the generator's output is nearest-upsampled from the active level to the
target size, and the discriminator average-pools its target-size input down
to the active level's fromRGB. The active level is a Python-side switch
(read when a step is traced, so a new level costs one retrace) mirrored in a
non-trainable `level` variable for checkpoints; the fade-in weight alpha is
a non-trainable variable of a `FadeIn` layer (changing it never retraces).
Levels count from 0 (4x4) to `num_levels - 1` (the target resolution).
"""

import math

import keras
from keras import ops

from keras_gan_stable.layers.progan import EqualizedConv2D
from keras_gan_stable.layers.progan import EqualizedDense
from keras_gan_stable.layers.progan import FadeIn
from keras_gan_stable.layers.progan import MinibatchStdDev
from keras_gan_stable.layers.progan import PixelNormalization
from keras_gan_stable.layers.progan import downsample2x
from keras_gan_stable.layers.progan import resample
from keras_gan_stable.layers.progan import upsample2x


def _check_image_shape(image_shape):
    try:
        image_shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        image_shape = ()
    ok = len(image_shape) == 3 and image_shape[0] == image_shape[1]
    if ok:
        r = image_shape[0]
        ok = r >= 4 and (r & (r - 1)) == 0 and image_shape[2] >= 1
    if not ok:
        raise ValueError(
            "ProGAN networks need square images whose side is a power of two "
            f">= 4, as (H, W, C). Received: `image_shape={image_shape!r}`. Pad "
            "or resize the data (e.g. MNIST 28x28 padded to 32x32)."
        )
    return image_shape


def _level_filters(num_levels, filters, fmap_base, fmap_max):
    """Channels per level: the paper's min(fmap_base / 2**(level+1), fmap_max)."""
    if filters is None:
        fmap_base = int(fmap_base)
        fmap_max = int(fmap_max)
        out = [max(1, min(fmap_base // 2 ** (lvl + 1), fmap_max))
               for lvl in range(num_levels)]
    elif isinstance(filters, int):
        out = [filters] * num_levels
    else:
        out = [int(f) for f in filters]
    if len(out) != num_levels or any(f < 1 for f in out):
        raise ValueError(
            "`filters` should be None (the paper's rule), a positive int, or "
            f"a list of {num_levels} positive ints (one per resolution from "
            f"4x4 up). Received: `filters={filters!r}`"
        )
    return out


def _lrelu(x):
    return ops.leaky_relu(x, negative_slope=0.2)


class _Progressive(keras.Model):
    """Level/alpha state shared by the two ProGAN networks."""

    def _init_progress(self, num_levels):
        self.num_levels = num_levels
        self._level = num_levels - 1
        self.fade = FadeIn(alpha=1.0, name="fade")
        self.level_variable = self.add_weight(
            shape=(), dtype="int32", trainable=False, name="level",
            initializer=keras.initializers.Constant(num_levels - 1))

    @property
    def level(self):
        """The active level (0 is 4x4), as a Python int."""
        return self._level

    @property
    def alpha(self):
        """The fade-in weight variable of the active level."""
        return self.fade.alpha

    @property
    def resolutions(self):
        return [4 * 2 ** lvl for lvl in range(self.num_levels)]

    def set_progress(self, level, alpha):
        """Sets the active level and the fade-in weight (assigns variables).

        A new level changes what a traced step computes: Keras functions of
        this network built before are dropped so they retrace.
        """
        level = int(level)
        if not 0 <= level < self.num_levels:
            raise ValueError(
                f"`level` should be in [0, {self.num_levels - 1}] (0 is 4x4). "
                f"Received: `level={level}`"
            )
        alpha = float(alpha)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(
                f"`alpha` should be in [0, 1]. Received: `alpha={alpha}`")
        if level != self._level:
            self._level = level
            self.train_function = None
            self.test_function = None
            self.predict_function = None
        self.level_variable.assign(level)
        self.fade.alpha.assign(alpha)

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._sync_level()

    def _sync_level(self):
        self._level = int(ops.convert_to_numpy(self.level_variable.value))


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class ProGANGenerator(_Progressive):
    """The progressively grown ProGAN generator.

    Block 0 maps the (pixel-normalised) latent vector to 4x4 features with
    an equalised dense layer and a 3x3 convolution; block `l > 0` upsamples
    by 2 (nearest) and applies two 3x3 convolutions; each block has a 1x1
    toRGB convolution with a linear output. Every convolution is followed by
    leaky ReLU (0.2) and pixelwise feature normalisation. At level `L` with
    fade weight `alpha` the image is
    `(1 - alpha) * up(toRGB[L-1](h[L-1])) + alpha * toRGB[L](h[L])`,
    nearest-upsampled to the target resolution.

    Args:
        latent_dim: int. Size of z. Defaults to `512` (the paper).
        image_shape: tuple `(R, R, C)`, R a power of two >= 4.
        filters: None, int or list of ints (one per level from 4x4). `None`
            uses the paper's `min(fmap_base / 2**(level + 1), fmap_max)`.
        fmap_base: int. Defaults to `8192`.
        fmap_max: int. Defaults to `512`.
        normalize_latents: bool. Pixel-normalise z first. Defaults to `True`.

    >>> g = ProGANGenerator(latent_dim=64, image_shape=(32, 32, 1), filters=32)
    >>> g.set_progress(level=1, alpha=0.5)   # fading in 8x8
    >>> g(keras.random.normal((4, 64))).shape   # always (4, 32, 32, 1)

    Reference:
        Karras et al., "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018, table 2.
    """

    def __init__(self, latent_dim=512, image_shape=(32, 32, 3), filters=None,
                 fmap_base=8192, fmap_max=512, normalize_latents=True,
                 **kwargs):
        kwargs.setdefault("name", "progan_generator")
        super().__init__(**kwargs)
        # Layers
        self.latent_dim = _check_positive_int("latent_dim", latent_dim)
        self.image_shape = _check_image_shape(image_shape)
        num_levels = int(math.log2(self.image_shape[0])) - 1
        self.filters = filters
        self.fmap_base = fmap_base
        self.fmap_max = fmap_max
        self.level_filters = _level_filters(num_levels, filters, fmap_base,
                                            fmap_max)
        self.normalize_latents = bool(normalize_latents)
        self._init_progress(num_levels)
        f = self.level_filters
        self.pixel_norm = PixelNormalization(name="pixel_norm")
        self.dense0 = EqualizedDense(16 * f[0], gain=math.sqrt(2.0) / 4,
                                     name="block0_dense")
        self.conv_a = [None]
        self.conv_b = [EqualizedConv2D(f[0], 3, name="block0_conv")]
        self.to_rgb = []
        for lvl in range(num_levels):
            if lvl:
                self.conv_a.append(
                    EqualizedConv2D(f[lvl], 3, name=f"block{lvl}_conv_a"))
                self.conv_b.append(
                    EqualizedConv2D(f[lvl], 3, name=f"block{lvl}_conv_b"))
            self.to_rgb.append(EqualizedConv2D(
                self.image_shape[2], 1, gain=1.0, name=f"to_rgb_{lvl}"))
        # Every block exists before training, so the variable lists never
        # change while the resolution grows.
        self.build((None, self.latent_dim))

    def build(self, input_shape):
        f = self.level_filters
        self.pixel_norm.build((None, self.latent_dim))
        self.dense0.build((None, self.latent_dim))
        for lvl in range(self.num_levels):
            r = 4 * 2 ** lvl
            if lvl:
                self.conv_a[lvl].build((None, r, r, f[lvl - 1]))
            self.conv_b[lvl].build((None, r, r, f[lvl]))
            self.to_rgb[lvl].build((None, r, r, f[lvl]))
        self.built = True

    def _act(self, x):
        return self.pixel_norm(_lrelu(x))

    def features(self, z, level):
        """Features `h[level]` `[N, r, r, filters]` and `h[level - 1]`."""
        x = ops.cast(z, self.compute_dtype)
        if self.normalize_latents:
            x = self.pixel_norm(x)
        x = self.dense0(x)
        x = ops.reshape(x, (-1, 4, 4, self.level_filters[0]))
        h = self._act(self.conv_b[0](self._act(x)))
        prev = None
        for lvl in range(1, level + 1):
            prev = h
            h = self._act(self.conv_a[lvl](upsample2x(h)))
            h = self._act(self.conv_b[lvl](h))
        return h, prev

    def call(self, z, training=False):
        level = self._level
        h, prev = self.features(z, level)
        img = self.to_rgb[level](h)
        if level:
            old = upsample2x(self.to_rgb[level - 1](prev))
            img = self.fade([old, img])
        # Images leave the generator in float32 under a mixed policy (the
        # Keras convention for a model's last layer).
        return ops.cast(resample(img, self.num_levels - 1 - level), "float32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.image_shape

    def compute_output_spec(self, z, training=False):
        return keras.KerasTensor(self.compute_output_shape(z.shape),
                                 dtype="float32")

    def get_config(self):
        return {
            "name": self.name,
            "latent_dim": self.latent_dim,
            "image_shape": self.image_shape,
            "filters": self.filters,
            "fmap_base": self.fmap_base,
            "fmap_max": self.fmap_max,
            "normalize_latents": self.normalize_latents,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class ProGANDiscriminator(_Progressive):
    """The progressively grown ProGAN discriminator (critic).

    It takes images at the target resolution and average-pools them down to
    the active level. Block `l > 0` (resolution `r`) is fromRGB (1x1), two
    3x3 convolutions and 2x2 average pooling; while level `L` fades in, its
    output is blended with fromRGB[L-1] of the pooled image. Block 0 is the
    minibatch standard deviation, a 3x3 convolution, a dense layer and the
    linear output. Equalised learning rate everywhere, leaky ReLU (0.2), no
    normalisation (so WGAN-GP's per-sample gradients stay per sample,
    apart from the minibatch statistic the paper also uses).

    Args:
        image_shape: tuple `(R, R, C)`, R a power of two >= 4.
        filters: None, int or list of ints (one per level from 4x4). `None`
            uses the paper's `min(fmap_base / 2**(level + 1), fmap_max)`.
        fmap_base: int. Defaults to `8192`.
        fmap_max: int. Defaults to `512`.
        mbstd_group_size: int or `None`. Group size of `MinibatchStdDev`;
            `None` leaves the layer out. Defaults to `4`.

    >>> d = ProGANDiscriminator(image_shape=(32, 32, 1), filters=32)
    >>> d.set_progress(level=0, alpha=1.0)     # judges 4x4 images
    >>> d(keras.random.normal((4, 32, 32, 1))).shape   # (4, 1)

    Reference:
        Karras et al., "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018, table 2.
    """

    def __init__(self, image_shape=(32, 32, 3), filters=None, fmap_base=8192,
                 fmap_max=512, mbstd_group_size=4, **kwargs):
        kwargs.setdefault("name", "progan_discriminator")
        super().__init__(**kwargs)
        # Layers
        self.image_shape = _check_image_shape(image_shape)
        num_levels = int(math.log2(self.image_shape[0])) - 1
        self.filters = filters
        self.fmap_base = fmap_base
        self.fmap_max = fmap_max
        self.level_filters = _level_filters(num_levels, filters, fmap_base,
                                            fmap_max)
        if mbstd_group_size is not None:
            mbstd_group_size = _check_positive_int("mbstd_group_size",
                                                   mbstd_group_size)
        self.mbstd_group_size = mbstd_group_size
        self._init_progress(num_levels)
        f = self.level_filters
        self.from_rgb = [EqualizedConv2D(f[lvl], 1, name=f"from_rgb_{lvl}")
                         for lvl in range(num_levels)]
        self.conv_a = [None]
        self.conv_b = [None]
        for lvl in range(1, num_levels):
            self.conv_a.append(
                EqualizedConv2D(f[lvl], 3, name=f"block{lvl}_conv_a"))
            self.conv_b.append(
                EqualizedConv2D(f[lvl - 1], 3, name=f"block{lvl}_conv_b"))
        self.mbstd = (None if mbstd_group_size is None else
                      MinibatchStdDev(mbstd_group_size, name="mbstd"))
        self.conv0 = EqualizedConv2D(f[0], 3, name="block0_conv")
        self.dense0 = EqualizedDense(f[0], name="block0_dense")
        self.out = EqualizedDense(1, gain=1.0, name="output")
        self.build((None,) + self.image_shape)

    def build(self, input_shape):
        f = self.level_filters
        c = self.image_shape[2]
        for lvl in range(self.num_levels):
            r = 4 * 2 ** lvl
            self.from_rgb[lvl].build((None, r, r, c))
            if lvl:
                self.conv_a[lvl].build((None, r, r, f[lvl]))
                self.conv_b[lvl].build((None, r, r, f[lvl]))
        extra = 0
        if self.mbstd is not None:
            self.mbstd.build((None, 4, 4, f[0]))
            extra = 1
        self.conv0.build((None, 4, 4, f[0] + extra))
        self.dense0.build((None, 16 * f[0]))
        self.out.build((None, f[0]))
        self.built = True

    def from_rgb_features(self, images, level):
        """fromRGB of `level` applied to images already at its resolution."""
        return _lrelu(self.from_rgb[level](images))

    def block(self, h, level):
        """Block `level` (> 0): two 3x3 convolutions, then 2x2 pooling."""
        h = _lrelu(self.conv_a[level](h))
        h = _lrelu(self.conv_b[level](h))
        return downsample2x(h)

    def head(self, h):
        """Block 0: `[N, 4, 4, f0]` features to logits `[N, 1]`."""
        if self.mbstd is not None:
            h = self.mbstd(h)
        h = _lrelu(self.conv0(h))
        h = ops.reshape(h, (-1, 16 * self.level_filters[0]))
        h = _lrelu(self.dense0(h))
        # Logits in float32 under a mixed policy (losses and penalties).
        return ops.cast(self.out(h), "float32")

    def call(self, images, training=False):
        level = self._level
        x = ops.cast(images, self.compute_dtype)
        x = resample(x, -(self.num_levels - 1 - level))   # [N, r, r, C]
        h = self.from_rgb_features(x, level)
        if level:
            h = self.block(h, level)
            old = self.from_rgb_features(downsample2x(x), level - 1)
            h = self.fade([old, h])
        for lvl in range(level - 1, 0, -1):
            h = self.block(h, lvl)
        return self.head(h)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def compute_output_spec(self, images, training=False):
        return keras.KerasTensor(self.compute_output_shape(images.shape),
                                 dtype="float32")

    def get_config(self):
        return {
            "name": self.name,
            "image_shape": self.image_shape,
            "filters": self.filters,
            "fmap_base": self.fmap_base,
            "fmap_max": self.fmap_max,
            "mbstd_group_size": self.mbstd_group_size,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"`{name}` should be a positive integer. Received: "
            f"`{name}={value!r}`"
        )
    return value


def progan_generator(latent_dim=512, image_shape=(32, 32, 3), filters=None,
                     fmap_base=8192, fmap_max=512, normalize_latents=True,
                     name="progan_generator"):
    """Builds a `ProGANGenerator` (see its docstring for the arguments)."""
    return ProGANGenerator(latent_dim=latent_dim, image_shape=image_shape,
                           filters=filters, fmap_base=fmap_base,
                           fmap_max=fmap_max,
                           normalize_latents=normalize_latents, name=name)


def progan_discriminator(image_shape=(32, 32, 3), filters=None,
                         fmap_base=8192, fmap_max=512, mbstd_group_size=4,
                         name="progan_discriminator"):
    """Builds a `ProGANDiscriminator` (see its docstring for the arguments)."""
    return ProGANDiscriminator(image_shape=image_shape, filters=filters,
                               fmap_base=fmap_base, fmap_max=fmap_max,
                               mbstd_group_size=mbstd_group_size, name=name)

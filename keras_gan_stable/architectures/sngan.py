"""The SNGAN networks (Miyato et al. 2018) and the projection discriminator.

Two families, as in the paper's Tables 3 and 4 and its appendix:

- "standard CNN": a DCGAN-like generator (`M/8 x M/8 x 512` from a dense
  layer, three stride-2 4x4 deconvolutions, a 3x3 convolution to the image)
  and a 7-convolution discriminator with LeakyReLU(0.1);
- ResNet: residual up-blocks (BN, ReLU, nearest upsampling, 3x3 convs) in the
  generator; residual down-blocks (ReLU, 3x3 convs, 2x2 average pooling)
  with ReLU and global sum pooling at the end of the discriminator. 32x32
  (CIFAR-10: 3 up-blocks of 256, 4 D blocks of 128), 48x48 (STL-10) and
  64x64 variants.

Every discriminator weight (convolutions, the final dense layer and the class
embedding) is spectrally normalised. With `num_classes` set, the
discriminator is the projection discriminator of Miyato & Koyama (2018),
`D(x, y) = psi(phi(x)) + <embed(y), phi(x)>`, and the generator uses
class-conditional BatchNorm. Any channel count is accepted (grey images too).

Under a mixed precision policy (`mixed_float16`, `mixed_bfloat16`) the
layers that produce the images (last convolution and tanh) and the logits
(last dense layer, projection sum) run in float32, as Keras recommends for
a model's output layer: images and logits leave the networks in float32 for
the losses and penalties. (PyTorch's CPU float16 convolution also has no
backward for a single output channel: "slow_conv2d: grad_weight must be
contiguous".)
"""

import keras
from keras import layers
from keras import ops

from keras_gan_stable.layers.conditional_batch_norm import (
    ConditionalBatchNormalization,
)
from keras_gan_stable.layers.spectral_normalization import (
    SpectralNormalization,
)

# Residual-branch convolutions use Glorot-uniform with gain sqrt(2), the
# shortcuts and the rest gain 1 (the SNGAN/projection reference code).
_RESIDUAL_INIT = dict(scale=2.0, mode="fan_avg", distribution="uniform")

# Channel multipliers of `width` per resolution:
# (start size, dense multiplier, up-block multipliers) for G and
# [(multiplier, downsample)] for D; the first D block is the "optimized" one.
_RESNET_G = {
    32: (4, 1, (1, 1, 1)),
    48: (6, 8, (4, 2, 1)),
    64: (4, 16, (8, 4, 2, 1)),
}
_RESNET_D = {
    32: ((1, True), (1, True), (1, False), (1, False)),
    48: ((1, True), (2, True), (4, True), (8, True), (16, False)),
    64: ((1, True), (2, True), (4, True), (8, True), (16, True)),
}
_RESNET_WIDTH = {32: (256, 128), 48: (64, 64), 64: (64, 64)}


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class GlobalSumPooling2D(layers.Layer):
    """Sums `[N, H, W, C]` over the spatial axes to `[N, C]` (SNGAN's D)."""

    def call(self, inputs):
        # Summed in float32 (H * W half-precision terms would lose digits).
        return ops.cast(ops.sum(ops.cast(inputs, "float32"), axis=(1, 2)),
                        inputs.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def _check_image_shape(image_shape, sizes, family):
    try:
        image_shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        image_shape = ()
    ok = (len(image_shape) == 3 and image_shape[0] == image_shape[1]
          and image_shape[2] >= 1 and (
              image_shape[0] in sizes if isinstance(sizes, tuple)
              else sizes(image_shape[0])))
    if not ok:
        allowed = ("32x32, 48x48 or 64x64" if isinstance(sizes, tuple)
                   else "square, with a side divisible by 8")
        raise ValueError(
            f"The SNGAN {family} networks take images {allowed}, with any "
            f"number of channels. Received: `image_shape={image_shape}`. "
            "Resize the data or pick another architecture."
        )
    return image_shape


def _check_width(width, default):
    if width is None:
        return default
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(
            f"`width` should be a positive integer or None (the paper's "
            f"width). Received: `width={width!r}`"
        )
    return width


def _check_classes(num_classes):
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(
            num_classes, int) or num_classes < 2:
        raise ValueError(
            "`num_classes` should be None (unconditional) or an integer >= 2. "
            f"Received: `num_classes={num_classes!r}`"
        )
    return num_classes


def _sn(layer, name, enabled=True):
    if not enabled:  # the same network without normalisation (ablations)
        return layer
    return SpectralNormalization(layer, name=name)


def _bn(x, labels, num_classes, name):
    if num_classes:
        return ConditionalBatchNormalization(num_classes, name=name)(
            [x, labels])
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5,
                                     name=name)(x)


def _conv(ch, k, name, residual=True, strides=1, dtype=None):
    init = (keras.initializers.VarianceScaling(**_RESIDUAL_INIT)
            if residual else "glorot_uniform")
    return layers.Conv2D(ch, k, strides=strides, padding="same",
                         kernel_initializer=init, dtype=dtype, name=name)


def _generator_inputs(latent_dim, num_classes):
    if isinstance(latent_dim, bool) or not isinstance(
            latent_dim, int) or latent_dim < 1:
        raise ValueError(
            "`latent_dim` should be a positive integer. Received: "
            f"`latent_dim={latent_dim!r}`"
        )
    z = keras.Input((latent_dim,), name="z")
    if not num_classes:
        return z, None, z
    labels = keras.Input((), dtype="int32", name="labels")
    return z, labels, [z, labels]


def _projection_head(features, images, num_classes, name, sn=True):
    """psi(phi(x)) (+ <embed(y), phi(x)> when conditional) -> [N, 1]."""
    logits = _sn(layers.Dense(1, dtype="float32"), "sn_dense_out", sn)(
        features)
    if not num_classes:
        return keras.Model(images, layers.Activation(
            "linear", dtype="float32", name="logits")(logits), name=name)
    labels = keras.Input((), dtype="int32", name="labels")
    embed = _sn(layers.Embedding(
        num_classes, features.shape[-1],
        embeddings_initializer="glorot_uniform"), "sn_class_embedding",
        sn)(labels)
    projection = layers.Dot(axes=1, name="projection")([embed, features])
    logits = layers.Add(dtype="float32", name="logits")([logits, projection])
    return keras.Model([images, labels], logits, name=name)


# ---------------------------------------------------------------------- #
# Standard CNN (Table 3)
# ---------------------------------------------------------------------- #
def sngan_cnn_generator(latent_dim=128, image_shape=(32, 32, 3), width=64,
                        num_classes=None, name="sngan_cnn_generator"):
    """The "standard CNN" generator of SNGAN (Table 3a of the paper).

    `z -> dense (M/8 x M/8 x 8w) -> BN, ReLU -> three 4x4 stride-2
    deconvolutions with 4w, 2w, w channels (BN, ReLU) -> 3x3 conv to C ->
    tanh`, with `w = width` (the paper's 512-256-128-64 is `width=64`).

    Args:
        latent_dim: int. Size of z. Defaults to `128`.
        image_shape: tuple `(M, M, C)`, `M` divisible by 8 (32 for CIFAR-10,
            48 for STL-10), any `C`. Defaults to `(32, 32, 3)`.
        width: int. Channels of the last deconvolution. Defaults to `64`.
        num_classes: int or `None`. When set, the model takes `[z, labels]`
            and every BatchNorm is class-conditional.
        name: str. Model name.

    >>> g = sngan_cnn_generator(128, (32, 32, 3))
    >>> images = g(keras.random.normal((4, 128)))   # [4, 32, 32, 3]

    Reference:
        Miyato et al., "Spectral Normalization for Generative Adversarial
        Networks", ICLR 2018.
    """
    size, _, channels = _check_image_shape(
        image_shape, lambda m: m % 8 == 0 and m >= 8, "standard CNN")
    width = _check_width(width, 64)
    num_classes = _check_classes(num_classes)
    z, labels, inputs = _generator_inputs(latent_dim, num_classes)
    start = size // 8
    x = layers.Dense(start * start * 8 * width, name="dense")(z)
    x = _bn(x, labels, num_classes, "bn_dense")
    x = layers.ReLU()(x)
    x = layers.Reshape((start, start, 8 * width))(x)
    for i, mult in enumerate((4, 2, 1)):
        x = layers.Conv2DTranspose(mult * width, 4, strides=2, padding="same",
                                   name=f"deconv{i + 1}")(x)
        x = _bn(x, labels, num_classes, f"bn{i + 1}")
        x = layers.ReLU()(x)
    # The image layer in float32 under a mixed policy (see the module
    # docstring).
    x = layers.Conv2D(channels, 3, padding="same", dtype="float32",
                      name="conv_out")(x)
    x = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(inputs, x, name=name)


def sngan_cnn_discriminator(image_shape=(32, 32, 3), width=64,
                            num_classes=None, spectral_norm=True,
                            name="sngan_cnn_discriminator"):
    """The "standard CNN" discriminator of SNGAN (Table 3b of the paper).

    Seven spectrally normalised convolutions with LeakyReLU(0.1): 3x3 w,
    4x4/2 w, 3x3 2w, 4x4/2 2w, 3x3 4w, 4x4/2 4w, 3x3 8w (the paper's
    64-...-512 is `width=64`), then a spectrally normalised dense layer to one
    logit. With `num_classes`, a projection term `<embed(y), phi(x)>` on the
    flattened features (spectrally normalised embedding) is added.

    Args:
        image_shape: tuple `(M, M, C)`, `M` divisible by 8, any `C`.
            Defaults to `(32, 32, 3)`.
        width: int. Channels of the first convolutions. Defaults to `64`.
        num_classes: int or `None`. When set, the model takes
            `[images, labels]` (projection discriminator).
        spectral_norm: bool. Wrap every weight layer in
            `SpectralNormalization`. `False` builds the same network without
            it (for ablations and overhead measurements). Defaults to `True`.
        name: str. Model name.

    >>> d = sngan_cnn_discriminator((32, 32, 3), num_classes=10)
    >>> logits = d([images, labels])   # [N, 1]

    Reference:
        Miyato et al., "Spectral Normalization for Generative Adversarial
        Networks", ICLR 2018; Miyato & Koyama, "cGANs with Projection
        Discriminator", ICLR 2018.
    """
    image_shape = _check_image_shape(
        image_shape, lambda m: m % 8 == 0 and m >= 8, "standard CNN")
    width = _check_width(width, 64)
    num_classes = _check_classes(num_classes)
    images = keras.Input(image_shape, name="images")
    x = images
    plan = ((3, 1, 1), (4, 2, 1), (3, 1, 2), (4, 2, 2), (3, 1, 4), (4, 2, 4),
            (3, 1, 8))
    for i, (k, stride, mult) in enumerate(plan):
        x = _sn(layers.Conv2D(mult * width, k, strides=stride, padding="same"),
                f"sn_conv{i + 1}", spectral_norm)(x)
        x = layers.LeakyReLU(0.1)(x)
    features = layers.Flatten()(x)
    return _projection_head(features, images, num_classes, name,
                            spectral_norm)


# ---------------------------------------------------------------------- #
# ResNet (Table 4 and appendix)
# ---------------------------------------------------------------------- #
def _g_block(x, labels, ch, num_classes, name):
    h = _bn(x, labels, num_classes, f"{name}_bn1")
    h = layers.ReLU()(h)
    h = layers.UpSampling2D(2)(h)
    h = _conv(ch, 3, f"{name}_conv1")(h)
    h = _bn(h, labels, num_classes, f"{name}_bn2")
    h = layers.ReLU()(h)
    h = _conv(ch, 3, f"{name}_conv2")(h)
    shortcut = layers.UpSampling2D(2)(x)
    shortcut = _conv(ch, 1, f"{name}_shortcut", residual=False)(shortcut)
    return layers.Add()([h, shortcut])


def _d_block(x, ch, downsample, name, first=False, sn=True):
    in_ch = x.shape[-1]
    h = x if first else layers.ReLU()(x)
    hidden = ch if first else in_ch
    h = _sn(_conv(hidden, 3, None), f"{name}_sn_conv1", sn)(h)
    h = layers.ReLU()(h)
    h = _sn(_conv(ch, 3, None), f"{name}_sn_conv2", sn)(h)
    if downsample:
        h = layers.AveragePooling2D(2)(h)
    shortcut = x
    if first:  # the "optimized" block pools first, then projects
        shortcut = layers.AveragePooling2D(2)(shortcut)
        shortcut = _sn(_conv(ch, 1, None, residual=False),
                       f"{name}_sn_shortcut", sn)(shortcut)
    elif downsample or in_ch != ch:
        shortcut = _sn(_conv(ch, 1, None, residual=False),
                       f"{name}_sn_shortcut", sn)(shortcut)
        if downsample:
            shortcut = layers.AveragePooling2D(2)(shortcut)
    return layers.Add()([h, shortcut])


def sngan_resnet_generator(latent_dim=128, image_shape=(32, 32, 3),
                           width=None, num_classes=None,
                           name="sngan_resnet_generator"):
    """The ResNet generator of SNGAN (32x32 CIFAR, 48x48 STL, 64x64).

    `z -> dense to s x s x (m0 w) -> residual up-blocks -> BN, ReLU, 3x3 conv
    to C -> tanh`. An up-block is `BN, ReLU, 2x nearest upsampling, 3x3 conv,
    BN, ReLU, 3x3 conv` plus an upsampled 1x1-conv shortcut. Channels:

    | size | start | dense | up-blocks | default `width` |
    | --- | --- | --- | --- | --- |
    | 32 | 4x4 | w | w, w, w | 256 |
    | 48 | 6x6 | 8w | 4w, 2w, w | 64 |
    | 64 | 4x4 | 16w | 8w, 4w, 2w, w | 64 |

    Args:
        latent_dim: int. Size of z. Defaults to `128`.
        image_shape: tuple `(M, M, C)`, `M` in {32, 48, 64}, any `C`.
            Defaults to `(32, 32, 3)`.
        width: int or `None`. `w` above; `None` gives the paper's value.
        num_classes: int or `None`. When set, the model takes `[z, labels]`
            and the blocks' BatchNorms are class-conditional.
        name: str. Model name.

    >>> g = sngan_resnet_generator(128, (32, 32, 3), num_classes=10)
    >>> images = g([z, labels])   # [N, 32, 32, 3]

    Reference:
        Miyato et al., "Spectral Normalization for Generative Adversarial
        Networks", ICLR 2018 (appendix B.4); Miyato & Koyama, "cGANs with
        Projection Discriminator", ICLR 2018.
    """
    size, _, channels = _check_image_shape(image_shape, (32, 48, 64),
                                           "ResNet")
    width = _check_width(width, _RESNET_WIDTH[size][0])
    num_classes = _check_classes(num_classes)
    z, labels, inputs = _generator_inputs(latent_dim, num_classes)
    start, dense_mult, blocks = _RESNET_G[size]
    ch = dense_mult * width
    x = layers.Dense(start * start * ch, name="dense")(z)
    x = layers.Reshape((start, start, ch))(x)
    for i, mult in enumerate(blocks):
        x = _g_block(x, labels, mult * width, num_classes, f"block{i + 1}")
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn_out")(x)
    x = layers.ReLU()(x)
    x = _conv(channels, 3, "conv_out", residual=False, dtype="float32")(x)
    x = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(inputs, x, name=name)


def sngan_resnet_discriminator(image_shape=(32, 32, 3), width=None,
                               num_classes=None, spectral_norm=True,
                               name="sngan_resnet_discriminator"):
    """The ResNet discriminator of SNGAN, projection discriminator when
    conditional.

    Residual blocks `ReLU, SN 3x3 conv, ReLU, SN 3x3 conv (, 2x2 average
    pooling)` plus an SN 1x1-conv shortcut; the first ("optimized") block
    has no leading ReLU. Then ReLU, global sum pooling (`phi(x)`), and an SN
    dense layer to one logit (`psi`). Block channels (`v`: the block ends
    with 2x2 average pooling):

    | size | blocks | default `width` |
    | --- | --- | --- |
    | 32 | w v, w v, w, w | 128 |
    | 48 | w v, 2w v, 4w v, 8w v, 16w | 64 |
    | 64 | w v, 2w v, 4w v, 8w v, 16w v | 64 |

    With `num_classes`, `<embed(y), phi(x)>` with a spectrally normalised
    class embedding is added to the logit (Miyato & Koyama 2018).

    Args:
        image_shape: tuple `(M, M, C)`, `M` in {32, 48, 64}, any `C`.
            Defaults to `(32, 32, 3)`.
        width: int or `None`. `w` above; `None` gives the paper's value.
        num_classes: int or `None`. When set, the model takes
            `[images, labels]`.
        spectral_norm: bool. Wrap every weight layer in
            `SpectralNormalization`. `False` builds the same network without
            it (for ablations and overhead measurements). Defaults to `True`.
        name: str. Model name.

    >>> d = sngan_resnet_discriminator((32, 32, 3), num_classes=10)
    >>> logits = d([images, labels])   # [N, 1]

    Reference:
        Miyato et al., "Spectral Normalization for Generative Adversarial
        Networks", ICLR 2018; Miyato & Koyama, "cGANs with Projection
        Discriminator", ICLR 2018.
    """
    image_shape = _check_image_shape(image_shape, (32, 48, 64), "ResNet")
    width = _check_width(width, _RESNET_WIDTH[image_shape[0]][1])
    num_classes = _check_classes(num_classes)
    images = keras.Input(image_shape, name="images")
    x = images
    for i, (mult, down) in enumerate(_RESNET_D[image_shape[0]]):
        x = _d_block(x, mult * width, down, f"block{i + 1}", first=(i == 0),
                     sn=spectral_norm)
    x = layers.ReLU()(x)
    features = GlobalSumPooling2D(name="global_sum")(x)
    return _projection_head(features, images, num_classes, name,
                            spectral_norm)


__all__ = [
    "GlobalSumPooling2D",
    "sngan_cnn_discriminator",
    "sngan_cnn_generator",
    "sngan_resnet_discriminator",
    "sngan_resnet_generator",
]

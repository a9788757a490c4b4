"""SAGAN generator and discriminator: residual networks with self-attention.

Both networks are the ResNet GANs of SNGAN/BigGAN at 32x32, 64x64 and
128x128 with a `SelfAttention2D` block after the residual block that
produces each requested feature-map resolution, spectral normalisation on
every weight of G and D, conditional BatchNorm in G and a projection
discriminator when class-conditional. Train them with the hinge loss and
TTUR (`sagan_compile_kwargs()`).
"""

import keras
from keras import layers

from keras_gan_stable.layers.conditional_batch_norm import (
    ConditionalBatchNormalization,
)
from keras_gan_stable.layers.self_attention import SelfAttention2D
from keras_gan_stable.layers.spectral_normalization import (
    SpectralNormalization,
)

# Channel multipliers of `width` per residual block, and the resolution each
# block outputs.
_G_PLAN = {
    32: {"start": 4, "channels": (4, 4, 4), "resolutions": (8, 16, 32)},
    64: {"start": 4, "channels": (8, 4, 2, 1), "resolutions": (8, 16, 32, 64)},
    128: {"start": 4, "channels": (16, 8, 4, 2, 1),
          "resolutions": (8, 16, 32, 64, 128)},
}
_D_PLAN = {
    # (channels, downsample) per block; the first block is SNGAN's
    # "optimized" block on the image.
    32: ((4, True), (4, True), (4, False), (4, False)),
    64: ((1, True), (2, True), (4, True), (8, True), (8, False)),
    128: ((1, True), (2, True), (4, True), (8, True), (16, True),
          (16, False)),
}
_BN_MOMENTUM = 0.9  # torch's 0.1 update rate, as in the SNGAN/BigGAN code


def _check_image_shape(image_shape):
    try:
        image_shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        image_shape = ()
    if len(image_shape) != 3 or image_shape[0] != image_shape[1] or (
            image_shape[0] not in (32, 64, 128)) or image_shape[2] < 1:
        raise ValueError(
            "SAGAN builders support square images of 32x32, 64x64 or 128x128 "
            "with any "
            f"number of channels. Received: `image_shape={image_shape}`. "
            "Resize the data or pick another architecture."
        )
    return image_shape


def _check_width(width):
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(
            f"`width` should be a positive integer. Received: `width={width!r}`"
        )


def _check_attention(attention_resolutions, valid, which):
    if attention_resolutions is None:
        return ()
    if isinstance(attention_resolutions, int):
        attention_resolutions = (attention_resolutions,)
    out = tuple(int(r) for r in attention_resolutions)
    bad = [r for r in out if r not in valid]
    if bad:
        raise ValueError(
            f"The {which} has feature maps of {sorted(set(valid))} pixels "
            f"after its residual blocks, so attention can go at those "
            f"resolutions only. Received: `attention_resolutions="
            f"{attention_resolutions}`."
        )
    return out


def _sn(layer, spectral_norm, name):
    if not spectral_norm:
        return layer
    return SpectralNormalization(layer, name=f"{name}_sn")


def _conv(filters, kernel_size, spectral_norm, name, dtype=None):
    return _sn(layers.Conv2D(filters, kernel_size, padding="same",
                             dtype=dtype, name=name),
               spectral_norm, name)


def _batch_norm(x, labels, num_classes, name):
    if num_classes:
        return ConditionalBatchNormalization(
            num_classes, momentum=_BN_MOMENTUM, name=name)([x, labels])
    return layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=1e-5,
                                     name=name)(x)


def _g_block(x, labels, filters, num_classes, spectral_norm, name):
    """BN-ReLU-up-conv-BN-ReLU-conv plus an upsampled 1x1 shortcut."""
    h = _batch_norm(x, labels, num_classes, f"{name}_bn1")
    h = layers.ReLU(name=f"{name}_relu1")(h)
    h = layers.UpSampling2D(2, name=f"{name}_up")(h)
    h = _conv(filters, 3, spectral_norm, f"{name}_conv1")(h)
    h = _batch_norm(h, labels, num_classes, f"{name}_bn2")
    h = layers.ReLU(name=f"{name}_relu2")(h)
    h = _conv(filters, 3, spectral_norm, f"{name}_conv2")(h)
    s = layers.UpSampling2D(2, name=f"{name}_shortcut_up")(x)
    s = _conv(filters, 1, spectral_norm, f"{name}_shortcut")(s)
    return layers.Add(name=f"{name}_add")([h, s])


def _d_block(x, filters, downsample, first, spectral_norm, name):
    """(ReLU)-conv-ReLU-conv-(pool) plus a 1x1 (pooled) shortcut."""
    h = x if first else layers.ReLU(name=f"{name}_relu0")(x)
    h = _conv(filters, 3, spectral_norm, f"{name}_conv1")(h)
    h = layers.ReLU(name=f"{name}_relu1")(h)
    h = _conv(filters, 3, spectral_norm, f"{name}_conv2")(h)
    if downsample:
        h = layers.AveragePooling2D(2, name=f"{name}_pool")(h)
    s = x
    if first:
        # The optimized block pools before its shortcut convolution.
        s = layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(s)
        s = _conv(filters, 1, spectral_norm, f"{name}_shortcut")(s)
    elif downsample or x.shape[-1] != filters:
        s = _conv(filters, 1, spectral_norm, f"{name}_shortcut")(s)
        if downsample:
            s = layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(s)
    return layers.Add(name=f"{name}_add")([h, s])


def _attention(x, pool_keys_values, spectral_norm, name):
    return SelfAttention2D(pool_keys_values=pool_keys_values,
                           spectral_norm=spectral_norm, name=name)(x)


def sagan_generator(latent_dim=128, image_shape=(32, 32, 3), width=64,
                    num_classes=None, attention_resolutions=(32,),
                    pool_keys_values=False, spectral_norm=True,
                    name="sagan_generator"):
    """The SAGAN generator: residual up-blocks with self-attention.

    `z` goes through a dense layer to a 4x4 map, then residual blocks
    (BN, ReLU, nearest upsampling, 3x3 convolutions, 1x1 shortcut) double
    the resolution up to the image size; a `SelfAttention2D` block follows
    the residual block that outputs each resolution in
    `attention_resolutions`. The output is BN, ReLU, a 3x3 convolution and
    tanh. When `num_classes` is set the model takes `[z, labels]` and every
    block's BatchNorm is class-conditional.

    Args:
        latent_dim: int. Size of z. Defaults to `128`.
        image_shape: tuple. `(H, W, C)` with H = W in {32, 64, 128}.
            Defaults to `(32, 32, 3)`.
        width: int. Base channel count: the blocks have `4 * width`
            channels at 32x32 (256 for `width=64`, as SNGAN's CIFAR
            generator), `8, 4, 2, 1 * width` at 64x64 and
            `16, 8, 4, 2, 1 * width` at 128x128. Defaults to `64`.
        num_classes: int or `None`. Class-conditional BatchNorm with this
            many classes. Defaults to `None`.
        attention_resolutions: int, tuple of ints or `None`. Feature-map
            sizes (8, 16, 32, and 64 and 128 up to the image size) after
            which a
            self-attention block is placed. Defaults to `(32,)`, the best
            placement in the SAGAN paper.
        pool_keys_values: bool. 2x2 max-pool keys and values in the
            attention blocks. Defaults to `False`.
        spectral_norm: bool. Spectral normalisation of every dense and
            convolution weight (SAGAN uses it in G too). Defaults to `True`.
        name: str. Model name.

    >>> g = sagan_generator(latent_dim=128, image_shape=(32, 32, 3))
    >>> images = g(keras.random.normal((16, 128)))  # [16, 32, 32, 3]

    Reference:
        Zhang et al., "Self-Attention Generative Adversarial Networks",
        ICML 2019; Miyato et al., "Spectral Normalization for Generative
        Adversarial Networks", ICLR 2018.
    """
    h, w, c = _check_image_shape(image_shape)
    _check_width(width)
    plan = _G_PLAN[h]
    attention = _check_attention(attention_resolutions, plan["resolutions"],
                                 "generator")
    if num_classes is not None and (
            isinstance(num_classes, bool) or int(num_classes) < 2):
        raise ValueError(
            "`num_classes` should be None (unconditional) or an integer >= 2. "
            f"Received: `num_classes={num_classes!r}`"
        )

    z = keras.Input((latent_dim,), name="z")
    labels = keras.Input((), dtype="int32", name="labels") if num_classes \
        else None
    start = plan["start"]
    ch = plan["channels"][0] * width
    x = _sn(layers.Dense(start * start * ch, name="dense"), spectral_norm,
            "dense")(z)
    x = layers.Reshape((start, start, ch), name="reshape")(x)
    for i, (mult, res) in enumerate(zip(plan["channels"],
                                         plan["resolutions"])):
        x = _g_block(x, labels, mult * width, num_classes, spectral_norm,
                     f"block{i + 1}")
        if res in attention:
            x = _attention(x, pool_keys_values, spectral_norm,
                           f"attention_{res}")
    x = layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=1e-5,
                                  name="output_bn")(x)
    x = layers.ReLU(name="output_relu")(x)
    # Images (and logits, below) in float32 under a mixed policy.
    x = _conv(c, 3, spectral_norm, "output_conv", dtype="float32")(x)
    x = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    inputs = [z, labels] if num_classes else z
    return keras.Model(inputs, x, name=name)


def sagan_discriminator(image_shape=(32, 32, 3), width=64, num_classes=None,
                        attention_resolutions="auto", pool_keys_values=False,
                        spectral_norm=True, name="sagan_discriminator"):
    """The SAGAN discriminator: residual down-blocks with self-attention.

    Residual blocks (ReLU, 3x3 convolutions, average pooling, 1x1
    shortcut; the first is SNGAN's "optimized" block on the image) halve the
    resolution, a `SelfAttention2D` block follows the block that outputs
    each resolution in `attention_resolutions`, then ReLU, global sum
    pooling and a dense layer give one logit. When `num_classes` is set the
    model takes `[images, labels]` and adds the projection term
    `<embed(y), features>` (Miyato & Koyama 2018). Every weight is
    spectrally normalised.

    Args:
        image_shape: tuple. `(H, W, C)` with H = W in {32, 64, 128}.
            Defaults to `(32, 32, 3)`.
        width: int. Base channel count: blocks have `4 * width` channels
            at 32x32 (SNGAN's CIFAR discriminator for `width=32`: 128),
            `1, 2, 4, 8, 8 * width` at 64x64 and `1, 2, 4, 8, 16, 16 *
            width` at 128x128. Defaults to `64`.
        num_classes: int or `None`. Projection discriminator for this many
            classes. Defaults to `None`.
        attention_resolutions: int, tuple of ints, `None` or `"auto"`.
            Feature-map sizes after which a self-attention block is placed
            (16 and 8 for 32x32 images; 32, 16, 8 and 4 for 64x64; 64 to 4
            for 128x128). `"auto"` is the largest feature map up to 32x32:
            16 for 32x32 images, 32 otherwise. Defaults to `"auto"`.
        pool_keys_values: bool. 2x2 max-pool keys and values in the
            attention blocks. Defaults to `False`.
        spectral_norm: bool. Spectral normalisation of every weight.
            Defaults to `True`.
        name: str. Model name.

    >>> d = sagan_discriminator(image_shape=(32, 32, 3), num_classes=10)
    >>> logits = d([images, labels])  # [N, 1]

    Reference:
        Zhang et al., "Self-Attention Generative Adversarial Networks",
        ICML 2019; Miyato & Koyama, "cGANs with Projection Discriminator",
        ICLR 2018.
    """
    h, w, c = _check_image_shape(image_shape)
    _check_width(width)
    plan = _D_PLAN[h]
    resolutions = []
    res = h
    for _, down in plan:
        res = res // 2 if down else res
        resolutions.append(res)
    if isinstance(attention_resolutions, str):
        if attention_resolutions != "auto":
            raise ValueError(
                "`attention_resolutions` should be 'auto', None, an int or a "
                f"tuple of ints. Received: `attention_resolutions="
                f"{attention_resolutions!r}`"
            )
        attention_resolutions = (min(32, h // 2),)
    attention = _check_attention(attention_resolutions, resolutions,
                                 "discriminator")
    if num_classes is not None and (
            isinstance(num_classes, bool) or int(num_classes) < 2):
        raise ValueError(
            "`num_classes` should be None (unconditional) or an integer >= 2. "
            f"Received: `num_classes={num_classes!r}`"
        )

    images = keras.Input(image_shape, name="images")
    x = images
    placed = set()
    for i, ((mult, down), res) in enumerate(zip(plan, resolutions)):
        x = _d_block(x, mult * width, down, i == 0, spectral_norm,
                     f"block{i + 1}")
        if res in attention and res not in placed:
            # Once per resolution: after the first block that reaches it.
            placed.add(res)
            x = _attention(x, pool_keys_values, spectral_norm,
                           f"attention_{res}")
    x = layers.ReLU(name="output_relu")(x)
    size = resolutions[-1]
    # Global sum pooling, as in the SNGAN/SAGAN code.
    features = layers.GlobalAveragePooling2D(name="pool")(x)
    features = layers.Rescaling(float(size * size), name="sum_pool")(features)
    logits = _sn(layers.Dense(1, dtype="float32", name="logit"),
                 spectral_norm, "logit")(features)
    if not num_classes:
        return keras.Model(images, logits, name=name)
    labels = keras.Input((), dtype="int32", name="labels")
    embedding = _sn(layers.Embedding(int(num_classes), features.shape[-1],
                                     name="class_embedding"),
                    spectral_norm, "class_embedding")(labels)
    projection = layers.Dot(axes=1, dtype="float32", name="projection")(
        [embedding, features])
    logits = layers.Add(dtype="float32", name="logit_plus_projection")(
        [logits, projection])
    return keras.Model([images, labels], logits, name=name)


def sagan_optimizers(d_learning_rate=4e-4, g_learning_rate=1e-4, beta_1=0.0,
                     beta_2=0.9):
    """The two-time-scale Adam optimizers of SAGAN: `(d_optimizer, g_optimizer)`.

    Reference:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule
        Converge to a Local Nash Equilibrium", NeurIPS 2017.
    """
    d_opt = keras.optimizers.Adam(d_learning_rate, beta_1=beta_1,
                                  beta_2=beta_2)
    g_opt = keras.optimizers.Adam(g_learning_rate, beta_1=beta_1,
                                  beta_2=beta_2)
    return d_opt, g_opt


def sagan_compile_kwargs(**overrides):
    """`GAN.compile` arguments of SAGAN: hinge loss, TTUR (D 4e-4, G 1e-4,
    Adam betas 0 and 0.9), one D step per G step.

    >>> gan.compile(**sagan_compile_kwargs())
    """
    d_opt, g_opt = sagan_optimizers()
    kwargs = {"d_optimizer": d_opt, "g_optimizer": g_opt, "loss": "hinge",
              "n_critic": 1}
    kwargs.update(overrides)
    return kwargs

"""StackGAN stage-I generator and text-conditional discriminator builders."""

import keras
from keras import layers

from keras_gan_stable.layers.conditioning_augmentation import (
    ConditioningAugmentation)


def _check(name, value, low=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(
            f"`{name}` should be an integer >= {low}. Received: "
            f"`{name}={value!r}`")


def _check_size(image_size):
    if (isinstance(image_size, bool) or not isinstance(image_size, int)
            or image_size < 8 or image_size & (image_size - 1)):
        raise ValueError(
            "`image_size` should be a power of two >= 8 (16, 32, 64). "
            f"Received: `image_size={image_size!r}`")


def stackgan_stage1_generator(noise_dim=100, embedding_dim=256,
                              condition_dim=128, image_size=64, width=64,
                              channels=3, name="stackgan_stage1_generator"):
    """StackGAN's stage-I generator: `[z, e]` -> images in [-1, 1].

    `z` `[B, noise_dim + condition_dim]` (the last `condition_dim` entries
    feed the conditioning augmentation's sampling) and the sentence
    embedding `e` `[B, embedding_dim]`. `concat(noise, c)` goes through a
    dense layer to `4 x 4 x 8 width` features, then upsampling blocks
    (nearest x2, 3x3 conv, BatchNorm, ReLU) halving the channels down to
    `width` at `image_size`, and a 3x3 conv with tanh.

    Reference:
        Zhang et al., "StackGAN", ICCV 2017 (stage-I generator).
    """
    for key, value in (("noise_dim", noise_dim),
                       ("embedding_dim", embedding_dim),
                       ("condition_dim", condition_dim), ("width", width),
                       ("channels", channels)):
        _check(key, value, 0 if key == "noise_dim" else 1)
    _check_size(image_size)
    z = keras.Input((noise_dim + condition_dim,), name="z")
    e = keras.Input((embedding_dim,), name="embedding")
    x = ConditioningAugmentation(condition_dim, name="conditioning")([z, e])
    blocks = image_size.bit_length() - 3  # 4 -> image_size
    ch = width * min(8, 2 ** blocks)
    x = layers.Dense(4 * 4 * ch, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((4, 4, ch))(x)
    for _ in range(blocks):
        ch = max(width, ch // 2)
        x = layers.UpSampling2D(2, interpolation="nearest")(x)
        x = layers.Conv2D(ch, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.Conv2D(channels, 3, padding="same")(x)
    x = layers.Activation("tanh", dtype="float32")(x)
    return keras.Model([z, e], x, name=name)


def stackgan_stage1_discriminator(image_size=64, embedding_dim=256,
                                  condition_dim=128, width=64, channels=3,
                                  name="stackgan_stage1_discriminator"):
    """StackGAN's text-conditional discriminator: `[images, e]` -> logits.

    Strided 4x4 convolutions (LeakyReLU 0.2, BatchNorm after the first)
    bring the image to `4 x 4`; the sentence embedding is compressed by a
    dense layer to `condition_dim`, replicated over the `4 x 4` grid and
    concatenated; a 1x1 convolution and a 4x4 valid convolution give one
    logit per image `[B, 1]`.

    Reference:
        Zhang et al., "StackGAN", ICCV 2017 (stage-I discriminator).
    """
    for key, value in (("embedding_dim", embedding_dim),
                       ("condition_dim", condition_dim), ("width", width),
                       ("channels", channels)):
        _check(key, value)
    _check_size(image_size)
    img = keras.Input((image_size, image_size, channels), name="images")
    e = keras.Input((embedding_dim,), name="embedding")
    x = img
    ch = width
    for i in range(image_size.bit_length() - 3):
        x = layers.Conv2D(ch, 4, strides=2, padding="same",
                          use_bias=i == 0)(x)
        if i:
            x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
        ch = min(ch * 2, width * 8)
    t = layers.Dense(condition_dim)(e)
    t = layers.LeakyReLU(0.2)(t)
    t = layers.Reshape((1, 1, condition_dim))(t)
    t = layers.UpSampling2D(4)(t)  # [B, 4, 4, condition_dim]
    x = layers.Concatenate()([x, t])
    x = layers.Conv2D(x.shape[-1] - condition_dim, 1, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(1, 4, padding="valid")(x)
    x = layers.Reshape((1,))(x)
    x = layers.Activation("linear", dtype="float32")(x)
    return keras.Model([img, e], x, name=name)

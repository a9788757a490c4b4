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
                                  normalization="batch", projection=False,
                                  name="stackgan_stage1_discriminator"):
    """StackGAN's text-conditional discriminator: `[images, e]` -> logits.

    Strided 4x4 convolutions (LeakyReLU 0.2, `normalization` after the
    first) bring the image to `4 x 4`; the sentence embedding is compressed
    by a dense layer to `condition_dim`, replicated over the `4 x 4` grid
    and concatenated; a 1x1 convolution and a 4x4 valid convolution give
    one logit per image `[B, 1]`.

    `normalization`: `"batch"` (the paper's BatchNorm), `"layer"`
    (LayerNorm over each sample's map) or `"none"`; the last two keep the
    samples of a batch apart, as a gradient penalty (R1) needs.

    `projection=True` adds a projection term to the logit (Miyato & Koyama
    2018): `<W e, vec(h)>`, the inner product of a linear map of the
    sentence embedding with the flattened `4 x 4` image features `h`
    (taken before the concatenation). Flattening, not pooling, keeps where
    things are, so the term can score "a circle on the left" against the
    layout. The concatenation path stays.

    Reference:
        Zhang et al., "StackGAN", ICCV 2017 (stage-I discriminator).
        Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018.
    """
    for key, value in (("embedding_dim", embedding_dim),
                       ("condition_dim", condition_dim), ("width", width),
                       ("channels", channels)):
        _check(key, value)
    _check_size(image_size)
    if normalization not in ("batch", "layer", "none"):
        raise ValueError(
            "`normalization` should be 'batch', 'layer' or 'none'. "
            f"Received: `normalization={normalization!r}`")
    if not isinstance(projection, bool):
        raise ValueError(
            "`projection` should be True (add the projection term) or "
            f"False. Received: `projection={projection!r}`")

    def norm(x):
        if normalization == "batch":
            return layers.BatchNormalization()(x)
        if normalization == "layer":
            return layers.LayerNormalization(axis=[1, 2, 3])(x)
        return x

    img = keras.Input((image_size, image_size, channels), name="images")
    e = keras.Input((embedding_dim,), name="embedding")
    x = img
    ch = width
    for i in range(image_size.bit_length() - 3):
        x = layers.Conv2D(ch, 4, strides=2, padding="same",
                          use_bias=i == 0 or normalization == "none")(x)
        if i:
            x = norm(x)
        x = layers.LeakyReLU(0.2)(x)
        ch = min(ch * 2, width * 8)
    h = x  # [B, 4, 4, ch]
    t = layers.Dense(condition_dim)(e)
    t = layers.LeakyReLU(0.2)(t)
    t = layers.Reshape((1, 1, condition_dim))(t)
    t = layers.UpSampling2D(4)(t)  # [B, 4, 4, condition_dim]
    x = layers.Concatenate()([x, t])
    x = layers.Conv2D(x.shape[-1] - condition_dim, 1,
                      use_bias=normalization == "none")(x)
    x = norm(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(1, 4, padding="valid")(x)
    x = layers.Reshape((1,))(x)
    if projection:
        flat = layers.Flatten()(h)  # [B, 16 ch]
        w = layers.Dense(flat.shape[-1], use_bias=False,
                         name="projection")(e)
        x = layers.Add()([x, layers.Dot(axes=1)([w, flat])])
    x = layers.Activation("linear", dtype="float32")(x)
    return keras.Model([img, e], x, name=name)


def stackgan_stage2_generator(stage1_generator, condition_dim=128, width=32,
                              residual_blocks=2,
                              name="stackgan_stage2_generator"):
    """StackGAN's stage-II generator around a frozen stage-I generator.

    Takes `[z, e]` with `z` `[B, stage1_latent + condition_dim]`: the first
    `stage1_latent` entries drive the stage-I generator (frozen: its
    weights are not trainable and its BatchNorm runs in inference mode),
    the last `condition_dim` are the sampling noise of stage II's own
    conditioning augmentation. The stage-I image (`S x S`) is encoded by a
    3x3 convolution and two strided 4x4 convolutions to `S/4 x S/4 x
    4 width`, joined with the replicated condition by a 3x3 convolution,
    refined by `residual_blocks` residual blocks and upsampled three times
    (nearest x2, 3x3 conv, BatchNorm, ReLU) to a `2S x 2S` image (3x3 conv,
    tanh). Layers are named `stage2_*`.

    Args:
        stage1_generator: `keras.Model` `[z1, e] -> images` (e.g.
            `stackgan_stage1_generator`), trained; it is frozen here.
        condition_dim: int. Size of stage II's condition. Defaults to 128.
        width: int. Channels of the first encoder convolution. Defaults
            to 32.
        residual_blocks: int. Defaults to 2 (the authors use 4 at 256 px).

    Reference:
        Zhang et al., "StackGAN", ICCV 2017 (stage-II generator).
    """
    if not isinstance(stage1_generator, keras.Model) or len(
            stage1_generator.inputs) != 2:
        raise ValueError(
            "`stage1_generator` should be a two-input Keras model "
            "[z, sentence embedding] -> images (e.g. "
            "`stackgan_stage1_generator`). Received: "
            f"`stage1_generator={stage1_generator!r}`")
    for key, value in (("condition_dim", condition_dim), ("width", width),
                       ("residual_blocks", residual_blocks)):
        _check(key, value, 0 if key == "residual_blocks" else 1)
    z1_dim = int(stage1_generator.inputs[0].shape[-1])
    emb_dim = int(stage1_generator.inputs[1].shape[-1])
    _, size, _, channels = stage1_generator.outputs[0].shape
    if size is None or size < 8 or size & (size - 1):
        raise ValueError(
            "The stage-I generator should make square images of a "
            f"power-of-two size >= 8. Received output shape "
            f"{tuple(stage1_generator.outputs[0].shape)}.")
    stage1_generator.trainable = False
    z = keras.Input((z1_dim + condition_dim,), name="z")
    e = keras.Input((emb_dim,), name="embedding")
    low = stage1_generator([z[:, :z1_dim], e])
    c = ConditioningAugmentation(condition_dim, name="stage2_conditioning")(
        [z[:, z1_dim:], e])  # [B, condition_dim]: no noise part

    def bn_relu(x, tag):
        x = layers.BatchNormalization(name=f"stage2_{tag}_bn")(x)
        return layers.ReLU()(x)

    x = layers.Conv2D(width, 3, padding="same", name="stage2_enc0")(low)
    x = layers.ReLU()(x)
    for i, ch in ((1, 2 * width), (2, 4 * width)):
        x = layers.Conv2D(ch, 4, strides=2, padding="same", use_bias=False,
                          name=f"stage2_enc{i}")(x)
        x = bn_relu(x, f"enc{i}")
    t = layers.Reshape((1, 1, condition_dim))(c)
    t = layers.UpSampling2D(size // 4)(t)  # [B, S/4, S/4, condition_dim]
    x = layers.Concatenate()([x, t])
    x = layers.Conv2D(4 * width, 3, padding="same", use_bias=False,
                      name="stage2_joint")(x)
    x = bn_relu(x, "joint")
    for i in range(residual_blocks):
        y = layers.Conv2D(4 * width, 3, padding="same", use_bias=False,
                          name=f"stage2_res{i}a")(x)
        y = bn_relu(y, f"res{i}a")
        y = layers.Conv2D(4 * width, 3, padding="same", use_bias=False,
                          name=f"stage2_res{i}b")(y)
        y = layers.BatchNormalization(name=f"stage2_res{i}b_bn")(y)
        x = layers.ReLU()(layers.Add()([x, y]))
    ch = 4 * width
    for i in range(3):
        ch = max(width // 2, ch // 2, 1)
        x = layers.UpSampling2D(2, interpolation="nearest")(x)
        x = layers.Conv2D(ch, 3, padding="same", use_bias=False,
                          name=f"stage2_up{i}")(x)
        x = bn_relu(x, f"up{i}")
    x = layers.Conv2D(channels, 3, padding="same", name="stage2_out")(x)
    x = layers.Activation("tanh", dtype="float32")(x)
    return keras.Model([z, e], x, name=name)

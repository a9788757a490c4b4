"""AttnGAN and DM-GAN generators: an initial stage from the sentence and
noise, then refinement stages driven by the caption's word features."""

import keras
from keras import layers
from keras import ops

from keras_gan_stable.architectures.stackgan import _check
from keras_gan_stable.layers.conditional_batch_norm import (
    VectorConditionalBatchNormalization)
from keras_gan_stable.layers.conditioning_augmentation import (
    ConditioningAugmentation)
from keras_gan_stable.layers.dynamic_memory import DynamicMemory
from keras_gan_stable.layers.word_attention import WordAttention


def _check_sizes(image_size, refinement_stages):
    _check("refinement_stages", refinement_stages, 1)
    base = (image_size >> refinement_stages
            if isinstance(image_size, int) and not isinstance(
                image_size, bool) else 0)
    if (not isinstance(image_size, int) or isinstance(image_size, bool)
            or image_size & (image_size - 1) or base < 4):
        raise ValueError(
            "`image_size` should be a power of two with image_size / "
            "2**refinement_stages >= 4 (the initial stage starts at 4 x 4). "
            f"Received: `image_size={image_size!r}`, "
            f"`refinement_stages={refinement_stages!r}`")
    return base


def _bn_relu(x, name):
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU()(x)


def pack_stage_images(images):
    """Images of growing sizes `[B, S / 2**k, S / 2**k, C]` (coarse to fine,
    the last at `S`) as one tensor `[B, S, S, C * K]`: each repeated up to
    `S` (nearest neighbour) and stacked on the channels. The
    multi-stage discriminator's input: one tensor, so `GAN`'s step carries
    every stage's image unchanged; `unpack_stage_images` inverts it
    exactly (the mean of equal values)."""
    size = images[-1].shape[1]
    parts = [x if x.shape[1] == size else
             ops.repeat(ops.repeat(x, size // x.shape[1], axis=1),
                        size // x.shape[1], axis=2) for x in images]
    return ops.concatenate(parts, axis=-1)


def unpack_stage_images(packed, stages, channels=3):
    """The `stages` images of `pack_stage_images`, coarse to fine."""
    size = packed.shape[1]
    out = []
    for k in range(stages):
        x = packed[..., k * channels:(k + 1) * channels]
        f = 2 ** (stages - 1 - k)
        if f > 1:  # the mean of f x f equal values: exact
            x = ops.mean(ops.reshape(
                x, (-1, size // f, f, size // f, f, channels)), axis=(2, 4))
        out.append(x)
    return out


def stage_images_of(images, stages):
    """Real images `[B, S, S, C]` packed as `pack_stage_images` packs a
    generator's stages: stage `k` is the image averaged over `2**(stages -
    1 - k)`-pixel squares (the resolution its discriminator sees)."""
    images = ops.cast(images, "float32")
    size, c = images.shape[1], images.shape[-1]
    parts = []
    for k in range(stages):
        f = 2 ** (stages - 1 - k)
        x = images
        if f > 1:
            x = ops.mean(ops.reshape(
                x, (-1, size // f, f, size // f, f, c)), axis=(2, 4))
        parts.append(x)
    return pack_stage_images(parts)


def multi_stage_discriminator(discriminators, image_size, channels=3,
                              name="multi_stage_discriminator"):
    """One discriminator per stage, as one model: `[packed images,
    sentence] -> logits [B, K]`.

    `packed` is `pack_stage_images` of the K stages' images (coarse to
    fine, the last at `image_size`); discriminator `k` (e.g.
    `stackgan_stage1_discriminator(image_size / 2**(K-1-k), ...)`) sees
    stage `k`'s image at its own resolution. The losses of `losses.py`
    average over the K logits, so each stage's adversarial term has weight
    1/K (the paper sums them: a factor K on the learning rate).

    Reference:
        Xu et al., "AttnGAN", CVPR 2018 (a discriminator per stage).
    """
    k = len(discriminators)
    if k < 2:
        raise ValueError(
            "`discriminators` should hold one discriminator per stage (at "
            f"least 2). Received {k}.")
    dim = discriminators[0].inputs[1].shape[-1]
    packed = keras.Input((image_size, image_size, channels * k),
                         name="stage_images")
    sentence = keras.Input((dim,), name="sentence")
    logits = []
    for d, x in zip(discriminators, unpack_stage_images(packed, k, channels)):
        if tuple(d.inputs[0].shape[1:3]) != tuple(x.shape[1:3]):
            raise ValueError(
                f"Discriminator {d.name!r} takes {d.inputs[0].shape[1:3]} "
                f"images, but its stage's images are {x.shape[1:3]}. Build "
                "stage k's discriminator for image_size / 2**(K - 1 - k).")
        logits.append(d([x, sentence]))
    out = layers.Concatenate(dtype="float32")(logits)
    return keras.Model([packed, sentence], out, name=name)


def _text_generator(stage_layer, noise_dim, text_dim, condition_dim,
                    image_size, refinement_stages, width, residual_blocks,
                    max_words, channels, name, stage_images=False,
                    sentence_affine=False):
    for key, value in (("noise_dim", noise_dim), ("text_dim", text_dim),
                       ("condition_dim", condition_dim), ("width", width),
                       ("residual_blocks", residual_blocks),
                       ("channels", channels)):
        _check(key, value, 0 if key in ("noise_dim", "residual_blocks")
               else 1)
    if max_words is not None:
        _check("max_words", max_words, 1)
    if not isinstance(sentence_affine, bool):
        raise ValueError(
            "`sentence_affine` should be True (batch normalisation of the "
            "feature maps conditioned on the sentence) or False. Received: "
            f"`sentence_affine={sentence_affine!r}`")
    base = _check_sizes(image_size, refinement_stages)
    z = keras.Input((noise_dim + condition_dim,), name="z")
    sentence = keras.Input((text_dim,), name="sentence")
    words = keras.Input((max_words, text_dim), name="words")
    mask = keras.Input((max_words,), name="mask")

    def norm(x, tag):  # the feature maps' batch normalisation
        if sentence_affine:
            return VectorConditionalBatchNormalization(
                hidden_units=width, name=f"{tag}_bn")([x, sentence])
        return layers.BatchNormalization(name=f"{tag}_bn")(x)

    def bn_relu(x, tag):
        return layers.ReLU()(norm(x, tag))
    # Initial stage F_0: [z, c] -> h_0 at `base` px.
    x = ConditioningAugmentation(condition_dim, name="conditioning")(
        [z, sentence])
    blocks = base.bit_length() - 3  # 4 -> base
    ch = width * min(8, 2 ** blocks)
    x = layers.Dense(4 * 4 * ch, use_bias=False, name="initial_dense")(x)
    x = _bn_relu(x, "initial_dense")
    x = layers.Reshape((4, 4, ch))(x)
    for i in range(blocks):
        ch = max(width, ch // 2)
        x = layers.UpSampling2D(2, interpolation="nearest")(x)
        x = layers.Conv2D(ch, 3, padding="same", use_bias=False,
                          name=f"initial_up{i}")(x)
        x = bn_relu(x, f"initial_up{i}")
    # Refinement stages F_i: the words act on h_{i-1}, residual blocks
    # refine the result and a x2 upsampling gives h_i.
    images = []
    for s in range(refinement_stages):
        if stage_images:  # this stage's image (AttnGAN's G_i)
            y = layers.Conv2D(channels, 3, padding="same",
                              name=f"to_image{s}")(x)
            images.append(layers.Activation("tanh", dtype="float32")(y))
        x = stage_layer(s, x, words, mask, bn_relu)
        for r in range(residual_blocks):
            y = layers.Conv2D(width, 3, padding="same", use_bias=False,
                              name=f"stage{s}_res{r}a")(x)
            y = bn_relu(y, f"stage{s}_res{r}a")
            y = layers.Conv2D(width, 3, padding="same", use_bias=False,
                              name=f"stage{s}_res{r}b")(y)
            y = norm(y, f"stage{s}_res{r}b")
            x = layers.ReLU()(layers.Add()([x, y]))
        x = layers.UpSampling2D(2, interpolation="nearest")(x)
        x = layers.Conv2D(width, 3, padding="same", use_bias=False,
                          name=f"stage{s}_up")(x)
        x = bn_relu(x, f"stage{s}_up")
    x = layers.Conv2D(channels, 3, padding="same", name="to_image")(x)
    x = layers.Activation("tanh", dtype="float32")(x)
    if stage_images:
        x = pack_stage_images(images + [x])
    return keras.Model([z, sentence, words, mask], x, name=name)


def attngan_generator(noise_dim=100, text_dim=256, condition_dim=100,
                      image_size=64, refinement_stages=1, width=32,
                      residual_blocks=2, max_words=None, channels=3,
                      name="attngan_generator", stage_images=False,
                      sentence_affine=False):
    """AttnGAN's attentional generative network: `[z, sentence, words, mask]`
    -> images in [-1, 1].

    `z` `[B, noise_dim + condition_dim]` (its last `condition_dim` entries
    are the conditioning augmentation's sample), `sentence` `[B, text_dim]`,
    `words` `[B, T, text_dim]`, `mask` `[B, T]` (1 at words, 0 at padding).
    The initial stage maps `[noise, CA(sentence)]` through a dense layer to
    `4 x 4` and upsamples (nearest x2, 3x3 conv, BatchNorm, ReLU) to
    `h_0` at `image_size / 2**refinement_stages` with `width` channels.
    Each refinement stage computes the word-context features
    `c = WordAttention([h, words, mask])`, joins `[h, c]` with a 3x3
    convolution, applies `residual_blocks` residual blocks and upsamples x2;
    a 3x3 convolution with tanh makes the image at `image_size`.

    CPU-sized: 32 px with `image_size=32, refinement_stages=1` (16 px
    initial stage), or stage 1 at 32 and stage 2 at 64 with
    `image_size=64`. By default only the last stage's image is output (one
    discriminator on the final image); with `stage_images=True` every
    stage makes an image (a 3x3 convolution with tanh, the paper's G_i)
    and the output is `pack_stage_images` of them, `[B, S, S, channels *
    (refinement_stages + 1)]`, the last `channels` being the final image,
    for one discriminator per stage (`multi_stage_discriminator`,
    `AttnGAN(image_stages=...)`).

    `sentence_affine=True` conditions every batch normalisation of the
    feature maps on the sentence (`VectorConditionalBatchNormalization`
    with `width` hidden units: a per-channel scale and shift predicted from
    the sentence feature, DF-GAN's affine fusion), so the sentence steers
    each block directly and not only through the conditioning
    augmentation's sample at the start. It starts as plain batch
    normalisation.

    >>> g = attngan_generator(100, 64, 100, image_size=32, width=32)
    >>> images = g([z, sentence, words, mask])   # [B, 32, 32, 3]

    Reference:
        Xu et al., "AttnGAN", CVPR 2018 (Section 3.1).
    """

    def stage(s, h, words, mask, bn_relu):
        c = WordAttention(name=f"stage{s}_attention")([h, words, mask])
        x = layers.Concatenate()([h, c])
        x = layers.Conv2D(width, 3, padding="same", use_bias=False,
                          name=f"stage{s}_joint")(x)
        return bn_relu(x, f"stage{s}_joint")

    return _text_generator(stage, noise_dim, text_dim, condition_dim,
                           image_size, refinement_stages, width,
                           residual_blocks, max_words, channels, name,
                           stage_images, sentence_affine)


def dmgan_generator(noise_dim=100, text_dim=256, condition_dim=100,
                    image_size=64, refinement_stages=1, width=32,
                    residual_blocks=2, memory_dim=None, max_words=None,
                    channels=3, name="dmgan_generator", stage_images=False,
                    sentence_affine=False):
    """DM-GAN's generator: an initial image from sentence and noise, then
    dynamic-memory refinement. `[z, sentence, words, mask]` -> images.

    Inputs and the initial stage as for `attngan_generator`. Each
    refinement stage applies a `DynamicMemory` layer (memory writing gate
    over the words and the mean image feature, key/value addressing per
    pixel, response gate fusing the memory response with the image
    features), then `residual_blocks` residual blocks and a x2 upsampling.
    `sentence_affine` as for `attngan_generator`.

    >>> g = dmgan_generator(100, 64, 100, image_size=32, width=32)

    Reference:
        Zhu et al., "DM-GAN", CVPR 2019 (Section 3).
    """
    if memory_dim is not None:
        _check("memory_dim", memory_dim, 1)

    def stage(s, h, words, mask, bn_relu):
        return DynamicMemory(memory_dim, name=f"stage{s}_memory")(
            [h, words, mask])

    return _text_generator(stage, noise_dim, text_dim, condition_dim,
                           image_size, refinement_stages, width,
                           residual_blocks, max_words, channels, name,
                           stage_images, sentence_affine)

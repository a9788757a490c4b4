"""The pix2pix U-Net generator (Isola et al. 2017)."""

import keras
from keras import layers


def _check_shape(input_shape, depth):
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            "`input_shape` should be (height, width, channels). Received: "
            f"`input_shape={input_shape}`"
        )
    f = 2 ** depth
    if shape[0] % f or shape[1] % f:
        raise ValueError(
            f"A U-Net of depth {depth} halves the size {depth} times, so the "
            f"height and width should be multiples of {f}. Received: "
            f"`input_shape={shape}`. Lower `depth` or resize the images."
        )
    return shape


def _norm(kind, name):
    if kind == "batch":
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)
    if kind == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)
    return None


def unet_generator(input_shape=(32, 32, 3), output_channels=3, filters=64,
                   depth=None, max_filters=512, normalization="batch",
                   dropout=0.5, name="unet_generator"):
    """pix2pix's U-Net: a 4x4 stride-2 encoder-decoder with skip connections.

    Encoder: `depth` blocks Conv(4, stride 2) - Norm - LeakyReLU(0.2) (no
    norm on the first); decoder: ConvTranspose(4, stride 2) - Norm - ReLU,
    concatenated with the mirrored encoder block, dropout on the three
    innermost decoder blocks; a tanh output of the input's size.

    Args:
        input_shape: `(H, W, C_in)`; H and W multiples of `2 ** depth`.
        output_channels: int. Defaults to `3`.
        filters: int. Channels of the first block (doubling up to
            `max_filters`). Defaults to `64` (use 8-16 on CPU).
        depth: int or `None`. Down-sampling blocks; defaults to
            `log2(min(H, W))` (down to 1x1, as pix2pix at 256 px with 8).
        normalization: `"batch"` (pix2pix), `"instance"` (CycleGAN) or
            `None`.
        dropout: float. Dropout in the inner decoder blocks (pix2pix's
            noise source). Defaults to `0.5`.

    Reference:
        Isola et al., "Image-to-Image Translation with Conditional
        Adversarial Networks", CVPR 2017; Ronneberger et al. 2015.
    """
    if depth is None:
        depth = max(1, int(min(input_shape[:2])).bit_length() - 1)
    depth = int(depth)
    if depth < 1:
        raise ValueError(f"`depth` should be >= 1. Received: `depth={depth}`")
    if normalization not in ("batch", "instance", None):
        raise ValueError(
            "`normalization` should be 'batch', 'instance' or None. "
            f"Received: `normalization={normalization!r}`"
        )
    shape = _check_shape(input_shape, depth)
    init = keras.initializers.RandomNormal(0.0, 0.02)
    inputs = keras.Input(shape, name="inputs")
    x = inputs
    skips = []
    for i in range(depth):
        ch = min(filters * 2 ** i, max_filters)
        x = layers.Conv2D(ch, 4, strides=2, padding="same",
                          kernel_initializer=init, use_bias=i == 0,
                          name=f"down{i}_conv")(x)
        norm = _norm(normalization, f"down{i}_norm") if 0 < i < depth - 1 \
            else None
        if norm is not None:
            x = norm(x)
        x = layers.LeakyReLU(0.2, name=f"down{i}_act")(x)
        skips.append(x)
    for i in reversed(range(depth - 1)):
        ch = min(filters * 2 ** i, max_filters)
        x = layers.Conv2DTranspose(ch, 4, strides=2, padding="same",
                                   kernel_initializer=init, use_bias=False,
                                   name=f"up{i}_conv")(x)
        norm = _norm(normalization, f"up{i}_norm")
        if norm is not None:
            x = norm(x)
        if dropout and i >= depth - 4:
            x = layers.Dropout(dropout, name=f"up{i}_dropout")(x)
        x = layers.ReLU(name=f"up{i}_act")(x)
        x = layers.Concatenate(name=f"up{i}_skip")([x, skips[i]])
    x = layers.Conv2DTranspose(int(output_channels), 4, strides=2,
                               padding="same", kernel_initializer=init,
                               name="out_conv")(x)
    x = layers.Activation("tanh", dtype="float32", name="out")(x)
    return keras.Model(inputs, x, name=name)

"""ESRGAN's residual-in-residual dense block (RRDB) generator."""

import keras
from keras import layers



def _dense_block(x, filters, growth, beta, name):
    feats = [x]
    for i in range(4):
        inp = feats[0] if i == 0 else layers.Concatenate(
            name=f"{name}_cat{i}")(feats)
        y = layers.Conv2D(growth, 3, padding="same", name=f"{name}_conv{i}")(inp)
        y = layers.LeakyReLU(0.2, name=f"{name}_act{i}")(y)
        feats.append(y)
    y = layers.Concatenate(name=f"{name}_cat4")(feats)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv4")(y)
    y = layers.Rescaling(beta, name=f"{name}_beta")(y)
    return layers.Add(name=f"{name}_res")([x, y])


def rrdb_generator(input_shape=(8, 8, 3), scale=4, filters=64, num_blocks=23,
                   growth=32, residual_scale=0.2, output_channels=None,
                   name="rrdb_generator"):
    """ESRGAN's super-resolution generator.

    A 3x3 convolution, `num_blocks` residual-in-residual dense blocks (each
    three dense blocks of five convolutions with residual scaling
    `residual_scale`, no BatchNorm), a global skip, `log2(scale)` nearest
    x2 upsamplings each followed by a convolution and LeakyReLU, and two
    output convolutions. The output is linear (not tanh), as in ESRGAN. The
    paper's configuration is `filters=64, num_blocks=23, growth=32`; on CPU
    use e.g. `filters=32, num_blocks=2, growth=16`.

    Args:
        input_shape: `(h, w, C)` of the low-resolution input.
        scale: 1, 2 or 4. Defaults to `4`. With 1 (denoising, inpainting)
            the output has the input's size.
        filters, num_blocks, growth: ints. See above.
        residual_scale: float. Defaults to `0.2`.
        output_channels: int or `None` (the input's channels).

    Reference:
        Wang et al., "ESRGAN: Enhanced Super-Resolution Generative
        Adversarial Networks", ECCV Workshops 2018.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            "`input_shape` should be (height, width, channels). Received: "
            f"`input_shape={input_shape}`"
        )
    if isinstance(scale, bool) or scale not in (1, 2, 4):
        raise ValueError(
            f"`scale` should be 1, 2 or 4. Received: `scale={scale!r}`"
        )
    if int(num_blocks) < 1:
        raise ValueError(
            f"`num_blocks` should be >= 1. Received: `num_blocks={num_blocks}`"
        )
    out_ch = shape[2] if output_channels is None else int(output_channels)
    inputs = keras.Input(shape, name="inputs")
    first = layers.Conv2D(filters, 3, padding="same", name="conv_first")(inputs)
    x = first
    for b in range(int(num_blocks)):
        y = x
        for d in range(3):
            y = _dense_block(y, filters, growth, residual_scale,
                             f"rrdb{b}_dense{d}")
        y = layers.Rescaling(residual_scale, name=f"rrdb{b}_beta")(y)
        x = layers.Add(name=f"rrdb{b}_res")([x, y])
    x = layers.Conv2D(filters, 3, padding="same", name="conv_body")(x)
    x = layers.Add(name="global_skip")([first, x])
    for i in range({1: 0, 2: 1, 4: 2}[scale]):
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}")(x)
        x = layers.Conv2D(filters, 3, padding="same", name=f"up{i}_conv")(x)
        x = layers.LeakyReLU(0.2, name=f"up{i}_act")(x)
    x = layers.Conv2D(filters, 3, padding="same", name="conv_hr")(x)
    x = layers.LeakyReLU(0.2, name="conv_hr_act")(x)
    x = layers.Conv2D(out_ch, 3, padding="same", name="conv_last")(x)
    x = layers.Activation("linear", dtype="float32", name="out")(x)
    return keras.Model(inputs, x, name=name)

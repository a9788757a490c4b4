"""A DeepFill-v2-style inpainting generator of gated convolutions."""

import keras
from keras import layers
from keras import ops

from keras_gan_stable.layers.gated_conv2d import GatedConv2D


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class KeepKnownPixels(keras.layers.Layer):
    """`inputs[..., :C] * (1 - mask) + generated * mask`: the output keeps
    the known pixels and fills the hole (mask = last input channel)."""

    def call(self, inputs):
        masked, generated = inputs
        c = generated.shape[-1]
        mask = masked[..., -1:]
        return ops.cast(masked[..., :c], generated.dtype) * (1.0 - mask) \
            + generated * mask

    def compute_output_shape(self, input_shape):
        return input_shape[1]


def deepfill_generator(input_shape=(32, 32, 4), filters=32, dilations=(2, 4, 8),
                       keep_known=True, name="deepfill_generator"):
    """A one-stage DeepFill v2 coarse network for `inpainting()` pairs.

    Input `[N, H, W, C + 1]`: the image with holes and the mask channel (1
    in the hole), as `inpainting()` makes them. Gated convolutions (ELU
    features, sigmoid gates): a 5x5 stem, two stride-2 stages, dilated
    3x3 gated convolutions at 1/4 size (`dilations`, the enlarged receptive
    field of the paper), two nearest x2 upsampling stages and a tanh output;
    with `keep_known=True` the known pixels are pasted back
    (`x * (1 - m) + G(x) * m`). The paper's second (contextual attention)
    stage is left out.

    Args:
        input_shape: `(H, W, C + 1)`; H and W multiples of 4.
        filters: int. Channels of the stem (the paper: 48). Defaults to `32`.
        dilations: tuple of ints. Dilation rates of the middle layers.
        keep_known: bool. Paste the known pixels back. Defaults to `True`.

    Reference:
        Yu et al., "Free-Form Image Inpainting with Gated Convolution",
        ICCV 2019.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or shape[2] < 2 or shape[0] % 4 or shape[1] % 4:
        raise ValueError(
            "`input_shape` should be (height, width, channels + 1 mask "
            "channel) with height and width multiples of 4. Received: "
            f"`input_shape={input_shape}`"
        )
    f = int(filters)
    inputs = keras.Input(shape, name="inputs")
    x = GatedConv2D(f, 5, name="stem")(inputs)
    x = GatedConv2D(2 * f, 3, strides=2, name="down1")(x)
    x = GatedConv2D(2 * f, 3, name="conv1")(x)
    x = GatedConv2D(4 * f, 3, strides=2, name="down2")(x)
    for i, d in enumerate(dilations):
        x = GatedConv2D(4 * f, 3, dilation_rate=int(d), name=f"dilated{i}")(x)
    x = GatedConv2D(4 * f, 3, name="conv2")(x)
    x = layers.UpSampling2D(2, name="up1")(x)
    x = GatedConv2D(2 * f, 3, name="up1_conv")(x)
    x = layers.UpSampling2D(2, name="up2")(x)
    x = GatedConv2D(f, 3, name="up2_conv")(x)
    x = GatedConv2D(shape[2] - 1, 3, activation=None, name="to_image")(x)
    x = layers.Activation("tanh", dtype="float32", name="out")(x)
    if keep_known:
        x = KeepKnownPixels(name="keep_known")([inputs, x])
    return keras.Model(inputs, x, name=name)

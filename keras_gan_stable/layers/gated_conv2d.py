"""`GatedConv2D`: DeepFill v2's gated convolution."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class GatedConv2D(keras.layers.Layer):
    """Gated convolution: `act(conv_f(x)) * sigmoid(conv_g(x))`.

    Two convolutions of the same geometry; the sigmoid gate is a learned,
    per-pixel, per-channel soft mask, which lets an inpainting network
    treat valid pixels and holes (and the user's mask channel) differently
    at every layer. The two kernels are one convolution of `2 * filters`
    outputs, split in half: the first half is the feature, the second the
    gate.

    Args:
        filters: int. Output channels.
        kernel_size: int or tuple. Defaults to `3`.
        strides: int or tuple. Defaults to `1`.
        dilation_rate: int or tuple. Defaults to `1`.
        padding: `"same"` or `"valid"`. Defaults to `"same"`.
        activation: activation of the feature half. Defaults to `"elu"`
            (DeepFill v2); `None` for linear.

    >>> GatedConv2D(16, 3)(np.zeros((1, 8, 8, 4))).shape
    (1, 8, 8, 16)

    Reference:
        Yu et al., "Free-Form Image Inpainting with Gated Convolution",
        ICCV 2019.
    """

    def __init__(self, filters, kernel_size=3, strides=1, dilation_rate=1,
                 padding="same", activation="elu", **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or int(filters) < 1:
            raise ValueError(
                "`filters` should be a positive integer. Received: "
                f"`filters={filters!r}`"
            )
        self.filters = int(filters)
        self.kernel_size = kernel_size
        self.strides = strides
        self.dilation_rate = dilation_rate
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.conv = keras.layers.Conv2D(
            2 * self.filters, kernel_size, strides=strides, padding=padding,
            dilation_rate=dilation_rate, name="conv")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.built = True

    def call(self, inputs):
        y = self.conv(inputs)
        features, gate = y[..., :self.filters], y[..., self.filters:]
        return self.activation(features) * ops.sigmoid(gate)

    def compute_output_shape(self, input_shape):
        shape = self.conv.compute_output_shape(input_shape)
        return tuple(shape[:-1]) + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "dilation_rate": self.dilation_rate,
            "padding": self.padding,
            "activation": keras.activations.serialize(self.activation),
        }

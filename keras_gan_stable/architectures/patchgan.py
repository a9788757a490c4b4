"""The PatchGAN discriminator (pix2pix's 70x70 at 256 px)."""

import keras
from keras import layers

from keras_gan_stable.layers.spectral_normalization import SpectralNormalization


def patchgan_discriminator(input_shape=(32, 32, 6), filters=64, num_layers=3,
                           normalization="batch", spectral_norm=False,
                           name="patchgan_discriminator"):
    """A fully convolutional discriminator that scores overlapping patches.

    `num_layers` Conv(4, stride 2) - Norm - LeakyReLU(0.2) blocks (no norm
    on the first), one stride-1 block, and a 1-channel stride-1 output: a
    logit map `[N, h, w, 1]` (the GAN losses average it per sample). With
    `num_layers=3` each logit sees a 70x70 patch. `spectral_norm=True`
    (and `normalization=None`) gives DeepFill v2's SN-PatchGAN.

    Args:
        input_shape: `(H, W, C)`: for a conditional `ImageToImageGAN`, C is
            the input's plus the output's channels.
        filters: int. Channels of the first block. Defaults to `64`.
        num_layers: int. Stride-2 blocks. Defaults to `3`.
        normalization: `"batch"`, `"instance"`, `"layer"` (use with gradient
            penalties) or `None`.
        spectral_norm: bool. Wrap every convolution in
            `SpectralNormalization`. Defaults to `False`.

    Reference:
        Isola et al., CVPR 2017 (Appendix 6.1.2); Yu et al., ICCV 2019.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            "`input_shape` should be (height, width, channels). Received: "
            f"`input_shape={input_shape}`"
        )
    num_layers = int(num_layers)
    if num_layers < 1 or min(shape[:2]) < 2 ** num_layers:
        raise ValueError(
            f"`num_layers={num_layers}` halves the size {num_layers} times; "
            f"it should be >= 1 and the image ({shape[:2]}) at least "
            f"{2 ** max(num_layers, 0)} pixels. Lower `num_layers`."
        )
    if normalization not in ("batch", "instance", "layer", None):
        raise ValueError(
            "`normalization` should be 'batch', 'instance', 'layer' or None. "
            f"Received: `normalization={normalization!r}`"
        )
    init = keras.initializers.RandomNormal(0.0, 0.02)

    def conv(ch, strides, name, bias):
        layer = layers.Conv2D(ch, 4, strides=strides, padding="same",
                              kernel_initializer=init, use_bias=bias,
                              name=name)
        return SpectralNormalization(layer, name=name + "_sn") \
            if spectral_norm else layer

    def norm(name):
        if normalization == "batch":
            return layers.BatchNormalization(momentum=0.9, epsilon=1e-5,
                                             name=name)
        if normalization == "instance":
            return layers.GroupNormalization(groups=-1, epsilon=1e-5,
                                             name=name)
        if normalization == "layer":
            return layers.LayerNormalization(axis=[1, 2, 3], name=name)
        return None

    images = keras.Input(shape, name="images")
    x = images
    for i in range(num_layers + 1):
        ch = filters * 2 ** min(i, 3)
        strides = 2 if i < num_layers else 1
        x = conv(ch, strides, f"block{i}_conv", bias=i == 0 or not
                 normalization)(x)
        n = norm(f"block{i}_norm") if i > 0 else None
        if n is not None:
            x = n(x)
        x = layers.LeakyReLU(0.2, name=f"block{i}_act")(x)
    x = conv(1, 1, "logits", bias=True)(x)
    x = layers.Activation("linear", dtype="float32", name="patch_logits")(x)
    return keras.Model(images, x, name=name)

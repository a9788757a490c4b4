"""DAMSM's image encoder: local region features and a global feature."""

import keras
from keras import layers


def damsm_image_encoder(image_size=32, feature_dim=256, width=32,
                        region_downsamples=2, channels=3, pooling="average",
                        name="damsm_image_encoder"):
    """A small CNN standing in for AttnGAN's Inception-v3 image encoder.

    Returns a `keras.Model` mapping images `[B, S, S, channels]` in [-1, 1]
    to `(local [B, R, R, feature_dim], global [B, feature_dim])`. Strided
    3x3 convolutions (LeakyReLU 0.2) halve the resolution
    `region_downsamples` times to `R = S / 2**region_downsamples`; a 1x1
    convolution projects that map to the common space, one feature per
    region (AttnGAN's `v = W f` on Inception's `mixed_6e` map). One more
    strided convolution, a pooling and a dense layer give the global
    feature (`v_bar = W_bar f_bar`).

    Args:
        image_size: int. Input size `S`, divisible by
            `2 ** (region_downsamples + 1)`. Defaults to 32.
        feature_dim: int. `D`, the text encoder's feature size. Defaults
            to 256.
        width: int. Channels of the first convolution, doubled at each
            downsampling. Defaults to 32.
        region_downsamples: int. Halvings before the region map. Defaults
            to 2 (an 8 x 8 region grid at 32 px).
        channels: int. Image channels. Defaults to 3.
        pooling: `"average"` (global average pooling, as Inception's
            `v_bar`: the global feature does not say where things are) or
            `"flatten"` (the last map flattened, so the global feature
            keeps the layout, for captions that name positions). Defaults
            to `"average"`.

    >>> enc = damsm_image_encoder(32, feature_dim=64)
    >>> local, global_ = enc(images)   # [B, 8, 8, 64], [B, 64]

    Reference:
        Xu et al., "AttnGAN", CVPR 2018 (DAMSM's image encoder).
    """
    for key, value, low in (("image_size", image_size, 4),
                            ("feature_dim", feature_dim, 1),
                            ("width", width, 1),
                            ("region_downsamples", region_downsamples, 1),
                            ("channels", channels, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or (
                value < low):
            raise ValueError(
                f"`{key}` should be an integer >= {low}. Received: "
                f"`{key}={value!r}`")
    if image_size % (2 ** (region_downsamples + 1)):
        raise ValueError(
            "`image_size` should be divisible by 2 ** (region_downsamples + "
            f"1) = {2 ** (region_downsamples + 1)}. Received: "
            f"`image_size={image_size}`, "
            f"`region_downsamples={region_downsamples}`")
    if pooling not in ("average", "flatten"):
        raise ValueError(
            "`pooling` should be 'average' or 'flatten'. Received: "
            f"`pooling={pooling!r}`")
    img = keras.Input((image_size, image_size, channels), name="images")
    x = layers.Conv2D(width, 3, padding="same")(img)
    x = layers.LeakyReLU(0.2)(x)
    ch = width
    for _ in range(region_downsamples):
        ch *= 2
        x = layers.Conv2D(ch, 3, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    local = layers.Conv2D(feature_dim, 1, name="local_projection")(x)
    x = layers.Conv2D(ch * 2, 3, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = (layers.GlobalAveragePooling2D()(x) if pooling == "average"
         else layers.Flatten()(x))
    global_ = layers.Dense(feature_dim, name="global_projection")(x)
    local = layers.Activation("linear", dtype="float32", name="local")(local)
    global_ = layers.Activation("linear", dtype="float32",
                                name="global")(global_)
    return keras.Model(img, [local, global_], name=name)

"""The DCGAN generator and discriminator (Radford et al. 2016)."""

import keras
from keras import layers


def _check_image_shape(image_shape):
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 3 or image_shape[:2] not in ((28, 28), (32, 32), (64, 64)):
        raise ValueError(
            "DCGAN builders support images of 28x28, 32x32 or 64x64 with any "
            f"number of channels. Received: `image_shape={image_shape}`. Resize "
            "the data or pick another architecture."
        )
    if image_shape[2] < 1:
        raise ValueError(f"Invalid channel count in `image_shape={image_shape}`")
    return image_shape


def _plan(size):
    # (start resolution, number of stride-2 upsamplings)
    return {28: (7, 2), 32: (4, 3), 64: (4, 4)}[size]


def dcgan_generator(latent_dim=100, image_shape=(32, 32, 1), width=64,
                    num_classes=None, name="dcgan_generator"):
    """The DCGAN generator: transposed convolutions, BatchNorm, ReLU, tanh.

    Args:
        latent_dim: int. Size of z. Defaults to `100`.
        image_shape: tuple. `(H, W, C)` with H = W in {28, 32, 64}.
        width: int. Channels of the last hidden layer; earlier layers double
            it. Defaults to `64` (the paper's 1024-512-256-128 at 64x64 is
            `width=128`).
        num_classes: int or `None`. When set, the model takes `[z, labels]`
            and concatenates a learned class embedding to z.

    Reference:
        Radford et al., "Unsupervised Representation Learning with Deep
        Convolutional Generative Adversarial Networks", ICLR 2016.
    """
    h, w, c = _check_image_shape(image_shape)
    start, n_up = _plan(h)
    z = keras.Input((latent_dim,), name="z")
    inputs = [z]
    x = z
    if num_classes:
        y = keras.Input((), dtype="int32", name="labels")
        inputs.append(y)
        emb = layers.Embedding(num_classes, latent_dim)(y)
        x = layers.Concatenate()([z, emb])
    ch = width * 2 ** (n_up - 1)
    x = layers.Dense(start * start * ch, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((start, start, ch))(x)
    for i in range(n_up - 1):
        ch //= 2
        x = layers.Conv2DTranspose(ch, 4, strides=2, padding="same",
                                   use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    # The image layers in float32 under a mixed policy.
    x = layers.Conv2DTranspose(c, 4, strides=2, padding="same",
                               dtype="float32")(x)
    x = layers.Activation("tanh", dtype="float32")(x)
    return keras.Model(inputs if num_classes else z, x, name=name)


def dcgan_discriminator(image_shape=(32, 32, 1), width=64,
                        normalization="batch", num_classes=None,
                        name="dcgan_discriminator"):
    """The DCGAN discriminator: strided convolutions with LeakyReLU(0.2).

    Args:
        image_shape: tuple. `(H, W, C)` with H = W in {28, 32, 64}.
        width: int. Channels of the first convolution; later ones double it.
        normalization: `"batch"` (the paper), `"layer"` (use with gradient
            penalties), or `"none"`. Defaults to `"batch"`.
        num_classes: int or `None`. When set, the model takes
            `[images, labels]` and adds a projection term (Miyato & Koyama
            2018) to the logit.
    """
    h, w, c = _check_image_shape(image_shape)
    if normalization not in ("batch", "layer", "none", None):
        raise ValueError(
            "`normalization` should be 'batch', 'layer' or 'none'. "
            f"Received: `normalization={normalization!r}`"
        )
    _, n_down = _plan(h)
    images = keras.Input(image_shape, name="images")
    x = images
    ch = width
    for i in range(n_down):
        x = layers.Conv2D(ch, 4, strides=2, padding="same",
                          use_bias=(i == 0 or normalization in ("none", None)))(x)
        if i > 0 and normalization == "batch":
            x = layers.BatchNormalization()(x)
        elif i > 0 and normalization == "layer":
            x = layers.LayerNormalization(axis=[1, 2, 3])(x)
        x = layers.LeakyReLU(0.2)(x)
        ch *= 2
    features = layers.Flatten()(x)
    logits = layers.Dense(1, dtype="float32")(features)
    if not num_classes:
        return keras.Model(images, logits, name=name)
    y = keras.Input((), dtype="int32", name="labels")
    emb = layers.Embedding(num_classes, features.shape[-1])(y)
    proj = layers.Dot(axes=1)([emb, features])
    logits = layers.Add(dtype="float32")([logits, proj])
    return keras.Model([images, y], logits, name=name)

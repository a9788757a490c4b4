"""A small image classifier trained by the library to supply features."""

import os

import numpy as np
import keras
from keras import layers

FEATURE_LAYER = "features"
PROBABILITY_LAYER = "probabilities"


def feature_classifier(image_shape, num_classes, width=32, feature_dim=128,
                       name="feature_classifier"):
    """Builds the (untrained) feature classifier.

    A compact all-convolutional network: pairs of 3x3 convolutions with
    BatchNorm and ReLU, downsampling by stride 2 until the feature map is at
    most 7 pixels wide, global average pooling, a `Dense(feature_dim)` layer
    named `"features"` (the embedding used by the metrics) and a softmax
    layer named `"probabilities"`. Inputs are images in [-1, 1] of any size
    of at least 8 x 8.

    Args:
        image_shape: tuple `(H, W, C)`.
        num_classes: int. Number of classes, >= 2.
        width: int. Channels of the first stage; each downsampling doubles
            them. Defaults to `32`.
        feature_dim: int. Size of the feature layer. Defaults to `128`.
    """
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 3 or min(image_shape[:2]) < 8 or image_shape[2] < 1:
        raise ValueError(
            "`image_shape` should be (height, width, channels) with height "
            f"and width >= 8. Received: `image_shape={image_shape}`"
        )
    if int(num_classes) < 2:
        raise ValueError(
            f"`num_classes` should be >= 2. Received: `num_classes={num_classes}`"
        )
    for arg, value in (("width", width), ("feature_dim", feature_dim)):
        if int(value) < 1:
            raise ValueError(
                f"`{arg}` should be a positive integer. Received: "
                f"`{arg}={value}`"
            )
    images = keras.Input(image_shape, name="images")
    x = images
    ch = int(width)
    size = min(image_shape[:2])
    while True:
        x = layers.Conv2D(ch, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        if size <= 7:
            break
        x = layers.Conv2D(ch, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        size = (size + 1) // 2
        ch *= 2
    x = layers.GlobalAveragePooling2D()(x)
    features = layers.Dense(int(feature_dim), activation="relu",
                            name=FEATURE_LAYER)(x)
    x = layers.Dropout(0.3)(features)
    probs = layers.Dense(int(num_classes), activation="softmax",
                         dtype="float32", name=PROBABILITY_LAYER)(x)
    return keras.Model(images, probs, name=name)


def train_feature_classifier(images, labels, num_classes=None, epochs=None,
                             batch_size=64, learning_rate=2e-3, width=32,
                             feature_dim=128, validation_data=None,
                             save_path=None, seed=0, verbose=0):
    """Trains a small classifier whose penultimate layer gives features.

    The metrics need an embedding in which real images cluster by content:
    the Inception network of FID when its weights are at hand, otherwise a
    classifier trained on the labelled real data. This function trains that
    classifier (Adam with cosine decay, sparse categorical cross-entropy)
    and returns a `keras.Model` mapping images in [-1, 1] to class
    probabilities; its layer `"features"` is the embedding. Wrap it with
    `ClassifierExtractor` (or pass it as `extractor=` to `evaluate`) to get
    features and probabilities at once.

    This is the default extractor of this project for MNIST, the bundled
    digits and CIFAR-10. Frechet distances in its feature space rank models
    like FID does but are on another scale: compare only values computed
    with the same saved classifier.

    Args:
        images: array `[N, H, W, C]` in [-1, 1].
        labels: int array `[N]`.
        num_classes: int or `None`. Defaults to `max(labels) + 1`.
        epochs: int or `None`. Training epochs. `None` trains for 8 epochs
            or at least 600 steps, whichever is longer (small sets such as
            the 1,797 bundled digits need more epochs). Defaults to `None`.
        batch_size: int. Defaults to `64`.
        learning_rate: float. Initial Adam learning rate. Defaults to `2e-3`.
        width: int. Channels of the first stage. Defaults to `32`.
        feature_dim: int. Size of the feature layer. Defaults to `128`.
        validation_data: optional `(images, labels)` reported during
            training.
        save_path: str or `None`. Where to save the trained model; must end
            in `.keras`.
        seed: int or `None`. Seeds Keras' global random state (weights,
            shuffling, dropout) for a reproducible classifier. Defaults to
            `0`.
        verbose: int. Passed to `fit()`.

    >>> clf = train_feature_classifier(x_train, y_train,
    ...                                save_path="mnist_features.keras")
    >>> extractor = ClassifierExtractor("mnist_features.keras")
    """
    images = np.asarray(images, dtype="float32")
    labels = np.asarray(labels).reshape(-1)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(
            "`images` should be an array [N, H, W, C]. Received shape "
            f"{images.shape}."
        )
    if labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"`labels` has {labels.shape[0]} entries for {images.shape[0]} "
            "images; pass one integer label per image."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(labels == np.round(labels)):
            raise ValueError(
                "`labels` should be integer class indices. Received values "
                f"such as {labels[:5]}."
            )
        labels = labels.astype("int64")
    if labels.min() < 0:
        raise ValueError(
            f"`labels` should be >= 0. Received a minimum of {labels.min()}."
        )
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    if labels.max() >= num_classes:
        raise ValueError(
            f"`labels` go up to {labels.max()} but `num_classes={num_classes}`."
        )
    if save_path is not None and not str(save_path).endswith(".keras"):
        raise ValueError(
            "`save_path` should end in '.keras' (the Keras v3 format). "
            f"Received: `save_path={save_path!r}`"
        )
    steps_per_epoch = int(np.ceil(images.shape[0] / max(1, int(batch_size))))
    if epochs is None:
        epochs = max(8, int(np.ceil(600 / steps_per_epoch)))
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(
            "`epochs` and `batch_size` should be positive integers. Received: "
            f"`epochs={epochs}`, `batch_size={batch_size}`"
        )
    if np.nanmin(images) < -1.5 or np.nanmax(images) > 1.5:
        raise ValueError(
            "`images` should be scaled to [-1, 1] (the range generators "
            f"produce). Received values in [{images.min()}, {images.max()}]."
        )
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    model = feature_classifier(images.shape[1:], num_classes, width=width,
                               feature_dim=feature_dim)
    steps = int(epochs) * steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(images, labels.astype("int32"), batch_size=int(batch_size),
              epochs=int(epochs), validation_data=validation_data,
              shuffle=True, verbose=verbose)
    if save_path is not None:
        directory = os.path.dirname(os.path.abspath(save_path))
        os.makedirs(directory, exist_ok=True)
        model.save(save_path)
    return model

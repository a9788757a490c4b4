"""Feature extractors: InceptionV3, the library's classifier, any Keras model."""

import os

import numpy as np
import keras
from keras import ops

from keras_gan_stable.metrics.feature_classifier import FEATURE_LAYER
from keras_gan_stable.metrics.feature_classifier import PROBABILITY_LAYER

INCEPTION_WEIGHTS_ENV = "KERAS_GAN_STABLE_INCEPTION_WEIGHTS"
INCEPTION_NOTOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_TOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_URL = ("https://storage.googleapis.com/tensorflow/"
                 "keras-applications/inception_v3/")


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class ImageAdapter(keras.layers.Layer):
    """Maps generator images in [-1, 1] to a network's expected input.

    Resizes (bilinear) to `image_size`, repeats a single channel to
    `channels`, then applies `scale * x + offset`.

    Args:
        image_size: tuple `(H, W)` or `None` (keep the size).
        channels: int or `None`. Channels the network takes; 1-channel
            images are repeated to it. Defaults to `None` (keep).
        scale: float. Defaults to `1.0`.
        offset: float. Defaults to `0.0`.
    """

    def __init__(self, image_size=None, channels=None, scale=1.0, offset=0.0,
                 **kwargs):
        super().__init__(**kwargs)
        if image_size is not None:
            image_size = tuple(int(s) for s in image_size)
            if len(image_size) != 2 or min(image_size) < 1:
                raise ValueError(
                    "`image_size` should be (height, width) or None. "
                    f"Received: `image_size={image_size}`"
                )
        if channels is not None and int(channels) < 1:
            raise ValueError(
                f"`channels` should be positive or None. Received: "
                f"`channels={channels}`"
            )
        self.image_size = image_size
        self.channels = None if channels is None else int(channels)
        self.scale = float(scale)
        self.offset = float(offset)

    def call(self, images):
        x = ops.cast(images, "float32")                      # [N, H, W, C]
        if self.image_size is not None and tuple(x.shape[1:3]) != self.image_size:
            x = ops.image.resize(x, self.image_size, interpolation="bilinear",
                                 antialias=False)
        c = x.shape[-1]
        if self.channels is not None and c != self.channels:
            if c != 1:
                raise ValueError(
                    f"Cannot adapt images with {c} channels to a network "
                    f"that takes {self.channels}; only 1-channel images are "
                    "repeated."
                )
            x = ops.repeat(x, self.channels, axis=-1)
        if self.scale != 1.0 or self.offset != 0.0:
            x = x * self.scale + self.offset
        return x

    def compute_output_shape(self, input_shape):
        h, w = self.image_size or input_shape[1:3]
        return (input_shape[0], h, w, self.channels or input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size,
                "channels": self.channels, "scale": self.scale,
                "offset": self.offset}


class FeatureExtractor:
    """Turns images into feature vectors (and class probabilities).

    Wraps any Keras model. Images in [-1, 1] (what generators produce) are
    adapted to the model's input (resized, channels repeated, rescaled) in
    the same compiled call, batch by batch, so large sets never exist at
    the model's resolution in memory.

    Args:
        model: `keras.Model` taking images.
        feature_layer: str or `None`. Name of the layer whose output is the
            feature vector; `None` uses the model's output. Feature maps
            are averaged over their spatial axes.
        probability_layer: str or `None`. Name of a layer giving class
            probabilities (for the Inception Score and mode coverage).
        image_size: tuple `(H, W)` or `None`. Size the model takes; read from
            the model's input when it is fixed.
        scale: float. Images in [-1, 1] are mapped by `scale * x + offset`
            before the model. Defaults to `1.0`.
        offset: float. Defaults to `0.0`.
        batch_size: int. Images per call. Defaults to `256`.

    >>> extractor = FeatureExtractor(my_model, feature_layer="pool")
    >>> feats = extractor(images)                 # [N, D]
    """

    def __init__(self, model, feature_layer=None, probability_layer=None,
                 image_size=None, scale=1.0, offset=0.0, batch_size=256):
        if not isinstance(model, keras.Model):
            raise ValueError(
                "`model` should be a keras.Model. Received: "
                f"`model={model!r}` of type {type(model).__name__}."
            )
        if int(batch_size) < 1:
            raise ValueError(
                f"`batch_size` should be positive. Received: "
                f"`batch_size={batch_size}`"
            )
        self.model = model
        self.feature_layer = feature_layer
        self.probability_layer = probability_layer
        self.scale = float(scale)
        self.offset = float(offset)
        self.batch_size = int(batch_size)
        try:
            in_shape = tuple(model.inputs[0].shape)
        except (AttributeError, IndexError, TypeError, ValueError):
            in_shape = None
        if isinstance(getattr(model, "inputs", None), list) and len(
                model.inputs) != 1:
            raise ValueError(
                "The feature model should take a single image input. "
                f"Received a model with {len(model.inputs)} inputs."
            )
        self.input_shape = in_shape
        if image_size is None and in_shape is not None and None not in in_shape[1:3]:
            image_size = in_shape[1:3]
        self.image_size = None if image_size is None else tuple(
            int(s) for s in image_size)
        self.channels = None if in_shape is None else in_shape[-1]
        outputs = self._outputs()
        self._core = keras.Model(model.inputs, outputs) if outputs is not None else model
        self._wrappers = {}

    def _outputs(self):
        if self.feature_layer is None and self.probability_layer is None:
            return None
        if not hasattr(self.model, "inputs") or not self.model.inputs:
            raise ValueError(
                "`feature_layer` and `probability_layer` need a functional "
                "(or built Sequential) model with known inputs."
            )
        feats = (self.model.outputs[0] if self.feature_layer is None
                 else self._layer(self.feature_layer).output)
        outs = [feats]
        if self.probability_layer is not None:
            outs.append(self._layer(self.probability_layer).output)
        return outs

    def _layer(self, name):
        try:
            return self.model.get_layer(name)
        except ValueError:
            names = [layer.name for layer in self.model.layers]
            raise ValueError(
                f"The model has no layer named {name!r}. Its layers are: "
                f"{names}."
            ) from None

    @property
    def has_probabilities(self):
        return self.probability_layer is not None

    def _wrapper(self, image_shape):
        if image_shape not in self._wrappers:
            adapter = ImageAdapter(self.image_size, self.channels,
                                   self.scale, self.offset)
            images = keras.Input(image_shape)
            outs = self._core(adapter(images))
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            self._wrappers[image_shape] = keras.Model(images, list(outs))
        return self._wrappers[image_shape]

    def iter_batches(self, images):
        """Yields `(features [B, D], probabilities [B, K] or None)`."""
        images = np.asarray(images, dtype="float32")
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise ValueError(
                "Images should be an array [N, H, W, C] in [-1, 1]. "
                f"Received shape {images.shape}."
            )
        wrapper = self._wrapper(tuple(images.shape[1:]))
        for start in range(0, images.shape[0], self.batch_size):
            outs = wrapper.predict_on_batch(
                images[start:start + self.batch_size])
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            feats = np.asarray(outs[0], dtype="float32")
            if feats.ndim > 2:                   # feature maps: spatial mean
                feats = feats.reshape(feats.shape[0], -1, feats.shape[-1]).mean(1)
            probs = np.asarray(outs[1], "float32") if len(outs) > 1 else None
            yield feats, probs

    def features_and_probabilities(self, images):
        """`(features [N, D], probabilities [N, K] or None)` of all images."""
        feats, probs = [], []
        for f, p in self.iter_batches(images):
            feats.append(f)
            probs.append(p)
        if not feats:
            raise ValueError("No images given.")
        return (np.concatenate(feats, 0),
                None if probs[0] is None else np.concatenate(probs, 0))

    def __call__(self, images):
        return self.features_and_probabilities(images)[0]


class ClassifierExtractor(FeatureExtractor):
    """Features and probabilities of a classifier from `train_feature_classifier`.

    Args:
        model: `keras.Model` or path of a saved `.keras` file with layers
            named `"features"` and `"probabilities"`.
        batch_size: int. Images per call. Defaults to `256`.

    >>> extractor = ClassifierExtractor("mnist_features.keras")
    """

    def __init__(self, model, batch_size=256):
        if isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"Feature classifier file not found: {path}. Train one "
                    "with `keras_gan_stable.train_feature_classifier(images, "
                    "labels, save_path=...)`."
                )
            model = keras.saving.load_model(path, compile=False)
        super().__init__(model, feature_layer=FEATURE_LAYER,
                         probability_layer=PROBABILITY_LAYER,
                         batch_size=batch_size)


def resolve_inception_weights(weights=None, include_top=False):
    """Path of a local InceptionV3 ImageNet weights file, or a clear error.

    Looks at `weights`, then the environment variable
    `KERAS_GAN_STABLE_INCEPTION_WEIGHTS`, then Keras' download cache
    (`$KERAS_HOME/models`, default `~/.keras/models`). Nothing is downloaded.
    """
    file_name = INCEPTION_TOP_FILE if include_top else INCEPTION_NOTOP_FILE
    tried = []
    candidates = []
    if weights is not None:
        candidates.append(("argument `weights`", os.fspath(weights)))
    elif os.environ.get(INCEPTION_WEIGHTS_ENV):
        candidates.append((f"${INCEPTION_WEIGHTS_ENV}",
                           os.environ[INCEPTION_WEIGHTS_ENV]))
    else:
        keras_home = os.environ.get(
            "KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
        candidates.append(("Keras cache",
                           os.path.join(keras_home, "models", file_name)))
    for source, path in candidates:
        if os.path.isfile(path):
            return path
        tried.append(f"{path} ({source})")
    raise FileNotFoundError(
        "InceptionV3 weights not found; looked for: " + "; ".join(tried)
        + ". Nothing is downloaded by this library. Obtain Keras' ImageNet "
        f"weights file '{file_name}' from {INCEPTION_URL}{file_name} (for "
        "example with `keras.applications.InceptionV3(weights='imagenet'"
        f"{', include_top=False' if not include_top else ''})` on a machine "
        "with internet, which stores it in ~/.keras/models/), copy it here "
        "and pass its path as `InceptionExtractor(weights=...)` / "
        f"`evaluate(..., extractor='path/to/{file_name}')`, or set the "
        f"environment variable {INCEPTION_WEIGHTS_ENV} to it. Without "
        "Inception weights, train a feature classifier with "
        "`keras_gan_stable.train_feature_classifier(images, labels)`."
    )


class InceptionExtractor(FeatureExtractor):
    """InceptionV3 pool features (2,048-d), the feature space of FID and KID.

    Builds `keras.applications.InceptionV3(include_top=..., pooling="avg")`
    with ImageNet weights read from a local file, resizes images to
    299 x 299 (bilinear), repeats grayscale to RGB, and feeds [-1, 1]
    directly (InceptionV3's own input scaling). With `include_top=True`
    (weights file with the classifier) it also gives the 1,000 ImageNet
    probabilities for the Inception Score.

    Keras' ImageNet weights are not the 2015 TensorFlow graph
    (`pool_3` of `inception-2015-12-05`) that the reference FID/IS code
    uses, and the resizing differs too: scores from this extractor rank
    models consistently but are not comparable with published FIDs.

    Args:
        weights: str or `None`. Path of the weights file
            (`inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, or
            the file without `_notop` when `include_top=True`). `None`
            reads `$KERAS_GAN_STABLE_INCEPTION_WEIGHTS`, then Keras' cache
            `~/.keras/models/`. A missing file raises `FileNotFoundError`
            saying how to obtain it.
        include_top: bool. Also build the classifier for probabilities.
            Defaults to `False`.
        batch_size: int. Images per call. Defaults to `64`.

    Reference:
        Szegedy et al., "Rethinking the Inception Architecture for Computer
        Vision", CVPR 2016; Heusel et al. 2017 (FID).
    """

    def __init__(self, weights=None, include_top=False, batch_size=64):
        path = resolve_inception_weights(weights, include_top=include_top)
        model = keras.applications.InceptionV3(
            weights=None, include_top=bool(include_top), pooling="avg",
            input_shape=(299, 299, 3))
        try:
            model.load_weights(path)
        except Exception as e:  # noqa: BLE001 - re-raised with context
            raise ValueError(
                f"Could not load InceptionV3 weights from {path}: {e}. The "
                f"file should be Keras' '{INCEPTION_TOP_FILE if include_top else INCEPTION_NOTOP_FILE}' "
                f"(include_top={bool(include_top)})."
            ) from None
        self.weights_path = path
        super().__init__(
            model,
            feature_layer="avg_pool" if include_top else None,
            probability_layer="predictions" if include_top else None,
            image_size=(299, 299), batch_size=batch_size)


def get_extractor(extractor, batch_size=None):
    """Resolves `extractor` (instance, model, path or name) to a `FeatureExtractor`.

    Accepts a `FeatureExtractor`; a `keras.Model` (a feature classifier when
    it has layers `"features"` and `"probabilities"`, else its output is
    the feature vector); a `.keras` path (feature classifier); an `.h5` path
    (InceptionV3 weights); or `"inception"`.
    """
    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    if isinstance(extractor, FeatureExtractor):
        return extractor
    if isinstance(extractor, keras.Model):
        names = {layer.name for layer in extractor.layers}
        if {FEATURE_LAYER, PROBABILITY_LAYER} <= names:
            return ClassifierExtractor(extractor, **kwargs)
        return FeatureExtractor(extractor, **kwargs)
    if isinstance(extractor, (str, os.PathLike)):
        s = os.fspath(extractor)
        if s == "inception":
            return InceptionExtractor(**kwargs)
        if s.endswith(".keras"):
            return ClassifierExtractor(s, **kwargs)
        if s.endswith(".h5"):
            top = os.path.basename(s) == INCEPTION_TOP_FILE
            return InceptionExtractor(s, include_top=top, **kwargs)
    raise ValueError(
        "`extractor` should be a FeatureExtractor, a keras.Model, a '.keras' "
        "feature classifier path, an InceptionV3 '.h5' weights path or "
        f"'inception'. Received: `extractor={extractor!r}`"
    )

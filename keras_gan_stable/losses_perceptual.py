"""Perceptual (feature-matching) loss from any Keras feature model."""

import keras
from keras import ops


class PerceptualLoss:
    """Mean squared distance between the features of two image batches.

    `loss(x, y)` returns per-sample values `[N]`:
    `sum_l w_l * mean((F_l(x) - F_l(y))^2)` over the chosen layers `l`, with
    the feature model frozen (its layers are set non-trainable, so share
    them with nothing you still train) and run in inference mode (as
    SRGAN's VGG loss).
    Any Keras model works: the library's offline feature classifier
    (`metrics.feature_classifier.train_feature_classifier`), or ImageNet VGG19
    from a local weights file (`keras.applications.VGG19(weights=path,
    include_top=False)`, layer `"block5_conv4"`; then wrap the model so it
    maps [-1, 1] images to VGG's input scaling).

    Args:
        feature_model: `keras.Model`. Maps images to features (or to a list
            of feature maps).
        layers: list of layer names or `None`. When given, the features are
            those layers' outputs (the model must be functional).
        layer_weights: list of floats or `None`. Weight of each layer's term.
            Defaults to 1 for each.

    >>> fc = train_feature_classifier(images, labels)
    >>> perceptual = PerceptualLoss(fc, layers=["features"])

    Reference:
        Johnson et al., "Perceptual Losses for Real-Time Style Transfer and
        Super-Resolution", ECCV 2016; Ledig et al., "Photo-Realistic Single
        Image Super-Resolution Using a GAN", CVPR 2017.
    """

    def __init__(self, feature_model, layers=None, layer_weights=None):
        if isinstance(feature_model, PerceptualLoss):
            layers = layers or feature_model.layers
            layer_weights = layer_weights or feature_model.layer_weights
            feature_model = feature_model.source_model
        if not isinstance(feature_model, keras.Model):
            raise ValueError(
                "`feature_model` should be a keras.Model mapping images to "
                f"features. Received: `feature_model={feature_model!r}`"
            )
        self.source_model = feature_model
        self.layers = None if layers is None else [str(n) for n in layers]
        model = feature_model
        if self.layers:
            try:
                outputs = [feature_model.get_layer(n).output
                           for n in self.layers]
            except (ValueError, AttributeError) as e:
                names = [l.name for l in feature_model.layers]
                raise ValueError(
                    f"`layers={self.layers}` should name layers of the "
                    f"(functional) feature model; it has {names}. ({e})"
                ) from None
            model = keras.Model(feature_model.inputs, outputs,
                                name=f"{feature_model.name}_perceptual")
        model.trainable = False
        self.model = model
        n = len(self.layers) if self.layers else None
        if layer_weights is not None:
            layer_weights = [float(w) for w in layer_weights]
            if n is not None and len(layer_weights) != n:
                raise ValueError(
                    f"`layer_weights` should have one weight per layer ({n}). "
                    f"Received: `layer_weights={layer_weights}`"
                )
        self.layer_weights = layer_weights

    def __call__(self, x, y):
        fx = self.model(x, training=False)
        fy = self.model(y, training=False)
        if not isinstance(fx, (list, tuple)):
            fx, fy = [fx], [fy]
        weights = self.layer_weights or [1.0] * len(fx)
        total = 0.0
        for w, a, b in zip(weights, fx, fy):
            a = ops.cast(a, "float32")
            b = ops.stop_gradient(ops.cast(b, "float32"))
            d = ops.reshape(ops.square(a - b), (ops.shape(a)[0], -1))
            total = total + w * ops.mean(d, axis=-1)
        return total                                        # [N]

    def get_config(self):
        return {
            "feature_model": keras.saving.serialize_keras_object(
                self.source_model),
            "layers": self.layers,
            "layer_weights": self.layer_weights,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["feature_model"] = keras.saving.deserialize_keras_object(
            config["feature_model"])
        return cls(**config)

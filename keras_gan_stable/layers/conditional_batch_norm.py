"""Class-conditional batch normalisation (de Vries et al. 2017; SNGAN)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class ConditionalBatchNormalization(keras.layers.Layer):
    """Batch normalisation whose scale and shift depend on the class label.

    The features are normalised by `BatchNormalization` without its own
    affine parameters, then scaled and shifted per class:
    `y = gamma[label] * x_hat + beta[label]`, with `gamma` and `beta` rows of
    two embeddings (initialised to ones and zeros, so each class starts as
    the identity affine map). The class-conditional SNGAN generator
    (Miyato & Koyama 2018) uses it in every residual block.

    Called as `layer([x, labels])`, with `x` `[N, ..., C]` (the channel axis
    given by `axis`) and integer `labels` `[N]` or `[N, 1]`.

    Args:
        num_classes: int. Number of classes (`>= 1`).
        momentum: float. Momentum of the moving statistics. Defaults to `0.9`
            (torch's and Chainer's `0.1` update rate, used by SNGAN), not
            Keras' `0.99`.
        epsilon: float. Added to the variance. Defaults to `1e-5`.
        axis: int. The channel axis. Defaults to `-1`.
        gamma_initializer: initializer of the per-class scales. Defaults to
            `"ones"`.
        beta_initializer: initializer of the per-class shifts. Defaults to
            `"zeros"`.
        **kwargs: base layer arguments (`name`, ...).

    >>> cbn = ConditionalBatchNormalization(num_classes=10)
    >>> y = cbn([features, labels], training=True)

    Reference:
        de Vries et al., "Modulating early visual processing by language",
        NeurIPS 2017; Miyato & Koyama, "cGANs with Projection
        Discriminator", ICLR 2018.
    """

    def __init__(self, num_classes, momentum=0.9, epsilon=1e-5, axis=-1,
                 gamma_initializer="ones", beta_initializer="zeros",
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(
                num_classes, int) or num_classes < 1:
            raise ValueError(
                "`num_classes` should be a positive integer. Received: "
                f"`num_classes={num_classes!r}`"
            )
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(
                "`momentum` should be in [0, 1). Received: "
                f"`momentum={momentum!r}`"
            )
        if not float(epsilon) > 0:
            raise ValueError(
                f"`epsilon` should be > 0. Received: `epsilon={epsilon!r}`"
            )
        self.num_classes = int(num_classes)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.axis = int(axis)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.batch_norm = keras.layers.BatchNormalization(
            axis=self.axis, momentum=self.momentum, epsilon=self.epsilon,
            center=False, scale=False, dtype=self.dtype_policy,
            name="batch_norm")

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(
                input_shape) != 2 or not isinstance(
                    input_shape[0], (list, tuple)):
            raise ValueError(
                "ConditionalBatchNormalization is called on `[x, labels]`. "
                f"Received input shape: {input_shape}"
            )
        x_shape = tuple(input_shape[0])
        channels = x_shape[self.axis]
        if channels is None:
            raise ValueError(
                "The channel axis of `x` must be known. Received: "
                f"shape {x_shape} with `axis={self.axis}`"
            )
        self._rank = len(x_shape)
        self._channel_axis = self.axis % self._rank
        self.batch_norm.build(x_shape)
        self.gamma = self.add_weight(
            shape=(self.num_classes, channels),
            initializer=self.gamma_initializer, name="gamma")
        self.beta = self.add_weight(
            shape=(self.num_classes, channels),
            initializer=self.beta_initializer, name="beta")
        self.built = True

    def call(self, inputs, training=None):
        x, labels = inputs
        x_hat = self.batch_norm(x, training=training)
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        gamma = ops.take(self.gamma, labels, axis=0)  # [N, C]
        beta = ops.take(self.beta, labels, axis=0)
        shape = [-1] + [1] * (self._rank - 1)
        shape[self._channel_axis] = ops.shape(gamma)[-1]
        gamma = ops.cast(ops.reshape(gamma, shape), x_hat.dtype)
        beta = ops.cast(ops.reshape(beta, shape), x_hat.dtype)
        return x_hat * gamma + beta

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "axis": self.axis,
            "gamma_initializer": keras.initializers.serialize(
                self.gamma_initializer),
            "beta_initializer": keras.initializers.serialize(
                self.beta_initializer),
        }

"""Conditional batch normalisation (de Vries et al. 2017): per class
(SNGAN) or predicted from a condition vector (a sentence feature)."""

import keras
from keras import ops


class _ConditionalNorm(keras.layers.Layer):
    """What the conditional batch normalisations share: the checks of
    `momentum` / `epsilon`, the affine-free `BatchNormalization`, the
    `[x, condition]` input and the per-sample scale and shift."""

    def __init__(self, momentum, epsilon, axis, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(
                "`momentum` should be in [0, 1). Received: "
                f"`momentum={momentum!r}`"
            )
        if not float(epsilon) > 0:
            raise ValueError(
                f"`epsilon` should be > 0. Received: `epsilon={epsilon!r}`"
            )
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.axis = int(axis)
        self.batch_norm = keras.layers.BatchNormalization(
            axis=self.axis, momentum=self.momentum, epsilon=self.epsilon,
            center=False, scale=False, dtype=self.dtype_policy,
            name="batch_norm")

    def _build_norm(self, input_shape, form):
        """Builds the normalisation of `x`; returns `(x shape, channels)`."""
        if not isinstance(input_shape, (list, tuple)) or len(
                input_shape) != 2 or not isinstance(
                    input_shape[0], (list, tuple)):
            raise ValueError(
                f"{type(self).__name__} is called on `{form}`. "
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
        return x_shape, channels

    def _affine(self, x_hat, gamma, beta):
        """`x_hat * gamma + beta` with `gamma`, `beta` `[N, C]`."""
        shape = [-1] + [1] * (self._rank - 1)
        shape[self._channel_axis] = ops.shape(gamma)[-1]
        gamma = ops.cast(ops.reshape(gamma, shape), x_hat.dtype)
        beta = ops.cast(ops.reshape(beta, shape), x_hat.dtype)
        return x_hat * gamma + beta

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "epsilon": self.epsilon, "axis": self.axis}


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class ConditionalBatchNormalization(_ConditionalNorm):
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
        if isinstance(num_classes, bool) or not isinstance(
                num_classes, int) or num_classes < 1:
            raise ValueError(
                "`num_classes` should be a positive integer. Received: "
                f"`num_classes={num_classes!r}`"
            )
        super().__init__(momentum, epsilon, axis, **kwargs)
        self.num_classes = int(num_classes)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.beta_initializer = keras.initializers.get(beta_initializer)

    def build(self, input_shape):
        _, channels = self._build_norm(input_shape, "[x, labels]")
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
        return self._affine(x_hat, gamma, beta)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "gamma_initializer": keras.initializers.serialize(
                self.gamma_initializer),
            "beta_initializer": keras.initializers.serialize(
                self.beta_initializer),
        }


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class VectorConditionalBatchNormalization(_ConditionalNorm):
    """Batch normalisation whose scale and shift are predicted from a vector.

    The conditional batch normalisation of de Vries et al. (2017) for a
    continuous condition such as a sentence feature: the features are
    normalised by `BatchNormalization` without its own affine parameters,
    then `y = (1 + dgamma(c)) * x_hat + dbeta(c)`, where `dgamma` and
    `dbeta` `[N, C]` are linear maps of `h(c)`: `h(c) = relu(c W + b)`
    with `hidden_units` units, or `h(c) = c` when `hidden_units` is `None`.
    The two output maps start at zero, so the layer starts as a plain
    batch normalisation (scale one, shift zero) and learns how the
    condition steers each channel. DF-GAN (Tao et al. 2022) conditions its
    generator on the sentence this way in every block.

    Called as `layer([x, c])`, with `x` `[N, ..., C]` (the channel axis
    given by `axis`) and `c` `[N, D]`.

    Args:
        hidden_units: int or None. Units of the hidden ReLU layer; `None`
            maps `c` linearly. Defaults to `None`.
        momentum: float. Momentum of the moving statistics. Defaults to
            `0.99`, as `keras.layers.BatchNormalization`.
        epsilon: float. Added to the variance. Defaults to `1e-3`, as
            `keras.layers.BatchNormalization`.
        axis: int. The channel axis. Defaults to `-1`.
        **kwargs: base layer arguments (`name`, ...).

    >>> cbn = VectorConditionalBatchNormalization(hidden_units=32)
    >>> y = cbn([features, sentence], training=True)

    Reference:
        de Vries et al., "Modulating early visual processing by language",
        NeurIPS 2017; Tao et al., "DF-GAN: A Simple and Effective Baseline
        for Text-to-Image Synthesis", CVPR 2022.
    """

    def __init__(self, hidden_units=None, momentum=0.99, epsilon=1e-3,
                 axis=-1, **kwargs):
        if hidden_units is not None and (
                isinstance(hidden_units, bool)
                or not isinstance(hidden_units, int) or hidden_units < 1):
            raise ValueError(
                "`hidden_units` should be a positive integer or None. "
                f"Received: `hidden_units={hidden_units!r}`"
            )
        super().__init__(momentum, epsilon, axis, **kwargs)
        self.hidden_units = hidden_units

    def build(self, input_shape):
        c_shape = (tuple(input_shape[1]) if isinstance(
            input_shape, (list, tuple)) and len(input_shape) == 2 else ())
        if len(c_shape) != 2 or c_shape[-1] is None:
            raise ValueError(
                "VectorConditionalBatchNormalization needs `c` of shape "
                f"`[N, D]` with D known. Received input shape: {input_shape}"
            )
        _, channels = self._build_norm(input_shape, "[x, c]")
        units = c_shape[-1]
        if self.hidden_units is not None:
            self.hidden_kernel = self.add_weight(
                shape=(units, self.hidden_units),
                initializer="glorot_uniform", name="hidden_kernel")
            self.hidden_bias = self.add_weight(
                shape=(self.hidden_units,), initializer="zeros",
                name="hidden_bias")
            units = self.hidden_units
        self.gamma_kernel = self.add_weight(
            shape=(units, channels), initializer="zeros",
            name="gamma_kernel")
        self.gamma_bias = self.add_weight(
            shape=(channels,), initializer="zeros", name="gamma_bias")
        self.beta_kernel = self.add_weight(
            shape=(units, channels), initializer="zeros",
            name="beta_kernel")
        self.beta_bias = self.add_weight(
            shape=(channels,), initializer="zeros", name="beta_bias")
        self.built = True

    def call(self, inputs, training=None):
        x, c = inputs
        x_hat = self.batch_norm(x, training=training)
        h = ops.cast(c, x_hat.dtype)
        if self.hidden_units is not None:
            h = ops.relu(ops.matmul(h, self.hidden_kernel) + self.hidden_bias)
        gamma = 1.0 + ops.matmul(h, self.gamma_kernel) + self.gamma_bias
        beta = ops.matmul(h, self.beta_kernel) + self.beta_bias
        return self._affine(x_hat, gamma, beta)

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units}

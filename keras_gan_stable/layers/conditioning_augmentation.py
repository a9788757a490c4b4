"""StackGAN's conditioning augmentation."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class ConditioningAugmentation(keras.layers.Layer):
    """Samples a text condition `c ~ N(mu(e), diag(sigma(e)^2))`.

    A dense layer maps the sentence embedding `e` to `mu` and `log sigma`
    (`condition_dim` each); the condition is the reparameterised sample
    `c = mu + sigma * eps`, so gradients reach `mu` and `sigma`.

    The layer takes `[z, e]`: `z` `[B, noise_dim + condition_dim]` is the
    GAN's latent vector, whose last `condition_dim` entries are the standard
    normal `eps` (so the model's seeded noise, or noise injected into a
    batch, fixes the sample), and returns `[B, noise_dim + condition_dim]`:
    the first `noise_dim` entries of `z` followed by `c`.

    `kl(e)` is the KL term of StackGAN's generator objective,
    `KL(N(mu, sigma^2) || N(0, I))` per sample, averaged over the
    `condition_dim` dimensions as in the authors' code (which weights it by
    2.0): `0.5 * mean(mu^2 + sigma^2 - 1 - 2 log sigma)`.

    Args:
        condition_dim: int. Size of `c` (128 in StackGAN).

    >>> ca = ConditioningAugmentation(128)
    >>> zc = ca([z, sentence_embedding])   # [B, noise_dim + 128]

    Reference:
        Zhang et al., "StackGAN: Text to Photo-realistic Image Synthesis
        with Stacked Generative Adversarial Networks", ICCV 2017.
    """

    def __init__(self, condition_dim, **kwargs):
        super().__init__(**kwargs)
        if (isinstance(condition_dim, bool)
                or not isinstance(condition_dim, int) or condition_dim < 1):
            raise ValueError(
                "`condition_dim` should be a positive integer. Received: "
                f"`condition_dim={condition_dim!r}`")
        self.condition_dim = condition_dim
        self.dense = keras.layers.Dense(2 * condition_dim, name="moments")
        # A frozen layer restored from its config (`trainable=False` given
        # to `__init__`) must freeze the dense layer made after it.
        self.dense.trainable = self.trainable

    def build(self, input_shape):
        z_shape, e_shape = input_shape
        if z_shape[-1] is not None and z_shape[-1] < self.condition_dim:
            raise ValueError(
                f"The latent input has {z_shape[-1]} entries, fewer than "
                f"`condition_dim={self.condition_dim}` (its last "
                "condition_dim entries are the sampling noise). Make the "
                "latent size noise_dim + condition_dim.")
        self.dense.build(e_shape)
        self.built = True

    def moments(self, embedding):
        """`(mu, log_sigma)`, each `[B, condition_dim]`."""
        x = self.dense(embedding)
        return x[:, :self.condition_dim], x[:, self.condition_dim:]

    def kl(self, embedding):
        """Per-sample KL to `N(0, I)`, averaged over dimensions: `[B]`."""
        mu, log_sigma = self.moments(embedding)
        mu = ops.cast(mu, "float32")
        log_sigma = ops.cast(log_sigma, "float32")
        return 0.5 * ops.mean(ops.square(mu) + ops.exp(2.0 * log_sigma)
                              - 1.0 - 2.0 * log_sigma, axis=-1)

    def call(self, inputs):
        z, embedding = inputs
        mu, log_sigma = self.moments(embedding)
        eps = ops.cast(z[:, -self.condition_dim:], mu.dtype)
        c = mu + ops.exp(log_sigma) * eps
        return ops.concatenate(
            [ops.cast(z[:, :-self.condition_dim], c.dtype), c], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "condition_dim": self.condition_dim}

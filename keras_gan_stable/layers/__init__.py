"""Layers for stable GAN training."""

from keras_gan_stable.layers.conditional_batch_norm import (
    ConditionalBatchNormalization,
)
from keras_gan_stable.layers.conditional_batch_norm import (
    VectorConditionalBatchNormalization,
)
from keras_gan_stable.layers.power_iteration import power_iteration_enabled
from keras_gan_stable.layers.power_iteration import power_iteration_updates
from keras_gan_stable.layers.self_attention import SelfAttention2D
from keras_gan_stable.layers.spectral_normalization import (
    SpectralNormalization,
)
from keras_gan_stable.layers.progan import EqualizedConv2D
from keras_gan_stable.layers.progan import EqualizedDense
from keras_gan_stable.layers.progan import FadeIn
from keras_gan_stable.layers.progan import MinibatchStdDev
from keras_gan_stable.layers.progan import PixelNormalization

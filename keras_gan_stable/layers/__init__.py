"""Layers for stable GAN training."""

from keras_gan_stable.layers.self_attention import SelfAttention2D

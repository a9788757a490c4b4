"""Callbacks that drive GAN training through the variables a model exposes."""

from keras_gan_stable.callbacks.progressive_growing import ProgressiveGrowing
from keras_gan_stable.callbacks.progressive_growing import ProgressiveSchedule

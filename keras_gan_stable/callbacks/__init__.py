"""Callbacks that drive GAN training through the variables a model exposes."""

from keras_gan_stable.callbacks.progressive_growing import ProgressiveGrowing
from keras_gan_stable.callbacks.progressive_growing import ProgressiveSchedule
from keras_gan_stable.callbacks.sample_grid import SampleGrid
from keras_gan_stable.callbacks.plots import TensorBoardScalars
from keras_gan_stable.callbacks.plots import TrainingCurves
from keras_gan_stable.callbacks.evaluation import Evaluation
from keras_gan_stable.callbacks.checkpoint import ResumableBatches
from keras_gan_stable.callbacks.checkpoint import ResumableCheckpoint
from keras_gan_stable.callbacks.stability_monitor import StabilityMonitor
from keras_gan_stable.callbacks.time_budget import TimeBudget

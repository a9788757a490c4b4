"""keras-gan-stable: stable GAN training in the ordinary Keras 3 workflow."""

from keras_gan_stable.version import __version__
from keras_gan_stable import losses
from keras_gan_stable import penalties
from keras_gan_stable.losses import GANLoss
from keras_gan_stable.penalties import GradientPenalty
from keras_gan_stable.models.gan import GAN
from keras_gan_stable.models.gan_optimizer import GANOptimizer
from keras_gan_stable.layers.power_iteration import power_iteration_updates
from keras_gan_stable.layers.self_attention import SelfAttention2D
from keras_gan_stable.layers.spectral_normalization import SpectralNormalization
from keras_gan_stable.layers.conditional_batch_norm import ConditionalBatchNormalization
from keras_gan_stable.architectures.dcgan import dcgan_discriminator
from keras_gan_stable.architectures.dcgan import dcgan_generator
from keras_gan_stable.architectures.sngan import sngan_cnn_discriminator
from keras_gan_stable.architectures.sngan import sngan_cnn_generator
from keras_gan_stable.architectures.sngan import sngan_resnet_discriminator
from keras_gan_stable.architectures.sngan import sngan_resnet_generator
from keras_gan_stable.models.progan import ProGAN
from keras_gan_stable.architectures.progan import progan_discriminator
from keras_gan_stable.architectures.progan import progan_generator
from keras_gan_stable.architectures.progan import ProGANDiscriminator
from keras_gan_stable.architectures.progan import ProGANGenerator
from keras_gan_stable.callbacks.progressive_growing import ProgressiveGrowing
from keras_gan_stable import metrics
from keras_gan_stable.metrics.evaluate import evaluate
from keras_gan_stable.metrics.frechet import frechet_distance
from keras_gan_stable.metrics.feature_classifier import train_feature_classifier
from keras_gan_stable.data.loaders import load_arrays
from keras_gan_stable.data.loaders import load_dataset
from keras_gan_stable.export import export_generator
from keras_gan_stable import distribute
from keras_gan_stable.distribute import SyncBatchNormalization
from keras_gan_stable.callbacks.sample_grid import SampleGrid
from keras_gan_stable.callbacks.plots import TrainingCurves
from keras_gan_stable.augment import AdaptiveAugment
from keras_gan_stable.augment import DiffAugment
from keras_gan_stable.callbacks.checkpoint import ResumableBatches
from keras_gan_stable.callbacks.checkpoint import ResumableCheckpoint
from keras_gan_stable.callbacks.checkpoint import restore_checkpoint
from keras_gan_stable.callbacks.checkpoint import save_checkpoint
from keras_gan_stable.callbacks.stability_monitor import StabilityMonitor

__all__ = [
    "__version__",
    "AdaptiveAugment",
    "DiffAugment",
    "ResumableBatches",
    "ResumableCheckpoint",
    "StabilityMonitor",
    "restore_checkpoint",
    "save_checkpoint",
    "GAN",
    "GANLoss",
    "GANOptimizer",
    "GradientPenalty",
    "SelfAttention2D",
    "SpectralNormalization",
    "ConditionalBatchNormalization",
    "dcgan_discriminator",
    "dcgan_generator",
    "sngan_cnn_discriminator",
    "sngan_cnn_generator",
    "sngan_resnet_discriminator",
    "sngan_resnet_generator",
    "ProGAN",
    "ProGANDiscriminator",
    "ProGANGenerator",
    "ProgressiveGrowing",
    "progan_discriminator",
    "progan_generator",
    "evaluate",
    "frechet_distance",
    "metrics",
    "train_feature_classifier",
    "losses",
    "penalties",
    "power_iteration_updates",
    "SampleGrid",
    "TrainingCurves",
    "export_generator",
    "distribute",
    "SyncBatchNormalization",
    "load_arrays",
    "load_dataset",
]

from keras_gan_stable.data.image_folder_dataset import ImageFolderDataset  # noqa: E402
from keras_gan_stable.latents import latent_noise  # noqa: E402

__all__ += ["ImageFolderDataset", "latent_noise"]

from keras_gan_stable.layers.stylegan import ModulatedConv2D
from keras_gan_stable.layers.stylegan import NoiseInjection
from keras_gan_stable.layers.stylegan import ToRGB
from keras_gan_stable.architectures.stylegan2 import StyleGAN2Generator
from keras_gan_stable.architectures.stylegan2 import stylegan2_discriminator
from keras_gan_stable.architectures.stylegan2 import stylegan2_generator
from keras_gan_stable.models.stylegan2 import StyleGAN2
from keras_gan_stable.augment_geometric import GeometricAdaptiveAugment

__all__ += [
    "ModulatedConv2D",
    "NoiseInjection",
    "ToRGB",
    "StyleGAN2",
    "StyleGAN2Generator",
    "stylegan2_discriminator",
    "stylegan2_generator",
    "GeometricAdaptiveAugment",
]

from keras_gan_stable.models.image_to_image import ImageToImageGAN
from keras_gan_stable.models.cyclegan import CycleGAN
from keras_gan_stable.losses_perceptual import PerceptualLoss
from keras_gan_stable.layers.gated_conv2d import GatedConv2D
from keras_gan_stable.architectures.unet import unet_generator
from keras_gan_stable.architectures.patchgan import patchgan_discriminator
from keras_gan_stable.architectures.rrdb import rrdb_generator
from keras_gan_stable.architectures.deepfill import deepfill_generator
from keras_gan_stable.data import degradations
from keras_gan_stable.metrics.image_quality import psnr
from keras_gan_stable.metrics.image_quality import ssim

__all__ += [
    "ImageToImageGAN",
    "CycleGAN",
    "PerceptualLoss",
    "GatedConv2D",
    "unet_generator",
    "patchgan_discriminator",
    "rrdb_generator",
    "deepfill_generator",
    "degradations",
    "psnr",
    "ssim",
]
from keras_gan_stable.export_image import export_translator

__all__ += ["export_translator"]
from keras_gan_stable.apply_images import apply_images

__all__ += ["apply_images"]

"""keras-gan-stable: stable GAN training in the ordinary Keras 3 workflow.

Public names are imported on first use (a module-level `__getattr__`), so
`import keras_gan_stable` and `keras-gan-stable --help` load no backend.
"""

import importlib

from keras_gan_stable.version import __version__

# name -> (module, attribute), or module for a submodule.
_LAZY = {
    "losses": "keras_gan_stable.losses",
    "penalties": "keras_gan_stable.penalties",
    "GANLoss": ("keras_gan_stable.losses", "GANLoss"),
    "GradientPenalty": ("keras_gan_stable.penalties", "GradientPenalty"),
    "GAN": ("keras_gan_stable.models.gan", "GAN"),
    "GANOptimizer": ("keras_gan_stable.models.gan_optimizer", "GANOptimizer"),
    "power_iteration_updates": ("keras_gan_stable.layers.power_iteration", "power_iteration_updates"),
    "SelfAttention2D": ("keras_gan_stable.layers.self_attention", "SelfAttention2D"),
    "SpectralNormalization": ("keras_gan_stable.layers.spectral_normalization", "SpectralNormalization"),
    "ConditionalBatchNormalization": ("keras_gan_stable.layers.conditional_batch_norm", "ConditionalBatchNormalization"),
    "dcgan_discriminator": ("keras_gan_stable.architectures.dcgan", "dcgan_discriminator"),
    "dcgan_generator": ("keras_gan_stable.architectures.dcgan", "dcgan_generator"),
    "sngan_cnn_discriminator": ("keras_gan_stable.architectures.sngan", "sngan_cnn_discriminator"),
    "sngan_cnn_generator": ("keras_gan_stable.architectures.sngan", "sngan_cnn_generator"),
    "sngan_resnet_discriminator": ("keras_gan_stable.architectures.sngan", "sngan_resnet_discriminator"),
    "sngan_resnet_generator": ("keras_gan_stable.architectures.sngan", "sngan_resnet_generator"),
    "ProGAN": ("keras_gan_stable.models.progan", "ProGAN"),
    "progan_discriminator": ("keras_gan_stable.architectures.progan", "progan_discriminator"),
    "progan_generator": ("keras_gan_stable.architectures.progan", "progan_generator"),
    "ProGANDiscriminator": ("keras_gan_stable.architectures.progan", "ProGANDiscriminator"),
    "ProGANGenerator": ("keras_gan_stable.architectures.progan", "ProGANGenerator"),
    "ProgressiveGrowing": ("keras_gan_stable.callbacks.progressive_growing", "ProgressiveGrowing"),
    "metrics": "keras_gan_stable.metrics",
    "evaluate": ("keras_gan_stable.metrics.evaluate", "evaluate"),
    "frechet_distance": ("keras_gan_stable.metrics.frechet", "frechet_distance"),
    "train_feature_classifier": ("keras_gan_stable.metrics.feature_classifier", "train_feature_classifier"),
    "load_arrays": ("keras_gan_stable.data.loaders", "load_arrays"),
    "load_dataset": ("keras_gan_stable.data.loaders", "load_dataset"),
    "export_generator": ("keras_gan_stable.export", "export_generator"),
    "distribute": "keras_gan_stable.distribute",
    "SyncBatchNormalization": ("keras_gan_stable.distribute", "SyncBatchNormalization"),
    "SampleGrid": ("keras_gan_stable.callbacks.sample_grid", "SampleGrid"),
    "TrainingCurves": ("keras_gan_stable.callbacks.plots", "TrainingCurves"),
    "AdaptiveAugment": ("keras_gan_stable.augment", "AdaptiveAugment"),
    "DiffAugment": ("keras_gan_stable.augment", "DiffAugment"),
    "ResumableBatches": ("keras_gan_stable.callbacks.checkpoint", "ResumableBatches"),
    "ResumableCheckpoint": ("keras_gan_stable.callbacks.checkpoint", "ResumableCheckpoint"),
    "restore_checkpoint": ("keras_gan_stable.callbacks.checkpoint", "restore_checkpoint"),
    "save_checkpoint": ("keras_gan_stable.callbacks.checkpoint", "save_checkpoint"),
    "StabilityMonitor": ("keras_gan_stable.callbacks.stability_monitor", "StabilityMonitor"),
    "callbacks": "keras_gan_stable.callbacks",
    "data": "keras_gan_stable.data",
    "layers": "keras_gan_stable.layers",
    "models": "keras_gan_stable.models",
    "architectures": "keras_gan_stable.architectures",
    "augment": "keras_gan_stable.augment",
    "run": "keras_gan_stable.run",
    "Run": ("keras_gan_stable.run", "Run"),
    "RunConfig": ("keras_gan_stable.run", "RunConfig"),
    "recipes": "keras_gan_stable.recipes",
    "TimeBudget": ("keras_gan_stable.callbacks.time_budget", "TimeBudget"),
    "ImageFolderDataset": ("keras_gan_stable.data.image_folder_dataset", "ImageFolderDataset"),
    "latent_noise": ("keras_gan_stable.latents", "latent_noise"),
    "ModulatedConv2D": ("keras_gan_stable.layers.stylegan", "ModulatedConv2D"),
    "NoiseInjection": ("keras_gan_stable.layers.stylegan", "NoiseInjection"),
    "ToRGB": ("keras_gan_stable.layers.stylegan", "ToRGB"),
    "StyleGAN2Generator": ("keras_gan_stable.architectures.stylegan2", "StyleGAN2Generator"),
    "stylegan2_discriminator": ("keras_gan_stable.architectures.stylegan2", "stylegan2_discriminator"),
    "stylegan2_generator": ("keras_gan_stable.architectures.stylegan2", "stylegan2_generator"),
    "StyleGAN2": ("keras_gan_stable.models.stylegan2", "StyleGAN2"),
    "GeometricAdaptiveAugment": ("keras_gan_stable.augment_geometric", "GeometricAdaptiveAugment"),
    "ImageToImageGAN": ("keras_gan_stable.models.image_to_image", "ImageToImageGAN"),
    "CycleGAN": ("keras_gan_stable.models.cyclegan", "CycleGAN"),
    "PerceptualLoss": ("keras_gan_stable.losses_perceptual", "PerceptualLoss"),
    "GatedConv2D": ("keras_gan_stable.layers.gated_conv2d", "GatedConv2D"),
    "unet_generator": ("keras_gan_stable.architectures.unet", "unet_generator"),
    "patchgan_discriminator": ("keras_gan_stable.architectures.patchgan", "patchgan_discriminator"),
    "rrdb_generator": ("keras_gan_stable.architectures.rrdb", "rrdb_generator"),
    "deepfill_generator": ("keras_gan_stable.architectures.deepfill", "deepfill_generator"),
    "degradations": "keras_gan_stable.data.degradations",
    "psnr": ("keras_gan_stable.metrics.image_quality", "psnr"),
    "ssim": ("keras_gan_stable.metrics.image_quality", "ssim"),
    "export_translator": ("keras_gan_stable.export_image", "export_translator"),
    "apply_images": ("keras_gan_stable.apply_images", "apply_images"),
    "captioned_shapes": ("keras_gan_stable.data.captioned_shapes", "captioned_shapes"),
    "load_caption_folder": ("keras_gan_stable.data.caption_folder", "load_caption_folder"),
    "text": "keras_gan_stable.text",
    "CaptionTokenizer": ("keras_gan_stable.text.caption_tokenizer", "CaptionTokenizer"),
    "BiLSTMTextEncoder": ("keras_gan_stable.text.text_encoder", "BiLSTMTextEncoder"),
    "ConditioningAugmentation": ("keras_gan_stable.layers.conditioning_augmentation", "ConditioningAugmentation"),
    "StackGAN": ("keras_gan_stable.models.stackgan", "StackGAN"),
    "stackgan_stage1_generator": ("keras_gan_stable.architectures.stackgan", "stackgan_stage1_generator"),
    "stackgan_stage1_discriminator": ("keras_gan_stable.architectures.stackgan", "stackgan_stage1_discriminator"),
    "save_style_mixing_grid": ("keras_gan_stable.utils.style_figures", "save_style_mixing_grid"),
    "save_interpolation_gif": ("keras_gan_stable.utils.style_figures", "save_interpolation_gif"),
    "synthesis_noise": ("keras_gan_stable.latents", "synthesis_noise"),
}


def register_all():
    """Imports every public module, registering the library's Keras
    serializables (`keras.saving.load_model` needs them in a new process)."""
    for target in _LAZY.values():
        importlib.import_module(target if isinstance(target, str)
                                else target[0])


def __getattr__(name):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(
            f"module 'keras_gan_stable' has no attribute {name!r}")
    if isinstance(target, str):
        value = importlib.import_module(target)
    else:
        value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


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
    "Run",
    "RunConfig",
    "recipes",
    "TimeBudget",
    "ImageFolderDataset",
    "latent_noise",
    "ModulatedConv2D",
    "NoiseInjection",
    "ToRGB",
    "StyleGAN2Generator",
    "stylegan2_discriminator",
    "stylegan2_generator",
    "StyleGAN2",
    "GeometricAdaptiveAugment",
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
    "export_translator",
    "apply_images",
    "captioned_shapes",
    "load_caption_folder",
    "CaptionTokenizer",
    "BiLSTMTextEncoder",
    "ConditioningAugmentation",
    "StackGAN",
    "stackgan_stage1_generator",
    "stackgan_stage1_discriminator",
    "save_style_mixing_grid",
    "save_interpolation_gif",
    "synthesis_noise",
]

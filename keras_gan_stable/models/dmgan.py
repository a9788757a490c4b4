"""DM-GAN: dynamic-memory refinement, trained like AttnGAN."""

import keras

from keras_gan_stable.layers.dynamic_memory import DynamicMemory
from keras_gan_stable.models.attngan import AttnGAN
from keras_gan_stable.utils import keras_compat


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class DMGAN(AttnGAN):
    """DM-GAN, trained with `fit()` on `(images, captions)` through `GAN`'s
    step.

    The generator (e.g. `dmgan_generator`) makes an initial image from the
    sentence feature and noise and refines it with `DynamicMemory` layers:
    a memory written from the word features under a writing gate (which
    also reads the mean image feature), key/value addressing of that memory
    by every pixel, and a response gate fusing the memory's response with
    the image features. The objective is the paper's
    `L = L_G + lambda_1 L_CA + lambda_2 L_DAMSM` (`kl_weight` 1,
    `damsm_weight` 5), with the same batches, DAMSM, discriminator and
    mismatched-caption term as `AttnGAN`.

    Args:
        generator: `keras.Model` `[z, sentence, words, mask] -> images`
            holding at least one `DynamicMemory` layer.
        discriminator, latent_dim, damsm, damsm_weight, kl_weight,
        mismatch_weight, seed, ema_decay, ema_rampup, image_stages: as for
            `AttnGAN`.

    >>> g = dmgan_generator(100, 64, 100, image_size=32)
    >>> d = stackgan_stage1_discriminator(32, 64)
    >>> gan = DMGAN(g, d, latent_dim=200, damsm=damsm)

    Reference:
        Zhu et al., "DM-GAN: Dynamic Memory Generative Adversarial Networks
        for Text-to-Image Synthesis", CVPR 2019.
    """

    def __init__(self, generator, discriminator, latent_dim, damsm,
                 damsm_weight=5.0, kl_weight=1.0, mismatch_weight=0.5,
                 seed=None, ema_decay=None, ema_rampup=None, image_stages=1,
                 **kwargs):
        if isinstance(generator, keras.layers.Layer) and not any(
                isinstance(layer, DynamicMemory)
                for layer in keras_compat.flatten_layers(generator)):
            raise ValueError(
                "The DMGAN generator should hold a DynamicMemory layer (the "
                "dynamic memory refinement). Received a generator without "
                f"one: `generator={generator.name!r}`. Build it with "
                "`dmgan_generator`, or train an attention generator with "
                "`AttnGAN`.")
        super().__init__(generator, discriminator, latent_dim=latent_dim,
                         damsm=damsm, damsm_weight=damsm_weight,
                         kl_weight=kl_weight,
                         mismatch_weight=mismatch_weight, seed=seed,
                         ema_decay=ema_decay, ema_rampup=ema_rampup,
                         image_stages=image_stages, **kwargs)

"""AttnGAN: word-attention generator trained with a frozen DAMSM's loss."""

import keras
from keras import ops

from keras_gan_stable import backend as gan_backend
from keras_gan_stable.models.damsm import damsm_losses
from keras_gan_stable.models.gan import _static_shape
from keras_gan_stable.models.stackgan import StackGAN


def pack_text(words, sentence, mask):
    """Word features, sentence feature and mask as one `[B, 1 + T, D + 1]`
    tensor (GAN's step slices and rolls one tensor of text features).

    Row 0 holds the sentence, rows `1..T` the words; the last channel is
    the mask (1 at the sentence row and at words, 0 at padding).
    """
    words = ops.cast(words, "float32")
    sentence = ops.cast(sentence, "float32")
    mask = ops.cast(mask, "float32")[..., None]  # [B, T, 1]
    head = ops.concatenate([sentence, ops.ones_like(sentence[:, :1])],
                           axis=-1)[:, None, :]  # [B, 1, D + 1]
    return ops.concatenate(
        [head, ops.concatenate([words, mask], axis=-1)], axis=1)


def unpack_text(text):
    """`(sentence [B, D], words [B, T, D], mask [B, T])` of `pack_text`."""
    return text[:, 0, :-1], text[:, 1:, :-1], text[:, 1:, -1]


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class AttnGAN(StackGAN):
    """AttnGAN, trained with `fit()` on `(images, captions)` through `GAN`'s
    step.

    A pretrained, frozen `DAMSM` gives the text features: its text encoder
    maps token ids to word features, a sentence feature and the padding
    mask, which condition the generator (`[z, sentence, words, mask] ->
    images`, e.g. `attngan_generator`); the discriminator maps
    `[images, sentence]` to logits (e.g. `stackgan_stage1_discriminator`).
    G's objective is

        L_G = adversarial + kl_weight * KL + damsm_weight * L_DAMSM,

    `L_DAMSM = L1^w + L2^w + L1^s + L2^s` of the generated images (through
    the DAMSM's image encoder, resized to its input size when it differs)
    against their captions, the batch's other captions being the
    negatives (logged as `damsm`). The KL term is the conditioning
    augmentation's, as in `StackGAN`; D's loss has the mismatched-caption
    term of `StackGAN` (`mismatch_weight`).

    Batches are dicts with `"images"` and `"captions"` (token ids `[N, T]`
    from the DAMSM's tokenizer, 0 = padding), plus the optional `"z"`,
    `"z_g"` of `GAN`. `"embeddings"` may replace `"captions"`: the packed
    text features of `embed(captions)` (`[N, 1 + T, D + 1]`).

    Args:
        generator: `keras.Model` `[z, sentence, words, mask] -> images`.
        discriminator: `keras.Model` `[images, sentence] -> logits`.
        latent_dim: int. Size of `z`: `noise_dim + condition_dim`.
        damsm: `DAMSM`, pretrained; frozen here. Its text encoder feeds
            the generator and the discriminator, its image encoder the
            DAMSM loss.
        damsm_weight: float >= 0. `lambda` of the DAMSM loss. Defaults to
            5.0 (the paper's value on CUB; 50 on COCO). 0 drops the term.
        kl_weight: float. Defaults to 1.0 (the authors' code).
        image_stages: int. 1: the generator outputs the final image and
            one discriminator sees it. K > 1: a discriminator per stage, as
            in the paper: the generator outputs `pack_stage_images` of its
            K stages' images (`attngan_generator(..., stage_images=True)`),
            the discriminator is a `multi_stage_discriminator` of K, and
            the real images are packed alike (stage `k` averaged down to
            its resolution) by `_unpack`; `generate` and the DAMSM loss
            read the final stage. Defaults to 1.
        mismatch_weight, seed, ema_decay, ema_rampup: as for `StackGAN`.

    >>> g = attngan_generator(100, 64, 100, image_size=32)
    >>> d = stackgan_stage1_discriminator(32, 64)
    >>> gan = AttnGAN(g, d, latent_dim=200, damsm=damsm)
    >>> gan.compile(loss="non_saturating")
    >>> gan.fit({"images": x, "captions": tok(captions)}, batch_size=32)
    >>> gan.generate(captions=tok(["a red circle"]), seed=0)

    Reference:
        Xu et al., "AttnGAN: Fine-Grained Text to Image Generation with
        Attentional Generative Adversarial Networks", CVPR 2018.
    """

    def __init__(self, generator, discriminator, latent_dim, damsm,
                 damsm_weight=5.0, kl_weight=1.0, mismatch_weight=0.5,
                 seed=None, ema_decay=None, ema_rampup=None, image_stages=1,
                 **kwargs):
        kwargs.pop("text_encoder", None)
        if isinstance(image_stages, bool) or not isinstance(
                image_stages, int) or image_stages < 1:
            raise ValueError(
                "`image_stages` should be a positive integer (1: one "
                "discriminator on the final image). Received: "
                f"`image_stages={image_stages!r}`")
        self.image_stages = image_stages
        if not (hasattr(damsm, "image_encoder")
                and hasattr(damsm, "text_encoder")):
            raise ValueError(
                f"`damsm` should be a pretrained `DAMSM` (with an "
                f"`image_encoder` and a `text_encoder`). Received: "
                f"`damsm={damsm!r}`")
        try:
            damsm_weight = float(damsm_weight)
        except (TypeError, ValueError):
            damsm_weight = float("nan")
        if not damsm_weight >= 0:
            raise ValueError(
                "`damsm_weight` should be a number >= 0 (5.0 in the paper, "
                "0 drops the DAMSM loss). Received: "
                f"`damsm_weight={damsm_weight!r}`")
        super().__init__(generator, discriminator, latent_dim=latent_dim,
                         text_encoder=damsm.text_encoder, kl_weight=kl_weight,
                         mismatch_weight=mismatch_weight, seed=seed,
                         ema_decay=ema_decay, ema_rampup=ema_rampup, **kwargs)
        damsm.trainable = False
        self.damsm = damsm
        self.damsm_weight = damsm_weight
        self._check_damsm()
        self.damsm_tracker = keras.metrics.Mean(name="damsm")

    # ------------------------------------------------------------------ #
    # Construction checks
    # ------------------------------------------------------------------ #
    def _check_networks(self):
        g_in = _static_shape(self.generator, "input")
        d_in = _static_shape(self.discriminator, "input")
        if g_in is not None and len(g_in) != 4:
            raise ValueError(
                f"The generator has {len(g_in)} inputs {g_in}, but "
                f"{type(self).__name__} calls it with [z, sentence, words, "
                "mask]. Build it with `attngan_generator` or "
                "`dmgan_generator`.")
        if d_in is not None and len(d_in) != 2:
            raise ValueError(
                f"The discriminator has {len(d_in)} inputs {d_in}, but "
                f"{type(self).__name__} calls it with [images, sentence]. "
                "Build it with `stackgan_stage1_discriminator`.")
        if g_in is not None and g_in[0][-1] not in (None, self.latent_dim):
            raise ValueError(
                f"The generator takes latent vectors of size {g_in[0][-1]}, "
                f"but `latent_dim={self.latent_dim}`. Pass noise_dim + "
                "condition_dim as `latent_dim`.")
        if g_in is not None and d_in is not None and (
                g_in[1][-1] != d_in[1][-1]):
            raise ValueError(
                f"The generator takes sentence features of size "
                f"{g_in[1][-1]} but the discriminator of size {d_in[1][-1]}. "
                "Build both for the DAMSM's feature size.")
        return None if d_in is None else tuple(d_in[0][1:])

    def _check_damsm(self):
        g_in = _static_shape(self.generator, "input")
        dim = getattr(self.damsm.text_encoder, "feature_dim", None)
        if g_in is not None and dim is not None and g_in[2][-1] != dim:
            raise ValueError(
                f"The generator takes word features of size {g_in[2][-1]}, "
                f"but the DAMSM's text encoder makes {dim}. Build the "
                f"generator with `text_dim={dim}`.")

    # ------------------------------------------------------------------ #
    # Hooks of StackGAN's step
    # ------------------------------------------------------------------ #
    @property
    def metrics(self):
        extra = [self.damsm_tracker] if self.damsm_weight else []
        return super().metrics + extra

    def embed(self, captions):
        """Token ids `[N, T]` -> packed text features `[N, 1 + T, D + 1]`
        (`pack_text`) from the frozen DAMSM text encoder."""
        captions = ops.cast(captions, "int32")
        words, sentence = self.text_encoder(captions, training=False)
        return ops.stop_gradient(
            pack_text(words, sentence, ops.not_equal(captions, 0)))

    def _generator_inputs(self, z, text):
        sentence, words, mask = unpack_text(text)
        return [z, sentence, words, mask]

    def _discriminator_inputs(self, images, text):
        return [images, unpack_text(text)[0]]

    def _sentence(self, text):
        return unpack_text(text)[0]

    def _final_images(self, images):
        if self.image_stages == 1:
            return images
        return images[..., -(images.shape[-1] // self.image_stages):]

    def _unpack(self, data):
        images, text, z, z_g, eps = super()._unpack(data)
        if self.image_stages > 1:
            from keras_gan_stable.architectures.text_to_image import (
                stage_images_of)

            images = stage_images_of(images, self.image_stages)
        return images, text, z, z_g, eps

    def damsm_loss(self, images, text):
        """`L_DAMSM` of images `[B, S, S, C]` against packed text features
        (the final stage's, when the generator packs several)."""
        images = self._final_images(images)
        sentence, words, mask = unpack_text(text)
        encoder = self.damsm.image_encoder
        size = _static_shape(encoder, "input")
        images = ops.cast(images, "float32")
        if size is not None and tuple(images.shape[1:3]) != size[0][1:3]:
            images = ops.image.resize(images, size[0][1:3],
                                      interpolation="bilinear")
        local, global_ = encoder(images, training=False)
        terms = damsm_losses(words, ops.greater(mask, 0.5), sentence, local,
                             global_, self.damsm.gamma1, self.damsm.gamma2,
                             self.damsm.gamma3)
        return terms["w1"] + terms["w2"] + terms["s1"] + terms["s2"]

    def _generator_objective(self, adversarial, fake, labels):
        loss, logs = super()._generator_objective(adversarial, fake, labels)
        if self.damsm_weight:
            value = self.damsm_loss(fake, labels)  # over this replica's batch
            # Replicas' gradients are summed: each carries 1/replicas.
            replicas = gan_backend.num_replicas_in_sync()
            loss = loss + self.damsm_weight * value / float(replicas)
            logs = {**logs, "damsm": value}
        return loss, logs

    def _gan_train_step(self, data):
        logs = super()._gan_train_step(data)
        extra = self._step_stats.get("g_extra", {})
        if "damsm" in extra:
            self.damsm_tracker.update_state(
                extra["damsm"], sample_weight=self._step_stats.get("g_finite"))
            logs["damsm"] = self.damsm_tracker.result()
        return logs

    def _gan_test_step(self, data):
        logs = super()._gan_test_step(data)
        return {k: v for k, v in logs.items() if k != "damsm"}

    # ------------------------------------------------------------------ #
    # Serialisation
    # ------------------------------------------------------------------ #
    def get_config(self):
        config = super().get_config()
        config.pop("text_encoder", None)
        config["damsm"] = keras.saving.serialize_keras_object(self.damsm)
        config["damsm_weight"] = self.damsm_weight
        config["image_stages"] = self.image_stages
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["damsm"] = keras.saving.deserialize_keras_object(
            config["damsm"], custom_objects=custom_objects)
        return super().from_config(config, custom_objects=custom_objects)

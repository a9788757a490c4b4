"""StackGAN: a text-conditional GAN with conditioning augmentation."""

import keras
import numpy as np
from keras import ops

from keras_gan_stable.layers.conditioning_augmentation import (
    ConditioningAugmentation)
from keras_gan_stable.layers.power_iteration import power_iteration_updates
from keras_gan_stable.models.gan import GAN, strip_batch
from keras_gan_stable.models.gan import _static_shape
from keras_gan_stable.utils import keras_compat


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class StackGAN(GAN):
    """StackGAN's stage I or II, trained with `fit()` through `GAN`'s step.

    The generator maps `[z, e]` to images and holds one
    `ConditioningAugmentation` layer of its own; `z` has `noise_dim +
    condition_dim` entries, the last `condition_dim` of which are the
    conditioning augmentation's standard-normal sample, so the model's
    seeded noise (or `"z"` / `"z_g"` injected into a batch) fixes the whole
    step. Stage II's generator (`stackgan_stage2_generator`) also nests the
    frozen stage-I generator and its layer; the KL term is that of the
    generator's own layer. The
    discriminator maps `[images, e]` to logits. G's objective is the
    adversarial loss plus `kl_weight` times the conditioning augmentation's
    KL term (logged as `kl`).

    Batches are dicts with `"images"` and either `"embeddings"` (float
    sentence embeddings `[N, D]`) or `"captions"` (int token ids `[N, T]`
    from `CaptionTokenizer`, turned into sentence embeddings by the frozen
    `text_encoder`), plus the optional `"z"`, `"z_g"` of `GAN`.

    The discriminator sees (real image, its caption) as real, (generated
    image, the same caption) as fake, and (real image, a mismatched
    caption) as fake: the matching-aware loss of GAN-CLS. The mismatched
    caption of sample `i` is the caption of sample `i - 1` of the same D
    batch (a roll by one). D's loss is `real + (1 - w) fake + w wrong` with
    `w = mismatch_weight` (0.5, the paper's average of the two fake terms);
    the logged `d_loss` is that whole loss, and `d_wrong` the mean logit on
    mismatched pairs.

    Args:
        generator: `keras.Model` `[z, e] -> images`, e.g.
            `stackgan_stage1_generator`.
        discriminator: `keras.Model` `[images, e] -> logits`, e.g.
            `stackgan_stage1_discriminator`.
        latent_dim: int. Size of `z`: `noise_dim + condition_dim`.
        text_encoder: layer or `None`. Maps token ids to
            `(words, sentence)` (e.g. `BiLSTMTextEncoder`); used frozen, for
            batches with `"captions"`. Defaults to `None`.
        kl_weight: float. Weight of the KL term in G's objective. Defaults
            to 2.0 (the authors' setting).
        mismatch_weight: float in [0, 1]. Weight `w` of the (real image,
            mismatched caption) term in D's loss; the generated-image term
            gets `1 - w`. `0` drops the term (then D's loss is `GAN`'s).
            Defaults to 0.5 (the authors' setting).
        seed, ema_decay, ema_rampup: as for `GAN`.

    >>> g = stackgan_stage1_generator(100, 256, 128, image_size=64)
    >>> d = stackgan_stage1_discriminator(64, 256)
    >>> gan = StackGAN(g, d, latent_dim=228)
    >>> gan.compile(loss="non_saturating")
    >>> gan.fit({"images": x, "embeddings": e}, batch_size=64)
    >>> g2 = stackgan_stage2_generator(g, condition_dim=128)  # 64 -> 128
    >>> d2 = stackgan_stage1_discriminator(128, 256)
    >>> stage2 = StackGAN(g2, d2, latent_dim=228 + 128)

    Reference:
        Zhang et al., "StackGAN: Text to Photo-realistic Image Synthesis
        with Stacked Generative Adversarial Networks", ICCV 2017.
        Reed et al., "Generative Adversarial Text to Image Synthesis",
        ICML 2016 (the matching-aware discriminator).
    """

    def __init__(self, generator, discriminator, latent_dim,
                 text_encoder=None, kl_weight=2.0, mismatch_weight=0.5,
                 seed=None, ema_decay=None, ema_rampup=None, **kwargs):
        kwargs.pop("num_classes", None)
        super().__init__(generator, discriminator, latent_dim=latent_dim,
                         num_classes=None, seed=seed, ema_decay=ema_decay,
                         ema_rampup=ema_rampup, **kwargs)
        if not float(kl_weight) >= 0:
            raise ValueError(
                "`kl_weight` should be >= 0. Received: "
                f"`kl_weight={kl_weight!r}`")
        self.kl_weight = float(kl_weight)
        try:
            mismatch_weight = float(mismatch_weight)
        except (TypeError, ValueError):
            mismatch_weight = float("nan")
        if not 0.0 <= mismatch_weight <= 1.0:
            raise ValueError(
                "`mismatch_weight` should be a number in [0, 1] (0 drops the "
                "mismatched-caption term, 0.5 is the paper's). Received: "
                f"`mismatch_weight={mismatch_weight!r}`")
        self.mismatch_weight = mismatch_weight
        # Stage II nests the frozen stage-I generator (and its layer): the
        # generator's own layer is the one whose KL term counts.
        found = [layer for layer in keras_compat.flatten_layers(
                     generator, recursive=False)
                 if isinstance(layer, ConditioningAugmentation)]
        if len(found) != 1:
            found = [layer for layer in keras_compat.flatten_layers(generator)
                     if isinstance(layer, ConditioningAugmentation)]
        if len(found) != 1:
            raise ValueError(
                "The generator should hold exactly one "
                "ConditioningAugmentation layer (its KL term enters G's "
                f"objective). Received a generator with {len(found)}. Build "
                "it with `stackgan_stage1_generator` or "
                "`stackgan_stage2_generator`.")
        object.__setattr__(self, "_conditioning", found[0])
        self.text_encoder = text_encoder
        if text_encoder is not None:
            text_encoder.trainable = False
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.d_wrong_tracker = keras.metrics.Mean(name="d_wrong")

    # ------------------------------------------------------------------ #
    # Construction checks
    # ------------------------------------------------------------------ #
    def _check_networks(self):
        g_in = _static_shape(self.generator, "input")
        d_in = _static_shape(self.discriminator, "input")
        for name, shapes, first in (("generator", g_in, "z"),
                                    ("discriminator", d_in, "images")):
            if shapes is not None and len(shapes) != 2:
                raise ValueError(
                    f"The {name} has {len(shapes)} inputs {shapes}, but "
                    f"StackGAN calls it with [{first}, sentence embedding]. "
                    "Build a two-input network.")
        if g_in is not None and g_in[0][-1] not in (None, self.latent_dim):
            raise ValueError(
                f"The generator takes latent vectors of size {g_in[0][-1]}, "
                f"but `latent_dim={self.latent_dim}`. Pass noise_dim + "
                "condition_dim as `latent_dim`.")
        if g_in is not None and d_in is not None and (
                g_in[1][-1] != d_in[1][-1]):
            raise ValueError(
                f"The generator takes sentence embeddings of size "
                f"{g_in[1][-1]} but the discriminator of size {d_in[1][-1]}. "
                "Build both for the text encoder's sentence size.")
        return None if d_in is None else tuple(d_in[0][1:])

    # ------------------------------------------------------------------ #
    # Hooks of GAN's step
    # ------------------------------------------------------------------ #
    @property
    def metrics(self):
        extra = [self.d_wrong_tracker] if self.mismatch_weight else []
        return super().metrics + [self.kl_tracker] + extra

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _generate(self, z, labels, training):
        # `labels` carries the text features through GAN's step.
        return self.generator(self._generator_inputs(z, labels),
                              training=training)

    def _discriminate(self, images, labels, training=True):
        return self.discriminator(self._discriminator_inputs(images, labels),
                                  training=training)

    def _generator_inputs(self, z, text):
        """Hook: the generator's inputs for latents and the step's text
        features (sentence embeddings here; AttnGAN packs word features)."""
        return [z, text]

    def _discriminator_inputs(self, images, text):
        """Hook: the discriminator's inputs for images and text features."""
        return [images, text]

    def _sentence(self, text):
        """Hook: the sentence embeddings `[N, D]` within the text features
        (what the conditioning augmentation reads)."""
        return text

    def _final_images(self, images):
        """Hook: the final images within the generator's output (AttnGAN
        with a discriminator per stage packs every stage's image)."""
        return images

    def embed(self, captions):
        """Token ids `[N, T]` -> sentence embeddings `[N, D]` (frozen)."""
        if self.text_encoder is None:
            raise ValueError(
                "This batch has 'captions' (token ids) but the StackGAN has "
                "no `text_encoder`. Pass `text_encoder=` or give "
                "'embeddings' in the batch.")
        _, sentence = self.text_encoder(captions, training=False)
        return ops.stop_gradient(ops.cast(sentence, "float32"))

    def _unpack(self, data):
        data = strip_batch(data)
        if not isinstance(data, dict) or "images" not in data or not (
                ("embeddings" in data) ^ ("captions" in data)):
            what = (f"keys {sorted(data)}" if isinstance(data, dict)
                    else type(data).__name__)
            raise ValueError(
                "StackGAN trains on dict batches with 'images' and one of "
                "'embeddings' (sentence embeddings [N, D]) or 'captions' "
                f"(token ids [N, T]). Received {what}.")
        rest = {k: v for k, v in data.items()
                if k not in ("embeddings", "captions")}
        images, _, z, z_g, eps = super()._unpack(rest)
        if "embeddings" in data:
            text = ops.cast(ops.convert_to_tensor(data["embeddings"]),
                            "float32")
        else:
            text = self.embed(ops.convert_to_tensor(data["captions"]))
        return images, text, z, z_g, eps

    def _discriminator_objective(self, adversarial, real, real_logits,
                                 fake_logits, labels, training=True):
        if not self.mismatch_weight:
            return adversarial, {}
        wrong_text = ops.roll(labels, 1, axis=0)  # caption of sample i - 1
        with power_iteration_updates(False):
            wrong_logits = ops.cast(
                self._discriminate(real, wrong_text, training=training),
                "float32")
        # Every loss of `losses.py` is a real part plus a fake part, so this
        # difference is the fake part at the wrong logits minus the fake
        # part at the generated images' logits.
        swap = (self.loss_fn.discriminator_loss(real_logits, wrong_logits)
                - self.loss_fn.discriminator_loss(real_logits, fake_logits))
        loss = adversarial + self.mismatch_weight * self._reduce(swap)
        return loss, {"d_wrong": ops.mean(wrong_logits)}

    def _d_update(self, real, labels, z, eps):
        logs = super()._d_update(real, labels, z, eps)
        if "d_wrong" in logs:
            self.d_wrong_tracker.update_state(
                logs["d_wrong"], sample_weight=self._step_stats.get(
                    "d_finite"))
        return logs

    def _generator_objective(self, adversarial, fake, labels):
        kl = self._reduce(self._conditioning.kl(self._sentence(labels)))
        loss = adversarial + self.kl_weight * kl
        return loss, {"kl": self._local_mean(kl)}

    def _gan_train_step(self, data):
        logs = super()._gan_train_step(data)
        extra = self._step_stats.get("g_extra", {})
        if "kl" in extra:
            self.kl_tracker.update_state(
                extra["kl"], sample_weight=self._step_stats.get("g_finite"))
            logs["kl"] = self.kl_tracker.result()
        return logs

    def _gan_test_step(self, data):
        # evaluate() computes the losses only (d_loss with the mismatched
        # term); the KL and d_wrong trackers would report stale values.
        logs = super()._gan_test_step(data)
        return {k: v for k, v in logs.items() if k not in ("kl", "d_wrong")}

    def _check_fit_data(self, x, y, batch_size):
        if isinstance(x, dict) and "images" in x:
            images = x["images"]
            if isinstance(images, np.ndarray):
                self._check_image_values(images)
            return x, y
        return super()._check_fit_data(x, y, batch_size)

    # ------------------------------------------------------------------ #
    # Sampling
    # ------------------------------------------------------------------ #
    def generate(self, n=None, seed=None, labels=None, batch_size=256,
                 generator=None, use_ema=None, embeddings=None,
                 captions=None):
        """Images for sentence embeddings or token ids, as NumPy in [-1, 1].

        Pass `embeddings` `[N, D]` or `captions` (token ids `[N, T]`); `n`,
        when given, must equal N. The same `seed` gives the same noise (and
        conditioning-augmentation sample) as `GAN.generate`.
        """
        if (embeddings is None) == (captions is None):
            raise ValueError(
                "StackGAN.generate needs exactly one of `embeddings` "
                "(sentence embeddings [N, D]) or `captions` (token ids "
                "[N, T]).")
        text = (np.asarray(embeddings, "float32") if embeddings is not None
                else ops.convert_to_numpy(self.embed(
                    ops.convert_to_tensor(np.asarray(captions, "int32")))))
        if n is not None and int(n) != len(text):
            raise ValueError(
                f"`n={n}` but {len(text)} captions or embeddings were given.")
        z, _ = self.sample_latents(len(text), seed=seed)
        if use_ema and self.ema_generator is None:
            raise ValueError(
                "`use_ema=True` but this GAN keeps no EMA generator. Create "
                "it with `ema_decay=0.999`.")
        net = generator
        if net is None:
            net = self.generator
            if use_ema is not False and self.ema_generator is not None:
                net = self.ema_generator
        out = [self._final_images(ops.convert_to_numpy(net(
                   self._generator_inputs(z[i:i + batch_size],
                                          text[i:i + batch_size]),
                   training=False)))
               for i in range(0, len(text), batch_size)]
        return np.concatenate(out, axis=0) if out else np.zeros(
            (0,) + tuple(self.image_shape or ()), "float32")

    # ------------------------------------------------------------------ #
    # Serialisation
    # ------------------------------------------------------------------ #
    def get_config(self):
        config = super().get_config()
        config.pop("num_classes", None)
        config["kl_weight"] = self.kl_weight
        config["mismatch_weight"] = self.mismatch_weight
        config["text_encoder"] = (
            None if self.text_encoder is None
            else keras.saving.serialize_keras_object(self.text_encoder))
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if config.get("text_encoder") is not None:
            config["text_encoder"] = keras.saving.deserialize_keras_object(
                config["text_encoder"], custom_objects=custom_objects)
        return super().from_config(config, custom_objects=custom_objects)

"""`ImageToImageGAN`: a conditional GAN whose generator maps images to images."""

import numpy as np
import keras
from keras import ops

from keras_gan_stable.losses_perceptual import PerceptualLoss
from keras_gan_stable.models.gan import GAN, strip_batch

RECONSTRUCTIONS = ("l1", "l2", None)


def _shape(model, which):
    tensors = getattr(model, which + "s", None)
    try:
        if tensors and len(tensors) == 1:
            return tuple(tensors[0].shape[1:])
        if tensors:
            return [tuple(t.shape[1:]) for t in tensors]
    except (AttributeError, ValueError):
        pass
    return None


def _mismatch(got, want):
    return len(got) != len(want) or any(
        a is not None and b is not None and a != b for a, b in zip(got, want))


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class ImageToImageGAN(GAN):
    """Paired image-to-image translation (pix2pix, SRGAN, DeepFill) with `fit()`.

    Trains on `(inputs, targets)` pairs: `fit(inputs, targets)`, a
    `tf.data.Dataset` of `(inputs, targets)` (for example
    `images.map(super_resolution(4))`), or dict batches with `"inputs"`,
    `"targets"` (and optionally `"eps"`). The generator maps an input batch
    `[N, h, w, c_in]` to outputs `[N, H, W, C]` of the targets' shape; with
    `conditional=True` the discriminator sees
    `concat([resize(inputs), images], axis=-1)` (`[N, H, W, c_in + C]`, the
    inputs upsampled by nearest-neighbour repetition when smaller, as for
    super-resolution), else the images alone.

    Everything else is `GAN`'s: `compile(loss=..., penalty=..., n_critic=...,
    skip_nonfinite=..., augment=...)`, spectral normalisation inside the
    networks, `ema_decay`, checkpoints and callbacks. The generator loss is

        adversarial + reconstruction_weight * |G(x) - y|_1 (or squared)
                    + perceptual_weight * perceptual(G(x), y)

    and the logs add `reconstruction` (and `perceptual`) to GAN's losses.
    Calling the model (`predict`, `translate`) runs the generator. Gradient
    penalties differentiate D with respect to the output image, the
    condition held fixed.

    Args:
        generator: `keras.Model` mapping input images to output images.
        discriminator: `keras.Model` mapping `[N, H, W, c_in + C]`
            (conditional) or `[N, H, W, C]` to logits (`[N]`, `[N, 1]` or a
            PatchGAN map `[N, h', w', 1]`, averaged per sample).
        reconstruction: `"l1"`, `"l2"` or `None`. Defaults to `"l1"`
            (pix2pix).
        reconstruction_weight: float. Defaults to `100.0` (pix2pix; ESRGAN
            uses 0.01 with an L1 term on a PSNR-pretrained model).
        perceptual: `PerceptualLoss`, a feature `keras.Model`, or `None`.
        perceptual_weight: float. Defaults to `1.0`.
        adversarial_weight: float. Weight of the adversarial generator
            loss; `0.0` trains the generator on the reconstruction alone
            (the "PSNR-oriented" pretraining of ESRGAN). Defaults to `1.0`.
        conditional: bool. Give D the input image too. Defaults to `True`.
        seed, ema_decay, ema_rampup: as in `GAN`.

    >>> pairs = super_resolution(scale=4)
    >>> low, high = pairs(images)
    >>> g = rrdb_generator((8, 8, 3), scale=4, filters=32, num_blocks=2)
    >>> d = patchgan_discriminator((32, 32, 6))
    >>> gan = ImageToImageGAN(g, d)
    >>> gan.compile(loss="hinge")
    >>> gan.fit(low, high, batch_size=16, epochs=5)

    Reference:
        Isola et al., "Image-to-Image Translation with Conditional
        Adversarial Networks", CVPR 2017.
    """

    def __init__(self, generator, discriminator, reconstruction="l1",
                 reconstruction_weight=100.0, perceptual=None,
                 perceptual_weight=1.0, adversarial_weight=1.0,
                 conditional=True, seed=None, ema_decay=None, ema_rampup=None,
                 **kwargs):
        kwargs.pop("latent_dim", None)
        kwargs.pop("num_classes", None)
        super().__init__(generator, discriminator, latent_dim=1,
                         num_classes=None, seed=seed, ema_decay=ema_decay,
                         ema_rampup=ema_rampup, **kwargs)
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(
                "`reconstruction` should be 'l1', 'l2' or None. Received: "
                f"`reconstruction={reconstruction!r}`"
            )
        for name, value in (("reconstruction_weight", reconstruction_weight),
                            ("perceptual_weight", perceptual_weight),
                            ("adversarial_weight", adversarial_weight)):
            if not float(value) >= 0:
                raise ValueError(
                    f"`{name}` should be >= 0. Received: `{name}={value!r}`"
                )
        self.reconstruction = reconstruction
        self.reconstruction_weight = float(reconstruction_weight)
        self.perceptual_weight = float(perceptual_weight)
        self.adversarial_weight = float(adversarial_weight)
        self.conditional = bool(conditional)
        self.perceptual = None
        if perceptual is not None:
            self.perceptual = PerceptualLoss(perceptual)
            # Tracked so its (frozen) weights travel with the model's state.
            self.perceptual_model = self.perceptual.model
        self.input_image_shape, self.image_shape = self._check_image_networks()
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.perceptual_tracker = keras.metrics.Mean(name="perceptual")
        object.__setattr__(self, "_g_targets", None)

    # ------------------------------------------------------------------ #
    # Construction checks
    # ------------------------------------------------------------------ #
    def _check_networks(self):
        # GAN's latent-vector checks do not apply; see _check_image_networks.
        return None

    def _check_image_networks(self):
        g_in = _shape(self.generator, "input")
        g_out = _shape(self.generator, "output")
        d_in = _shape(self.discriminator, "input")
        for name, shape in (("generator input", g_in),
                            ("generator output", g_out),
                            ("discriminator input", d_in)):
            if isinstance(shape, list):
                raise ValueError(
                    f"ImageToImageGAN needs networks with one image in and "
                    f"one out; the {name} has several: {shape}."
                )
            if shape is not None and len(shape) != 3:
                raise ValueError(
                    f"The {name} should be images [N, H, W, C]. Received "
                    f"shape {(None,) + tuple(shape)}."
                )
        if g_in is not None and g_out is not None and None not in (
                g_in[:2] + g_out[:2]):
            for a, b in zip(g_out[:2], g_in[:2]):
                if a % b:
                    raise ValueError(
                        f"The generator's output size {g_out[:2]} should be "
                        f"its input size {g_in[:2]} times an integer (the "
                        "discriminator's condition is the input upsampled "
                        "by repetition)."
                    )
        if g_out is not None and d_in is not None:
            want = g_out
            if self.conditional and g_in is not None:
                want = g_out[:2] + (
                    None if None in (g_in[2], g_out[2])
                    else g_in[2] + g_out[2],)
            if _mismatch(d_in, want):
                what = ("[inputs (upsampled), outputs] concatenated on the "
                        "channel axis" if self.conditional
                        else "the generator's outputs")
                raise ValueError(
                    f"The discriminator takes {d_in} but sees {what}: {want}. "
                    "Build the discriminator for that shape (or pass "
                    "`conditional=False` to show it the outputs alone)."
                )
        return g_in, g_out

    # ------------------------------------------------------------------ #
    # Hooks of GAN's step
    # ------------------------------------------------------------------ #
    @property
    def metrics(self):
        out = super().metrics
        out = out + [self.reconstruction_tracker]
        if self.perceptual is not None:
            out.append(self.perceptual_tracker)
        return out

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _sample_z(self, n):
        return None  # the generator takes no noise

    def _generate(self, z, labels, training):
        # `labels` carries the input images through GAN's step.
        return self.generator(labels, training=training)

    def _condition(self, inputs, images):
        h, w = images.shape[1], images.shape[2]
        ih, iw = inputs.shape[1], inputs.shape[2]
        if (ih, iw) != (h, w):
            inputs = ops.repeat(inputs, h // ih, axis=1)
            inputs = ops.repeat(inputs, w // iw, axis=2)
        return ops.concatenate(
            [ops.cast(inputs, images.dtype), images], axis=-1)

    def _discriminate(self, images, labels, training=True):
        if self.conditional:
            images = self._condition(labels, images)
        return self.discriminator(images, training=training)

    def _unpack(self, data):
        eps = None
        data = strip_batch(data)
        if isinstance(data, dict):
            missing = {"inputs", "targets"} - set(data)
            if missing:
                raise ValueError(
                    "A dict batch for ImageToImageGAN needs 'inputs' and "
                    f"'targets'. Received keys: {sorted(data)}"
                )
            inputs, targets, eps = data["inputs"], data["targets"], data.get(
                "eps")
        elif isinstance(data, tuple) and len(data) >= 2:
            inputs, targets = data[0], data[1]
        else:
            raise ValueError(
                "ImageToImageGAN trains on (inputs, targets) pairs: "
                "`fit(inputs, targets)` or a dataset of (inputs, targets). "
                f"Received one tensor of shape {tuple(ops.shape(data))}."
            )
        return (ops.cast(targets, "float32"), ops.cast(inputs, "float32"),
                None, None, eps)

    def _gan_train_step(self, data):
        targets, _, _, _, _ = self._unpack(data)
        k = self.n_critic
        b = ops.shape(targets)[0] // k
        # The G update trains on the last of the n_critic slices.
        object.__setattr__(self, "_g_targets", targets[(k - 1) * b:k * b])
        logs = super()._gan_train_step(data)
        object.__setattr__(self, "_g_targets", None)
        extra = self._step_stats.get("g_extra", {})
        finite = self._step_stats.get("g_finite")
        for name, tracker in (("reconstruction", self.reconstruction_tracker),
                              ("perceptual", self.perceptual_tracker)):
            if name in extra:
                tracker.update_state(extra[name], sample_weight=finite)
                logs[name] = tracker.result()
        return logs

    def _generator_objective(self, adversarial, fake, labels):
        targets = self._g_targets
        loss = self.adversarial_weight * adversarial
        logs = {}
        if self.reconstruction is not None:
            value = self._reduce(self._reconstruction(fake, targets))
            logs["reconstruction"] = self._local_mean(value)
            loss = loss + self.reconstruction_weight * value
        if self.perceptual is not None:
            value = self._reduce(self.perceptual(fake, targets))
            logs["perceptual"] = self._local_mean(value)
            loss = loss + self.perceptual_weight * value
        return loss, logs

    def _reconstruction(self, fake, targets):
        d = ops.cast(fake, "float32") - targets
        d = ops.abs(d) if self.reconstruction == "l1" else ops.square(d)
        return ops.mean(ops.reshape(d, (ops.shape(d)[0], -1)), axis=-1)

    def _gan_test_step(self, data):
        targets, inputs, _, _, _ = self._unpack(data)
        logs = super()._gan_test_step(data)
        fake = ops.cast(self.generator(inputs, training=False), "float32")
        if self.reconstruction is not None:
            self.reconstruction_tracker.update_state(
                ops.mean(self._reconstruction(fake, targets)))
            logs["reconstruction"] = self.reconstruction_tracker.result()
        if self.perceptual is not None:
            self.perceptual_tracker.update_state(
                ops.mean(self.perceptual(fake, targets)))
            logs["perceptual"] = self.perceptual_tracker.result()
        return logs

    # ------------------------------------------------------------------ #
    # Inputs
    # ------------------------------------------------------------------ #
    def _check_shapes(self, inputs_shape, targets_shape=None):
        """One clear error for inputs/targets the networks cannot take."""
        for name, got, want in (("inputs", inputs_shape, self.input_image_shape),
                                ("targets", targets_shape, self.image_shape)):
            if got is None or want is None:
                continue
            got = tuple(got)
            if len(got) != 3 or _mismatch(got, want):
                hint = ""
                if len(got) == 3 and got[:2] == tuple(want[:2]):
                    hint = (f" The channels differ ({got[2]} vs {want[2]}): "
                            "convert the images (grey/RGB) or, for "
                            "inpainting, add the mask channel.")
                raise ValueError(
                    f"The {name} have samples of shape {got}, but the "
                    f"networks take {tuple(want)} (height, width, channels)."
                    f"{hint} Resize or convert the data, or build the "
                    "networks for this shape."
                )

    def _check_fit_data(self, x, y, batch_size):
        in_shape = out_shape = None
        if hasattr(x, "element_spec"):
            spec = x.element_spec
            if isinstance(spec, dict):
                spec = (spec.get("inputs"), spec.get("targets"))
            if isinstance(spec, (tuple, list)) and len(spec) >= 2:
                in_shape = getattr(spec[0], "shape", None)
                out_shape = getattr(spec[1], "shape", None)
                in_shape = None if in_shape is None else tuple(in_shape)[1:]
                out_shape = None if out_shape is None else tuple(out_shape)[1:]
        elif hasattr(x, "shape"):
            if y is None or not hasattr(y, "shape"):
                raise ValueError(
                    "ImageToImageGAN.fit needs targets: `fit(inputs, "
                    "targets)`. Received `y=None`."
                )
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"`inputs` has {x.shape[0]} samples and `targets` "
                    f"{y.shape[0]}: give one target per input."
                )
            in_shape, out_shape = tuple(x.shape[1:]), tuple(y.shape[1:])
            self._check_shapes(in_shape, out_shape)
            # Targets: GAN's checks (uint8, NaN, data_range). Inputs may
            # leave the range a little (bicubic overshoot): dtype and NaN.
            self._check_image_values(np.asarray(y))
            xa = np.asarray(x)
            if xa.dtype == np.uint8 or (
                    np.issubdtype(xa.dtype, np.floating)
                    and not np.all(np.isfinite(xa))):
                raise ValueError(
                    "The inputs should be finite floats in the targets' "
                    f"range. Received dtype {xa.dtype}"
                    + ("" if xa.dtype == np.uint8 else " with NaN or Inf")
                    + ". Scale uint8 images (x / 127.5 - 1) and drop "
                    "non-finite samples."
                )
            bs = batch_size or 32
            rem = x.shape[0] % bs
            if 0 < rem < self.n_critic:
                x, y = x[:x.shape[0] - rem], y[:y.shape[0] - rem]
        self._check_shapes(in_shape, out_shape)
        if batch_size is not None and batch_size % self.n_critic:
            raise ValueError(
                f"`batch_size={batch_size}` is not a multiple of `n_critic="
                f"{self.n_critic}`. Each train step splits its batch into "
                "n_critic discriminator batches: use batch_size = n_critic * B."
            )
        return x, y

    # ------------------------------------------------------------------ #
    # Inference
    # ------------------------------------------------------------------ #
    def translate(self, inputs, batch_size=64, use_ema=None):
        """Runs the generator (its EMA copy when the model keeps one) on
        `inputs` `[N, h, w, c_in]` (or one image) and returns NumPy outputs."""
        x = np.asarray(inputs, "float32")
        single = x.ndim == 3
        if single:
            x = x[None]
        if x.ndim != 4:
            raise ValueError(
                "`inputs` should be [N, H, W, C] or one [H, W, C] image. "
                f"Received shape {x.shape}."
            )
        self._check_shapes(x.shape[1:])
        net = self.generator
        if use_ema is not False and self.ema_generator is not None:
            net = self.ema_generator
        elif use_ema:
            raise ValueError(
                "`use_ema=True` but this model keeps no EMA generator. Create "
                "it with `ImageToImageGAN(..., ema_decay=0.999)`."
            )
        out = [ops.convert_to_numpy(net(x[i:i + batch_size], training=False))
               for i in range(0, x.shape[0], batch_size)]
        out = np.concatenate(out, axis=0)
        return out[0] if single else out

    def generate(self, *args, **kwargs):
        raise ValueError(
            "ImageToImageGAN maps images to images and samples no latent "
            "vectors: use `translate(inputs)` or `predict(inputs)`."
        )

    # ------------------------------------------------------------------ #
    # Serialisation
    # ------------------------------------------------------------------ #
    def get_config(self):
        config = super().get_config()
        config.pop("latent_dim")
        config.pop("num_classes")
        config.update({
            "reconstruction": self.reconstruction,
            "reconstruction_weight": self.reconstruction_weight,
            "perceptual": (None if self.perceptual is None
                           else self.perceptual.get_config()),
            "perceptual_weight": self.perceptual_weight,
            "adversarial_weight": self.adversarial_weight,
            "conditional": self.conditional,
        })
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if config.get("perceptual") is not None:
            config["perceptual"] = PerceptualLoss.from_config(
                config["perceptual"])
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        return cls(**config)

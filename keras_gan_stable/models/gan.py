"""The `GAN` model: a `keras.Model` whose `train_step` trains G and D."""

import numpy as np
import keras
from keras import ops

from keras_gan_stable import backend as gan_backend
from keras_gan_stable import losses as losses_module
from keras_gan_stable import penalties as penalties_module
from keras_gan_stable.layers.power_iteration import power_iteration_updates
from keras_gan_stable.models.gan_optimizer import GANOptimizer
from keras_gan_stable.utils.keras_compat import flatten_layers


def _default_optimizer():
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.999)


def _static_shape(model, which):
    tensors = getattr(model, which + "s", None)
    try:
        if tensors:
            return [tuple(t.shape) for t in tensors]
    except (AttributeError, ValueError):
        pass
    return None


def _has_batch_norm(model):
    for layer in flatten_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            return True
    return False


_INITIAL_LOSS_SCALE = 2.0 ** 15


def _computes_in_float16(model):
    layers = [model] + list(flatten_layers(model))
    return any(getattr(getattr(layer, "dtype_policy", None), "compute_dtype",
                       None) == "float16" for layer in layers)


def _check_learning_rate(optimizer, name):
    """Refuses a learning rate that is not a finite number >= 0."""
    try:
        lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except (TypeError, ValueError):  # pragma: no cover - exotic optimizers
        return
    # 0 is allowed: it freezes that network (a fixed, pretrained D).
    if not (np.isfinite(lr) and lr >= 0):
        raise ValueError(
            f"The learning rate of `{name}` should be a finite number >= 0. "
            f"Received: learning_rate={lr!r} ({type(optimizer).__name__}). "
            "Pass a positive learning rate, e.g. 2e-4."
        )


def _check_data_range(data_range):
    if data_range is None:
        return None
    try:
        lo, hi = (float(v) for v in data_range)
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(
            "`data_range` should be None or (low, high) with finite "
            f"low < high. Received: `data_range={data_range!r}`"
        )
    return (lo, hi)


def strip_batch(data):
    """A batch as `train_step` gets it, without Keras' padding.

    `train_on_batch(x)` and `evaluate(x)` hand over `(x, None, None)`: the
    trailing `None`s are dropped and a single remaining entry unwrapped.
    """
    if isinstance(data, (list, tuple)):
        data = tuple(data)
        while data and data[-1] is None:
            data = data[:-1]
        if len(data) == 1:
            data = data[0]
    return data


def _all_finite(tensors):
    ok = ops.convert_to_tensor(True)
    for t in tensors:
        ok = ops.logical_and(ok, ops.all(ops.isfinite(t)))
    return ok


def _global_norm(grads):
    return ops.sqrt(sum(ops.sum(ops.square(ops.cast(g, "float32")))
                        for g in grads))


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class GAN(gan_backend.GANTrainer, keras.Model):
    """A generative adversarial network trained with `fit()`.

    The model holds a generator and a discriminator. Each `train_step` makes
    `n_critic` discriminator updates, each on its own slice of the incoming
    batch, then one generator update. With `n_critic = k` the batch given to
    `fit()` therefore holds `k * B` real images, and each D update sees `B`
    of them (`B = batch_size // k`); the G update draws `B` latent vectors.
    One epoch shows every real image to D once and makes
    `len(data) // (k * B)` generator updates.

    Calling the model maps latent vectors (and labels, when conditional) to
    images, so `predict(z)` and `generate(n, seed)` sample; `evaluate(data)`
    reports the losses on real data without updating anything.

    Batches may be images, `(images, labels)`, or a dict with `"images"` and
    optionally `"labels"`, `"z"` (`[k * B, latent_dim]`, the D-step noise),
    `"z_g"` (`[B, latent_dim]`, the G-step noise) and `"eps"` (`[k * B]`,
    interpolation weights): injected values replace the model's own random
    draws, which makes a step reproducible across backends and replicas.

    Args:
        generator: `keras.Model` mapping `z` `[N, latent_dim]` (or
            `[z, labels]` when `num_classes` is set) to images.
        discriminator: `keras.Model` mapping images (or `[images, labels]`)
            to logits `[N]` or `[N, 1]`.
        latent_dim: int. Size of the latent vector.
        num_classes: int or `None`. Number of classes for class-conditional
            training; labels then come from the data. Defaults to `None`.
        seed: int or `None`. Seed of the model's noise stream. Defaults to
            `None`.
        ema_decay: float or `None`. When set, the GAN keeps an exponential
            moving average of the generator's weights as `ema_generator`,
            updated after every generator update (ProGAN uses 0.999);
            `generate()` samples from it. Defaults to `None` (no EMA).
        ema_rampup: float or `None`. StyleGAN2-ADA's ramp-up: the EMA's
            half-life is at most `ema_rampup * step` steps (0.05 there).
            Defaults to `None`.

    >>> gan = GAN(generator, discriminator, latent_dim=128)
    >>> gan.compile(loss="hinge", penalty="r1", penalty_weight=1.0)
    >>> gan.fit(images, batch_size=64, epochs=10)

    Reference:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
    """

    def __init__(self, generator, discriminator, latent_dim, num_classes=None,
                 seed=None, ema_decay=None, ema_rampup=None, **kwargs):
        super().__init__(**kwargs)
        for name, net in (("generator", generator),
                          ("discriminator", discriminator)):
            if not isinstance(net, keras.layers.Layer):
                raise ValueError(
                    f"`{name}` should be a Keras model or layer. Received: "
                    f"`{name}={net!r}` of type {type(net).__name__}."
                )
        try:
            latent_dim = int(latent_dim)
        except (TypeError, ValueError):
            latent_dim = -1
        if latent_dim < 1:
            raise ValueError(
                "`latent_dim` should be a positive integer. Received: "
                f"`latent_dim={latent_dim}`"
            )
        if num_classes is not None and int(num_classes) < 2:
            raise ValueError(
                "`num_classes` should be None (unconditional) or >= 2. "
                f"Received: `num_classes={num_classes}`"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.num_classes = None if num_classes is None else int(num_classes)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.image_shape = self._check_networks()
        # Imported here: the callbacks package may import this module.
        from keras_gan_stable.callbacks import ema as ema_module

        self.ema_decay, self.ema_rampup = ema_module.check_ema_args(
            ema_decay, ema_rampup)
        self.ema_generator = None
        if self.ema_decay is not None:
            self.ema_generator = ema_module.clone_generator(
                generator, name=f"{generator.name}_ema")
        # Counters saved with the model and its checkpoints.
        self.images_seen = keras.Variable(
            0, dtype="int64", trainable=False, name="images_seen")
        self.nonfinite_skips = keras.Variable(
            0.0, dtype="float32", trainable=False, name="nonfinite_skips")
        # Dynamic loss scaling, one scale per network (used under float16).
        self.d_loss_scale = keras.Variable(
            1.0, dtype="float32", trainable=False, name="d_loss_scale")
        self.g_loss_scale = keras.Variable(
            1.0, dtype="float32", trainable=False, name="g_loss_scale")
        self.d_loss_scale_steps = keras.Variable(
            0, dtype="int64", trainable=False, name="d_loss_scale_steps")
        self.g_loss_scale_steps = keras.Variable(
            0, dtype="int64", trainable=False, name="g_loss_scale_steps")
        self.loss_scaling = False
        self.loss_scale_growth_steps = 2000
        self.data_range = (-1.0, 1.0)
        self.augment = None
        self.instance_noise = 0.0
        self.instance_noise_steps = None
        self.skip_nonfinite = False
        self.track_stats = False
        # Per-step values kept out of Keras' attribute tracking (it would
        # adopt the variables referenced there as the model's own).
        object.__setattr__(self, "_step_stats", {})
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.penalty_trackers = {}
        self.built = True

    # ------------------------------------------------------------------ #
    # Construction checks
    # ------------------------------------------------------------------ #
    def _check_networks(self):
        """Checks that G's output fits D's input; returns the image shape."""
        d_in = _static_shape(self.discriminator, "input")
        g_in = _static_shape(self.generator, "input")
        g_out = _static_shape(self.generator, "output")
        n_inputs = 2 if self.num_classes else 1
        for name, shapes in (("generator", g_in), ("discriminator", d_in)):
            if shapes is not None and len(shapes) != n_inputs:
                what = ("[inputs, labels]" if self.num_classes
                        else "a single input")
                raise ValueError(
                    f"The {name} has {len(shapes)} inputs {shapes}, but a "
                    f"GAN with `num_classes={self.num_classes}` calls it with "
                    f"{what}. Build a {name} that takes {what}."
                )
        if g_in is not None and g_in[0][-1] not in (None, self.latent_dim):
            raise ValueError(
                f"The generator takes latent vectors of size {g_in[0][-1]}, "
                f"but `latent_dim={self.latent_dim}`. Pass the generator's "
                "latent size as `latent_dim`."
            )
        image_shape = None
        if d_in is not None:
            image_shape = tuple(d_in[0][1:])
        if g_out is not None:
            g_shape = tuple(g_out[0][1:])
            if image_shape is not None and g_shape != image_shape:
                raise ValueError(
                    f"The generator's output shape {g_shape} differs from the "
                    f"discriminator's input shape {image_shape}. Make the "
                    "generator produce images of the discriminator's input "
                    "shape (height, width, channels)."
                )
            image_shape = image_shape or g_shape
        return image_shape

    # ------------------------------------------------------------------ #
    # Compile
    # ------------------------------------------------------------------ #
    def compile(self, d_optimizer=None, g_optimizer=None,
                loss="non_saturating", penalty=None, penalty_weight=None,
                penalty_target=None, n_critic=1, weight_clip=None, drift=0.0,
                label_smoothing=0.0, augment=None, instance_noise=0.0,
                instance_noise_steps=None, skip_nonfinite=False,
                track_stats=False, loss_scale="auto", data_range=(-1.0, 1.0),
                steps_per_execution=1, jit_compile="auto", run_eagerly=False,
                **kwargs):
        """Configures the GAN objective and optimizers.

        Args:
            d_optimizer: discriminator optimizer (instance, name or config).
                Defaults to Adam(2e-4, beta_1=0.5), the DCGAN setting.
            g_optimizer: generator optimizer. Same default. Different
                learning rates give TTUR (Heusel et al. 2017).
            loss: str or `GANLoss`. One of `"minimax"`, `"non_saturating"`,
                `"wasserstein"`, `"hinge"`, `"least_squares"`. Defaults to
                `"non_saturating"`.
            penalty: str, `GradientPenalty`, list of them, or `None`: `"gp"`
                (two-sided WGAN-GP), `"gp_one_sided"`, `"r1"`, `"r2"`.
            penalty_weight: float. Weight of a penalty given by name (lambda
                for GP, gamma for R1/R2). Defaults to `10.0`.
            penalty_target: float. Target norm of the GP penalties.
                Defaults to `1.0`.
            n_critic: int. Discriminator updates per generator update.
                Defaults to `1`.
            weight_clip: float or `None`. Clip every discriminator weight to
                `[-c, c]` after each D update (the original WGAN uses 0.01).
            drift: float. ProGAN's drift term `drift * D(real)^2` in the D loss
                (ProGAN uses 0.001). Defaults to `0.0`.
            label_smoothing: float. One-sided label smoothing of the real
                target of the cross-entropy and least-squares losses.
            augment: `DiffAugment`, `AdaptiveAugment` or `None`. Applied
                differentiably to every batch D sees (real, generated, and
                the G update's generated batch). An `AdaptiveAugment`'s `p`
                is adapted inside the step and logged as `augment_p`.
            instance_noise: float. Initial standard deviation of Gaussian
                instance noise added to real and generated images before D
                (Sonderby et al. 2017; Arjovsky & Bottou 2017). Defaults to
                `0.0` (off).
            instance_noise_steps: int. Train steps over which the noise std
                is annealed linearly to 0. Required with `instance_noise`.
            skip_nonfinite: bool. Skip every D or G update whose loss or
                gradients hold NaN/Inf, leaving the weights, the network's
                BatchNorm/normalisation statistics and the optimizer state
                (iterations included) unchanged; skipped updates are counted
                in `nonfinite_skips` (logged). Defaults to `False`.
            track_stats: bool. Log per-step diagnostics: `d_grad_norm`,
                `g_grad_norm` (global gradient norms of the last D and the G
                update) and `r_t`, the mean of `sign(D(real))` over the
                step's D updates (ADA's overfitting heuristic).
                `StabilityMonitor` turns it on. Defaults to `False`.
            loss_scale: `"auto"`, `"dynamic"` or `None`. Dynamic loss
                scaling, one scale per network: each loss is multiplied by
                its network's scale before differentiation and the gradients
                are divided by it before clipping, the guard and the update,
                so small float16 gradients do not underflow. An update whose
                scaled gradients overflow is skipped and halves that scale;
                2,000 applied updates in a row double it. `"auto"` turns it
                on when the generator or the discriminator computes in
                float16 (the `"mixed_float16"` policy). Defaults to `"auto"`.
            data_range: `(low, high)` or `None`. The range of the real
                images: `fit()` refuses NumPy image batches (rank 4) with
                values outside it, and uint8 images, with a message on how
                to scale them. `None` turns the check off. Defaults to
                `(-1.0, 1.0)`, the range of a tanh generator.
        """
        if kwargs.get("optimizer") is not None or kwargs.get("loss_weights"):
            raise ValueError(
                "GAN.compile() takes `d_optimizer` and `g_optimizer`, not "
                f"`optimizer`. Received: optimizer={kwargs.get('optimizer')!r}"
            )
        for key in ("metrics", "weighted_metrics", "loss_weights", "optimizer"):
            kwargs.pop(key, None)
        if kwargs:
            raise ValueError(
                f"Unknown arguments to GAN.compile(): {sorted(kwargs)}. See "
                "`help(GAN.compile)` for the accepted arguments."
            )
        if isinstance(n_critic, bool) or not isinstance(
                n_critic, (int, np.integer)) or n_critic < 1:
            raise ValueError(
                "`n_critic` should be an integer >= 1 (discriminator updates "
                f"per generator update). Received: `n_critic={n_critic!r}`"
            )
        if weight_clip is not None and not float(weight_clip) > 0:
            raise ValueError(
                "`weight_clip` should be a positive number or None. "
                f"Received: `weight_clip={weight_clip!r}`"
            )
        if not float(drift) >= 0:
            raise ValueError(
                f"`drift` should be >= 0. Received: `drift={drift!r}`"
            )
        self.loss_fn = losses_module.get(loss, label_smoothing=label_smoothing)
        if label_smoothing and not self.loss_fn.label_smoothing:
            self.loss_fn.label_smoothing = float(label_smoothing)
        self.penalties = penalties_module.get(
            penalty, weight=penalty_weight, target=penalty_target)
        kinds = [p.kind for p in self.penalties]
        if len(set(kinds)) != len(kinds):
            raise ValueError(
                f"Each penalty kind may appear once. Received: {kinds}"
            )
        if self.penalties and _has_batch_norm(self.discriminator):
            raise ValueError(
                "A gradient penalty needs per-sample input gradients, but the "
                "discriminator contains BatchNormalization, which mixes the "
                "samples of a batch. Use keras.layers.LayerNormalization (as "
                "WGAN-GP does), GroupNormalization, spectral normalisation, or "
                f"no normalisation in the discriminator. Received: "
                f"penalty={kinds}."
            )
        self.n_critic = int(n_critic)
        self.weight_clip = None if weight_clip is None else float(weight_clip)
        self.drift = float(drift)
        self._compile_stability_options(
            augment, instance_noise, instance_noise_steps, skip_nonfinite,
            track_stats)
        self.d_optimizer = keras.optimizers.get(
            d_optimizer if d_optimizer is not None else _default_optimizer())
        self.g_optimizer = keras.optimizers.get(
            g_optimizer if g_optimizer is not None else _default_optimizer())
        for name, opt in (("d_optimizer", self.d_optimizer),
                          ("g_optimizer", self.g_optimizer)):
            _check_learning_rate(opt, name)
            if isinstance(opt, keras.optimizers.LossScaleOptimizer):
                raise ValueError(
                    f"`{name}` is a LossScaleOptimizer. The GAN scales each "
                    "network's loss itself (`loss_scale=\"auto\"`): pass "
                    f"the inner optimizer. Received: `{name}={opt!r}`"
                )
        self._compile_loss_scale(loss_scale)
        self.data_range = _check_data_range(data_range)
        gan_optimizer = GANOptimizer(self.d_optimizer, self.g_optimizer)
        gan_optimizer.set_variable_roles(
            self.discriminator.trainable_variables,
            self.generator.trainable_variables)
        self.penalty_trackers = {
            p.kind: keras.metrics.Mean(name=p.kind) for p in self.penalties
        }
        super().compile(
            optimizer=gan_optimizer,
            # The step scales each network's loss itself (loss_scale).
            auto_scale_loss=False,
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            run_eagerly=run_eagerly,
        )
        self._gan_compile_args = {
            "loss": self.loss_fn.name,
            "label_smoothing": self.loss_fn.label_smoothing,
            "penalty": [p.get_config() for p in self.penalties],
            "n_critic": self.n_critic,
            "weight_clip": self.weight_clip,
            "drift": self.drift,
            "augment": (None if self.augment is None else
                        keras.saving.serialize_keras_object(self.augment)),
            "instance_noise": self.instance_noise,
            "instance_noise_steps": self.instance_noise_steps,
            "skip_nonfinite": self.skip_nonfinite,
            "track_stats": self.track_stats,
            "loss_scale": loss_scale,
            "data_range": (None if self.data_range is None
                           else list(self.data_range)),
            "steps_per_execution": steps_per_execution,
            "jit_compile": jit_compile,
            "run_eagerly": run_eagerly,
        }
        # Optimizer variables exist before fit(), so JAX's state and
        # checkpoints see them.
        self.optimizer.build(self.trainable_variables)

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {
            **self._gan_compile_args,
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key])
        if config.get("augment") is not None:
            config["augment"] = keras.saving.deserialize_keras_object(
                config["augment"])
        self.compile(**config)

    def _compile_loss_scale(self, loss_scale):
        if loss_scale not in ("auto", "dynamic", None, False):
            raise ValueError(
                "`loss_scale` should be \"auto\", \"dynamic\" or None. "
                f"Received: `loss_scale={loss_scale!r}`"
            )
        if loss_scale == "auto":
            loss_scale = ("dynamic" if _computes_in_float16(self.generator)
                          or _computes_in_float16(self.discriminator) else None)
        self.loss_scaling = loss_scale == "dynamic"
        initial = _INITIAL_LOSS_SCALE if self.loss_scaling else 1.0
        for scale, steps in ((self.d_loss_scale, self.d_loss_scale_steps),
                             (self.g_loss_scale, self.g_loss_scale_steps)):
            scale.assign(initial)
            steps.assign(0)

    def _compile_stability_options(self, augment, instance_noise,
                                   instance_noise_steps, skip_nonfinite,
                                   track_stats):
        if augment is not None and not isinstance(augment, keras.layers.Layer):
            raise ValueError(
                "`augment` should be a `DiffAugment` or `AdaptiveAugment` "
                "(or another Keras layer mapping images to images). "
                f"Received: `augment={augment!r}`"
            )
        if not float(instance_noise) >= 0:
            raise ValueError(
                "`instance_noise` should be >= 0 (the initial noise std). "
                f"Received: `instance_noise={instance_noise!r}`"
            )
        if instance_noise and (instance_noise_steps is None
                               or int(instance_noise_steps) < 1):
            raise ValueError(
                "`instance_noise` needs `instance_noise_steps`, the number of "
                "train steps over which its std is annealed to 0. Received: "
                f"`instance_noise_steps={instance_noise_steps!r}`"
            )
        self.augment = augment
        self.instance_noise = float(instance_noise)
        self.instance_noise_steps = (None if instance_noise_steps is None
                                     else int(instance_noise_steps))
        self.skip_nonfinite = bool(skip_nonfinite)
        self.track_stats = bool(track_stats)

    @property
    def metrics(self):
        out = [self.d_loss_tracker, self.g_loss_tracker,
               self.d_real_tracker, self.d_fake_tracker]
        return out + list(self.penalty_trackers.values())

    # ------------------------------------------------------------------ #
    # Calls
    # ------------------------------------------------------------------ #
    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _generate(self, z, labels, training):
        if self.num_classes:
            return self.generator([z, labels], training=training)
        return self.generator(z, training=training)

    def _discriminate(self, images, labels, training=True):
        if self.num_classes:
            return self.discriminator([images, labels], training=training)
        return self.discriminator(images, training=training)

    def _preprocess_real(self, images):
        """Hook applied once to each real batch before it is split into the
        n_critic D batches (progressive growing fades real images here)."""
        return images

    def _d_input(self, images):
        """Hook applied to every batch D sees (augmentation goes here)."""
        if self.augment is not None:
            images = self.augment(images, training=True)
        if self.instance_noise:
            noise = keras.random.normal(ops.shape(images),
                                        seed=self.seed_generator)
            images = images + ops.cast(self._instance_noise_std(),
                                       images.dtype) * noise
        return images

    def _reduce(self, per_sample):
        """Mean over the global batch (exact under multi-replica training)."""
        per_sample = ops.cast(per_sample, "float32")
        replicas = gan_backend.num_replicas_in_sync()
        if replicas == 1:
            return ops.mean(per_sample)
        n = ops.cast(ops.shape(per_sample)[0], "float32") * replicas
        return ops.sum(per_sample) / n

    # ------------------------------------------------------------------ #
    # Data
    # ------------------------------------------------------------------ #
    def _unpack(self, data):
        labels = None
        data = strip_batch(data)
        if isinstance(data, tuple) and len(data) > 1 and isinstance(
                data[0], dict):  # fit(x=dict, y=labels)
            labels, data = data[1], data[0]
        z = z_g = eps = None
        if isinstance(data, dict):
            if "images" not in data:
                raise ValueError(
                    "A dict batch must have an 'images' entry. Received "
                    f"keys: {sorted(data)}"
                )
            images = data["images"]
            if data.get("labels") is not None:
                labels = data["labels"]
            z = data.get("z")
            z_g = data.get("z_g")
            eps = data.get("eps")
        elif isinstance(data, (list, tuple)):
            images = data[0]
            labels = data[1] if len(data) > 1 else None
        else:
            images = data
        if self.num_classes and labels is None:
            raise ValueError(
                f"This GAN is class-conditional (`num_classes="
                f"{self.num_classes}`), so each batch needs labels: pass "
                "`(images, labels)` or a dict with 'labels'."
            )
        if not self.num_classes:
            labels = None
        else:
            labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        # Keras' torch trainer hands NumPy batches over unconverted; a dict
        # batch mixing arrays and tensors then fails in the first op.
        images, z, z_g, eps = (None if t is None else ops.convert_to_tensor(t)
                               for t in (images, z, z_g, eps))
        return images, labels, z, z_g, eps

    # ------------------------------------------------------------------ #
    # Training
    # ------------------------------------------------------------------ #
    def _gan_train_step(self, data):
        images, labels, z, z_g, eps = self._unpack(data)
        k = self.n_critic
        n_static = images.shape[0]
        hint = ("Batch the data in multiples of n_critic (batch_size = "
                "n_critic * B), with drop_remainder=True for a tf.data "
                "dataset.")
        if isinstance(n_static, int) and n_static % k:
            raise ValueError(
                f"A batch of {n_static} images does not split into "
                f"`n_critic={k}` discriminator batches. {hint}"
            )
        if n_static is None and k > 1:
            gan_backend.assert_divisible(
                ops.shape(images)[0], k,
                f"A batch does not split into `n_critic={k}` discriminator "
                f"batches. {hint}")
        images = self._preprocess_real(ops.cast(images, "float32"))
        self._stability_step_begin()
        batch = ops.shape(images)[0] // k
        d_logs = None
        for i in range(k):
            lo, hi = i * batch, (i + 1) * batch
            real_i = images[lo:hi]
            labels_i = None if labels is None else labels[lo:hi]
            z_i = None if z is None else z[lo:hi]
            eps_i = None if eps is None else eps[lo:hi]
            d_logs = self._d_update(real_i, labels_i, z_i, eps_i)
        g_labels = None if labels is None else labels[(k - 1) * batch:k * batch]
        g_loss = self._g_update(batch, g_labels, z_g)
        self.g_loss_tracker.update_state(
            g_loss, sample_weight=self._step_stats.get("g_finite"))
        logs = {m.name: m.result() for m in self.metrics}
        logs.update(self._stability_step_end(ops.shape(images)[0], d_logs,
                                             g_loss))
        return logs

    def _sample_z(self, n):
        return self._replica_noise(
            lambda m: keras.random.normal((m, self.latent_dim),
                                          seed=self.seed_generator), n)

    def _replica_noise(self, draw, n):
        """`draw(m)` for this replica's `n` rows of the global batch.

        Under tf.distribute the replicas share one seed state: each draws
        the global batch's noise and keeps its own rows, so replicas get
        different noise and the step equals the one-device step.
        """
        replicas = gan_backend.num_replicas_in_sync()
        if replicas == 1:
            return draw(n)
        first = gan_backend.replica_id_in_sync() * n
        return draw(n * replicas)[first:first + n]

    def _local_mean(self, value):
        """A global-batch mean from `_reduce` as this replica's own mean
        (what the loss trackers average over replicas, as Keras does)."""
        replicas = gan_backend.num_replicas_in_sync()
        return value if replicas == 1 else value * float(replicas)

    def _d_update(self, real, labels, z, eps):
        n = ops.shape(real)[0]
        if z is None:
            z = self._sample_z(n)
        fake = ops.stop_gradient(self._generate(z, labels, training=True))
        fake = ops.cast(fake, real.dtype)
        if eps is None and any(p.samples == "interpolates"
                               for p in self.penalties):
            eps = self._replica_noise(
                lambda m: keras.random.uniform((m,), seed=self.seed_generator),
                n)
        d_vars = self.discriminator.trainable_variables

        def objective():
            d_real_in = self._d_input(real)
            d_fake_in = self._d_input(fake)
            # The first call of an update advances normalisation vectors;
            # the later calls of the same update reuse them.
            real_logits = self._discriminate(d_real_in, labels)
            with power_iteration_updates(False):
                fake_logits = self._discriminate(d_fake_in, labels)
            real_logits = ops.cast(real_logits, "float32")
            fake_logits = ops.cast(fake_logits, "float32")
            loss = self._reduce(
                self.loss_fn.discriminator_loss(real_logits, fake_logits))
            loss, extra = self._discriminator_objective(
                loss, d_real_in, real_logits, fake_logits, labels)
            logs = {
                "d_loss": self._local_mean(loss),
                "d_real": ops.mean(real_logits),
                "d_fake": ops.mean(fake_logits),
                "real_logits": real_logits,
                **extra,
            }
            if self.drift:
                r = losses_module._per_sample(real_logits)
                loss = loss + self.drift * self._reduce(ops.square(r))
            for p in self.penalties:
                value = self._penalty(p, d_real_in, d_fake_in, labels, eps)
                logs[p.kind] = self._local_mean(value)
                loss = loss + p.scale * value
            return loss, logs

        loss, logs, grads = self._value_and_grad(objective, d_vars, "d")
        finite = self._apply_gradients(self.d_optimizer, grads, d_vars,
                                       loss=loss, network="d")
        if self.weight_clip is not None:
            c = self.weight_clip
            for v in d_vars:
                v.assign(ops.clip(v, -c, c))
        self._stability_d_stats(logs.pop("real_logits"), grads, finite)
        self._step_stats["d_finite"] = finite
        if finite is not None:
            # A skipped update does not enter the running means.
            logs = {k: ops.where(finite > 0, v, 0.0) for k, v in logs.items()}
        self.d_loss_tracker.update_state(logs["d_loss"], sample_weight=finite)
        self.d_real_tracker.update_state(logs["d_real"], sample_weight=finite)
        self.d_fake_tracker.update_state(logs["d_fake"], sample_weight=finite)
        for kind, tracker in self.penalty_trackers.items():
            tracker.update_state(logs[kind], sample_weight=finite)
        return logs

    def _penalty(self, penalty, real, fake, labels, eps):
        x = penalty.inputs(real, fake, eps)

        def d_of(inputs):
            with power_iteration_updates(False):
                return ops.cast(self._discriminate(inputs, labels), "float32")

        grads = ops.cast(gan_backend.input_gradient(d_of, x), "float32")
        return self._reduce(penalty.per_sample(grads))

    def _g_update(self, n, labels, z):
        if z is None:
            z = self._sample_z(n)
        g_vars = self.generator.trainable_variables

        def objective():
            fake = self._generate(z, labels, training=True)
            with power_iteration_updates(False):
                fake_logits = self._discriminate(self._d_input(fake), labels)
            fake_logits = ops.cast(fake_logits, "float32")
            loss = self._reduce(self.loss_fn.generator_loss(fake_logits))
            loss, extra = self._generator_objective(loss, fake, labels)
            reg = self._g_regularizer(n, labels)
            total = loss if reg is None else loss + reg
            return total, (self._local_mean(loss), extra)

        _, (loss, extra), grads = self._value_and_grad(objective, g_vars, "g")
        self._step_stats["g_extra"] = extra
        finite = self._apply_gradients(self.g_optimizer, grads, g_vars,
                                       loss=loss, network="g")
        self._step_stats["g_finite"] = finite
        if finite is not None:
            loss = ops.where(finite > 0, loss, 0.0)
        if self.track_stats:
            self._step_stats["g_grad_norm"] = _global_norm(grads)
        if self.ema_generator is not None:
            from keras_gan_stable.callbacks import ema as ema_module

            beta = ema_module.ema_beta(self.ema_decay, self.ema_rampup,
                                       self.g_optimizer.iterations)
            ema_module.update_ema(self.ema_generator, self.generator, beta)
        return loss

    def _discriminator_objective(self, adversarial, real, real_logits,
                                 fake_logits, labels, training=True):
        """Hook: D's loss from its adversarial part (a scalar); returns
        `(loss, logs)`, `logs` a dict of scalars returned with the update's
        logs (extra D terms go here, e.g. StackGAN's mismatched captions).

        `real` is the real batch as D saw it (after `_d_input`), and
        `real_logits` / `fake_logits` D's float32 logits. The default adds
        nothing, so GAN's step is unchanged. Penalties and drift are added
        after it; the logged `d_loss` is the loss this hook returns.
        """
        return adversarial, {}

    def _g_regularizer(self, n, labels):
        """Hook: an extra term of the generator objective, or `None`.

        Evaluated inside the generator's gradient computation (StyleGAN2's
        path-length regulariser goes here); the logged `g_loss` stays the
        adversarial loss.
        """
        return None

    def _generator_objective(self, adversarial, fake, labels):
        """Hook: the generator's loss from its adversarial part (a scalar)
        and the generated batch; returns `(loss, logs)`, `logs` a dict of
        scalars that subclasses log (reconstruction terms go here)."""
        return adversarial, {}

    def _value_and_grad(self, objective, variables, network):
        """`objective() -> (loss, aux)` differentiated w.r.t. `variables`.

        Under loss scaling the loss is multiplied by the network's scale
        before differentiation and the gradients are divided by it, in
        float32, before anything else sees them (an overflow stays
        non-finite). Returns `(loss, aux, grads)`, all unscaled.
        """
        if not self.loss_scaling:
            return gan_backend.value_and_grad(objective, variables)
        scale = ops.convert_to_tensor(self._loss_scale_of(network)[0])

        def scaled():
            loss, aux = objective()
            return loss * scale, (loss, aux)

        _, (loss, aux), grads = gan_backend.value_and_grad(scaled, variables)
        return loss, aux, [ops.cast(g, "float32") / scale for g in grads]

    def _loss_scale_of(self, network):
        if network == "d":
            return self.d_loss_scale, self.d_loss_scale_steps
        return self.g_loss_scale, self.g_loss_scale_steps

    def _apply_gradients(self, optimizer, grads, variables, loss=None,
                         network=None):
        """Hook for every optimizer update (guards go here).

        Applies (unscaled) gradients. With `skip_nonfinite` or loss scaling
        the update is applied and then kept or undone as a whole (weights
        and optimizer state) by a select, so the same code runs inside `jit`
        and `tf.function`; under loss scaling it also moves the network's
        scale (halved on overflow, doubled after the growth interval).

        Returns `None`, or with `skip_nonfinite` or loss scaling a float32
        scalar: 1.0 when the update was applied, 0.0 when it was skipped.
        """
        scaling = self.loss_scaling and network is not None
        if scaling:
            scale_var, steps_var = self._loss_scale_of(network)
            scale = ops.convert_to_tensor(scale_var)
        if not (self.skip_nonfinite or scaling):
            gan_backend.apply_gradients(optimizer, grads, variables)
            return None
        grads_finite = _all_finite(grads)
        loss_finite = (ops.all(ops.isfinite(loss)) if loss is not None
                       else ops.convert_to_tensor(True))
        lr = ops.cast(ops.convert_to_tensor(optimizer.learning_rate),
                      "float32")
        lr_ok = ops.logical_and(ops.isfinite(lr), lr >= 0)
        # Apply, then select new or old values of everything the update
        # touched: weights and optimizer state (moments, iterations). The
        # normalisation statistics the forward passes moved are restored to
        # their value after the last applied update.
        guarded = list(variables) + list(optimizer.variables)
        old = [ops.copy(ops.convert_to_tensor(v)) for v in guarded]
        safe = [ops.where(ops.isfinite(g), g, ops.zeros_like(g))
                for g in grads]
        gan_backend.apply_gradients(optimizer, safe, variables)
        if self.skip_nonfinite:
            # A non-finite loss, gradient, learning rate or updated weight
            # (a learning rate of 1e30 overflows the weights) skips.
            ok = ops.logical_and(ops.logical_and(grads_finite, loss_finite),
                                 ops.logical_and(lr_ok, _all_finite(variables)))
        else:
            ok = grads_finite
        # Under tf.distribute every replica must take the same decision: the
        # optimizer sums their gradients, so one replica's NaN reaches all.
        ok = gan_backend.all_replicas(ok)
        for v, o in zip(guarded, old):
            v.assign(ops.where(ok, ops.convert_to_tensor(v), o))
        snapshot = self._step_stats.get("guard_snapshot", [])
        for i, (v, o) in enumerate(snapshot):
            kept = ops.where(ok, ops.convert_to_tensor(v), o)
            v.assign(kept)
            snapshot[i] = (v, ops.copy(kept))
        applied = ops.cast(ok, "float32")
        if scaling:
            # Overflow of the scaled gradients with a finite loss: halve the
            # scale. Otherwise count applied updates; double after N of them.
            overflow = ops.logical_and(
                gan_backend.all_replicas(loss_finite),
                ops.logical_not(gan_backend.all_replicas(grads_finite)))
            steps_now = ops.convert_to_tensor(steps_var)
            steps = ops.where(ok, steps_now + 1, ops.zeros_like(steps_now))
            grow = steps >= self.loss_scale_growth_steps
            new_scale = ops.where(overflow, scale * 0.5,
                                  ops.where(grow, scale * 2.0, scale))
            scale_var.assign(new_scale)
            steps_var.assign(ops.where(grow, ops.zeros_like(steps), steps))
            if self.skip_nonfinite:
                # A loss-scale overflow is not a non-finite step.
                counted = ops.logical_or(ok, overflow)
                self.nonfinite_skips.assign(
                    self.nonfinite_skips
                    + (1.0 - ops.cast(counted, "float32")))
        else:
            self.nonfinite_skips.assign(self.nonfinite_skips
                                        + (1.0 - applied))
        return applied

    # ------------------------------------------------------------------ #
    # Stability options: augmentation, instance noise, guard, statistics
    # ------------------------------------------------------------------ #
    def _instance_noise_std(self):
        t = ops.cast(self.g_optimizer.iterations, "float32")
        frac = ops.maximum(1.0 - t / float(self.instance_noise_steps), 0.0)
        return self.instance_noise * frac

    def _stability_step_begin(self):
        object.__setattr__(self, "_step_stats", {})
        if self.skip_nonfinite:
            state = [v for net in (self.generator, self.discriminator)
                     for v in net.non_trainable_weights
                     if "float" in str(v.dtype)]
            self._step_stats["guard_snapshot"] = [
                (v, ops.copy(ops.convert_to_tensor(v))) for v in state]

    def _stability_d_stats(self, real_logits, grads, finite):
        augment = self.augment
        if augment is not None and hasattr(augment, "accumulate"):
            augment.accumulate(real_logits)
        if not self.track_stats:
            return
        per_sample = losses_module._per_sample(real_logits)
        signs = ops.sign(ops.where(ops.isfinite(per_sample), per_sample, 0.0))
        stats = self._step_stats
        stats["sign_sum"] = stats.get("sign_sum", 0.0) + ops.sum(signs)
        stats["sign_n"] = stats.get("sign_n", 0.0) + ops.cast(
            ops.shape(signs)[0], "float32")
        stats["d_grad_norm"] = _global_norm(grads)

    def _stability_step_end(self, n_images, d_logs, g_loss):
        n_images = n_images * gan_backend.num_replicas_in_sync()
        self.images_seen.assign(
            self.images_seen + ops.cast(n_images, self.images_seen.dtype))
        logs = {}
        augment = self.augment
        if augment is not None and hasattr(augment, "update"):
            augment.update()
            logs["augment_p"] = ops.convert_to_tensor(augment.p)
        if self.instance_noise:
            logs["instance_noise"] = self._instance_noise_std()
        if self.skip_nonfinite:
            logs["nonfinite_skips"] = ops.convert_to_tensor(
                self.nonfinite_skips)
        if self.track_stats:
            stats = self._step_stats
            logs["r_t"] = stats["sign_sum"] / ops.maximum(stats["sign_n"], 1.0)
            logs["d_grad_norm"] = stats["d_grad_norm"]
            logs["g_grad_norm"] = stats["g_grad_norm"]
            # This step's own losses (d_loss/g_loss are epoch running means).
            logs["d_loss_step"] = d_logs["d_loss"]
            logs["g_loss_step"] = g_loss
        return logs

    def _gan_test_step(self, data):
        images, labels, z, _, _ = self._unpack(data)
        n = ops.shape(images)[0]
        if z is None:
            z = self._sample_z(n)
        with power_iteration_updates(False):
            fake = self._generate(z, labels, training=False)
            real_logits = ops.cast(
                self._discriminate(images, labels, training=False), "float32")
            fake_logits = ops.cast(
                self._discriminate(fake, labels, training=False), "float32")
            d_loss, _ = self._discriminator_objective(
                self._reduce(self.loss_fn.discriminator_loss(
                    real_logits, fake_logits)),
                images, real_logits, fake_logits, labels, training=False)
        self.d_loss_tracker.update_state(self._local_mean(d_loss))
        self.g_loss_tracker.update_state(self._local_mean(
            self._reduce(self.loss_fn.generator_loss(fake_logits))))
        self.d_real_tracker.update_state(ops.mean(real_logits))
        self.d_fake_tracker.update_state(ops.mean(fake_logits))
        return {m.name: m.result() for m in self.metrics
                if m.name not in self.penalty_trackers}

    # ------------------------------------------------------------------ #
    # fit() with input checks
    # ------------------------------------------------------------------ #
    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        if not getattr(self, "compiled", False):
            raise RuntimeError(
                "Call `gan.compile(...)` before `gan.fit(...)`."
            )
        x, y = self._check_fit_data(x, y, batch_size)
        if hasattr(x, "element_spec") and hasattr(x, "map") and (
                not self.skip_nonfinite) and not getattr(
                    x, "_finite_checked", False):
            # Under the guard a non-finite batch is skipped and counted.
            from keras_gan_stable.backend import tf_data

            x = tf_data.assert_finite_images(
                x, "The training data contains NaN or Inf values. Clean the "
                "input pipeline, or compile with skip_nonfinite=True to skip "
                "and count such batches.")
        # Callbacks that restore a run (ResumableCheckpoint) do it before the
        # epoch loop starts, and may set the epoch to start from.
        callbacks = list(kwargs.get("callbacks") or [])
        for cb in callbacks:
            if hasattr(cb, "resume_training"):
                epoch = cb.resume_training(self, callbacks)
                if epoch is not None and not kwargs.get("initial_epoch"):
                    kwargs["initial_epoch"] = int(epoch)
        return super().fit(x, y, batch_size=batch_size, **kwargs)

    def _check_image_values(self, arr):
        """One clear error for images fit() would silently mistrain on."""
        if arr.dtype == np.uint8 and arr.ndim == 4:
            raise ValueError(
                "The training images are uint8 (0-255), but the GAN trains "
                f"on floats in {self.data_range or (-1.0, 1.0)}. Scale them: "
                "images.astype('float32') / 127.5 - 1.0."
            )
        if not np.issubdtype(arr.dtype, np.floating):
            return
        if not np.all(np.isfinite(arr)):
            bad = int(np.sum(~np.isfinite(arr).reshape(len(arr), -1).all(-1)))
            raise ValueError(
                f"The training images contain NaN or Inf values ({bad} "
                "samples). Clean or drop those samples before calling fit()."
            )
        if self.data_range is not None and arr.ndim == 4 and arr.size:
            lo, hi = self.data_range
            a_min, a_max = float(arr.min()), float(arr.max())
            # Round-off of a rescaling (x / 127.5 - 1) stays within 1e-5.
            tol = 1e-5 * (hi - lo)
            if a_min < lo - tol or a_max > hi + tol:
                hint = (" They look like 0-255 pixel values: use "
                        "images / 127.5 - 1.0." if a_max > 2.0 else "")
                raise ValueError(
                    f"The training images have values in [{a_min:.4g}, "
                    f"{a_max:.4g}], outside the GAN's data_range "
                    f"({lo:g}, {hi:g}).{hint} Rescale the images, or pass "
                    "`data_range=None` (or the true range) to compile()."
                )

    def _check_fit_data(self, x, y, batch_size):
        spec_shape = None
        if isinstance(x, np.ndarray) or (
                hasattr(x, "shape") and hasattr(x, "dtype")
                and not hasattr(x, "element_spec")):
            arr = np.asarray(x) if isinstance(x, np.ndarray) else None
            spec_shape = tuple(x.shape)
            if arr is not None:
                self._check_image_values(arr)
            if len(spec_shape) == 0 or spec_shape[0] == 0:
                raise ValueError(
                    f"The training data is empty (shape {spec_shape}). Pass "
                    "at least one batch of images."
                )
            bs = batch_size or 32
            if spec_shape[0] < self.n_critic:
                raise ValueError(
                    f"The training data has {spec_shape[0]} samples, fewer "
                    f"than `n_critic={self.n_critic}`: each of the n_critic "
                    "discriminator updates needs its own real samples."
                )
            # The last, partial batch must split into n_critic D batches:
            # drop the few samples that do not (and say so).
            drop = (spec_shape[0] % bs) % self.n_critic
            if drop:
                import warnings

                warnings.warn(
                    f"{drop} of the {spec_shape[0]} training samples do not "
                    f"fill the n_critic={self.n_critic} discriminator batches "
                    f"of the last batch (batch_size={bs}) and are left out "
                    "of each epoch. Use a sample count or batch_size that "
                    "avoids it to train on every sample.", stacklevel=3)
                x = x[:spec_shape[0] - drop]
                if y is not None:
                    y = y[:spec_shape[0] - drop]
        elif hasattr(x, "element_spec"):
            spec = x.element_spec
            if isinstance(spec, (tuple, list)):
                spec = spec[0]
            if isinstance(spec, dict):
                spec = spec.get("images")
            if spec is not None and hasattr(spec, "shape"):
                spec_shape = tuple(spec.shape)
        if batch_size is not None and batch_size % self.n_critic:
            raise ValueError(
                f"`batch_size={batch_size}` is not a multiple of `n_critic="
                f"{self.n_critic}`. Each train step splits its batch into "
                "n_critic discriminator batches: use batch_size = n_critic * B."
            )
        if spec_shape is not None and self.image_shape is not None:
            sample_shape = tuple(spec_shape[1:])
            if len(sample_shape) != len(self.image_shape) or any(
                    a is not None and b is not None and a != b
                    for a, b in zip(sample_shape, self.image_shape)):
                raise ValueError(
                    f"The training data has samples of shape {sample_shape}, "
                    f"but the discriminator takes {self.image_shape}. Resize "
                    "or reshape the data (a batch is [N, height, width, "
                    "channels]) or build the networks for this shape."
                )
        return x, y

    # ------------------------------------------------------------------ #
    # Sampling
    # ------------------------------------------------------------------ #
    def generate(self, n, seed=None, labels=None, batch_size=256,
                 generator=None, use_ema=None):
        """Generates `n` images as a NumPy array `[n, H, W, C]` in [-1, 1].

        The latent vectors come from `keras_gan_stable.latents.latent_noise`
        (integer hash + normal quantile table), so the same seed gives the
        same images on every backend and from every exported format.

        Args:
            n: int. Number of images.
            seed: int or `None`. Seed of the latent vectors.
            labels: int array `[n]` for a conditional GAN; random classes
                from the same seed when `None`.
            batch_size: int. Images per generator call.
            generator: optional network to use instead of `self.generator`
                (for example an EMA copy).
            use_ema: bool or `None`. Sample from `ema_generator`; `None`
                uses it when the GAN has one (`ema_decay` set).
        """
        z, labels = self.sample_latents(n, seed=seed, labels=labels)
        if use_ema and self.ema_generator is None:
            raise ValueError(
                "`use_ema=True` but this GAN keeps no EMA generator. Create "
                "it with `GAN(..., ema_decay=0.999)`."
            )
        net = generator
        if net is None:
            net = self.generator
            if use_ema is not False and self.ema_generator is not None:
                net = self.ema_generator
        out = []
        for start in range(0, n, batch_size):
            zb = z[start:start + batch_size]
            if self.num_classes:
                yb = labels[start:start + batch_size]
                img = net([zb, yb], training=False)
            else:
                img = net(zb, training=False)
            out.append(ops.convert_to_numpy(img))
        return np.concatenate(out, axis=0) if out else np.zeros(
            (0,) + tuple(self.image_shape or ()), "float32")

    def sample_latents(self, n, seed=None, labels=None):
        """Latent vectors (and labels) for `seed` from `latents.latent_noise`.

        The same noise as the exported SavedModel's `sample(n, seed)`; a
        fresh random seed when `seed` is `None`.
        """
        from keras_gan_stable.latents import latent_labels, latent_noise

        n = int(n)
        if n < 0:
            raise ValueError(f"`n` should be >= 0. Received: `n={n}`")
        if seed is None:
            seed = int(np.random.default_rng().integers(2**32))
        z = latent_noise(n, self.latent_dim, seed)
        if self.num_classes:
            if labels is None:
                labels = latent_labels(n, self.num_classes, seed)
            labels = np.asarray(labels, "int32").reshape(-1)
            if labels.shape[0] != n:
                raise ValueError(
                    f"`labels` has {labels.shape[0]} entries for n={n} images."
                )
        return z, labels

    # ------------------------------------------------------------------ #
    # Serialisation
    # ------------------------------------------------------------------ #
    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(
                self.discriminator),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "seed": self.seed,
            "ema_decay": self.ema_decay,
            "ema_rampup": self.ema_rampup,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        return cls(**config)

"""`CycleGAN`: unpaired translation between two image domains."""

import numpy as np
import keras
from keras import ops

from keras_gan_stable.layers.power_iteration import power_iteration_updates
from keras_gan_stable.models.gan import GAN, strip_batch
from keras_gan_stable.models.gan import _global_norm


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class NetworkPair(keras.layers.Layer):
    """Two networks held as one layer, so that `GAN`'s optimizer, guard and
    checkpoint plumbing see both generators (or both discriminators)."""

    def __init__(self, first, second, **kwargs):
        super().__init__(**kwargs)
        self.first = first
        self.second = second
        self.built = True

    def call(self, inputs, training=False):
        a, b = inputs
        return (self.first(a, training=training),
                self.second(b, training=training))


def _image_shape(model, which):
    tensors = getattr(model, which + "s", None)
    try:
        if tensors and len(tensors) == 1:
            return tuple(tensors[0].shape[1:])
    except (AttributeError, ValueError):
        pass
    return None


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class CycleGAN(GAN):
    """Unpaired image-to-image translation with cycle consistency.

    `g_ab` maps domain A to B, `g_ba` B to A; `d_a` and `d_b` score images
    of A and B. Each train step, on a batch of A images and a batch of B
    images (unpaired):

    1. one update of both generators (one optimizer, as the paper's code) on
       `adv(d_b(g_ab(a))) + adv(d_a(g_ba(b)))
        + cycle_weight * (|g_ba(g_ab(a)) - a|_1 + |g_ab(g_ba(b)) - b|_1)
        + cycle_weight * identity_weight * (|g_ab(b) - b|_1 + |g_ba(a) - a|_1)`;
    2. one update of both discriminators on real images against generated
       ones drawn through an image pool of `pool_size` past outputs per
       domain (Shrivastava et al. 2017): while the pool fills, the new
       images are shown and stored; once full, each new image is, with
       odds 1/2, shown as is, or stored in place of a random pooled image
       which is shown instead. A batch is handled at once, which equals
       the image-by-image rule except when two images of one batch swap
       with the same slot: both are shown its earlier content and the
       later image stays.

    The losses are `GAN`'s (`compile(loss=...)`, default `"least_squares"`,
    the paper's LSGAN). The library's LSGAN discriminator loss
    `((D(x) - 1)^2 + D(G(z))^2) / 2` is the paper's; its generator loss
    `(D(G(x)) - 1)^2 / 2` is half the paper's MSE, which
    `adversarial_weight=2` (the default) restores. Logs: `d_loss`, `g_loss`
    (the total), `adversarial`,
    `cycle`, `identity`. `skip_nonfinite`, `track_stats`, spectral
    normalisation and `augment` (applied to every image D sees) work as in
    `GAN`; gradient penalties, `n_critic > 1` and EMA are not offered.

    Args:
        g_ab, g_ba: `keras.Model`s, A -> B and B -> A.
        d_a, d_b: `keras.Model`s scoring images of A and of B (PatchGAN
            maps allowed).
        cycle_weight: float. lambda of the cycle loss. Defaults to `10.0`.
        identity_weight: float. Identity loss weight as a fraction of
            `cycle_weight`. Defaults to `0.5` (needs the same image shape in
            both domains; use `0.0` otherwise).
        adversarial_weight: float. Defaults to `2.0` (see above).
        pool_size: int. Defaults to `50`; `0` disables the pool.
        seed: int or `None`. Seed of the pool's draws.

    >>> gan = CycleGAN(unet_generator((32, 32, 3), 3), unet_generator(...),
    ...                patchgan_discriminator((32, 32, 3)), ...)
    >>> gan.compile()
    >>> gan.fit(images_a, images_b, batch_size=1, epochs=100)

    Reference:
        Zhu et al., "Unpaired Image-to-Image Translation using
        Cycle-Consistent Adversarial Networks", ICCV 2017.
    """

    def __init__(self, g_ab, g_ba, d_a, d_b, cycle_weight=10.0,
                 identity_weight=0.5, adversarial_weight=2.0, pool_size=50,
                 seed=None, **kwargs):
        for key in ("latent_dim", "num_classes", "generator",
                    "discriminator"):
            kwargs.pop(key, None)
        if kwargs.get("ema_decay") is not None:
            raise ValueError(
                "CycleGAN keeps no EMA generators. Received: "
                f"`ema_decay={kwargs['ema_decay']!r}`; pass None."
            )
        kwargs.pop("ema_decay", None)
        kwargs.pop("ema_rampup", None)
        for name, net in (("g_ab", g_ab), ("g_ba", g_ba), ("d_a", d_a),
                          ("d_b", d_b)):
            if not isinstance(net, keras.layers.Layer):
                raise ValueError(
                    f"`{name}` should be a Keras model. Received: "
                    f"`{name}={net!r}`"
                )
        super().__init__(NetworkPair(g_ab, g_ba, name="generators"),
                         NetworkPair(d_a, d_b, name="discriminators"),
                         latent_dim=1, seed=seed, **kwargs)
        for name, value in (("cycle_weight", cycle_weight),
                            ("identity_weight", identity_weight),
                            ("adversarial_weight", adversarial_weight)):
            if not float(value) >= 0:
                raise ValueError(
                    f"`{name}` should be >= 0. Received: `{name}={value!r}`"
                )
        if isinstance(pool_size, bool) or int(pool_size) < 0:
            raise ValueError(
                f"`pool_size` should be an integer >= 0. Received: "
                f"`pool_size={pool_size!r}`"
            )
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.adversarial_weight = float(adversarial_weight)
        self.pool_size = int(pool_size)
        self.shape_a, self.shape_b = self._check_domains()
        self.pools = {}
        if self.pool_size:
            for domain, shape in (("a", self.shape_a), ("b", self.shape_b)):
                if shape is None or None in shape:
                    raise ValueError(
                        "The image pool needs the domains' image shapes; "
                        f"the networks of domain {domain.upper()} do not "
                        "state one. Build them with keras.Input((H, W, C)) "
                        "or pass `pool_size=0`."
                    )
                self.pools[domain] = (
                    self.add_weight(shape=(self.pool_size,) + shape,
                                    initializer="zeros", trainable=False,
                                    name=f"pool_{domain}"),
                    self.add_weight(shape=(), dtype="int32",
                                    initializer="zeros", trainable=False,
                                    name=f"pool_{domain}_count"))
        self.adversarial_tracker = keras.metrics.Mean(name="adversarial")
        self.cycle_tracker = keras.metrics.Mean(name="cycle")
        self.identity_tracker = keras.metrics.Mean(name="identity")

    def _check_networks(self):
        return None

    def _check_domains(self):
        shapes = {
            "g_ab input": _image_shape(self.g_ab, "input"),
            "g_ab output": _image_shape(self.g_ab, "output"),
            "g_ba input": _image_shape(self.g_ba, "input"),
            "g_ba output": _image_shape(self.g_ba, "output"),
            "d_a input": _image_shape(self.d_a, "input"),
            "d_b input": _image_shape(self.d_b, "input"),
        }
        pairs = (("a", ("g_ab input", "g_ba output", "d_a input")),
                 ("b", ("g_ba input", "g_ab output", "d_b input")))
        out = []
        for domain, keys in pairs:
            known = [(k, shapes[k]) for k in keys if shapes[k] is not None]
            for k, s in known[1:]:
                if s != known[0][1]:
                    raise ValueError(
                        f"Domain {domain.upper()}'s images should have one "
                        f"shape, but the {known[0][0]} is {known[0][1]} and "
                        f"the {k} is {s}. Build the four networks for the "
                        "two domains' image shapes."
                    )
            out.append(known[0][1] if known else None)
        if (self.identity_weight and None not in out and out[0] != out[1]):
            raise ValueError(
                "The identity loss feeds B images to g_ab (and A to g_ba), "
                f"but the domains' shapes differ: {out[0]} and {out[1]}. "
                "Pass `identity_weight=0.0`."
            )
        return tuple(out)

    def compile(self, d_optimizer=None, g_optimizer=None,
                loss="least_squares", penalty=None, n_critic=1, **kwargs):
        """`GAN.compile` with CycleGAN's default loss, LSGAN."""
        if penalty or n_critic != 1:
            raise ValueError(
                "CycleGAN trains one D and one G update per step without "
                f"gradient penalties. Received: `penalty={penalty!r}`, "
                f"`n_critic={n_critic!r}`."
            )
        for key in ("weight_clip", "instance_noise"):
            if kwargs.get(key):
                raise ValueError(
                    f"CycleGAN does not offer `{key}`. Received: "
                    f"`{key}={kwargs[key]!r}`."
                )
        super().compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer,
                        loss=loss, **kwargs)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker,
                self.adversarial_tracker, self.cycle_tracker,
                self.identity_tracker]

    def call(self, inputs, training=False):
        return self.g_ab(inputs, training=training)

    # ------------------------------------------------------------------ #
    # The image pool
    # ------------------------------------------------------------------ #
    def _pool_query(self, domain, images, u=None, slot=None):
        """Returns the images D sees for `images` and updates the pool.

        `u` (uniform [N]) and `slot` (int [N]) replace the random draws.
        """
        if not self.pool_size:
            return images
        pool, count = self.pools[domain]
        size = self.pool_size
        n = ops.shape(images)[0]
        if u is None:
            u = keras.random.uniform((n,), seed=self.seed_generator)
        if slot is None:
            slot = keras.random.randint((n,), 0, size, seed=self.seed_generator)
        c = ops.cast(count, "int32") + ops.arange(n, dtype="int32")  # [N]
        filling = c < size
        swap = ops.logical_and(ops.logical_not(filling), u > 0.5)
        slot = ops.where(filling, ops.minimum(c, size - 1),
                         ops.cast(slot, "int32"))
        # The filling writes first (distinct slots), so that a swap may
        # hand back an image stored earlier in the same batch.
        fill = ops.one_hot(slot, size) * ops.cast(filling, "float32")[:, None]
        current = ops.convert_to_tensor(pool) * (
            1.0 - ops.sum(fill, axis=0))[:, None, None, None] + ops.einsum(
            "ns,nhwc->shwc", fill, images)
        old = ops.take(current, slot, axis=0)
        shown = ops.where(swap[:, None, None, None], old, images)
        onehot = ops.one_hot(slot, size) * ops.cast(swap, "float32")[:, None]
        # A slot drawn twice keeps the later image.
        later = ops.flip(ops.cumsum(ops.flip(onehot, 0), axis=0), 0) - onehot
        keep = onehot * ops.cast(later == 0, "float32")             # [N, S]
        kept = ops.sum(keep, axis=0)                                 # [S]
        pool.assign(current * (1.0 - kept)[:, None, None, None]
                    + ops.einsum("ns,nhwc->shwc", keep, images))
        count.assign(ops.minimum(ops.cast(count, "int32") + n, size))
        return shown

    # ------------------------------------------------------------------ #
    # Training
    # ------------------------------------------------------------------ #
    def _unpack(self, data):
        data = strip_batch(data)
        if isinstance(data, dict):
            if not {"a", "b"} <= set(data):
                raise ValueError(
                    "A dict batch for CycleGAN needs 'a' and 'b' images. "
                    f"Received keys: {sorted(data)}"
                )
            a, b = data["a"], data["b"]
        elif isinstance(data, tuple) and len(data) >= 2:
            a, b = data[0], data[1]
        else:
            raise ValueError(
                "CycleGAN trains on batches of (images_a, images_b): "
                "`fit(images_a, images_b)` or a dataset of pairs of batches."
            )
        return ops.cast(a, "float32"), ops.cast(b, "float32")

    def _l1(self, x, y):
        d = ops.abs(ops.cast(x, "float32") - y)
        return self._reduce(
            ops.mean(ops.reshape(d, (ops.shape(d)[0], -1)), axis=-1))

    def _gan_train_step(self, data):
        real_a, real_b = self._unpack(data)
        self._stability_step_begin()
        adv_loss = self.loss_fn

        def d_logits(net, images):
            return ops.cast(net(self._d_input(images), training=True),
                            "float32")

        g_vars = self.generator.trainable_variables

        def g_objective():
            fake_b = self.g_ab(real_a, training=True)
            fake_a = self.g_ba(real_b, training=True)
            with power_iteration_updates(False):
                adv = self._reduce(adv_loss.generator_loss(
                    d_logits(self.d_b, fake_b))) + self._reduce(
                    adv_loss.generator_loss(d_logits(self.d_a, fake_a)))
            cycle = (self._l1(self.g_ba(fake_b, training=True), real_a)
                     + self._l1(self.g_ab(fake_a, training=True), real_b))
            loss = self.adversarial_weight * adv + self.cycle_weight * cycle
            logs = {"adversarial": adv, "cycle": cycle}
            if self.identity_weight:
                identity = (self._l1(self.g_ab(real_b, training=True), real_b)
                            + self._l1(self.g_ba(real_a, training=True),
                                       real_a))
                loss = loss + (self.cycle_weight * self.identity_weight
                               * identity)
                logs["identity"] = identity
            logs = {k: self._local_mean(v) for k, v in logs.items()}
            logs["g_loss"] = self._local_mean(loss)
            return loss, (logs, fake_a, fake_b)

        loss, (g_logs, fake_a, fake_b), grads = self._value_and_grad(
            g_objective, g_vars, "g")
        g_finite = self._apply_gradients(self.g_optimizer, grads, g_vars,
                                         loss=loss, network="g")
        if self.track_stats:
            self._step_stats["g_grad_norm"] = _global_norm(grads)
        shown_a = self._pool_query("a", ops.stop_gradient(
            ops.cast(fake_a, "float32")))
        shown_b = self._pool_query("b", ops.stop_gradient(
            ops.cast(fake_b, "float32")))
        d_vars = self.discriminator.trainable_variables

        def d_objective():
            r_a = d_logits(self.d_a, real_a)
            r_b = d_logits(self.d_b, real_b)
            with power_iteration_updates(False):
                f_a = d_logits(self.d_a, shown_a)
                f_b = d_logits(self.d_b, shown_b)
            loss = (self._reduce(adv_loss.discriminator_loss(r_a, f_a))
                    + self._reduce(adv_loss.discriminator_loss(r_b, f_b)))
            return loss, (self._local_mean(loss), r_a)

        d_loss, (d_log, r_a), d_grads = self._value_and_grad(
            d_objective, d_vars, "d")
        d_finite = self._apply_gradients(self.d_optimizer, d_grads, d_vars,
                                         loss=d_loss, network="d")
        self._stability_d_stats(r_a, d_grads, d_finite)
        self.d_loss_tracker.update_state(d_log, sample_weight=d_finite)
        for name, tracker in (("g_loss", self.g_loss_tracker),
                              ("adversarial", self.adversarial_tracker),
                              ("cycle", self.cycle_tracker),
                              ("identity", self.identity_tracker)):
            if name in g_logs:
                tracker.update_state(g_logs[name], sample_weight=g_finite)
        logs = {m.name: m.result() for m in self.metrics
                if m.name in g_logs or m.name == "d_loss"}
        logs.update(self._stability_step_end(
            ops.shape(real_a)[0], {"d_loss": d_log}, g_logs["g_loss"]))
        return logs

    def _gan_test_step(self, data):
        real_a, real_b = self._unpack(data)
        with power_iteration_updates(False):
            fake_b = ops.cast(self.g_ab(real_a, training=False), "float32")
            fake_a = ops.cast(self.g_ba(real_b, training=False), "float32")
            cycle = (self._l1(self.g_ba(fake_b, training=False), real_a)
                     + self._l1(self.g_ab(fake_a, training=False), real_b))
        self.cycle_tracker.update_state(self._local_mean(cycle))
        return {"cycle": self.cycle_tracker.result()}

    def _check_fit_data(self, x, y, batch_size):
        if hasattr(x, "shape") and not hasattr(x, "element_spec"):
            if y is None:
                raise ValueError(
                    "CycleGAN.fit needs both domains: `fit(images_a, "
                    "images_b)`. Received `y=None`."
                )
            for domain, arr, want in (("A", x, self.shape_a),
                                      ("B", y, self.shape_b)):
                got = tuple(arr.shape[1:])
                if want is not None and got != tuple(want):
                    raise ValueError(
                        f"The domain {domain} images have shape {got}, but "
                        f"the networks take {tuple(want)}. Resize or convert "
                        "them, or build the networks for this shape."
                    )
            self._check_image_values(np.asarray(x))
            self._check_image_values(np.asarray(y))
            if x.shape[0] != y.shape[0]:
                n = min(x.shape[0], y.shape[0])
                x, y = x[:n], y[:n]
        return x, y

    # ------------------------------------------------------------------ #
    def translate(self, images, direction="ab", batch_size=64):
        """Translates NumPy images A -> B (`direction="ab"`) or B -> A."""
        if direction not in ("ab", "ba"):
            raise ValueError(
                "`direction` should be 'ab' or 'ba'. Received: "
                f"`direction={direction!r}`"
            )
        net, want = ((self.g_ab, self.shape_a) if direction == "ab"
                     else (self.g_ba, self.shape_b))
        x = np.asarray(images, "float32")
        if want is not None and tuple(x.shape[1:]) != tuple(want):
            raise ValueError(
                f"`images` should be [N, {', '.join(map(str, want))}] for "
                f"direction {direction!r}. Received shape {x.shape}."
            )
        return np.concatenate(
            [ops.convert_to_numpy(net(x[i:i + batch_size], training=False))
             for i in range(0, x.shape[0], batch_size)], axis=0)

    def generate(self, *args, **kwargs):
        raise ValueError(
            "CycleGAN translates images and samples no latent vectors: use "
            "`translate(images, direction='ab')`."
        )

    def get_config(self):
        ser = keras.saving.serialize_keras_object
        return {
            "name": self.name,
            "g_ab": ser(self.g_ab), "g_ba": ser(self.g_ba),
            "d_a": ser(self.d_a), "d_b": ser(self.d_b),
            "cycle_weight": self.cycle_weight,
            "identity_weight": self.identity_weight,
            "adversarial_weight": self.adversarial_weight,
            "pool_size": self.pool_size,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("g_ab", "g_ba", "d_a", "d_b"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        return cls(**config)

"""`ProGAN`: the GAN with progressive-growing state and the real-image fade."""

import keras
from keras import ops

from keras_gan_stable.layers.progan import downsample2x
from keras_gan_stable.layers.progan import resample
from keras_gan_stable.layers.progan import upsample2x
from keras_gan_stable.models.gan import GAN


def _progan_optimizer():
    # The paper: Adam(0.001, beta_1=0, beta_2=0.99, epsilon=1e-8).
    return keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.0, beta_2=0.99,
                                 epsilon=1e-8)


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class ProGAN(GAN):
    """A GAN trained with progressive growing (use with `ProgressiveGrowing`).

    The generator and discriminator are progressive networks
    (`ProGANGenerator`, `ProGANDiscriminator` or any pair with `num_levels`,
    `level` and `set_progress(level, alpha)`). The model keeps the schedule
    state in non-trainable variables, so a weights checkpoint restores it:
    `progress_level` (0 is 4x4), `progress_alpha` and `images_shown` (real
    images shown to D so far).

    Real images are faded like generated ones: at level `L` with weight
    `alpha`, a real batch `x` (target resolution) becomes
    `up(alpha * x_L + (1 - alpha) * up(down(x_L)))` with `x_L` the batch
    pooled to the level's resolution and `up` nearest upsampling back to the
    target size, as the original implementation does, so D sees real and
    generated images of the same effective resolution during a transition.

    `active_batch_size` (set by the callback per resolution) makes each
    train step use the first `n_critic * active_batch_size` images of the
    batch it receives: feed batches of the largest per-resolution size.

    `compile()` defaults to the paper's objective: WGAN-GP
    (`loss="wasserstein"`, `penalty="gp"`, weight 10) with the drift term
    0.001, and Adam(0.001, beta_1=0, beta_2=0.99) for both networks.

    Args:
        generator: a progressive generator (see above).
        discriminator: a progressive discriminator with the same number of
            levels.
        latent_dim: int or `None`. Defaults to the generator's `latent_dim`.
        seed: int or `None`. Seed of the model's noise stream.

    >>> g = progan_generator(128, (32, 32, 1), filters=64)
    >>> d = progan_discriminator((32, 32, 1), filters=64)
    >>> gan = ProGAN(g, d)
    >>> gan.compile()
    >>> gan.fit(data, batch_size=16, epochs=100,
    ...         callbacks=[ProgressiveGrowing(fade_images=20_000,
    ...                                       stable_images=20_000,
    ...                                       batch_size=16)])

    Reference:
        Karras et al., "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018.
    """

    def __init__(self, generator, discriminator, latent_dim=None,
                 num_classes=None, seed=None, **kwargs):
        for name, net in (("generator", generator),
                          ("discriminator", discriminator)):
            if not (hasattr(net, "set_progress")
                    and hasattr(net, "num_levels")):
                raise ValueError(
                    f"ProGAN needs progressive networks with `num_levels` and "
                    f"`set_progress(level, alpha)`; the {name} has none. "
                    f"Received: `{name}={net!r}`. Build them with "
                    "`progan_generator` / `progan_discriminator`."
                )
        if generator.num_levels != discriminator.num_levels:
            raise ValueError(
                "The generator and discriminator should grow through the same "
                f"resolutions. Received: {generator.num_levels} levels for the "
                f"generator, {discriminator.num_levels} for the discriminator."
            )
        if num_classes is not None:
            raise ValueError(
                "ProGAN is unconditional. Received: "
                f"`num_classes={num_classes!r}`; use `GAN` for conditional "
                "training."
            )
        if latent_dim is None:
            latent_dim = getattr(generator, "latent_dim", None)
        super().__init__(generator, discriminator, latent_dim, seed=seed,
                         **kwargs)
        if self.image_shape is None:
            self.image_shape = tuple(generator.image_shape)
        self.num_levels = int(generator.num_levels)
        self._level = int(generator.level)
        if self.ema_generator is not None:
            # The clone starts at the top level whatever the generator's.
            self.ema_generator.set_progress(
                self._level, float(ops.convert_to_numpy(generator.alpha)))
        self.active_batch_size = None
        self.progress_level = self.add_weight(
            shape=(), dtype="int32", trainable=False, name="progress_level",
            initializer=keras.initializers.Constant(self._level))
        self.progress_alpha = self.add_weight(
            shape=(), dtype="float32", trainable=False, name="progress_alpha",
            initializer=keras.initializers.Constant(1.0))
        self.images_shown = self.add_weight(
            shape=(), dtype="int32", trainable=False, name="images_shown",
            initializer="zeros")

    @property
    def level(self):
        """The active level (0 is 4x4), as a Python int."""
        return self._level

    @property
    def resolution(self):
        return 4 * 2 ** self._level

    def compile(self, d_optimizer=None, g_optimizer=None, loss="wasserstein",
                penalty="gp", drift=0.001, **kwargs):
        """`GAN.compile` with ProGAN's defaults (WGAN-GP, drift 0.001, Adam
        with lr 0.001, beta_1 0, beta_2 0.99)."""
        super().compile(
            d_optimizer=d_optimizer if d_optimizer is not None
            else _progan_optimizer(),
            g_optimizer=g_optimizer if g_optimizer is not None
            else _progan_optimizer(),
            loss=loss, penalty=penalty, drift=drift, **kwargs)

    def set_progress(self, level, alpha, images_shown=None, batch_size=None):
        """Sets level and alpha of both networks and of the real-image fade.

        A new level or batch size drops the traced train/test/predict
        functions (inside `fit()` the train function is rebuilt at once), so
        each resolution is traced once; alpha alone only assigns variables.
        """
        level = int(level)
        alpha = float(alpha)
        self.generator.set_progress(level, alpha)
        self.discriminator.set_progress(level, alpha)
        if self.ema_generator is not None:
            # Samples, grids, metrics and export draw through the EMA copy:
            # it must run the level being trained, not the untrained blocks
            # above it.
            self.ema_generator.set_progress(level, alpha)
        changed = level != self._level or batch_size != self.active_batch_size
        self._level = level
        self.active_batch_size = None if batch_size is None else int(batch_size)
        self.progress_level.assign(level)
        self.progress_alpha.assign(alpha)
        if images_shown is not None:
            self.images_shown.assign(int(images_shown))
        if changed:
            self.test_function = None
            self.predict_function = None
            if self.train_function is not None:
                self.make_train_function(force=True)

    def get_progress(self):
        """`{"level", "alpha", "images_shown"}` read from the variables."""
        def read(v):
            return ops.convert_to_numpy(v.value).item()

        return {
            "level": int(read(self.progress_level)),
            "alpha": float(read(self.progress_alpha)),
            "images_shown": int(read(self.images_shown)),
        }

    def load_own_variables(self, store):
        super().load_own_variables(store)
        progress = self.get_progress()
        self._level = progress["level"]

    # ------------------------------------------------------------------ #
    # Hooks
    # ------------------------------------------------------------------ #
    def _preprocess_real(self, images):
        level = self._level
        steps = self.num_levels - 1 - level
        x = resample(images, -steps)                        # [N, r, r, C]
        if level:
            blurred = upsample2x(downsample2x(x))
            a = ops.cast(self.progress_alpha, x.dtype)
            x = (1.0 - a) * blurred + a * x
        return resample(x, steps)                           # [N, R, R, C]

    def _gan_train_step(self, data):
        b = self.active_batch_size
        if b is not None:
            data = self._take(data, b)
        return super()._gan_train_step(data)

    def _take(self, data, b):
        k = self.n_critic

        def take(x, n):
            size = ops.shape(x)[0]
            if isinstance(size, int) and size < n:
                raise ValueError(
                    f"This resolution trains on batches of {n} images "
                    f"(n_critic={k} x batch size {b}), but the data gave "
                    f"{size}. Feed batches of the largest per-resolution "
                    "batch size times n_critic."
                )
            return x[:n]

        if isinstance(data, dict):
            return {key: take(v, b if key == "z_g" else k * b)
                    for key, v in data.items()}
        if isinstance(data, (list, tuple)):
            return type(data)(take(v, k * b) for v in data)
        return take(data, k * b)

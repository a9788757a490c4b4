"""`StyleGAN2`: the GAN with StyleGAN2's objective, regularisers and sampling."""

import math

import numpy as np
import keras
from keras import ops

from keras_gan_stable import backend as gan_backend
from keras_gan_stable.models.gan import GAN
from keras_gan_stable.penalties import GradientPenalty

__all__ = ["StyleGAN2", "INJECTABLE_KEYS"]

#: Dict-batch entries that replace the model's own random draws, per
#: generator call: the D update (no suffix), the G update (`_g`) and the
#: path-length pass (`_pl`). `z_mix*` are the mixing latents `[B, latent]`,
#: `mix_cutoff*` int `[B]` the first layer that reads the mixing latent
#: (`num_ws` for no mixing), `noise*` `[B, noise_size]` the synthesis noise
#: maps (`generator.synthesis.noise_shapes`), `z_pl` `[B_pl, latent]` and
#: `pl_y` `[B_pl, H, W, C]` the path-length latents and image-space noise.
INJECTABLE_KEYS = ("z_mix", "mix_cutoff", "noise",
                   "z_mix_g", "mix_cutoff_g", "noise_g",
                   "z_pl", "z_mix_pl", "mix_cutoff_pl", "noise_pl", "pl_y")


def _stylegan2_optimizer():
    # StyleGAN2 (config F / ADA): Adam(0.0025, beta_1=0, beta_2=0.99, 1e-8).
    return keras.optimizers.Adam(learning_rate=0.0025, beta_1=0.0,
                                 beta_2=0.99, epsilon=1e-8)


class _LazyR1(GradientPenalty):
    """R1 applied every `interval` D updates with weight `gamma/2 * interval`."""

    def __init__(self, weight, interval):
        super().__init__("r1", weight=weight)
        self.interval = int(interval)

    @property
    def scale(self):
        return self.weight / 2.0 * self.interval


def _check(name, value, ok, what):
    if not ok:
        raise ValueError(
            f"`{name}` should be {what}. Received: `{name}={value!r}`")


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class StyleGAN2(GAN):
    """StyleGAN2 training: non-saturating loss, lazy R1, path length, mixing.

    A `GAN` whose generator is a `StyleGAN2Generator` (from
    `stylegan2_generator`, or any model with its `mapping`, `synthesis`,
    `num_ws` and `broadcast`). Each train step makes one D update and one G
    update through the `GAN` step; StyleGAN2 adds:

    - style mixing: with probability `style_mixing_prob` a generated sample
      takes `w` from a second latent from a random layer index
      (`1 <= cutoff < num_ws`) on;
    - lazy R1 (gamma): on the D updates with `iterations % r1_interval ==
      0`, the D loss gains `gamma / 2 * r1_interval * mean ||dD(x)/dx||^2`
      over the real batch (computed only then, through `ops.cond`);
    - path-length regularisation: on the G updates with `iterations %
      pl_interval == 0`, for `B / pl_batch_shrink` new samples with
      `y ~ N(0, I) / sqrt(H W)`, `a = sqrt(mean_layers sum_w (d<g(w), y>/dw)^2)`,
      `pl_mean <- pl_mean + pl_decay (mean(a) - pl_mean)` and the G loss gains
      `pl_weight * pl_interval * mean((a - pl_mean)^2)`;
    - `w_avg` tracking (for truncation) on every training mapping of the
      main latents, and the generator EMA with ramp-up (`ema_decay`,
      `ema_rampup`);
    - ADA through `compile(augment=AdaptiveAugment(...))`.

    Unlike the reference code, a regularisation term is added to the main
    loss of the same update instead of making a separate optimizer step, so
    the reference's per-phase Adam adjustment (`lr * c`, `beta ** c`) does
    not apply.

    Batches are images, `(images, labels)` or a dict; besides the `GAN`'s
    `"z"` and `"z_g"`, a dict may inject every other random draw (see
    `INJECTABLE_KEYS`), which makes a step reproducible across backends.

    Args:
        generator: a `StyleGAN2Generator`.
        discriminator: the discriminator (`stylegan2_discriminator`).
        latent_dim: int or `None`. Defaults to the generator's.
        num_classes: int or `None`. Defaults to the generator's.
        seed: int or `None`. Seed of the model's noise stream.
        ema_decay: float or `None`. Generator EMA decay. Defaults to
            `0.999`.
        ema_rampup: float or `None`. EMA ramp-up. Defaults to `0.05`.

    >>> g = stylegan2_generator(32, 3, latent_dim=128, w_dim=128,
    ...                         channel_base=4096, channel_max=128)
    >>> d = stylegan2_discriminator(32, 3, channel_base=4096, channel_max=128)
    >>> gan = StyleGAN2(g, d)
    >>> gan.compile(r1_gamma=0.01)
    >>> gan.fit(images, batch_size=32, epochs=10)
    >>> samples = gan.generate(16, seed=0, truncation_psi=0.7)

    Reference:
        Karras et al., "Analyzing and Improving the Image Quality of
        StyleGAN", CVPR 2020; Karras et al., "Training Generative
        Adversarial Networks with Limited Data", NeurIPS 2020.
    """

    def __init__(self, generator, discriminator, latent_dim=None,
                 num_classes=None, seed=None, ema_decay=0.999,
                 ema_rampup=0.05, **kwargs):
        missing = [a for a in ("mapping", "synthesis", "num_ws", "broadcast")
                   if not hasattr(generator, a)]
        if missing:
            raise ValueError(
                "StyleGAN2 needs a StyleGAN2 generator (with `mapping`, "
                f"`synthesis`, `num_ws`, `broadcast`); this one lacks "
                f"{missing}. Received: `generator={generator!r}`. Build it "
                "with `stylegan2_generator`."
            )
        if latent_dim is None:
            latent_dim = generator.latent_dim
        if num_classes is None:
            num_classes = getattr(generator, "num_classes", None)
        super().__init__(generator, discriminator, latent_dim,
                         num_classes=num_classes, seed=seed,
                         ema_decay=ema_decay, ema_rampup=ema_rampup, **kwargs)
        self.pl_mean = keras.Variable(0.0, dtype="float32", trainable=False,
                                      name="pl_mean")
        self.pl_penalty_value = keras.Variable(
            0.0, dtype="float32", trainable=False, name="pl_penalty")
        object.__setattr__(self, "_injected", {})
        object.__setattr__(self, "_phase", "d")
        self.style_mixing_prob = 0.9
        self.pl_weight = 0.0

    def compile(self, d_optimizer=None, g_optimizer=None, r1_gamma=10.0,
                r1_interval=16, pl_weight=2.0, pl_decay=0.01, pl_interval=4,
                pl_batch_shrink=2, style_mixing_prob=0.9, augment=None,
                **kwargs):
        """Configures StyleGAN2 training.

        Args:
            d_optimizer, g_optimizer: optimizers. Default Adam(0.0025,
                beta_1=0, beta_2=0.99, epsilon=1e-8).
            r1_gamma: float. R1 weight gamma (0 disables R1). Defaults to
                `10.0` (StyleGAN2 at 1024 px; ADA uses 0.01 for CIFAR-10).
            r1_interval: int. Lazy R1 every this many D updates. Defaults
                to `16`.
            pl_weight: float. Path-length weight (0 disables). Defaults to
                `2.0`.
            pl_decay: float. Decay of `pl_mean`. Defaults to `0.01`.
            pl_interval: int. Path length every this many G updates.
                Defaults to `4`.
            pl_batch_shrink: int. Path-length batch is `B // shrink`.
                Defaults to `2`.
            style_mixing_prob: float in [0, 1]. Defaults to `0.9`.
            augment: `AdaptiveAugment`, `DiffAugment` or `None` (ADA).
            **kwargs: other `GAN.compile` arguments (`skip_nonfinite`,
                `track_stats`, `jit_compile`, ...); the loss is the
                non-saturating logistic loss and `n_critic` is 1.
        """
        for key in ("loss", "penalty", "penalty_weight", "penalty_target"):
            if kwargs.get(key) not in (None, "non_saturating"):
                raise ValueError(
                    f"StyleGAN2 sets its own loss and penalty; `{key}` is not "
                    f"accepted. Received: `{key}={kwargs[key]!r}`. Use "
                    "`r1_gamma` and `pl_weight`."
                )
            kwargs.pop(key, None)
        if kwargs.get("n_critic", 1) != 1:
            raise ValueError(
                "StyleGAN2 makes one D update per G update. Received: "
                f"`n_critic={kwargs['n_critic']!r}`"
            )
        kwargs.pop("n_critic", None)
        _check("r1_gamma", r1_gamma, float(r1_gamma) >= 0, "a number >= 0")
        _check("pl_weight", pl_weight, float(pl_weight) >= 0, "a number >= 0")
        _check("pl_decay", pl_decay, 0 < float(pl_decay) <= 1, "in (0, 1]")
        for name, value in (("r1_interval", r1_interval),
                            ("pl_interval", pl_interval),
                            ("pl_batch_shrink", pl_batch_shrink)):
            _check(name, value, isinstance(value, (int, np.integer))
                   and not isinstance(value, bool) and value >= 1,
                   "an integer >= 1")
        _check("style_mixing_prob", style_mixing_prob,
               0 <= float(style_mixing_prob) <= 1, "in [0, 1]")
        super().compile(
            d_optimizer if d_optimizer is not None else _stylegan2_optimizer(),
            g_optimizer if g_optimizer is not None else _stylegan2_optimizer(),
            loss="non_saturating",
            penalty="r1" if float(r1_gamma) > 0 else None,
            penalty_weight=float(r1_gamma), augment=augment, **kwargs)
        if self.penalties:
            self.penalties = [_LazyR1(float(r1_gamma), int(r1_interval))]
        self.r1_gamma = float(r1_gamma)
        self.r1_interval = int(r1_interval)
        self.pl_weight = float(pl_weight)
        self.pl_decay = float(pl_decay)
        self.pl_interval = int(pl_interval)
        self.pl_batch_shrink = int(pl_batch_shrink)
        self.style_mixing_prob = float(style_mixing_prob)
        self._stylegan2_compile_args = {
            "r1_gamma": self.r1_gamma, "r1_interval": self.r1_interval,
            "pl_weight": self.pl_weight, "pl_decay": self.pl_decay,
            "pl_interval": self.pl_interval,
            "pl_batch_shrink": self.pl_batch_shrink,
            "style_mixing_prob": self.style_mixing_prob,
            **{k: v for k, v in kwargs.items()},
        }

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {
            **self._stylegan2_compile_args,
            "augment": (None if self.augment is None else
                        keras.saving.serialize_keras_object(self.augment)),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }

    # ------------------------------------------------------------------ #
    # The GAN step's hooks
    # ------------------------------------------------------------------ #
    def _unpack(self, data):
        batch = data
        if isinstance(batch, (list, tuple)) and batch and isinstance(
                batch[0], dict):
            batch = batch[0]
        injected = {}
        if isinstance(batch, dict):
            for key in INJECTABLE_KEYS:
                if batch.get(key) is not None:
                    dtype = "int32" if key.startswith("mix_cutoff") \
                        else "float32"
                    injected[key] = ops.cast(
                        ops.convert_to_tensor(batch[key]), dtype)
        object.__setattr__(self, "_injected", injected)
        return super()._unpack(data)

    def _d_update(self, real, labels, z, eps):
        object.__setattr__(self, "_phase", "d")
        return super()._d_update(real, labels, z, eps)

    def _g_update(self, n, labels, z):
        object.__setattr__(self, "_phase", "g")
        return super()._g_update(n, labels, z)

    def _generate(self, z, labels, training):
        if not training:
            return super()._generate(z, labels, training)
        suffix = "" if self._phase == "d" else "_g"
        inj = self._injected
        images, _ = self._synthesize(
            z, labels, inj.get("z_mix" + suffix),
            inj.get("mix_cutoff" + suffix), inj.get("noise" + suffix),
            update_w_avg=True)
        return images

    def _mixed_ws(self, z, labels, z_mix, cutoff, update_w_avg):
        """`ws` `[N, num_ws, w_dim]` of `z`, mixed with `z_mix` from `cutoff`."""
        g = self.generator
        w = g.mapping(z, labels)
        if update_w_avg:
            g.mapping.update_w_avg(w)
        ws = g.broadcast(w)
        if self.style_mixing_prob > 0 or cutoff is not None:
            n = ops.shape(z)[0]
            if z_mix is None:
                z_mix = self._sample_z(n)
            if cutoff is None:
                c = keras.random.randint((n,), 1, g.num_ws,
                                         seed=self.seed_generator)
                u = keras.random.uniform((n,), seed=self.seed_generator)
                cutoff = ops.where(u < self.style_mixing_prob, c, g.num_ws)
            ws_mix = g.broadcast(g.mapping(z_mix, labels))
            layer = ops.arange(g.num_ws, dtype="int32")[None, :]
            first = layer < ops.cast(cutoff, "int32")[:, None]  # [N, num_ws]
            ws = ops.where(first[:, :, None], ws, ws_mix)
        return ws

    def _synthesize(self, z, labels, z_mix, cutoff, noise, update_w_avg):
        ws = self._mixed_ws(z, labels, z_mix, cutoff, update_w_avg)
        return self.generator.synthesis(ws, noise=noise), ws

    def _penalty(self, penalty, real, fake, labels, eps):
        # Lazy R1: computed on every `r1_interval`-th D update only.
        due = ops.equal(self.d_optimizer.iterations % self.r1_interval, 0)
        parent = super()._penalty
        return ops.cond(
            due, lambda: parent(penalty, real, fake, labels, eps),
            lambda: ops.zeros((), "float32"))

    def _g_regularizer(self, n, labels):
        if not self.pl_weight:
            return None
        g = self.generator
        inj = self._injected
        m = max(int(n) // self.pl_batch_shrink, 1) if isinstance(n, int) \
            else ops.maximum(n // self.pl_batch_shrink, 1)
        # Every random draw happens before the conditional branch.
        z = inj.get("z_pl")
        if z is None:
            z = self._sample_z(m)
        m = ops.shape(z)[0]
        z_mix, cutoff = inj.get("z_mix_pl"), inj.get("mix_cutoff_pl")
        if self.style_mixing_prob > 0:
            if z_mix is None:
                z_mix = self._sample_z(m)
            if cutoff is None:
                c = keras.random.randint((m,), 1, g.num_ws,
                                         seed=self.seed_generator)
                u = keras.random.uniform((m,), seed=self.seed_generator)
                cutoff = ops.where(u < self.style_mixing_prob, c, g.num_ws)
        noise = inj.get("noise_pl")
        if noise is None:
            noise = keras.random.normal((m, g.synthesis.noise_size),
                                        seed=self.seed_generator)
        h, w, c = g.image_shape
        y = inj.get("pl_y")
        if y is None:
            y = keras.random.normal((m, h, w, c), seed=self.seed_generator)
        y = y / math.sqrt(h * w)                      # pl_noise of the paper
        pl_labels = None if labels is None else labels[:m]
        pl_mean = ops.convert_to_tensor(self.pl_mean)

        def path_length():
            ws = self._mixed_ws(z, pl_labels, z_mix, cutoff, False)

            def projected(ws_):                        # <g(w), y> per sample
                img = g.synthesis(ws_, noise=noise)
                return ops.sum(ops.cast(img, "float32") * y, axis=(1, 2, 3))

            grads = gan_backend.input_gradient(projected, ws)  # [M, L, W]
            # a = sqrt(mean over layers of ||J^T y||^2)
            lengths = ops.sqrt(ops.mean(ops.sum(ops.square(grads), axis=2),
                                        axis=1))
            new_mean = pl_mean + self.pl_decay * (ops.mean(lengths) - pl_mean)
            return ops.mean(ops.square(lengths - new_mean)), new_mean

        due = ops.equal(self.g_optimizer.iterations % self.pl_interval, 0)
        penalty, new_mean = ops.cond(
            due, path_length,
            lambda: (ops.zeros((), "float32"), pl_mean))
        self.pl_mean.assign(ops.stop_gradient(new_mean))
        self.pl_penalty_value.assign(ops.stop_gradient(penalty))
        return penalty * (self.pl_weight * self.pl_interval)

    def _stability_step_end(self, n_images, d_logs, g_loss):
        logs = super()._stability_step_end(n_images, d_logs, g_loss)
        if self.pl_weight:
            logs["pl_penalty"] = ops.convert_to_tensor(self.pl_penalty_value)
            logs["pl_mean"] = ops.convert_to_tensor(self.pl_mean)
        return logs

    # ------------------------------------------------------------------ #
    # Sampling
    # ------------------------------------------------------------------ #
    def _sampling_net(self, use_ema):
        if use_ema and self.ema_generator is None:
            raise ValueError(
                "`use_ema=True` but this GAN keeps no EMA generator. Create "
                "it with `StyleGAN2(..., ema_decay=0.999)`."
            )
        if use_ema is not False and self.ema_generator is not None:
            return self.ema_generator
        return self.generator

    def _noise(self, seed, n, net):
        """`[n, noise_size]` noise maps of `seed` (`latents.synthesis_noise`)."""
        from keras_gan_stable.latents import synthesis_noise

        return synthesis_noise(n, net.synthesis.noise_size, seed)

    def mapped(self, n, seed=None, labels=None, truncation_psi=1.0,
               use_ema=None, net=None):
        """`w` `[n, w_dim]` of `n` seeded latents, truncated toward `w_avg`."""
        net = net if net is not None else self._sampling_net(use_ema)
        z, labels = self.sample_latents(n, seed=seed, labels=labels)
        w = net.mapping(z, labels)
        if truncation_psi != 1.0:
            w = net.mapping.truncate(w, float(truncation_psi))
        return w

    def generate(self, n, seed=None, labels=None, batch_size=256,
                 generator=None, use_ema=None, truncation_psi=1.0,
                 noise_seed=None):
        """Generates `n` images `[n, H, W, C]` (NumPy), reproducibly.

        The latents (`latents.latent_noise`) and the synthesis noise
        (`latents.synthesis_noise` of `noise_seed`, default `seed`) are
        integer-hash noise, so a seed gives the same images on every
        backend and from the exported SavedModel's `sample(n, seed,
        truncation_psi)`. `truncation_psi < 1` pulls `w` toward `w_avg` (the
        truncation trick: higher fidelity, less variety; 1 is none).
        `generator` may name the network (`gan.generator` or
        `gan.ema_generator`) instead of `use_ema`.
        """
        if generator is not None and not hasattr(generator, "synthesis"):
            return super().generate(n, seed=seed, labels=labels,
                                    batch_size=batch_size, generator=generator)
        if seed is None:
            seed = int(np.random.default_rng().integers(2**32))
        if generator is not None:
            use_ema = generator is self.ema_generator
        net = generator if generator is not None else \
            self._sampling_net(use_ema)
        w = ops.convert_to_numpy(self.mapped(
            n, seed=seed, labels=labels, truncation_psi=truncation_psi,
            use_ema=use_ema, net=net))
        noise = self._noise(seed if noise_seed is None else noise_seed,
                            int(n), net)
        out = []
        for start in range(0, int(n), batch_size):
            ws = net.broadcast(ops.convert_to_tensor(w[start:start + batch_size]))
            img = net.synthesis(ws, noise=noise[start:start + batch_size])
            out.append(ops.convert_to_numpy(img))
        if not out:
            return np.zeros((0,) + tuple(net.image_shape), "float32")
        return np.concatenate(out, axis=0)

    def interpolate(self, seeds, steps=8, truncation_psi=1.0, use_ema=None,
                    noise_seed=0):
        """Frames of a linear walk in w-space through the seeds' `w`.

        Returns `[steps * (len(seeds) - 1) + 1, H, W, C]`: `steps` frames
        per segment (`w_a + t (w_b - w_a)`, `t = k / steps`) and the last
        seed's image; every frame uses the noise maps of `noise_seed` (row
        0 of `latents.synthesis_noise`), so only `w` moves, and the end
        frames are `generate(1, seed=s, noise_seed=noise_seed)`.
        Write them as a GIF or video with any image library.
        """
        seeds = list(seeds)
        if len(seeds) < 2 or int(steps) < 1:
            raise ValueError(
                "`interpolate` needs at least two seeds and `steps >= 1`. "
                f"Received: `seeds={seeds!r}`, `steps={steps!r}`"
            )
        net = self._sampling_net(use_ema)
        w = np.stack([ops.convert_to_numpy(self.mapped(
            1, seed=s, truncation_psi=truncation_psi, use_ema=use_ema))[0]
            for s in seeds])
        t = np.arange(int(steps), dtype="float32") / float(steps)
        frames = [w[i] + t[:, None] * (w[i + 1] - w[i])
                  for i in range(len(seeds) - 1)] + [w[-1:]]
        frames = np.concatenate(frames, 0).astype("float32")
        noise = np.repeat(self._noise(noise_seed, 1, net), len(frames), 0)
        ws = net.broadcast(ops.convert_to_tensor(frames))
        return ops.convert_to_numpy(net.synthesis(ws, noise=noise))

    def style_mixing_grid(self, row_seeds, col_seeds, col_styles=None,
                          truncation_psi=1.0, use_ema=None, noise_seed=0):
        """The style-mixing figure as one image `[(R+1) H, (C+1) W, ch]`.

        The first row shows the column seeds' images, the first column the
        row seeds'; cell `(r, c)` is row `r`'s `w` with the layers in
        `col_styles` taken from column `c`: a list of layer indices, or
        `"coarse"` (layers 0-3: the 4x4 and 8x8 blocks: pose, shape),
        `"middle"` (4-7: 16x16 and 32x32), `"fine"` (8 on: colour,
        texture); default the coarse half, `range(num_ws // 2)`. All
        images use the noise maps of `noise_seed`, so the first row and
        column are `generate(1, seed=s, noise_seed=noise_seed)`. The top
        left cell is -1 (black). Values are in the generator's range.
        """
        net = self._sampling_net(use_ema)
        row_seeds, col_seeds = list(row_seeds), list(col_seeds)
        if not row_seeds or not col_seeds:
            raise ValueError(
                "`row_seeds` and `col_seeds` should be non-empty lists of "
                f"ints. Received: {row_seeds!r}, {col_seeds!r}"
            )
        num_ws = net.num_ws
        named = {"coarse": range(0, 4), "middle": range(4, 8),
                 "fine": range(8, num_ws)}
        if isinstance(col_styles, str):
            if col_styles not in named:
                raise ValueError(
                    "`col_styles` should be 'coarse', 'middle', 'fine' or a "
                    f"list of layer indices. Received: "
                    f"`col_styles={col_styles!r}`"
                )
            styles = [i for i in named[col_styles] if i < num_ws]
        else:
            styles = list(range(num_ws // 2)) if col_styles is None \
                else [int(i) for i in col_styles]
        bad = [s for s in styles if not 0 <= int(s) < num_ws]
        if bad:
            raise ValueError(
                f"`col_styles` should hold layer indices in [0, {num_ws}). "
                f"Received: `col_styles={col_styles!r}`"
            )

        def w_of(seed):
            return ops.convert_to_numpy(self.mapped(
                1, seed=seed, truncation_psi=truncation_psi,
                use_ema=use_ema))[0]

        w_rows = np.stack([w_of(s) for s in row_seeds])
        w_cols = np.stack([w_of(s) for s in col_seeds])
        cells = [np.repeat(w_cols[:, None], num_ws, axis=1)]
        for wr in w_rows:
            ws = np.repeat(np.repeat(wr[None, None], num_ws, 1),
                           len(col_seeds), 0)
            ws[:, styles] = w_cols[:, None]
            cells.append(ws)
        cells.append(np.repeat(w_rows[:, None], num_ws, axis=1))
        ws = np.concatenate(cells, 0).astype("float32")
        noise = np.repeat(self._noise(noise_seed, 1, net), ws.shape[0], 0)
        img = ops.convert_to_numpy(net.synthesis(ops.convert_to_tensor(ws),
                                                 noise=noise))
        r, c = len(row_seeds), len(col_seeds)
        h, w, ch = img.shape[1:]
        grid = -np.ones(((r + 1) * h, (c + 1) * w, ch), "float32")
        heads, body, firsts = img[:c], img[c:c + r * c], img[c + r * c:]
        for j in range(c):
            grid[:h, (j + 1) * w:(j + 2) * w] = heads[j]
        for i in range(r):
            grid[(i + 1) * h:(i + 2) * h, :w] = firsts[i]
            for j in range(c):
                grid[(i + 1) * h:(i + 2) * h, (j + 1) * w:(j + 2) * w] = \
                    body[i * c + j]
        return grid

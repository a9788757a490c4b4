"""Differentiable augmentation of the images the discriminator sees.

Both classes are Keras layers written with `keras.ops` only, so one
definition runs on TensorFlow, JAX and PyTorch, and gradients flow through
every transform back to the generator. The `GAN` applies the object given
as `compile(augment=...)` to every batch D sees: real, generated, and the
generated batch of the G update.

- `DiffAugment` (Zhao et al. 2020): colour, translation and cutout, always
  applied, fresh random parameters per sample.
- `AdaptiveAugment` (Karras et al. 2020, ADA): each transform applied to a
  sample with probability `p`; `p` lives in a non-trainable variable and is
  adjusted inside the train step from the overfitting heuristic
  `r_t = E[sign(D(x_real))]` toward a target (0.6), so it is safe under
  JAX's stateless step and saved with the model and its checkpoints.

Images are `[N, H, W, C]` in [-1, 1].
"""

import math

import keras
from keras import ops

__all__ = ["DiffAugment", "AdaptiveAugment", "translate", "cutout"]

_DIFF_POLICIES = ("color", "translation", "cutout")


def _shift_matrix(shift, size, mode):
    """One-hot matrices `[N, size, size]` with `out[i] = in[i + shift]`.

    `mode="zeros"` leaves zeros where `i + shift` falls outside the image;
    `mode="reflect"` mirrors the index back inside. A matrix product with
    these is a translation that is differentiable w.r.t. the image.
    """
    i = ops.arange(size, dtype="int32")[None, :]  # [1, size]
    idx = i + ops.cast(shift, "int32")[:, None]  # [N, size]
    if mode == "reflect":
        last = size - 1
        idx = ops.abs(idx)
        idx = last - ops.abs(last - idx)
        idx = ops.clip(idx, 0, last)
        return ops.one_hot(idx, size, dtype="float32")
    valid = ops.cast((idx >= 0) & (idx < size), "float32")
    idx = ops.clip(idx, 0, size - 1)
    return ops.one_hot(idx, size, dtype="float32") * valid[..., None]


def translate(images, shift_h, shift_w, mode="zeros"):
    """Translates each image by integer `(shift_h[n], shift_w[n])` pixels.

    `out[n, i, j] = images[n, i + shift_h[n], j + shift_w[n]]`.
    """
    h, w = images.shape[1], images.shape[2]
    dtype = images.dtype
    x = ops.cast(images, "float32")
    rows = _shift_matrix(shift_h, h, mode)  # [N, H, H]
    cols = _shift_matrix(shift_w, w, mode)  # [N, W, W]
    x = ops.einsum("nik,nkwc->niwc", rows, x)
    x = ops.einsum("njk,nhkc->nhjc", cols, x)
    return ops.cast(x, dtype)


def cutout(images, center_h, center_w, size_h, size_w):
    """Zeroes a `size_h x size_w` square of each image at the given centre
    (rows `center - size // 2` to `center - size // 2 + size - 1`)."""
    h, w = images.shape[1], images.shape[2]
    lo_h = ops.cast(center_h, "int32")[:, None] - size_h // 2  # [N, 1]
    lo_w = ops.cast(center_w, "int32")[:, None] - size_w // 2
    r = ops.arange(h, dtype="int32")[None, :]
    c = ops.arange(w, dtype="int32")[None, :]
    in_r = ops.cast((r >= lo_h) & (r < lo_h + size_h), images.dtype)  # [N, H]
    in_c = ops.cast((c >= lo_w) & (c < lo_w + size_w), images.dtype)  # [N, W]
    mask = 1.0 - in_r[:, :, None, None] * in_c[:, None, :, None]
    return images * mask


def _check_images(images):
    if len(images.shape) != 4 or images.shape[1] is None or (
            images.shape[2] is None):
        raise ValueError(
            "Augmentation takes a batch of images [N, H, W, C] with known "
            f"height and width. Received a tensor of shape {images.shape}."
        )


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class DiffAugment(keras.layers.Layer):
    """DiffAugment: the same random differentiable transforms for real and
    generated images.

    Every sample gets its own random parameters for each policy, in order:

    - `"color"`: brightness `x + (u - 0.5)`, saturation
      `(x - mean_c) * 2u + mean_c`, contrast `(x - mean) * (u + 0.5) + mean`
      with `u ~ U[0, 1)` per sample;
    - `"translation"`: an integer shift of up to `translation_ratio` of the
      height/width in each direction, zero padded;
    - `"cutout"`: a zeroed square of `cutout_ratio` of the image size at a
      random centre.

    The transforms are matrix products and masks, so D's gradient reaches
    G through them on every backend. At `training=False` the layer is the
    identity.

    Args:
        policy: str or list of str. Comma-separated subset of
            `"color,translation,cutout"`. Defaults to all three (the
            paper's setting for small data).
        translation_ratio: float in [0, 0.5]. Maximum shift as a fraction of
            the image size. Defaults to `0.125`.
        cutout_ratio: float in (0, 1]. Side of the cutout square as a
            fraction of the image size. Defaults to `0.5`.
        seed: int or `None`. Seed of the layer's random stream.

    >>> gan.compile(loss="hinge", augment=DiffAugment("color,translation"))

    Reference:
        Zhao et al., "Differentiable Augmentation for Data-Efficient GAN
        Training", NeurIPS 2020.
    """

    def __init__(self, policy="color,translation,cutout",
                 translation_ratio=0.125, cutout_ratio=0.5, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(policy, str):
            parts = [p.strip() for p in policy.split(",") if p.strip()]
        else:
            parts = list(policy)
        unknown = [p for p in parts if p not in _DIFF_POLICIES]
        if unknown or not parts:
            raise ValueError(
                "`policy` should name one or more of "
                f"{', '.join(_DIFF_POLICIES)} (comma separated). Received: "
                f"`policy={policy!r}`"
            )
        if not 0.0 <= float(translation_ratio) <= 0.5:
            raise ValueError(
                "`translation_ratio` should be in [0, 0.5]. Received: "
                f"`translation_ratio={translation_ratio}`"
            )
        if not 0.0 < float(cutout_ratio) <= 1.0:
            raise ValueError(
                "`cutout_ratio` should be in (0, 1]. Received: "
                f"`cutout_ratio={cutout_ratio}`"
            )
        self.policy = ",".join(parts)
        self.translation_ratio = float(translation_ratio)
        self.cutout_ratio = float(cutout_ratio)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True  # no state that depends on the image shape

    def _uniform(self, n):
        return keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator)

    def _color(self, x, n):
        x = x + (self._uniform(n) - 0.5)  # brightness
        mean = ops.mean(x, axis=-1, keepdims=True)
        x = (x - mean) * (self._uniform(n) * 2.0) + mean  # saturation
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        return (x - mean) * (self._uniform(n) + 0.5) + mean  # contrast

    def _translation(self, x, n):
        h, w = x.shape[1], x.shape[2]
        sh = int(h * self.translation_ratio + 0.5)
        sw = int(w * self.translation_ratio + 0.5)
        th = keras.random.randint((n,), -sh, sh + 1, seed=self.seed_generator)
        tw = keras.random.randint((n,), -sw, sw + 1, seed=self.seed_generator)
        return translate(x, th, tw, mode="zeros")

    def _cutout(self, x, n):
        h, w = x.shape[1], x.shape[2]
        ch = int(h * self.cutout_ratio + 0.5)
        cw = int(w * self.cutout_ratio + 0.5)
        oh = keras.random.randint((n,), 0, h + (1 - ch % 2),
                                  seed=self.seed_generator)
        ow = keras.random.randint((n,), 0, w + (1 - cw % 2),
                                  seed=self.seed_generator)
        return cutout(x, oh, ow, ch, cw)

    def call(self, images, training=True):
        if not training:
            return images
        _check_images(images)
        n = ops.shape(images)[0]
        # The transforms run in float32 (the random draws are float32, and
        # half precision would round the colour shifts); the result has the
        # dtype the layer was given, as under a mixed-precision policy.
        x = ops.cast(images, "float32")
        for p in self.policy.split(","):
            x = getattr(self, "_" + p)(x, n)
        return ops.cast(x, images.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "policy": self.policy,
            "translation_ratio": self.translation_ratio,
            "cutout_ratio": self.cutout_ratio,
            "seed": self.seed,
        }


_ADA_TRANSFORMS = ("xflip", "rotate90", "translation", "brightness",
                   "contrast", "saturation", "cutout")


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class AdaptiveAugment(keras.layers.Layer):
    """Adaptive discriminator augmentation (ADA) with a learned-free
    probability `p` driven by D's overfitting.

    Each enabled transform is applied to each sample independently with
    probability `p` (its parameters drawn per sample), in the order of the
    ADA pipeline: pixel blitting (`"xflip"`, `"rotate90"`, integer
    `"translation"` with reflection), then colour (`"brightness"`,
    `"contrast"`, `"saturation"`), then `"cutout"`. Parameter
    distributions follow the paper: brightness `+N(0, 0.2)`, contrast
    `x lognormal(0, 0.5 ln 2)`, saturation `x lognormal(0, ln 2)`,
    translation `U(-0.125, 0.125)` of the size, cutout half the size.
    (The paper's general geometric transforms, isotropic/anisotropic
    scaling, arbitrary rotation and fractional translation, need a
    resampling filter and are not included; blitting and colour are the
    group the paper found most useful alone.)

    The adaptation (the paper's heuristic): the train step accumulates
    `sign(D(x_real))` over every D update; every `interval` train steps,
    `r_t = E[sign(D(x_real))]` and
    `p <- clip(p + sign(r_t - target) * N_interval / adjustment_images,
    0, max_p)`, where `N_interval` is the number of real images D saw in the
    interval, so `p` can move from 0 to 1 in `adjustment_images` images.
    `p`, the accumulators and the last `r_t` are non-trainable variables,
    updated inside the step (pure under JAX's `jit`).

    Args:
        target: float in (0, 1). Target value of `r_t`. Defaults to `0.6`.
        interval: int. Train steps between adjustments. Defaults to `4`.
        adjustment_images: int. Images for `p` to move by 1. Defaults to
            `500_000` (the paper's 500k); use less for short runs.
        initial_p: float in [0, max_p]. Defaults to `0.0`.
        max_p: float in (0, 1]. Upper bound of `p`. Defaults to `1.0`.
        transforms: str or list. Subset of
            `"xflip,rotate90,translation,brightness,contrast,saturation,cutout"`.
            Defaults to all but cutout (`"rotate90"` needs square images;
            `"saturation"` is skipped for single-channel images).
        adaptive: bool. When `False`, `p` stays at `initial_p` (fixed
            augmentation). Defaults to `True`.
        seed: int or `None`. Seed of the layer's random stream.

    >>> ada = AdaptiveAugment(target=0.6, adjustment_images=100_000)
    >>> gan.compile(loss="non_saturating", augment=ada)
    >>> gan.fit(images, epochs=10)   # logs `augment_p`

    Reference:
        Karras et al., "Training Generative Adversarial Networks with
        Limited Data", NeurIPS 2020.
    """

    def __init__(self, target=0.6, interval=4, adjustment_images=500_000,
                 initial_p=0.0, max_p=1.0,
                 transforms="xflip,rotate90,translation,brightness,contrast,"
                            "saturation",
                 adaptive=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < float(target) < 1.0:
            raise ValueError(
                f"`target` should be in (0, 1). Received: `target={target}`"
            )
        if int(interval) < 1:
            raise ValueError(
                "`interval` should be a positive integer (train steps "
                f"between adjustments). Received: `interval={interval}`"
            )
        if not float(adjustment_images) > 0:
            raise ValueError(
                "`adjustment_images` should be > 0. Received: "
                f"`adjustment_images={adjustment_images}`"
            )
        if not 0.0 < float(max_p) <= 1.0:
            raise ValueError(
                f"`max_p` should be in (0, 1]. Received: `max_p={max_p}`"
            )
        if not 0.0 <= float(initial_p) <= float(max_p):
            raise ValueError(
                f"`initial_p` should be in [0, max_p={max_p}]. Received: "
                f"`initial_p={initial_p}`"
            )
        if isinstance(transforms, str):
            parts = [t.strip() for t in transforms.split(",") if t.strip()]
        else:
            parts = list(transforms)
        unknown = [t for t in parts if t not in _ADA_TRANSFORMS]
        if unknown or not parts:
            raise ValueError(
                f"`transforms` should name some of {', '.join(_ADA_TRANSFORMS)}"
                f". Received: `transforms={transforms!r}`"
            )
        self.target = float(target)
        self.interval = int(interval)
        self.adjustment_images = float(adjustment_images)
        self.initial_p = float(initial_p)
        self.max_p = float(max_p)
        self.transforms = ",".join(t for t in _ADA_TRANSFORMS if t in parts)
        self.adaptive = bool(adaptive)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._build_state()

    def _build_state(self):
        # The state does not depend on the image shape, so it exists from
        # construction: the GAN's compiled step and checkpoints see it.
        def var(name, value, dtype="float32"):
            return self.add_weight(
                shape=(), initializer=keras.initializers.Constant(value),
                dtype=dtype, trainable=False, name=name)

        self.p = var("p", self.initial_p)
        self.r_t = var("r_t", 0.0)
        self.sign_sum = var("sign_sum", 0.0)
        self.sign_count = var("sign_count", 0.0)
        self.steps = var("steps", 0, dtype="int32")
        self.built = True

    # -- adaptation, called by the GAN's train step ----------------------
    def accumulate(self, real_logits):
        """Adds `sign(D(x_real))` of one D update to the running sum."""
        logits = ops.cast(ops.reshape(real_logits, (ops.shape(real_logits)[0],
                                                    -1)), "float32")
        mean = ops.mean(logits, axis=-1)  # [N]
        ok = ops.isfinite(mean)  # a skipped (non-finite) update counts nothing
        s = ops.sign(ops.where(ok, mean, 0.0))
        self.sign_sum.assign(self.sign_sum + ops.sum(ops.where(ok, s, 0.0)))
        self.sign_count.assign(
            self.sign_count + ops.sum(ops.cast(ok, "float32")))

    def update(self):
        """One train step: every `interval` steps, moves `p` toward the
        target (`r_t > target`: more augmentation)."""
        # Variables are read once as tensors (JAX's `where` takes arrays).
        p = ops.convert_to_tensor(self.p)
        r_prev = ops.convert_to_tensor(self.r_t)
        sign_sum = ops.convert_to_tensor(self.sign_sum)
        count = ops.convert_to_tensor(self.sign_count)
        steps = ops.convert_to_tensor(self.steps) + 1
        due = ops.equal(steps % self.interval, 0)
        r_t = sign_sum / ops.maximum(count, 1.0)  # r_t = E[sign(D(x_real))]
        if self.adaptive:
            adjust = ops.sign(r_t - self.target) * count / (
                self.adjustment_images)
            new_p = ops.clip(p + adjust, 0.0, self.max_p)
            self.p.assign(ops.where(due, new_p, p))
        self.r_t.assign(ops.where(due, r_t, r_prev))
        zero = ops.zeros((), "float32")
        self.sign_sum.assign(ops.where(due, zero, sign_sum))
        self.sign_count.assign(ops.where(due, zero, count))
        self.steps.assign(steps)

    # -- augmentation ----------------------------------------------------
    def _gate(self, n, p):
        u = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator)
        return ops.cast(u < p, "float32")

    def _xflip(self, x, n, p):
        flip = self._gate(n, p) * ops.cast(
            keras.random.randint((n, 1, 1, 1), 0, 2, seed=self.seed_generator),
            "float32")
        return x + flip * (ops.flip(x, axis=2) - x)

    def _rotate90(self, x, n, p):
        if x.shape[1] != x.shape[2]:
            return x  # quarter turns need square images
        k = keras.random.randint((n,), 0, 4, seed=self.seed_generator)
        k = ops.cast(k, "float32") * self._gate(n, p)[:, 0, 0, 0]
        onehot = ops.one_hot(ops.cast(k, "int32"), 4, dtype="float32")
        r1 = ops.flip(ops.transpose(x, (0, 2, 1, 3)), axis=1)
        r2 = ops.flip(ops.flip(x, axis=1), axis=2)
        r3 = ops.flip(ops.transpose(x, (0, 2, 1, 3)), axis=2)
        out = 0.0
        for j, r in enumerate((x, r1, r2, r3)):
            out = out + onehot[:, j][:, None, None, None] * r
        return out

    def _translation(self, x, n, p):
        h, w = x.shape[1], x.shape[2]
        g = self._gate(n, p)[:, 0, 0, 0]
        t = keras.random.uniform((2, n), -0.125, 0.125,
                                 seed=self.seed_generator)
        th = ops.round(t[0] * h * g)
        tw = ops.round(t[1] * w * g)
        return translate(x, th, tw, mode="reflect")

    def _brightness(self, x, n, p):
        b = keras.random.normal((n, 1, 1, 1), stddev=0.2,
                                seed=self.seed_generator)
        return x + b * self._gate(n, p)

    def _contrast(self, x, n, p):
        c = ops.exp(keras.random.normal((n, 1, 1, 1), stddev=0.5 * math.log(2),
                                        seed=self.seed_generator))
        c = 1.0 + self._gate(n, p) * (c - 1.0)
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        return (x - mean) * c + mean

    def _saturation(self, x, n, p):
        if x.shape[-1] < 2:
            return x
        s = ops.exp(keras.random.normal((n, 1, 1, 1), stddev=math.log(2),
                                        seed=self.seed_generator))
        s = 1.0 + self._gate(n, p) * (s - 1.0)
        mean = ops.mean(x, axis=-1, keepdims=True)
        return (x - mean) * s + mean

    def _cutout(self, x, n, p):
        h, w = x.shape[1], x.shape[2]
        g = self._gate(n, p)
        oh = keras.random.randint((n,), 0, h, seed=self.seed_generator)
        ow = keras.random.randint((n,), 0, w, seed=self.seed_generator)
        cut = cutout(x, oh, ow, h // 2, w // 2)
        return x + g * (cut - x)

    def call(self, images, training=True):
        if not training:
            return images
        _check_images(images)
        n = ops.shape(images)[0]
        p = ops.cast(self.p, "float32")
        x = ops.cast(images, "float32")
        for t in self.transforms.split(","):
            x = getattr(self, "_" + t)(x, n, p)
        return ops.cast(x, images.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "target": self.target,
            "interval": self.interval,
            "adjustment_images": self.adjustment_images,
            "initial_p": self.initial_p,
            "max_p": self.max_p,
            "transforms": self.transforms,
            "adaptive": self.adaptive,
            "seed": self.seed,
        }

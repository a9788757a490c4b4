"""Training pairs for image-to-image tasks, made on the fly from any images.

Each maker returns a `PairMaker`: a callable mapping clean images to
`(inputs, targets)`, where `targets` are the images themselves and `inputs`
their degraded version, what an `ImageToImageGAN` generator receives:

| maker                          | inputs                                          |
| ------------------------------ | ----------------------------------------------- |
| `super_resolution(scale)`      | `[N, H/s, W/s, C]`, antialiased bicubic         |
| `inpainting(mask)`             | `[N, H, W, C + 1]`: image with holes set to 0,  |
|                                | then the mask (1 in the hole) as a channel      |
| `denoising(noise, sigma)`      | `[N, H, W, C]`, noisy and clipped to the range  |

A maker accepts one image `[H, W, C]` or a batch `[N, H, W, C]`, as a NumPy
array (the NumPy path) or a TensorFlow tensor (the `tf.data` path: use it as
`dataset.map(maker)`). Images are float in `value_range` (the library's
`[-1, 1]` by default). Random draws come from the maker's own stream seeded
with `seed`: a maker made with the same seed and called on the same inputs in
the same order gives the same pairs (on NumPy; on `tf.data` with the default
sequential `map`). NumPy and TensorFlow draw from different generators.
"""

import numpy as np

TASKS = ("super_resolution", "inpainting", "denoising")


def _cubic(x, a=-0.5):
    # Keys' cubic convolution kernel (a = -0.5: PIL, MATLAB imresize).
    x = np.abs(x)
    return np.where(
        x < 1.0, ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0,
        np.where(x < 2.0, (((x - 5.0) * x + 8.0) * x - 4.0) * a, 0.0))


def resize_matrix(in_size, out_size, kernel="bicubic"):
    """The `[out_size, in_size]` matrix of a 1-D antialiased resize.

    Computes the coefficients the way Pillow's `Image.resize` does: the
    kernel is stretched by the scale when downsampling (antialiasing), and
    the taps that fall outside the image are dropped and the rest
    renormalised. A separable 2-D resize is `R_h @ X @ R_w.T`.
    """
    if kernel not in ("bicubic", "box"):
        raise ValueError(
            "`kernel` should be 'bicubic' or 'box'. Received: "
            f"`kernel={kernel!r}`"
        )
    in_size, out_size = int(in_size), int(out_size)
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = (2.0 if kernel == "bicubic" else 0.5) * filterscale
    m = np.zeros((out_size, in_size), np.float64)
    for i in range(out_size):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        x = (np.arange(lo, hi) - center + 0.5) / filterscale
        if kernel == "bicubic":
            w = _cubic(x)
        else:
            w = ((x >= -0.5) & (x < 0.5)).astype(np.float64)
        total = w.sum()
        m[i, lo:hi] = w / total if total != 0 else w
    return m


def _is_tf(x):
    return type(x).__module__.startswith("tensorflow")


class PairMaker:
    """A callable `images -> (inputs, targets)` (see the module docstring).

    Use the factories `super_resolution`, `inpainting` and `denoising`.
    """

    def __init__(self, task, config, seed):
        self.task = task
        self.config = dict(config)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._tf_rng = None

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{self.task}({args}, seed={self.seed!r})"

    def get_config(self):
        return {"task": self.task, **self.config, "seed": self.seed}

    # -------------------------------------------------------------- #
    def __call__(self, images, masks=None):
        """Degrades `images`; `masks` (inpainting only) replaces the drawn
        masks: `[H, W]`, `[H, W, 1]` or `[N, H, W, 1]`, 1 in the hole."""
        tf_mode = _is_tf(images)
        if not tf_mode:
            images = np.asarray(images)
            if not np.issubdtype(images.dtype, np.floating):
                raise ValueError(
                    f"{self.task}: images should be float arrays in "
                    f"{self.config['value_range']}. Received dtype "
                    f"{images.dtype}; scale uint8 images first (x / 127.5 - 1 "
                    "for [-1, 1])."
                )
        shape = tuple(images.shape)
        if len(shape) not in (3, 4):
            raise ValueError(
                f"{self.task}: images should be [H, W, C] or [N, H, W, C]. "
                f"Received shape {shape}."
            )
        single = len(shape) == 3
        if single:
            images = images[None]
        if masks is not None and self.task != "inpainting":
            raise ValueError(
                f"`masks` is an inpainting argument; this maker is "
                f"{self.task}. Received masks of shape "
                f"{tuple(np.shape(masks))}."
            )
        fn = getattr(self, "_" + self.task)
        inputs, targets = fn(images, tf_mode, masks)
        if single:
            inputs, targets = inputs[0], targets[0]
        return inputs, targets

    # -------------------------------------------------------------- #
    def _tf(self):
        import tensorflow as tf

        if self._tf_rng is None:
            seed = 0 if self.seed is None else int(self.seed)
            self._tf_rng = tf.random.Generator.from_seed(seed)
        return self._tf_rng

    def _tf_seed(self):
        return self._tf().make_seeds(1)[:, 0]

    def _super_resolution(self, images, tf_mode, masks):
        s = self.config["scale"]
        h, w = images.shape[1], images.shape[2]
        for name, size in (("height", h), ("width", w)):
            if size is not None and size % s:
                raise ValueError(
                    f"super_resolution(scale={s}): the image {name} {size} is "
                    f"not a multiple of the scale. Crop or resize the images "
                    f"to a multiple of {s} (received image shape "
                    f"{tuple(images.shape[1:])})."
                )
        rh = resize_matrix(h, h // s, self.config["kernel"])
        rw = resize_matrix(w, w // s, self.config["kernel"])
        if tf_mode:
            import tensorflow as tf

            x = tf.cast(images, tf.float32)
            low = tf.einsum("ah,nhwc,bw->nabc", tf.constant(rh, tf.float32),
                            x, tf.constant(rw, tf.float32))
            return low, x
        x = images.astype(np.float32)
        low = np.einsum("ah,nhwc,bw->nabc", rh, x.astype(np.float64), rw)
        return low.astype(np.float32), x

    def _denoising(self, images, tf_mode, masks):
        lo, hi = self.config["value_range"]
        noise, sigma = self.config["noise"], self.config["sigma"]
        span = hi - lo
        if tf_mode:
            import tensorflow as tf

            x = tf.cast(images, tf.float32)
            shape = tf.shape(x)
            seed = self._tf_seed()
            if noise == "gaussian":
                y = x + sigma * span * tf.random.stateless_normal(shape, seed)
            elif noise == "poisson":
                peak = self.config["peak"]
                x01 = tf.clip_by_value((x - lo) / span, 0.0, 1.0)
                counts = tf.random.stateless_poisson(shape, seed, x01 * peak)
                y = lo + span * counts / peak
            else:
                u = tf.random.stateless_uniform(shape[:-1], seed)
                u = u[..., None]
                y = tf.where(u < sigma / 2, lo, tf.where(u < sigma, hi, x))
            return tf.clip_by_value(y, lo, hi), x
        x = images.astype(np.float32)
        rng = self._rng
        if noise == "gaussian":
            y = x + np.float32(sigma * span) * rng.standard_normal(
                x.shape).astype(np.float32)
        elif noise == "poisson":
            peak = self.config["peak"]
            x01 = np.clip((x - lo) / span, 0.0, 1.0)
            y = lo + span * rng.poisson(x01 * peak) / peak
        else:
            u = rng.random(x.shape[:-1])[..., None]
            y = np.where(u < sigma / 2, lo, np.where(u < sigma, hi, x))
        return np.clip(y, lo, hi).astype(np.float32), x

    def _inpainting(self, images, tf_mode, masks):
        n, h, w = images.shape[0], images.shape[1], images.shape[2]
        fill = self.config["fill"]
        if masks is not None:
            masks = self._check_masks(masks, images)
        if tf_mode:
            import tensorflow as tf

            x = tf.cast(images, tf.float32)
            if masks is None:
                seed = self._tf_seed()
                m = tf.numpy_function(
                    lambda s, k: self._draw_masks(
                        int(k), h, w, np.random.default_rng(
                        np.asarray(s, np.int64).view(np.uint64))),
                    [seed, tf.shape(x)[0]], tf.float32, stateful=False)
                m = tf.reshape(m, tf.concat([tf.shape(x)[:3], [1]], 0))
            else:
                m = tf.cast(masks, tf.float32)
                m = tf.broadcast_to(m, tf.concat([tf.shape(x)[:3], [1]], 0))
            holes = x * (1.0 - m) + fill * m
            return tf.concat([holes, m], axis=-1), x
        x = images.astype(np.float32)
        if masks is None:
            m = self._draw_masks(n, h, w, self._rng)
        else:
            m = np.broadcast_to(np.asarray(masks, np.float32),
                                (n, h, w, 1))
        holes = x * (1.0 - m) + np.float32(fill) * m
        return np.concatenate([holes, m], axis=-1).astype(np.float32), x

    def _check_masks(self, masks, images):
        if _is_tf(masks):
            shape = tuple(masks.shape)
        else:
            masks = np.asarray(masks, np.float32)
            shape = masks.shape
        h, w = images.shape[1], images.shape[2]
        if len(shape) == 2:
            masks = masks[..., None]
            shape = shape + (1,)
        if len(shape) == 3 and shape[-1] == 1 and shape[:2] == (h, w):
            return masks[None]
        if (len(shape) == 4 and shape[1:] == (h, w, 1)
                and shape[0] in (1, images.shape[0])):
            return masks
        raise ValueError(
            f"inpainting: the masks (shape {shape}) do not match the images "
            f"(shape {tuple(images.shape)}). Give one mask per image, "
            f"[H, W], [H, W, 1] or [N, H, W, 1] with H, W = {h}, {w} and 1 "
            "in the hole."
        )

    def _draw_masks(self, n, h, w, rng):
        kind = self.config["mask"]
        out = np.zeros((n, h, w, 1), np.float32)
        for i in range(n):
            if kind == "box":
                bh, bw = self.config["hole_size"] or (h // 2, w // 2)
                bh, bw = min(bh, h), min(bw, w)
                if self.config["position"] == "center":
                    top, left = (h - bh) // 2, (w - bw) // 2
                else:
                    top = int(rng.integers(0, h - bh + 1))
                    left = int(rng.integers(0, w - bw + 1))
                out[i, top:top + bh, left:left + bw, 0] = 1.0
            else:
                out[i, :, :, 0] = _free_form_mask(h, w, rng,
                                                  self.config["max_strokes"])
        return out


def _free_form_mask(h, w, rng, max_strokes):
    """DeepFill v2's random brush strokes (Yu et al. 2019, Algorithm 1),
    scaled to the image size: a few polylines of thick round brush."""
    mask = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    size = min(h, w)
    max_width = max(2.0, size / 8)
    max_len = size / 3
    for _ in range(int(rng.integers(1, max_strokes + 1))):
        y, x = rng.uniform(0, h), rng.uniform(0, w)
        width = rng.uniform(max(1.0, max_width / 3), max_width)
        for _ in range(int(rng.integers(1, 6))):
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(max_len / 4, max_len)
            ny = np.clip(y + length * np.sin(angle), 0, h - 1)
            nx = np.clip(x + length * np.cos(angle), 0, w - 1)
            # Distance of every pixel to the segment (y, x) -> (ny, nx).
            dy, dx = ny - y, nx - x
            t = ((yy - y) * dy + (xx - x) * dx) / max(dy * dy + dx * dx, 1e-9)
            t = np.clip(t, 0.0, 1.0)
            d2 = (yy - y - t * dy) ** 2 + (xx - x - t * dx) ** 2
            mask[d2 <= (width / 2) ** 2] = 1.0
            y, x = ny, nx
    return mask


def _check_range(value_range):
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        lo, hi = 0.0, 0.0
    if not hi > lo:
        raise ValueError(
            "`value_range` should be (low, high) with high > low. Received: "
            f"`value_range={value_range!r}`"
        )
    return (lo, hi)


def super_resolution(scale=4, kernel="bicubic", seed=None):
    """Pairs `(low-resolution image, image)` for super-resolution.

    The low-resolution input is the antialiased resize by `1 / scale`
    (Pillow's and MATLAB `imresize`'s bicubic, the SRGAN/ESRGAN protocol).

    Args:
        scale: int, 2 or 4. Height and width must be multiples of it.
        kernel: `"bicubic"` or `"box"` (area averaging). Defaults to
            `"bicubic"`.
        seed: unused (the degradation is deterministic); kept for a uniform
            signature.

    >>> make_pairs = super_resolution(scale=4)
    >>> low, high = make_pairs(images)     # [N, 8, 8, 3], [N, 32, 32, 3]
    """
    if isinstance(scale, bool) or scale not in (2, 4):
        raise ValueError(
            f"`scale` should be 2 or 4. Received: `scale={scale!r}`"
        )
    if kernel not in ("bicubic", "box"):
        raise ValueError(
            "`kernel` should be 'bicubic' or 'box'. Received: "
            f"`kernel={kernel!r}`"
        )
    return PairMaker("super_resolution",
                     {"scale": int(scale), "kernel": kernel,
                      "value_range": (-1.0, 1.0)}, seed)


def inpainting(mask="box", hole_size=None, position="center", max_strokes=4,
               fill=0.0, seed=None):
    """Pairs `(image with holes + mask channel, image)` for inpainting.

    Args:
        mask: `"box"` (a rectangle) or `"free_form"` (DeepFill v2's random
            brush strokes).
        hole_size: `(height, width)` of the box. Defaults to half the image.
        position: `"center"` or `"random"` placement of the box. Defaults to
            `"center"`.
        max_strokes: int. Most strokes of a free-form mask. Defaults to 4.
        fill: float. Value written into the hole. Defaults to `0.0` (grey in
            [-1, 1]).
        seed: int or `None`. Seed of the mask stream.
    """
    if mask not in ("box", "free_form"):
        raise ValueError(
            "`mask` should be 'box' or 'free_form'. Received: "
            f"`mask={mask!r}`"
        )
    if position not in ("center", "random"):
        raise ValueError(
            "`position` should be 'center' or 'random'. Received: "
            f"`position={position!r}`"
        )
    if hole_size is not None:
        if isinstance(hole_size, int):
            hole_size = (hole_size, hole_size)
        hole_size = tuple(int(v) for v in hole_size)
        if len(hole_size) != 2 or min(hole_size) < 1:
            raise ValueError(
                "`hole_size` should be (height, width) of positive ints. "
                f"Received: `hole_size={hole_size!r}`"
            )
    if int(max_strokes) < 1:
        raise ValueError(
            f"`max_strokes` should be >= 1. Received: `max_strokes={max_strokes}`"
        )
    return PairMaker("inpainting",
                     {"mask": mask, "hole_size": hole_size,
                      "position": position, "max_strokes": int(max_strokes),
                      "fill": float(fill), "value_range": (-1.0, 1.0)}, seed)


def denoising(noise="gaussian", sigma=0.1, peak=None, value_range=(-1.0, 1.0),
              seed=None):
    """Pairs `(noisy image, image)` for denoising.

    Noise strengths are stated on the [0, 1] scale whatever `value_range`:

    - `"gaussian"`: additive noise of std `sigma` (so `sigma * 2` in
      [-1, 1] units), then clipping to the range;
    - `"poisson"`: shot noise, `counts ~ Poisson(x01 * peak)`, image
      `counts / peak`; `peak` defaults to `1 / sigma^2` (std `sigma` at
      white);
    - `"salt_pepper"`: a fraction `sigma` of the pixels (all channels) set
      to black or white with equal odds.

    Args:
        noise: `"gaussian"`, `"poisson"` or `"salt_pepper"`.
        sigma: float > 0 (a fraction in (0, 1] for salt and pepper).
        peak: float or `None`. Poisson photon count at white.
        value_range: `(low, high)` of the images. Defaults to `(-1, 1)`.
        seed: int or `None`. Seed of the noise stream.
    """
    if noise not in ("gaussian", "poisson", "salt_pepper"):
        raise ValueError(
            "`noise` should be 'gaussian', 'poisson' or 'salt_pepper'. "
            f"Received: `noise={noise!r}`"
        )
    try:
        sigma = float(sigma)
    except (TypeError, ValueError):
        sigma = -1.0
    if not sigma > 0 or (noise == "salt_pepper" and sigma > 1):
        raise ValueError(
            "`sigma` should be > 0 (and <= 1 for salt_pepper, the fraction "
            f"of pixels hit). Received: `sigma={sigma!r}`"
        )
    if peak is None:
        peak = 1.0 / sigma ** 2
    if not float(peak) > 0:
        raise ValueError(f"`peak` should be > 0. Received: `peak={peak!r}`")
    return PairMaker("denoising",
                     {"noise": noise, "sigma": sigma, "peak": float(peak),
                      "value_range": _check_range(value_range)}, seed)


def get(task, seed=None, **kwargs):
    """A pair maker by name: `"sr2"`, `"sr4"`, `"inpaint"`, `"denoise"` or
    one of `TASKS` (keyword arguments go to the factory)."""
    aliases = {"sr2": ("super_resolution", {"scale": 2}),
               "sr4": ("super_resolution", {"scale": 4}),
               "inpaint": ("inpainting", {}),
               "denoise": ("denoising", {})}
    name, defaults = aliases.get(task, (task, {}))
    factories = {"super_resolution": super_resolution,
                 "inpainting": inpainting, "denoising": denoising}
    if name not in factories:
        raise ValueError(
            f"Unknown image-to-image task {task!r}. Use one of "
            f"{sorted(aliases) + list(TASKS)}."
        )
    return factories[name](seed=seed, **{**defaults, **kwargs})

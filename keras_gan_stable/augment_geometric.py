"""ADA with the general geometric transforms: scaling, rotation, fractional
translation, on top of `AdaptiveAugment`'s blitting and colour transforms.

`affine_warp(images, matrices)` resamples each image through its own 2x3
affine map (output pixel -> source pixel, coordinates centred on the
image) with bilinear interpolation and reflection at the borders, written
with `keras.ops` (a gather), so it runs on every backend and passes
gradients to the images (what the generator needs).
"""

import math

import keras
from keras import ops

from keras_gan_stable.augment import AdaptiveAugment

__all__ = ["affine_warp", "GeometricAdaptiveAugment"]

_GEOMETRIC = ("scale", "rotate", "aniso", "frac_translation")


def _reflect(c, size):
    """Reflects continuous coordinates into [0, size - 1]."""
    if size == 1:
        return ops.zeros_like(c)
    period = 2.0 * (size - 1)
    r = c - period * ops.floor(c / period)
    return ops.where(r > size - 1, period - r, r)


def affine_warp(images, matrices):
    """Bilinear warp of `images` `[N, H, W, C]` by `matrices` `[N, 2, 3]`.

    Row `(a, b, t)` of a matrix maps the output pixel's centred coordinates
    `(y, x, 1)` (`y = i - (H - 1) / 2`) to the source coordinate along that
    axis: first row y, second row x. The identity is `[[1, 0, 0], [0, 1, 0]]`.
    """
    _, h, w, c = images.shape
    x = ops.cast(images, "float32")
    m = ops.cast(matrices, "float32")
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    ii, jj = ops.meshgrid(ops.arange(h, dtype="float32") - cy,
                          ops.arange(w, dtype="float32") - cx, indexing="ij")
    grid = ops.stack([ops.reshape(ii, (-1,)), ops.reshape(jj, (-1,)),
                      ops.ones((h * w,), "float32")], axis=0)   # [3, HW]
    src = ops.einsum("nrk,kp->nrp", m, grid)                     # [N, 2, HW]
    sy = _reflect(src[:, 0] + cy, h)
    sx = _reflect(src[:, 1] + cx, w)
    y0 = ops.floor(sy)
    x0 = ops.floor(sx)
    fy, fx = sy - y0, sx - x0
    y1 = ops.minimum(y0 + 1.0, h - 1.0)
    x1 = ops.minimum(x0 + 1.0, w - 1.0)
    flat = ops.reshape(x, (-1, h * w, c))

    def gather(yy, xx):
        idx = ops.cast(yy * w + xx, "int32")[:, :, None]        # [N, HW, 1]
        idx = ops.repeat(idx, c, axis=2)
        return ops.take_along_axis(flat, idx, axis=1)

    top = gather(y0, x0) * (1 - fx)[..., None] + gather(y0, x1) * fx[..., None]
    bot = gather(y1, x0) * (1 - fx)[..., None] + gather(y1, x1) * fx[..., None]
    out = top * (1 - fy)[..., None] + bot * fy[..., None]
    return ops.cast(ops.reshape(out, (-1, h, w, c)), images.dtype)


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class GeometricAdaptiveAugment(AdaptiveAugment):
    """`AdaptiveAugment` plus ADA's general geometric transforms.

    After the blitting transforms (x-flip, quarter turns, integer
    translation) and before colour, each sample is, each with probability
    `p`: scaled isotropically by `2^N(0, 0.2^2)`, rotated by `U(-pi, pi)`,
    scaled anisotropically (`2^N(0, 0.2^2)` along x, its inverse along y)
    and translated by `N(0, 0.125^2)` of the size; the composed map is
    applied in one bilinear resampling with reflection padding (the paper
    uses a wavelet filter and 2x supersampling; bilinear is cheaper and
    softer). `p` adapts exactly as in `AdaptiveAugment`.

    Args:
        geometric: str or list. Subset of
            `"scale,rotate,aniso,frac_translation"`. Defaults to all.
        **kwargs: `AdaptiveAugment` arguments (`target`, `interval`,
            `adjustment_images`, `transforms`, ...).

    >>> ada = GeometricAdaptiveAugment(adjustment_images=100_000)
    >>> gan.compile(augment=ada)

    Reference:
        Karras et al., "Training Generative Adversarial Networks with
        Limited Data", NeurIPS 2020, appendix B.
    """

    def __init__(self, geometric="scale,rotate,aniso,frac_translation",
                 **kwargs):
        super().__init__(**kwargs)
        parts = ([t.strip() for t in geometric.split(",") if t.strip()]
                 if isinstance(geometric, str) else list(geometric))
        unknown = [t for t in parts if t not in _GEOMETRIC]
        if unknown:
            raise ValueError(
                f"`geometric` should name some of {', '.join(_GEOMETRIC)}. "
                f"Received: `geometric={geometric!r}`"
            )
        self.geometric = ",".join(t for t in _GEOMETRIC if t in parts)

    def _geometric_matrices(self, n, p, h, w):
        def gate():
            u = keras.random.uniform((n,), seed=self.seed_generator)
            return ops.cast(u < p, "float32")

        parts = self.geometric.split(",") if self.geometric else []
        # The matrix maps output to source: compose inverse transforms.
        a = ops.ones((n,))
        b = ops.zeros((n,))
        c = ops.zeros((n,))
        d = ops.ones((n,))
        ty = ops.zeros((n,))
        tx = ops.zeros((n,))
        if "scale" in parts:
            s = ops.power(2.0, keras.random.normal(
                (n,), stddev=0.2, seed=self.seed_generator) * gate())
            a, b, c, d = a / s, b / s, c / s, d / s
        if "rotate" in parts:
            th = keras.random.uniform((n,), -math.pi, math.pi,
                                      seed=self.seed_generator) * gate()
            cos, sin = ops.cos(th), ops.sin(th)
            a, b, c, d = (cos * a - sin * c, cos * b - sin * d,
                          sin * a + cos * c, sin * b + cos * d)
        if "aniso" in parts:
            s = ops.power(2.0, keras.random.normal(
                (n,), stddev=0.2, seed=self.seed_generator) * gate())
            a, b, c, d = a * s, b * s, c / s, d / s
        if "frac_translation" in parts:
            g = gate()
            t = keras.random.normal((2, n), stddev=0.125,
                                    seed=self.seed_generator)
            ty, tx = t[0] * h * g, t[1] * w * g
        row0 = ops.stack([a, b, -ty], axis=-1)
        row1 = ops.stack([c, d, -tx], axis=-1)
        return ops.stack([row0, row1], axis=1)                   # [N, 2, 3]

    def call(self, images, training=True):
        if not training:
            return images
        n = ops.shape(images)[0]
        p = ops.cast(self.p, "float32")
        x = ops.cast(images, "float32")
        names = self.transforms.split(",")
        blit = [t for t in names if t in ("xflip", "rotate90", "translation")]
        rest = [t for t in names if t not in blit]
        for t in blit:
            x = getattr(self, "_" + t)(x, n, p)
        if self.geometric:
            h, w = x.shape[1], x.shape[2]
            x = affine_warp(x, self._geometric_matrices(n, p, h, w))
        for t in rest:
            x = getattr(self, "_" + t)(x, n, p)
        return ops.cast(x, images.dtype)

    def get_config(self):
        return {**super().get_config(), "geometric": self.geometric}

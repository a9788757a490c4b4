"""Gradient penalties on the discriminator's input.

Each penalty returns per-sample values from the input gradient `g` of the
discriminator output (summed over the batch, so `g[i]` is dD(x_i)/dx_i):

| name          | where              | per-sample value              | paper                      |
| ------------- | ------------------ | ----------------------------- | -------------------------- |
| `"gp"`        | interpolates       | (||g|| - t)^2                 | Gulrajani et al. 2017      |
| `"gp_one_sided"` | interpolates    | max(0, ||g|| - t)^2           | Gulrajani et al. 2017; Petzka et al. 2018 |
| `"r1"`        | real samples       | ||g||^2                       | Mescheder et al. 2018      |
| `"r2"`        | generated samples  | ||g||^2                       | Mescheder et al. 2018      |

The caller applies the weight: `weight * mean(value)` for the interpolate
penalties and `(weight / 2) * mean(value)` for R1/R2, where `weight` is the
paper's gamma (StyleGAN's `r1_penalty * (gamma / 2)`).

Interpolates are `eps * real + (1 - eps) * fake` with one `eps ~ U[0, 1]` per
sample. Norms are computed as `sqrt(sum(g^2) + 1e-12)`: the derivative of a
bare `sqrt` is infinite where the gradient vanishes.
"""

from keras import ops

__all__ = ["GradientPenalty", "get", "PENALTIES"]

_EPSILON = 1e-12

PENALTIES = ("gp", "gp_one_sided", "r1", "r2")

_ALIASES = {
    "wgan-gp": "gp",
    "wgan_gp": "gp",
    "two_sided": "gp",
    "two-sided": "gp",
    "gp-one-sided": "gp_one_sided",
    "one_sided": "gp_one_sided",
    "one-sided": "gp_one_sided",
    "lp": "gp_one_sided",
    "r1": "r1",
    "r2": "r2",
}


def gradient_norm(grads):
    """Per-sample L2 norm of `grads` `[N, ...]`, safe at zero."""
    flat = ops.reshape(grads, (ops.shape(grads)[0], -1))
    return ops.sqrt(ops.sum(ops.square(flat), axis=-1) + _EPSILON)


def squared_gradient_norm(grads):
    flat = ops.reshape(grads, (ops.shape(grads)[0], -1))
    return ops.sum(ops.square(flat), axis=-1)


class GradientPenalty:
    """A gradient penalty on the discriminator.

    Args:
        kind: str. One of `"gp"` (two-sided WGAN-GP), `"gp_one_sided"`,
            `"r1"` (on real data) or `"r2"` (on generated data).
        weight: float. lambda for the interpolate penalties (WGAN-GP uses 10),
            gamma for R1/R2 (applied as gamma / 2). Defaults to `10.0`.
        target: float. Target gradient norm of the interpolate penalties.
            Defaults to `1.0`.

    >>> gp = GradientPenalty("gp", weight=10.0)
    >>> r1 = GradientPenalty("r1", weight=10.0)

    Reference:
        Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS
        2017. Mescheder et al., "Which Training Methods for GANs do actually
        Converge?", ICML 2018.
    """

    def __init__(self, kind="gp", weight=10.0, target=1.0):
        if not isinstance(kind, str):
            raise ValueError(
                f"`kind` should be one of {PENALTIES}. Received: `kind={kind!r}`"
            )
        key = _ALIASES.get(kind.strip().lower(), kind.strip().lower())
        if key not in PENALTIES:
            raise ValueError(
                f"Unknown gradient penalty: `penalty={kind!r}`. Use one of "
                f"{PENALTIES} (aliases: {sorted(_ALIASES)})."
            )
        try:
            weight = float(weight)
            target = float(target)
        except (TypeError, ValueError):
            raise ValueError(
                "`weight` and `target` should be numbers. Received: "
                f"`weight={weight!r}`, `target={target!r}`"
            ) from None
        if not weight >= 0.0:
            raise ValueError(
                "`weight` of a gradient penalty should be >= 0. "
                f"Received: `weight={weight}` for `{key}`; use 0 to disable it."
            )
        if key in ("gp", "gp_one_sided") and not target > 0.0:
            raise ValueError(
                f"`target` should be > 0. Received: `target={target}`"
            )
        self.kind = key
        self.weight = weight
        self.target = target

    @property
    def samples(self):
        """Which inputs the penalty is evaluated at."""
        return {"gp": "interpolates", "gp_one_sided": "interpolates",
                "r1": "real", "r2": "fake"}[self.kind]

    @property
    def scale(self):
        """Multiplier of the batch mean of `per_sample` in the D loss."""
        return self.weight / 2.0 if self.kind in ("r1", "r2") else self.weight

    def inputs(self, real, fake, eps):
        """The points to evaluate at; `eps` is `[N]` uniform on [0, 1]."""
        if self.samples == "real":
            return real
        if self.samples == "fake":
            return fake
        shape = (-1,) + (1,) * (len(real.shape) - 1)
        eps = ops.reshape(ops.cast(eps, real.dtype), shape)
        return eps * real + (1.0 - eps) * fake

    def per_sample(self, grads):
        """Per-sample penalty values `[N]` from input gradients `[N, ...]`."""
        if self.kind in ("r1", "r2"):
            return squared_gradient_norm(grads)
        norm = gradient_norm(grads)
        if self.kind == "gp":
            return ops.square(norm - self.target)
        return ops.square(ops.relu(norm - self.target))

    def get_config(self):
        return {"kind": self.kind, "weight": self.weight, "target": self.target}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (f"GradientPenalty(kind={self.kind!r}, weight={self.weight}, "
                f"target={self.target})")


def get(identifier, weight=None, target=None):
    """Returns a list of `GradientPenalty` from names, dicts or instances."""
    if identifier is None:
        return []
    if isinstance(identifier, (list, tuple)):
        out = []
        for item in identifier:
            out.extend(get(item, weight=weight, target=target))
        return out
    if isinstance(identifier, GradientPenalty):
        return [identifier]
    if isinstance(identifier, dict):
        return [GradientPenalty(**identifier)]
    if isinstance(identifier, str):
        kwargs = {}
        if weight is not None:
            kwargs["weight"] = weight
        if target is not None:
            kwargs["target"] = target
        return [GradientPenalty(identifier, **kwargs)]
    raise ValueError(
        f"Unknown gradient penalty: `penalty={identifier!r}`. Use a name from "
        f"{PENALTIES}, a `GradientPenalty`, or a list of them."
    )

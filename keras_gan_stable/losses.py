"""GAN objectives as pure functions of the discriminator's logits.

Every loss returns per-sample values (shape `[N]`); the caller reduces them
(`GAN` averages over the global batch, which keeps multi-replica training
exact). All math goes through `keras.ops`, so one definition serves the
TensorFlow, JAX and PyTorch backends.

| name                | D loss (per sample)                     | G loss (per sample)   |
| ------------------- | --------------------------------------- | --------------------- |
| `"minimax"`         | softplus(-r) + softplus(f)              | -softplus(f)          |
| `"non_saturating"`  | softplus(-r) + softplus(f)              | softplus(-f)          |
| `"wasserstein"`     | f - r                                   | -f                    |
| `"hinge"`           | relu(1 - r) + relu(1 + f)               | -f                    |
| `"least_squares"`   | ((r - 1)^2 + f^2) / 2                   | (f - 1)^2 / 2         |

`r` and `f` are the logits of D on real and generated samples. softplus(-x)
is -log(sigmoid(x)), the numerically stable form of the binary cross-entropy.
"""

from keras import ops
from keras import saving

__all__ = [
    "GANLoss",
    "Minimax",
    "NonSaturating",
    "Wasserstein",
    "Hinge",
    "LeastSquares",
    "get",
    "LOSSES",
]


def _per_sample(logits):
    # [N, ...] -> [N]: D may return [N], [N, 1] or a patch map [N, H, W, 1].
    logits = ops.convert_to_tensor(logits)
    if len(logits.shape) == 1:
        return logits
    return ops.mean(ops.reshape(logits, (ops.shape(logits)[0], -1)), axis=-1)


class GANLoss:
    """Base class of the adversarial objectives.

    Subclasses implement `discriminator_loss(real_logits, fake_logits)` and
    `generator_loss(fake_logits)`, each returning per-sample values.

    Args:
        label_smoothing: float. One-sided label smoothing (Salimans et al.
            2016): the real target of the cross-entropy losses becomes
            `1 - label_smoothing`. Only meaningful for the cross-entropy
            losses; `0.0` disables it. Defaults to `0.0`.
    """

    name = None
    #: Whether the objective estimates a Wasserstein distance (critic, no sigmoid).
    is_wasserstein = False

    def __init__(self, label_smoothing=0.0):
        label_smoothing = float(label_smoothing)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                "`label_smoothing` should be in [0, 1). "
                f"Received: `label_smoothing={label_smoothing}`"
            )
        self.label_smoothing = label_smoothing

    def discriminator_loss(self, real_logits, fake_logits):
        raise NotImplementedError

    def generator_loss(self, fake_logits):
        raise NotImplementedError

    def get_config(self):
        return {"label_smoothing": self.label_smoothing}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{self.__class__.__name__}({self.get_config()})"


class _CrossEntropyLoss(GANLoss):
    def discriminator_loss(self, real_logits, fake_logits):
        r = _per_sample(real_logits)
        f = _per_sample(fake_logits)
        target = 1.0 - self.label_smoothing
        # BCE(r, target) = target * softplus(-r) + (1 - target) * softplus(r)
        real_term = target * ops.softplus(-r)
        if self.label_smoothing:
            real_term = real_term + self.label_smoothing * ops.softplus(r)
        return real_term + ops.softplus(f)


@saving.register_keras_serializable(package="keras_gan_stable")
class Minimax(_CrossEntropyLoss):
    """The original minimax GAN objective (Goodfellow et al. 2014).

    G minimises log(1 - D(G(z))), which saturates when D wins early; prefer
    `NonSaturating` in practice.

    Reference:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
    """

    name = "minimax"

    def generator_loss(self, fake_logits):
        # log(1 - sigmoid(f)) = -softplus(f)
        return -ops.softplus(_per_sample(fake_logits))


@saving.register_keras_serializable(package="keras_gan_stable")
class NonSaturating(_CrossEntropyLoss):
    """The non-saturating GAN objective: G maximises log D(G(z)).

    Reference:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
    """

    name = "non_saturating"

    def generator_loss(self, fake_logits):
        return ops.softplus(-_per_sample(fake_logits))


@saving.register_keras_serializable(package="keras_gan_stable")
class Wasserstein(GANLoss):
    """The Wasserstein critic objective (Arjovsky et al. 2017).

    Pair it with a Lipschitz constraint: weight clipping (`GAN.compile(
    weight_clip=0.01)`, the original WGAN), a gradient penalty (WGAN-GP) or
    spectral normalisation.

    Reference:
        Arjovsky et al., "Wasserstein GAN", ICML 2017.
    """

    name = "wasserstein"
    is_wasserstein = True

    def discriminator_loss(self, real_logits, fake_logits):
        return _per_sample(fake_logits) - _per_sample(real_logits)

    def generator_loss(self, fake_logits):
        return -_per_sample(fake_logits)


@saving.register_keras_serializable(package="keras_gan_stable")
class Hinge(GANLoss):
    """The hinge objective used by SNGAN, SAGAN and BigGAN.

    Reference:
        Lim & Ye, "Geometric GAN", 2017; Miyato et al., "Spectral
        Normalization for Generative Adversarial Networks", ICLR 2018.
    """

    name = "hinge"

    def discriminator_loss(self, real_logits, fake_logits):
        r = _per_sample(real_logits)
        f = _per_sample(fake_logits)
        return ops.relu(1.0 - r) + ops.relu(1.0 + f)

    def generator_loss(self, fake_logits):
        return -_per_sample(fake_logits)


@saving.register_keras_serializable(package="keras_gan_stable")
class LeastSquares(GANLoss):
    """The least-squares objective (LSGAN, a=0, b=c=1).

    Reference:
        Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017.
    """

    name = "least_squares"

    def discriminator_loss(self, real_logits, fake_logits):
        r = _per_sample(real_logits)
        f = _per_sample(fake_logits)
        target = 1.0 - self.label_smoothing
        return 0.5 * ops.square(r - target) + 0.5 * ops.square(f)

    def generator_loss(self, fake_logits):
        return 0.5 * ops.square(_per_sample(fake_logits) - 1.0)


LOSSES = {
    "minimax": Minimax,
    "non_saturating": NonSaturating,
    "wasserstein": Wasserstein,
    "hinge": Hinge,
    "least_squares": LeastSquares,
}

_ALIASES = {
    "original": "minimax",
    "gan": "minimax",
    "ns": "non_saturating",
    "nonsaturating": "non_saturating",
    "non-saturating": "non_saturating",
    "wgan": "wasserstein",
    "lsgan": "least_squares",
    "least-squares": "least_squares",
    "ls": "least_squares",
}


def get(identifier, label_smoothing=0.0):
    """Returns a `GANLoss` from a name or passes an instance through."""
    if isinstance(identifier, GANLoss):
        return identifier
    if isinstance(identifier, dict):
        name = identifier.get("name")
        cfg = {k: v for k, v in identifier.items() if k != "name"}
        return get(name, **cfg)
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        key = _ALIASES.get(key, key)
        if key in LOSSES:
            return LOSSES[key](label_smoothing=label_smoothing)
    raise ValueError(
        f"Unknown GAN loss: `loss={identifier!r}`. Use one of "
        f"{sorted(LOSSES)} (aliases: {sorted(_ALIASES)}) or a `GANLoss` "
        "instance."
    )

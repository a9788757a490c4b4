"""Exponential moving average of the generator's weights.

The EMA copy lives inside the `GAN` (`GAN(..., ema_decay=0.999)` creates
`gan.ema_generator`) and is updated inside the train step after every
generator update, as non-trainable variables, so it needs no callback and
runs under JAX's stateless step, `tf.function` and torch alike. This module
holds the math the model uses: the copy, the ramp-up and the update.

With decay `beta` and step `t`, each trainable weight follows
`w_ema <- w + beta * (w_ema - w)`. The ramp-up of StyleGAN2-ADA limits the
half-life of the average to `rampup * t` steps early in training
(half-life of a decay `beta` is `ln 0.5 / ln beta` steps), so the average
does not remember the random initialisation: `beta_t = 0.5 ** (1 / min(h,
rampup * t))`. Non-trainable weights (BatchNorm moving mean and variance)
are copied from the generator, so the EMA generator normalises with the
statistics of the network it averages.

Reference:
    Yazici et al., "The Unusual Effectiveness of Averaging in GAN
    Training", ICLR 2019; Karras et al., "Progressive Growing of GANs",
    ICLR 2018; Karras et al., "Training Generative Adversarial Networks
    with Limited Data" (StyleGAN2-ADA), NeurIPS 2020.
"""

import math

import keras
from keras import ops

__all__ = ["clone_generator", "ema_beta", "update_ema", "check_ema_args"]


def check_ema_args(decay, rampup):
    """Validates `ema_decay` / `ema_rampup`; returns them as floats/None."""
    if decay is None:
        if rampup is not None:
            raise ValueError(
                "`ema_rampup` needs `ema_decay`. Received: `ema_decay=None`, "
                f"`ema_rampup={rampup}`. Set `ema_decay` (e.g. 0.999)."
            )
        return None, None
    decay = float(decay)
    if not 0.0 < decay < 1.0:
        raise ValueError(
            "`ema_decay` should be in (0, 1) (ProGAN uses 0.999) or None to "
            f"disable the EMA generator. Received: `ema_decay={decay}`"
        )
    if rampup is not None:
        rampup = float(rampup)
        if not rampup > 0:
            raise ValueError(
                "`ema_rampup` should be > 0 (StyleGAN2-ADA uses 0.05) or "
                f"None. Received: `ema_rampup={rampup}`"
            )
    return decay, rampup


def clone_generator(generator, name=None):
    """A frozen copy of `generator` with the same weights."""
    try:
        ema = keras.models.clone_model(generator)
    except Exception as e:  # subclassed models without a usable config
        raise ValueError(
            "The EMA generator is a clone of the generator, made with "
            "`keras.models.clone_model`, which failed for this generator "
            f"({type(e).__name__}: {e}). Give the generator a `get_config()` "
            "/ `from_config()` (or build it with the functional API), or "
            "pass `ema_decay=None`."
        ) from e
    if name:
        ema.name = name
    if len(ema.weights) != len(generator.weights) or any(
            tuple(a.shape) != tuple(b.shape)
            for a, b in zip(ema.weights, generator.weights)):
        raise ValueError(
            "The cloned EMA generator's weights do not match the "
            "generator's. Build the generator before creating the GAN."
        )
    for e, g in zip(ema.weights, generator.weights):
        # A copy: two variables must not share one buffer (JAX donates each).
        e.assign(ops.copy(ops.convert_to_tensor(g)))
    ema.trainable = False
    return ema


def ema_beta(decay, rampup, step):
    """Decay at train step `step` (a tensor), with the optional ramp-up."""
    if rampup is None:
        return ops.convert_to_tensor(decay, "float32")
    half_life = math.log(0.5) / math.log(decay)  # steps
    t = ops.cast(step, "float32")
    h = ops.minimum(half_life, ops.maximum(t * rampup, 1e-8))
    return ops.power(0.5, 1.0 / h)


def update_ema(ema_model, model, beta):
    """`w_ema <- w + beta (w_ema - w)` for trainable weights of `model`,
    a copy for the others (BatchNorm statistics)."""
    for e, w in zip(ema_model.weights, model.weights):
        if w.trainable and "float" in str(w.dtype):
            b = ops.cast(beta, w.dtype)
            e.assign(w + b * (e - w))
        else:
            e.assign(w)

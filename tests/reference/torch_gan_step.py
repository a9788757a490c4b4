"""A hand-written GAN training step in plain PyTorch, the parity reference.

`reference_train_step` performs what one `GAN.train_step` documents: for
each of the `n_critic` slices of the real batch, one discriminator update
(adversarial loss + drift + gradient penalties, with `torch.autograd.grad(...,
create_graph=True)` for the input gradient), then one generator update;
optimizers are `torch.optim.SGD` / `torch.optim.Adam`. The losses are
written from the papers' formulas with torch's own primitives
(`binary_cross_entropy_with_logits`, `relu`), not copied from the library.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F


def _bce(logits, target):
    return F.binary_cross_entropy_with_logits(
        logits, torch.full_like(logits, target), reduction="none")


def d_loss_per_sample(loss, r, f, label_smoothing=0.0):
    if loss in ("non_saturating", "minimax"):
        # -[t log D(x) + (1 - t) log(1 - D(x))] - log(1 - D(G(z)))
        return _bce(r, 1.0 - label_smoothing) + _bce(f, 0.0)
    if loss == "wasserstein":
        return f - r
    if loss == "hinge":
        return torch.relu(1.0 - r) + torch.relu(1.0 + f)
    if loss == "least_squares":
        return 0.5 * (r - (1.0 - label_smoothing)) ** 2 + 0.5 * f ** 2
    raise ValueError(loss)


def g_loss_per_sample(loss, f):
    if loss == "non_saturating":
        return _bce(f, 1.0)  # -log D(G(z))
    if loss == "minimax":
        return -_bce(f, 0.0)  # log(1 - D(G(z)))
    if loss in ("wasserstein", "hinge"):
        return -f
    if loss == "least_squares":
        return 0.5 * (f - 1.0) ** 2
    raise ValueError(loss)


def penalty_per_sample(kind, D, real, fake, eps, target=1.0):
    if kind in ("gp", "gp_one_sided"):
        e = eps.reshape(-1, *([1] * (real.dim() - 1)))
        x = e * real + (1 - e) * fake
    elif kind == "r1":
        x = real
    else:
        x = fake
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x, training=True).sum(), x, create_graph=True)
    sq = (g.reshape(g.shape[0], -1) ** 2).sum(dim=1)
    if kind in ("r1", "r2"):
        return sq
    norm = torch.sqrt(sq + 1e-12)
    if kind == "gp":
        return (norm - target) ** 2
    return torch.relu(norm - target) ** 2


def make_optimizer(spec, params):
    """`spec`: ("sgd", lr) or ("adam", lr, beta_1, beta_2, keras_epsilon).

    Keras' Adam adds epsilon to sqrt(v_hat * (1 - beta_2^t)); torch adds it
    to sqrt(v_hat). For the first step (t = 1) torch's eps equals Keras'
    epsilon / sqrt(1 - beta_2).
    """
    if spec[0] == "sgd":
        return torch.optim.SGD(params, lr=spec[1])
    _, lr, b1, b2, eps = spec
    return torch.optim.Adam(params, lr=lr, betas=(b1, b2),
                            eps=eps / math.sqrt(1.0 - b2))


def reference_train_step(G, D, images, z, z_g, eps, *, loss, penalties=(),
                         n_critic=1, d_opt=("sgd", 0.1), g_opt=("sgd", 0.1),
                         drift=0.0, label_smoothing=0.0):
    """One GAN train step. `G`, `D`: `TorchChain`s (updated in place).

    `penalties`: list of `(kind, weight)`; R1/R2 enter as `weight / 2`.
    Returns `(logs, d_grads, g_grads)`: logs averaged over the D updates like
    the model's running means; gradients of the last D update and of the G
    update, keyed by Keras variable path.
    """
    t = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)
    images, z, z_g = t(images), t(z), t(z_g)
    eps = None if eps is None else t(eps)
    d_params, g_params = D.parameters(), G.parameters()
    d_optimizer = make_optimizer(d_opt, d_params)
    g_optimizer = make_optimizer(g_opt, g_params)
    b = images.shape[0] // n_critic
    hist = {"d_loss": [], "d_real": [], "d_fake": []}
    hist.update({kind: [] for kind, _ in penalties})
    d_grads = None
    for i in range(n_critic):
        real = images[i * b:(i + 1) * b]
        with torch.no_grad():
            fake = G(z[i * b:(i + 1) * b], training=True)
        r = D(real, training=True).reshape(b, -1).mean(dim=1)
        f = D(fake, training=True).reshape(b, -1).mean(dim=1)
        adv = d_loss_per_sample(loss, r, f, label_smoothing).mean()
        total = adv + drift * (r ** 2).mean()
        hist["d_loss"].append(adv.item())
        hist["d_real"].append(r.mean().item())
        hist["d_fake"].append(f.mean().item())
        for kind, weight in penalties:
            e = None if eps is None else eps[i * b:(i + 1) * b]
            value = penalty_per_sample(kind, D, real, fake, e).mean()
            hist[kind].append(value.item())
            scale = weight / 2 if kind in ("r1", "r2") else weight
            total = total + scale * value
        grads = torch.autograd.grad(total, d_params)
        d_grads = {p: g.detach().clone() for p, g in zip(D.params, grads)}
        d_optimizer.zero_grad()
        for p, g in zip(d_params, grads):
            p.grad = g
        d_optimizer.step()
    f = D(G(z_g, training=True), training=True).reshape(z_g.shape[0], -1).mean(dim=1)
    g_loss = g_loss_per_sample(loss, f).mean()
    grads = torch.autograd.grad(g_loss, g_params)
    g_grads = {p: g.detach().clone() for p, g in zip(G.params, grads)}
    g_optimizer.zero_grad()
    for p, g in zip(g_params, grads):
        p.grad = g
    g_optimizer.step()
    logs = {k: float(np.mean(v)) for k, v in hist.items()}
    logs["g_loss"] = g_loss.item()
    return logs, d_grads, g_grads

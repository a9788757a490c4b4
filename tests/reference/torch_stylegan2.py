"""StyleGAN2 in plain PyTorch (NCHW), written from the papers: the parity
reference of `tests/test_stylegan2.py`.

It shares nothing with the library but the weight values, read from the
Keras models by variable path and kept as torch leaf tensors in Keras
layouts (Dense `(in, out)`, Conv2D `(kh, kw, in, out)`), so gradients come
back in Keras' layout. Written from Karras et al. 2020 (StyleGAN2,
sections 2.2, 3.2 and appendix B) and 2020b (ADA, the loss phases):

- modulation `w'_ijk = s_i w_ijk`, demodulation
  `w''_ijk = w'_ijk / sqrt(sum_ik w'^2 + 1e-8)`, computed per sample as one
  grouped convolution (`torch.nn.functional.conv2d(groups=N)`);
- FIR resampling from its definition: zero insertion / padding / depthwise
  filtering with the normalised `[1, 3, 3, 1]` outer product;
- the non-saturating logistic loss with `softplus`, R1 with
  `torch.autograd.grad(create_graph=True)`, the path-length penalty
  `(||J^T y|| - a)^2` with `a` the running mean of the lengths.

The architecture choices it mirrors (documented in
`keras_gan_stable/architectures/stylegan2.py`): upsampling convolution =
FIR-upsample then 3x3 convolution; downsampling = 3x3 convolution then
FIR-downsample; bias before the leaky ReLU with the equalised-LR constant
`gain / sqrt(fan_in)`.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)


def _t(a, dtype=torch.float32):
    return torch.tensor(np.asarray(a), dtype=dtype)


def fir(taps=(1.0, 3.0, 3.0, 1.0)):
    k = torch.tensor(taps, dtype=torch.float64)
    f = torch.outer(k, k)
    return (f / f.sum()).float()


def upsample(x):
    """[N, C, H, W] -> [N, C, 2H, 2W]: zero insertion, pad (2, 1), 4 * f."""
    n, c, h, w = x.shape
    up = x.new_zeros((n, c, 2 * h, 2 * w))
    up[:, :, ::2, ::2] = x
    up = F.pad(up, (2, 1, 2, 1))
    f = (4.0 * fir()).expand(c, 1, 4, 4)
    return F.conv2d(up, f, groups=c)


def downsample(x):
    """[N, C, H, W] -> [N, C, H/2, W/2]: pad (1, 1), f at stride 2."""
    c = x.shape[1]
    f = fir().expand(c, 1, 4, 4)
    return F.conv2d(F.pad(x, (1, 1, 1, 1)), f, stride=2, groups=c)


def lrelu(x, gain=SQRT2):
    return F.leaky_relu(x, 0.2) * gain


class TorchStyleGAN2:
    """G and D of the library's StyleGAN2 builders re-evaluated in torch.

    Attributes:
        g_params, d_params: dict `path -> leaf tensor` of trainable weights.
        w_avg: the mapping's tracked average (a plain tensor).
    """

    def __init__(self, generator, discriminator):
        import keras

        def leaf(v):
            return _t(keras.ops.convert_to_numpy(v)).requires_grad_(True)

        self.gp = generator.name + "/"
        self.g_params = {v.path: leaf(v) for v in generator.trainable_variables}
        self.d_params = {v.path: leaf(v)
                         for v in discriminator.trainable_variables}
        self.w_avg = _t(keras.ops.convert_to_numpy(
            generator.mapping.w_avg))
        self.w_avg_beta = generator.mapping.w_avg_beta
        self.mapping_layers = generator.mapping_layers
        self.lr_mul = generator.mapping.lr_multiplier
        self.num_ws = generator.num_ws
        self.resolution = generator.resolution
        self.mbstd_group = 4

    # ------------------------------------------------------------------ G
    def g(self, name):
        return self.g_params[self.gp + name]

    def mapping(self, z):
        x = z * torch.rsqrt((z ** 2).mean(dim=1, keepdim=True) + 1e-8)
        for i in range(self.mapping_layers):
            k, b = self.g(f"mapping/fc{i}/kernel"), self.g(f"mapping/fc{i}/bias")
            x = lrelu(x @ (k * self.lr_mul / math.sqrt(k.shape[0]))
                      + b * self.lr_mul)
        return x

    def modconv(self, x, w, name, demodulate=True, up=False):
        a, ab = self.g(name + "/affine_kernel"), self.g(name + "/affine_bias")
        kernel, bias = self.g(name + "/kernel"), self.g(name + "/bias")
        s = w @ a / math.sqrt(a.shape[0]) + ab                    # [N, I]
        kh, kw, ci, co = kernel.shape
        weight = kernel.permute(3, 2, 0, 1) / math.sqrt(kh * kw * ci)  # [O,I,k,k]
        wk = weight[None] * s[:, None, :, None, None]              # [N,O,I,k,k]
        if demodulate:
            wk = wk * torch.rsqrt((wk ** 2).sum(dim=(2, 3, 4), keepdim=True)
                                  + 1e-8)
        if up:
            x = upsample(x)
        n, _, h, wd = x.shape
        y = F.conv2d(x.reshape(1, n * ci, h, wd),
                     wk.reshape(n * co, ci, kh, kw), padding=kh // 2, groups=n)
        return y.reshape(n, co, h, wd) + bias[None, :, None, None]

    def synthesis(self, ws, noise):
        """`ws` [N, num_ws, w_dim], `noise` [N, sum H*W] -> NCHW images."""
        n = ws.shape[0]
        const = self.g("synthesis/const")                          # [4, 4, C]
        x = const.permute(2, 0, 1)[None].expand(n, -1, -1, -1)
        img, i, start = None, 0, 0
        res = 4
        while res <= self.resolution:
            names = ([f"b{res}_conv0"] if res > 4 else []) + [f"b{res}_conv1"]
            for name in names:
                up = name.endswith("conv0")
                x = self.modconv(x, ws[:, i], "synthesis/" + name, up=up)
                nz = noise[:, start:start + res * res].reshape(n, 1, res, res)
                start += res * res
                strength = self.g("synthesis/" + name.replace("conv", "noise")
                                  + "/strength")
                x = lrelu(x + strength[None, :, None, None] * nz)
                i += 1
            y = self.modconv(x, ws[:, i], f"synthesis/b{res}_torgb/conv",
                             demodulate=False)
            img = y if img is None else upsample(img) + y
            res *= 2
        return img

    def mixed_ws(self, z, z_mix, cutoff, update_w_avg):
        w = self.mapping(z)
        if update_w_avg:
            m = w.detach().mean(dim=0)
            self.w_avg = m + self.w_avg_beta * (self.w_avg - m)
        ws = w[:, None].repeat(1, self.num_ws, 1)
        w2 = self.mapping(z_mix)[:, None].repeat(1, self.num_ws, 1)
        first = torch.arange(self.num_ws)[None, :] < cutoff[:, None]
        return torch.where(first[:, :, None], ws, w2)

    # ------------------------------------------------------------------ D
    def d(self, name):
        return self.d_params[name]

    def conv(self, x, name, gain=SQRT2, bias=True):
        k = self.d(name + "/kernel")
        kh, kw, ci, _ = k.shape
        y = F.conv2d(x, k.permute(3, 2, 0, 1) * gain / math.sqrt(kh * kw * ci),
                     padding=kh // 2)
        if bias:
            y = y + self.d(name + "/bias")[None, :, None, None]
        return y

    def dense(self, x, name, gain=SQRT2):
        k, b = self.d(name + "/kernel"), self.d(name + "/bias")
        return x @ (k * gain / math.sqrt(k.shape[0])) + b

    def discriminator(self, img):
        """NCHW images -> logits [N]."""
        r = self.resolution
        x = lrelu(self.conv(img, f"b{r}_fromrgb"), 1.0)
        while r > 4:
            skip = self.conv(downsample(x), f"b{r}_skip", gain=1.0, bias=False)
            y = lrelu(self.conv(x, f"b{r}_conv0"), 1.0)
            y = lrelu(downsample(self.conv(y, f"b{r}_conv1")), 1.0)
            x = (skip + y) * math.sqrt(0.5)
            r //= 2
        n, c, h, w = x.shape
        g = min(self.mbstd_group, n)
        y = x.reshape(g, -1, c, h, w)
        y = torch.sqrt(((y - y.mean(dim=0)) ** 2).mean(dim=0) + 1e-8)
        y = y.mean(dim=(1, 2, 3))                                   # [N / g]
        y = y.repeat(g)[:, None, None, None].expand(n, 1, h, w)
        x = torch.cat([x, y], dim=1)
        x = lrelu(self.conv(x, "b4_conv"), 1.0)
        x = x.permute(0, 2, 3, 1).reshape(n, -1)                    # NHWC order
        x = lrelu(self.dense(x, "b4_fc"), 1.0)
        return self.dense(x, "b4_out", gain=1.0)[:, 0]


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def nchw(x):
    return x.permute(0, 3, 1, 2)


def reference_train_step(ref, batch, *, r1_gamma, r1_interval, pl_weight,
                         pl_decay, pl_interval, pl_mean=0.0, lr=0.01):
    """One StyleGAN2 step (D update with R1, G update with path length),
    both regularisers due, plain SGD. Updates `ref`'s leaves in place.

    Returns `(logs, d_grads, g_grads, pl_mean)`.
    """
    b = {k: _t(v, torch.int64 if k.startswith("mix_cutoff") else
               torch.float32) for k, v in batch.items()}
    real = nchw(b["images"])
    # --- D: softplus(D(G(z))) + softplus(-D(x)) + gamma/2 * interval * R1
    with torch.no_grad():
        fake = ref.synthesis(ref.mixed_ws(b["z"], b["z_mix"], b["mix_cutoff"],
                                          True), b["noise"])
    x = real.detach().requires_grad_(True)
    r = ref.discriminator(x)
    f = ref.discriminator(fake)
    d_loss = (F.softplus(-r) + F.softplus(f)).mean()
    (gx,) = torch.autograd.grad(r.sum(), x, create_graph=True)
    r1 = (gx ** 2).sum(dim=(1, 2, 3)).mean()
    total = d_loss + r1_gamma / 2 * r1_interval * r1
    d_keys = list(ref.d_params)
    grads = torch.autograd.grad(total, [ref.d_params[k] for k in d_keys])
    d_grads = {k: g.detach().clone() for k, g in zip(d_keys, grads)}
    with torch.no_grad():
        for k, g in zip(d_keys, grads):
            ref.d_params[k] -= lr * g
    # --- G: softplus(-D(G(z))) + pl_weight * interval * (|J^T y| - a)^2
    img = ref.synthesis(ref.mixed_ws(b["z_g"], b["z_mix_g"], b["mix_cutoff_g"],
                                     True), b["noise_g"])
    g_loss = F.softplus(-ref.discriminator(img)).mean()
    ws = ref.mixed_ws(b["z_pl"], b["z_mix_pl"], b["mix_cutoff_pl"], False)
    pl_img = ref.synthesis(ws, b["noise_pl"])
    h, w = pl_img.shape[2:]
    y = nchw(b["pl_y"]) / math.sqrt(h * w)
    (jy,) = torch.autograd.grad((pl_img * y).sum(), ws, create_graph=True)
    lengths = (jy ** 2).sum(dim=2).mean(dim=1).sqrt()
    a = pl_mean + pl_decay * (lengths.mean() - pl_mean)
    pl_penalty = ((lengths - a) ** 2).mean()
    total = g_loss + pl_penalty * pl_weight * pl_interval
    g_keys = list(ref.g_params)
    grads = torch.autograd.grad(total, [ref.g_params[k] for k in g_keys])
    g_grads = {k: g.detach().clone() for k, g in zip(g_keys, grads)}
    with torch.no_grad():
        for k, g in zip(g_keys, grads):
            ref.g_params[k] -= lr * g
    logs = {"d_loss": d_loss.item(), "d_real": r.mean().item(),
            "d_fake": f.mean().item(), "r1": r1.item(),
            "g_loss": g_loss.item(), "pl_penalty": pl_penalty.item(),
            "pl_mean": a.item()}
    return logs, d_grads, g_grads

"""The SNGAN ResNet-32 and its hinge training step in plain PyTorch.

The same networks as `keras_gan_stable.sngan_resnet_generator(128,
(32, 32, 3))` and `sngan_resnet_discriminator((32, 32, 3))` (Miyato et al.
2018, appendix B.4), written as ordinary `torch.nn` modules (NCHW):

- G: Linear(z -> 4*4*g_width) -> three residual up-blocks (BN, ReLU,
  2x nearest upsampling, 3x3 conv, BN, ReLU, 3x3 conv, plus an upsampled
  1x1-conv shortcut) -> BN, ReLU, 3x3 conv to C -> tanh; `g_width` 256.
- D: the "optimized" first block (3x3 conv, ReLU, 3x3 conv, 2x2 average
  pooling; shortcut: pooling then 1x1 conv), a down-block and two plain
  residual blocks of `d_width` 128, ReLU, global sum pooling, linear to one
  logit. Every D weight is spectrally normalised
  (`torch.nn.utils.parametrizations.spectral_norm`, one power iteration per
  training-mode forward).

BatchNorm uses epsilon 1e-5 and momentum 0.1 (Keras' 0.9). `HingeStep` is
the step of the paper's CIFAR-10 ResNet setting: `n_dis` D updates (each on
its own real batch) with the hinge loss, then one G update with
`-mean(D(G(z)))`, Adam(2e-4, betas=(0.0, 0.9)) on both networks. Used by
`benchmarks/throughput.py` and `benchmarks/gpu_throughput_jax.py`.
"""

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _maybe_sn(module, sn):
    return spectral_norm(module) if sn else module


class GBlock(nn.Module):
    def __init__(self, cin, cout, sn=False):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5, momentum=0.1)
        self.conv1 = _maybe_sn(nn.Conv2d(cin, cout, 3, padding=1), sn)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.conv2 = _maybe_sn(nn.Conv2d(cout, cout, 3, padding=1), sn)
        self.shortcut = _maybe_sn(nn.Conv2d(cin, cout, 1), sn)

    def forward(self, x):
        h = nn.functional.interpolate(torch.relu(self.bn1(x)), scale_factor=2)
        h = self.conv2(torch.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(nn.functional.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    def __init__(self, cin, cout, downsample, first=False, hidden=None):
        super().__init__()
        hidden = hidden or (cout if first else cin)
        self.first, self.downsample = first, downsample
        self.conv1 = spectral_norm(nn.Conv2d(cin, hidden, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(hidden, cout, 3, padding=1))
        self.learn_sc = first or downsample or cin != cout
        if self.learn_sc:
            self.shortcut = spectral_norm(nn.Conv2d(cin, cout, 1))

    def forward(self, x):
        h = x if self.first else torch.relu(x)
        h = self.conv2(torch.relu(self.conv1(h)))
        if self.downsample:
            h = nn.functional.avg_pool2d(h, 2)
        s = x
        if self.first:
            s = self.shortcut(nn.functional.avg_pool2d(s, 2))
        elif self.learn_sc:
            s = self.shortcut(s)
            if self.downsample:
                s = nn.functional.avg_pool2d(s, 2)
        return h + s


class Generator(nn.Module):
    def __init__(self, latent_dim=128, channels=3, width=256):
        super().__init__()
        self.width = width
        self.fc = nn.Linear(latent_dim, 4 * 4 * width)
        self.blocks = nn.Sequential(*[GBlock(width, width) for _ in range(3)])
        self.bn = nn.BatchNorm2d(width, eps=1e-5, momentum=0.1)
        self.out = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, z):
        # Keras reshapes to [4, 4, C] (NHWC); keep that element order.
        x = self.fc(z).view(-1, 4, 4, self.width).permute(0, 3, 1, 2)
        x = torch.relu(self.bn(self.blocks(x)))
        return torch.tanh(self.out(x))


class Discriminator(nn.Module):
    def __init__(self, channels=3, width=128):
        super().__init__()
        self.blocks = nn.Sequential(
            DBlock(channels, width, True, first=True),
            DBlock(width, width, True),
            DBlock(width, width, False),
            DBlock(width, width, False),
        )
        self.fc = spectral_norm(nn.Linear(width, 1))

    def forward(self, x):
        return self.fc(torch.relu(self.blocks(x)).sum(dim=(2, 3)))


class HingeStep:
    """One SNGAN step: `n_dis` hinge D updates, then one G update.

    Args:
        latent_dim, channels, g_width, d_width: network sizes.
        n_dis: int. D updates per G update. Defaults to `5`.
        lr, betas: Adam settings (SNGAN ResNet: 2e-4, (0.0, 0.9)).
        device: torch device. Defaults to `"cpu"`.
        compile: bool. Wrap G and D in `torch.compile`. Defaults to `False`.
        autocast_dtype: `None` or a torch dtype (e.g. `torch.bfloat16`)
            for `torch.autocast`.
    """

    def __init__(self, latent_dim=128, channels=3, g_width=256, d_width=128,
                 n_dis=5, lr=2e-4, betas=(0.0, 0.9), device="cpu",
                 compile=False, autocast_dtype=None):
        self.device = torch.device(device)
        self.G = Generator(latent_dim, channels, g_width).to(self.device)
        self.D = Discriminator(channels, d_width).to(self.device)
        self.g_fn = torch.compile(self.G) if compile else self.G
        self.d_fn = torch.compile(self.D) if compile else self.D
        self.latent_dim = latent_dim
        self.n_dis = n_dis
        self.autocast_dtype = autocast_dtype
        self.d_opt = torch.optim.Adam(self.D.parameters(), lr=lr, betas=betas)
        self.g_opt = torch.optim.Adam(self.G.parameters(), lr=lr, betas=betas)

    def _autocast(self):
        if self.autocast_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def __call__(self, images):
        """`images`: `[n_dis * B, C, H, W]`. Returns (d_loss, g_loss)."""
        b = images.shape[0] // self.n_dis
        for real in images.split(b):
            with self._autocast():
                with torch.no_grad():
                    fake = self.g_fn(torch.randn(b, self.latent_dim,
                                                 device=self.device))
                d_loss = (torch.relu(1.0 - self.d_fn(real).float()).mean()
                          + torch.relu(1.0 + self.d_fn(fake).float()).mean())
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_opt.step()
        for p in self.D.parameters():
            p.requires_grad_(False)
        with self._autocast():
            g_loss = -self.d_fn(self.g_fn(torch.randn(
                b, self.latent_dim, device=self.device))).float().mean()
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        return d_loss.detach(), g_loss.detach()

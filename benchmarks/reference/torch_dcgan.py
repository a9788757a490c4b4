"""The DCGAN-32 and its WGAN-GP training step in plain PyTorch.

The same networks as `keras_gan_stable.dcgan_generator(latent, (32, 32, C),
width)` and `dcgan_discriminator(..., normalization="layer")`, written as
ordinary `torch.nn` modules (NCHW): G is Linear -> BN -> ReLU -> reshape
[4, 4, 4w] -> two ConvTranspose(4, stride 2) + BN + ReLU -> ConvTranspose to C
channels -> tanh; D is Conv(4, stride 2) + LeakyReLU(0.2), then two
Conv + LayerNorm over (C, H, W) + LeakyReLU, then a linear layer. BatchNorm
and LayerNorm use epsilon 1e-3 and BN momentum 0.01 (Keras' 0.99).

`WGANGPStep` is the step of Gulrajani et al. 2017 with `n_critic` critic
updates (each on its own real batch) per generator update, the penalty
`lambda * (||grad_x D(x_hat)|| - 1)^2` on uniform interpolates, and Adam on
both networks. Used by `benchmarks/train_step.py`.
"""

import torch
from torch import nn


class Generator(nn.Module):
    def __init__(self, latent_dim=128, channels=3, width=64):
        super().__init__()
        self.top = 4 * width
        self.fc = nn.Linear(latent_dim, 4 * 4 * self.top, bias=False)
        self.bn0 = nn.BatchNorm1d(4 * 4 * self.top, eps=1e-3, momentum=0.01)
        self.body = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * width, eps=1e-3, momentum=0.01),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width, eps=1e-3, momentum=0.01),
            nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z):
        x = torch.relu(self.bn0(self.fc(z)))
        # Keras reshapes to [4, 4, C] (NHWC); keep that element order.
        x = x.view(-1, 4, 4, self.top).permute(0, 3, 1, 2)
        return self.body(x)


class Discriminator(nn.Module):
    def __init__(self, channels=3, width=64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),
            nn.LayerNorm([2 * width, 8, 8], eps=1e-3),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1, bias=False),
            nn.LayerNorm([4 * width, 4, 4], eps=1e-3),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(4 * width * 4 * 4, 1),
        )

    def forward(self, x):
        return self.body(x)


class WGANGPStep:
    """One WGAN-GP train step: `n_critic` critic updates, one G update.

    Args:
        latent_dim, channels, width: network sizes.
        gp_weight: float. lambda. Defaults to `10.0`.
        n_critic: int. Critic updates per G update. Defaults to `1`.
        lr, betas: Adam settings (WGAN-GP paper: 1e-4, (0.0, 0.9)).
    """

    def __init__(self, latent_dim=128, channels=3, width=64, gp_weight=10.0,
                 n_critic=1, lr=1e-4, betas=(0.0, 0.9)):
        self.G = Generator(latent_dim, channels, width)
        self.D = Discriminator(channels, width)
        self.latent_dim = latent_dim
        self.gp_weight = gp_weight
        self.n_critic = n_critic
        self.d_opt = torch.optim.Adam(self.D.parameters(), lr=lr, betas=betas)
        self.g_opt = torch.optim.Adam(self.G.parameters(), lr=lr, betas=betas)

    def gradient_penalty(self, real, fake):
        eps = torch.rand(real.shape[0], 1, 1, 1)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.D(x_hat).sum(), x_hat,
                                      create_graph=True)
        norm = torch.sqrt(grad.flatten(1).pow(2).sum(1) + 1e-12)
        return ((norm - 1.0) ** 2).mean()

    def __call__(self, images):
        """`images`: `[n_critic * B, C, H, W]`. Returns (d_loss, g_loss)."""
        b = images.shape[0] // self.n_critic
        for real in images.split(b):
            with torch.no_grad():
                fake = self.G(torch.randn(b, self.latent_dim))
            d_loss = self.D(fake).mean() - self.D(real).mean()
            loss = d_loss + self.gp_weight * self.gradient_penalty(real, fake)
            self.d_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.d_opt.step()
        for p in self.D.parameters():
            p.requires_grad_(False)
        g_loss = -self.D(self.G(torch.randn(b, self.latent_dim))).mean()
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        return d_loss.detach(), g_loss.detach()

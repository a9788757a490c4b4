"""The SAGAN-32 and its hinge/TTUR training step in plain PyTorch.

The same networks as `keras_gan_stable.sagan_generator(128, (32, 32, 3),
width=64)` and `sagan_discriminator((32, 32, 3), width=64)` (Zhang et al.
2019) as ordinary `torch.nn` modules (NCHW), every weight of G and D
spectrally normalised:

- G: SN Linear(z -> 4*4*4w) -> three residual up-blocks of 4w channels
  (`torch_sngan.GBlock`) -> self-attention on the 32x32 map -> BN, ReLU,
  SN 3x3 conv to C -> tanh;
- D: SNGAN's "optimized" block and a down-block, then two plain blocks, all
  of 4w channels, self-attention after the first block (16x16), ReLU,
  global sum pooling, SN linear to one logit.

Self-attention (`SelfAttention2D`): SN 1x1 convs to queries and keys of
C/8 and values of C/2 channels, `softmax(Q K^T) V` over all positions, an
SN 1x1 conv back to C, `x + gamma * o` with gamma starting at 0.

`SAGANStep`: one hinge D update and one G update, Adam(4e-4) for D and
Adam(1e-4) for G, betas (0.0, 0.9) (TTUR). Used by
`benchmarks/throughput.py`.
"""

import torch
from torch import nn

from .torch_sngan import DBlock, GBlock, spectral_norm


class SelfAttention(nn.Module):
    def __init__(self, channels):
        super().__init__()
        qk, v = max(1, channels // 8), max(1, channels // 2)
        self.q = spectral_norm(nn.Conv2d(channels, qk, 1))
        self.k = spectral_norm(nn.Conv2d(channels, qk, 1))
        self.v = spectral_norm(nn.Conv2d(channels, v, 1))
        self.o = spectral_norm(nn.Conv2d(v, channels, 1))
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        b, c, h, w = x.shape
        q = self.q(x).flatten(2).transpose(1, 2)  # [B, N, qk]
        k = self.k(x).flatten(2)  # [B, qk, N]
        v = self.v(x).flatten(2).transpose(1, 2)  # [B, N, v]
        att = torch.softmax(torch.bmm(q, k).float(), dim=-1).to(v.dtype)
        o = torch.bmm(att, v).transpose(1, 2).reshape(b, -1, h, w)
        return x + self.gamma * self.o(o)


class Generator(nn.Module):
    def __init__(self, latent_dim=128, channels=3, width=64):
        super().__init__()
        self.ch = 4 * width
        self.fc = spectral_norm(nn.Linear(latent_dim, 4 * 4 * self.ch))
        self.blocks = nn.Sequential(
            *[GBlock(self.ch, self.ch, sn=True) for _ in range(3)])
        self.attention = SelfAttention(self.ch)
        self.bn = nn.BatchNorm2d(self.ch, eps=1e-5, momentum=0.1)
        self.out = spectral_norm(nn.Conv2d(self.ch, channels, 3, padding=1))

    def forward(self, z):
        x = self.fc(z).view(-1, 4, 4, self.ch).permute(0, 3, 1, 2)
        x = self.attention(self.blocks(x))
        return torch.tanh(self.out(torch.relu(self.bn(x))))


class Discriminator(nn.Module):
    def __init__(self, channels=3, width=64):
        super().__init__()
        ch = 4 * width
        self.block1 = DBlock(channels, ch, True, first=True)
        self.attention = SelfAttention(ch)
        self.rest = nn.Sequential(DBlock(ch, ch, True), DBlock(ch, ch, False),
                                  DBlock(ch, ch, False))
        self.fc = spectral_norm(nn.Linear(ch, 1))

    def forward(self, x):
        x = self.rest(self.attention(self.block1(x)))
        return self.fc(torch.relu(x).sum(dim=(2, 3)))


class SAGANStep:
    """One SAGAN step: one hinge D update, one G update (TTUR).

    Args:
        latent_dim, channels, width: network sizes (SAGAN-32: 128, 3, 64).
        d_lr, g_lr, betas: Adam settings (4e-4, 1e-4, (0.0, 0.9)).
    """

    def __init__(self, latent_dim=128, channels=3, width=64, d_lr=4e-4,
                 g_lr=1e-4, betas=(0.0, 0.9)):
        self.G = Generator(latent_dim, channels, width)
        self.D = Discriminator(channels, width)
        self.latent_dim = latent_dim
        self.n_critic = 1
        self.d_opt = torch.optim.Adam(self.D.parameters(), lr=d_lr,
                                      betas=betas)
        self.g_opt = torch.optim.Adam(self.G.parameters(), lr=g_lr,
                                      betas=betas)

    def __call__(self, real):
        """`real`: `[B, C, H, W]`. Returns (d_loss, g_loss)."""
        b = real.shape[0]
        with torch.no_grad():
            fake = self.G(torch.randn(b, self.latent_dim))
        d_loss = (torch.relu(1.0 - self.D(real)).mean()
                  + torch.relu(1.0 + self.D(fake)).mean())
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
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

"""PyTorch references of the three benchmark models and their train steps (eager; optionally ``torch.compile``).

Imported by ``benchmarks/step_throughput.py``, which times them beside jaxgan in the same process. Each model is
the same network as the jaxgan one (same layers, same parameter count, same multiply-adds), and each step does
the same work as ``jaxgan.train.make_train_step``:

* ``n_critic`` discriminator updates, each: ``G(z)`` under ``no_grad`` (jaxgan: ``stop_gradient``), one forward of
  ``D`` on ``cat([real, fake])`` (batch norm sees both halves, as in jaxgan), backward, Adam;
* one generator update: ``D(G(z))`` on fresh latents, gradients w.r.t. the generator's parameters only
  (``torch.autograd.grad``: like ``jax.grad`` it computes no discriminator parameter gradients), Adam.

Models (NCHW here, NHWC in jaxgan):

* ``dcgan28``: ``jaxgan.models.dcgan`` at resolution 28 with ``ConvTranspose2d(k=4, s=2, p=1)`` upsampling,
  non-saturating loss, Adam(2e-4, betas=(0.5, 0.999)); batch norm momentum 0.1 = flax's 0.9, eps 1e-5 both.
* ``mlp2d``: the PacGAN 2-D networks (G 4 x 400 ReLU with batch norm, D 3 maxout 200 x 5), z ~ N(0, I_2), data
  drawn each step from the 25-Gaussian grid (on the CPU, as jaxgan draws it on device), non-saturating loss,
  Adam(1e-4, betas=(0.8, 0.999)) as in the ``paper`` preset of the mode-collapse configs.
* ``sngan32``: the ResNet SNGAN pair of ``jaxgan.models.sngan`` (Mimicry's CIFAR-10 network), spectral norm by
  ``torch.nn.utils.parametrizations.spectral_norm`` (one power iteration per training forward, as flax's
  ``nn.SpectralNorm``), hinge loss, ``n_critic = 5``, Adam(2e-4, betas=(0.0, 0.9)).

:func:`count_flops` counts the FLOPs a step really executes with ``torch.utils.flop_counter.FlopCounterMode``
(convolutions, transposed convolutions and matrix products, forward and backward; 2 FLOPs per multiply-add),
an independent check of the analytic counts in ``step_throughput.py``.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

SN = nn.utils.parametrizations.spectral_norm


# ----------------------------------------------------------------------------------------------------- dcgan28


class DCGAN28Generator(nn.Module):
    def __init__(self, latent_dim: int = 100, f: int = 64, channels: int = 1):
        super().__init__()
        self.f = f
        self.dense = nn.Linear(latent_dim, 7 * 7 * 2 * f, bias=False)
        self.bn0 = nn.BatchNorm2d(2 * f)
        self.up1 = nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(f)
        self.up2 = nn.ConvTranspose2d(f, channels, 4, 2, 1, bias=True)

    def forward(self, z):
        h = self.dense(z).view(z.shape[0], 2 * self.f, 7, 7)
        h = F.relu(self.bn0(h))
        h = F.relu(self.bn1(self.up1(h)))
        return torch.tanh(self.up2(h))


class DCGAN28Discriminator(nn.Module):
    def __init__(self, f: int = 64, channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, f, 4, 2, 1, bias=True)
        self.conv2 = nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * f)
        self.head = nn.Linear(7 * 7 * 2 * f, 1)

    def forward(self, x):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)
        return self.head(h.flatten(1))[:, 0]


# ------------------------------------------------------------------------------------------------------- mlp2d


class Maxout(nn.Module):
    def __init__(self, d_in: int, features: int, pieces: int):
        super().__init__()
        self.features, self.pieces = features, pieces
        self.dense = nn.Linear(d_in, features * pieces)

    def forward(self, x):
        return self.dense(x).view(x.shape[0], self.features, self.pieces).amax(-1)


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int = 2, width: int = 400, depth: int = 4, out_dim: int = 2):
        super().__init__()
        layers, d = [], latent_dim
        for _ in range(depth):
            layers += [nn.Linear(d, width, bias=False), nn.BatchNorm1d(width), nn.ReLU()]
            d = width
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(d, out_dim)

    def forward(self, z):
        return self.out(self.body(z))


class MLPDiscriminator(nn.Module):
    def __init__(self, in_dim: int = 2, width: int = 200, depth: int = 3, pieces: int = 5):
        super().__init__()
        layers, d = [], in_dim
        for _ in range(depth):
            layers.append(Maxout(d, width, pieces))
            d = width
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(d, 1)

    def forward(self, x):
        return self.out(self.body(x))[:, 0]


def grid_sampler(side: int = 5, spacing: float = 2.0, std: float = 0.05):
    """``sample(n) -> [n, 2]`` from the 25-Gaussian grid (jaxgan.data.toy.grid)."""
    c = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    means = torch.stack(torch.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 2)

    def sample(n):
        i = torch.randint(0, means.shape[0], (n,))
        return means[i] + std * torch.randn(n, 2)

    return sample


# ----------------------------------------------------------------------------------------------------- sngan32


def _up(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x):
        h = self.conv1(_up(F.relu(self.bn1(x))))
        h = self.conv2(F.relu(self.bn2(h)))
        return h + self.shortcut(_up(x))


class SNGANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 128, ch: int = 256, channels: int = 3):
        super().__init__()
        self.ch = ch
        self.dense = nn.Linear(latent_dim, 4 * 4 * ch)
        self.blocks = nn.Sequential(GBlock(ch, ch), GBlock(ch, ch), GBlock(ch, ch))
        self.bn = nn.BatchNorm2d(ch)
        self.conv_out = nn.Conv2d(ch, channels, 3, 1, 1)

    def forward(self, z):
        h = self.dense(z).view(z.shape[0], self.ch, 4, 4)
        h = F.relu(self.bn(self.blocks(h)))
        return torch.tanh(self.conv_out(h))


class DBlockOptimized(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = SN(nn.Conv2d(c_in, c_out, 3, 1, 1))
        self.conv2 = SN(nn.Conv2d(c_out, c_out, 3, 1, 1))
        self.shortcut = SN(nn.Conv2d(c_in, c_out, 1))

    def forward(self, x):
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, downsample: bool):
        super().__init__()
        self.downsample = downsample
        self.conv1 = SN(nn.Conv2d(c_in, c_in, 3, 1, 1))
        self.conv2 = SN(nn.Conv2d(c_in, c_out, 3, 1, 1))
        self.shortcut = SN(nn.Conv2d(c_in, c_out, 1)) if downsample or c_in != c_out else None

    def forward(self, x):
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        sc = x if self.shortcut is None else self.shortcut(x)
        if self.downsample:
            h, sc = F.avg_pool2d(h, 2), F.avg_pool2d(sc, 2)
        return h + sc


class SNGANDiscriminator(nn.Module):
    def __init__(self, ch: int = 128, channels: int = 3):
        super().__init__()
        self.blocks = nn.Sequential(
            DBlockOptimized(channels, ch), DBlock(ch, ch, True), DBlock(ch, ch, False), DBlock(ch, ch, False)
        )
        self.head = SN(nn.Linear(ch, 1))

    def forward(self, x):
        phi = F.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.head(phi)[:, 0]


# ----------------------------------------------------------------------------------------------------- the step


def _dcgan_init(m):
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


SPECS = {
    # model: (G, D, latent_dim, loss, adam kwargs, n_critic)
    "dcgan28": (DCGAN28Generator, DCGAN28Discriminator, 100, "non_saturating", dict(lr=2e-4, betas=(0.5, 0.999)), 1),
    "mlp2d": (MLPGenerator, MLPDiscriminator, 2, "non_saturating", dict(lr=1e-4, betas=(0.8, 0.999)), 1),
    "sngan32": (SNGANGenerator, SNGANDiscriminator, 128, "hinge", dict(lr=2e-4, betas=(0.0, 0.9)), 5),
}
IMAGE_SHAPE = {"dcgan28": (1, 28, 28), "sngan32": (3, 32, 32)}


def _losses(name):
    if name == "non_saturating":
        d_loss = lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean()
        return d_loss, lambda f: F.softplus(-f).mean()
    if name == "hinge":
        return lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), lambda f: -f.mean()
    raise ValueError(name)


def param_count(module: nn.Module) -> int:
    """Trained parameters (spectral norm's ``u``, ``v`` and batch-norm statistics are buffers, not counted)."""
    return sum(p.numel() for p in module.parameters())


class TorchStep:
    """One model's train step in PyTorch: ``step()`` runs one full step (``n_critic`` D updates + one G update).

    Attributes:
      g, d: the networks (train mode).
      batch: rows per discriminator update; a step consumes ``n_critic * batch`` real rows.
      steps_per_call: 1.
    """

    steps_per_call = 1

    def __init__(self, model: str, batch: int, *, seed: int = 0, compile: bool = False):
        g_cls, d_cls, self.latent_dim, loss, adam, self.n_critic = SPECS[model]
        torch.manual_seed(seed)
        self.model, self.batch = model, batch
        self.g, self.d = g_cls(), d_cls()
        if model == "dcgan28":
            self.g.apply(_dcgan_init)
            self.d.apply(_dcgan_init)
        self.g.train()
        self.d.train()
        self.g_opt = torch.optim.Adam(self.g.parameters(), **adam)
        self.d_opt = torch.optim.Adam(self.d.parameters(), **adam)
        self.d_loss, self.g_loss = _losses(loss)
        self.g_params = list(self.g.parameters())
        if model == "mlp2d":
            self._sample = grid_sampler()
        else:
            # a fixed real batch, like the device-resident batch of the jaxgan runs (the input pipeline is not timed)
            self._real = torch.rand(self.n_critic * batch, *IMAGE_SHAPE[model]) * 2 - 1
        self._step = torch.compile(self._eager_step) if compile else self._eager_step

    def real(self):
        if self.model == "mlp2d":
            return self._sample(self.n_critic * self.batch)
        return self._real

    def _eager_step(self, real):
        b = self.batch
        for i in range(self.n_critic):
            x = real[i * b : (i + 1) * b]
            with torch.no_grad():
                fake = self.g(torch.randn(b, self.latent_dim))
            out = self.d(torch.cat([x, fake]))
            d_loss = self.d_loss(out[:b], out[b:])
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_opt.step()
        fake = self.g(torch.randn(b, self.latent_dim))
        g_loss = self.g_loss(self.d(fake))
        grads = torch.autograd.grad(g_loss, self.g_params)
        for p, gr in zip(self.g_params, grads):
            p.grad = gr
        self.g_opt.step()
        return d_loss.detach(), g_loss.detach()

    def step(self):
        return self._step(self.real())

    def first_call(self) -> float:
        t = time.perf_counter()
        self.step()
        return time.perf_counter() - t

    def call(self) -> float:
        t = time.perf_counter()
        self.step()
        return time.perf_counter() - t

    @property
    def params(self) -> tuple[int, int]:
        return param_count(self.g), param_count(self.d)


def count_flops(model: str, batch: int) -> int:
    """FLOPs of one eager step as counted by ``FlopCounterMode`` (conv / matmul, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    step = TorchStep(model, batch)
    real = step.real()
    with FlopCounterMode(display=False) as counter:
        step._eager_step(real)
    return int(counter.get_total_flops())


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    """Best GFLOP/s of an ``n x n`` float32 ``torch.mm`` over ``reps`` timed calls (after one warm-up)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = math.inf
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9

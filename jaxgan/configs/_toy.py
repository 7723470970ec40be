"""Shared builder of the 2-D mode-collapse configs (PacGAN / VEEGAN protocol), not a config itself.

Recipes (:data:`RECIPES`):

* the benchmark's four (:data:`BENCHMARK_RECIPES`), which differ only in what defines them:
  ``minimax`` (saturating GAN), ``nonsat`` (non-saturating GAN), ``wgan_gp`` (Wasserstein loss, gradient
  penalty 0.1, 5 critic updates per generator update, Adam betas (0.5, 0.9)) and ``pacgan4`` (non-saturating
  with 4-packing);
* ``best``: the recipe that meets the project's quality bar (all modes, >= 90 % high-quality samples, low reverse
  KL on every seed; issue 3) in a few minutes on a 2-core CPU: hinge loss, D learning rate 1e-3 and G 5e-4,
  z ~ U[-1, 1]^2, G 4 x 256, D 3 x 256, batch 256, the last 60 % of the steps decaying the learning rates
  linearly to 0. It has only the quick preset.

Presets (:data:`PRESETS`):

* ``quick``: the papers' protocol scaled down to a couple of minutes per run on a 2-core CPU, the same for every
  benchmark recipe: MLPs of 3 x 128 units (G ReLU, D LeakyReLU 0.2), z ~ N(0, I_2), batch 256, Adam lr 5e-4
  beta1 0.5, 3000 steps of which the last half decay the learning rate to 0 (cosine).
* ``paper``: the PacGAN paper's setting (Lin et al. 2018, Sec. 5.1, after VEEGAN): G 4 ReLU layers of 400 units
  with batch norm, D 3 maxout layers of 200 units x 5 pieces, z ~ N(0, I_2), Adam lr 1e-4, beta1 0.8, batch 100,
  400 epochs of 100,000 points = 400,000 steps.
"""

from __future__ import annotations

import dataclasses

from jaxgan.run.config import Config

DATA = ("ring", "grid")
BENCHMARK_RECIPES = ("minimax", "nonsat", "wgan_gp", "pacgan4")
RECIPES = BENCHMARK_RECIPES + ("best",)
PRESETS = ("quick", "paper")


def _quick(data: str) -> Config:
    return Config(
        name=f"{data}_quick",
        data=data,
        steps=3000,
        batch_size=256,
        latent_dim=2,
        g_features=[128, 128, 128],
        d_features=[128, 128, 128],
        g_lr=5e-4,
        d_lr=5e-4,
        b1=0.5,
        lr_schedule="cosine",
        lr_decay_fraction=0.5,
        steps_per_call=250,
        log_every=250,
        sample_every=1000,
        checkpoint_every=1000,
    )


def _paper(data: str) -> Config:
    return Config(
        name=f"{data}_paper",
        data=data,
        steps=400_000,
        batch_size=100,
        latent_dim=2,
        g_features=[400, 400, 400, 400],
        g_batch_norm=True,
        d_features=[200, 200, 200],
        d_maxout=5,
        g_lr=1e-4,
        d_lr=1e-4,
        b1=0.8,
        steps_per_call=1000,
        log_every=1000,
        sample_every=50_000,
        checkpoint_every=10_000,
    )


def _best(data: str) -> Config:
    """The hinge loss, a discriminator learning twice as fast as the generator, a bounded latent, wider nets and a
    long linear learning-rate decay; 3000 steps on the ring, 10,000 on the grid (see ring_best / grid_best for
    what was measured and what each ingredient buys)."""
    return Config(
        name=f"{data}_best",
        data=data,
        steps=3000 if data == "ring" else 10_000,
        batch_size=256,
        latent_dim=2,
        latent="uniform",
        g_features=[256, 256, 256, 256],
        d_features=[256, 256, 256],
        loss="hinge",
        g_lr=5e-4,
        d_lr=1e-3,
        b1=0.5,
        lr_schedule="linear",
        lr_decay_fraction=0.6,
        steps_per_call=250 if data == "ring" else 500,
        log_every=250 if data == "ring" else 500,
        sample_every=1000 if data == "ring" else 2000,
        checkpoint_every=1000 if data == "ring" else 2000,
    )


def toy_config(data: str, recipe: str, preset: str = "quick") -> Config:
    """The config of ``recipe`` on ``data`` ("ring" or "grid") at ``preset``, named ``{data}_{recipe}`` (with a
    ``_paper`` suffix for the paper preset).

    Raises:
      ValueError: for an unknown data, recipe or preset (naming the valid ones), or ``best`` at ``paper``.
    """
    if data not in DATA:
        raise ValueError(f"unknown data {data!r}; toy data: {', '.join(DATA)}")
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; recipes: {', '.join(RECIPES)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    if recipe == "best":
        if preset != "quick":
            raise ValueError("recipe 'best' has only the quick preset")
        return _best(data)
    c = _quick(data) if preset == "quick" else _paper(data)
    c = dataclasses.replace(c, name=f"{data}_{recipe}" + ("_paper" if preset == "paper" else ""))
    if recipe == "minimax":
        return dataclasses.replace(c, loss="minimax")
    if recipe == "nonsat":
        return dataclasses.replace(c, loss="non_saturating")
    if recipe == "wgan_gp":
        return dataclasses.replace(c, loss="wasserstein", penalties={"gp": 0.1}, n_critic=5, b1=0.5, b2=0.9)
    return dataclasses.replace(c, loss="non_saturating", pack=4)

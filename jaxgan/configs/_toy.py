"""Shared builder of the 2-D mode-collapse configs (PacGAN / VEEGAN protocol), not a config itself.

Recipes: ``minimax``, ``nonsat`` (non-saturating), ``wgan_gp`` (WGAN-GP, n_critic 5), ``pacgan4`` (non-saturating
with 4-packing). Presets: ``quick`` (small MLPs, a few thousand steps: minutes on a 2-core CPU) and ``paper`` (the
PacGAN paper's setting: G 4 ReLU layers of 400 units with batch norm, D 3 maxout layers of 200 units x 5 pieces,
z ~ N(0, I_2), Adam lr 1e-4, beta1 0.8, batch 100, 400 epochs of 100,000 points = 400,000 steps).
"""

from __future__ import annotations

import dataclasses

from jaxgan.config import Config

RECIPES = ("minimax", "nonsat", "wgan_gp", "pacgan4")
PRESETS = ("quick", "paper")


def toy_config(data: str, recipe: str, preset: str = "quick") -> Config:
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; recipes: {', '.join(RECIPES)}")
    if preset == "quick":
        c = Config(
            name=f"{data}_{recipe}",
            data=data,
            steps=4000,
            batch_size=100,
            latent_dim=2,
            g_features=[128, 128, 128],
            d_features=[128, 128, 128],
            g_lr=1e-3,
            d_lr=1e-3,
            b1=0.5,
            steps_per_call=500,
            log_every=500,
            sample_every=2000,
            checkpoint_every=2000,
        )
    elif preset == "paper":
        c = Config(
            name=f"{data}_{recipe}_paper",
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
    else:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    if recipe == "minimax":
        return dataclasses.replace(c, loss="minimax")
    if recipe == "nonsat":
        return dataclasses.replace(c, loss="non_saturating")
    if recipe == "wgan_gp":
        return dataclasses.replace(c, loss="wasserstein", penalties={"gp": 0.1}, n_critic=5, b1=0.5, b2=0.9)
    return dataclasses.replace(c, loss="non_saturating", pack=4)

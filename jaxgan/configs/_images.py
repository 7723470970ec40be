"""Shared builder of the image configs (not a config itself): MNIST-format digits at 28x28 (32x32 for SNGAN)."""

from __future__ import annotations

import dataclasses

from jaxgan.run.config import Config


def image_config(name: str, **overrides) -> Config:
    """The DCGAN recipe of Radford et al. 2016 (Adam 2e-4, beta1 0.5, batch 64, z ~ N(0, I_100)) on MNIST, with an
    EMA of the generator (decay 0.999, sampled and evaluated) and both learning rates decayed linearly to 0 over
    the second half of the run."""
    base = Config(
        name=name,
        data="mnist",
        image_size=28,
        channels=1,  # MNIST-format digits: an RGB source is refused instead of training a 3-channel model
        model="dcgan",
        batch_size=64,
        latent_dim=100,
        loss="non_saturating",
        g_lr=2e-4,
        d_lr=2e-4,
        b1=0.5,
        b2=0.999,
        steps=6000,
        ema_decay=0.999,
        lr_schedule="linear",
        lr_decay_fraction=0.5,
        steps_per_call=50,
        log_every=100,
        sample_every=1000,
        checkpoint_every=500,
        eval_samples=2000,
    )
    return dataclasses.replace(base, **overrides)

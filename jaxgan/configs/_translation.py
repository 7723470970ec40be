"""Shared builder of the image-to-image translation configs (not a config itself): MNIST digits at 28x28 and
their :mod:`jaxgan.data.translation` transforms, networks sized for a 2-core CPU."""

from __future__ import annotations

import dataclasses

from jaxgan.run.config import Config


def translation_config(name: str, family: str, data: str, **overrides) -> Config:
    """Adam 2e-4, beta1 0.5 (pix2pix's and CycleGAN's), constant for the first half of the run and decayed
    linearly to 0 over the second (the references' ``n_epochs`` + ``n_epochs_decay``), batch 32, no EMA; the
    evaluation (``report.json["eval"]``) on the 1,500 held-out digits."""
    base = Config(
        name=name,
        family=family,
        data=data,
        image_size=28,
        channels=1,
        batch_size=32,
        g_lr=2e-4,
        d_lr=2e-4,
        b1=0.5,
        b2=0.999,
        steps=3000,
        lr_schedule="linear",
        lr_decay_fraction=0.5,
        steps_per_call=50,
        log_every=100,
        sample_every=500,
        checkpoint_every=500,
    )
    return dataclasses.replace(base, **overrides)

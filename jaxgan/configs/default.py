"""The quick-start job: non-saturating GAN on the 2-D ring of 8 Gaussians, with PacGAN2 packing.

Command: ``jaxgan train`` (no arguments), or ``jaxgan train --config default --workdir runs/default``.
Expected result: see the module's RESULT string, measured on the project's 2-core CPU.
"""

from jaxgan.config import Config

RESULT = "to be measured"


def get_config() -> Config:
    return Config(
        name="default",
        data="ring",
        steps=3000,
        batch_size=256,
        latent_dim=2,
        g_features=[128, 128, 128],
        d_features=[128, 128, 128],
        loss="non_saturating",
        g_lr=1e-3,
        d_lr=1e-3,
        b1=0.5,
        pack=2,
        steps_per_call=250,
        log_every=250,
        sample_every=1000,
        checkpoint_every=1000,
    )

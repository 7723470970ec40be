"""The quick-start job: the best ring recipe (``ring_best``) on the 2-D ring of 8 Gaussians (sigma 0.01).

Hinge loss (Lim & Ye 2017), the discriminator learning twice as fast as the generator (Adam lr 1e-3 vs 5e-4,
beta1 0.5), z ~ U[-1, 1]^2, G an MLP of 4 x 256 ReLU units, D 3 x 256 LeakyReLU units, batch 256, 3000 steps of
which the last 60 % decay both learning rates linearly to 0.

Command: ``jaxgan train`` (no arguments), or ``jaxgan train --config default --workdir runs/default``.
Expected result: see RESULT (ring_best's), measured on the project's 2-core CPU (shared with other jobs).
"""

import dataclasses

from jaxgan.configs._toy import toy_config
from jaxgan.configs.ring_best import RESULT  # noqa: F401  (the same recipe, the same measurement)
from jaxgan.run.config import Config


def get_config() -> Config:
    return dataclasses.replace(toy_config("ring", "best"), name="default")

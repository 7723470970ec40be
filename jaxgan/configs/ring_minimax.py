"""minimax (saturating) GAN, Goodfellow et al. 2014 on the 2-D ring of 8 Gaussians (sigma 0.01), quick preset.

Command: ``jaxgan train --config ring_minimax`` (the paper's setting: ``benchmarks/mode_collapse.py --preset paper``).
Expected result: see RESULT, measured by ``benchmarks/mode_collapse.py`` on the project's 2-core CPU.
"""

from jaxgan.configs._toy import toy_config

RESULT = "to be measured"


def get_config():
    return toy_config("ring", "minimax")

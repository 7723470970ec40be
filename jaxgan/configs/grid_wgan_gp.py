"""WGAN-GP, Gulrajani et al. 2017 (n_critic 5) on the 2-D grid of 25 Gaussians (sigma 0.05), quick preset.

Command: ``jaxgan train --config grid_wgan_gp`` (the paper's setting: ``benchmarks/mode_collapse.py --preset paper``).
Expected result: see RESULT, measured by ``benchmarks/mode_collapse.py`` on the project's 2-core CPU.
"""

from jaxgan.configs._toy import toy_config

RESULT = (
    "3 seeds, 3000 steps each, measured on the project's 2-core CPU (AMD EPYC VM, beside other jobs), "
    "2026-11-23, with benchmarks/mode_collapse.py: modes 24.3 ± 0.3 of 25, high-quality samples 18.4 ± "
    "1.8 %, reverse KL 0.359 ± 0.016 (mean ± standard error; seed 0: 25/25, 17.7 %, 0.347; seed 1: 24/25, "
    "21.8 %, 0.339; seed 2: 24/25, 15.8 %, 0.391)"
)


def get_config():
    return toy_config("grid", "wgan_gp")

"""non-saturating GAN, Goodfellow et al. 2014 on the 2-D grid of 25 Gaussians (sigma 0.05), quick preset.

Command: ``jaxgan train --config grid_nonsat`` (the paper's setting: ``benchmarks/mode_collapse.py --preset paper``).
Expected result: see RESULT, measured by ``benchmarks/mode_collapse.py`` on the project's 2-core CPU.
"""

from jaxgan.configs._toy import toy_config

RESULT = (
    "3 seeds, 3000 steps each, measured on the project's 2-core CPU (AMD EPYC VM, beside other jobs), "
    "2026-11-23, with benchmarks/mode_collapse.py: modes 22.7 ± 0.9 of 25, high-quality samples 10.3 ± "
    "0.3 %, reverse KL 0.689 ± 0.052 (mean ± standard error; seed 0: 21/25, 9.9 %, 0.664; seed 1: 24/25, "
    "10.9 %, 0.615; seed 2: 23/25, 10.1 %, 0.789)"
)


def get_config():
    return toy_config("grid", "nonsat")

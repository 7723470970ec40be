"""non-saturating GAN, Goodfellow et al. 2014 on the 2-D ring of 8 Gaussians (sigma 0.01), quick preset.

Command: ``jaxgan train --config ring_nonsat`` (the paper's setting: ``benchmarks/mode_collapse.py --preset paper``).
Expected result: see RESULT, measured by ``benchmarks/mode_collapse.py`` on the project's 2-core CPU.
"""

from jaxgan.configs._toy import toy_config

RESULT = (
    "3 seeds, 3000 steps each, measured on the project's 2-core CPU (AMD EPYC VM, beside other jobs), "
    "2026-11-23, with benchmarks/mode_collapse.py: modes 8.0 ± 0.0 of 8, high-quality samples 76.8 ± 8.6 "
    "%, reverse KL 0.012 ± 0.002 (mean ± standard error; seed 0: 8/8, 60.9 %, 0.015; seed 1: 8/8, 90.2 %, "
    "0.012; seed 2: 8/8, 79.3 %, 0.008)"
)


def get_config():
    return toy_config("ring", "nonsat")

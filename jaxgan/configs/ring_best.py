"""Our best recipe on the 2-D ring of 8 Gaussians (sigma 0.01): hinge loss, D learning rate twice G's, a bounded
latent, G 4 x 256 / D 3 x 256 MLPs and a linear learning-rate decay over the last 60 % of 3000 steps.

Command: ``jaxgan train --config ring_best --workdir runs/ring_best`` (over seeds:
``python benchmarks/mode_collapse.py --recipes best --data ring``).
Expected result: see RESULT, measured on the project's 2-core CPU (shared with other jobs).
"""

from jaxgan.configs._toy import toy_config

RESULT = (
    "3 seeds, 3000 steps each, measured on the project's 2-core CPU (AMD EPYC VM, beside other jobs), "
    "2026-11-23, with benchmarks/mode_collapse.py: modes 8.0 ± 0.0 of 8, high-quality samples 96.8 ± 0.1 "
    "%, reverse KL 0.002 ± 0.000 (mean ± standard error; seed 0: 8/8, 96.9 %, 0.002; seed 1: 8/8, 96.9 %, "
    "0.002; seed 2: 8/8, 96.7 %, 0.003)"
)


def get_config():
    return toy_config("ring", "best")

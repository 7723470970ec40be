"""Hinge loss (Lim & Ye 2017) with the ResNet SNGAN pair (Miyato et al. 2018) on MNIST padded to 32x32,
n_critic 5, Adam(2e-4, beta1 0, beta2 0.9) as in the SNGAN paper; narrow widths so it trains on a CPU.

Command: ``jaxgan train --config hinge_sngan_mnist``.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = (
    "Not run to a result: on the project's 2-core CPU (AMD EPYC VM, 2026-11-24), beside one other run, its first "
    "50 steps took 13.5 min with compilation and the next 50 did not finish in the following 12 min (each step is "
    "five critic updates and one generator update of the ResNet pair at 32x32, batch 64), so its 2,000 steps "
    "would take over 6 hours here: run it on an accelerator. The step had already been made 12.4x faster on CPU "
    "by unrolling the critic updates (docs/performance.md). A 10-step run from the CLI (--steps 10, 2026-11-24, "
    "beside another run) wrote its sample grids and report; steps 6-10 took 26 s each."
)


def get_config():
    return image_config(
        "hinge_sngan_mnist",
        image_size=32,
        model="sngan",
        model_kwargs={"generator": {"ch": 64}, "discriminator": {"ch": 64}},
        loss="hinge",
        n_critic=5,
        g_lr=2e-4,
        d_lr=2e-4,
        b1=0.0,
        b2=0.9,
        steps=2000,
    )

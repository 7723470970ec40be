"""Hinge loss (Lim & Ye 2017) with the ResNet SNGAN pair (Miyato et al. 2018) on MNIST padded to 32x32,
n_critic 5, Adam(2e-4, beta1 0, beta2 0.9) as in the SNGAN paper; narrow widths so it trains on a CPU.

Command: ``jaxgan train --config hinge_sngan_mnist``.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = (
    "2,000 steps on the project's 2-core CPU (Intel Xeon VM, 2026-12-03, 05:24-07:15 UTC, alone but for editing "
    "and a few small tests at nice 19): 6,413 s, 3.2 s a step with compilation (each step five critic updates and "
    "one generator update of the ResNet pair at 32x32, batch 64). 2,000 samples of the EMA generator (decay "
    "0.999): 53.2 % confident (> 0.9), class entropy 0.947 * log 10 (the run's digit classifier: 96.3 % of "
    "held-out real digits confident). 10,000 EMA samples in the digit classifier's features (jaxgan eval "
    "--metrics fid10k,pr10k): FID 11.09, precision 0.598, recall 0.837, coverage 0.252. The same confident / "
    "entropy scoring gives lsgan_mnist 51.8 % / 0.952 at 6,000 steps and wgan_gp_mnist 44.2 % / 0.976 at 3,000. "
    "On the AMD EPYC VM of 2026-11-24 the step had taken 26 s beside another run."
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

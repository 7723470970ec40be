"""Hinge loss (Lim & Ye 2017) with the ResNet SNGAN pair (Miyato et al. 2018) on MNIST padded to 32x32,
n_critic 5, Adam(2e-4, beta1 0, beta2 0.9) as in the SNGAN paper; narrow widths so it trains on a CPU.

Command: ``jaxgan train --config hinge_sngan_mnist``.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = "to be measured"


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

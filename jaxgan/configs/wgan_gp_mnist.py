"""WGAN-GP (Gulrajani et al. 2017) with the DCGAN networks on MNIST: no batch norm in the critic, n_critic 5,
Adam(1e-4, beta1 0.5, beta2 0.9), gradient penalty 10.

Command: ``jaxgan train --config wgan_gp_mnist``.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = "to be measured"


def get_config():
    return image_config(
        "wgan_gp_mnist",
        loss="wasserstein",
        penalties={"gp": 10.0},
        n_critic=5,
        g_lr=1e-4,
        d_lr=1e-4,
        b1=0.5,
        b2=0.9,
        steps=3000,
        model_kwargs={"discriminator": {"use_batch_norm": False}},
    )

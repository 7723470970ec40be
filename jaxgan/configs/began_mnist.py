"""BEGAN (Berthelot et al. 2017) on MNIST: autoencoder discriminator, gamma 0.5, lambda_k 0.001, Adam 1e-4.

Command: ``jaxgan train --config began_mnist``.
Expected result: see RESULT (k_t and M_global in metrics.jsonl as loss/k and loss/m_global).
"""

from jaxgan.configs._images import image_config

RESULT = "to be measured"


def get_config():
    return image_config(
        "began_mnist",
        model="began",
        model_kwargs={"generator": {"features": 32}, "discriminator": {"features": 32, "embed_dim": 64}},
        loss="began",
        loss_kwargs={"gamma": 0.5, "lambda_k": 0.001},
        latent_dim=64,
        g_lr=1e-4,
        d_lr=1e-4,
        b1=0.5,
    )

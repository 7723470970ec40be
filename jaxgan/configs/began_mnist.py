"""BEGAN (Berthelot et al. 2017) on MNIST: autoencoder discriminator, gamma 0.5, lambda_k 0.001, Adam 1e-4.

Command: ``jaxgan train --config began_mnist``.
Expected result: see RESULT (k_t and M_global in metrics.jsonl as loss/k and loss/m_global).
"""

from jaxgan.configs._images import image_config

RESULT = (
    "Failed in the one run made (--steps 2000 of its 6,000, project's 2-core CPU, AMD EPYC VM, 2026-11-24, "
    "3,147 s mostly beside other runs): the generator drew near-constant grey images (sample mean 0.03, std "
    "0.07 against the data's -0.74 / 0.62; 0.45 % confident) and the BEGAN control variable k_t stayed at 0 for "
    "all 2,000 steps (loss/k in metrics.jsonl), M_global falling 0.31 -> 0.14. Not yet diagnosed: recipe "
    "(gamma 0.5, lr 1e-4, widths 32) or implementation; the losses' closed forms and the k_t update are tested."
)


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

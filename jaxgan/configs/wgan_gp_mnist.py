"""WGAN-GP (Gulrajani et al. 2017) with the DCGAN networks on MNIST: no batch norm in the critic, n_critic 5,
Adam(1e-4, beta1 0.5, beta2 0.9), gradient penalty 10; the generator's EMA ramps its decay up (``ema_warmup``) because
3,000 steps are too few for a constant 0.999 to forget the initial generator.

Command: ``jaxgan train --config wgan_gp_mnist``.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = (
    "3,000 steps on the project's 2-core CPU (AMD EPYC VM, 2026-11-24, beside other runs; each step five critic "
    "updates with the gradient penalty and one generator update; steps 1,000-3,000 resumed from the run's "
    "1,000-step checkpoint in a later session, 56 min at ~1.7 s a step shared), 2,000 samples: EMA (with "
    "ema_warmup) 44.2 % confident (> 0.9), class entropy 0.976 * log 10; the live generator 44.5 %, 0.976. At "
    "step 1,000: EMA 24.7 %, 0.966; live 26.7 %, 0.967. Before "
    "ema_warmup, the same seed's EMA (constant decay 0.999) drew a single digit at steps 500 and 1,000 (at step "
    "500: 100 % of one class, against 22.9 % confident and entropy 0.949 with the warm-up; the live generator "
    "23.9 %, 0.964 in both runs)."
)


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
        ema_warmup=True,
    )

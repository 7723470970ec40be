"""ProGAN (Karras et al. 2018) on MNIST resized to 32x32, grown 4 -> 8 -> 16 -> 32 (:mod:`jaxgan.progressive`).

As tkarras/progressive_growing_of_gans at CPU widths: pixelwise feature normalisation, equalised learning rate,
minibatch standard deviation (group 4), WGAN-GP (gradient penalty 10) with the drift term 0.001 * E[D(x)^2],
one D step per G step, Adam 1e-3 with beta1 0 and beta2 0.99 for both networks, Adam's moments reset at each
new phase (``reset_opt_for_new_lod``), an EMA of G with decay 0.99: the paper's 0.999 averages over ~1,000 steps,
a small part of its ~37,000-step phases but two of these 500-step ones, and its samples then still showed the
initial weights of the layers a phase had just faded in (a 1,200-step trial: noise at 8x8 and 16x16 from the EMA
where the live generator drew digits). Widths ``nf(r) = min(2 * 256 / r, 64)``: 64
channels at 4 and 8, 32 at 16, 16 at 32 (the paper: 512 up to 32x32). Each phase fades in over
``fade_steps`` and stabilises over ``stable_steps`` steps of 64 images (the paper: 600k images each, with
smaller minibatches at high resolution); the last phase trains until ``steps``.

``--set 'growing={"resolutions": [32], "fade_steps": 1, "stable_steps": 1}'`` trains the same final networks at
32x32 only (the comparison of the paper's Section 5: growing against training the final network from the start).

Command: ``jaxgan train --config progan_mnist``; the report's ``eval.phases`` holds each phase's FID in the digit
classifier's features (real images box-filtered to the phase's resolution), ``samples/phase_RxR.png`` each
phase's last grid.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = "not measured yet"


def get_config():
    widths = {"fmap_base": 256, "fmap_max": 64}
    return image_config(
        "progan_mnist",
        image_size=32,
        model="progan",
        model_kwargs={"generator": dict(widths), "discriminator": dict(widths)},
        growing={"resolutions": [4, 8, 16, 32], "fade_steps": 400, "stable_steps": 400},
        latent_dim=128,
        loss="wasserstein",
        penalties={"gp": 10.0, "drift": 0.001},
        g_lr=1e-3,
        d_lr=1e-3,
        b1=0.0,
        b2=0.99,
        ema_decay=0.99,
        lr_schedule="constant",
        steps=3800,
        sample_every=500,
        checkpoint_every=500,
    )

"""ProGAN (Karras et al. 2018) on MNIST resized to 32x32, grown 4 -> 8 -> 16 -> 32 (:mod:`jaxgan.progressive`).

As tkarras/progressive_growing_of_gans at CPU widths: pixelwise feature normalisation, equalised learning rate,
minibatch standard deviation (group 4), WGAN-GP (gradient penalty 10) with the drift term 0.001 * E[D(x)^2],
one D step per G step, Adam 1e-3 with beta1 0 and beta2 0.99 for both networks, Adam's moments reset at each
new phase (``reset_opt_for_new_lod``), an EMA of G with decay 0.99: the paper's 0.999 averages over ~1,000 steps,
a small part of its ~37,000-step phases but 2.5 of these 400-step ones, and its samples then still showed the
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

RESULT = (
    "3,800 steps in 22.8 min of training (1,369 s; 24.5 min for the whole command with the digit classifier's "
    "training, the four phase FIDs and the final scoring) alone on a 2-core Intel Xeon VM "
    "(2026-12-02; the DCGAN figures below come from earlier sessions' AMD EPYC VM). FID in the digit "
    "classifier's features (10,000 EMA samples against the 10,000 real digits, each "
    "box-filtered to the phase's resolution): 4.42 at the end of 4x4, 7.10 at 8x8, 20.14 at 16x16, 9.49 at 32x32 "
    "(the final generator); precision 0.654, recall 0.701, density 0.291, coverage 0.230 (pr10k); 45.9 % of 2,000 "
    "samples classified with confidence > 0.9, class entropy 0.971 * log 10 (the classifier: 99.3 % accurate, "
    "96.3 % confident on 1,500 held-out real digits at 32x32). At step 3,500 (20.0 min of training) FID 10.55. "
    "The plain DCGAN (dcgan_mnist --set clusters=null, 28x28, its own classifier of the same recipe): FID 10.92 "
    "after 21.5 min, 55.4 % confident. Step times alone: 0.56 s at 32x32 (WGAN-GP's double "
    "backward), 0.27 s at 16x16, 0.09 s at 8x8, 0.014 s at 4x4. The same final networks trained at 32x32 only "
    "(--set 'growing={\"resolutions\": [32], \"fade_steps\": 1, \"stable_steps\": 1}' --steps 2400, the steps that "
    "fit in the same 22.4 min at its 0.557 s a step measured alone; the run itself shared the CPU with another "
    "job): FID 9.65, precision 0.635, recall 0.722, 46.0 % confident, entropy 0.969; at step 2,000 (18.7 min) "
    "FID 10.93, where the grown run had 14.48 at step 3,000 (15.3 min) and 10.55 at 3,500 (20.0 min). Growing was "
    "not measurably faster to the same quality here (the paper's claim did not show at this length)."
)


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

"""CycleGAN (Zhu et al. 2017) between MNIST digits and thick digits (3x3 grey dilation), unpaired: domain A is
one half of the 8,500 training digits, domain B the dilation of the other half, each shuffled on its own.

Two ResNet generators (c7s1-16, two stride-2 stages, 3 residual blocks at 7x7, instance norm), two 2-layer
PatchGANs; LSGAN losses, cycle loss 10 per direction, identity loss 5, a 50-image history pool per
discriminator (state: it is checkpointed), Adam 2e-4 / 0.5 decayed linearly to 0 over the second half.

Command: ``jaxgan train --config cyclegan_thick``; ``jaxgan sample --workdir runs/cyclegan_thick`` draws
a | G_AB(a) | thick(a) | G_BA(thick(a)) rows of held-out digits.
Expected result: see RESULT (``report.json["eval"]``: ``domain_ab``, ``domain_ba``, ``digit_accuracy_ab`` /
``_ba``, ``cycle_l1_a`` / ``_b``, ``l1_ab`` to the true thick digit beside ``identity_l1``, about 0.128).
"""

from jaxgan.configs._translation import translation_config

RESULT = (
    "3,000 steps, 72 min on the project's 2-core CPU shared with four other jobs (load 8-11; about 23 min at the "
    "2.2 steps/s it ran while quieter), 2026-12-02, on the 1,500 held-out digits of each domain: the domain "
    "classifier calls G_AB(a) thick for 99.7 % and G_BA(b) plain for 99.8 % (bars 90 %: met; identity map 2.1 % / "
    "0.1 %); the digit classifier keeps the input's label on 91.3 % (a -> b) and 96.7 % (b -> a) (bar 90 %: met); "
    "L1(G_AB(a), thick(a)) 0.045 and L1(G_BA(b), plain) 0.042 against the identity map's 0.128; cycle L1 0.024 / "
    "0.020. Fingerprint f02f041ad6a0fb26901a1be28cce0dc078f14c54e72bba0680598cd4344bfb4f."
)


def get_config():
    return translation_config(
        "cyclegan_thick", "cyclegan", "unpaired:mnist:plain->thick", batch_size=16,
        model_kwargs={"generator": {"base_features": 16, "n_blocks": 3},
                      "discriminator": {"base_features": 16, "n_layers": 2}},
    )

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

RESULT = "not measured yet"


def get_config():
    return translation_config(
        "cyclegan_thick", "cyclegan", "unpaired:mnist:plain->thick", batch_size=16,
        model_kwargs={"generator": {"base_features": 16, "n_blocks": 3},
                      "discriminator": {"base_features": 16, "n_layers": 2}},
    )

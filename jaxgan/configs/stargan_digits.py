"""StarGAN (Choi et al. 2018) over four domains of MNIST digits: plain, thick (3x3 dilation), thin (3x3 erosion)
and rotated by 30 degrees; each training digit is in one domain (a quarter of the 8,500 each).

G(x, c') with the target domain as one-hot maps (c7s1-16, two stride-2 stages, 3 residual blocks), D with a
2-stage PatchGAN trunk, an adversarial head and a domain head; WGAN-GP (10), domain classification 1,
reconstruction 10, five D updates per G update, targets drawn per sample inside the step; Adam 1e-4, (0.5, 0.999)
decayed linearly to 0 over the second half (the paper's).

Command: ``jaxgan train --config stargan_digits``; ``jaxgan sample --workdir runs/stargan_digits`` draws one
column per domain for held-out digits.
Expected result: see RESULT (``report.json["eval"]``: ``domain_accuracy``, ``digit_accuracy_ratio``, ``l1`` to
the true transform beside ``identity_l1``).
"""

from jaxgan.configs._translation import translation_config

RESULT = "not measured yet"


def get_config():
    return translation_config(
        "stargan_digits", "stargan", "domains:mnist:plain,thick,thin,rot30", batch_size=16, n_critic=5,
        g_lr=1e-4, d_lr=1e-4,
        model_kwargs={"generator": {"base_features": 16, "repeat_num": 3},
                      "discriminator": {"base_features": 16, "repeat_num": 2}},
    )

"""pix2pix (Isola et al. 2017) on MNIST 4x4 -> 28x28 super-resolution: each digit's 7x7 average pool (``down4``,
upsampled back) to the digit. The input leaves the digit ambiguous, so an L1-only generator averages the
possibilities into a blur; the adversarial term should show most here (lower FID in the digit classifier's
features at a similar L1).

Networks and losses as ``pix2pix_edges``. The L1-only baseline::

    jaxgan train --config pix2pix_down4 --set 'family_kwargs={"adversarial_weight": 0}' --workdir runs/pix2pix_down4_l1

Command: ``jaxgan train --config pix2pix_down4``; ``jaxgan sample --workdir runs/pix2pix_down4`` draws
input | output | digit rows of held-out digits.
Expected result: see RESULT (``report.json["eval"]``: ``l1``, ``psnr``, ``digit_accuracy``, ``fid_digits`` beside
``identity_*``).
"""

from jaxgan.configs._translation import translation_config
from jaxgan.configs.pix2pix_edges import NETWORKS

RESULT = (
    "Not yet run to its 3,000 steps. A 1,000-step check (--steps 1000; 5.6 min, two runs at once on the project's "
    "2-core CPU, 2026-12-02), on the 1,500 held-out digits: L1 0.0654, PSNR 15.4 dB, digit accuracy 77.8 %, FID in "
    "the digit features 6.36; the L1-only U-Net (adversarial_weight 0), same steps: L1 0.0650, 16.0 dB, 77.2 %, "
    "FID 14.20; the identity map (the upsampled 4x4 input): L1 0.143, 12.1 dB, 26.6 %, FID 67.0; the real targets "
    "98.8 %. At 1,000 steps all three bars hold: L1 within 1.1x of the L1-only U-Net's, digit accuracy not below "
    "it, FID less than half of it."
)


def get_config():
    return translation_config("pix2pix_down4", "pix2pix", "paired:mnist:down4->identity", model_kwargs=NETWORKS)

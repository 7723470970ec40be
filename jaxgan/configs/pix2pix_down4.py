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

RESULT = "not measured yet"


def get_config():
    return translation_config("pix2pix_down4", "pix2pix", "paired:mnist:down4->identity", model_kwargs=NETWORKS)

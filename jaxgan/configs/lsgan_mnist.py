"""LSGAN (Mao et al. 2017, a=0, b=1, c=1) with the DCGAN networks on MNIST.

Command: ``jaxgan train --config lsgan_mnist``.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = (
    "6,000 steps (the default) on the project's 2-core CPU (AMD EPYC VM, 2026-11-24; beside other runs and paused "
    "for part of it, so its 62-minute wall time is not its own: the same networks as dcgan_mnist, 21.5 min alone): "
    "51.8 % of 2,000 EMA samples classified with confidence > 0.9, predicted-class entropy 0.952 * log 10 (the "
    "classifier: 98.9 % accurate and 96.1 % confident on 1,500 held-out real digits)."
)


def get_config():
    return image_config("lsgan_mnist", loss="least_squares")

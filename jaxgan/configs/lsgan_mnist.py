"""LSGAN (Mao et al. 2017, a=0, b=1, c=1) with the DCGAN networks on MNIST.

Command: ``jaxgan train --config lsgan_mnist``.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = "to be measured"


def get_config():
    return image_config("lsgan_mnist", loss="least_squares")

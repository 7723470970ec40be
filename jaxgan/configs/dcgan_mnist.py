"""DCGAN (Radford et al. 2016) on the real MNIST digits, non-saturating loss.

Command: ``jaxgan train --config dcgan_mnist`` (reads ``../shared/data/mnist`` or ``$JAXGAN_MNIST_DIR``).
Expected result: see RESULT (classifier scores of generated digits, measured on the project's 2-core CPU).
"""

from jaxgan.configs._images import image_config

RESULT = "to be measured"


def get_config():
    return image_config("dcgan_mnist")

"""Class-conditional DCGAN (Mirza & Osindero 2014): labels one-hot on z and as label maps on D's input, MNIST.

Command: ``jaxgan train --config cgan_mnist``; sample grids have one row per digit.
Expected result: see RESULT (conditional accuracy: generated as class c, classified as c).
"""

from jaxgan.configs._images import image_config

RESULT = "to be measured"


def get_config():
    return image_config("cgan_mnist", conditional=True)

"""ACGAN (Odena et al. 2017) on MNIST: G(z, y) as the class-conditional DCGAN generator; D without the label, with
a source head and a 10-way class head; non-saturating source loss, class cross-entropy weight 1.

Trains on the digit classifier's 8,500 training images only (``exclude_heldout``), so the class head's accuracy
on the 1,500 held-out digits is a held-out figure.

Command: ``jaxgan train --config acgan_mnist``; sample grids have one row per digit.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = "not measured yet"


def get_config():
    return image_config("acgan_mnist", family="acgan", conditional=True, exclude_heldout=True)

"""BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017) on MNIST: z ~ U[-1, 1]^50 (the BiGAN code's prior),
the DCGAN generator, a convolutional encoder and a joint discriminator D(x, z) (:mod:`jaxgan.models.bigan`),
G and E as one player, non-saturating loss with the pairs' roles swapped for G and E.

Trains on the digit classifier's 8,500 training images only (``exclude_heldout``); the encoder's codes of the
1,500 held-out digits are scored by a logistic-regression probe and 1-NN trained on the 8,500 others' codes,
beside the same encoder at its initialisation.

Command: ``jaxgan train --config bigan_mnist``; ``jaxgan sample --mode reconstruct`` writes held-out digits beside
their reconstructions G(E(x)).
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = "not measured yet"


def get_config():
    return image_config("bigan_mnist", family="bigan", latent_dim=50, latent="uniform", exclude_heldout=True,
                        steps=3000)

"""InfoGAN (Chen et al. 2016) on MNIST, the paper's setting: 62 noise dimensions U[-1, 1], one categorical code
Cat(10) and two continuous codes U[-1, 1]; the networks of openai/InfoGAN's MNIST model on the DCGAN pair (G: a
1024-unit dense layer first; D: a 1024-unit dense layer on the conv features), Q sharing D's body (a 128-unit
hidden layer, then 10 logits and 2 means of unit-variance Gaussians); lambda = 1 for both codes; G's learning
rate 1e-3, D's 2e-4 (the paper's).

The categorical code is scored as an unsupervised digit classifier (matched one-to-one to digits by the
Hungarian algorithm, ``eval.code_matched_accuracy``); the bar is the median of seeds 0, 1, 2.

Command: ``jaxgan train --config infogan_mnist`` (``--set seed=1`` ...); ``jaxgan sample --mode codes`` draws one
row per code value and sweeps of the continuous codes.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = "not measured yet"


def get_config():
    return image_config(
        "infogan_mnist", family="infogan", latent_dim=62, g_lr=1e-3, d_lr=2e-4, steps=3000,
        model_kwargs={"generator": {"dense_hidden": 1024}, "discriminator": {"dense_hidden": 1024}},
    )

"""DCGAN on scikit-learn's bundled 8x8 digits resized to 28x28: the embedded default that needs no download.

Command: ``jaxgan train --config dcgan_digits``.
Expected result: see RESULT.
"""

from jaxgan.configs._images import image_config

RESULT = "to be measured"


def get_config():
    return image_config(
        "dcgan_digits",
        data="digits",
        model_kwargs={"generator": {"base_features": 32},
                      "discriminator": {"base_features": 32}},
        steps=1500,
    )
